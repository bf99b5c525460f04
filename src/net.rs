//! The transport: reqwest clients per source address (never following redirects), timeouts, and
//! the classification of what happened into an [`Outcome`].
//!
//! A conformance suite must tell a dropped connection (timeout) from a rejected one (refused) and
//! from a server that hung up (reset); "any error" would let a firewall that rejects pass for one
//! that drops.

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// What the transport saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP response arrived (its status).
    Response(u16),
    /// The TCP/TLS connection was not established in time (SYN unanswered).
    ConnectTimeout,
    /// Connected, but no complete response in time.
    ReadTimeout,
    /// The connection was refused (RST in answer to the SYN).
    Refused,
    /// The connection was reset or closed before a complete response.
    Reset,
    /// The TLS handshake failed.
    Tls(String),
    /// Anything else (DNS, invalid URL, local bind failure): the step could not run.
    Other(String),
}

impl Outcome {
    /// Returns true for both kinds of timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Outcome::ConnectTimeout | Outcome::ReadTimeout)
    }

    /// Returns the class name used in reports: `response`, `connect-timeout`, ….
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Response(_) => "response",
            Outcome::ConnectTimeout => "connect-timeout",
            Outcome::ReadTimeout => "read-timeout",
            Outcome::Refused => "refused",
            Outcome::Reset => "reset",
            Outcome::Tls(_) => "tls",
            Outcome::Other(_) => "other",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Response(status) => write!(f, "HTTP {status}"),
            Outcome::ConnectTimeout => f.write_str("connect timeout"),
            Outcome::ReadTimeout => f.write_str("timeout waiting for the response"),
            Outcome::Refused => f.write_str("refused"),
            Outcome::Reset => f.write_str("connection reset"),
            Outcome::Tls(detail) => write!(f, "TLS error: {detail}"),
            Outcome::Other(detail) => write!(f, "transport error: {detail}"),
        }
    }
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct ResponseData {
    /// The status code.
    pub status: u16,
    /// Headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body (truncated at [`MAX_BODY`]).
    pub body: Vec<u8>,
}

impl ResponseData {
    /// Returns every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Returns the body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Bodies are read up to this size; conformance checks never need more.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// One request's result.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What the transport saw.
    pub outcome: Outcome,
    /// The response, when one arrived.
    pub response: Option<ResponseData>,
    /// From sending to the outcome.
    pub elapsed: Duration,
}

/// Where requests leave from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceAddr {
    /// Let the OS choose.
    Any,
    /// Bind this local address.
    Bind(IpAddr),
    /// Go through this proxy.
    Proxy(String),
}

/// Clients per (source, connect timeout), built on first use and shared by a run.
#[derive(Debug, Default)]
pub struct ClientPool {
    clients: Mutex<HashMap<ClientKey, Arc<OnceCell<reqwest::Client>>>>,
}

/// What a client is built for.
type ClientKey = (SourceAddr, Duration);

impl ClientPool {
    /// Creates an empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the client for `source` with `connect_timeout`, building it once.
    ///
    /// Building a client loads the TLS roots (tens of milliseconds), so it happens on the blocking
    /// pool: done inline it would stall every other request of the run, and their timers with them.
    /// Scenarios asking at once wait for the one build rather than each building their own (a run
    /// starting dozens of scenarios together would otherwise build dozens of identical clients).
    pub async fn client(
        &self,
        source: &SourceAddr,
        connect_timeout: Duration,
    ) -> Result<reqwest::Client, String> {
        let cell = self
            .lock()
            .entry((source.clone(), connect_timeout))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let build_source = source.clone();
            tokio::task::spawn_blocking(move || build(&build_source, connect_timeout))
                .await
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?
        })
        .await
        .cloned()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Arc<OnceCell<reqwest::Client>>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn build(source: &SourceAddr, connect_timeout: Duration) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(concat!("authconform/", env!("CARGO_PKG_VERSION")));
    builder = match source {
        SourceAddr::Any => builder.no_proxy(),
        SourceAddr::Bind(ip) => builder.no_proxy().local_address(*ip),
        SourceAddr::Proxy(url) => builder.proxy(
            reqwest::Proxy::all(url.as_str()).map_err(|e| format!("invalid proxy `{url}`: {e}"))?,
        ),
    };
    builder
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Sends `request` and classifies what happens within `timeout` (connecting, sending, and reading
/// the whole body).
pub async fn send(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    timeout: Duration,
) -> Exchange {
    *request.timeout_mut() = Some(timeout);
    let started = Instant::now();
    let result = async {
        let response = client.execute(request).await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await? {
            let room = MAX_BODY.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= MAX_BODY {
                break;
            }
        }
        Ok::<_, reqwest::Error>(ResponseData {
            status,
            headers,
            body,
        })
    }
    .await;
    let elapsed = started.elapsed();
    match result {
        Ok(response) => Exchange {
            outcome: Outcome::Response(response.status),
            response: Some(response),
            elapsed,
        },
        Err(error) => Exchange {
            outcome: classify(&error),
            response: None,
            elapsed,
        },
    }
}

/// Classifies a reqwest error by walking its source chain.
pub fn classify(error: &reqwest::Error) -> Outcome {
    if error.is_timeout() {
        return if error.is_connect() {
            Outcome::ConnectTimeout
        } else {
            Outcome::ReadTimeout
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // `io::Error::source()` skips the error it wraps: look inside nested io errors for
            // rustls's own error (hyper-util wraps TLS failures as Other(InvalidData(rustls))).
            let mut inner: &(dyn std::error::Error + 'static) = io;
            while let Some(wrapped) = inner
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
            {
                inner = wrapped;
            }
            if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                return Outcome::Tls(tls.to_string());
            }
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return Outcome::Refused,
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    return Outcome::Reset;
                }
                TimedOut => {
                    return if error.is_connect() {
                        Outcome::ConnectTimeout
                    } else {
                        Outcome::ReadTimeout
                    };
                }
                _ => {}
            }
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Outcome::Tls(tls.to_string());
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled())
        {
            return Outcome::Reset;
        }
        source = cause.source();
    }
    let detail = chain_text(error);
    if detail.contains("tls") || detail.contains("certificate") || detail.contains("handshake") {
        return Outcome::Tls(detail);
    }
    Outcome::Other(detail)
}

/// Renders an error and its causes on one line, without the URL (which may carry query secrets).
fn chain_text(error: &reqwest::Error) -> String {
    let mut parts = vec![error.without_url_ref_text()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

trait WithoutUrlText {
    fn without_url_ref_text(&self) -> String;
}

impl WithoutUrlText for reqwest::Error {
    fn without_url_ref_text(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        text
    }
}
