//! JetStream publish mode (`--js`): publishers (one thread each) publish `--msgs` messages in
//! total to a stream's subject and count the PubAcks, the messages the stream stored.
//!
//! * `--sync`: one message at a time, the next only after the PubAck of the one before;
//!   every round trip goes into an HDR histogram (p50/p99/max).
//! * async (default): up to `--max-pending` messages without a PubAck, written in batches of
//!   about `--batch` bytes.
//!
//! Every publisher's messages carry the same reply subject, its own inbox (the server answers
//! one connection's messages in order), so a message is the same pre-built bytes each time and
//! nothing is allocated per message. An ack is checked for an `"error"` without being decoded.
//!
//! The stream (`--stream`, default `benchstream`) is looked up with `$JS.API.STREAM.INFO` over
//! the same raw protocol; when missing it is created (`--storage`, limits retention, no
//! limits, the subject `--subject`, `bench.js` unless given) and deleted after the run unless
//! `--keep`. A stream that was already there is left as it was. At the end the stream's
//! message count is read again: it must have grown by what was acknowledged.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use super::conn::{Conn, ReadResult, server_error};
use super::progress::Progress;
use super::proto::{Msg, Op};
use super::pubsub::check_payload;
use super::report::{ClientStats, Group, JsParams, Latency, Params, Report, new_histogram};
use super::sys::Watch;
use super::{BenchError, Ctx, share};

/// The subject messages go to when `--subject` is left at its default.
pub const DEFAULT_JS_SUBJECT: &str = "bench.js";
/// A publisher's read buffer (acks are small).
const PUB_BUFFER: usize = 64 * 1024;

/// What one publisher did: its acks, its round trips (sync only, ns) and its time.
type PubResult = Result<(u64, Histogram<u64>, Duration), BenchError>;

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let a = &ctx.args;
    let pubs = a.pubs;
    if pubs == 0 {
        return Err(BenchError::Usage("--js needs at least one --pub".into()));
    }
    if a.max_pending == 0 {
        return Err(BenchError::Usage("--max-pending must be at least 1".into()));
    }
    let subject = if a.subject == super::DEFAULT_SUBJECT {
        DEFAULT_JS_SUBJECT.to_string()
    } else {
        a.subject.clone()
    };
    let (total, size) = (a.msgs, a.size);
    let run_id: u64 = rand::random();

    let admin_frame = ctx.endpoint.connect_frame("rnats-bench-js-admin", true);
    let (admin, info) = Conn::login(&ctx.endpoint, &admin_frame, PUB_BUFFER, ctx.timeout)?;
    check_payload(size, info.max_payload)?;
    let mut admin = Admin::new(admin, run_id, ctx.timeout)?;
    let pub_frame = ctx.endpoint.connect_frame("rnats-bench-js-pub", true);
    let mut pub_conns = Vec::with_capacity(pubs);
    for i in 0..pubs {
        let (mut conn, _) = Conn::login(&ctx.endpoint, &pub_frame, PUB_BUFFER, ctx.timeout)?;
        let inbox = format!("_INBOX.rnats-bench.{run_id:016x}.{i}");
        conn.subscribe(&inbox, None, 1, ctx.timeout)?;
        pub_conns.push((conn, inbox));
    }

    // The stream comes last: nothing after its creation returns early, so a stream the run
    // made is always deleted (unless --keep).
    let existing = admin.stream_info(&a.stream)?;
    let created = existing.is_none();
    let before = match existing {
        Some(info) => messages(&info),
        None => {
            admin.create_stream(&a.stream, &subject, &a.storage)?;
            0
        }
    };

    let acked = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(pubs + 1));
    let threads: Vec<JoinHandle<PubResult>> = pub_conns
        .into_iter()
        .enumerate()
        .map(|(i, (conn, inbox))| {
            let mut frame = format!("PUB {subject} {inbox} {size}\r\n").into_bytes();
            frame.extend((0..size).map(|i| b'a' + (i % 26) as u8));
            frame.extend_from_slice(b"\r\n");
            let count = share(total, pubs, i);
            let (barrier, acked) = (barrier.clone(), acked.clone());
            let (sync, pending, batch, timeout) = (a.sync, a.max_pending, a.batch, ctx.timeout);
            thread::spawn(move || {
                let mut p = Publisher {
                    conn,
                    acked: &acked,
                    timeout,
                };
                p.conn.set_read_timeout(Some(timeout))?;
                barrier.wait();
                let t0 = Instant::now();
                let hist = if sync {
                    p.sync(&frame, count)?
                } else {
                    p.windowed(&frame, count, pending, batch)?;
                    new_histogram()
                };
                Ok((count, hist, t0.elapsed()))
            })
        })
        .collect();

    let watch = Watch::start(a.server_pid);
    let progress = Progress::start(ctx.progress, "acked", total, acked.clone());
    barrier.wait();
    let mut errors = Vec::new();
    let mut hist = new_histogram();
    let mut stats = Vec::with_capacity(pubs);
    let mut elapsed = Duration::ZERO;
    for (i, handle) in threads.into_iter().enumerate() {
        match handle.join().expect("publisher thread") {
            Ok((count, h, took)) => {
                elapsed = elapsed.max(took);
                stats.push(ClientStats::new(count, size, took));
                hist.add(&h).expect("histograms of the same bounds add");
            }
            Err(e) => {
                errors.push(format!("publisher #{}: {e}", i + 1));
                stats.push(ClientStats::new(0, size, Duration::ZERO));
            }
        }
    }
    let done = acked.load(Ordering::Relaxed);
    let usage = watch.finish(done);
    progress.finish();

    // What the stream holds now: every acknowledged message must be there.
    match admin.stream_info(&a.stream) {
        Ok(Some(info)) => {
            let stored = messages(&info).saturating_sub(before);
            // (A stream that was there may have limits that drop messages.)
            if created && stored != done && errors.is_empty() {
                errors.push(format!(
                    "{done} messages were acknowledged but the stream has {stored} more"
                ));
            }
        }
        Ok(None) => errors.push(format!("stream {} is gone", a.stream)),
        Err(e) => errors.push(format!("reading stream {} after the run: {e}", a.stream)),
    }
    if done < total && errors.is_empty() {
        errors.push(format!("{done} of {total} messages acknowledged"));
    }
    if created
        && !a.keep
        && let Err(e) = admin.delete_stream(&a.stream)
    {
        errors.push(format!("deleting stream {}: {e}", a.stream));
    }

    let mut report = ctx.report(
        "jspub",
        Params {
            subject,
            size,
            msgs: total,
            pubs,
            ..Params::default()
        },
    );
    report.js = Some(JsParams {
        stream: a.stream.clone(),
        storage: a.storage.clone(),
        sync: a.sync,
        max_pending: (!a.sync).then_some(a.max_pending),
        created,
        kept: !created || a.keep,
    });
    let g = Group::new(stats, size, elapsed, None);
    report.summary.throughput = g.msgs_per_s;
    report.summary.ops = g.msgs;
    report.summary.elapsed_s = g.elapsed_s;
    report.summary.mb_per_s = g.mb_per_s;
    report.summary.unit = "msgs/s stored";
    report.publishers = Some(g);
    if a.sync {
        let latency = Latency::from_histogram(&hist);
        if let Some(l) = &latency {
            report.summary.p50_us = Some(l.p50);
            report.summary.p90_us = Some(l.p90);
            report.summary.p99_us = Some(l.p99);
            report.summary.p999_us = Some(l.p999);
        }
        report.latency_us = latency;
    }
    report.set_usage(usage);
    report.ok = errors.is_empty();
    report.errors = errors;
    Ok(report)
}

/// The `messages` of a stream info.
fn messages(info: &Value) -> u64 {
    info.pointer("/state/messages")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// An ack's verdict: `Ok` for a PubAck, the server's words otherwise.
fn check_ack(msg: &Msg<'_>) -> Result<(), BenchError> {
    if msg.has_headers && msg.status() == Some(b"503") {
        return Err(BenchError::Server(
            "no responders: no stream stores the subject, or JetStream is off".into(),
        ));
    }
    if memchr::memmem::find(msg.payload, b"\"error\"").is_some() {
        let description = serde_json::from_slice::<Value>(msg.payload)
            .ok()
            .and_then(|v| {
                v.pointer("/error/description")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(msg.payload).into_owned());
        return Err(BenchError::Server(format!(
            "publish refused: {description}"
        )));
    }
    Ok(())
}

struct Publisher<'a> {
    conn: Conn,
    acked: &'a AtomicU64,
    timeout: Duration,
}

impl Publisher<'_> {
    /// Reads once and returns how many acks came (each checked).
    fn read_acks(&mut self) -> Result<u64, BenchError> {
        let mut n = 0;
        let result = self.conn.read_ops(|op| {
            match op {
                Op::Msg(msg) => {
                    check_ack(&msg)?;
                    n += 1;
                }
                Op::Err(text) => return Err(server_error(text)),
                _ => {}
            }
            Ok(())
        })?;
        if result == ReadResult::TimedOut {
            return Err(BenchError::Timeout(format!(
                "no PubAck within {:?}",
                self.timeout
            )));
        }
        if n > 0 {
            self.acked.fetch_add(n, Ordering::Relaxed);
        }
        Ok(n)
    }

    /// One message at a time: each waits for the ack of the one before.
    fn sync(&mut self, frame: &[u8], count: u64) -> Result<Histogram<u64>, BenchError> {
        let mut hist = new_histogram();
        for _ in 0..count {
            let sent = Instant::now();
            self.conn.write_all(frame)?;
            while self.read_acks()? == 0 {}
            hist.saturating_record(sent.elapsed().as_nanos() as u64);
        }
        Ok(hist)
    }

    /// At most `window` messages without an ack, written about `batch` bytes at a time.
    fn windowed(
        &mut self,
        frame: &[u8],
        count: u64,
        window: u64,
        batch: usize,
    ) -> Result<(), BenchError> {
        let per_batch = ((batch / frame.len()).max(1) as u64).min(window);
        let full = frame.repeat(per_batch as usize);
        let (mut sent, mut acked) = (0u64, 0u64);
        while acked < count {
            let room = window - (sent - acked);
            if sent < count && room > 0 {
                let n = per_batch.min(room).min(count - sent);
                self.conn.write_all(&full[..n as usize * frame.len()])?;
                sent += n;
                // Keep writing while the window has room; read once it is full.
                if sent - acked < window && sent < count {
                    continue;
                }
            }
            acked += self.read_acks()?;
            if acked > sent {
                return Err(BenchError::Protocol(format!(
                    "{acked} acks for {sent} messages"
                )));
            }
        }
        Ok(())
    }
}

/// The raw-protocol JetStream API requests of the setup: one inbox, one request at a time.
struct Admin {
    conn: Conn,
    inbox: String,
    timeout: Duration,
}

impl Admin {
    fn new(mut conn: Conn, run_id: u64, timeout: Duration) -> Result<Admin, BenchError> {
        let inbox = format!("_INBOX.rnats-bench.{run_id:016x}.admin");
        conn.subscribe(&inbox, None, 1, timeout)?;
        Ok(Admin {
            conn,
            inbox,
            timeout,
        })
    }

    /// Sends `$JS.API.<subject>` and returns the JSON answer (with its `error`, if any).
    fn request(&mut self, subject: &str, body: &Value) -> Result<Value, BenchError> {
        let body = body.to_string();
        let mut frame = Vec::with_capacity(body.len() + 96);
        let _ = write!(
            frame,
            "PUB $JS.API.{subject} {} {}\r\n{body}\r\n",
            self.inbox,
            body.len()
        );
        self.conn.write_all(&frame)?;
        let deadline = Instant::now() + self.timeout;
        let mut answer = None;
        while answer.is_none() {
            let result = self.conn.read_ops(|op| {
                match op {
                    Op::Msg(msg) if msg.has_headers && msg.status() == Some(b"503") => {
                        return Err(BenchError::Server(format!(
                            "JetStream not enabled: nothing answers $JS.API.{subject}"
                        )));
                    }
                    Op::Msg(msg) => {
                        answer =
                            Some(serde_json::from_slice::<Value>(msg.payload).map_err(|e| {
                                BenchError::Protocol(format!("bad answer to {subject}: {e}"))
                            })?);
                    }
                    Op::Err(text) => return Err(server_error(text)),
                    _ => {}
                }
                Ok(())
            })?;
            if result == ReadResult::TimedOut || Instant::now() > deadline {
                if answer.is_some() {
                    break;
                }
                return Err(BenchError::Timeout(format!(
                    "no answer to $JS.API.{subject} within {:?}",
                    self.timeout
                )));
            }
        }
        answer.ok_or_else(|| BenchError::Protocol("no answer".into()))
    }

    /// The answer, or its `error`'s description as an error.
    fn ok(answer: Value, what: &str) -> Result<Value, BenchError> {
        match answer.get("error") {
            Some(error) if !error.is_null() => Err(BenchError::Server(format!(
                "{what}: {}",
                error
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
            ))),
            _ => Ok(answer),
        }
    }

    /// The stream's info, or `None` when there is no such stream.
    fn stream_info(&mut self, name: &str) -> Result<Option<Value>, BenchError> {
        let answer = self.request(&format!("STREAM.INFO.{name}"), &json!({}))?;
        let not_found = answer.pointer("/error/err_code").and_then(Value::as_u64) == Some(10059);
        if not_found {
            return Ok(None);
        }
        Self::ok(answer, &format!("stream {name}")).map(Some)
    }

    fn create_stream(
        &mut self,
        name: &str,
        subject: &str,
        storage: &str,
    ) -> Result<(), BenchError> {
        let config = json!({
            "name": name, "subjects": [subject], "storage": storage,
            "retention": "limits", "discard": "old", "num_replicas": 1,
            "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msg_size": -1,
            "max_msgs_per_subject": -1, "max_consumers": -1,
        });
        let answer = self.request(&format!("STREAM.CREATE.{name}"), &config)?;
        Self::ok(answer, &format!("creating stream {name}")).map(|_| ())
    }

    fn delete_stream(&mut self, name: &str) -> Result<(), BenchError> {
        let answer = self.request(&format!("STREAM.DELETE.{name}"), &json!({}))?;
        Self::ok(answer, &format!("deleting stream {name}")).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(headers: &'a [u8], payload: &'a [u8]) -> Msg<'a> {
        Msg {
            args: b"_INBOX.x 1 2",
            has_headers: !headers.is_empty(),
            headers,
            payload,
        }
    }

    #[test]
    fn acks_and_refusals() {
        check_ack(&msg(b"", br#"{"stream":"S","seq":7}"#)).unwrap();
        let refused = br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}"#;
        let e = check_ack(&msg(b"", refused)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "server error: publish refused: maximum messages exceeded"
        );
        let e = check_ack(&msg(b"NATS/1.0 503\r\n\r\n", b"")).unwrap_err();
        assert!(e.to_string().contains("no responders"), "{e}");
    }
}
