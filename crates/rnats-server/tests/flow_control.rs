//! Flow control: a consumer that is slower than its producer (but keeps
//! reading) must get every message, the producer being held back instead
//! of the consumer being cut off; a consumer that stops reading is cut off
//! without holding the producer or other consumers back for long.

use std::time::{Duration, Instant};

use rnats_server::{Options, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const PAYLOAD: usize = 1024;

async fn connect(server: &Server) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(server.local_addr())
        .await
        .expect("connects");
    let mut conn = BufReader::new(stream);
    let mut info = String::new();
    conn.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO "));
    conn
}

async fn subscribe(conn: &mut BufReader<TcpStream>, subject: &str) {
    let cmd =
        format!("CONNECT {{\"verbose\":false,\"pedantic\":false}}\r\nSUB {subject} 1\r\nPING\r\n");
    conn.get_mut().write_all(cmd.as_bytes()).await.unwrap();
    let mut pong = String::new();
    conn.read_line(&mut pong).await.unwrap();
    assert_eq!(pong, "PONG\r\n");
}

/// Publishes `count` messages of PAYLOAD bytes as fast as the socket takes them.
async fn blast(
    mut conn: BufReader<TcpStream>,
    subject: &'static str,
    count: usize,
) -> BufReader<TcpStream> {
    conn.get_mut()
        .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .await
        .unwrap();
    let mut frame = format!("PUB {subject} {PAYLOAD}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', PAYLOAD));
    frame.extend_from_slice(b"\r\n");
    let batch: Vec<u8> = frame.repeat(64);
    for _ in 0..count / 64 {
        conn.get_mut()
            .write_all(&batch)
            .await
            .expect("the producer is never cut off");
    }
    conn
}

/// Reads `count` MSG frames, pausing now and then like a busy application.
async fn drain_slowly(conn: &mut BufReader<TcpStream>, count: usize) {
    let mut line = String::new();
    let mut payload = vec![0u8; PAYLOAD + 2];
    for i in 0..count {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(20), conn.read_line(&mut line))
            .await
            .expect("messages keep coming")
            .unwrap();
        assert!(
            n > 0,
            "the slow consumer was disconnected after {i} messages"
        );
        assert!(line.starts_with("MSG "), "unexpected {line:?}");
        conn.read_exact(&mut payload).await.unwrap();
        if i % 256 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_consumer_gets_everything_and_the_producer_is_held_back() {
    let mut opts = Options::for_tests();
    opts.max_pending = 1024 * 1024;
    let server = Server::start(opts).await.unwrap();
    let mut consumer = connect(&server).await;
    subscribe(&mut consumer, "flow").await;
    // 32 MiB through a 1 MiB max_pending: impossible without flow control.
    let count = 32 * 1024;
    let producer = tokio::spawn(blast(connect(&server).await, "flow", count));
    drain_slowly(&mut consumer, count).await;
    let mut producer = producer.await.unwrap();
    producer.get_mut().write_all(b"PING\r\n").await.unwrap();
    let mut pong = String::new();
    producer.read_line(&mut pong).await.unwrap();
    assert_eq!(pong, "PONG\r\n");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_stops_reading_is_cut_off_and_others_keep_flowing() {
    let mut opts = Options::for_tests();
    opts.max_pending = 256 * 1024;
    let server = Server::start(opts).await.unwrap();
    let mut stuck = connect(&server).await;
    subscribe(&mut stuck, "flow").await;
    let mut healthy = connect(&server).await;
    subscribe(&mut healthy, "flow").await;
    let count = 16 * 1024;
    let started = Instant::now();
    let producer = tokio::spawn(blast(connect(&server).await, "flow", count));
    drain_slowly(&mut healthy, count).await;
    producer.await.unwrap();
    // The stuck consumer's socket buffers hold only so much: it was cut off,
    // and the rest of the traffic did not wait for it.
    assert!(started.elapsed() < Duration::from_secs(15));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), stuck.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the stuck consumer was never disconnected");
    assert!(
        !String::from_utf8_lossy(&rest).contains("-ERR"),
        "slow consumers get no -ERR"
    );
    server.shutdown().await;
}
