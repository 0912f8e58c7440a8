//! Publish/subscribe mode: publishers (one thread each) write pre-built 64 KiB batches of
//! `PUB`s, each ending with a `PING`, and never have more than `--pings-ahead` of those
//! unanswered; subscribers (one thread each) count `MSG`s with one `read` per buffer-full.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::conn::{Conn, ReadResult, server_error};
use super::progress::Progress;
use super::proto::Op;
use super::report::{ClientStats, Group, Params, Report};
use super::sys::Watch;
use super::{BenchError, Ctx, share};

/// A subscriber's read buffer.
const SUB_BUFFER: usize = 256 * 1024;
/// How often a waiting subscriber looks at the stop flag.
const SUB_POLL: Duration = Duration::from_millis(50);

/// What one subscriber saw.
struct SubResult {
    count: u64,
    wrong_size: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    error: Option<BenchError>,
}

pub fn run(ctx: &Ctx) -> Result<Report, BenchError> {
    let a = &ctx.args;
    let pubs = a.pubs;
    let subs = a.subs.unwrap_or(0);
    if pubs == 0 && subs == 0 {
        return Err(BenchError::Usage(
            "nothing to do: --pub and --sub are both 0".into(),
        ));
    }
    let total = a.msgs;
    let size = a.size;

    // Connect everyone first; subscriptions are confirmed by PING/PONG.
    let sub_frame = ctx.endpoint.connect_frame("rnats-bench-sub", false);
    let mut sub_conns = Vec::with_capacity(subs);
    for i in 0..subs {
        let (mut conn, info) = Conn::login(&ctx.sub_endpoint, &sub_frame, SUB_BUFFER, ctx.timeout)?;
        check_payload(size, info.max_payload)?;
        conn.subscribe(&a.subject, a.queue.as_deref(), i as u64 + 1, ctx.timeout)?;
        sub_conns.push(conn);
    }
    let pub_frame = ctx.endpoint.connect_frame("rnats-bench-pub", false);
    let mut pub_conns = Vec::with_capacity(pubs);
    for _ in 0..pubs {
        let (conn, info) = Conn::login(&ctx.endpoint, &pub_frame, 4096, ctx.timeout)?;
        check_payload(size, info.max_payload)?;
        pub_conns.push(conn);
    }

    if a.sub_server.is_some()
        && subs > 0
        && let Some(publisher) = pub_conns.first_mut()
    {
        wait_for_interest(publisher, &mut sub_conns, &a.subject, ctx.timeout)?;
    }

    let expected_each = if a.queue.is_some() { None } else { Some(total) };
    let expected_total = match (subs, &a.queue) {
        (0, _) => 0,
        (_, Some(_)) => total,
        (n, None) => total * n as u64,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let published = Arc::new(AtomicU64::new(0));
    let sub_threads: Vec<JoinHandle<SubResult>> = sub_conns
        .into_iter()
        .map(|conn| {
            let stop = stop.clone();
            let received = received.clone();
            thread::spawn(move || subscriber(conn, expected_each, size, &stop, &received))
        })
        .collect();

    let mut frame = format!("PUB {} {}\r\n", a.subject, size).into_bytes();
    frame.extend((0..size).map(|i| b'a' + (i % 26) as u8));
    frame.extend_from_slice(b"\r\n");
    let frame = Arc::new(frame);
    let barrier = Arc::new(Barrier::new(pubs + 1));
    let pub_threads: Vec<JoinHandle<Result<(u64, Duration), BenchError>>> = pub_conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let frame = frame.clone();
            let barrier = barrier.clone();
            let published = published.clone();
            let count = share(total, pubs, i);
            let (batch, ahead, timeout) = (a.batch, a.pings_ahead, ctx.timeout);
            thread::spawn(move || {
                publisher(
                    conn, &frame, count, batch, ahead, timeout, &barrier, &published,
                )
                .map(|elapsed| (count, elapsed))
            })
        })
        .collect();

    let watch = Watch::start(a.server_pid);
    let (label, counter, goal) = if subs > 0 {
        ("received", received.clone(), expected_total)
    } else {
        ("published", published.clone(), total)
    };
    let progress = Progress::start(ctx.progress, label, goal, counter);
    barrier.wait();
    let t0 = Instant::now();

    // Wait until everything arrived, everyone stopped, or nothing moved for --timeout.
    let mut errors = Vec::new();
    let mut last_seen = 0;
    let mut last_change = Instant::now();
    let mut pubs_done_at: Option<Instant> = None;
    loop {
        thread::sleep(Duration::from_millis(5));
        let got = received.load(Ordering::Relaxed);
        let pubs_done = pub_threads.iter().all(JoinHandle::is_finished);
        let subs_done = sub_threads.iter().all(JoinHandle::is_finished);
        if pubs_done && (got >= expected_total || subs_done) {
            break;
        }
        let now = Instant::now();
        if pubs_done && pubs_done_at.is_none() {
            pubs_done_at = Some(now);
            last_change = now;
        }
        if got != last_seen {
            last_seen = got;
            last_change = now;
        } else if pubs_done && now - last_change >= ctx.timeout {
            errors.push(format!(
                "no message for {:?}: subscribers received {} of {}",
                ctx.timeout, got, expected_total
            ));
            break;
        }
    }
    stop.store(true, Ordering::Release);

    let mut pub_stats = Vec::with_capacity(pubs);
    let mut pub_elapsed = Duration::ZERO;
    for (i, handle) in pub_threads.into_iter().enumerate() {
        match handle.join().expect("publisher thread") {
            Ok((count, elapsed)) => {
                pub_elapsed = pub_elapsed.max(elapsed);
                pub_stats.push(ClientStats::new(count, size, elapsed));
            }
            Err(e) => {
                errors.push(format!("publisher #{}: {e}", i + 1));
                pub_stats.push(ClientStats::new(0, size, Duration::ZERO));
            }
        }
    }
    let mut sub_stats = Vec::with_capacity(subs);
    let mut sub_end = t0;
    for (i, handle) in sub_threads.into_iter().enumerate() {
        let r = handle.join().expect("subscriber thread");
        if let Some(e) = r.error {
            errors.push(format!("subscriber #{}: {e}", i + 1));
        }
        if r.wrong_size > 0 {
            errors.push(format!(
                "subscriber #{}: {} messages were not {size} bytes long",
                i + 1,
                r.wrong_size
            ));
        }
        if let Some(last) = r.last {
            sub_end = sub_end.max(last);
        }
        let elapsed = match (r.first, r.last) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        };
        sub_stats.push(ClientStats::new(r.count, size, elapsed));
    }
    let usage = watch.finish(total);
    progress.finish();

    let delivered: u64 = sub_stats.iter().map(|s| s.msgs).sum();
    if subs > 0 && delivered < expected_total && errors.is_empty() {
        errors.push(format!(
            "subscribers received {delivered} of {expected_total} messages"
        ));
    }

    let mut report = ctx.report(
        "pubsub",
        Params {
            subject: a.subject.clone(),
            size,
            msgs: total,
            pubs,
            subs,
            queue: a.queue.clone(),
            ..Params::default()
        },
    );
    let publishers = (pubs > 0).then(|| Group::new(pub_stats, size, pub_elapsed, None));
    let subscribers =
        (subs > 0).then(|| Group::new(sub_stats, size, sub_end - t0, Some(expected_total)));
    let headline = subscribers.as_ref().or(publishers.as_ref());
    if let Some(g) = headline {
        report.summary.throughput = g.msgs_per_s;
        report.summary.ops = g.msgs;
        report.summary.elapsed_s = g.elapsed_s;
        report.summary.mb_per_s = g.mb_per_s;
    }
    report.summary.unit = if subs > 0 {
        "msgs/s received"
    } else {
        "msgs/s published"
    };
    report.publishers = publishers;
    report.subscribers = subscribers;
    report.set_usage(usage);
    report.ok = errors.is_empty();
    report.errors = errors;
    Ok(report)
}

/// Refuses payloads over the server's limit.
pub fn check_payload(size: usize, max_payload: u64) -> Result<(), BenchError> {
    if max_payload > 0 && size as u64 > max_payload {
        return Err(BenchError::Usage(format!(
            "--size {size} is over the server's max_payload of {max_payload} bytes"
        )));
    }
    Ok(())
}

/// One publisher: `count` copies of `frame`, in batches of about `batch` bytes each followed
/// by a `PING`, with at most `pings_ahead` `PING`s unanswered. Returns the time from the start
/// signal to the last `PONG` (everything was read by the server).
#[allow(clippy::too_many_arguments)]
fn publisher(
    mut conn: Conn,
    frame: &[u8],
    count: u64,
    batch: usize,
    pings_ahead: usize,
    timeout: Duration,
    start: &Barrier,
    published: &AtomicU64,
) -> Result<Duration, BenchError> {
    let per_batch = (batch / frame.len()).max(1) as u64;
    let mut full = frame.repeat(per_batch as usize);
    full.extend_from_slice(b"PING\r\n");
    conn.set_read_timeout(Some(timeout))?;
    start.wait();
    let t0 = Instant::now();
    let mut sent = 0;
    let mut unanswered = 0;
    while sent < count {
        let n = per_batch.min(count - sent);
        if n == per_batch {
            conn.write_all(&full)?;
        } else {
            let mut last = frame.repeat(n as usize);
            last.extend_from_slice(b"PING\r\n");
            conn.write_all(&last)?;
        }
        sent += n;
        unanswered += 1;
        published.fetch_add(n, Ordering::Relaxed);
        while unanswered >= pings_ahead {
            wait_pongs(&mut conn, &mut unanswered, timeout)?;
        }
    }
    while unanswered > 0 {
        wait_pongs(&mut conn, &mut unanswered, timeout)?;
    }
    Ok(t0.elapsed())
}

/// Reads once and counts the `PONG`s that came.
fn wait_pongs(
    conn: &mut Conn,
    unanswered: &mut usize,
    timeout: Duration,
) -> Result<(), BenchError> {
    let result = conn.read_ops(|op| {
        match op {
            Op::Pong => *unanswered = unanswered.saturating_sub(1),
            Op::Err(text) => return Err(server_error(text)),
            _ => {}
        }
        Ok(())
    })?;
    if result == ReadResult::TimedOut {
        return Err(BenchError::Timeout(format!(
            "no PONG from the server within {timeout:?}"
        )));
    }
    Ok(())
}

/// One subscriber: counts messages until it has `expected` (if known) or `stop` is set.
fn subscriber(
    mut conn: Conn,
    expected: Option<u64>,
    size: usize,
    stop: &AtomicBool,
    received: &AtomicU64,
) -> SubResult {
    let mut r = SubResult {
        count: 0,
        wrong_size: 0,
        first: None,
        last: None,
        error: None,
    };
    if let Err(e) = conn.set_read_timeout(Some(SUB_POLL)) {
        r.error = Some(e.into());
        return r;
    }
    loop {
        if expected.is_some_and(|e| r.count >= e) || stop.load(Ordering::Acquire) {
            break;
        }
        let mut n = 0u64;
        let mut wrong = 0u64;
        let result = conn.read_ops(|op| {
            match op {
                Op::Msg(msg) => {
                    n += 1;
                    wrong += u64::from(msg.payload.len() != size);
                }
                Op::Err(text) => return Err(server_error(text)),
                _ => {}
            }
            Ok(())
        });
        if n > 0 {
            let now = Instant::now();
            r.first.get_or_insert(now);
            r.last = Some(now);
            r.count += n;
            r.wrong_size += wrong;
            received.fetch_add(n, Ordering::Relaxed);
        }
        if let Err(e) = result {
            r.error = Some(e);
            break;
        }
    }
    r
}

/// Subscribers on another node of a cluster: their interest reaches the
/// publishers' node through the route a moment later. Each subscriber also
/// subscribes to a probe subject, after its real subscription; the
/// publisher sends probes until every subscriber got one, so the route has
/// carried the real interest too (interest travels in order). The probe
/// subscriptions are then removed before anything is measured.
fn wait_for_interest(
    publisher: &mut Conn,
    subscribers: &mut [Conn],
    subject: &str,
    timeout: Duration,
) -> Result<(), BenchError> {
    const PROBE_SID: u64 = u64::MAX / 2;
    let probe = format!("_RNATS_BENCH_PROBE.{subject}");
    for sub in subscribers.iter_mut() {
        sub.subscribe(&probe, None, PROBE_SID, timeout)?;
    }
    let deadline = Instant::now() + timeout;
    for sub in subscribers.iter_mut() {
        loop {
            publisher.write_all(format!("PUB {probe} 0\r\n\r\n").as_bytes())?;
            if sub.wait_for_msg_on(&probe, Duration::from_millis(50))? {
                break;
            }
            if Instant::now() >= deadline {
                return Err(BenchError::Timeout(format!(
                    "subscriptions on the other node never reached the publishers' node in {timeout:?}"
                )));
            }
        }
    }
    for sub in subscribers.iter_mut() {
        sub.unsubscribe(PROBE_SID, timeout)?;
    }
    Ok(())
}
