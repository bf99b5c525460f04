//! Per-host TLS settings through the real binary, against in-process https servers on loopback
//! whose CA, server and client certificates are made here: a host trusted through its `ca_file`
//! passes and the evidence records the TLS version (1.3, and 1.2 from a server offering only
//! 1.2), the server certificate's SHA-256 and each request's local address (a bound source seen
//! by the server too), also for a URL taken from a capture; the platform's roots or another CA
//! give a `tls` outcome, never a pass; mTLS passes with the client certificate (the server saw
//! it) and is a `tls` outcome without; bad `tls:` entries are load errors at their position;
//! the client key's content reaches no output; merged reports keep every host's observation.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Run, authconform, authconform_with_env, evidence_schema_errors, evidence_text};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::Digest as _;

const KEY_ENV: &str = "AUTHCONFORM_TEST_TLS_KEY";
const API_KEY: &str = "CANARY-tls-3c7e-api-key";

const SPEC: &str = "\
provider: vault
title: Vault API (test fixture)
requirements:
  - id: VAULT-READ-01
    statement: A key reads the vault.
    source: vault docs
    kind: Doc
inputs:
  hosts:
    api_base: The vault's base URL
  secrets:
    api_key: The vault's API key
";

const SCENARIOS: &str = r#"scenarios:
  - id: read-from-alt
    title: A key reads the vault, sent from 127.0.0.5
    requirements: [VAULT-READ-01]
    steps:
      - request:
          url: "{{api_base}}/read"
          source: alt
          headers: { X-Key: "{{secret.api_key}}" }
        expect: { status: 200 }

  - id: read-discovered
    title: The endpoint a discovery document names is reached with the host's TLS settings
    requirements: [VAULT-READ-01]
    steps:
      - request: { url: "{{api_base}}/discovery" }
        expect: { status: 200 }
        capture:
          endpoint: { jsonpath: "$.endpoint" }
      - request:
          url: "{{endpoint}}"
          headers: { X-Key: "{{secret.api_key}}" }
        expect: { status: 200 }
"#;

/// The SHA-256 of DER bytes, in lowercase hex.
fn sha256_hex(der: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(der))
}

/// A CA and what it signs.
struct Authority {
    certificate: rcgen::Certificate,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).unwrap();
        Self {
            certificate,
            issuer: Issuer::new(params, key),
        }
    }

    /// Signs a leaf certificate for `names` (a server's) or for no name (a client's).
    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, "leaf");
        params.extended_key_usages = vec![purpose];
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        Leaf { certificate, key }
    }
}

struct Leaf {
    certificate: rcgen::Certificate,
    key: KeyPair,
}

impl Leaf {
    fn der(&self) -> CertificateDer<'static> {
        self.certificate.der().clone()
    }

    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

/// The certificates of a test: the lab CA, another CA, a server certificate for 127.0.0.1 and
/// `localhost`, and a client certificate, all from the lab CA.
struct Pki {
    ca: Authority,
    other_ca: Authority,
    server: Leaf,
    client: Leaf,
}

impl Pki {
    fn new() -> Self {
        let ca = Authority::new("authconform test CA");
        let other_ca = Authority::new("another CA");
        let server = ca.leaf(
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = ca.leaf(&[], ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            ca,
            other_ca,
            server,
            client,
        }
    }

    /// Writes the PEM files into `folder`: `ca.pem`, `other-ca.pem`, `client.pem`,
    /// `client-key.pem`.
    fn write(&self, folder: &Path) {
        std::fs::create_dir_all(folder).unwrap();
        std::fs::write(folder.join("ca.pem"), self.ca.certificate.pem()).unwrap();
        std::fs::write(folder.join("other-ca.pem"), self.other_ca.certificate.pem()).unwrap();
        std::fs::write(folder.join("client.pem"), self.client.certificate.pem()).unwrap();
        std::fs::write(
            folder.join("client-key.pem"),
            self.client.key.serialize_pem(),
        )
        .unwrap();
    }
}

/// What a server saw of one connection.
#[derive(Debug, Clone)]
struct Seen {
    peer: SocketAddr,
    /// The SHA-256 of the client certificate presented, if any.
    client_certificate: Option<String>,
}

/// An https server on 127.0.0.1, on a runtime of its own (the binary runs beside it):
/// `GET /read` → 200, `GET /discovery` → 200 naming its `/read` endpoint.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Server {
    /// Serves with `pki`'s server certificate, offering `versions`, requiring a client
    /// certificate from the lab CA when `mtls`.
    fn start(
        pki: &Pki,
        versions: &[&'static rustls::SupportedProtocolVersion],
        mtls: bool,
    ) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = if mtls {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(pki.ca.certificate.der().clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder
            .with_single_cert(vec![pki.server.der()], pki.server.key_der())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let record = seen.clone();
        runtime.spawn(async move {
            while let Ok((tcp, peer)) = listener.accept().await {
                let (acceptor, record) = (acceptor.clone(), record.clone());
                tokio::spawn(async move {
                    let accepted = tokio::time::timeout(
                        Duration::from_secs(5),
                        acceptor.accept(tcp).into_fallible(),
                    )
                    .await;
                    let tls = match accepted {
                        Ok(Ok(tls)) => tls,
                        Ok(Err((_, tcp))) => return close_after_alert(tcp).await,
                        Err(_) => return,
                    };
                    let client_certificate = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|der| sha256_hex(der));
                    record.lock().unwrap().push(Seen {
                        peer,
                        client_certificate,
                    });
                    let service = hyper::service::service_fn(
                        move |request: hyper::Request<hyper::body::Incoming>| async move {
                            let body = match request.uri().path() {
                                "/discovery" => {
                                    format!("{{\"endpoint\": \"https://127.0.0.1:{port}/read\"}}")
                                }
                                _ => "{\"ok\": true}".to_owned(),
                            };
                            let response = hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                .unwrap();
                            Ok::<_, std::convert::Infallible>(response)
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(tls);
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                    )
                    .await;
                });
            }
        });
        Self {
            port,
            seen,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A tree with the spec, the scenarios, the PEM files in `tls/` and a target in
/// `targets/live/target.yaml` (so its `tls` paths are `../../tls/…`).
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(pki: &Pki) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("specs")).unwrap();
        std::fs::create_dir_all(root.join("scenarios/vault")).unwrap();
        std::fs::create_dir_all(root.join("targets/live")).unwrap();
        std::fs::write(root.join("specs/vault.yaml"), SPEC).unwrap();
        std::fs::write(root.join("scenarios/vault/read.yaml"), SCENARIOS).unwrap();
        pki.write(&root.join("tls"));
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes the target with `host` as the entry of `api_base` (YAML lines, indented 8).
    fn target(&self, host: &str) -> PathBuf {
        let text = format!(
            "name: tls-loopback\nclock: real\nlimits: {{ request_timeout: 5s }}\nsources:\n  \
             default: {{ bind: 127.0.0.1 }}\n  alt: {{ bind: 127.0.0.5 }}\nproviders:\n  vault:\n    \
             hosts:\n      api_base:\n{host}    secrets:\n      api_key: {{ env: {KEY_ENV} }}\n"
        );
        let file = self.path("targets/live/target.yaml");
        std::fs::write(&file, text).unwrap();
        file
    }

    fn command(&self, command: &str, target: &Path) -> Run {
        let specs = self.path("specs").display().to_string();
        let scenarios = self.path("scenarios").display().to_string();
        let target = target.display().to_string();
        let args = [
            command,
            "--specs",
            &specs,
            "--scenarios",
            &scenarios,
            "--target",
            &target,
        ];
        authconform_with_env(&args, &[(KEY_ENV, API_KEY)])
    }
}

/// The host entry lines of `api_base` at `url` with `tls` (inline YAML, or empty for none).
fn host(url: &str, tls: &str) -> String {
    let mut lines = format!("        url: \"{url}\"\n");
    if !tls.is_empty() {
        lines.push_str(&format!("        tls: {tls}\n"));
    }
    lines
}

fn evidence(run: &Run) -> serde_json::Value {
    let value: serde_json::Value = serde_json::from_str(&evidence_text(run)).unwrap();
    let errors = evidence_schema_errors(&value);
    assert!(errors.is_empty(), "{errors:#?}");
    value
}

/// Every exchange of every scenario record.
fn exchanges(evidence: &serde_json::Value) -> Vec<(String, serde_json::Value)> {
    let mut all = Vec::new();
    for scenario in evidence["scenarios"].as_array().unwrap() {
        for step in scenario["steps"].as_array().unwrap() {
            for exchange in step["exchanges"].as_array().unwrap() {
                all.push((
                    scenario["id"].as_str().unwrap().to_owned(),
                    exchange.clone(),
                ));
            }
        }
    }
    all
}

/// Runs the scenarios against a server offering `versions` through its `ca_file`, and checks
/// the run passed and recorded `version`, the server certificate and the local addresses.
fn passes_through_ca_file(versions: &[&'static rustls::SupportedProtocolVersion], version: &str) {
    let pki = Pki::new();
    let server = Server::start(&pki, versions, false);
    let tree = Tree::new(&pki);
    let target = tree.target(&host(&server.url(), "{ ca_file: ../../tls/ca.pem }"));
    let run = tree.command("run", &target);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let evidence = evidence(&run);
    let observed = &evidence["run"]["target"]["tls"]["vault"]["api_base"];
    assert_eq!(observed["version"], version, "{observed}");
    assert_eq!(
        observed["peer_certificate_sha256"],
        sha256_hex(&pki.server.der()),
        "{observed}"
    );
    let page = std::fs::read_to_string(run.reports.join("evidence.html")).unwrap();
    assert!(
        page.contains(&format!(
            "{version}, server certificate SHA-256 <code>{}</code>",
            sha256_hex(&pki.server.der())
        )),
        "the page shows no TLS observation"
    );
    assert!(
        page.contains("(local address <code>127.0.0.5:"),
        "the page shows no local address"
    );
    let seen = server.seen();
    let exchanges = exchanges(&evidence);
    assert_eq!(exchanges.len(), 3, "{exchanges:#?}");
    for (scenario, exchange) in &exchanges {
        let local = exchange["local_address"].as_str().unwrap_or_default();
        let address: SocketAddr = local
            .parse()
            .unwrap_or_else(|_| panic!("{scenario}: no local address in {exchange}"));
        let expected_ip = if scenario == "read-from-alt" {
            "127.0.0.5"
        } else {
            "127.0.0.1"
        };
        assert_eq!(address.ip().to_string(), expected_ip, "{exchange}");
        assert!(
            seen.iter().any(|s| s.peer == address),
            "{scenario}: the server saw no connection from {address}: {seen:?}"
        );
    }
}

#[test]
fn a_host_trusted_through_its_ca_file_passes_and_records_tls_1_3() {
    passes_through_ca_file(rustls::ALL_VERSIONS, "TLSv1.3");
}

#[test]
fn a_server_offering_only_tls_1_2_is_recorded_as_such() {
    passes_through_ca_file(&[&rustls::version::TLS12], "TLSv1.2");
}

/// Runs against a server with the lab CA's certificate, the host entry saying `tls`, and
/// returns the run and the detail of its `read-from-alt` exchange, which must be a `tls` outcome
/// in a failed run.
fn tls_outcome(mtls: bool, tls: &str) -> (Run, Server, String) {
    let pki = Pki::new();
    // In TLS 1.3 a client finishes its handshake before the server checks its certificate, so a
    // refused client certificate reaches it after the request: as the server's alert, or as a
    // reset when the connection closes first, whichever the timing gives. TLS 1.2 refuses it
    // inside the handshake, which is what this checks; TLS 1.3 with a certificate is checked by
    // `mtls_passes_with_the_client_certificate_and_the_server_sees_it`.
    let versions: &[&rustls::SupportedProtocolVersion] = if mtls {
        &[&rustls::version::TLS12]
    } else {
        rustls::ALL_VERSIONS
    };
    let server = Server::start(&pki, versions, mtls);
    let tree = Tree::new(&pki);
    let target = tree.target(&host(&server.url(), tls));
    let run = tree.command("run", &target);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence(&run);
    let (_, exchange) = exchanges(&evidence)
        .into_iter()
        .find(|(scenario, _)| scenario == "read-from-alt")
        .unwrap();
    assert_eq!(exchange["outcome"], "tls", "{exchange}");
    assert_eq!(evidence["run"]["target"].get("tls"), None, "{evidence}");
    for scenario in evidence["scenarios"].as_array().unwrap() {
        assert_ne!(scenario["verdict"], "pass", "{scenario}");
    }
    let detail = exchange["outcome_detail"].as_str().unwrap().to_owned();
    (run, server, detail)
}

#[test]
fn the_platform_roots_do_not_trust_the_test_ca() {
    let (run, _, detail) = tls_outcome(false, "");
    // Whether the machine has roots or none, the test CA is not among them.
    assert!(
        detail.contains("certificate") || detail.contains("CA"),
        "{detail}\n{}",
        run.dump()
    );
}

#[test]
fn another_ca_is_a_tls_outcome_naming_the_unknown_issuer() {
    let (run, _, detail) = tls_outcome(false, "{ ca_file: ../../tls/other-ca.pem }");
    assert!(detail.contains("UnknownIssuer"), "{detail}\n{}", run.dump());
}

#[test]
fn mtls_passes_with_the_client_certificate_and_the_server_sees_it() {
    let pki = Pki::new();
    let server = Server::start(&pki, rustls::ALL_VERSIONS, true);
    let tree = Tree::new(&pki);
    let tls = "{ ca_file: ../../tls/ca.pem, client_cert_file: ../../tls/client.pem, \
               client_key_file: ../../tls/client-key.pem }";
    let target = tree.target(&host(&server.url(), tls));
    let run = tree.command("run", &target);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let client = sha256_hex(&pki.client.der());
    let seen = server.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|s| s.client_certificate.as_deref() == Some(client.as_str())),
        "{seen:?}"
    );
    assert_no_key_material(&run, &pki);
}

#[test]
fn mtls_without_the_client_certificate_is_a_tls_outcome() {
    let (run, server, detail) = tls_outcome(true, "{ ca_file: ../../tls/ca.pem }");
    assert!(
        detail.to_lowercase().contains("certificate"),
        "{detail}\n{}",
        run.dump()
    );
    assert!(
        server.seen().is_empty(),
        "the server accepted a handshake without a client certificate"
    );
}

/// Asserts that no output of `run` holds the client key, in PEM or DER (hex or base64) form.
fn assert_no_key_material(run: &Run, pki: &Pki) {
    let pem = pki.client.key.serialize_pem();
    let der = pki.client.key.serialize_der();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let forms = [
        body.clone(),
        body[..40].to_owned(),
        data_encoding::HEXLOWER.encode(&der),
        data_encoding::BASE64.encode(&der),
    ];
    let mut outputs = vec![
        ("stdout".to_owned(), run.stdout.clone()),
        ("stderr".to_owned(), run.stderr.clone()),
    ];
    if let Ok(entries) = std::fs::read_dir(&run.reports) {
        for entry in entries.flatten() {
            let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
            outputs.push((entry.path().display().to_string(), text));
        }
    }
    outputs.push(("junit".to_owned(), run.junit.clone()));
    for (name, text) in &outputs {
        let flat: String = text.split_whitespace().collect();
        for form in &forms {
            assert!(!flat.contains(form.as_str()), "{name} holds the client key");
        }
    }
}

#[test]
fn bad_tls_entries_are_load_errors_at_their_position() {
    let pki = Pki::new();
    let tree = Tree::new(&pki);
    std::fs::write(tree.path("tls/not-pem.pem"), "just text\n").unwrap();
    std::fs::write(
        tree.path("tls/bad-base64.pem"),
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(
        tree.path("tls/other-key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let url = "https://127.0.0.1:1";
    // (host entry, line:col of the error, what the message says)
    let cases: &[(String, &str, &str)] = &[
        (
            host(url, "{ ca_fle: ../../tls/ca.pem }"),
            "12:16",
            "unknown field `ca_fle`",
        ),
        (
            host(url, "{ ca_file: ../../tls/missing.pem }"),
            "12:25",
            "cannot read",
        ),
        (
            host(url, "{ ca_file: ../../tls/not-pem.pem }"),
            "12:25",
            "holds no certificate",
        ),
        (
            host(url, "{ ca_file: ../../tls/bad-base64.pem }"),
            "12:25",
            "not a valid PEM file",
        ),
        (
            host(url, "{ client_cert_file: ../../tls/client.pem }"),
            "12:34",
            "needs `client_key_file`",
        ),
        (
            host(url, "{ client_key_file: ../../tls/client-key.pem }"),
            "12:33",
            "needs `client_cert_file`",
        ),
        (
            host(
                url,
                "{ client_cert_file: ../../tls/client.pem, client_key_file: ../../tls/ca.pem }",
            ),
            "12:73",
            "holds no private key",
        ),
        (
            host(
                url,
                "{ client_cert_file: ../../tls/client.pem, client_key_file: ../../tls/other-key.pem }",
            ),
            "12:73",
            "cannot be used with the client certificate",
        ),
        (host(url, "{}"), "12:9", "an empty `tls` changes nothing"),
        (
            host("http://127.0.0.1:1", "{ ca_file: ../../tls/ca.pem }"),
            "12:9",
            "`tls` is for an `https://` host",
        ),
        (
            "        mock: api\n        tls: { ca_file: ../../tls/ca.pem }\n".to_owned(),
            "12:9",
            "`tls` is for `url: https://…` hosts",
        ),
    ];
    for (entry, position, message) in cases {
        let target = tree.target(entry);
        let run = tree.command("validate", &target);
        let located = format!("target.yaml:{position}");
        assert!(
            run.code == Some(2) && run.stderr.contains(&located) && run.stderr.contains(message),
            "{entry}: expected `{message}` at {located}\n{}",
            run.dump()
        );
    }
    // The good entry loads.
    let target = tree.target(&host(
        url,
        "{ ca_file: ../../tls/ca.pem, client_cert_file: ../../tls/client.pem, client_key_file: ../../tls/client-key.pem }",
    ));
    let run = tree.command("validate", &target);
    assert_eq!(run.code, Some(0), "{}", run.dump());
}

#[test]
fn an_invalid_key_file_is_named_without_its_content() {
    let pki = Pki::new();
    let tree = Tree::new(&pki);
    let canary = "CANARYkeyContent7b1e";
    let broken = format!(
        "-----BEGIN PRIVATE KEY-----\n{canary}!!\n-----END PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\n{canary}\n"
    );
    std::fs::write(tree.path("tls/broken-key.pem"), broken).unwrap();
    let target = tree.target(&host(
        "https://127.0.0.1:1",
        "{ client_cert_file: ../../tls/client.pem, client_key_file: ../../tls/broken-key.pem }",
    ));
    for command in ["validate", "run"] {
        let run = tree.command(command, &target);
        assert_eq!(run.code, Some(2), "{}", run.dump());
        assert!(run.stderr.contains("broken-key.pem"), "{}", run.dump());
        assert!(
            !run.stdout.contains(canary) && !run.stderr.contains(canary),
            "{}",
            run.dump()
        );
    }
}

#[test]
fn merged_runs_keep_each_hosts_tls_observation_and_verify() {
    let pki = Pki::new();
    let modern = Server::start(&pki, rustls::ALL_VERSIONS, false);
    let legacy = Server::start(&pki, &[&rustls::version::TLS12], false);
    let tree = Tree::new(&pki);
    let mut reports = Vec::new();
    for server in [&modern, &legacy] {
        let target = tree.target(&host(&server.url(), "{ ca_file: ../../tls/ca.pem }"));
        let run = tree.command("run", &target);
        assert_eq!(run.code, Some(0), "{}", run.dump());
        let copy = tree.path(&format!("evidence-{}.json", server.port));
        std::fs::copy(run.reports.join("evidence.json"), &copy).unwrap();
        reports.push(copy.display().to_string());
    }
    let out = tree.path("merged/evidence.json").display().to_string();
    let merged = authconform(&["merge", &reports[0], &reports[1], "-o", &out]);
    assert_eq!(merged.code, Some(0), "{}", merged.dump());
    let verified = authconform(&["verify", &out]);
    assert_eq!(verified.code, Some(0), "{}", verified.dump());
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let errors = evidence_schema_errors(&value);
    assert!(errors.is_empty(), "{errors:#?}");
    let observed = &value["run"]["target"]["tls"]["vault"]["api_base"];
    assert_eq!(observed["version"], "TLSv1.3 | TLSv1.2", "{observed}");
    let fingerprint = sha256_hex(&pki.server.der());
    assert_eq!(
        observed["peer_certificate_sha256"], fingerprint,
        "{observed}"
    );
    for (index, version) in [(0, "TLSv1.3"), (1, "TLSv1.2")] {
        let input = &value["run"]["merged_from"][index]["target"]["tls"]["vault"]["api_base"];
        assert_eq!(input["version"], version, "{input}");
    }
}

/// Closes a connection whose handshake failed as a server does: the alert is already written;
/// reading what the client sent after its half of a TLS 1.3 handshake before closing keeps the
/// close a FIN, so the client reads the alert rather than a reset.
async fn close_after_alert(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
