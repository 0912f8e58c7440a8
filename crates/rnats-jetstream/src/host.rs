//! What JetStream needs of the server it runs in, and nothing more: find an
//! account by name, subscribe and publish in it. The server implements
//! [`Host`] over its internal-client API (`rnats_server::system`), so JetStream
//! reaches clients the way any service does, by subjects, and the server
//! knows JetStream only through [`crate::JetStream`]'s public methods.
//!
//! **Owns**: the shape of that boundary. **May not touch**: anything else.

use std::future::Future;

use bytes::Bytes;

/// A message in or out of JetStream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Msg {
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    /// The header block (`NATS/1.0\r\n...\r\n\r\n`), if any.
    pub headers: Option<Bytes>,
    pub payload: Bytes,
    /// Who published it, as the host knows them ([`Host::client_info`]);
    /// 0 when unknown or when JetStream publishes.
    pub publisher: u64,
}

impl Msg {
    pub fn new(subject: impl Into<Bytes>, payload: impl Into<Bytes>) -> Self {
        Msg {
            subject: subject.into(),
            payload: payload.into(),
            ..Msg::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

/// The server, as JetStream sees it.
pub trait Host: Send + Sync + 'static {
    /// An account: a handle that stays valid while the server runs.
    type Account: Clone + Send + Sync + 'static;
    type Subscription: Subscription;

    fn account(&self, name: &str) -> Option<Self::Account>;

    /// Subscribes in `account`; `queue` puts the subscription in a queue
    /// group. Messages waiting past `pending` are dropped by the server.
    fn subscribe(
        &self,
        account: &Self::Account,
        subject: &str,
        queue: Option<&str>,
        pending: usize,
    ) -> Result<Self::Subscription, HostError>;

    /// Publishes in `account` as a client would.
    fn publish(&self, account: &Self::Account, msg: Msg) -> Result<(), HostError>;

    /// Whether anyone in `account` would receive a message on `subject`
    /// (so that advisories nobody hears are not even built).
    fn has_interest(&self, _account: &Self::Account, _subject: &str) -> bool {
        true
    }

    /// The connection that published a message ([`Msg::publisher`]), as
    /// nats-server's `ClientInfo` JSON, for audit advisories.
    fn client_info(&self, _publisher: u64) -> Option<serde_json::Value> {
        None
    }
}

/// One subscription; dropping it unsubscribes.
pub trait Subscription: Send + 'static {
    /// The next message; None once the subscription ended.
    fn recv(&mut self) -> impl Future<Output = Option<Msg>> + Send;
    /// The next message, if one is waiting.
    fn try_recv(&mut self) -> Option<Msg>;
}
