// How 1.blk, meta.inf and meta.sum here were made: nats-server 2.15.1 run as
// `nats-server -js -sd SD -a 127.0.0.1 -p 14333`, this program run against it
// (GOPATH with nats.go, GO111MODULE=off), the server stopped, and the files
// copied from SD/jetstream/$G/streams/ORDERS/. The file store's tests read
// them to check that rnats decodes and verifies nats-server's records.
package main

import (
	"fmt"
	"github.com/nats-io/nats.go"
)

func main() {
	nc, err := nats.Connect("nats://127.0.0.1:14333")
	if err != nil { panic(err) }
	js, _ := nc.JetStream()
	_, err = js.AddStream(&nats.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if err != nil { panic(err) }
	js.Publish("orders.a", []byte("hello"))
	m := nats.NewMsg("orders.b"); m.Header.Set("X", "y"); m.Data = []byte("with header")
	js.PublishMsg(m)
	js.Publish("orders.a", []byte("third"))
	js.Publish("orders.c", []byte("fourth"))
	if err := js.DeleteMsg("ORDERS", 2); err != nil { panic(err) }
	if err := js.SecureDeleteMsg("ORDERS", 3); err != nil { panic(err) }
	fmt.Println("ok")
}
