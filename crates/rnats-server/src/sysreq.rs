//! Requests the server answers in the system account, as nats-server does:
//! an account JWT published to `$SYS.REQ.CLAIMS.UPDATE` (or to
//! `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`) by a system account user
//! replaces that account's claims at run time (stored in the resolver
//! directory when there is one), and the requester gets nats-server's JSON
//! answer: `{"server":{...},"data":{"account":..,"code":200,"message":"jwt updated"}}`
//! or `{"server":{...},"error":{"account":..,"code":500,"description":..}}`.
//!
//! The handler is an internal client: subscriptions in the system account
//! whose output a task reads instead of a socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::json;
use tracing::{debug, error};

use crate::accounts::Account;
use crate::accounts::subscription::Subscription;
use crate::auth::trust::Trust;
use crate::client::{Client, CloseReason, lock};
use crate::delivery::{Deliveries, Message, Sizes};
use crate::route::Cluster;
use rnats_proto::parser::Span;

pub const CLAIMS_UPDATE: &str = "$SYS.REQ.CLAIMS.UPDATE";
pub const ACCOUNT_CLAIMS_UPDATE: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE";

/// Who answers, for the `server` part of the answers.
#[derive(Debug, Clone)]
pub struct ServerIdent {
    pub id: String,
    pub name: String,
    pub host: String,
    pub version: String,
}

/// Subscribes the handler in the system account and starts it. Closing
/// the returned client stops it. In a cluster its interest is announced
/// like a client's, so an update sent to any server reaches every server
/// (nats-server's full resolvers spread updates the same way).
pub fn start(
    ident: ServerIdent,
    trust: Arc<Trust>,
    sys: Arc<Account>,
    cluster: Option<Arc<Cluster>>,
) -> Arc<Client> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let client = Arc::new(Client::new(u64::MAX, addr, 64 * 1024 * 1024, None).in_cluster(cluster));
    for (i, subject) in [CLAIMS_UPDATE, ACCOUNT_CLAIMS_UPDATE]
        .into_iter()
        .enumerate()
    {
        let sub = Arc::new(Subscription::new(
            client.clone(),
            sys.clone(),
            Bytes::from_static(subject.as_bytes()),
            None,
            Bytes::from(i.to_string()),
        ));
        if sys.sublist.insert(sub.clone()).is_ok() {
            if let Some(cluster) = &client.cluster {
                cluster.local_sub(&sub);
            }
            lock(&client.subs).insert(sub.sid.clone(), sub);
        }
    }
    let handler = client.clone();
    tokio::spawn(async move {
        let seq = AtomicU64::new(0);
        while let Some(batch) = handler.take_queued().await {
            let mut bytes = Vec::with_capacity(batch.len());
            if batch.write_to(&mut bytes).await.is_err() {
                continue;
            }
            for msg in parse_msgs(&bytes) {
                let answer = handle(&trust, &msg);
                if let Some(reply) = &msg.reply {
                    let mut body = answer;
                    body["server"] = json!({
                        "name": ident.name,
                        "host": ident.host,
                        "id": ident.id,
                        "ver": ident.version,
                        "seq": seq.fetch_add(1, Ordering::Relaxed) + 1,
                        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    });
                    publish(&sys, reply.as_bytes(), body.to_string().as_bytes());
                }
            }
        }
        let mut subs: Vec<_> = lock(&handler.subs).drain().map(|(_, s)| s).collect();
        sys.sublist.remove_all(&mut subs);
        if let Some(cluster) = &handler.cluster {
            cluster.local_unsubs(&subs);
        }
    });
    client
}

/// Stops the handler.
pub fn stop(client: &Client) {
    client.close(CloseReason::ServerShutdown, false);
}

/// One message delivered to the handler.
#[derive(Debug, PartialEq, Eq)]
struct Msg {
    subject: String,
    reply: Option<String>,
    payload: Vec<u8>,
}

/// The `MSG`/`HMSG` frames of a delivery batch (headers are dropped).
fn parse_msgs(mut buf: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    while let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf = &buf[end + 2..];
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let (subject, reply, header, total) = match f.as_slice() {
            ["MSG", s, _sid, size] => (s, None, 0, size.parse().ok()),
            ["MSG", s, _sid, r, size] => (s, Some(r), 0, size.parse().ok()),
            ["HMSG", s, _sid, h, t] => (s, None, h.parse().unwrap_or(0), t.parse().ok()),
            ["HMSG", s, _sid, r, h, t] => (s, Some(r), h.parse().unwrap_or(0), t.parse().ok()),
            _ => continue,
        };
        let Some(total) = total.filter(|&t: &usize| t + 2 <= buf.len() && header <= t) else {
            break;
        };
        out.push(Msg {
            subject: subject.to_string(),
            reply: reply.map(|r| r.to_string()),
            payload: buf[header..total].to_vec(),
        });
        buf = &buf[total + 2..];
    }
    out
}

fn handle(trust: &Trust, msg: &Msg) -> serde_json::Value {
    let jwt = String::from_utf8_lossy(&msg.payload);
    // `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE` names the account it updates.
    let named = msg
        .subject
        .strip_prefix("$SYS.REQ.ACCOUNT.")
        .and_then(|s| s.strip_suffix(".CLAIMS.UPDATE"));
    let result = match (named, trust.verify_account(&jwt, None)) {
        (Some(key), Ok(claims)) if claims.subject != key => Err((
            claims.subject,
            format!("jwt update resulted in error - subject {key} does not match the JWT"),
        )),
        (_, Err(e)) => Err((
            named.unwrap_or_default().to_string(),
            format!("jwt update resulted in error - {e}"),
        )),
        (_, Ok(claims)) => trust.update(&jwt).map_err(|e| {
            (
                claims.subject.clone(),
                format!("jwt update resulted in error - {e}"),
            )
        }),
    };
    match result {
        Ok(key) => {
            debug!("jwt updated - {key}");
            json!({"data": {"account": key, "code": 200, "message": "jwt updated"}})
        }
        Err((key, description)) => {
            error!("{description} - {key}");
            let mut e = json!({"code": 500, "description": description});
            if !key.is_empty() {
                e["account"] = key.into();
            }
            json!({ "error": e })
        }
    }
}

/// Publishes an answer in the system account: to local subscribers, and
/// as `RMSG` to any route with interest (the requester may be a client of
/// another server of the cluster).
fn publish(account: &Account, subject: &[u8], payload: &[u8]) {
    let chunk = Bytes::copy_from_slice(payload);
    let size = payload.len().to_string();
    let msg = Message {
        chunk: &chunk,
        subject,
        reply: None,
        sizes: Sizes::Msg(size.as_bytes()),
        body: Span {
            start: 0,
            end: chunk.len(),
        },
    };
    let mut out = Deliveries::new(u64::MAX);
    out.deliver_all(&account.sublist.matches(subject), &msg, None, &[]);
    out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_back() {
        let buf =
            b"MSG a 1 _INBOX.x 3\r\nabc\r\nHMSG b 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nMSG c 1 5\r\nab";
        let msgs = parse_msgs(buf);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].reply.as_deref(), Some("_INBOX.x"));
        assert_eq!(msgs[0].payload, b"abc");
        assert_eq!(msgs[1].payload, b"hi");
    }
}
