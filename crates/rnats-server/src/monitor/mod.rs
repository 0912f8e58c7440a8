//! HTTP monitoring, as nats-server serves it on `http_port` (`-m`) and
//! `https_port` (`-ms`): the same paths, query parameters and JSON (keys,
//! types, units, time formats), pretty-printed as nats-server prints it,
//! and `/metrics` in the Prometheus text format, which nats-server has not.
//!
//! Each endpoint is a function from the server's state to a serde value in
//! its own file (`varz`, `connz`, `routez`, `subsz`, `accountz`,
//! `healthz`, `metrics`), so the system account's `$SYS.REQ.SERVER.*`
//! requests answer with the very same JSON. This file owns the listener:
//! hyper's HTTP/1 connections, the routing of paths under
//! `http_base_path`, the query parameters, JSONP (`?callback=`), and the
//! per-path request counts `/varz` reports.
//!
//! **Owns**: the monitoring listener and the shape of every endpoint's
//! answer. **May not touch**: the connections it reports on; it only reads
//! snapshots (`Client` counters, `ServerShared::clients`, account indexes).

pub mod accountz;
pub mod connz;
pub mod format;
pub mod healthz;
pub mod jsz;
pub mod metrics;
pub mod routez;
pub mod subsz;
pub mod varz;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, info};

use crate::server::ServerShared;
use crate::sync::lock;

/// The endpoints, by path (without the base path), as nats-server names
/// them in `http_req_stats`.
pub const PATHS: &[&str] = &[
    "/",
    "/varz",
    "/connz",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/subsz",
    "/subscriptionsz",
    "/accountz",
    "/accstatz",
    "/healthz",
    "/jsz",
    "/metrics",
];

/// The monitoring listeners that were started, for logs and tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct Listening {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
}

/// Binds the monitoring ports the options ask for and serves them until
/// the server stops (the tasks end with the runtime).
pub(crate) async fn start(shared: &Arc<ServerShared>) -> io::Result<Listening> {
    let opts = shared.opts();
    let monitor = &opts.monitor;
    let host = if monitor.host.is_empty() {
        opts.host.clone()
    } else {
        monitor.host.clone()
    };
    let mut listening = Listening::default();
    let bind = |port: i32| (host.clone(), if port < 0 { 0 } else { port as u16 });
    if monitor.port != 0 {
        let listener = TcpListener::bind(bind(monitor.port)).await?;
        let addr = listener.local_addr()?;
        info!("Starting http monitor on {}", addr);
        listening.http = Some(addr);
        tokio::spawn(serve(shared.clone(), listener, None));
    }
    if monitor.https_port != 0 {
        let Some(tls) = shared.tls() else {
            return Err(io::Error::other(
                "Can't start HTTPS monitor, TLS is not configured",
            ));
        };
        let listener = TcpListener::bind(bind(monitor.https_port)).await?;
        let addr = listener.local_addr()?;
        info!("Starting https monitor on {}", addr);
        listening.https = Some(addr);
        tokio::spawn(serve(shared.clone(), listener, Some(tls.1.clone())));
    }
    Ok(listening)
}

/// Accepts monitoring connections, each served on a task of its own.
async fn serve(shared: Arc<ServerShared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                error!("Error accepting monitoring connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(answer(&shared, &req)) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let served = match tls {
                None => http.serve_connection(TokioIo::new(stream), service).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => http.serve_connection(TokioIo::new(stream), service).await,
                    Err(e) => {
                        debug!("{peer} - monitoring TLS handshake failed: {e}");
                        return;
                    }
                },
            };
            if let Err(e) = served {
                debug!("{peer} - monitoring connection ended: {e}");
            }
        });
    }
}

/// The query parameters of a request (the last of a repeated one wins
/// nothing: the first is kept, as Go's `Query().Get`).
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        let mut params = HashMap::new();
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            params
                .entry(k.into_owned())
                .or_insert_with(|| v.into_owned());
        }
        Params(params)
    }

    /// A parameter; empty when absent (as Go's `Query().Get`).
    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map_or("", String::as_str)
    }

    /// A Go `strconv.ParseBool` value; false when absent.
    pub fn bool(&self, key: &str) -> Result<bool, String> {
        match self.get(key) {
            "" => Ok(false),
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            other => Err(format!(
                "Error decoding boolean for '{key}': strconv.ParseBool: parsing {other:?}: invalid syntax"
            )),
        }
    }

    /// An integer; 0 when absent.
    pub fn int(&self, key: &str) -> Result<i64, String> {
        match self.get(key) {
            "" => Ok(0),
            text => text.parse().map_err(|_| {
                format!(
                    "Error decoding int for '{key}': strconv.Atoi: parsing {text:?}: invalid syntax"
                )
            }),
        }
    }

    /// An unsigned integer; 0 when absent.
    pub fn uint(&self, key: &str) -> Result<u64, String> {
        match self.get(key) {
            "" => Ok(0),
            text => text.parse().map_err(|_| {
                format!(
                    "Error decoding uint64 for '{key}': strconv.ParseUint: parsing {text:?}: invalid syntax"
                )
            }),
        }
    }

    /// `subs=1` (subjects) or `subs=detail`: (subs, detail).
    pub fn subs(&self) -> Result<(bool, bool), String> {
        if self.get("subs").eq_ignore_ascii_case("detail") {
            return Ok((false, true));
        }
        Ok((self.bool("subs")?, false))
    }
}

/// What an endpoint answers: a body, or a client error with its text.
pub enum Answer {
    Json(Vec<u8>),
    /// `/healthz` answers its JSON with the status it reports.
    JsonStatus(StatusCode, Vec<u8>),
    Text(&'static str, String),
    Html(String),
    BadRequest(String),
}

/// Serializes as nats-server does (`json.MarshalIndent` with two spaces).
pub fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_else(|e| {
        error!("Error marshaling monitoring response: {e}");
        Vec::new()
    })
}

/// The answer to one request, routed by path under `http_base_path`.
fn answer(shared: &Arc<ServerShared>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let opts = shared.opts();
    let base = opts.monitor.base_path.trim_end_matches('/');
    let path = req.uri().path();
    let Some(path) = path
        .strip_prefix(base)
        .filter(|p| p.is_empty() || p.starts_with('/'))
    else {
        return not_found();
    };
    let path = if path.is_empty() { "/" } else { path };
    let path = match path.len() > 1 {
        true => path.trim_end_matches('/'),
        false => path,
    };
    let Some(known) = PATHS.iter().find(|p| **p == path) else {
        return not_found();
    };
    *lock(&shared.http_requests)
        .entry(known.to_string())
        .or_default() += 1;
    let params = Params::parse(req.uri().query());
    let answer = match *known {
        "/" => Answer::Html(index_page(base)),
        "/varz" => Answer::Json(pretty(&varz::varz(shared))),
        "/connz" => match connz::Query::from_params(&params) {
            Ok(query) => match connz::connz(shared, &query) {
                Ok(connz) => Answer::Json(pretty(&connz)),
                Err(e) => Answer::BadRequest(e),
            },
            Err(e) => Answer::BadRequest(e),
        },
        "/routez" => match params.subs() {
            Ok((subs, detail)) => Answer::Json(pretty(&routez::routez(shared, subs, detail))),
            Err(e) => Answer::BadRequest(e),
        },
        "/subsz" | "/subscriptionsz" => match subsz::Query::from_params(&params) {
            Ok(query) => Answer::Json(pretty(&subsz::subsz(shared, &query))),
            Err(e) => Answer::BadRequest(e),
        },
        "/accountz" => Answer::Json(pretty(&accountz::accountz(
            shared,
            params.get("acc"),
            params.bool("unused").unwrap_or(false),
        ))),
        "/accstatz" => Answer::Json(pretty(&accountz::accstatz(
            shared,
            &[],
            params.bool("unused").unwrap_or(false),
        ))),
        "/gatewayz" => Answer::Json(pretty(&varz::gatewayz(shared))),
        "/leafz" => Answer::Json(pretty(&varz::leafz(shared))),
        "/jsz" => match jsz::Query::from_params(&params) {
            Ok(query) => Answer::Json(pretty(&jsz::jsz(shared, &query))),
            Err(e) => Answer::BadRequest(e),
        },
        "/healthz" => {
            let (status, body) = healthz::healthz(shared, &params);
            Answer::JsonStatus(status, body)
        }
        "/metrics" => Answer::Text(
            "text/plain; version=0.0.4; charset=utf-8",
            metrics::render(shared),
        ),
        _ => return not_found(),
    };
    respond(answer, params.get("callback"))
}

fn respond(answer: Answer, callback: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match answer {
        Answer::Json(body) => (StatusCode::OK, "application/json", body),
        Answer::JsonStatus(status, body) => (status, "application/json", body),
        Answer::Text(content_type, body) => (StatusCode::OK, content_type, body.into_bytes()),
        Answer::Html(body) => (StatusCode::OK, "text/html", body.into_bytes()),
        Answer::BadRequest(text) => (StatusCode::BAD_REQUEST, "text/plain", text.into_bytes()),
    };
    // JSONP, as nats-server: `callback(<json>)`.
    let (content_type, body) = match (content_type, callback.is_empty()) {
        ("application/json", false) => {
            let mut wrapped = Vec::with_capacity(body.len() + callback.len() + 2);
            wrapped.extend_from_slice(callback.as_bytes());
            wrapped.push(b'(');
            wrapped.extend_from_slice(&body);
            wrapped.push(b')');
            ("application/javascript", wrapped)
        }
        other => (other.0, body),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn not_found() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The small HTML page at `/`, linking every endpoint.
fn index_page(base: &str) -> String {
    let mut links = String::new();
    for (path, label) in [
        ("varz", "General"),
        ("connz", "Connections"),
        ("routez", "Routes"),
        ("gatewayz", "Gateways"),
        ("leafz", "Leaf Nodes"),
        ("subsz", "Subscriptions"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("healthz", "Health"),
        ("metrics", "Prometheus metrics"),
    ] {
        links.push_str(&format!("    <a href=\"{base}/{path}\">{label}</a>\n"));
    }
    format!(
        "<html lang=\"en\">\n  <head>\n    <style type=\"text/css\">\n      body {{ font-family: ui-sans-serif, sans-serif; }}\n      a {{ display: block; margin: 0.3em 0; }}\n    </style>\n  </head>\n  <body>\n    <h1>rnats-server {} (nats-server {} compatible)</h1>\n{links}    <a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">help</a>\n  </body>\n</html>\n",
        crate::server::VERSION,
        crate::server::COMPATIBLE_VERSION
    )
}
