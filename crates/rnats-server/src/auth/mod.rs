//! Client authentication: checks the credentials a client sends in CONNECT
//! against the configured token, users (plain or bcrypt passwords) and
//! NKeys, and says which account and permissions the connection gets.
//!
//! The order of checks follows nats-server: an NKey if the client sent one,
//! then the users table, then the token, then the single user. Plain secrets
//! are compared in constant time; bcrypt runs on the blocking pool so it
//! never stalls other connections.
//!
//! **Owns**: who may log in and what they may do. [`Authenticator`] (this
//! file: users, NKeys, tokens, certificate mapping, `no_auth_user`), the
//! operator/JWT trust in `trust`, the bcrypt `login_cache`, the subject rules
//! in `permissions`. The server holds one `Authenticator` and swaps it whole
//! on a reload; nothing here changes one in place.
//! **May not touch**: sockets, the connection core's queues or any account's
//! index — a login is decided here and carried out by the client role
//! (`client::session`), which is told the [`Identity`]. (`trust` closes the
//! connections of revoked or expired JWT users through their `Client` handle.)

pub mod login_cache;
pub mod permissions;
pub mod trust;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use rnats_proto::messages::ConnectInfo;
use subtle::ConstantTimeEq;

use crate::accounts::{Account, AccountsPlan};
use crate::auth::login_cache::LoginCache;
use crate::auth::permissions::Permissions;
use crate::auth::trust::{JwtLogin, JwtRefusal, Trust};
use crate::connection::Client;
use crate::options::{
    AuthOptions, DEFAULT_AUTH_TIMEOUT, NkeyConfig, PermissionsConfig, UserConfig,
};
use crate::tls::TlsOptions;

/// A configured secret: compared in constant time, or checked with bcrypt.
#[derive(Clone)]
pub enum Secret {
    Plain(Box<[u8]>),
    Bcrypt(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Secret::Plain(_) => "Secret::Plain([REDACTED])",
            Secret::Bcrypt(_) => "Secret::Bcrypt([REDACTED])",
        })
    }
}

/// nats-server's test for a bcrypt hash: `$2a$`, `$2b$`, `$2x$` or `$2y$`
/// followed by a two-digit cost and `$`.
pub fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

impl Secret {
    pub fn new(configured: &str) -> Self {
        if is_bcrypt(configured) {
            Secret::Bcrypt(configured.to_string())
        } else {
            Secret::Plain(configured.as_bytes().into())
        }
    }

    pub fn is_plain(&self) -> bool {
        matches!(self, Secret::Plain(_))
    }

    /// Checks what a client presented. A hash sent for a plain secret is
    /// refused, and bcrypt runs off the I/O threads.
    pub async fn verify(&self, presented: &str) -> bool {
        match self {
            Secret::Plain(expected) => {
                !is_bcrypt(presented) && bool::from(expected.as_ref().ct_eq(presented.as_bytes()))
            }
            Secret::Bcrypt(hash) => {
                // At most one bcrypt per core at a time: a storm of logins
                // (wrong passwords above all, which are never cached) waits
                // its turn instead of filling the blocking pool.
                let Some(_turn) = bcrypt_turn().await else {
                    return false;
                };
                let (hash, presented) = (hash.clone(), presented.to_string());
                tokio::task::spawn_blocking(move || {
                    let running = BCRYPT_RUNNING.fetch_add(1, Ordering::Relaxed) + 1;
                    BCRYPT_PEAK.fetch_max(running, Ordering::Relaxed);
                    let ok = bcrypt::verify(presented, &hash).unwrap_or(false);
                    BCRYPT_RUNNING.fetch_sub(1, Ordering::Relaxed);
                    ok
                })
                .await
                .unwrap_or(false)
            }
        }
    }
}

/// The bcrypt checks of client logins running now, and the most that
/// ever ran at once (what the bound on them is tested by).
static BCRYPT_RUNNING: AtomicUsize = AtomicUsize::new(0);
static BCRYPT_PEAK: AtomicUsize = AtomicUsize::new(0);

/// Waits for a turn to run one bcrypt check (client and route logins
/// share them); None only if the turns were closed, which they never are.
pub(crate) async fn bcrypt_turn() -> Option<tokio::sync::SemaphorePermit<'static>> {
    bcrypt_turns().acquire().await.ok()
}

/// The bcrypt checks that may run at once: one per core.
fn bcrypt_turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// Who a connection turned out to be.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user name or NKey, for logs; None for token and anonymous logins.
    pub user: Option<String>,
    pub account: Arc<Account>,
    pub permissions: Option<Arc<Permissions>>,
    /// For a user JWT login: its limits, deadline and place in its account.
    pub jwt: Option<Arc<JwtLogin>>,
}

/// Why a login was refused: for the server log only. The client is always
/// told just `Authorization Violation`, as nats-server does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    NoCredentials,
    UnknownUser(String),
    WrongPassword(String),
    WrongToken,
    BadNkeySignature(String),
    UnknownNkey(String),
    /// A user JWT was refused (the reason says why).
    Jwt(JwtRefusal),
    /// Operator mode, and the client sent no user JWT.
    NoJwt,
}

impl AuthFailure {
    /// What the client is told: `Authorization Violation`, except for a
    /// full account (nats-server's own text for that).
    pub fn client_error(&self) -> &'static str {
        match self {
            AuthFailure::Jwt(JwtRefusal {
                client_error: Some(text),
                ..
            }) => text,
            _ => rnats_proto::errors::AUTHORIZATION_VIOLATION,
        }
    }
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFailure::NoCredentials => write!(f, "no credentials presented"),
            AuthFailure::UnknownUser(u) => write!(f, "User {u:?} not found"),
            AuthFailure::WrongPassword(u) => write!(f, "User {u:?} - wrong password"),
            AuthFailure::WrongToken => write!(f, "wrong token"),
            AuthFailure::BadNkeySignature(k) => {
                write!(f, "NKey {k:?} - signature verification failed")
            }
            AuthFailure::UnknownNkey(k) => write!(f, "NKey {k:?} not found"),
            AuthFailure::Jwt(refusal) => f.write_str(&refusal.reason),
            AuthFailure::NoJwt => write!(f, "no user JWT presented (operator mode)"),
        }
    }
}

struct UserEntry {
    secret: Secret,
    account: Arc<Account>,
    permissions: Option<Arc<Permissions>>,
}

struct NkeyEntry {
    account: Arc<Account>,
    permissions: Option<Arc<Permissions>>,
}

/// The configured ways to log in.
pub struct Authenticator {
    users: HashMap<String, UserEntry>,
    nkeys: HashMap<String, NkeyEntry>,
    token: Option<Secret>,
    single_user: Option<(String, Secret)>,
    no_auth_user: Option<String>,
    global: Arc<Account>,
    timeout: Duration,
    /// `tls { verify_and_map }`: the client certificate names the user.
    map_certificates: bool,
    /// Operator mode: users log in with JWTs.
    trust: Option<Arc<Trust>>,
    /// Successful bcrypt logins, unless turned off (`no_login_cache`).
    login_cache: Option<Arc<LoginCache>>,
}

impl Authenticator {
    /// Checks a presented secret; a bcrypt one through the login cache.
    async fn check(&self, secret: &Secret, presented: &str) -> bool {
        let (Secret::Bcrypt(hash), Some(cache)) = (secret, &self.login_cache) else {
            return secret.verify(presented).await;
        };
        if cache.contains(hash, presented) {
            return true;
        }
        let ok = secret.verify(presented).await;
        if ok {
            cache.insert(hash, presented);
        }
        ok
    }

    /// A reload's new rules keep the logins the old ones remembered (when
    /// both have the cache on). An entry is keyed by the stored bcrypt hash,
    /// so a rotated password or a removed user never matches one again;
    /// keeping them spares every connected bcrypt client a full bcrypt
    /// check when the reload re-checks its login.
    pub fn keep_login_cache_of(mut self, old: &Authenticator) -> Self {
        if let (Some(_), Some(cache)) = (&self.login_cache, &old.login_cache) {
            self.login_cache = Some(cache.clone());
        }
        self
    }

    /// Logins remembered by the bcrypt login cache (0 when it is off).
    pub fn cached_logins(&self) -> usize {
        self.login_cache.as_ref().map_or(0, |c| c.len())
    }

    /// Builds the login tables, in operator mode when `trust` is given.
    /// Configuration conflicts are reported by the config loader; here the
    /// options are taken as valid.
    pub fn new(
        opts: &AuthOptions,
        accounts: &AccountsPlan,
        tls: Option<&TlsOptions>,
        trust: Option<Arc<Trust>>,
    ) -> Self {
        let default_permissions = opts
            .default_permissions
            .as_ref()
            .map(|p| Arc::new(Permissions::from_config(p)));
        let permissions = |p: &Option<PermissionsConfig>| match p {
            Some(p) => Some(Arc::new(Permissions::from_config(p))),
            None => default_permissions.clone(),
        };
        let mut users = HashMap::new();
        let mut nkeys = HashMap::new();
        let mut add = |account: &Arc<Account>, us: &[UserConfig], ks: &[NkeyConfig]| {
            for u in us {
                users.insert(
                    u.user.clone(),
                    UserEntry {
                        secret: Secret::new(&u.password),
                        account: account.clone(),
                        permissions: permissions(&u.permissions),
                    },
                );
            }
            for k in ks {
                nkeys.insert(
                    k.nkey.clone(),
                    NkeyEntry {
                        account: account.clone(),
                        permissions: permissions(&k.permissions),
                    },
                );
            }
        };
        add(accounts.global(), &opts.users, &opts.nkeys);
        for a in &opts.accounts {
            if let Some(account) = accounts.get(&a.name) {
                add(account, &a.users, &a.nkeys);
            }
        }
        let single_user = match (&opts.username, &opts.password) {
            (Some(u), p) => Some((u.clone(), Secret::new(p.as_deref().unwrap_or("")))),
            _ => None,
        };
        Authenticator {
            users,
            nkeys,
            token: opts.token.as_deref().map(Secret::new),
            single_user,
            no_auth_user: opts.no_auth_user.clone(),
            global: accounts.global().clone(),
            // As nats-server: with TLS, a client has the TLS timeout plus a
            // second to authenticate, unless configured otherwise.
            timeout: opts.timeout.unwrap_or(match tls {
                Some(tls) => tls.timeout() + Duration::from_secs(1),
                None => DEFAULT_AUTH_TIMEOUT,
            }),
            map_certificates: tls.is_some_and(|t| t.verify_and_map),
            login_cache: (!opts.no_login_cache).then(|| Arc::new(LoginCache::new())),
            trust,
        }
    }

    /// The trusted operators and their accounts, in operator mode.
    pub fn trust(&self) -> Option<&Arc<Trust>> {
        self.trust.as_ref()
    }

    /// Whether clients must present credentials (INFO's `auth_required`).
    pub fn required(&self) -> bool {
        self.map_certificates
            || self.trust.is_some()
            || !self.users.is_empty()
            || !self.nkeys.is_empty()
            || self.token.is_some()
            || self.single_user.is_some()
    }

    /// Whether INFO must carry a nonce for NKey signatures.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty() || self.trust.is_some()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// An identity for a server without authentication.
    pub fn anonymous(&self) -> Identity {
        Identity {
            user: None,
            account: self.global.clone(),
            permissions: None,
            jwt: None,
        }
    }

    /// Checks the CONNECT of `client`: a user JWT in operator mode, else as
    /// [`Authenticator::authenticate`].
    pub async fn authenticate_client(
        &self,
        connect: &ConnectInfo,
        client: &Arc<Client>,
        cert_identities: &[String],
    ) -> Result<Identity, AuthFailure> {
        if let Some(trust) = &self.trust
            && (connect.jwt.is_some() || (self.users.is_empty() && self.nkeys.is_empty()))
        {
            if connect.jwt.as_deref().is_none_or(str::is_empty) {
                return Err(AuthFailure::NoJwt);
            }
            let (login, permissions) = trust.login(connect, client).map_err(AuthFailure::Jwt)?;
            return Ok(Identity {
                user: Some(login.user.clone()),
                account: login.account.account.clone(),
                permissions: permissions.map(|p| Arc::new(Permissions::from_config(&p))),
                jwt: Some(Arc::new(login)),
            });
        }
        self.authenticate(connect, client.nonce.as_deref(), cert_identities)
            .await
    }

    /// Checks a client's CONNECT. `nonce` is what its INFO carried;
    /// `cert_identities` what its TLS certificate names (for
    /// `verify_and_map`: the first that is a configured user logs in, no
    /// password needed, as on nats-server).
    pub async fn authenticate(
        &self,
        connect: &ConnectInfo,
        nonce: Option<&str>,
        cert_identities: &[String],
    ) -> Result<Identity, AuthFailure> {
        if !self.required() {
            return Ok(self.anonymous());
        }
        if self.map_certificates {
            return cert_identities
                .iter()
                .find_map(|name| self.user_identity(name))
                .ok_or_else(|| {
                    AuthFailure::UnknownUser(cert_identities.last().cloned().unwrap_or_default())
                });
        }
        if let Some(key) = connect.nkey.as_deref().filter(|_| !self.nkeys.is_empty()) {
            return self.nkey_login(key, connect.sig.as_deref(), nonce);
        }
        if !self.users.is_empty() {
            let presented = connect.user.as_deref().filter(|u| !u.is_empty());
            let name = match (presented, &self.no_auth_user) {
                (Some(name), _) => name,
                (None, Some(default)) if connect.pass.is_none() && connect.auth_token.is_none() => {
                    return self
                        .user_identity(default)
                        .ok_or(AuthFailure::UnknownUser(default.clone()));
                }
                _ => return Err(AuthFailure::NoCredentials),
            };
            let entry = self
                .users
                .get(name)
                .ok_or_else(|| AuthFailure::UnknownUser(name.to_string()))?;
            if !self
                .check(&entry.secret, connect.pass.as_deref().unwrap_or(""))
                .await
            {
                return Err(AuthFailure::WrongPassword(name.to_string()));
            }
            return Ok(Identity {
                user: Some(name.to_string()),
                account: entry.account.clone(),
                permissions: entry.permissions.clone(),
                jwt: None,
            });
        }
        if let Some(token) = &self.token {
            let presented = connect
                .auth_token
                .as_deref()
                .ok_or(AuthFailure::NoCredentials)?;
            return if self.check(token, presented).await {
                Ok(self.anonymous())
            } else {
                Err(AuthFailure::WrongToken)
            };
        }
        if let Some((user, secret)) = &self.single_user {
            let presented = connect.user.as_deref().ok_or(AuthFailure::NoCredentials)?;
            // Compare the name in constant time too: it is half the secret.
            let name_ok = bool::from(user.as_bytes().ct_eq(presented.as_bytes()));
            let pass_ok = self
                .check(secret, connect.pass.as_deref().unwrap_or(""))
                .await;
            return if name_ok && pass_ok {
                Ok(Identity {
                    user: Some(user.clone()),
                    account: self.global.clone(),
                    permissions: None,
                    jwt: None,
                })
            } else {
                Err(AuthFailure::WrongPassword(presented.to_string()))
            };
        }
        Err(AuthFailure::NoCredentials)
    }

    /// The account a user name or NKey logs in to, if it is configured
    /// (the single user and `verify_and_map` names count).
    pub fn account_of(&self, name: &str) -> Option<Arc<Account>> {
        if let Some(entry) = self.users.get(name) {
            return Some(entry.account.clone());
        }
        if let Some(entry) = self.nkeys.get(name) {
            return Some(entry.account.clone());
        }
        match &self.single_user {
            Some((user, _)) if user == name => Some(self.global.clone()),
            _ => None,
        }
    }

    fn user_identity(&self, name: &str) -> Option<Identity> {
        let entry = self.users.get(name)?;
        Some(Identity {
            user: Some(name.to_string()),
            account: entry.account.clone(),
            permissions: entry.permissions.clone(),
            jwt: None,
        })
    }

    fn nkey_login(
        &self,
        key: &str,
        sig: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<Identity, AuthFailure> {
        let entry = self
            .nkeys
            .get(key)
            .ok_or_else(|| AuthFailure::UnknownNkey(key.to_string()))?;
        let bad = || AuthFailure::BadNkeySignature(key.to_string());
        let (sig, nonce) = (sig.ok_or_else(bad)?, nonce.ok_or_else(bad)?);
        let sig = decode_signature(sig).ok_or_else(bad)?;
        let public = nkeys::KeyPair::from_public_key(key).map_err(|_| bad())?;
        public.verify(nonce.as_bytes(), &sig).map_err(|_| bad())?;
        Ok(Identity {
            user: Some(key.to_string()),
            account: entry.account.clone(),
            permissions: entry.permissions.clone(),
            jwt: None,
        })
    }
}

/// Clients send the nonce signature in URL-safe base64 without padding;
/// some send standard base64. Accept both, as nats-server does.
pub(crate) fn decode_signature(sig: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD
        .decode(sig)
        .or_else(|_| STANDARD.decode(sig))
        .ok()
}

/// A fresh nonce for a client's INFO: random bytes, URL-safe base64.
pub fn new_nonce() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes: [u8; 11] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_hashes_are_recognised_like_nats_server() {
        assert!(is_bcrypt(
            "$2a$11$1oJy/wZYNTxr9jNwMNwS3eUGhBpHT3On8CL9o7ey89mpgo88VG6ba"
        ));
        assert!(is_bcrypt("$2y$04$x"));
        assert!(!is_bcrypt("$2c$11$x"));
        assert!(!is_bcrypt("$2a$1$x"));
        assert!(!is_bcrypt("password"));
    }

    #[tokio::test]
    async fn plain_and_hashed_secrets() {
        let plain = Secret::new("T0pS3cr3t");
        assert!(plain.verify("T0pS3cr3t").await);
        assert!(!plain.verify("T0pS3cr3").await);
        let hash = bcrypt::hash("password", 4).unwrap();
        let hashed = Secret::new(&hash);
        assert!(hashed.verify("password").await);
        assert!(
            !hashed.verify(&hash).await,
            "the hash itself is not the password"
        );
        assert!(!Secret::new(&hash).is_plain());
        assert!(!Secret::new("x").verify(&hash).await);
    }

    /// Issue 13, item 9: bcrypt checks run at most one per core at a
    /// time, however many logins ask at once (so a storm of them cannot
    /// fill the blocking pool); each runs when its turn comes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bcrypt_checks_run_at_most_one_per_core_at_a_time() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Cost 8: long enough that checks started together overlap.
        let hash = bcrypt::hash("password", 8).unwrap();
        let checks: Vec<_> = (0..cores * 4)
            .map(|i| {
                let secret = Secret::new(&hash);
                let presented = if i % 2 == 0 { "password" } else { "wrong" };
                tokio::spawn(async move { secret.verify(presented).await })
            })
            .collect();
        for (i, check) in checks.into_iter().enumerate() {
            assert_eq!(check.await.unwrap(), i % 2 == 0);
        }
        let peak = BCRYPT_PEAK.load(Ordering::Relaxed);
        assert!(
            (1..=cores).contains(&peak),
            "{peak} bcrypt checks ran at once on {cores} cores"
        );
    }

    #[test]
    fn secrets_never_print() {
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
    }
}
