//! `rnats sub` and `rnats reply`.

use async_nats::Subscriber;
use clap::Args;
use futures::StreamExt;

use super::conn::{ConnArgs, Connection};
use super::message::{self, Header, Headers, Template};
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct SubArgs {
    /// The subject to subscribe to (wildcards `*` and `>` allowed).
    pub subject: String,

    /// Join this queue group: each message goes to one member.
    #[arg(long, value_name = "Q")]
    pub queue: Option<String>,

    /// Exit after this many messages.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// The subject to answer requests on (wildcards `*` and `>` allowed).
    pub subject: String,

    /// The answer. `{{Count}}` becomes the request's number.
    pub body: String,

    /// Join this queue group: each request goes to one member.
    #[arg(long, value_name = "Q")]
    pub queue: Option<String>,

    /// Exit after answering this many requests.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// A header of the answer, KEY:VALUE (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE", value_parser = message::parse_header)]
    pub headers: Vec<Header>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

pub fn run_sub(args: &SubArgs) -> Result<()> {
    super::block_on(async {
        let (_conn, mut subscriber) =
            listen(&args.conn, "sub", &args.subject, args.queue.as_deref()).await?;
        let mut stdout = std::io::stdout().lock();
        let mut n = 0;
        while let Some(msg) = subscriber.next().await {
            n += 1;
            if let Err(e) = message::print_received(&mut stdout, n, &msg) {
                return message::output_error(e).map_or(Ok(()), Err);
            }
            if args.count == Some(n) {
                return Ok(());
            }
        }
        Err("the connection closed".into())
    })
}

pub fn run_reply(args: &ReplyArgs) -> Result<()> {
    let body = Template::new(args.body.clone());
    let headers = Headers::new(&args.headers);
    super::block_on(async {
        let (mut conn, mut subscriber) =
            listen(&args.conn, "reply", &args.subject, args.queue.as_deref()).await?;
        let mut stdout = std::io::stdout().lock();
        let mut n = 0;
        while let Some(msg) = subscriber.next().await {
            let Some(reply) = msg.reply.clone() else {
                eprintln!(
                    "rnats reply: ignoring a message on {:?} without a reply subject",
                    msg.subject.as_str()
                );
                continue;
            };
            n += 1;
            if let Err(e) = message::print_received(&mut stdout, n, &msg) {
                return message::output_error(e).map_or(Ok(()), Err);
            }
            let payload = body.render(n);
            let sent = match headers.render(n) {
                Some(h) => conn.client.publish_with_headers(reply, h, payload).await,
                None => conn.client.publish(reply, payload).await,
            };
            sent.map_err(|e| format!("cannot answer: {e}"))?;
            if args.count == Some(n) {
                // The answers must reach the server before the connection goes.
                return conn.round_trip().await;
            }
        }
        Err("the connection closed".into())
    })
}

/// Connects and subscribes, and once the server has the subscription says so on stderr.
async fn listen(
    conn: &ConnArgs,
    command: &'static str,
    subject: &str,
    queue: Option<&str>,
) -> Result<(Connection, Subscriber)> {
    let mut conn = Connection::open(conn, command).await?;
    let subscriber = match queue {
        Some(queue) => {
            conn.client
                .queue_subscribe(subject.to_string(), queue.to_string())
                .await
        }
        None => conn.client.subscribe(subject.to_string()).await,
    }
    .map_err(|e| format!("cannot subscribe to {subject:?}: {e}"))?;
    conn.round_trip().await?;
    conn.go_live();
    match queue {
        Some(queue) => eprintln!("Listening on {subject:?} in queue group {queue:?}"),
        None => eprintln!("Listening on {subject:?}"),
    }
    Ok((conn, subscriber))
}
