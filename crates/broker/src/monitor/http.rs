//! The monitoring listener: HTTP/1.1 (hyper) on the broker's runtime, plain or over the
//! server's TLS certificate, routing nats-server's paths under `http_base_path`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::connz::{ConnzOptions, ConnzState, Sort, connz};
use super::endpoints::{self, SubszOptions};
use super::query::Query;
use crate::server::ServerError;
use crate::state::ServerState;

/// How long a client may take to send its request headers (nats-server: 5 s).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The bound monitoring listener, before it serves.
pub(crate) struct MonitorListener {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The address bound (with the real port when 0 was asked for).
    pub(crate) addr: SocketAddr,
}

impl MonitorListener {
    /// `http` or `https`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// Opens the monitoring listener the configuration asks for (`None`: monitoring is off).
/// Refuses, as nats-server, both ports at once, HTTPS without `tls {}`, and a port it cannot
/// bind.
pub(crate) async fn bind(
    config: &rnats_config::ServerConfig,
) -> Result<Option<MonitorListener>, ServerError> {
    let (port, secure) = match (config.http_port, config.https_port) {
        (None, None) => return Ok(None),
        (Some(http), Some(https)) => {
            return Err(ServerError::Config(format!(
                "can't specify both HTTP ({}) and HTTPs ({}) ports",
                shown_port(http),
                shown_port(https)
            )));
        }
        (Some(port), None) => (port, false),
        (None, Some(port)) => (port, true),
    };
    let tls = if secure {
        let Some(options) = &config.tls else {
            return Err(ServerError::Config(
                "TLS cert and key required for HTTPS".to_owned(),
            ));
        };
        // The monitoring port never asks for a client certificate (nats-server).
        let mut options = options.clone();
        options.verify = false;
        options.verify_and_map = false;
        options.pinned_certs.clear();
        let tls = rnats_tls::server_config(&options)
            .map_err(|e| ServerError::Config(format!("TLS: {e}")))?;
        Some(tokio_rustls::TlsAcceptor::from(tls))
    } else {
        None
    };
    let host = config.http_host.as_deref().unwrap_or(&config.host);
    let listener = crate::listen::listen(host, port).await.map_err(|e| {
        ServerError::Config(format!(
            "can't listen to the monitor port: listen tcp {}: {e}",
            crate::listen::join_host_port(host, port)
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Config(format!("can't listen to the monitor port: {e}")))?;
    Ok(Some(MonitorListener {
        listener,
        tls,
        addr,
    }))
}

fn shown_port(port: u16) -> i64 {
    if port == 0 { -1 } else { i64::from(port) }
}

/// Serves monitoring requests until the server shuts down.
pub(crate) async fn serve(state: Arc<ServerState>, listener: MonitorListener) {
    let MonitorListener { listener, tls, .. } = listener;
    let shutdown = state.shutdown.clone();
    loop {
        let (tcp, _) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::error!("monitoring: accept error: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let served = async {
                match tls {
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(tcp)).await;
                        if let Ok(Ok(stream)) = handshake {
                            serve_connection(state, TokioIo::new(stream)).await;
                        }
                    }
                    None => serve_connection(state, TokioIo::new(tcp)).await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = served => {}
            }
        });
    }
}

async fn serve_connection<I>(state: Arc<ServerState>, io: I)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(route(&state, &req)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service)
        .await;
}

/// nats-server's base path: a leading `/`, cleaned, `/` when empty.
fn base_path(configured: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in configured.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The endpoint `path` names under `base`, as nats-server counts it in `http_req_stats`.
fn endpoint(base: &str, path: &str) -> Option<&'static str> {
    const PATHS: [&str; 9] = [
        "/varz",
        "/connz",
        "/subsz",
        "/subscriptionsz",
        "/accountz",
        "/accstatz",
        "/healthz",
        "/explainz",
        "/metrics",
    ];
    if path == base {
        return Some("/");
    }
    let rest = if base == "/" {
        path
    } else {
        path.strip_prefix(base)?
    };
    PATHS.into_iter().find(|p| *p == rest)
}

fn route(state: &Arc<ServerState>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let base = base_path(&state.config().http_base_path);
    let Some(path) = endpoint(&base, req.uri().path()) else {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    if path == "/metrics" {
        // An rnats extension: not counted in `/varz`'s `http_req_stats`, which lists
        // nats-server's endpoints only.
        return Response::builder()
            .header(CONTENT_TYPE, super::metrics::CONTENT_TYPE)
            .body(Full::new(Bytes::from(super::metrics::render(state))))
            .unwrap_or_default();
    }
    let query = Query::parse(req.uri().query());
    if path == "/explainz" {
        // An rnats extension too: not counted either.
        return explainz(state, &query);
    }
    let counted = if path == "/subscriptionsz" {
        "/subsz"
    } else {
        path
    };
    state.monitor.count_request(counted);
    let result = match path {
        "/" => {
            return Response::builder()
                .header(CONTENT_TYPE, "text/html; charset=utf-8")
                .body(Full::new(Bytes::from(endpoints::index(
                    crate::info::COMPAT_VERSION,
                ))))
                .unwrap_or_default();
        }
        "/varz" => Ok::<_, String>(pretty(&endpoints::varz(state))),
        "/connz" => connz_options(&query).and_then(|o| connz(state, &o).map(|c| pretty(&c))),
        "/subsz" | "/subscriptionsz" => {
            subsz_options(&query).and_then(|o| endpoints::subsz(state, &o).map(|s| pretty(&s)))
        }
        "/accountz" => endpoints::accountz(state, query.get("acc")).map(|a| pretty(&a)),
        "/accstatz" => query
            .bool("unused")
            .map(|unused| pretty(&endpoints::accstatz(state, unused, &[]))),
        _ => healthz_check(&query)
            .map(|()| serde_json::to_vec(&endpoints::healthz()).unwrap_or_default()),
    };
    match result {
        Ok(body) => Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .header(ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default(),
        Err(message) => text(StatusCode::BAD_REQUEST, &message),
    }
}

/// `/explainz?cid=N|user=NAME&subject=S[&queue=Q]` (an rnats extension): which rule allows or
/// denies publishing and subscribing, as the `$SYS` EXPLAIN request answers it.
fn explainz(state: &ServerState, query: &Query) -> Response<Full<Bytes>> {
    let cid = match query.get("cid") {
        "" => None,
        s => match s.parse::<u64>() {
            Ok(cid) => Some(cid),
            Err(_) => return text(StatusCode::BAD_REQUEST, "cid must be a connection id"),
        },
    };
    let optional = |key: &str| Some(query.get(key).to_owned()).filter(|v| !v.is_empty());
    let request = crate::explain::ExplainRequest {
        cid,
        user: optional("user"),
        subject: query.get("subject").to_owned(),
        queue: optional("queue"),
    };
    match crate::explain::explain(state, &request) {
        Ok(answer) => Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(pretty(&answer))))
            .unwrap_or_default(),
        Err(e) => text(
            StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
            &e.description,
        ),
    }
}

/// `/healthz`'s flags must parse; with no JetStream here, each check passes.
fn healthz_check(query: &Query) -> Result<(), String> {
    for flag in [
        "js-enabled",
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
        "details",
    ] {
        query.bool(flag)?;
    }
    Ok(())
}

fn connz_options(query: &Query) -> Result<ConnzOptions, String> {
    let sort_name = query.get("sort");
    let subs_detail = query.get("subs").eq_ignore_ascii_case("detail");
    let state = match query.get("state").to_ascii_lowercase().as_str() {
        "" | "open" => ConnzState::Open,
        "closed" => ConnzState::Closed,
        "any" | "all" => ConnzState::All,
        other => return Err(format!("Error decoding state for {other}")),
    };
    let opts = ConnzOptions {
        auth: query.bool("auth")?,
        subs: !subs_detail && query.bool("subs")?,
        subs_detail,
        offset: query.int("offset")?,
        limit: query.int("limit")?,
        cid: query.uint("cid")?,
        state,
        user: query.get("user").to_owned(),
        account: query.get("acc").to_owned(),
        sort: Sort::parse(sort_name)
            .ok_or_else(|| format!("invalid sorting option: {sort_name}"))?,
        // nats-server reads `filter_subject` only from `$SYS` requests, not from HTTP.
        filter_subject: String::new(),
    };
    Ok(opts)
}

fn subsz_options(query: &Query) -> Result<SubszOptions, String> {
    Ok(SubszOptions {
        subs: query.bool("subs")?,
        offset: query.int("offset")?,
        limit: query.int("limit")?,
        account: query.get("acc").to_owned(),
        test: query.get("test").to_owned(),
    })
}

/// JSON indented by two spaces, as nats-server's `json.MarshalIndent`.
fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_and_endpoints() {
        assert_eq!(base_path(""), "/");
        assert_eq!(base_path("nats/"), "/nats");
        assert_eq!(base_path("/a//b/../c"), "/a/c");
        assert_eq!(endpoint("/", "/"), Some("/"));
        assert_eq!(endpoint("/", "/varz"), Some("/varz"));
        assert_eq!(endpoint("/", "/varz/"), None);
        assert_eq!(endpoint("/nats", "/nats"), Some("/"));
        assert_eq!(endpoint("/nats", "/nats/connz"), Some("/connz"));
        assert_eq!(endpoint("/nats", "/connz"), None);
        assert_eq!(endpoint("/", "/bogus"), None);
        assert_eq!(endpoint("/nats", "/nats/metrics"), Some("/metrics"));
    }
}
