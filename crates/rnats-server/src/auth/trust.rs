//! Decentralized authentication: trusted operators, the account JWTs they
//! signed (from `resolver_preload` or a resolver directory), and the login
//! of users who present a user JWT signed by one of those accounts.
//!
//! The chain is checked as nats-server checks it: an account JWT must be
//! signed by a trusted operator or one of its signing keys; a user JWT by
//! its account or one of the account's signing keys (then `issuer_account`
//! names the account); the client proves it holds the user's key by signing
//! the nonce of its INFO, unless the user JWT is a bearer token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rnats_jwt::{
    AccountClaims, ExportType, NO_LIMIT, OperatorClaims, Permission, SigningKey,
    UserPermissionLimits,
};
use rnats_proto::messages::ConnectInfo;
use tracing::{info, warn};

use crate::accounts::{Account, Accounts};
use crate::connection::{Client, CloseReason};
use crate::options::{
    AccountConfig, DEFAULT_ALLOW_RESPONSE_EXPIRATION, ExportConfig, ExportKind, ImportConfig,
    PermissionsConfig, ResolverOptions, ResponsePermissionConfig, ResponseType, SubjectRuleConfig,
    TrustOptions,
};
use crate::sync::{lock, read_lock, write_lock};

/// What the client is told when its JWT expires while it is connected.
pub const USER_AUTHENTICATION_EXPIRED: &str = "User Authentication Expired";
pub const ACCOUNT_AUTHENTICATION_EXPIRED: &str = "Account Authentication Expired";
pub const USER_AUTHENTICATION_REVOKED: &str = "User Authentication Revoked";
pub const MAX_ACCOUNT_CONNECTIONS: &str = "maximum account active connections exceeded";

/// An account known from its JWT.
pub struct JwtAccount {
    /// Its public key (also its name in [`Accounts`]).
    pub key: String,
    pub account: Arc<Account>,
    claims: RwLock<Arc<AccountClaims>>,
    /// Connected users, by client id.
    live: Mutex<HashMap<u64, LiveUser>>,
    /// The account's expiry timer, for the `exp` it was set for: one per
    /// account, as nats-server keeps it, set again when an update changes
    /// `exp` (see [`JwtAccount::schedule_expiry`]).
    expiry: Mutex<Option<(i64, tokio::task::AbortHandle)>>,
}

struct LiveUser {
    /// Which login of the client this is (a client may log in again).
    login: u64,
    user: String,
    issued_at: i64,
    /// Who signed the user JWT: the account, or one of its signing keys.
    issuer: String,
    client: Weak<Client>,
}

impl std::fmt::Debug for JwtAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAccount")
            .field("key", &self.key)
            .finish()
    }
}

impl JwtAccount {
    fn new(account: Arc<Account>, claims: AccountClaims) -> Arc<Self> {
        account.set_mappings(crate::accounts::mapping::from_jwt(
            &claims.subject,
            &claims.nats.mappings,
        ));
        Arc::new(JwtAccount {
            key: claims.subject.clone(),
            account,
            claims: RwLock::new(Arc::new(claims)),
            live: Mutex::new(HashMap::new()),
            expiry: Mutex::new(None),
        })
    }

    /// Sets the account's expiry timer for its current `exp`, unless it
    /// is set for it already: an update with an earlier `exp` brings the
    /// end of its users forward, a later one (or none) puts it off, as on
    /// nats-server. When it fires, every user connected is closed with
    /// `Account Authentication Expired`. Needs a runtime (it is called at
    /// logins and updates, which run on one).
    fn schedule_expiry(self: &Arc<Self>) {
        let expires = self.claims().expires;
        let mut timer = lock(&self.expiry);
        if timer.as_ref().is_some_and(|(at, _)| *at == expires) {
            return;
        }
        if let Some((_, old)) = timer.take() {
            old.abort();
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if expires <= 0 {
            return;
        }
        let at = UNIX_EPOCH + Duration::from_secs(expires.unsigned_abs());
        let left = at
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let account = Arc::downgrade(self);
        let task = runtime.spawn(async move {
            tokio::time::sleep(left).await;
            if let Some(account) = account.upgrade() {
                account.expired();
            }
        });
        *timer = Some((expires, task.abort_handle()));
    }

    /// The account's `exp` has passed: every user connected goes.
    fn expired(&self) {
        let users: Vec<Arc<Client>> = lock(&self.live)
            .values()
            .filter_map(|u| u.client.upgrade())
            .collect();
        for client in users {
            // nats-server logs this at debug level too.
            tracing::debug!("{} - {}", client.tag, ACCOUNT_AUTHENTICATION_EXPIRED);
            client.err_and_close(
                ACCOUNT_AUTHENTICATION_EXPIRED,
                CloseReason::AuthenticationViolation,
            );
        }
    }

    pub fn claims(&self) -> Arc<AccountClaims> {
        read_lock(&self.claims).clone()
    }

    /// Users connected now.
    pub fn connections(&self) -> usize {
        lock(&self.live).len()
    }
}

/// A logged-in JWT user's place in its account; dropping it (when the
/// connection ends or logs in again) frees the place.
#[derive(Debug)]
pub struct Registration {
    account: Arc<JwtAccount>,
    client_id: u64,
    login: u64,
}

impl Drop for JwtAccount {
    fn drop(&mut self) {
        if let Some((_, timer)) = lock(&self.expiry).take() {
            timer.abort();
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut live = lock(&self.account.live);
        if live
            .get(&self.client_id)
            .is_some_and(|u| u.login == self.login)
        {
            live.remove(&self.client_id);
        }
    }
}

static NEXT_LOGIN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What a JWT login grants beyond an account and permissions.
#[derive(Debug)]
pub struct JwtLogin {
    pub user: String,
    pub account: Arc<JwtAccount>,
    /// When the connection must end, and the `-ERR` it is told then.
    pub deadline: Option<(SystemTime, &'static str)>,
    /// Subscriptions the connection may hold; None = no limit.
    pub max_subs: Option<usize>,
    /// Largest payload it may publish; None = the server's.
    pub max_payload: Option<usize>,
    pub registration: Registration,
}

/// Why a JWT login was refused (for the log; the client hears
/// `Authorization Violation` unless [`JwtRefusal::client_error`] says else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRefusal {
    pub reason: String,
    pub client_error: Option<&'static str>,
}

fn refuse(reason: impl Into<String>) -> JwtRefusal {
    JwtRefusal {
        reason: reason.into(),
        client_error: None,
    }
}

/// Who is told of account claims that arrive at run time.
pub type ClaimsHook = Box<dyn Fn(&AccountClaims) + Send + Sync>;

/// Trusted operators and the accounts they vouch for.
pub struct Trust {
    operators: Vec<OperatorClaims>,
    pub system_account: Option<String>,
    dir: Option<PathBuf>,
    /// Accounts read at start, before [`Trust::attach`] gives them their
    /// [`Account`] objects.
    initial: Vec<AccountClaims>,
    accounts: RwLock<HashMap<String, Arc<JwtAccount>>>,
    /// The account JWTs in force, as signed, by account key (`/accountz`
    /// shows them).
    tokens: RwLock<HashMap<String, Arc<str>>>,
    /// Told of each account whose claims arrive at run time (fetched or
    /// pushed): how the server wires imports and exports again, and how
    /// JetStream learns of accounts it is enabled in.
    on_claims: RwLock<Vec<ClaimsHook>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("operators", &self.operators.len())
            .finish()
    }
}

/// Seconds since the epoch.
pub fn now_unix() -> i64 {
    rnats_jwt::now_unix()
}

impl Trust {
    /// Decodes the operators and the account JWTs known at start. A bad
    /// operator or preloaded account is an error; a bad file in the
    /// resolver directory is logged and skipped.
    pub fn load(opts: &TrustOptions) -> Result<Trust, String> {
        let mut operators = Vec::new();
        for jwt in &opts.operators {
            let op = rnats_jwt::decode_operator(&rnats_jwt::parse_decorated_jwt(jwt))
                .map_err(|e| format!("invalid operator JWT: {e}"))?;
            operators.push(op);
        }
        let system_account = opts.system_account.clone().or_else(|| {
            operators
                .iter()
                .map(|o| o.nats.system_account.clone())
                .find(|s| !s.is_empty())
        });
        let dir = match &opts.resolver {
            ResolverOptions::Memory => None,
            ResolverOptions::Dir { dir, .. } => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("resolver directory {}: {e}", dir.display()))?;
                Some(dir.clone())
            }
        };
        let mut trust = Trust {
            operators,
            system_account,
            dir,
            initial: Vec::new(),
            accounts: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
            on_claims: RwLock::new(Vec::new()),
        };
        let mut by_key: HashMap<String, (AccountClaims, String)> = HashMap::new();
        for (key, jwt) in &opts.preload {
            let claims = trust
                .verify_account(jwt, Some(key))
                .map_err(|e| format!("resolver_preload {key}: {e}"))?;
            by_key.insert(key.clone(), (claims, jwt.trim().to_string()));
        }
        if let Some(dir) = &trust.dir {
            for (key, claims, jwt) in read_dir_accounts(&trust, dir) {
                // The newer of a preloaded and a stored JWT wins.
                match by_key.get(&key) {
                    Some((existing, _)) if existing.issued_at >= claims.issued_at => {}
                    _ => {
                        by_key.insert(key, (claims, jwt));
                    }
                }
            }
        }
        let mut initial = Vec::new();
        for (key, (claims, jwt)) in by_key {
            trust.remember(&key, &jwt);
            initial.push(claims);
        }
        initial.sort_by(|a, b| a.subject.cmp(&b.subject));
        trust.initial = initial;
        Ok(trust)
    }

    /// Logs the trusted operators as nats-server does at start.
    pub fn log_start(&self) {
        info!("Trusted Operators");
        for op in &self.operators {
            let date = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S %z UTC").to_string())
                    .unwrap_or_default()
            };
            info!("  System  : {:?}", op.audience);
            info!("  Operator: {:?}", op.name);
            info!("  Issued  : {}", date(op.issued_at));
            if op.expires == 0 {
                info!("  Expires : Never");
            } else {
                info!("  Expires : {}", date(op.expires));
            }
        }
        if self.system_account.is_none() {
            warn!("Trusted Operators should utilize a System Account");
        }
    }

    /// The system account, when one is configured and its JWT is known.
    pub fn system_account(&self) -> Option<Arc<JwtAccount>> {
        self.system_account.as_deref().and_then(|k| self.lookup(k))
    }

    /// Is `issuer` a trusted operator or one of their signing keys?
    fn trusted_issuer(&self, issuer: &str) -> bool {
        self.operators.iter().any(|o| o.did_sign(issuer))
    }

    /// Decodes an account JWT and checks it is signed by a trusted
    /// operator (and, when `key` is given, that it is about that account).
    pub fn verify_account(&self, jwt: &str, key: Option<&str>) -> Result<AccountClaims, String> {
        let claims = rnats_jwt::decode_account(jwt.trim()).map_err(|e| e.to_string())?;
        if let Some(key) = key
            && claims.subject != key
        {
            return Err(format!(
                "account JWT is about {:?}, not {key:?}",
                claims.subject
            ));
        }
        if !self.trusted_issuer(&claims.issuer) {
            return Err(format!(
                "account JWT issuer {:?} is not a trusted operator or signing key",
                claims.issuer
            ));
        }
        Ok(claims)
    }

    /// The accounts known at start, as account configs whose imports and
    /// exports [`Accounts::new`] wires. Imports that no export allows are
    /// left out with a warning, as nats-server skips them.
    pub fn account_configs(&self) -> Vec<AccountConfig> {
        // Before `attach`, the accounts read at start; after, those known now.
        let known: Vec<AccountClaims> = if self.initial.is_empty() {
            let mut known: Vec<_> = self.known_claims().iter().map(|c| (**c).clone()).collect();
            known.sort_by(|a, b| a.subject.cmp(&b.subject));
            known
        } else {
            self.initial.clone()
        };
        let keys: HashMap<&str, &AccountClaims> =
            known.iter().map(|c| (c.subject.as_str(), c)).collect();
        known
            .iter()
            .map(|c| {
                let exports = c
                    .nats
                    .exports
                    .iter()
                    .filter(|e| !e.token_req)
                    .map(|e| ExportConfig {
                        response: ResponseType::from_jwt(&e.response_type).unwrap_or_else(|| {
                            warn!(
                                "Account {} export {:?}: unknown response type {:?}, taken as a singleton",
                                c.subject, e.subject, e.response_type
                            );
                            ResponseType::Singleton
                        }),
                        account_token_position: (e.account_token_position > 0)
                            .then_some(e.account_token_position as usize),
                        ..ExportConfig::new(kind(e.kind), e.subject.clone())
                    })
                    .collect();
                let imports = c
                    .nats
                    .imports
                    .iter()
                    .filter_map(|i| {
                        let import = import_config(i);
                        let exported = keys.get(i.account.as_str()).is_some_and(|exporter| {
                            exporter.nats.exports.iter().any(|e| {
                                !e.token_req
                                    && kind(e.kind) == import.kind
                                    && rnats_proto::subject::is_subset(
                                        import.subject.as_bytes(),
                                        e.subject.as_bytes(),
                                    )
                            })
                        });
                        if !exported {
                            warn!(
                                "Account {} import of {:?} from {} skipped: not exported to it (activation tokens are not supported)",
                                c.subject, i.subject, i.account
                            );
                        }
                        exported.then_some(import)
                    })
                    .collect();
                AccountConfig {
                    name: c.subject.clone(),
                    exports,
                    imports,
                    jetstream: crate::jetstream::limits_from_jwt(&c.nats.limits),
                    ..AccountConfig::default()
                }
            })
            .collect()
    }

    /// Binds the accounts read at start to their [`Account`] objects.
    pub fn attach(&mut self, accounts: &Accounts) {
        let mut map = write_lock(&self.accounts);
        for claims in std::mem::take(&mut self.initial) {
            let account = accounts
                .get(&claims.subject)
                .unwrap_or_else(|| Account::new(claims.subject.as_str()));
            map.insert(claims.subject.clone(), JwtAccount::new(account, claims));
        }
    }

    /// The account with this public key: known already, or read from the
    /// resolver directory.
    pub fn lookup(&self, key: &str) -> Option<Arc<JwtAccount>> {
        if let Some(a) = read_lock(&self.accounts).get(key) {
            return Some(a.clone());
        }
        let dir = self.dir.as_ref()?;
        if !rnats_jwt::is_public_key_of(key, rnats_jwt::nkeys::KeyPairType::Account) {
            return None;
        }
        let jwt = std::fs::read_to_string(dir.join(format!("{key}.jwt"))).ok()?;
        match self.verify_account(&jwt, Some(key)) {
            Ok(claims) => {
                self.remember(key, &jwt);
                Some(self.install(claims))
            }
            Err(e) => {
                warn!("Account {key} in the resolver directory is not valid: {e}");
                None
            }
        }
    }

    fn install(&self, claims: AccountClaims) -> Arc<JwtAccount> {
        let mut map = write_lock(&self.accounts);
        let mut added = None;
        let account = map
            .entry(claims.subject.clone())
            .or_insert_with(|| {
                added = Some(claims.clone());
                JwtAccount::new(Account::new(claims.subject.as_str()), claims)
            })
            .clone();
        drop(map);
        if let Some(claims) = added {
            self.tell(&claims);
        }
        account
    }

    /// Keeps the JWT in force for `key`, as signed.
    fn remember(&self, key: &str, jwt: &str) {
        write_lock(&self.tokens).insert(key.to_string(), Arc::from(jwt.trim()));
    }

    /// The account JWT in force for `key`, as signed.
    pub fn jwt_of(&self, key: &str) -> Option<Arc<str>> {
        read_lock(&self.tokens).get(key).cloned()
    }

    /// The account `key`, if it is known already (no resolver lookup).
    pub fn known(&self, key: &str) -> Option<Arc<JwtAccount>> {
        read_lock(&self.accounts).get(key).cloned()
    }

    /// The [`Account`] of every account JWT known now.
    pub fn known_accounts(&self) -> Vec<Arc<Account>> {
        read_lock(&self.accounts)
            .values()
            .map(|a| a.account.clone())
            .collect()
    }

    /// The claims of every account known now.
    pub fn known_claims(&self) -> Vec<Arc<AccountClaims>> {
        read_lock(&self.accounts)
            .values()
            .map(|a| a.claims())
            .collect()
    }

    /// Adds one to those told of account claims arriving at run time.
    pub fn on_claims(&self, hook: ClaimsHook) {
        write_lock(&self.on_claims).push(hook);
    }

    /// Tells every hook of claims that arrived, in the order they were set.
    fn tell(&self, claims: &AccountClaims) {
        for hook in read_lock(&self.on_claims).iter() {
            hook(claims);
        }
    }

    /// An account JWT pushed at run time (`$SYS.REQ.CLAIMS.UPDATE`): checked,
    /// stored in the resolver directory if there is one, and applied.
    /// Users it revokes are disconnected. Returns the account's key.
    pub fn update(&self, jwt: &str) -> Result<String, String> {
        let claims = self.verify_account(jwt, None)?;
        let key = claims.subject.clone();
        let existing = read_lock(&self.accounts).get(&key).cloned();
        if let Some(existing) = &existing
            && existing.claims().issued_at > claims.issued_at
        {
            return Err("jwt is older than the one already stored".into());
        }
        if let Some(dir) = &self.dir {
            store(dir, &key, jwt.trim()).map_err(|e| format!("could not store the JWT: {e}"))?;
        }
        self.remember(&key, jwt);
        match existing {
            Some(account) => {
                account
                    .account
                    .set_mappings(crate::accounts::mapping::from_jwt(
                        &claims.subject,
                        &claims.nats.mappings,
                    ));
                *write_lock(&account.claims) = Arc::new(claims.clone());
                self.enforce(&account);
                account.schedule_expiry();
                self.tell(&claims);
            }
            None => {
                self.install(claims);
            }
        }
        tracing::debug!("Updating account claims: {key}");
        Ok(key)
    }

    /// After an update: disconnects users the account now revokes.
    /// After an update: the account's users are checked against its new
    /// claims, as at login. Revoked users, and users signed by a key the
    /// account no longer lists, are closed as revoked; all of them if the
    /// account has expired; and past a lowered connection limit, the
    /// newest logins over it.
    fn enforce(&self, account: &JwtAccount) {
        let claims = account.claims();
        let expired = claims.is_expired_at(now_unix());
        let mut closing: Vec<(Arc<Client>, &'static str)> = Vec::new();
        let mut staying: Vec<(u64, Arc<Client>)> = Vec::new();
        for u in lock(&account.live).values() {
            let Some(client) = u.client.upgrade() else {
                continue;
            };
            let signer_gone = u.issuer != account.key && claims.signing_key(&u.issuer).is_none();
            if expired {
                closing.push((client, ACCOUNT_AUTHENTICATION_EXPIRED));
            } else if signer_gone || claims.is_revoked(&u.user, u.issued_at) {
                closing.push((client, USER_AUTHENTICATION_REVOKED));
            } else {
                staying.push((u.login, client));
            }
        }
        let max = claims.nats.limits.conn;
        if max != NO_LIMIT && staying.len() as i64 > max {
            staying.sort_by_key(|(login, _)| std::cmp::Reverse(*login));
            let over = staying.len() - usize::try_from(max.max(0)).unwrap_or(0);
            for (_, client) in staying.drain(..over) {
                closing.push((client, MAX_ACCOUNT_CONNECTIONS));
            }
        }
        for (client, text) in closing {
            tracing::debug!("{} - {}", client.tag, text);
            let reason = if text == MAX_ACCOUNT_CONNECTIONS {
                CloseReason::MaxAccountConnectionsExceeded
            } else {
                CloseReason::AuthenticationViolation
            };
            client.err_and_close(text, reason);
        }
    }

    /// Another server of the cluster told how many of the account's users
    /// it holds: if the cluster now holds more than the account's limit
    /// (logins that raced on different servers), the newest logins here
    /// are closed until it fits. As nats-server, every server does this
    /// on its own, so together they may close more than needed; those
    /// clients reconnect.
    pub fn rebalance(&self, key: &str) {
        let Some(account) = read_lock(&self.accounts).get(key).cloned() else {
            return;
        };
        let max = account.claims().nats.limits.conn;
        if max == NO_LIMIT {
            return;
        }
        let allowed = usize::try_from(max.max(0))
            .unwrap_or(0)
            .saturating_sub(account.account.remote_connection_count());
        let mut here: Vec<(u64, Arc<Client>)> = lock(&account.live)
            .values()
            .filter_map(|u| Some((u.login, u.client.upgrade()?)))
            .collect();
        if here.len() <= allowed {
            return;
        }
        here.sort_by_key(|(login, _)| std::cmp::Reverse(*login));
        let over = here.len() - allowed;
        for (_, client) in here.drain(..over) {
            tracing::debug!("{} - {}", client.tag, MAX_ACCOUNT_CONNECTIONS);
            client.err_and_close(
                MAX_ACCOUNT_CONNECTIONS,
                CloseReason::MaxAccountConnectionsExceeded,
            );
        }
    }

    /// Checks a CONNECT that carries a user JWT.
    pub fn login(
        &self,
        connect: &ConnectInfo,
        client: &Arc<Client>,
    ) -> Result<(JwtLogin, Option<PermissionsConfig>), JwtRefusal> {
        let token = connect.jwt.as_deref().unwrap_or_default();
        let user = rnats_jwt::decode_user(token).map_err(|e| refuse(format!("user JWT: {e}")))?;
        let now = now_unix();
        let who = &user.subject;
        if user.is_expired_at(now) {
            return Err(refuse(format!("User JWT of {who} has expired")));
        }
        if user.is_not_yet_valid_at(now) {
            return Err(refuse(format!("User JWT of {who} is not valid yet")));
        }
        let account_key = user.account().to_string();
        let account = self
            .lookup(&account_key)
            .ok_or_else(|| refuse(format!("Account {account_key} of user {who} is not known")))?;
        let claims = account.claims();
        if claims.is_expired_at(now) {
            return Err(refuse(format!("Account {account_key} has expired")));
        }
        // Who signed the user: the account, or one of its signing keys.
        let scope = if user.issuer == account_key {
            None
        } else {
            match claims.signing_key(&user.issuer) {
                Some(SigningKey::Scoped(scope)) => Some(&scope.template),
                Some(SigningKey::Plain(_)) => None,
                None => {
                    return Err(refuse(format!(
                        "User JWT issuer {} is not a signing key of account {account_key}",
                        user.issuer
                    )));
                }
            }
        };
        if claims.is_revoked(who, user.issued_at) {
            return Err(refuse(format!("User {who} has been revoked")));
        }
        let limits: &UserPermissionLimits = scope.unwrap_or(&user.nats.limits);
        if limits.bearer_token {
            if claims.nats.limits.disallow_bearer {
                return Err(refuse(format!(
                    "User {who} has a bearer token, which account {account_key} disallows"
                )));
            }
        } else {
            verify_nonce(who, connect.sig.as_deref(), client.nonce.as_deref())
                .map_err(|e| refuse(format!("User {who}: {e}")))?;
        }
        if !limits.allowed_connection_types.is_empty()
            && !limits
                .allowed_connection_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case("STANDARD"))
        {
            return Err(refuse(format!(
                "User {who} may not connect as a standard client (allowed: {:?})",
                limits.allowed_connection_types
            )));
        }
        if !limits.src.is_empty()
            && !limits
                .src
                .iter()
                .any(|c| cidr_contains(c, client.addr.ip()))
        {
            return Err(refuse(format!(
                "User {who} may not connect from {}",
                client.addr.ip()
            )));
        }
        let mut deadline: Option<(SystemTime, &'static str)> = None;
        let mut until = |t: SystemTime, why: &'static str| {
            if deadline.is_none_or(|(d, _)| t < d) {
                deadline = Some((t, why));
            }
        };
        let at = |secs: i64| UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
        if user.expires > 0 {
            until(at(user.expires), USER_AUTHENTICATION_EXPIRED);
        }
        // The account's own `exp` is its timer's, which an update may move
        // (`JwtAccount::schedule_expiry`), not this connection's.
        account.schedule_expiry();
        if !limits.times.is_empty() {
            let left = time_window_left(limits).map_err(|e| refuse(format!("User {who}: {e}")))?;
            until(SystemTime::now() + left, USER_AUTHENTICATION_EXPIRED);
        }
        let permissions = permissions(if limits.permissions.is_empty() {
            &claims.nats.default_permissions
        } else {
            &limits.permissions
        });
        let combine = |user: i64, account: i64| match (user, account) {
            (NO_LIMIT, NO_LIMIT) => None,
            (NO_LIMIT, a) | (a, NO_LIMIT) => Some(a.max(0) as usize),
            (u, a) => Some(u.min(a).max(0) as usize),
        };
        let max_subs = combine(limits.limits.subs, claims.nats.limits.nats.subs);
        let max_payload = combine(limits.limits.payload, claims.nats.limits.nats.payload);
        // Take a place in the account, within its connection limit.
        let registration = {
            let mut live = lock(&account.live);
            let max = claims.nats.limits.conn;
            // Connections on the other servers of the cluster count too.
            let here_and_there = live.len() + account.account.remote_connection_count();
            if max != NO_LIMIT && !live.contains_key(&client.id) && here_and_there as i64 >= max {
                return Err(JwtRefusal {
                    reason: format!(
                        "Account {account_key} has reached its limit of {max} connections"
                    ),
                    client_error: Some(MAX_ACCOUNT_CONNECTIONS),
                });
            }
            let login = NEXT_LOGIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            live.insert(
                client.id,
                LiveUser {
                    login,
                    user: who.clone(),
                    issued_at: user.issued_at,
                    issuer: user.issuer.clone(),
                    client: Arc::downgrade(client),
                },
            );
            Registration {
                account: account.clone(),
                client_id: client.id,
                login,
            }
        };
        tracing::debug!(
            "{} - Authenticated JWT: Client {:?} (claim-name: {:?}) signed with {:?} by Account {:?} (claim-name: {:?}) signed with {:?}",
            client.tag,
            who,
            user.name,
            user.issuer,
            account_key,
            claims.name,
            claims.issuer
        );
        Ok((
            JwtLogin {
                user: who.clone(),
                account,
                deadline,
                max_subs,
                max_payload,
                registration,
            },
            permissions,
        ))
    }
}

fn kind(k: ExportType) -> ExportKind {
    match k {
        ExportType::Stream => ExportKind::Stream,
        ExportType::Service => ExportKind::Service,
    }
}

fn import_config(i: &rnats_jwt::Import) -> ImportConfig {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match i.kind {
        ExportType::Stream => ImportConfig {
            kind: ExportKind::Stream,
            account: i.account.clone(),
            subject: i.subject.clone(),
            prefix: non_empty(&i.to),
            to: None,
            share: false,
        },
        ExportType::Service => {
            // As nats-server reads a service import: with `local_subject`,
            // the importer publishes there and `subject` is the exported
            // service; without it, the importer publishes to `subject`,
            // which the old `to` (when set) names in the exporter.
            let (exported, local) = if !i.local_subject.is_empty() {
                (i.subject.clone(), Some(i.local_subject.clone()))
            } else if !i.to.is_empty() {
                (i.to.clone(), Some(i.subject.clone()))
            } else {
                (i.subject.clone(), None)
            };
            ImportConfig {
                kind: ExportKind::Service,
                account: i.account.clone(),
                subject: exported,
                prefix: None,
                to: local,
                share: false,
            }
        }
    }
}

/// JWT permissions as config permissions: empty directions are open; a
/// subscribe entry `subject queue` is kept whole and names a queue group,
/// as in a config file.
fn permissions(p: &rnats_jwt::Permissions) -> Option<PermissionsConfig> {
    if p.is_empty() {
        return None;
    }
    let rule = |p: &Permission| {
        (!p.is_empty()).then(|| {
            let subjects = |v: &Vec<String>| -> Vec<String> {
                v.iter().map(|s| s.trim().to_string()).collect()
            };
            SubjectRuleConfig {
                allow: (!p.allow.is_empty()).then(|| subjects(&p.allow)),
                deny: subjects(&p.deny),
            }
        })
    };
    Some(PermissionsConfig {
        publish: rule(&p.publish),
        subscribe: rule(&p.subscribe),
        allow_responses: p.response.as_ref().map(|r| ResponsePermissionConfig {
            max: if r.max_msgs <= 0 {
                1
            } else {
                r.max_msgs as usize
            },
            expires: match r.ttl_nanos {
                0 => Some(DEFAULT_ALLOW_RESPONSE_EXPIRATION),
                n if n < 0 => None,
                n => Some(Duration::from_nanos(n as u64)),
            },
        }),
    })
}

/// Checks the client's signature of its nonce with the user's key.
fn verify_nonce(user: &str, sig: Option<&str>, nonce: Option<&str>) -> Result<(), &'static str> {
    let sig = sig.ok_or("no signature of the nonce")?;
    let nonce = nonce.ok_or("no nonce was sent")?;
    let sig = crate::auth::decode_signature(sig).ok_or("the nonce signature is not base64")?;
    let key = rnats_jwt::nkeys::KeyPair::from_public_key(user).map_err(|_| "bad user key")?;
    key.verify(nonce.as_bytes(), &sig)
        .map_err(|_| "signature of the nonce does not verify")
}

/// Is `ip` inside `cidr` (`10.0.0.0/8`, `::1/128`, or a bare address)?
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let cidr = cidr.trim();
    let (addr, bits) = match cidr.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(b) => (a, Some(b)),
            Err(_) => return false,
        },
        None => (cidr, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// How long the current `times` window lasts; an error outside them all.
/// Windows are in the server's local time, or UTC with `times_location:
/// UTC` (other zones are not supported and refuse the login).
fn time_window_left(limits: &UserPermissionLimits) -> Result<Duration, String> {
    use chrono::{NaiveTime, Timelike};
    let now = match limits.locale.as_str() {
        "" | "Local" => chrono::Local::now().time(),
        "UTC" | "Etc/UTC" => chrono::Utc::now().time(),
        other => return Err(format!("times_location {other:?} is not supported")),
    };
    let secs = |t: NaiveTime| i64::from(t.num_seconds_from_midnight());
    let now_s = secs(now);
    for range in &limits.times {
        let (Ok(start), Ok(end)) = (
            NaiveTime::parse_from_str(&range.start, "%H:%M:%S"),
            NaiveTime::parse_from_str(&range.end, "%H:%M:%S"),
        ) else {
            return Err(format!("invalid time range {}-{}", range.start, range.end));
        };
        let (s, e) = (secs(start), secs(end));
        let left = if s <= e {
            (now_s >= s && now_s < e).then(|| e - now_s)
        } else if now_s >= s {
            // Over midnight.
            Some(86_400 - now_s + e)
        } else {
            (now_s < e).then(|| e - now_s)
        };
        if let Some(left) = left {
            return Ok(Duration::from_secs(left.max(1) as u64));
        }
    }
    Err("outside the allowed connection times".into())
}

fn read_dir_accounts(trust: &Trust, dir: &Path) -> Vec<(String, AccountClaims, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(key) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".jwt"))
        else {
            continue;
        };
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|jwt| Ok((trust.verify_account(&jwt, Some(key))?, jwt)))
        {
            Ok((claims, jwt)) => out.push((key.to_string(), claims, jwt.trim().to_string())),
            Err(e) => warn!("Skipping {}: {e}", path.display()),
        }
    }
    out
}

/// Writes `<dir>/<key>.jwt` atomically (a temporary file, then a rename).
fn store(dir: &Path, key: &str, jwt: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{key}.jwt.tmp"));
    std::fs::write(&tmp, jwt)?;
    std::fs::rename(&tmp, dir.join(format!("{key}.jwt")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains("127.0.0.0/8", ip("127.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("127.0.0.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("8.8.8.8")));
        assert!(cidr_contains("192.168.1.7", ip("192.168.1.7")));
        assert!(cidr_contains("::1/128", ip("::1")));
        assert!(cidr_contains("127.0.0.1/32", ip("::ffff:127.0.0.1")));
        assert!(!cidr_contains("garbage", ip("127.0.0.1")));
        assert!(!cidr_contains("127.0.0.1/33", ip("127.0.0.1")));
    }

    #[test]
    fn time_windows() {
        let mut l = UserPermissionLimits {
            locale: "UTC".into(),
            ..Default::default()
        };
        l.times.push(rnats_jwt::TimeRange {
            start: "00:00:00".into(),
            end: "23:59:59".into(),
        });
        // Almost always inside (a second a day is not).
        let _ = time_window_left(&l);
        l.times[0] = rnats_jwt::TimeRange {
            start: "25:00:00".into(),
            end: "01:00:00".into(),
        };
        assert!(time_window_left(&l).is_err());
        l.locale = "Mars/Olympus".into();
        assert!(time_window_left(&l).is_err());
    }
}

/// What a connection logged in with a user JWT keeps: its place in the
/// account (freed when this is dropped) and the timer that ends it when
/// the user JWT (or its `times` window) expires; the account's `exp` is
/// the account's own timer.
#[derive(Debug)]
pub struct JwtSession {
    pub login: Arc<JwtLogin>,
    timer: Option<tokio::task::AbortHandle>,
}

impl JwtSession {
    /// Starts the expiry timer of `login` for `client`.
    pub fn start(login: Arc<JwtLogin>, client: &Arc<Client>) -> Self {
        let timer = login.deadline.map(|(at, text)| {
            let left = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let client = Arc::downgrade(client);
            tokio::spawn(async move {
                tokio::time::sleep(left).await;
                if let Some(client) = client.upgrade() {
                    // nats-server logs these at debug level too.
                    tracing::debug!("{} - {}", client.tag, text);
                    client.err_and_close(text, CloseReason::AuthenticationViolation);
                }
            })
            .abort_handle()
        });
        JwtSession { login, timer }
    }

    pub fn max_subs(&self) -> Option<usize> {
        self.login.max_subs
    }
}

impl Drop for JwtSession {
    fn drop(&mut self) {
        if let Some(timer) = &self.timer {
            timer.abort();
        }
    }
}
