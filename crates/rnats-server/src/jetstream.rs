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
        self.shared.upgrade()?.accounts.get(name)
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
}

/// Starts JetStream and enables it in the accounts that have it: those
/// configured with `jetstream`, or the global account when no account
/// is configured (nats-server's rule).
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
    let configured: Vec<(String, AccountLimits)> = opts
        .auth
        .accounts
        .iter()
        .filter_map(|a| a.jetstream.map(|limits| (a.name.clone(), limits)))
        .collect();
    let enable: Vec<(String, AccountLimits)> = if opts.auth.accounts.is_empty() {
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
    if shared.jetstream.set(js).is_err() {
        error!("JetStream was started twice");
    }
    Ok(())
}
