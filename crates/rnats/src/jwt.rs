//! `rnats jwt`: make and sign the JWTs of decentralized authentication,
//! offline (the part of `nsc` a user needs), and show what a JWT says.
//!
//! * `rnats jwt operator --seed OP.nk [--name N] [--signing-key KEY]...
//!   [--system-account KEY] [--expires 1y]`: a self-signed operator.
//! * `rnats jwt account --account KEY --signer OP.nk [--name N] [--conn N]
//!   [--subs N] [--payload N] [--signing-key KEY]... [--export-stream S]...
//!   [--export-service S]... [--import-stream ACC:SUBJECT[:PREFIX]]...
//!   [--import-service ACC:SUBJECT[:LOCAL]]... [--revoke USER[@UNIX]]...`
//! * `rnats jwt user --user KEY --signer ACCOUNT.nk [--account KEY]
//!   [--pub-allow S]... [--pub-deny S]... [--sub-allow S]... [--sub-deny S]...
//!   [--allow-responses N] [--src CIDR]... [--time HH:MM:SS-HH:MM:SS]...
//!   [--subs N] [--payload N] [--bearer] [--expires 30d]`
//! * `rnats jwt show FILE`: verify a JWT's signature and print its claims.
//! * `rnats jwt resolver --operator OP.jwt --account A.jwt... [--system-account KEY]`:
//!   the server config for these (`operator`, `resolver: MEMORY`,
//!   `resolver_preload`).
//!
//! A KEY is a public key, or a file holding one (or a seed). The `--signer`
//! is a seed file: the subject's own seed or one of its signing keys'.
//! JWTs are printed, or written with `--out`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use rnats_jwt::nkeys::KeyPairType;
use rnats_jwt::{
    AccountClaims, Claims, Export, ExportType, Import, OperatorClaims, ResponsePermission,
    SigningKey, TimeRange, UserClaims,
};

use crate::keys::{self, Result};

#[derive(Debug, Args)]
pub struct JwtArgs {
    #[command(subcommand)]
    pub command: JwtCommand,
}

/// What every JWT has.
#[derive(Debug, Args)]
pub struct Common {
    /// A name for humans.
    #[arg(long)]
    pub name: Option<String>,
    /// Expiry: a duration from now (`30d`, `12h`, `1y`), `@<unix seconds>`, or `0` for never.
    #[arg(long, value_parser = keys::parse_time)]
    pub expires: Option<i64>,
    /// Not valid before: a duration from now, `@<unix seconds>` (`-1h` for an hour ago).
    #[arg(long, value_parser = keys::parse_time, allow_hyphen_values = true)]
    pub not_before: Option<i64>,
    /// Issued at (`@<unix seconds>`, or `-1h`); defaults to now.
    #[arg(long, value_parser = keys::parse_time, allow_hyphen_values = true, hide = true)]
    pub issued_at: Option<i64>,
    /// Write the JWT to this file instead of printing it.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

impl Common {
    fn apply<N>(&self, c: &mut Claims<N>) {
        if let Some(name) = &self.name {
            c.name.clone_from(name);
        }
        c.expires = self.expires.unwrap_or(0);
        c.not_before = self.not_before.unwrap_or(0);
        c.issued_at = self.issued_at.unwrap_or(0);
    }
}

#[derive(Debug, Subcommand)]
pub enum JwtCommand {
    /// Make a self-signed operator JWT.
    Operator {
        /// The operator's seed file.
        #[arg(long)]
        seed: PathBuf,
        /// Other operator keys that may sign accounts.
        #[arg(long = "signing-key")]
        signing_keys: Vec<String>,
        /// The system account's public key.
        #[arg(long)]
        system_account: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Make an account JWT signed by its operator (or an operator signing key).
    Account(Box<AccountArgs>),
    /// Make a user JWT signed by its account (or an account signing key).
    User(Box<UserArgs>),
    /// Verify a JWT's signature and print its claims as JSON.
    Show {
        /// A file holding the JWT (a `.creds` or decorated file too), or `-` for standard input.
        file: PathBuf,
    },
    /// Print the server config for an operator and its accounts (resolver: MEMORY).
    Resolver {
        /// The operator JWT file.
        #[arg(long)]
        operator: PathBuf,
        /// Account JWT files to preload.
        #[arg(long = "account")]
        accounts: Vec<PathBuf>,
        /// The system account's public key.
        #[arg(long)]
        system_account: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AccountArgs {
    /// The account's public key (or a file with it or its seed).
    #[arg(long)]
    pub account: String,
    /// Seed file of the operator or of an operator signing key.
    #[arg(long)]
    pub signer: PathBuf,
    /// Account signing keys (may sign users).
    #[arg(long = "signing-key")]
    pub signing_keys: Vec<String>,
    /// Connections at once (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub conn: i64,
    /// Subscriptions per connection (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub subs: i64,
    /// Largest message payload in bytes (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub payload: i64,
    /// Data limit in bytes (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub data: i64,
    /// Users of this account may not use bearer tokens.
    #[arg(long)]
    pub disallow_bearer: bool,
    /// Export a stream (subject, wildcards allowed).
    #[arg(long = "export-stream")]
    pub export_streams: Vec<String>,
    /// Export a service.
    #[arg(long = "export-service")]
    pub export_services: Vec<String>,
    /// Import a stream: ACCOUNT:SUBJECT[:PREFIX].
    #[arg(long = "import-stream")]
    pub import_streams: Vec<String>,
    /// Import a service: ACCOUNT:SUBJECT[:LOCAL_SUBJECT].
    #[arg(long = "import-service")]
    pub import_services: Vec<String>,
    /// Revoke a user's JWTs issued until now (or until @UNIX): USER[@UNIX]. `*` for all.
    #[arg(long = "revoke")]
    pub revocations: Vec<String>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The user's public key (or a file with it or its seed).
    #[arg(long)]
    pub user: String,
    /// Seed file of the account or of an account signing key.
    #[arg(long)]
    pub signer: PathBuf,
    /// The account, when the signer is one of its signing keys.
    #[arg(long)]
    pub account: Option<String>,
    /// Subjects the user may publish to.
    #[arg(long = "pub-allow")]
    pub pub_allow: Vec<String>,
    #[arg(long = "pub-deny")]
    pub pub_deny: Vec<String>,
    /// Subjects the user may subscribe to.
    #[arg(long = "sub-allow")]
    pub sub_allow: Vec<String>,
    #[arg(long = "sub-deny")]
    pub sub_deny: Vec<String>,
    /// May publish this many replies to each request it receives.
    #[arg(long)]
    pub allow_responses: Option<i64>,
    /// How long a reply stays allowed (with --allow-responses), e.g. 2m.
    #[arg(long, value_parser = keys::parse_duration)]
    pub response_ttl: Option<i64>,
    /// Networks the user may connect from (CIDR).
    #[arg(long = "src")]
    pub src: Vec<String>,
    /// Daily windows the user may connect in, HH:MM:SS-HH:MM:SS (server local time).
    #[arg(long = "time")]
    pub times: Vec<String>,
    /// The zone of --time windows (UTC, or empty for the server's local time).
    #[arg(long)]
    pub times_location: Option<String>,
    /// Subscriptions (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub subs: i64,
    /// Largest payload (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub payload: i64,
    /// Data limit (-1: no limit).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub data: i64,
    /// A bearer token: the JWT alone logs in, no signature of the nonce.
    #[arg(long)]
    pub bearer: bool,
    #[command(flatten)]
    pub common: Common,
}

fn sign<N>(claims: &mut Claims<N>, signer: &Path) -> Result<String>
where
    N: rnats_jwt::ClaimKind + serde::Serialize,
{
    let kp = keys::read_seed(signer)?;
    rnats_jwt::encode(claims, &kp, rnats_jwt::now_unix()).map_err(|e| e.to_string())
}

fn split_import(spec: &str, what: &str) -> Result<(String, String, String)> {
    let mut parts = spec.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(s), rest) if !a.is_empty() && !s.is_empty() => Ok((
            keys::public_key(a, KeyPairType::Account)?,
            s.to_string(),
            rest.unwrap_or("").to_string(),
        )),
        _ => Err(format!("{what} {spec:?}: expected ACCOUNT:SUBJECT[:...]")),
    }
}

pub fn make_account(a: &AccountArgs) -> Result<String> {
    let mut c = AccountClaims::new_account(keys::public_key(&a.account, KeyPairType::Account)?);
    a.common.apply(&mut c);
    let limits = &mut c.nats.limits;
    limits.conn = a.conn;
    limits.nats.subs = a.subs;
    limits.nats.payload = a.payload;
    limits.nats.data = a.data;
    limits.disallow_bearer = a.disallow_bearer;
    for k in &a.signing_keys {
        c.nats.signing_keys.push(SigningKey::Plain(keys::public_key(
            k,
            KeyPairType::Account,
        )?));
    }
    for (subjects, kind) in [
        (&a.export_streams, ExportType::Stream),
        (&a.export_services, ExportType::Service),
    ] {
        for s in subjects {
            c.nats.exports.push(Export {
                subject: s.clone(),
                kind,
                ..Export::default()
            });
        }
    }
    for spec in &a.import_streams {
        let (account, subject, prefix) = split_import(spec, "--import-stream")?;
        c.nats.imports.push(Import {
            subject,
            account,
            to: prefix,
            kind: ExportType::Stream,
            ..Import::default()
        });
    }
    for spec in &a.import_services {
        let (account, subject, local) = split_import(spec, "--import-service")?;
        c.nats.imports.push(Import {
            subject,
            account,
            local_subject: local,
            kind: ExportType::Service,
            ..Import::default()
        });
    }
    for spec in &a.revocations {
        let (key, at) = match spec.split_once('@') {
            Some((k, t)) => (
                k,
                t.parse::<i64>()
                    .map_err(|_| format!("--revoke {spec:?}: bad time"))?,
            ),
            None => (spec.as_str(), rnats_jwt::now_unix()),
        };
        let key = if key == "*" {
            key.to_string()
        } else {
            keys::public_key(key, KeyPairType::User)?
        };
        c.nats.revocations.insert(key, at);
    }
    sign(&mut c, &a.signer)
}

pub fn make_user(u: &UserArgs) -> Result<String> {
    let mut c = UserClaims::new_user(keys::public_key(&u.user, KeyPairType::User)?);
    u.common.apply(&mut c);
    if let Some(account) = &u.account {
        c.nats.issuer_account = keys::public_key(account, KeyPairType::Account)?;
    }
    let l = &mut c.nats.limits;
    l.permissions.publish.allow.clone_from(&u.pub_allow);
    l.permissions.publish.deny.clone_from(&u.pub_deny);
    l.permissions.subscribe.allow.clone_from(&u.sub_allow);
    l.permissions.subscribe.deny.clone_from(&u.sub_deny);
    if u.allow_responses.is_some() || u.response_ttl.is_some() {
        l.permissions.response = Some(ResponsePermission {
            max_msgs: u.allow_responses.unwrap_or(1),
            ttl_nanos: u.response_ttl.unwrap_or(0).saturating_mul(1_000_000_000),
        });
    }
    l.src.clone_from(&u.src);
    for t in &u.times {
        let (start, end) = t
            .split_once('-')
            .ok_or_else(|| format!("--time {t:?}: expected HH:MM:SS-HH:MM:SS"))?;
        l.times.push(TimeRange {
            start: start.to_string(),
            end: end.to_string(),
        });
    }
    if let Some(loc) = &u.times_location {
        l.locale.clone_from(loc);
    }
    l.limits.subs = u.subs;
    l.limits.payload = u.payload;
    l.limits.data = u.data;
    l.bearer_token = u.bearer;
    sign(&mut c, &u.signer)
}

fn read_jwt(path: &Path) -> Result<String> {
    let text = if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    Ok(rnats_jwt::parse_decorated_jwt(&text))
}

fn show(path: &Path) -> Result<()> {
    let jwt = read_jwt(path)?;
    let kind = rnats_jwt::kind_of(&jwt).map_err(|e| e.to_string())?;
    let json = match kind.as_str() {
        "operator" => serde_json::to_string_pretty(
            &rnats_jwt::decode_operator(&jwt).map_err(|e| e.to_string())?,
        ),
        "account" => serde_json::to_string_pretty(
            &rnats_jwt::decode_account(&jwt).map_err(|e| e.to_string())?,
        ),
        "user" => {
            serde_json::to_string_pretty(&rnats_jwt::decode_user(&jwt).map_err(|e| e.to_string())?)
        }
        other => return Err(format!("a {other:?} JWT (its signature verifies)")),
    }
    .map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// The `operator` / `system_account` / `resolver: MEMORY` /
/// `resolver_preload` config for an operator and its accounts.
pub fn resolver_config(
    operator: &str,
    accounts: &[String],
    system_account: Option<&str>,
) -> Result<String> {
    let op: OperatorClaims = rnats_jwt::decode_operator(operator).map_err(|e| e.to_string())?;
    let mut out = String::new();
    out.push_str(&format!("# Operator {:?}\n", op.name));
    out.push_str(&format!("operator: {operator}\n"));
    let sys = system_account
        .map(str::to_string)
        .or_else(|| (!op.nats.system_account.is_empty()).then(|| op.nats.system_account.clone()));
    if let Some(sys) = sys {
        out.push_str(&format!("system_account: {sys}\n"));
    }
    out.push_str("\nresolver: MEMORY\n\nresolver_preload: {\n");
    for jwt in accounts {
        let acc = rnats_jwt::decode_account(jwt).map_err(|e| e.to_string())?;
        if !op.did_sign(&acc.issuer) {
            return Err(format!(
                "account {} ({:?}) is not signed by this operator",
                acc.subject, acc.name
            ));
        }
        if !acc.name.is_empty() {
            out.push_str(&format!("  # Account {:?}\n", acc.name));
        }
        out.push_str(&format!("  {}: {}\n", acc.subject, jwt));
    }
    out.push_str("}\n");
    Ok(out)
}

pub fn run(args: &JwtArgs) -> Result<()> {
    match &args.command {
        JwtCommand::Operator {
            seed,
            signing_keys,
            system_account,
            common,
        } => {
            let kp = keys::read_seed(seed)?;
            let mut c = OperatorClaims::new(kp.public_key());
            common.apply(&mut c);
            for k in signing_keys {
                c.nats
                    .signing_keys
                    .push(keys::public_key(k, KeyPairType::Operator)?);
            }
            if let Some(sys) = system_account {
                c.nats.system_account = keys::public_key(sys, KeyPairType::Account)?;
            }
            let jwt =
                rnats_jwt::encode(&mut c, &kp, rnats_jwt::now_unix()).map_err(|e| e.to_string())?;
            keys::output(common.out.as_deref(), &format!("{jwt}\n"))
        }
        JwtCommand::Account(a) => {
            let jwt = make_account(a)?;
            keys::output(a.common.out.as_deref(), &format!("{jwt}\n"))
        }
        JwtCommand::User(u) => {
            let jwt = make_user(u)?;
            keys::output(u.common.out.as_deref(), &format!("{jwt}\n"))
        }
        JwtCommand::Show { file } => show(file),
        JwtCommand::Resolver {
            operator,
            accounts,
            system_account,
        } => {
            let op = read_jwt(operator)?;
            let accounts = accounts
                .iter()
                .map(|p| read_jwt(p))
                .collect::<Result<Vec<_>>>()?;
            let sys = match system_account {
                Some(s) => Some(keys::public_key(s, KeyPairType::Account)?),
                None => None,
            };
            print!("{}", resolver_config(&op, &accounts, sys.as_deref())?);
            Ok(())
        }
    }
}
