//! Short generated credentials a server echoes back: a canary secret truncated to its first
//! few characters (an API key, a Basic password, a token request's client secret) reaches no
//! output, through the binary on a loopback server that echoes every value it is sent, while
//! the scenario names, which hold those same characters, still read whole in every replay
//! command.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The secret: its first characters are the start of every scenario name below, so a short
/// value registered for the whole run would blank the names in every report.
const CANARY: &str = "echoed-Qz7w-canary-5f2a7c19e3";
const KEY_ENV: &str = "AUTHCONFORM_TEST_SHORT_SECRET";

/// Values shorter than this are the short ones (the run registers longer ones).
const SHORT: usize = 12;

/// How the server writes a value it echoes: delimiters that JSON, HTML and XML leave alone.
fn echoed(value: &str) -> String {
    format!("(({value}))")
}

/// Returns true for a truncation of the canary short enough not to be registered for the run.
fn cut_short(value: &str) -> bool {
    !value.is_empty() && value.len() < SHORT && CANARY.starts_with(value)
}

/// Returns the credential a request carries: the `X-API-Key` header, the Basic password or the
/// `client_secret` field, by path.
fn credential_of(request: &Request) -> String {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    match request.url.path() {
        "/keyed" => header("x-api-key").unwrap_or_default(),
        "/basic" => header("authorization")
            .and_then(|v| v.strip_prefix("Basic ").map(str::to_owned))
            .and_then(|token| STANDARD.decode(token.trim()).ok())
            .map(|pair| String::from_utf8_lossy(&pair).into_owned())
            .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_owned()))
            .unwrap_or_default(),
        _ => url::form_urlencoded::parse(&request.body)
            .find(|(name, _)| name == "client_secret")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default(),
    }
}

/// Echoes each request's credential in a header and in its JSON body. A short truncation of the
/// canary is let in with 200 and echoed as the `error` the step checks, so its failure message
/// quotes it; anything else is refused with 401.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent = credential_of(request);
        let refusal = if request.url.path() == "/token" {
            "invalid_client"
        } else {
            "unauthorized"
        };
        let (status, error) = if cut_short(&sent) {
            (200, echoed(&sent))
        } else {
            (401, refusal.to_owned())
        };
        ResponseTemplate::new(status)
            .insert_header("x-echo", echoed(&sent).as_str())
            .set_body_json(serde_json::json!({ "error": error, "you_sent": echoed(&sent) }))
    }
}

const SPEC: &str = "\
provider: echo
title: Echo API (test fixture)
requirements:
  - id: ECHO-KEY-01
    statement: Credentials other than the issued ones are refused.
    source: rfc6750
    kind: RFC
inputs:
  hosts:
    api_base: The echo API's base URL
  secrets:
    api_key: The key, password and client secret
";

/// Each scenario fails on its short truncations (the server lets them in), so the reports keep
/// its first failing case and the shrunk one, each with a response and a failed check echoing a
/// few characters of the canary.
const SCENARIOS: &str = r#"scenarios:
  - id: echoed-keys
    title: Every generated API key is echoed back
    requirements: [ECHO-KEY-01]
    steps:
      - property:
          family: api_key
          from: { key: "{{secret.api_key}}" }
          cases: 128
        request:
          url: "{{api_base}}/keyed"
          auth: { api_key: { header: X-API-Key, value: "{{secret.api_key}}" } }
        expect:
          status: 401
          json: { $.error: { equals: unauthorized } }
  - id: echoed-passwords
    title: Every generated Basic password is echoed back
    requirements: [ECHO-KEY-01]
    steps:
      - property:
          family: basic
          from: { username: echo-user, password: "{{secret.api_key}}" }
          cases: 128
        request: { url: "{{api_base}}/basic" }
        expect:
          status: 401
          json: { $.error: { equals: unauthorized } }
  - id: echoed-client-secrets
    title: Every generated client secret is echoed back
    requirements: [ECHO-KEY-01]
    steps:
      - property:
          family: token_request
          from: {}
          cases: 128
        request:
          method: POST
          url: "{{api_base}}/token"
          token:
            grant: client_credentials
            client_id: echo-client
            client_secret: "{{secret.api_key}}"
            client_auth: client_secret_post
        expect:
          status: 401
          json: { $.error: { equals: invalid_client } }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_generated_credentials_echoed_back_reach_no_output() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo)
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: SPEC,
            flow: "short",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: CANARY,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "5e"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());

    // Each endpoint was sent short truncations of the canary, and echoed each.
    let received = server.received_requests().await.unwrap_or_default();
    for path in ["/keyed", "/basic", "/token"] {
        assert!(
            received
                .iter()
                .any(|r| r.url.path() == path && cut_short(&credential_of(r))),
            "{path} got no short truncation"
        );
    }

    // No echo of any short truncation, in any case, in any output.
    let needles: Vec<String> = (1..SHORT).map(|n| echoed(&CANARY[..n])).collect();
    run.assert_no_output_holds(&needles);

    // Positive: the echoes reached the reports, redacted; each scenario failed on a truncation
    // and its replay command names it whole, although a truncation is the start of its name.
    let evidence = evidence_text(&run);
    assert!(
        evidence.contains("(([redacted:generated_credentials]))"),
        "{}",
        run.dump()
    );
    for (name, kind) in [
        ("echoed-keys", "truncated: "),
        ("echoed-passwords", "truncated to "),
        ("echoed-client-secrets", "truncated to "),
    ] {
        let replay = format!("--filter 'echo::short::{name}' --seed 000000000000005e");
        for (output, text) in run.report_outputs() {
            // The page writes the quotes as HTML entities.
            let text = text.replace("&#39;", "'").replace("&#x27;", "'");
            if ["stdout", "junit", "evidence", "html"].contains(&output) {
                assert!(text.contains(&replay), "{output} lacks `{replay}`");
            }
        }
        assert!(evidence.contains(kind), "{name}: {}", run.dump());
    }
}
