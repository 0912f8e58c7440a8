//! Request/reply mode: each requester (one thread) sends one request at a time to the subject
//! with its own inbox as the reply subject and waits for the answer, recording the round trip
//! in an HDR histogram; repliers (one thread each, in a queue group) answer every request
//! with its payload, all answers to one read in one write. `--reply` runs only repliers.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::conn::{Conn, ReadResult, server_error};
use super::progress::Progress;
use super::proto::Op;
use super::pubsub::check_payload;
use super::report::{ClientStats, Group, Latency, Params, Report, new_histogram};
use super::sys::{Watch, wait_for_stop};
use super::{BenchError, Ctx, share};

/// The queue group repliers join unless `--queue` names another.
pub const DEFAULT_REPLY_QUEUE: &str = "rnats-bench-repliers";
const REPLIER_BUFFER: usize = 256 * 1024;
const POLL: Duration = Duration::from_millis(50);

/// A requester's outcome: its round trips (ns) and how long it ran.
type RequesterResult = Result<(Histogram<u64>, Duration), BenchError>;

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let a = &ctx.args;
    let repliers = a.subs.unwrap_or(1);
    let requesters = if a.reply { 0 } else { a.pubs };
    if a.reply && repliers == 0 {
        return Err(BenchError::Usage("--reply needs at least one --sub".into()));
    }
    if !a.reply && requesters == 0 {
        return Err(BenchError::Usage(
            "--request needs at least one --pub".into(),
        ));
    }
    let size = a.size;
    let total = if a.reply { 0 } else { a.msgs };
    let queue = a.queue.as_deref().unwrap_or(DEFAULT_REPLY_QUEUE);

    let reply_frame = ctx.endpoint.connect_frame("rnats-bench-replier", false);
    let mut reply_conns = Vec::with_capacity(repliers);
    for i in 0..repliers {
        let (mut conn, info) =
            Conn::login(&ctx.endpoint, &reply_frame, REPLIER_BUFFER, ctx.timeout)?;
        check_payload(size, info.max_payload)?;
        conn.subscribe(&a.subject, Some(queue), i as u64 + 1, ctx.timeout)?;
        reply_conns.push(conn);
    }
    // Requesters ask for headers so that the server can answer "no responders" at once.
    let request_frame = ctx.endpoint.connect_frame("rnats-bench-requester", true);
    let run_id: u64 = rand::random();
    let mut request_conns = Vec::with_capacity(requesters);
    for i in 0..requesters {
        let (mut conn, info) = Conn::login(&ctx.endpoint, &request_frame, 64 * 1024, ctx.timeout)?;
        check_payload(size, info.max_payload)?;
        let inbox = format!("_INBOX.rnats-bench.{run_id:016x}.{i}");
        conn.subscribe(&inbox, None, 1, ctx.timeout)?;
        request_conns.push((conn, inbox, info.headers));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let alive = Arc::new(AtomicUsize::new(repliers));
    let all_repliers_gone = Arc::new(AtomicBool::new(false));
    let reply_threads: Vec<JoinHandle<(u64, Duration, Option<BenchError>)>> = reply_conns
        .into_iter()
        .map(|conn| {
            let (stop, served) = (stop.clone(), served.clone());
            let (alive, gone) = (alive.clone(), all_repliers_gone.clone());
            thread::spawn(move || {
                let result = replier(conn, &stop, &served);
                if alive.fetch_sub(1, Ordering::AcqRel) == 1 {
                    gone.store(true, Ordering::Release);
                }
                result
            })
        })
        .collect();

    let completed = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(requesters + 1));
    let request_threads: Vec<JoinHandle<RequesterResult>> = request_conns
        .into_iter()
        .enumerate()
        .map(|(i, (conn, inbox, headers))| {
            let mut frame = format!("PUB {} {} {}\r\n", a.subject, inbox, size).into_bytes();
            frame.extend((0..size).map(|i| b'a' + (i % 26) as u8));
            frame.extend_from_slice(b"\r\n");
            let count = share(total, requesters, i);
            let (barrier, completed, timeout) = (barrier.clone(), completed.clone(), ctx.timeout);
            thread::spawn(move || {
                requester(conn, &frame, count, headers, timeout, &barrier, &completed)
            })
        })
        .collect();

    let watch = Watch::start(a.server_pid);
    let t0;
    let mut errors = Vec::new();
    let mut hist = new_histogram();
    let mut request_stats = Vec::with_capacity(requesters);
    let mut request_elapsed = Duration::ZERO;
    if a.reply {
        t0 = Instant::now();
        if !ctx.args.json {
            eprintln!(
                "rnats bench: {repliers} replier(s) on {:?} (queue {queue:?}); Ctrl-C to stop",
                a.subject
            );
        }
        let hold = a.hold.map(Duration::from_secs_f64);
        wait_for_stop(hold, &all_repliers_gone);
    } else {
        let progress = Progress::start(ctx.progress, "requests", total, completed.clone());
        barrier.wait();
        t0 = Instant::now();
        for (i, handle) in request_threads.into_iter().enumerate() {
            match handle.join().expect("requester thread") {
                Ok((h, elapsed)) => {
                    request_elapsed = request_elapsed.max(elapsed);
                    request_stats.push(ClientStats::new(h.len(), size, elapsed));
                    hist.add(&h).expect("histograms of the same bounds add");
                }
                Err(e) => {
                    errors.push(format!("requester #{}: {e}", i + 1));
                    request_stats.push(ClientStats::new(0, size, Duration::ZERO));
                }
            }
        }
        progress.finish();
    }
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Release);
    let mut reply_stats = Vec::with_capacity(repliers);
    for (i, handle) in reply_threads.into_iter().enumerate() {
        let (n, busy, error) = handle.join().expect("replier thread");
        if let Some(e) = error {
            errors.push(format!("replier #{}: {e}", i + 1));
        }
        reply_stats.push(ClientStats::new(n, size, busy));
    }
    let done = if a.reply {
        served.load(Ordering::Relaxed)
    } else {
        hist.len()
    };
    let usage = watch.finish(done);
    if !a.reply && done < total && errors.is_empty() {
        errors.push(format!("{done} of {total} requests answered"));
    }

    let mut report = ctx.report(
        if a.reply { "reply" } else { "request" },
        Params {
            subject: a.subject.clone(),
            size,
            msgs: total,
            pubs: requesters,
            subs: repliers,
            queue: Some(queue.to_string()),
            ..Params::default()
        },
    );
    let served_elapsed = if a.reply { elapsed } else { request_elapsed };
    let repliers_group =
        (repliers > 0).then(|| Group::new(reply_stats, size, served_elapsed, None));
    if a.reply {
        if let Some(g) = &repliers_group {
            report.summary.throughput = g.msgs_per_s;
            report.summary.ops = g.msgs;
            report.summary.elapsed_s = g.elapsed_s;
            report.summary.mb_per_s = g.mb_per_s;
        }
    } else {
        let g = Group::new(request_stats, size, request_elapsed, None);
        report.summary.throughput = g.msgs_per_s;
        report.summary.ops = g.msgs;
        report.summary.elapsed_s = g.elapsed_s;
        report.summary.mb_per_s = g.mb_per_s;
        report.publishers = Some(g);
        let latency = Latency::from_histogram(&hist);
        if let Some(l) = &latency {
            report.summary.p50_us = Some(l.p50);
            report.summary.p90_us = Some(l.p90);
            report.summary.p99_us = Some(l.p99);
            report.summary.p999_us = Some(l.p999);
        }
        report.latency_us = latency;
    }
    report.summary.unit = if a.reply { "replies/s" } else { "requests/s" };
    report.subscribers = repliers_group;
    report.set_usage(usage);
    report.ok = errors.is_empty();
    report.errors = errors;
    Ok(report)
}

/// One requester: `count` requests, one at a time; returns the round trips (ns) and the time
/// all of them took.
fn requester(
    mut conn: Conn,
    frame: &[u8],
    count: u64,
    headers: bool,
    timeout: Duration,
    start: &Barrier,
    completed: &AtomicU64,
) -> RequesterResult {
    let mut hist = new_histogram();
    conn.set_read_timeout(Some(timeout))?;
    start.wait();
    let t0 = Instant::now();
    for _ in 0..count {
        let sent = Instant::now();
        conn.write_all(frame)?;
        let mut answered = false;
        while !answered {
            let result = conn.read_ops(|op| {
                match op {
                    Op::Msg(msg) => {
                        if headers && msg.has_headers && msg.status() == Some(b"503") {
                            return Err(BenchError::Server(
                                "no responders: nothing subscribes to the request subject".into(),
                            ));
                        }
                        answered = true;
                    }
                    Op::Err(text) => return Err(server_error(text)),
                    _ => {}
                }
                Ok(())
            })?;
            if result == ReadResult::TimedOut {
                return Err(BenchError::Timeout(format!("no reply within {timeout:?}")));
            }
        }
        hist.saturating_record(sent.elapsed().as_nanos() as u64);
        completed.fetch_add(1, Ordering::Relaxed);
    }
    Ok((hist, t0.elapsed()))
}

/// One replier: answers every request with its payload until `stop`; returns how many it
/// answered, the time from its first request to its last, and the error that stopped it.
fn replier(
    mut conn: Conn,
    stop: &AtomicBool,
    served: &AtomicU64,
) -> (u64, Duration, Option<BenchError>) {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut count = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = None;
    if let Err(e) = conn.set_read_timeout(Some(POLL)) {
        return (0, Duration::ZERO, Some(e.into()));
    }
    let error = loop {
        if stop.load(Ordering::Acquire) {
            break None;
        }
        let mut n = 0u64;
        let result = conn.read_ops(|op| {
            match op {
                Op::Msg(msg) => {
                    if let Some(reply) = msg.reply() {
                        out.extend_from_slice(b"PUB ");
                        out.extend_from_slice(reply);
                        let _ = write!(out, " {}\r\n", msg.payload.len());
                        out.extend_from_slice(msg.payload);
                        out.extend_from_slice(b"\r\n");
                        n += 1;
                    }
                }
                Op::Err(text) => return Err(server_error(text)),
                _ => {}
            }
            Ok(())
        });
        if !out.is_empty() {
            if let Err(e) = conn.write_all(&out) {
                break Some(e.into());
            }
            out.clear();
        }
        if n > 0 {
            let now = Instant::now();
            first.get_or_insert(now);
            last = Some(now);
            count += n;
            served.fetch_add(n, Ordering::Relaxed);
        }
        if let Err(e) = result {
            break Some(e);
        }
    };
    let busy = match (first, last) {
        (Some(f), Some(l)) => l - f,
        _ => Duration::ZERO,
    };
    (count, busy, error)
}
