//! Connection-storm mode: `--concurrency` threads make K logins between them as fast as they
//! can. A login is: TCP connect, read `INFO`, send `CONNECT` (with the credentials) and `PING`,
//! read the `PONG`, close. Reports logins/s and the latency of one login.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::conn::Conn;
use super::progress::Progress;
use super::report::{Latency, Params, Report, new_histogram};
use super::sys::{Watch, raise_open_files_limit};
use super::{BenchError, Ctx};

/// What one storm thread did.
struct Worker {
    hist: Histogram<u64>,
    failed: u64,
    first_error: Option<String>,
}

pub fn run(ctx: &Ctx, k: u64) -> Result<Report, BenchError> {
    if k == 0 {
        return Err(BenchError::Usage("--conns-storm needs at least 1".into()));
    }
    raise_open_files_limit();
    let workers = (ctx.args.concurrency as u64).min(k) as usize;
    let frame = Arc::new(ctx.endpoint.connect_frame("rnats-bench-storm", false));
    let endpoint = Arc::new(ctx.endpoint.clone());
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(workers + 1));
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let (frame, endpoint, next, done, barrier) = (
                frame.clone(),
                endpoint.clone(),
                next.clone(),
                done.clone(),
                barrier.clone(),
            );
            let timeout = ctx.timeout;
            thread::spawn(move || {
                let mut w = Worker {
                    hist: new_histogram(),
                    failed: 0,
                    first_error: None,
                };
                barrier.wait();
                while next.fetch_add(1, Ordering::Relaxed) < k {
                    let t = Instant::now();
                    match Conn::login(&endpoint, &frame, 4096, timeout) {
                        Ok((conn, _)) => {
                            w.hist.saturating_record(t.elapsed().as_nanos() as u64);
                            drop(conn);
                        }
                        Err(e) => {
                            w.failed += 1;
                            w.first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                w
            })
        })
        .collect();

    let watch = Watch::start(ctx.args.server_pid);
    let progress = Progress::start(ctx.progress, "logins", k, done.clone());
    barrier.wait();
    let t0 = Instant::now();
    let mut hist = new_histogram();
    let mut failed = 0;
    let mut errors = Vec::new();
    for handle in threads {
        let w = handle.join().expect("storm thread");
        hist.add(&w.hist)
            .expect("histograms of the same bounds add");
        failed += w.failed;
        if let Some(e) = w.first_error
            && errors.len() < 5
        {
            errors.push(e);
        }
    }
    let elapsed = t0.elapsed();
    progress.finish();
    let logins = hist.len();
    let usage = watch.finish(logins);
    if failed > 0 {
        errors.insert(0, format!("{failed} of {k} logins failed"));
    }
    let mut report = ctx.report(
        "storm",
        Params {
            connections: k,
            concurrency: workers,
            ..Params::default()
        },
    );
    report.summary.unit = "logins/s";
    report.summary.ops = logins;
    report.summary.elapsed_s = elapsed.as_secs_f64();
    report.summary.throughput = if elapsed > Duration::ZERO {
        logins as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    };
    let latency = Latency::from_histogram(&hist);
    if let Some(l) = &latency {
        report.summary.p50_us = Some(l.p50);
        report.summary.p90_us = Some(l.p90);
        report.summary.p99_us = Some(l.p99);
        report.summary.p999_us = Some(l.p999);
    }
    report.latency_us = latency;
    report.set_usage(usage);
    report.ok = errors.is_empty();
    report.errors = errors;
    Ok(report)
}
