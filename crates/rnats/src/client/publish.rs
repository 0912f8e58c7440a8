//! `rnats pub` and `rnats req`.

use std::time::{Duration, Instant};

use async_nats::{Request, RequestErrorKind};
use clap::Args;

use super::conn::{ConnArgs, Connection};
use super::message::{self, Header, Headers, Template};
use crate::keys::Result;

#[derive(Debug, Args)]
pub struct PubArgs {
    /// The subject to publish to.
    pub subject: String,

    /// The body; read from stdin when absent. `{{Count}}` becomes the message's number.
    pub body: Option<String>,

    /// Publish this many messages.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,

    /// A header, KEY:VALUE (repeatable; `{{Count}}` in the value becomes the message's number).
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE", value_parser = message::parse_header)]
    pub headers: Vec<Header>,

    /// The reply subject to send with the messages.
    #[arg(long, value_name = "SUBJECT")]
    pub reply: Option<String>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct ReqArgs {
    /// The subject to send the request to.
    pub subject: String,

    /// The body; read from stdin when absent.
    pub body: Option<String>,

    /// How long to wait for the reply (e.g. 2s, 500ms, 1m).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = message::parse_timeout)]
    pub timeout: Duration,

    /// A header, KEY:VALUE (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE", value_parser = message::parse_header)]
    pub headers: Vec<Header>,

    #[command(flatten)]
    pub conn: ConnArgs,
}

pub fn run_pub(args: &PubArgs) -> Result<()> {
    let body = Template::new(message::body(args.body.as_deref())?);
    let headers = Headers::new(&args.headers);
    super::block_on(async {
        let mut conn = Connection::open(&args.conn, "pub").await?;
        let client = &conn.client;
        let mut bytes = 0;
        for n in 1..=args.count {
            let payload = body.render(n);
            bytes += payload.len();
            let subject = args.subject.clone();
            let sent = match (&args.reply, headers.render(n)) {
                (None, None) => client.publish(subject, payload).await,
                (None, Some(h)) => client.publish_with_headers(subject, h, payload).await,
                (Some(r), None) => client.publish_with_reply(subject, r.clone(), payload).await,
                (Some(r), Some(h)) => {
                    client
                        .publish_with_reply_and_headers(subject, r.clone(), h, payload)
                        .await
                }
            };
            sent.map_err(|e| format!("cannot publish to {:?}: {e}", args.subject))?;
        }
        conn.round_trip().await?;
        if args.count == 1 {
            eprintln!("Published {bytes} bytes to {:?}", args.subject);
        } else {
            eprintln!(
                "Published {} messages ({bytes} bytes) to {:?}",
                args.count, args.subject
            );
        }
        Ok(())
    })
}

pub fn run_req(args: &ReqArgs) -> Result<()> {
    let body = message::body(args.body.as_deref())?;
    let headers = Headers::new(&args.headers);
    super::block_on(async {
        let conn = Connection::open(&args.conn, "req").await?;
        let mut request = Request::new().payload(body).timeout(Some(args.timeout));
        if let Some(headers) = headers.render(1) {
            request = request.headers(headers);
        }
        let start = Instant::now();
        let reply = tokio::select! {
            reply = conn.client.send_request(args.subject.clone(), request) => reply,
            // A refused request (no permission) gets an error, not a reply: say so at once.
            error = conn.server_error() => return Err(error),
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                return Err(match e.kind() {
                    RequestErrorKind::NoResponders => "no responders available for request".into(),
                    RequestErrorKind::TimedOut => {
                        format!("no reply within {:?}", args.timeout)
                    }
                    _ => format!("request to {:?} failed: {e}", args.subject),
                });
            }
        };
        eprintln!("Received with rtt {:?}", start.elapsed());
        match message::print_content(&mut std::io::stdout().lock(), &reply) {
            Ok(()) => Ok(()),
            Err(e) => message::output_error(e).map_or(Ok(()), Err),
        }
    })
}
