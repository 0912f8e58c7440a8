//! The claims of NATS JWTs, as the NATS `jwt` library (v2) writes them:
//! the registered claims (`iss`, `sub`, `iat`, `exp`, ...) at the top level
//! and the kind-specific part under `nats`. Every field is optional on
//! decoding (unknown ones are ignored), and empty ones are left out on
//! encoding, as Go's `omitempty` does.

use std::collections::BTreeMap;

use nkeys::KeyPairType;
use serde::{Deserialize, Deserializer, Serialize};

/// A limit of `-1` means no limit. A limit that is absent from a JWT is 0.
pub const NO_LIMIT: i64 = -1;

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `null` decodes as the default (Go writes `null` for nil slices and maps).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The part every kind of claim has under `nats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericFields {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// The registered claims, and the kind-specific ones in `nats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims<N> {
    #[serde(rename = "aud", default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// Expiry, seconds since the epoch; 0 = never.
    #[serde(rename = "exp", default, skip_serializing_if = "is_zero")]
    pub expires: i64,
    #[serde(rename = "jti", default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "iat", default, skip_serializing_if = "is_zero")]
    pub issued_at: i64,
    /// The public key that signed the JWT.
    #[serde(rename = "iss", default)]
    pub issuer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Not valid before, seconds since the epoch; 0 = always.
    #[serde(rename = "nbf", default, skip_serializing_if = "is_zero")]
    pub not_before: i64,
    /// The public key the JWT is about.
    #[serde(rename = "sub", default)]
    pub subject: String,
    /// JWT v1 kept the kind at the top level (moved into `nats` on decoding).
    #[serde(rename = "type", default, skip_serializing)]
    pub(crate) v1_kind: String,
    /// JWT v1 kept `issuer_account` at the top level too.
    #[serde(rename = "issuer_account", default, skip_serializing)]
    pub(crate) v1_issuer_account: String,
    #[serde(
        rename = "tags",
        default,
        deserialize_with = "nullable",
        skip_serializing
    )]
    pub(crate) v1_tags: Vec<String>,
    #[serde(default)]
    pub nats: N,
}

impl<N: Default> Claims<N> {
    /// Claims about `subject` (a public key), everything else empty.
    pub fn new(subject: impl Into<String>) -> Self {
        Claims {
            subject: subject.into(),
            ..Claims::default()
        }
    }
}

impl<N> Claims<N> {
    /// Past its `exp` at `now` (seconds since the epoch)?
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.expires > 0 && now > self.expires
    }

    /// Before its `nbf` at `now`?
    pub fn is_not_yet_valid_at(&self, now: i64) -> bool {
        self.not_before > 0 && self.not_before > now
    }
}

/// What distinguishes the kinds of claims.
pub trait ClaimKind: Default {
    /// The `nats.type` value: `operator`, `account`, `user`.
    const KIND: &'static str;
    /// The kinds of key that may sign it.
    const ISSUERS: &'static [KeyPairType];
    /// The kind of key it is about.
    const SUBJECT: KeyPairType;
    fn generic_mut(&mut self) -> &mut GenericFields;
    /// Moves what JWT v1 kept at the top level into place.
    fn migrate_v1(&mut self, _issuer_account: String) {}
}

// ---------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------

/// Allowed and denied subjects for one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allow: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deny: Vec<String>,
}

impl Permission {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// `resp`: the user may publish replies to requests it received.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponsePermission {
    /// Replies per request; 0 = nats-server's default (1).
    #[serde(rename = "max", default)]
    pub max_msgs: i64,
    /// How long a reply stays allowed, in nanoseconds (a Go duration).
    #[serde(rename = "ttl", default)]
    pub ttl_nanos: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    #[serde(rename = "pub", default, deserialize_with = "nullable")]
    pub publish: Permission,
    #[serde(rename = "sub", default, deserialize_with = "nullable")]
    pub subscribe: Permission,
    #[serde(rename = "resp", default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponsePermission>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.subscribe.is_empty() && self.response.is_none()
    }
}

/// A daily window (`HH:MM:SS` to `HH:MM:SS`) in which a user may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub end: String,
}

/// Subscription, data and payload limits (`-1` = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsLimits {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subs: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub payload: i64,
}

impl NatsLimits {
    pub const UNLIMITED: NatsLimits = NatsLimits {
        subs: NO_LIMIT,
        data: NO_LIMIT,
        payload: NO_LIMIT,
    };
}

/// `src` is a list of CIDRs: a JSON array, or one comma-separated string.
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Many(Vec<String>),
        One(String),
    }
    Ok(match Option::<List>::deserialize(d)? {
        None => Vec::new(),
        Some(List::Many(v)) => v,
        Some(List::One(s)) => s
            .split(',')
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect(),
    })
}

/// What a user may do and from where and when: the user claims proper,
/// and the template of a scoped signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    /// Client networks allowed to connect (CIDRs).
    #[serde(
        default,
        deserialize_with = "cidr_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub src: Vec<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub times: Vec<TimeRange>,
    /// IANA zone of `times`; empty = the server's local time.
    #[serde(
        rename = "times_location",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub locale: String,
    #[serde(flatten)]
    pub limits: NatsLimits,
    /// No nonce signature needed: the JWT alone logs in.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    /// `STANDARD`, `WEBSOCKET`, `LEAFNODE`, `MQTT`, ...; empty = any.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_connection_types: Vec<String>,
}

/// `nats` of a user JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account, when a signing key of the account signed the JWT.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

pub type UserClaims = Claims<User>;

impl ClaimKind for User {
    const KIND: &'static str = "user";
    const ISSUERS: &'static [KeyPairType] = &[KeyPairType::Account];
    const SUBJECT: KeyPairType = KeyPairType::User;
    fn generic_mut(&mut self) -> &mut GenericFields {
        &mut self.generic
    }
    fn migrate_v1(&mut self, issuer_account: String) {
        if self.issuer_account.is_empty() {
            self.issuer_account = issuer_account;
        }
    }
}

impl UserClaims {
    /// A user with no limits, as nsc makes one.
    pub fn new_user(subject: impl Into<String>) -> Self {
        let mut c = UserClaims::new(subject);
        c.nats.limits.limits = NatsLimits::UNLIMITED;
        c
    }

    /// The account the user belongs to: `issuer_account`, or the issuer.
    pub fn account(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.issuer
        } else {
            &self.nats.issuer_account
        }
    }
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    #[default]
    Stream,
    Service,
}

/// A stream or service an account offers to others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub subject: String,
    #[serde(rename = "type", default)]
    pub kind: ExportType,
    /// Importers need an activation token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub token_req: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    /// The subject's token (from 1) that must be the importing account's
    /// public key; 0 when none.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub account_token_position: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A stream or service taken from another account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Import {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Streams: the subject in the exporting account. Services: the
    /// subject requests are published to (see `local_subject`).
    #[serde(default)]
    pub subject: String,
    /// The exporting account's public key.
    #[serde(default)]
    pub account: String,
    /// An activation token, for exports that require one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// Streams: a prefix in the importing account. Services (old form):
    /// the exporter's subject.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// Services: the subject the importer publishes requests to, when it
    /// differs from the exported `subject`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    #[serde(rename = "type", default)]
    pub kind: ExportType,
}

/// JetStream limits of an account (`0` = none allowed, `-1` = no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamLimits {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streams: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumer: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

impl JetStreamLimits {
    /// Whether these limits let the account use JetStream at all.
    pub fn enabled(&self) -> bool {
        self.mem_storage != 0 || self.disk_storage != 0
    }
}

/// Limits an operator puts on an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLimits {
    #[serde(flatten)]
    pub nats: NatsLimits,
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// JetStream limits by replication tier (`R1`, `R3`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tiered_limits: std::collections::BTreeMap<String, JetStreamLimits>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub imports: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exports: i64,
    #[serde(rename = "wildcards", default, skip_serializing_if = "is_false")]
    pub wildcard_exports: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// Connections at once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conn: i64,
    #[serde(rename = "leaf", default, skip_serializing_if = "is_zero")]
    pub leaf_node_conn: i64,
}

impl AccountLimits {
    pub const UNLIMITED: AccountLimits = AccountLimits {
        nats: NatsLimits::UNLIMITED,
        // As nsc makes them: JetStream is off until the operator sets
        // storage limits.
        jetstream: JetStreamLimits {
            mem_storage: 0,
            disk_storage: 0,
            streams: 0,
            consumer: 0,
            max_ack_pending: 0,
            mem_max_stream_bytes: 0,
            disk_max_stream_bytes: 0,
            max_bytes_required: false,
        },
        tiered_limits: std::collections::BTreeMap::new(),
        imports: NO_LIMIT,
        exports: NO_LIMIT,
        wildcard_exports: true,
        disallow_bearer: false,
        conn: NO_LIMIT,
        leaf_node_conn: NO_LIMIT,
    };
}

/// A scoped signing key: users it signs get `template`, not their own
/// permissions and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserScope {
    /// Always `user_template`.
    pub kind: String,
    pub key: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub template: UserPermissionLimits,
}

/// An account signing key: a plain public key, or a scoped one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SigningKey {
    Plain(String),
    Scoped(Box<UserScope>),
}

impl SigningKey {
    pub fn key(&self) -> &str {
        match self {
            SigningKey::Plain(k) => k,
            SigningKey::Scoped(s) => &s.key,
        }
    }
}

/// `nats` of an account JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub imports: Vec<Import>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub exports: Vec<Export>,
    #[serde(default, deserialize_with = "nullable")]
    pub limits: AccountLimits,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signing_keys: Vec<SigningKey>,
    /// Public key (or `*` for all) -> users issued at or before this time
    /// (seconds since the epoch) are revoked.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub revocations: BTreeMap<String, i64>,
    /// Permissions of users whose JWT has none.
    #[serde(default, deserialize_with = "nullable")]
    pub default_permissions: Permissions,
    /// Subject mappings: source subject -> weighted destinations.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub mappings: BTreeMap<String, Vec<WeightedMapping>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// One destination of an account's subject mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedMapping {
    pub subject: String,
    /// Percent of the messages; 0 (or absent) means 100, as in nats' jwt.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub weight: u8,
    /// Only in this cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

impl WeightedMapping {
    /// The weight in percent: an unset weight is 100.
    pub fn weight(&self) -> u8 {
        if self.weight == 0 { 100 } else { self.weight }
    }
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

pub type AccountClaims = Claims<Account>;

impl ClaimKind for Account {
    const KIND: &'static str = "account";
    const ISSUERS: &'static [KeyPairType] = &[KeyPairType::Operator, KeyPairType::Account];
    const SUBJECT: KeyPairType = KeyPairType::Account;
    fn generic_mut(&mut self) -> &mut GenericFields {
        &mut self.generic
    }
}

impl AccountClaims {
    /// An account with no limits, as nsc makes one.
    pub fn new_account(subject: impl Into<String>) -> Self {
        let mut c = AccountClaims::new(subject);
        c.nats.limits = AccountLimits::UNLIMITED;
        c
    }

    /// The signing key entry for `key`, if the account has it.
    pub fn signing_key(&self, key: &str) -> Option<&SigningKey> {
        self.nats.signing_keys.iter().find(|k| k.key() == key)
    }

    /// Is a user JWT about `user`, issued at `issued_at`, revoked? As the
    /// NATS libraries: a revocation entry for the key (or `*`) at or after
    /// the time the JWT was issued.
    pub fn is_revoked(&self, user: &str, issued_at: i64) -> bool {
        let revoked = |key: &str| {
            self.nats
                .revocations
                .get(key)
                .is_some_and(|&at| at >= issued_at)
        };
        revoked(user) || revoked("*")
    }
}

// ---------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------

/// `nats` of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// Other operator keys that may sign accounts.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub signing_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub operator_service_urls: Vec<String>,
    /// The system account's public key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

pub type OperatorClaims = Claims<Operator>;

impl ClaimKind for Operator {
    const KIND: &'static str = "operator";
    const ISSUERS: &'static [KeyPairType] = &[KeyPairType::Operator];
    const SUBJECT: KeyPairType = KeyPairType::Operator;
    fn generic_mut(&mut self) -> &mut GenericFields {
        &mut self.generic
    }
}

impl OperatorClaims {
    /// Did this operator (or one of its signing keys) sign with `issuer`?
    pub fn did_sign(&self, issuer: &str) -> bool {
        self.subject == issuer || self.nats.signing_keys.iter().any(|k| k == issuer)
    }
}
