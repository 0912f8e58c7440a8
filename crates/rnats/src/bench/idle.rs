//! Idle-connections mode: opens K logged-in connections (`--concurrency` logins at a time) on
//! a small tokio runtime, holds them until Ctrl-C or `--hold` (answering the server's PINGs so
//! none is closed as stale), then closes them. With `--server-pid` it reports the server's
//! memory per connection: (RSS after opening − RSS before) / connections opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::conn::server_error;
use super::progress::Progress;
use super::proto::{self, Op};
use super::report::{IdleStats, Params, Report};
use super::sys::{Watch, raise_open_files_limit};
use super::{BenchError, Ctx};

/// Open files this process needs besides the connections.
const SPARE_FILES: u64 = 32;

pub fn run(ctx: &Ctx, k: u64) -> Result<Report, BenchError> {
    if k == 0 {
        return Err(BenchError::Usage("--idle needs at least 1".into()));
    }
    let limit = raise_open_files_limit();
    if k + SPARE_FILES > limit {
        return Err(BenchError::Usage(format!(
            "--idle {k} needs more open files than the limit of {limit}: raise it (ulimit -n)"
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_async(ctx, k))
}

async fn run_async(ctx: &Ctx, k: u64) -> Result<Report, BenchError> {
    let frame: Arc<[u8]> = ctx.endpoint.connect_frame("rnats-bench-idle", false).into();
    let addr = ctx.endpoint.addrs[0];
    let timeout = ctx.timeout;
    let workers = (ctx.args.concurrency as u64).min(k);
    let next = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);

    let watch_server = Watch::start(ctx.args.server_pid);
    let progress = Progress::start(ctx.progress, "opened", k, opened.clone());
    let t0 = Instant::now();
    let mut openers = JoinSet::new();
    for _ in 0..workers {
        let (frame, next, opened, failed, dropped, stop_rx) = (
            frame.clone(),
            next.clone(),
            opened.clone(),
            failed.clone(),
            dropped.clone(),
            stop_rx.clone(),
        );
        openers.spawn(async move {
            let mut holders = Vec::new();
            let mut first_error = None;
            while next.fetch_add(1, Ordering::Relaxed) < k {
                match tokio::time::timeout(timeout, login(addr, &frame)).await {
                    Ok(Ok((stream, buf))) => {
                        opened.fetch_add(1, Ordering::Relaxed);
                        holders.push(tokio::spawn(hold(
                            stream,
                            buf,
                            stop_rx.clone(),
                            dropped.clone(),
                        )));
                    }
                    Ok(Err(e)) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| format!("no login within {timeout:?}"));
                    }
                }
            }
            (holders, first_error)
        });
    }
    let mut holders = Vec::new();
    let mut errors = Vec::new();
    while let Some(result) = openers.join_next().await {
        let (h, first_error) = result.expect("opener task");
        holders.extend(h);
        if let Some(e) = first_error
            && errors.len() < 5
        {
            errors.push(e);
        }
    }
    let open_elapsed = t0.elapsed();
    progress.finish();
    let n_opened = opened.load(Ordering::Relaxed);
    // Let the server settle its per-connection buffers before measuring memory.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let usage = watch_server.finish(n_opened);

    if !ctx.args.json {
        eprintln!(
            "rnats bench: {n_opened} connections open in {:.2}s; holding them {}",
            open_elapsed.as_secs_f64(),
            match ctx.args.hold {
                Some(h) => format!("for {h}s (or until Ctrl-C)"),
                None => "until Ctrl-C".into(),
            }
        );
    }
    let hold_start = Instant::now();
    let hold_for = ctx.args.hold.map(Duration::from_secs_f64);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match hold_for {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        } => {}
    }
    let held = hold_start.elapsed();
    let _ = stop_tx.send(true);
    for h in holders {
        let _ = h.await;
    }

    let n_failed = failed.load(Ordering::Relaxed);
    let n_dropped = dropped.load(Ordering::Relaxed);
    if n_failed > 0 {
        errors.insert(0, format!("{n_failed} of {k} connections failed to open"));
    }
    if n_dropped > 0 {
        errors.push(format!(
            "{n_dropped} connections were closed by the server while held"
        ));
    }
    let mut report = ctx.report(
        "idle",
        Params {
            connections: k,
            concurrency: workers as usize,
            ..Params::default()
        },
    );
    report.summary.unit = "connections/s";
    report.summary.ops = n_opened;
    report.summary.elapsed_s = open_elapsed.as_secs_f64();
    report.summary.throughput = n_opened as f64 / open_elapsed.as_secs_f64().max(1e-9);
    report.idle = Some(IdleStats {
        requested: k,
        opened: n_opened,
        failed: n_failed,
        open_s: open_elapsed.as_secs_f64(),
        held_s: held.as_secs_f64(),
        dropped: n_dropped,
        server_kib_per_conn: usage
            .server
            .as_ref()
            .filter(|_| n_opened > 0)
            .map(|u| (u.rss_kib_after as f64 - u.rss_kib_before as f64) / n_opened as f64),
    });
    report.set_usage(usage);
    report.ok = errors.is_empty();
    report.errors = errors;
    Ok(report)
}

/// Connects and logs in; returns the stream and what was read past the `PONG`.
async fn login(addr: SocketAddr, frame: &[u8]) -> Result<(TcpStream, Vec<u8>), BenchError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| BenchError::Connect(e.to_string()))?;
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(1024);
    read_until(&mut stream, &mut buf, |op| matches!(op, Op::Info(_))).await?;
    stream.write_all(frame).await?;
    read_until(&mut stream, &mut buf, |op| op == Op::Pong).await?;
    buf.shrink_to_fit();
    Ok((stream, buf))
}

/// Reads until an operation that `want` accepts; answers PINGs; `-ERR` is an error.
async fn read_until(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    want: impl Fn(Op<'_>) -> bool,
) -> Result<(), BenchError> {
    loop {
        let mut pos = 0;
        let mut found = false;
        let mut pings = 0;
        while let Some((op, used)) = proto::parse(&buf[pos..])? {
            pos += used;
            match op {
                Op::Err(text) => return Err(server_error(text)),
                Op::Ping => pings += 1,
                _ => {}
            }
            if want(op) {
                found = true;
                break;
            }
        }
        buf.drain(..pos);
        for _ in 0..pings {
            stream.write_all(b"PONG\r\n").await?;
        }
        if found {
            return Ok(());
        }
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Closed("during the login".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Keeps a connection open, answering PINGs, until `stop`.
async fn hold(
    mut stream: TcpStream,
    mut buf: Vec<u8>,
    mut stop: watch::Receiver<bool>,
    dropped: Arc<AtomicU64>,
) {
    let never = |_: Op<'_>| false;
    tokio::select! {
        _ = stop.changed() => {}
        result = read_until(&mut stream, &mut buf, never) => {
            if result.is_err() && !*stop.borrow() {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
