//! JetStream in this server: the [`Host`] that `rnats-jetstream` runs on,
//! built on the internal-client API ([`crate::system`]), and starting it
//! with the accounts it is enabled in.
//!
//! The server knows JetStream only through `rnats_jetstream::JetStream`'s
//! public methods; JetStream knows the server only through this host:
//! accounts by name, subscribe, publish.
//!
//! **Owns**: the adapter and which accounts get JetStream. **May not
//! touch**: JetStream's internals, connections.

use std::sync::{Arc, Weak};

use rnats_jetstream::host::{Host, HostError, Msg, Subscription};
use rnats_jetstream::{AccountLimits, JetStream, JetStreamConfig, ServerMeta};
use tracing::{error, warn};

use crate::accounts::{Account, GLOBAL_ACCOUNT};
use crate::server::{COMPATIBLE_VERSION, ServerShared};
use crate::system::{OutboundMessage, PendingLimits, Subscriber, SystemClient};

/// The server, as JetStream sees it.
pub struct ServerHost {
    shared: Weak<ServerShared>,
    client: SystemClient,
}

/// A subscription of JetStream's: an internal subscriber.
pub struct HostSubscription(Subscriber);

fn into_msg(m: crate::system::InboundMessage) -> Msg {
    Msg {
        subject: m.subject,
        reply: m.reply,
        headers: m.headers,
        payload: m.payload,
        publisher: m.publisher,
    }
}

impl Subscription for HostSubscription {
    async fn recv(&mut self) -> Option<Msg> {
        self.0.recv().await.map(into_msg)
    }

    fn try_recv(&mut self) -> Option<Msg> {
        self.0.try_recv().map(into_msg)
    }
}

impl Host for ServerHost {
    type Account = Arc<Account>;
    type Subscription = HostSubscription;

    fn account(&self, name: &str) -> Option<Arc<Account>> {
        let shared = self.shared.upgrade()?;
        if let Some(account) = shared.accounts.get(name) {
            return Some(account);
        }
        // An account of the operator's, read from its JWT at run time.
        let trust = shared.auth().trust()?.clone();
        trust.lookup(name).map(|jwt| jwt.account.clone())
    }

    fn subscribe(
        &self,
        account: &Arc<Account>,
        subject: &str,
        queue: Option<&str>,
        pending: usize,
    ) -> Result<HostSubscription, HostError> {
        let limits = PendingLimits {
            messages: pending,
            bytes: PendingLimits::default()
                .bytes
                .max(pending.saturating_mul(1024)),
        };
        self.client
            .subscribe_with(account, subject, queue, limits)
            .map(HostSubscription)
            .map_err(|e| HostError(e.to_string()))
    }

    fn publish(&self, account: &Arc<Account>, msg: Msg) -> Result<(), HostError> {
        let out = OutboundMessage {
            subject: msg.subject,
            reply: msg.reply,
            headers: msg.headers,
            payload: msg.payload,
        };
        self.client
            .publish(account, out)
            .map_err(|e| HostError(e.to_string()))
    }

    fn has_interest(&self, account: &Arc<Account>, subject: &str) -> bool {
        let matches = account.sublist.matches(subject.as_bytes());
        !matches.plain.is_empty() || !matches.queues.is_empty()
    }

    fn client_info(&self, publisher: u64) -> Option<serde_json::Value> {
        let shared = self.shared.upgrade()?;
        let client = shared.client(publisher)?;
        serde_json::to_value(crate::events::ClientInfo::of(&shared, &client, None)).ok()
    }
}

/// An account JWT's JetStream limits, when they enable JetStream: the
/// untiered limits, or else the `R1` tier's (one server is one replica).
pub fn limits_from_jwt(limits: &rnats_jwt::AccountLimits) -> Option<AccountLimits> {
    let js = if limits.jetstream.enabled() {
        limits.jetstream
    } else {
        *limits.tiered_limits.get("R1").filter(|t| t.enabled())?
    };
    Some(AccountLimits {
        max_memory: js.mem_storage,
        max_store: js.disk_storage,
        max_streams: js.streams,
        max_consumers: js.consumer,
        max_ack_pending: js.max_ack_pending,
        memory_max_stream_bytes: js.mem_max_stream_bytes,
        storage_max_stream_bytes: js.disk_max_stream_bytes,
        max_bytes_required: js.max_bytes_required,
    })
}

/// Starts JetStream and enables it in the accounts that have it: those
/// configured with `jetstream` or whose JWT gives them JetStream limits,
/// or the global account when no account is configured (nats-server's
/// rule).
pub fn start(shared: &Arc<ServerShared>, config: JetStreamConfig) -> std::io::Result<()> {
    let host = ServerHost {
        shared: Arc::downgrade(shared),
        client: SystemClient::new(shared.cluster.clone()),
    };
    let meta = ServerMeta {
        name: shared.name.clone(),
        id: shared.id.clone(),
        version: COMPATIBLE_VERSION.to_string(),
    };
    let js = JetStream::start(host, config, meta)?;
    let opts = shared.opts();
    let mut configured: Vec<(String, AccountLimits)> = opts
        .auth
        .accounts
        .iter()
        .filter_map(|a| a.jetstream.map(|limits| (a.name.clone(), limits)))
        .collect();
    let trust = shared.auth().trust().cloned();
    if let Some(trust) = &trust {
        configured.extend(trust.known_claims().iter().filter_map(|claims| {
            limits_from_jwt(&claims.nats.limits).map(|l| (claims.subject.clone(), l))
        }));
    }
    let enable: Vec<(String, AccountLimits)> = if opts.auth.accounts.is_empty() && trust.is_none() {
        vec![(GLOBAL_ACCOUNT.to_string(), AccountLimits::default())]
    } else {
        if configured.is_empty() {
            warn!("JetStream is enabled, but in no account: add `jetstream: enabled` to one");
        }
        configured
    };
    for (name, limits) in enable {
        if let Err(e) = js.enable_account(&name, limits) {
            error!("Could not enable JetStream in account {name:?}: {e}");
        }
    }
    // The other accounts are told JetStream is not theirs, as nats-server
    // tells them.
    let accounts = shared.accounts.all().into_iter().map(|a| a.name.clone());
    let jwt_accounts = trust
        .iter()
        .flat_map(|t| t.known_claims())
        .map(|c| c.subject.clone());
    for name in accounts.chain(jwt_accounts) {
        if !js.is_enabled(&name)
            && let Err(e) = js.refuse_account(&name)
        {
            error!("Could not answer JetStream requests in account {name:?}: {e}");
        }
    }
    if shared.jetstream.set(js).is_err() {
        error!("JetStream was started twice");
    }
    if let Some(trust) = trust {
        let weak = Arc::downgrade(shared);
        trust.on_claims(Box::new(move |claims| {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            let Some(js) = shared.jetstream.get() else {
                return;
            };
            let done = match limits_from_jwt(&claims.nats.limits) {
                Some(limits) => js.enable_account(&claims.subject, limits),
                None => js.refuse_account(&claims.subject),
            };
            if let Err(e) = done {
                error!("JetStream in account {}: {e}", claims.subject);
            }
        }));
    }
    Ok(())
}
