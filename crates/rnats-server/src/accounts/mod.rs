//! Accounts: isolated subject namespaces. Each account has its own
//! subscription index, so a message published in one account reaches only
//! subscribers of that account — unless one account exports a stream or a
//! service and another imports it. Without an `accounts {}` block every
//! client is in the global account `$G`, as on nats-server.
//!
//! **Owns**: the accounts and what crosses between them: [`Accounts`] (the
//! registry, rebuilt by a reload through [`Accounts::plan`]), each
//! [`Account`]'s subscription index (a [`crate::sublist::Sublist`] per
//! account), its import/export routes and the made-up replies of
//! cross-account requests, and its subject mappings (`mapping`: which
//! subject a published message goes to); `subscription` is what the
//! indexes hold.
//! **May not touch**: connections or logins; delivering a message is the
//! connection core's (`connection::delivery`), which reads the routes here.

pub mod mapping;
pub(crate) mod match_cache;
pub mod subscription;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use rand::Rng;
use rnats_proto::subject::{is_subset, pattern_matches, subjects_collide};
use rnats_proto::transform::{SubjectTransform, import_transform};

use crate::accounts::mapping::Mappings;
use crate::accounts::subscription::Subscription;
use crate::connection::Client;
use crate::options::{AccountConfig, ExportConfig, ExportKind, ImportConfig, ResponseType};
use crate::sublist::Sublist;
use crate::sync::{lock, read_lock, write_lock};

/// The account of clients not assigned to a named one.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// Reply subjects the server makes up for requests that cross accounts.
pub const RESPONSE_PREFIX: &[u8] = b"_R_.";
/// How long an answer to a cross-account request is waited for.
const RESPONSE_TTL: Duration = Duration::from_secs(120);
/// Open cross-account requests an account remembers, at most.
const MAX_PENDING_RESPONSES: usize = 100_000;

/// [`Account::route_scope`]: no imports or exports.
const NO_ROUTES: u8 = 0;
/// Imports or exports that any subject may meet.
const ALL_ROUTES: u8 = 1;
/// Only service imports of subjects under `$SYS.` (every account has the
/// system account's, see [`add_system_imports`]): a publish to any other
/// subject skips them with one comparison.
const SYSTEM_ROUTES: u8 = 2;

pub struct Account {
    pub name: String,
    pub sublist: Sublist<Subscription>,
    /// Imports and exports; replaced whole by a reload.
    routes: RwLock<Option<Arc<Routes>>>,
    /// Which subjects `routes` may act on ([`NO_ROUTES`], [`ALL_ROUTES`],
    /// [`SYSTEM_ROUTES`]): lets every publish skip its lock.
    route_scope: AtomicU8,
    /// Subject mappings (`mapping.rs`); replaced whole by a reload.
    mappings: RwLock<Option<Arc<Mappings>>>,
    /// Whether `mappings` is set: lets every publish skip its lock.
    has_mappings: AtomicBool,
    /// Changes with every `set_mappings`, unique across accounts: lets a
    /// connection keep its own copy of the mappings (`MappingCache`).
    mappings_generation: AtomicU64,
    /// Made-up reply subject -> (requester's account, its real reply).
    responses: Mutex<HashMap<Box<[u8]>, PendingResponse>>,
    /// `_R_.<random>.`: starts every reply subject made up here, different
    /// on each server, so that a cluster routes answers to the server that
    /// made up their subject.
    response_prefix: Box<[u8]>,
    /// Whether the cluster has been told of interest in `response_prefix`.
    pub(crate) responses_announced: AtomicBool,
    /// Its traffic on this server (`/accstatz`).
    pub stats: crate::stats::AccountStats,
    /// Its client connections on the other servers of the cluster, by
    /// server id, as their `$SYS.ACCOUNT.<acc>.SERVER.CONNS` events said:
    /// a JWT account's connection limit holds cluster-wide.
    remote_connections: Mutex<HashMap<String, usize>>,
    /// Whether the other servers were asked for their counts yet.
    pub(crate) remote_connections_asked: AtomicBool,
    /// Its logged-in client connections on this server, by client id: its
    /// count and statistics without walking every connection of the
    /// server (each login and logout announces them to the cluster).
    members: Mutex<HashMap<u64, Weak<Client>>>,
}

struct PendingResponse {
    requester: Weak<Account>,
    reply: Box<[u8]>,
    expires: Instant,
    /// Stays after the first answer (a streamed or chunked service).
    streamed: bool,
}

/// Where messages published in an account also go.
#[derive(Default)]
pub struct Routes {
    /// Streams this account exports that others import.
    pub streams: Vec<StreamRoute>,
    /// Services this account imports from others.
    pub services: Vec<ServiceRoute>,
    /// Streams this account imports: what its subscribers stand for in the
    /// exporting account, which is where a cluster routes the messages.
    pub imported: Vec<ImportedStream>,
}

/// A stream import seen from the importing account.
pub struct ImportedStream {
    pub from: Weak<Account>,
    /// Subjects in the exporting account.
    pub pattern: Box<[u8]>,
    /// Put before the subject here.
    pub prefix: Option<Box<[u8]>>,
}

/// The same import: from the same account, of the same subjects, under
/// the same prefix.
impl PartialEq for ImportedStream {
    fn eq(&self, other: &Self) -> bool {
        self.from.ptr_eq(&other.from)
            && self.pattern == other.pattern
            && self.prefix == other.prefix
    }
}

impl ImportedStream {
    /// The subject in the exporting account to announce interest in for a
    /// subscription on `subject` here (nats-server's shadow subscription):
    /// the subject without the prefix when it lies inside the import, else
    /// the import's whole pattern when the two meet at all.
    pub fn interest_in_exporter(&self, subject: &[u8]) -> Option<Vec<u8>> {
        let local: Vec<u8> = match &self.prefix {
            Some(prefix) => [prefix.as_ref(), b".", &self.pattern].concat(),
            None => self.pattern.to_vec(),
        };
        if is_subset(subject, &local) {
            let skip = self.prefix.as_ref().map_or(0, |p| p.len() + 1);
            Some(subject[skip..].to_vec())
        } else if subjects_collide(subject, &local) {
            Some(self.pattern.to_vec())
        } else {
            None
        }
    }
}

impl Routes {
    /// The accounts that import `subject` as a stream (published in this
    /// account), with the subject it has there.
    pub fn stream_importers<'a>(
        &'a self,
        subject: &'a [u8],
    ) -> impl Iterator<Item = (Arc<Account>, Vec<u8>)> + 'a {
        self.streams
            .iter()
            .filter(|stream| pattern_matches(&stream.pattern, subject))
            .filter_map(|stream| Some((stream.to.upgrade()?, stream.map_subject(subject))))
    }
}

pub struct StreamRoute {
    /// Subjects (in the exporting account) the importer takes.
    pub pattern: Box<[u8]>,
    pub to: Weak<Account>,
    /// Put before the subject in the importing account.
    pub prefix: Option<Box<[u8]>>,
}

impl StreamRoute {
    pub fn map_subject(&self, subject: &[u8]) -> Vec<u8> {
        match &self.prefix {
            Some(prefix) => [prefix.as_ref(), b".", subject].concat(),
            None => subject.to_vec(),
        }
    }
}

pub struct ServiceRoute {
    /// Subjects the importing account publishes requests to.
    pub local: Box<[u8]>,
    pub to: Weak<Account>,
    /// The exported service subject in the other account.
    pub remote: Box<[u8]>,
    /// How a subject of `local` is written in `remote`, when both have
    /// wildcards and differ (`rnats_proto::transform::import_transform`).
    pub transform: Option<SubjectTransform>,
    /// The export's: whether a request may be answered more than once.
    pub response: ResponseType,
}

impl ServiceRoute {
    /// The subject in the exporting account: the subject as published when
    /// the import did not rename it; the export's when it renamed a literal
    /// subject; else the published subject's tokens written in the
    /// export's pattern (`to: local.>` for `svc.>` maps `local.admin` to
    /// `svc.admin`), as nats-server maps it. None when it cannot be mapped:
    /// then nothing crosses.
    pub fn map_subject<'a>(&'a self, subject: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        match &self.transform {
            _ if self.local == self.remote => Some(Cow::Borrowed(subject)),
            None => Some(Cow::Borrowed(&self.remote)),
            Some(transform) => {
                if !transform.matches(subject) {
                    return None;
                }
                let mut out = Vec::with_capacity(self.remote.len() + subject.len());
                transform.transform_into(subject, &mut out);
                Some(Cow::Owned(out))
            }
        }
    }
}

impl Account {
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Account {
            name: name.into(),
            sublist: Sublist::new(),
            routes: RwLock::new(None),
            route_scope: AtomicU8::new(NO_ROUTES),
            mappings: RwLock::new(None),
            has_mappings: AtomicBool::new(false),
            mappings_generation: AtomicU64::new(0),
            responses: Mutex::new(HashMap::new()),
            response_prefix: [RESPONSE_PREFIX, &random_token(6), b"."].concat().into(),
            responses_announced: AtomicBool::new(false),
            stats: crate::stats::AccountStats::default(),
            remote_connections: Mutex::new(HashMap::new()),
            members: Mutex::new(HashMap::new()),
            remote_connections_asked: AtomicBool::new(false),
        })
    }

    /// The subjects of every reply made up in this account on this server:
    /// `_R_.<random>.>`.
    pub fn response_interest(&self) -> Vec<u8> {
        [&self.response_prefix[..], b">"].concat()
    }

    /// Its import/export routes, if it has any.
    #[inline]
    /// Another server reported its count of this account's connections.
    /// A client logged in to it.
    pub fn join(&self, client: &Arc<Client>) {
        lock(&self.members).insert(client.id, Arc::downgrade(client));
    }

    /// A client logged out of it (closed, or logged in elsewhere).
    pub fn leave(&self, client_id: u64) {
        lock(&self.members).remove(&client_id);
    }

    /// Its logged-in client connections on this server.
    pub fn members(&self) -> Vec<Arc<Client>> {
        lock(&self.members)
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    pub fn set_remote_connections(&self, server: &str, count: usize) {
        let mut remote = lock(&self.remote_connections);
        match count {
            0 => remote.remove(server),
            n => remote.insert(server.to_string(), n),
        };
    }

    /// A server left the cluster: its connections no longer count.
    pub fn forget_server(&self, server: &str) {
        lock(&self.remote_connections).remove(server);
    }

    /// This account's client connections on the other servers.
    pub fn remote_connection_count(&self) -> usize {
        lock(&self.remote_connections).values().sum()
    }

    /// Whether its imports and exports may act on a message published to
    /// `subject`: one atomic load, and one byte compared when it has only
    /// the system account's imports (all under `$SYS.`; a subject that
    /// starts with `$` but is not one of theirs matches none of them).
    #[inline]
    pub fn routes_apply_to(&self, subject: &[u8]) -> bool {
        match self.route_scope.load(Ordering::Acquire) {
            NO_ROUTES => false,
            SYSTEM_ROUTES => subject.first() == Some(&SYSTEM_PREFIX[0]),
            _ => true,
        }
    }

    pub fn routes(&self) -> Option<Arc<Routes>> {
        if self.route_scope.load(Ordering::Acquire) == NO_ROUTES {
            return None;
        }
        read_lock(&self.routes).clone()
    }

    /// Its subject mappings, if it has any: one atomic load when it has
    /// none.
    #[inline]
    pub fn mappings(&self) -> Option<Arc<Mappings>> {
        if !self.has_mappings.load(Ordering::Acquire) {
            return None;
        }
        read_lock(&self.mappings).clone()
    }

    /// Whether it has subject mappings: one atomic load.
    #[inline]
    pub fn has_mappings(&self) -> bool {
        self.has_mappings.load(Ordering::Acquire)
    }

    /// Which mappings it has: changes whenever they are replaced.
    pub fn mappings_generation(&self) -> u64 {
        self.mappings_generation.load(Ordering::Acquire)
    }

    /// Replaces its subject mappings.
    pub fn set_mappings(&self, mappings: Option<Mappings>) {
        static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);
        let mappings = mappings.map(Arc::new);
        self.has_mappings
            .store(mappings.is_some(), Ordering::Release);
        *write_lock(&self.mappings) = mappings;
        self.mappings_generation.store(
            NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            Ordering::Release,
        );
    }

    fn set_routes(&self, routes: Option<Routes>) {
        let scope = match &routes {
            None => NO_ROUTES,
            Some(r)
                if r.streams.is_empty()
                    && r.imported.is_empty()
                    && r.services
                        .iter()
                        .all(|s| s.local.starts_with(SYSTEM_PREFIX)) =>
            {
                SYSTEM_ROUTES
            }
            Some(_) => ALL_ROUTES,
        };
        // Widened before the routes are swapped, narrowed after: a publish
        // never skips routes that apply to it.
        if scope == ALL_ROUTES {
            self.route_scope.store(scope, Ordering::Release);
        }
        *write_lock(&self.routes) = routes.map(Arc::new);
        self.route_scope.store(scope, Ordering::Release);
    }

    /// Registers a request from `requester` that will be answered in this
    /// account, and returns the reply subject to give the responder.
    /// A `streamed` request may be answered more than once (by every server
    /// of a cluster, or in parts) until the path expires.
    pub fn expect_response(
        &self,
        requester: &Arc<Account>,
        reply: &[u8],
        streamed: bool,
    ) -> Vec<u8> {
        let made_up = [&self.response_prefix[..], &random_token(16)].concat();
        let now = Instant::now();
        let mut responses = lock(&self.responses);
        if responses.len() >= MAX_PENDING_RESPONSES {
            responses.retain(|_, r| r.expires > now);
            if responses.len() >= MAX_PENDING_RESPONSES {
                responses.clear();
            }
        }
        responses.insert(
            made_up.as_slice().into(),
            PendingResponse {
                requester: Arc::downgrade(requester),
                reply: reply.into(),
                expires: now + RESPONSE_TTL,
                streamed,
            },
        );
        made_up
    }

    /// The requester waiting for an answer on `subject`: once, or until
    /// the path expires for a streamed service.
    pub fn take_response(&self, subject: &[u8]) -> Option<(Arc<Account>, Box<[u8]>)> {
        let mut responses = lock(&self.responses);
        let pending = responses.get(subject)?;
        if pending.expires <= Instant::now() {
            responses.remove(subject);
            return None;
        }
        if pending.streamed {
            return Some((pending.requester.upgrade()?, pending.reply.clone()));
        }
        let pending = responses.remove(subject)?;
        drop(responses);
        Some((pending.requester.upgrade()?, pending.reply))
    }
}

fn random_token(len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("name", &self.name).finish()
    }
}

/// Every account of the server, by name. A reload keeps the accounts whose
/// names remain (their subscriptions stay where they are), adds new ones,
/// drops the others, and rewires every import and export.
#[derive(Debug)]
pub struct Accounts {
    global: Arc<Account>,
    by_name: RwLock<HashMap<String, Arc<Account>>>,
}

impl Accounts {
    /// Creates the accounts and wires their imports to the matching
    /// exports. An import of something not exported to it is an error.
    pub fn new(configs: &[AccountConfig]) -> Result<Self, String> {
        let global = Account::new(GLOBAL_ACCOUNT);
        let accounts = Accounts {
            by_name: RwLock::new(HashMap::from([(
                GLOBAL_ACCOUNT.to_string(),
                global.clone(),
            )])),
            global,
        };
        let plan = accounts.plan(configs)?;
        accounts.apply(plan);
        Ok(accounts)
    }

    /// Checks a reloaded `accounts {}` configuration and works out the new
    /// registry and routes, changing nothing yet (a refused reload must
    /// leave everything as it was).
    pub fn plan(&self, configs: &[AccountConfig]) -> Result<AccountsPlan, String> {
        let current = read_lock(&self.by_name);
        let mut by_name = HashMap::from([(GLOBAL_ACCOUNT.to_string(), self.global.clone())]);
        for c in configs {
            let account = current
                .get(&c.name)
                .cloned()
                .unwrap_or_else(|| Account::new(c.name.as_str()));
            by_name.entry(c.name.clone()).or_insert(account);
        }
        drop(current);
        let routes = wire(configs, &by_name)?;
        let mut mappings = HashMap::new();
        for c in configs {
            if let Some(m) =
                Mappings::build(&c.mappings).map_err(|e| format!("account {:?}: {e}", c.name))?
            {
                mappings.insert(c.name.clone(), m);
            }
        }
        Ok(AccountsPlan {
            by_name,
            routes,
            mappings,
        })
    }

    /// Puts a plan in force; returns the accounts it dropped.
    pub fn apply(&self, plan: AccountsPlan) -> Vec<Arc<Account>> {
        let AccountsPlan {
            by_name,
            mut routes,
            mut mappings,
        } = plan;
        for (name, account) in &by_name {
            account.set_routes(routes.remove(name.as_str()));
            account.set_mappings(mappings.remove(name.as_str()));
        }
        let old = std::mem::replace(&mut *write_lock(&self.by_name), by_name);
        let current = read_lock(&self.by_name);
        old.into_iter()
            .filter(|(name, _)| !current.contains_key(name))
            .map(|(_, account)| {
                account.set_routes(None);
                account.set_mappings(None);
                account
            })
            .collect()
    }

    /// Registers an account made elsewhere (an account JWT fetched at
    /// run time) under its name, unless one is registered there already.
    pub fn adopt(&self, account: &Arc<Account>) {
        write_lock(&self.by_name)
            .entry(account.name.to_string())
            .or_insert_with(|| account.clone());
    }

    /// Puts a plan's imports and exports in force, and only those: in
    /// operator mode the trust keeps the accounts (registered here with
    /// [`Accounts::adopt`] before planning) and their mappings, and an
    /// account JWT that arrives or changes rewires the imports and exports
    /// of all of them (an importer's import may now find its export, or
    /// lose it).
    pub fn apply_routes(&self, plan: AccountsPlan) {
        let AccountsPlan {
            by_name,
            mut routes,
            ..
        } = plan;
        for (name, account) in &by_name {
            account.set_routes(routes.remove(name.as_str()));
        }
    }

    pub fn global(&self) -> &Arc<Account> {
        &self.global
    }

    pub fn get(&self, name: &str) -> Option<Arc<Account>> {
        read_lock(&self.by_name).get(name).cloned()
    }

    /// Every account, sorted by name.
    pub fn all(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<_> = read_lock(&self.by_name).values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

/// A checked account configuration, ready for [`Accounts::apply`].
pub struct AccountsPlan {
    by_name: HashMap<String, Arc<Account>>,
    routes: HashMap<String, Routes>,
    mappings: HashMap<String, Mappings>,
}

impl AccountsPlan {
    pub fn get(&self, name: &str) -> Option<&Arc<Account>> {
        self.by_name.get(name)
    }

    pub fn global(&self) -> &Arc<Account> {
        &self.by_name[GLOBAL_ACCOUNT]
    }
}

/// Where the system account's services live.
const SYSTEM_PREFIX: &[u8] = b"$SYS.";

/// Adds what nats-server gives every account when there is a system
/// account (its `registerSystemImports`): service imports of the server's
/// own services, so that a user of any account can ask
/// `$SYS.REQ.USER.INFO` (who am I?), and `$SYS.REQ.ACCOUNT.PING.CONNZ`,
/// `$SYS.REQ.SERVER.PING.CONNZ` or `$SYS.REQ.ACCOUNT.PING.STATZ` for its
/// own account's connections and statistics, from every server of the
/// cluster. The system account exports them with the importer's name at
/// the fourth token, so no account can import another's. Accounts whose
/// name is not one subject token cannot be named there and are left out.
pub fn add_system_imports(configs: &mut Vec<AccountConfig>, system: &str) {
    let Some(sys) = configs.iter_mut().find(|c| c.name == system) else {
        return;
    };
    for (subject, response, position) in [
        ("$SYS.REQ.ACCOUNT.*.CONNZ", ResponseType::Streamed, Some(4)),
        ("$SYS.REQ.ACCOUNT.*.STATZ", ResponseType::Streamed, Some(4)),
        ("$SYS.REQ.USER.*.INFO", ResponseType::Singleton, None),
    ] {
        if !sys.exports.iter().any(|e| e.subject == subject) {
            sys.exports.push(ExportConfig {
                response,
                account_token_position: position,
                ..ExportConfig::new(ExportKind::Service, subject)
            });
        }
    }
    if !configs.iter().any(|c| c.name == GLOBAL_ACCOUNT) {
        configs.push(AccountConfig {
            name: GLOBAL_ACCOUNT.into(),
            ..AccountConfig::default()
        });
    }
    let import = |subject: String, to: &str, share: bool| ImportConfig {
        kind: ExportKind::Service,
        account: system.to_string(),
        subject,
        prefix: None,
        to: Some(to.to_string()),
        share,
    };
    for c in configs.iter_mut() {
        let name = c.name.as_str();
        let one_token =
            !name.contains('.') && rnats_proto::subject::is_valid_literal_subject(name.as_bytes());
        if !one_token {
            continue;
        }
        let user_info = import(
            format!("$SYS.REQ.USER.{name}.INFO"),
            "$SYS.REQ.USER.INFO",
            true,
        );
        if name == system {
            c.imports.push(user_info);
            continue;
        }
        let connz = format!("$SYS.REQ.ACCOUNT.{name}.CONNZ");
        c.imports.extend([
            import(connz.clone(), "$SYS.REQ.ACCOUNT.PING.CONNZ", false),
            import(connz, "$SYS.REQ.SERVER.PING.CONNZ", false),
            import(
                format!("$SYS.REQ.ACCOUNT.{name}.STATZ"),
                "$SYS.REQ.ACCOUNT.PING.STATZ",
                false,
            ),
            user_info,
        ]);
    }
}

/// Wires each import to the export it names, as routes of the importing
/// and exporting accounts. An import of something not exported to the
/// importer is an error.
fn wire(
    configs: &[AccountConfig],
    by_name: &HashMap<String, Arc<Account>>,
) -> Result<HashMap<String, Routes>, String> {
    let mut routes: HashMap<String, Routes> = HashMap::new();
    for importer in configs {
        for import in &importer.imports {
            let exporter_config = configs
                .iter()
                .find(|c| c.name == import.account)
                .ok_or_else(|| {
                    format!(
                        "account {:?} imports from unknown account {:?}",
                        importer.name, import.account
                    )
                })?;
            let export = exporter_config
                .exports
                .iter()
                .find(|e| e.allows(&importer.name, import));
            let Some(export) = export else {
                return Err(format!(
                    "account {:?} imports {:?} from account {:?}, which does not export it to {:?}",
                    importer.name, import.subject, import.account, importer.name
                ));
            };
            let (to_importer, to_exporter) = (&by_name[&importer.name], &by_name[&import.account]);
            match import.kind {
                ExportKind::Stream => {
                    let prefix = import.prefix.as_deref().map(|p| p.as_bytes().into());
                    routes
                        .entry(import.account.clone())
                        .or_default()
                        .streams
                        .push(StreamRoute {
                            pattern: import.subject.as_bytes().into(),
                            to: Arc::downgrade(to_importer),
                            prefix: prefix.clone(),
                        });
                    routes
                        .entry(importer.name.clone())
                        .or_default()
                        .imported
                        .push(ImportedStream {
                            from: Arc::downgrade(to_exporter),
                            pattern: import.subject.as_bytes().into(),
                            prefix,
                        });
                }
                ExportKind::Service => {
                    let local = import.to.as_deref().unwrap_or(&import.subject);
                    let remote = import.subject.as_bytes();
                    let transform = if local.as_bytes() == remote
                        || rnats_proto::subject::is_literal(remote)
                    {
                        None
                    } else {
                        Some(import_transform(local, &import.subject).map_err(|e| {
                            format!(
                                "account {:?}: failed to create mapping transform for service import subject from {local:?} to {:?}: {e}",
                                importer.name, import.subject
                            )
                        })?)
                    };
                    routes
                        .entry(importer.name.clone())
                        .or_default()
                        .services
                        .push(ServiceRoute {
                            local: local.as_bytes().into(),
                            to: Arc::downgrade(to_exporter),
                            remote: import.subject.as_bytes().into(),
                            transform,
                            response: export.response,
                        })
                }
            }
        }
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_stands_for_what_it_can_receive_from_the_exporter() {
        let exporter = Account::new("A");
        let import = ImportedStream {
            from: Arc::downgrade(&exporter),
            pattern: (*b"events.>").into(),
            prefix: Some((*b"from_a").into()),
        };
        let interest = |s: &str| {
            import
                .interest_in_exporter(s.as_bytes())
                .map(|v| String::from_utf8(v).unwrap())
        };
        // Inside the import: the same subject without the prefix.
        assert_eq!(
            interest("from_a.events.login").as_deref(),
            Some("events.login")
        );
        assert_eq!(interest("from_a.events.*").as_deref(), Some("events.*"));
        // Wider than the import, or overlapping it: the whole export.
        assert_eq!(interest(">").as_deref(), Some("events.>"));
        assert_eq!(interest("*.events.x").as_deref(), Some("events.>"));
        // Elsewhere: nothing.
        assert_eq!(interest("events.login"), None);
        assert_eq!(interest("from_a.other"), None);
    }
}
