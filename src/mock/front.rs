//! The TCP front of every embedded mock host: it accepts connections itself, so it sees the real
//! peer address, and applies the host's [`SourcePolicy`] before any HTTP is read.
//!
//! - `Drop`: the connection is accepted by the kernel but never answered; whatever the client sends
//!   is read and discarded until it gives up. The client sees a timeout, as behind a dropping
//!   allowlist.
//! - `Reset`: the connection is closed with an RST.
//! - `Allow`: HTTP/1.1 is served and each request is forwarded to the provider's wiremock server
//!   with the peer address in [`PEER_HEADER`]. Any copy of that header sent by the client is
//!   removed first, so provider logic only ever sees the address the front observed.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The header carrying the TCP peer address the front observed, to the provider logic.
pub const PEER_HEADER: &str = "x-authconform-peer";

/// Longest time a dropped connection is held open, so a forgotten client cannot leak it forever.
const DROP_HOLD_LIMIT: Duration = Duration::from_secs(600);

/// What the front does with a connection from a given source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourcePolicy {
    /// Serve it.
    Allow,
    /// Accept nothing, answer nothing.
    Drop,
    /// Close it with an RST.
    Reset,
}

/// Decides the policy from the peer's IP address.
pub type PolicyFn = Arc<dyn Fn(IpAddr) -> SourcePolicy + Send + Sync>;

/// A running front; stops when dropped.
#[derive(Debug)]
pub struct Front {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Front {
    /// Returns the address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a front on `127.0.0.1:0` forwarding allowed connections to `backend`.
pub async fn start(backend: SocketAddr, policy: PolicyFn) -> std::io::Result<Front> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build_http();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                // A persistent failure (EMFILE) would otherwise spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            match policy(peer.ip()) {
                SourcePolicy::Drop => {
                    connections.spawn(hold_silently(stream));
                }
                SourcePolicy::Reset => reset(stream),
                SourcePolicy::Allow => {
                    connections.spawn(serve(stream, peer, backend, client.clone()));
                }
            }
            // Reap finished connection tasks; the set aborts the rest when the front stops.
            while connections.try_join_next().is_some() {}
        }
    });
    Ok(Front { addr, task })
}

async fn hold_silently(mut stream: TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(DROP_HOLD_LIMIT, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

fn reset(stream: TcpStream) {
    if let Ok(std_stream) = stream.into_std() {
        let _ = socket2::SockRef::from(&std_stream).set_linger(Some(Duration::ZERO));
        drop(std_stream);
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    backend: SocketAddr,
    client: Client<HttpConnector, Incoming>,
) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let client = client.clone();
        async move { Ok::<_, Infallible>(forward(request, peer, backend, client).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn forward(
    mut request: Request<Incoming>,
    peer: SocketAddr,
    backend: SocketAddr,
    client: Client<HttpConnector, Incoming>,
) -> Response<Full<Bytes>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let Ok(uri) = format!("http://{backend}{path}").parse() else {
        return plain(400, "bad request target");
    };
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.remove(PEER_HEADER);
    if let Ok(value) = peer.ip().to_string().parse() {
        headers.insert(PEER_HEADER, value);
    }
    match client.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match body.collect().await {
                Ok(collected) => Response::from_parts(parts, Full::new(collected.to_bytes())),
                Err(_) => plain(502, "mock backend body failed"),
            }
        }
        Err(_) => plain(502, "mock backend unavailable"),
    }
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    response
}

/// Returns the peer address the front put on a request, if any.
pub fn peer_of(request: &wiremock::Request) -> Option<IpAddr> {
    request
        .headers
        .get(PEER_HEADER)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
