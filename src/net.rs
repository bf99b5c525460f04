//! The transport: reqwest clients per source address (never following redirects), timeouts, and
//! the classification of what happened into an [`Outcome`].
//!
//! A conformance suite must tell a dropped connection (timeout) from a rejected one (refused) and
//! from a server that hung up (reset) and from one that answered with something that is not HTTP
//! (malformed); "any error" would let a firewall that rejects pass for one that drops.
//!
//! Only what happens on a fresh connection is evidence: a pooled connection the server closed
//! after its previous answer looks like a reset. So each source has two clients ([`Clients`]): a
//! request that may reuse a connection is sent once more on a fresh one when the reused connection
//! closes before the response ([`Exchange::resent`] says so), and a request whose expectation is a
//! transport outcome never reuses one ([`ConnectionUse::Fresh`]).

use std::collections::HashMap;
use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::connect::{Connected, Connection, HttpInfo};
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
    /// The server answered, but not with valid HTTP/1.1 (the parser's reason): a bad status
    /// line, HTTP/0.9, control bytes in a header, too many or too large headers, a bad chunk.
    Malformed(String),
    /// The TLS handshake failed.
    Tls(String),
    /// Anything else (DNS, invalid URL, local bind failure): the step could not run.
    Other(String),
}

/// The class of an [`Outcome`] without its details: what transcripts and the evidence record,
/// serialized as the words the evidence format documents.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeClass {
    /// `response`.
    Response,
    /// `connect-timeout`.
    ConnectTimeout,
    /// `read-timeout`.
    ReadTimeout,
    /// `refused`.
    Refused,
    /// `reset`.
    Reset,
    /// `malformed`.
    Malformed,
    /// `tls`.
    Tls,
    /// `other`; also what a transcript holds before its request was sent.
    #[default]
    Other,
}

impl OutcomeClass {
    /// Returns the word reports use: `response`, `connect-timeout`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Response => "response",
            OutcomeClass::ConnectTimeout => "connect-timeout",
            OutcomeClass::ReadTimeout => "read-timeout",
            OutcomeClass::Refused => "refused",
            OutcomeClass::Reset => "reset",
            OutcomeClass::Malformed => "malformed",
            OutcomeClass::Tls => "tls",
            OutcomeClass::Other => "other",
        }
    }
}

impl std::fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets a class be compared with the word that names it, as tests and checks do.
impl PartialEq<&str> for OutcomeClass {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

impl Outcome {
    /// Returns true for both kinds of timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Outcome::ConnectTimeout | Outcome::ReadTimeout)
    }

    /// Returns the class reports name it by (`response`, `connect-timeout`, …).
    pub fn class(&self) -> OutcomeClass {
        match self {
            Outcome::Response(_) => OutcomeClass::Response,
            Outcome::ConnectTimeout => OutcomeClass::ConnectTimeout,
            Outcome::ReadTimeout => OutcomeClass::ReadTimeout,
            Outcome::Refused => OutcomeClass::Refused,
            Outcome::Reset => OutcomeClass::Reset,
            Outcome::Malformed(_) => OutcomeClass::Malformed,
            Outcome::Tls(_) => OutcomeClass::Tls,
            Outcome::Other(_) => OutcomeClass::Other,
        }
    }

    /// Returns what the class alone does not say: the parser's, TLS or transport reason.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Malformed(detail) | Outcome::Tls(detail) | Outcome::Other(detail) => {
                Some(detail)
            }
            _ => None,
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
            Outcome::Malformed(detail) => write!(f, "malformed response: {detail}"),
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
    /// From sending (before connecting) to the outcome, over every attempt.
    pub elapsed: Duration,
    /// Why the request was sent a second time, when it was: a reused connection that closed
    /// before the response says nothing about the server, so the request went again on a fresh
    /// connection and the outcome is that attempt's.
    pub resent: Option<String>,
    /// The local address (IP and port) of the connection the outcome came from, when one was
    /// established: the address the server saw, whatever the source asked for.
    pub local_address: Option<SocketAddr>,
    /// The TLS session the response came over, when it came over TLS.
    pub tls: Option<TlsSeen>,
}

/// What a TLS connection showed: the protocol version negotiated and the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSeen {
    /// The origin (`https://host:port`) the connection was made to.
    pub origin: String,
    /// `TLSv1.2` or `TLSv1.3` (`TLSv1.0`, `TLSv1.1` never, since rustls does not speak them).
    pub version: String,
    /// Lowercase hex SHA-256 of the server's end-entity certificate (DER), as presented.
    pub peer_certificate_sha256: String,
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

/// Which connection a request may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionUse {
    /// An idle pooled connection when there is one. If that reused connection closes before the
    /// response arrives, the request is sent once more on a fresh connection.
    Reuse,
    /// Always a new connection: what happens on it is evidence of how the server treats this
    /// request, never an artefact of an earlier exchange (transport-outcome expectations).
    Fresh,
}

/// The two clients of one (source, connect timeout): one keeping idle connections for reuse,
/// one that never keeps a connection, so each of its requests connects anew. Hosts with TLS
/// settings of their own ([`HostTls`]) have their own two, which [`send_on`] picks by the
/// request URL's origin.
#[derive(Debug, Clone)]
pub struct Clients {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    by_origin: Arc<[(url::Origin, reqwest::Client, reqwest::Client)]>,
}

impl Clients {
    /// Returns the client that reuses idle connections (also what requests are built with).
    pub fn pooled(&self) -> &reqwest::Client {
        &self.pooled
    }

    /// Returns the client whose every request opens a new connection.
    pub fn fresh(&self) -> &reqwest::Client {
        &self.fresh
    }

    /// Returns the client for `url` that may reuse idle connections or the one that never does:
    /// the ones built with its origin's TLS settings when a host has them, else the shared ones.
    fn for_url(&self, url: &url::Url, connection: ConnectionUse) -> &reqwest::Client {
        let origin = url.origin();
        let (pooled, fresh) = self
            .by_origin
            .iter()
            .find(|(o, _, _)| *o == origin)
            .map_or((&self.pooled, &self.fresh), |(_, pooled, fresh)| {
                (pooled, fresh)
            });
        match connection {
            ConnectionUse::Reuse => pooled,
            ConnectionUse::Fresh => fresh,
        }
    }
}

/// The TLS settings of one host (a target's `tls:` entry): the CA bundle it alone is trusted by
/// (else the platform's roots), and the client certificate shown to it (mTLS). Built, and so
/// checked, when the target is loaded.
#[derive(Clone)]
pub struct HostTls {
    origin: url::Origin,
    config: Arc<rustls::ClientConfig>,
}

/// Deliberately says nothing of the key material.
impl fmt::Debug for HostTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostTls")
            .field("origin", &self.origin.ascii_serialization())
            .finish_non_exhaustive()
    }
}

/// A client certificate chain and its private key, read from PEM files.
pub struct ClientIdentity {
    /// The certificate chain, end entity first.
    pub chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The private key (never printed).
    pub key: rustls_pki_types::PrivateKeyDer<'static>,
}

/// Which setting a [`HostTls`] could not be built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSetting {
    /// The CA bundle.
    CaFile,
    /// The client certificate.
    ClientCertFile,
    /// The client key.
    ClientKeyFile,
}

impl HostTls {
    /// Builds the settings for requests to `origin`: trusting only `roots` when given (else the
    /// platform's roots), showing `client` when given. The error names the setting at fault and
    /// never quotes key material.
    pub fn new(
        origin: url::Origin,
        roots: Option<Vec<rustls_pki_types::CertificateDer<'static>>>,
        client: Option<ClientIdentity>,
    ) -> Result<Self, (TlsSetting, String)> {
        let provider = crypto_provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(|e| (TlsSetting::CaFile, e.to_string()))?;
        let builder = match roots {
            Some(certificates) => {
                let mut store = rustls::RootCertStore::empty();
                for (index, certificate) in certificates.into_iter().enumerate() {
                    store.add(certificate).map_err(|e| {
                        (
                            TlsSetting::CaFile,
                            format!(
                                "certificate {} is not a usable CA certificate ({e})",
                                index + 1
                            ),
                        )
                    })?;
                }
                builder.with_root_certificates(store)
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PlatformRootsOnFirstUse {
                    provider: provider.clone(),
                })),
        };
        let mut config = match client {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain, identity.key)
                .map_err(|e| {
                    (
                        TlsSetting::ClientKeyFile,
                        format!("the key cannot be used with the client certificate ({e})"),
                    )
                })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            origin,
            config: Arc::new(config),
        })
    }

    /// Returns the origin whose requests use these settings (`https://host:port`).
    pub fn origin(&self) -> String {
        self.origin.ascii_serialization()
    }
}

/// Reads the certificates of a PEM file (a CA bundle or a client certificate chain). The error
/// says what is wrong with the file without quoting it.
pub fn read_pem_certificates(
    file: &std::path::Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject as _;
    let text = std::fs::read(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let certificates = rustls_pki_types::CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "`{}` is not a valid PEM file ({})",
                file.display(),
                pem_problem(&e)
            )
        })?;
    if certificates.is_empty() {
        return Err(format!(
            "`{}` holds no certificate: expected PEM blocks `-----BEGIN CERTIFICATE-----`",
            file.display()
        ));
    }
    Ok(certificates)
}

/// Reads the private key of a PEM file (PKCS#8, PKCS#1 or SEC1). The error names the file and
/// never quotes a byte of it: it is key material.
pub fn read_pem_private_key(
    file: &std::path::Path,
) -> Result<rustls_pki_types::PrivateKeyDer<'static>, String> {
    use rustls_pki_types::pem::PemObject as _;
    let text = std::fs::read(file).map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    rustls_pki_types::PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "`{}` holds no private key: expected a PEM block `-----BEGIN PRIVATE KEY-----` (or RSA / EC)",
            file.display()
        ),
        other => format!(
            "`{}` is not a valid PEM private key ({})",
            file.display(),
            pem_problem(&other)
        ),
    })
}

/// Says what is wrong with a PEM file in words of our own: some of the parser's errors carry
/// the offending line, which may be key material.
fn pem_problem(error: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { .. } => "a section has no `-----END` line",
        Error::IllegalSectionStart { .. } => "a `-----BEGIN` line is malformed",
        Error::Base64Decode(_) => "a section's base64 is invalid",
        Error::NoItemsFound => "no PEM section found",
        _ => "it cannot be parsed",
    }
}

/// Clients per (source, connect timeout), built on first use and shared by a run.
#[derive(Debug, Default)]
pub struct ClientPool {
    clients: Mutex<HashMap<ClientKey, Arc<OnceCell<Clients>>>>,
    tls_hosts: Arc<[HostTls]>,
}

/// What a client is built for.
type ClientKey = (SourceAddr, Duration);

impl ClientPool {
    /// Creates an empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an empty pool whose requests to each of `tls_hosts`' origins use its settings.
    pub fn with_tls_hosts(tls_hosts: Vec<HostTls>) -> Self {
        Self {
            clients: Mutex::default(),
            tls_hosts: tls_hosts.into(),
        }
    }

    /// Returns the clients for `source` with `connect_timeout`, building them once.
    ///
    /// Building a client loads the TLS roots (tens of milliseconds), so it happens on the blocking
    /// pool: done inline it would stall every other request of the run, and their timers with them.
    /// Scenarios asking at once wait for the one build rather than each building their own (a run
    /// starting dozens of scenarios together would otherwise build dozens of identical clients).
    pub async fn client(
        &self,
        source: &SourceAddr,
        connect_timeout: Duration,
    ) -> Result<Clients, String> {
        let cell = self
            .lock()
            .entry((source.clone(), connect_timeout))
            .or_default()
            .clone();
        cell.get_or_try_init(|| async {
            let build_source = source.clone();
            let tls_hosts = self.tls_hosts.clone();
            tokio::task::spawn_blocking(move || {
                let shared = shared_tls()?;
                let by_origin = tls_hosts
                    .iter()
                    .map(|host| {
                        let config = (*host.config).clone();
                        Ok((
                            host.origin.clone(),
                            build(&build_source, connect_timeout, true, config.clone())?,
                            build(&build_source, connect_timeout, false, config)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Clients {
                    pooled: build(&build_source, connect_timeout, true, shared.clone())?,
                    fresh: build(&build_source, connect_timeout, false, shared)?,
                    by_origin: by_origin.into(),
                })
            })
            .await
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?
        })
        .await
        .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Arc<OnceCell<Clients>>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn build(
    source: &SourceAddr,
    connect_timeout: Duration,
    keep_idle: bool,
    tls: rustls::ClientConfig,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .connect_timeout(connect_timeout)
        .connector_layer(CountConnects)
        .user_agent(concat!("authconform/", env!("CARGO_PKG_VERSION")));
    if !keep_idle {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder = builder.tls_backend_preconfigured(tls);
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

/// Returns the TLS settings every client of the process shares: reqwest's own for this build
/// (aws-lc-rs, TLS 1.2 and 1.3, `http/1.1` by ALPN, the platform's roots), except that the roots
/// are read once, on the first TLS handshake. Reading them (hundreds of files) at every client
/// build cost a run a few milliseconds per client, even a run that never speaks TLS.
fn shared_tls() -> Result<rustls::ClientConfig, String> {
    static CONFIG: std::sync::OnceLock<Result<rustls::ClientConfig, String>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = crypto_provider();
            let verifier = PlatformRootsOnFirstUse {
                provider: provider.clone(),
            };
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(config)
        })
        .clone()
}

/// Returns the process's default crypto provider, else aws-lc-rs's (what reqwest uses).
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// The platform's certificate verifier, once a TLS handshake needed it.
static PLATFORM_VERIFIER: std::sync::OnceLock<
    Result<rustls_platform_verifier::Verifier, rustls::Error>,
> = std::sync::OnceLock::new();

/// The platform's certificate verifier (what reqwest uses), built on first use: building it
/// reads every root certificate of the system.
#[derive(Debug)]
struct PlatformRootsOnFirstUse {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl PlatformRootsOnFirstUse {
    fn verifier(&self) -> Result<&'static rustls_platform_verifier::Verifier, rustls::Error> {
        PLATFORM_VERIFIER
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for PlatformRootsOnFirstUse {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        // What the platform verifier answers, without reading the roots.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The connections one attempt opened, as its connector saw them.
///
/// Neither reqwest nor hyper-util says whether a request went out on a reused connection, nor
/// whether the total timeout fired while connecting (reqwest reports that as a plain request
/// timeout). The connector knows when it starts and finishes a connection, and it is called from
/// the request's own task (hyper-util polls a new connection's future inside the request's
/// future). A started connection is not necessarily the one the request gets: an idle connection
/// returned to the pool meanwhile may win. So each new connection is recorded by its local
/// address, and a failed request's connection (hyper-util's `connect_info`, which carries
/// reqwest's `HttpInfo`) is fresh only when it is one of those.
#[derive(Debug, Default)]
struct ConnectProbe {
    started: AtomicU32,
    finished: AtomicU32,
    opened: Mutex<Vec<SocketAddr>>,
}

impl ConnectProbe {
    /// True when `error` happened on a connection this attempt did not open.
    fn reused(&self, error: &reqwest::Error) -> bool {
        let Some(local) = connection_local_addr(error) else {
            return false;
        };
        !self
            .opened
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&local)
    }

    /// True when a connection the attempt started had not been established when it ended.
    fn connecting(&self) -> bool {
        self.started.load(Ordering::SeqCst) > self.finished.load(Ordering::SeqCst)
    }

    fn opened(&self, connected: &Connected) {
        let mut extras = http::Extensions::new();
        connected.get_extras(&mut extras);
        if let Some(info) = extras.get::<HttpInfo>() {
            self.opened
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(info.local_addr());
        }
    }
}

/// Returns the local address of the connection a request failed on, when hyper-util says.
fn connection_local_addr(error: &reqwest::Error) -> Option<SocketAddr> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(client) = cause.downcast_ref::<hyper_util::client::legacy::Error>() {
            let mut extras = http::Extensions::new();
            client.connect_info()?.get_extras(&mut extras);
            return extras.get::<HttpInfo>().map(HttpInfo::local_addr);
        }
        source = cause.source();
    }
    None
}

tokio::task_local! {
    static ATTEMPT: Arc<ConnectProbe>;
}

/// The connector layer that records connections into the current attempt's [`ConnectProbe`].
#[derive(Debug, Clone, Copy)]
struct CountConnects;

impl<S> tower_layer::Layer<S> for CountConnects {
    type Service = CountedConnector<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountedConnector(inner)
    }
}

#[derive(Debug, Clone)]
struct CountedConnector<S>(S);

impl<S, R> tower_service::Service<R> for CountedConnector<S>
where
    S: tower_service::Service<R>,
    S::Response: Connection,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let probe = ATTEMPT.try_with(Arc::clone).ok();
        if let Some(probe) = &probe {
            probe.started.fetch_add(1, Ordering::SeqCst);
        }
        let connecting = self.0.call(request);
        Box::pin(async move {
            let result = connecting.await;
            if let Some(probe) = probe {
                if let Ok(connection) = &result {
                    probe.opened(&connection.connected());
                }
                probe.finished.fetch_add(1, Ordering::SeqCst);
            }
            result
        })
    }
}

/// Where an attempt failed: before the response head arrived, or while reading its body.
enum AttemptError {
    BeforeResponse(reqwest::Error),
    InBody(reqwest::Error),
}

/// Sends `request` once with `client` and classifies what happens within `timeout` (connecting,
/// sending, and reading the whole body). [`send_on`] is the variant that never takes a stale
/// pooled connection for the server's answer.
pub async fn send(
    client: &reqwest::Client,
    request: reqwest::Request,
    timeout: Duration,
) -> Exchange {
    let started = Instant::now();
    let (result, probe) = attempt(client, request, timeout).await;
    exchange(result, &probe, started.elapsed(), None)
}

/// Sends `request` and classifies what happens within `timeout` (connecting, sending, and reading
/// the whole body) on one connection, reused when `connection` allows it (see [`ConnectionUse`]).
///
/// The clock starts before the client looks for a connection, so a recorded elapsed time is never
/// below the timeout that fired.
pub async fn send_on(
    clients: &Clients,
    request: reqwest::Request,
    timeout: Duration,
    connection: ConnectionUse,
) -> Exchange {
    let started = Instant::now();
    let client = clients.for_url(request.url(), connection);
    let fresh = clients.for_url(request.url(), ConnectionUse::Fresh);
    let again = match connection {
        ConnectionUse::Reuse => request.try_clone(),
        ConnectionUse::Fresh => None,
    };
    let (result, probe) = attempt(client, request, timeout).await;
    let mut resent = None;
    let (result, probe) = match (result, again) {
        (Err(AttemptError::BeforeResponse(error)), Some(again))
            if probe.reused(&error) && classify_attempt(&error, &probe) == Outcome::Reset =>
        {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                (Err(AttemptError::BeforeResponse(error)), probe)
            } else {
                resent = Some(format!(
                    "the reused connection closed before the response arrived ({}); sent again on a fresh connection",
                    chain_text(&error)
                ));
                attempt(fresh, again, left).await
            }
        }
        (result, _) => (result, probe),
    };
    exchange(result, &probe, started.elapsed(), resent)
}

fn exchange(
    result: Result<Received, AttemptError>,
    probe: &ConnectProbe,
    elapsed: Duration,
    resent: Option<String>,
) -> Exchange {
    match result {
        Ok(received) => Exchange {
            outcome: Outcome::Response(received.response.status),
            response: Some(received.response),
            elapsed,
            resent,
            local_address: received.local_address,
            tls: received.tls,
        },
        Err(AttemptError::BeforeResponse(error) | AttemptError::InBody(error)) => Exchange {
            outcome: classify_attempt(&error, probe),
            response: None,
            elapsed,
            resent,
            local_address: connection_local_addr(&error),
            tls: None,
        },
    }
}

/// A response with what its connection showed.
struct Received {
    response: ResponseData,
    local_address: Option<SocketAddr>,
    tls: Option<TlsSeen>,
}

/// Returns what the connection a response came over showed of its TLS session, if any
/// (reqwest's `TlsInfo`, which the clients are built to attach).
fn tls_seen(response: &reqwest::Response) -> Option<TlsSeen> {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>()?;
    let certificate = info.peer_certificate()?;
    let version = match info.version()? {
        reqwest::tls::Version::TLS_1_3 => "TLSv1.3",
        reqwest::tls::Version::TLS_1_2 => "TLSv1.2",
        reqwest::tls::Version::TLS_1_1 => "TLSv1.1",
        reqwest::tls::Version::TLS_1_0 => "TLSv1.0",
        _ => "unknown",
    };
    use sha2::Digest as _;
    Some(TlsSeen {
        origin: response.url().origin().ascii_serialization(),
        version: version.to_owned(),
        peer_certificate_sha256: data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(certificate)),
    })
}

/// Sends `request` once with `client`, reading the body up to [`MAX_BODY`].
async fn attempt(
    client: &reqwest::Client,
    mut request: reqwest::Request,
    timeout: Duration,
) -> (Result<Received, AttemptError>, Arc<ConnectProbe>) {
    *request.timeout_mut() = Some(timeout);
    let probe = Arc::new(ConnectProbe::default());
    let result = ATTEMPT
        .scope(probe.clone(), async {
            let mut response = client
                .execute(request)
                .await
                .map_err(AttemptError::BeforeResponse)?;
            let local_address = response
                .extensions()
                .get::<HttpInfo>()
                .map(HttpInfo::local_addr);
            let tls = tls_seen(&response);
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
            while let Some(chunk) = response.chunk().await.map_err(AttemptError::InBody)? {
                let room = MAX_BODY.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY {
                    break;
                }
            }
            Ok(Received {
                response: ResponseData {
                    status,
                    headers,
                    body,
                },
                local_address,
                tls,
            })
        })
        .await;
    (result, probe)
}

/// Classifies a reqwest error by walking its source chain.
pub fn classify(error: &reqwest::Error) -> Outcome {
    classify_attempt(error, &ConnectProbe::default())
}

/// Classifies a reqwest error, knowing whether the attempt was still connecting: reqwest reports
/// the total timeout firing during the connect as a plain request timeout.
fn classify_attempt(error: &reqwest::Error, probe: &ConnectProbe) -> Outcome {
    if error.is_timeout() {
        return if error.is_connect() || probe.connecting() {
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
                    return if error.is_connect() || probe.connecting() {
                        Outcome::ConnectTimeout
                    } else {
                        Outcome::ReadTimeout
                    };
                }
                // hyper's body decoder reports a bad chunk size, chunk terminator or trailer
                // this way; a body cut short is `UnexpectedEof` above.
                InvalidData | InvalidInput if error.is_body() || error.is_decode() => {
                    return Outcome::Malformed(io.to_string());
                }
                _ => {}
            }
        }
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Outcome::Tls(tls.to_string());
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_parse() {
                return Outcome::Malformed(error_text(hyper));
            }
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                return Outcome::Reset;
            }
        }
        source = cause.source();
    }
    let detail = chain_text(error);
    if detail.contains("tls") || detail.contains("certificate") || detail.contains("handshake") {
        return Outcome::Tls(detail);
    }
    Outcome::Other(detail)
}

/// Renders an error and its causes on one line.
fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    join_causes(error.to_string(), error.source())
}

/// Renders an error and its causes on one line, without the URL (which may carry query secrets).
fn chain_text(error: &reqwest::Error) -> String {
    join_causes(error.without_url_ref_text(), error.source())
}

/// Joins `first` and the text of each cause that does not repeat an earlier one with `: `.
fn join_causes(first: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut parts = vec![first];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child process [`clients_need_no_root_certificates_until_a_tls_handshake`]
    /// starts, with no root certificate to read.
    const NO_ROOTS_CHILD: &str = "AUTHCONFORM_TEST_NO_ROOTS_CHILD";

    #[test]
    #[ignore = "the child process of clients_need_no_root_certificates_until_a_tls_handshake"]
    fn speaks_plain_http_without_root_certificates() {
        if std::env::var_os(NO_ROOTS_CHILD).is_none() {
            return;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let answer = b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
                stream.write_all(answer).await.unwrap();
            });
            let pool = ClientPool::new();
            let clients = pool
                .client(&SourceAddr::Any, Duration::from_secs(5))
                .await
                .expect("clients are built without reading the roots");
            let response =
                tokio::time::timeout(Duration::from_secs(10), clients.pooled().get(&url).send())
                    .await
                    .expect("answered within 10 s")
                    .expect("a plain HTTP answer");
            assert_eq!(response.status(), 204);
        });
        assert!(PLATFORM_VERIFIER.get().is_none(), "no handshake, no roots");
        // The roots are missing indeed: a TLS handshake would now be refused.
        let provider = shared_tls().unwrap().crypto_provider().clone();
        let refused = PlatformRootsOnFirstUse { provider }.verifier().unwrap_err();
        assert!(
            refused.to_string().contains("No CA certificates"),
            "{refused}"
        );
    }

    #[test]
    fn clients_need_no_root_certificates_until_a_tls_handshake() {
        let empty = tempfile::tempdir().unwrap();
        let no_file = empty.path().join("none.pem");
        std::fs::write(&no_file, "").unwrap();
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "net::tests::speaks_plain_http_without_root_certificates",
                "--ignored",
                "--test-threads",
                "1",
            ])
            .env(NO_ROOTS_CHILD, "1")
            .env("SSL_CERT_FILE", &no_file)
            .env("SSL_CERT_DIR", empty.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
