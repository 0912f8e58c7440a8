// Request/reply latency as the official Go client (nats.go) sees it: one
// connection answers on a subject, another sends N requests one after
// the other and times each. Prints one JSON line with the percentiles in
// microseconds. Built by bench/request-tail.sh against Debian's nats.go
// (golang-github-nats-io-go-nats-dev), in GOPATH mode.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("server", nats.DefaultURL, "server URL")
	n := flag.Int("n", 8000, "requests")
	size := flag.Int("size", 16, "payload bytes")
	flag.Parse()

	responder, err := nats.Connect(*url)
	if err != nil {
		fail(err)
	}
	defer responder.Close()
	if _, err := responder.Subscribe("bench.req", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		fail(err)
	}
	if err := responder.Flush(); err != nil {
		fail(err)
	}
	requester, err := nats.Connect(*url)
	if err != nil {
		fail(err)
	}
	defer requester.Close()
	payload := make([]byte, *size)
	// Warm up: connections, the reply subscription, the server's caches.
	for i := 0; i < 200; i++ {
		if _, err := requester.Request("bench.req", payload, 5*time.Second); err != nil {
			fail(err)
		}
	}
	lat := make([]float64, 0, *n)
	for i := 0; i < *n; i++ {
		start := time.Now()
		if _, err := requester.Request("bench.req", payload, 5*time.Second); err != nil {
			fail(err)
		}
		lat = append(lat, float64(time.Since(start).Nanoseconds())/1000.0)
	}
	sort.Float64s(lat)
	at := func(p float64) float64 { return lat[int(p*float64(len(lat)-1))] }
	out, _ := json.Marshal(map[string]float64{
		"p50_us": at(0.50), "p90_us": at(0.90), "p99_us": at(0.99), "max_us": lat[len(lat)-1],
	})
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nats-go-request:", err)
	os.Exit(1)
}
