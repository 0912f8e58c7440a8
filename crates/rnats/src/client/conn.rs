//! The connection `pub`, `sub`, `req` and `reply` make: the server list, the login (flags, or
//! the credentials written in the URL), TLS, and the errors the server reports while it runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::{
    Client, ConnectErrorKind, ConnectOptions, Event, RequestErrorKind, ServerAddr, ServerError,
};
use clap::Args;
use tokio::sync::watch;

use crate::keys::{self, Result};

pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// How long a round trip to the server (see [`Connection::round_trip`]) may take.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how to connect: the flags every client subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// The server URL, or several separated by commas:
    /// nats://[user:password@|token@]host[:port] (tls:// to require TLS).
    #[arg(short = 's', long, value_name = "URL", default_value = DEFAULT_SERVER)]
    pub server: String,

    /// User name to log in with (instead of one in the URL).
    #[arg(long, value_name = "USER", conflicts_with = "token")]
    pub user: Option<String>,

    /// Password of --user.
    #[arg(long, value_name = "PASSWORD", requires = "user")]
    pub password: Option<String>,

    /// Token to log in with (instead of one in the URL).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,

    /// User credentials file: a user JWT and its seed (from `rnats creds`).
    #[arg(long, value_name = "FILE", conflicts_with = "nkey")]
    pub creds: Option<PathBuf>,

    /// Log in with the NKey whose seed is in this file (from `rnats nkey gen user`).
    #[arg(long, value_name = "SEEDFILE")]
    pub nkey: Option<PathBuf>,

    /// Require TLS and trust this CA certificate (PEM) for the server's.
    #[arg(long, value_name = "FILE")]
    pub tlsca: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tlskey")]
    pub tlscert: Option<PathBuf>,

    /// Private key (PEM) of --tlscert.
    #[arg(long, value_name = "FILE", requires = "tlscert")]
    pub tlskey: Option<PathBuf>,
}

/// A login taken from a server URL.
#[derive(Debug, PartialEq, Eq)]
enum UrlLogin {
    UserPassword(String, String),
    Token(String),
}

/// A connected client, and what the server has reported since.
pub struct Connection {
    pub client: Client,
    /// The server's `-ERR` texts, in the order they came.
    errors: watch::Receiver<Vec<String>>,
    /// Once set, server errors are printed as they come instead of being returned.
    live: Arc<AtomicBool>,
    /// How many errors had come when the command went live (those after were printed).
    live_from: Option<usize>,
    /// Whether [`Self::round_trip`] has sent a probe (errors about `_INBOX.` subjects are then
    /// taken to be about the probe).
    probed: bool,
}

impl Connection {
    /// Connects as `args` say; `command` names the subcommand in messages.
    pub async fn open(args: &ConnArgs, command: &'static str) -> Result<Connection> {
        let servers = parse_servers(&args.server)?;
        let mut options = ConnectOptions::new().name(format!("rnats {command}"));

        if let Some(token) = &args.token {
            options = options.token(token.clone());
        } else if let Some(user) = &args.user {
            let password = args.password.clone().unwrap_or_default();
            options = options.user_and_password(user.clone(), password);
        } else {
            // async-nats does not send the credentials of a URL itself.
            match url_login(&servers)? {
                Some(UrlLogin::UserPassword(user, password)) => {
                    options = options.user_and_password(user, password)
                }
                Some(UrlLogin::Token(token)) => options = options.token(token),
                None => {}
            }
        }
        if let Some(path) = &args.creds {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        if let Some(path) = &args.nkey {
            let seed = keys::read_seed(path)?.seed().map_err(|e| e.to_string())?;
            options = options.nkey(seed);
        }
        if let Some(ca) = &args.tlsca {
            readable(ca)?;
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&args.tlscert, &args.tlskey) {
            readable(cert)?;
            readable(key)?;
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }

        let (errors_tx, errors) = watch::channel(Vec::new());
        let live = Arc::new(AtomicBool::new(false));
        options = options.event_callback(event_handler(command, errors_tx, live.clone()));

        let shown = shown(&servers);
        let client = options.connect(servers).await.map_err(|e| match e.kind() {
            // Its text would say so twice.
            ConnectErrorKind::AuthorizationViolation => {
                format!("cannot connect to {shown}: authorization violation")
            }
            _ => format!("cannot connect to {shown}: {e}"),
        })?;
        Ok(Connection {
            client,
            errors,
            live,
            live_from: None,
            probed: false,
        })
    }

    /// From now on, print the server's errors as they come (a long-running command).
    pub fn go_live(&mut self) {
        self.live.store(true, Ordering::SeqCst);
        self.live_from = Some(self.errors.borrow().len());
    }

    /// Waits until the server has processed everything sent so far, then fails with the first
    /// error it reported (a permissions violation, say).
    ///
    /// async-nats's `flush` only writes the socket, so the round trip is a request to a new
    /// inbox nobody listens on: the server answers it with "no responders" after all that came
    /// before. Should the server refuse the probe itself (no permission for `_INBOX.>`), its
    /// error says so, and that is as good an answer.
    pub async fn round_trip(&mut self) -> Result<()> {
        let probe = self.client.new_inbox();
        self.probed = true;
        let client = self.client.clone();
        let mut errors = self.errors.clone();
        let before = errors.borrow().len();
        let wait = async {
            client
                .flush()
                .await
                .map_err(|e| format!("cannot write to the server: {e}"))?;
            tokio::select! {
                answer = client.request(probe.clone(), bytes::Bytes::new()) => match answer {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
                    Err(e) => Err(format!("no answer from the server: {e}")),
                },
                _ = errors.wait_for(|errors| errors[before..].iter().any(|e| e.contains("_INBOX."))) => Ok(()),
            }
        };
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, wait)
            .await
            .map_err(|_| {
                format!(
                    "no answer from the server within {}s",
                    ROUND_TRIP_TIMEOUT.as_secs()
                )
            })??;
        // The server's errors reach the watch through the client's event task, which was woken
        // before this one: let it run.
        tokio::task::yield_now().await;
        self.check()
    }

    /// The first error the server reported, other than about a probe of [`Self::round_trip`]
    /// or printed already (see [`Self::go_live`]).
    pub fn check(&self) -> Result<()> {
        let errors = self.errors.borrow();
        let returned = &errors[..self.live_from.unwrap_or(errors.len())];
        match returned
            .iter()
            .find(|e| !(self.probed && e.contains("_INBOX.")))
        {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Resolves with the first error the server reports (for `select!` against a request).
    pub async fn server_error(&self) -> String {
        let mut errors = self.errors.clone();
        match errors.wait_for(|errors| !errors.is_empty()).await {
            Ok(errors) => errors[0].clone(),
            // The client is gone: what it was waiting for will say so.
            Err(_) => std::future::pending().await,
        }
    }
}

/// The event callback: server errors are collected (and printed once the command is live);
/// disconnections, reconnections, slow consumers and lame duck mode are told on stderr.
fn event_handler(
    command: &'static str,
    errors: watch::Sender<Vec<String>>,
    live: Arc<AtomicBool>,
) -> impl Fn(Event) -> std::future::Ready<()> + Send + Sync + 'static {
    let disconnected = AtomicBool::new(false);
    move |event| {
        match event {
            Event::ServerError(error) => {
                let text = match error {
                    ServerError::AuthorizationViolation => "authorization violation".to_string(),
                    ServerError::SlowConsumer(sid) => {
                        format!("subscription {sid} is a slow consumer")
                    }
                    ServerError::Other(text) => text,
                };
                if live.load(Ordering::SeqCst) {
                    eprintln!("rnats {command}: server error: {text}");
                }
                errors.send_modify(|errors| errors.push(text));
            }
            Event::Disconnected => {
                disconnected.store(true, Ordering::SeqCst);
                eprintln!("rnats {command}: disconnected, reconnecting");
            }
            Event::Connected => {
                if disconnected.swap(false, Ordering::SeqCst) {
                    eprintln!("rnats {command}: reconnected");
                }
            }
            Event::SlowConsumer(_) => {
                eprintln!("rnats {command}: messages dropped: too slow to keep up")
            }
            Event::LameDuckMode => eprintln!("rnats {command}: the server is shutting down"),
            // Each failed reconnection attempt: "disconnected, reconnecting" said enough.
            Event::ClientError(_) | Event::Draining | Event::Closed => {}
        }
        std::future::ready(())
    }
}

/// `nats://a:4222,nats://b:4222` → the addresses, each checked.
fn parse_servers(list: &str) -> Result<Vec<ServerAddr>> {
    let servers = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ServerAddr>()
                .map_err(|e| format!("bad server URL {s:?}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    if servers.is_empty() {
        return Err("no server URL given".into());
    }
    Ok(servers)
}

/// The login written in the first URL that has one: `user:password@` or `token@`.
fn url_login(servers: &[ServerAddr]) -> Result<Option<UrlLogin>> {
    let Some(server) = servers.iter().find(|s| s.has_user_pass()) else {
        return Ok(None);
    };
    let user = percent_decode(server.username().unwrap_or_default())?;
    Ok(Some(match server.password() {
        Some(password) => UrlLogin::UserPassword(user, percent_decode(password)?),
        None => UrlLogin::Token(user),
    }))
}

/// The URL parser keeps `%XX` escapes in the user and password: undo them.
fn percent_decode(s: &str) -> Result<String> {
    String::from_utf8(rnats_proto::url::percent_decode(s))
        .map_err(|_| "the credentials in the server URL are not UTF-8".into())
}

/// The servers for messages, without credentials.
fn shown(servers: &[ServerAddr]) -> String {
    servers
        .iter()
        .map(|s| {
            let host = s.host();
            if host.contains(':') {
                format!("{}://[{host}]:{}", s.scheme(), s.port())
            } else {
                format!("{}://{host}:{}", s.scheme(), s.port())
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The servers of a `-s` list for messages, without credentials (the list as given if it
/// does not parse).
pub fn shown_servers(list: &str) -> String {
    parse_servers(list).map_or_else(|_| list.to_string(), |servers| shown(&servers))
}

/// A clear message for a missing TLS file (the client's own says little).
fn readable(path: &Path) -> Result<()> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(url: &str) -> Option<UrlLogin> {
        url_login(&parse_servers(url).unwrap()).unwrap()
    }

    #[test]
    fn credentials_come_out_of_the_url() {
        assert_eq!(login("nats://127.0.0.1:4222"), None);
        assert_eq!(
            login("nats://alice:s3cret@127.0.0.1:4222"),
            Some(UrlLogin::UserPassword("alice".into(), "s3cret".into()))
        );
        assert_eq!(
            login("nats://t0ken@localhost"),
            Some(UrlLogin::Token("t0ken".into()))
        );
        assert_eq!(
            login("nats://a%40b:p%3Ass%25@host"),
            Some(UrlLogin::UserPassword("a@b".into(), "p:ss%".into()))
        );
        // The first URL that has a login gives it.
        assert_eq!(
            login("nats://a:4222, nats://bob:pw@b:4222"),
            Some(UrlLogin::UserPassword("bob".into(), "pw".into()))
        );
    }

    #[test]
    fn server_lists() {
        let servers = parse_servers("nats://u:p@a:1,b, tls://[::1]:3").unwrap();
        assert_eq!(shown(&servers), "nats://a:1,nats://b:4222,tls://[::1]:3");
        assert!(parse_servers(" , ").is_err());
        assert!(parse_servers("http://a").is_err());
        assert!(parse_servers("nats://a:notaport").is_err());
    }

    #[test]
    fn percent_escapes() {
        assert_eq!(percent_decode("a%41%zz%4").unwrap(), "aA%zz%4");
        assert_eq!(percent_decode("%E2%82%AC").unwrap(), "€");
        assert!(percent_decode("%FF").is_err());
    }
}
