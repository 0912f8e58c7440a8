//! `rnats server ping`: every server's answer to `$SYS.REQ.SERVER.PING` as it comes, then
//! the round-trip statistics, as `nats server ping` prints them.

use std::io::Write;

use bytes::Bytes;
use clap::Args;

use super::format::go_duration;
use super::json::ServerStatsMsg;
use super::{Answer, Common, PING_SUBJECT, decode, gather};
use crate::client::conn::Connection;
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct PingArgs {
    /// Stop after this many servers have answered (default: as many as the first answer says
    /// the cluster has, else wait for --timeout).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,

    /// Print each server's ID too.
    #[arg(long)]
    pub id: bool,

    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &PingArgs) -> Result<()> {
    crate::client::block_on(async {
        let conn = Connection::open(&args.common.conn, "server ping").await?;
        let mut expect = args.count.map(|n| n as usize);
        // Not locked: each line takes the lock for itself, none is held across an await.
        let mut out = std::io::stdout();
        let answers = gather(
            &conn,
            PING_SUBJECT,
            Bytes::new(),
            args.common.timeout,
            |answers| {
                let Some(Answer { message, rtt }) = answers.last() else {
                    return Ok(false);
                };
                let stats: ServerStatsMsg = decode(message)?;
                if expect.is_none() && answers.len() == 1 && stats.stats.active_servers > 0 {
                    expect = Some(stats.stats.active_servers as usize);
                }
                let line = if args.id {
                    format!(
                        "{} {:<60} rtt={}",
                        stats.server.id,
                        stats.server.name,
                        go_duration(*rtt)
                    )
                } else {
                    format!("{:<60} rtt={}", stats.server.name, go_duration(*rtt))
                };
                writeln!(out, "{line}").map_err(|e| format!("cannot write to stdout: {e}"))?;
                Ok(expect == Some(answers.len()))
            },
        )
        .await?;
        let rtts: Vec<f64> = answers
            .iter()
            .map(|a| a.rtt.as_secs_f64() * 1000.0)
            .collect();
        let mut summary = String::from("\n---- ping statistics ----\n");
        summary += &statistics(&rtts);
        if let Some(expect) = expect.filter(|&n| n > answers.len()) {
            summary += &format!("\nMissing {} server(s)\n", expect - answers.len());
        }
        write!(out, "{summary}").map_err(|e| format!("cannot write to stdout: {e}"))?;
        if answers.is_empty() {
            return Err(super::NO_RESULTS.into());
        }
        Ok(())
    })
}

/// `N replies max: … min: … avg: …` (milliseconds), or that none came.
fn statistics(rtts_ms: &[f64]) -> String {
    if rtts_ms.is_empty() {
        return "no responses received\n".into();
    }
    let max = rtts_ms.iter().cloned().fold(f64::MIN, f64::max);
    let min = rtts_ms.iter().cloned().fold(f64::MAX, f64::min);
    let avg = rtts_ms.iter().sum::<f64>() / rtts_ms.len() as f64;
    format!(
        "{} replies max: {max:.2} min: {min:.2} avg: {avg:.2}\n",
        rtts_ms.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_statistics() {
        assert_eq!(statistics(&[]), "no responses received\n");
        assert_eq!(
            statistics(&[1.0, 2.5, 3.0]),
            "3 replies max: 3.00 min: 1.00 avg: 2.17\n"
        );
    }
}
