//! The system account's account-JWT updates, as nats-server answers them:
//! an account JWT published to `$SYS.REQ.CLAIMS.UPDATE` (or to
//! `$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`) by a system account user
//! replaces that account's claims at run time (stored in the resolver
//! directory when there is one), and the requester gets nats-server's JSON
//! answer: `{"server":{...},"data":{"account":..,"code":200,"message":"jwt updated"}}`
//! or `{"server":{...},"error":{"account":..,"code":500,"description":..}}`.
//!
//! In a cluster the service's interest is announced like a client's, so an
//! update sent to one server reaches every server (nats-server's full
//! resolvers spread updates the same way), and each answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde_json::json;
use tracing::{debug, error};

use crate::accounts::Account;
use crate::auth::trust::Trust;

use super::{InboundMessage, ServerIdent, SubscribeError, SystemClient};

pub const CLAIMS_UPDATE: &str = "$SYS.REQ.CLAIMS.UPDATE";
pub const ACCOUNT_CLAIMS_UPDATE: &str = "$SYS.REQ.ACCOUNT.*.CLAIMS.UPDATE";

/// Serves both subjects in the system account `sys` until `system` is
/// closed.
pub(crate) fn start(
    system: &SystemClient,
    ident: ServerIdent,
    trust: Arc<Trust>,
    sys: &Arc<Account>,
) -> Result<(), SubscribeError> {
    let ident = Arc::new(ident);
    // The answers' sequence number, shared by both subjects.
    let seq = Arc::new(AtomicU64::new(0));
    for subject in [CLAIMS_UPDATE, ACCOUNT_CLAIMS_UPDATE] {
        let (ident, trust, seq) = (ident.clone(), trust.clone(), seq.clone());
        system.serve(sys, subject, None, move |msg| {
            let mut answer = update(&trust, msg);
            msg.reply.as_ref()?;
            answer["server"] = json!({
                "name": ident.name,
                "host": ident.host,
                "id": ident.id,
                "ver": ident.version,
                "seq": seq.fetch_add(1, Ordering::Relaxed) + 1,
                "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            });
            Some(Bytes::from(answer.to_string()))
        })?;
    }
    Ok(())
}

/// Applies the update a message carries; the answer without its `server`.
fn update(trust: &Trust, msg: &InboundMessage) -> serde_json::Value {
    let jwt = String::from_utf8_lossy(&msg.payload);
    let subject = String::from_utf8_lossy(&msg.subject);
    // `$SYS.REQ.ACCOUNT.<key>.CLAIMS.UPDATE` names the account it updates.
    let named = subject
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
