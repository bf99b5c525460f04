//! The `bearer` property family end to end: the Silverflow mock that trusts unsigned tokens is
//! caught whatever the run seed, generated tokens and the claims a server echoes back decoded
//! never reach an output (through the binary, on a loopback server reflecting the token), and a
//! `bearer` step whose request does not carry the token is a located load error.

mod common;

use std::sync::Arc;

use authconform::Verdict;
use authconform::auth::jwt;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CANARY: &str = "CANARY-bearer-7d2e-subject";
const KEY_ENV: &str = "AUTHCONFORM_TEST_PROPERTY_BEARER_TOKEN";

/// Runs one scenario of the mocks under `deviation` with run seed `seed`; returns its verdict.
async fn run_mock(trial: &str, deviation: &str, seed: u64) -> Verdict {
    common::verdicts::run_one(&common::verdicts::mock_plan(), trial, &[deviation], seed).await
}

/// A mock that skips the signature check when the signature segment is empty is caught within
/// the default case count by every seed, not by luck; the conformant mock passes with the same
/// seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unsigned_token_variant_is_caught_whatever_the_seed() {
    let trial = "silverflow::bearer::generated-tokens-refused";
    for seed in [1, 0x9f3c, 0xdead_beef] {
        match run_mock(trial, "unsigned-tokens-trusted", seed).await {
            Verdict::Fail { message, .. } => {
                assert!(message.contains("minimal failing case"), "{message}");
                assert!(message.contains("got HTTP 200, expected 401"), "{message}");
            }
            other => panic!("seed {seed:x}: expected a failure, got {other:?}"),
        }
    }
    // A deviation that touches no bearer token: the verdict is the conformant one.
    let verdict = run_mock(trial, "omits-location", 1).await;
    assert_eq!(verdict, Verdict::Pass);
}

/// Answers with the bearer token it got and its claims decoded, in its body: 200 for a token
/// whose signature segment is empty (an unsigned case), 401 for the others.
struct Reflect;

impl Respond for Reflect {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent = request
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let token = sent.strip_prefix("Bearer ").unwrap_or_default();
        let parts: Vec<&str> = token.split('.').collect();
        let claims = parts
            .get(1)
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let unsigned = parts.len() == 3 && parts[2].is_empty();
        let status = if unsigned { 200 } else { 401 };
        ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "error": "invalid_token",
            "you_sent": sent,
            "claims": claims,
        }))
    }
}

const SPEC: &str = "\
provider: echo
title: Echo API (test fixture)
requirements:
  - id: ECHO-BEARER-01
    statement: Tokens the server did not issue are refused.
    source: rfc6750
    kind: RFC
inputs:
  hosts:
    api_base: The echo API's base URL
  secrets:
    api_key: The bearer token
";

/// The unsigned cases fail (the server lets them in), so the reports keep the first failing case
/// and the shrunk one, each with a body echoing the token and its decoded claims.
const SCENARIOS: &str = r#"scenarios:
  - id: echoed
    title: Every generated token is echoed back
    requirements: [ECHO-BEARER-01]
    steps:
      - property:
          family: bearer
          from: { token: "{{secret.api_key}}" }
          cases: 128
        request: { url: "{{api_base}}/resource", auth: { bearer: "{{secret.api_key}}" } }
        expect: { status: 401 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_tokens_and_their_claims_echoed_by_the_server_reach_no_output() {
    let key = jwt::SigningKey::hs256(b"echo-test-signing-key");
    let claims = serde_json::json!({
        "sub": CANARY, "roles": ["user"], "iat": 1_800_000_000u64, "exp": 4_000_000_000u64
    });
    let token: &'static str = Box::leak(jwt::sign(&claims, &key).unwrap().into_boxed_str());
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(Reflect)
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: SPEC,
            flow: "bearer",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: token,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "b3"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence_text(&run);
    // The canary claim, decoded or inside the claims segment, and the token's signature, in any
    // case, appear nowhere.
    let segments: Vec<&str> = token.split('.').collect();
    let needles = [
        "canary-bearer".to_owned(),
        segments[1][..24].to_ascii_lowercase(),
        segments[2][..24].to_ascii_lowercase(),
    ];
    run.assert_no_output_holds(&needles);
    // Positive: the echoes reached the reports, redacted, and the failure names its kind.
    assert!(
        evidence.contains("you_sent") && evidence.contains("[redacted:"),
        "{}",
        run.dump()
    );
    assert!(
        evidence.contains("minimal failing case after"),
        "{}",
        run.dump()
    );
}

#[test]
fn a_bearer_step_must_carry_its_token() {
    let cases: &[(&str, &str)] = &[
        (
            "      - property: { family: bearer, from: {} }\n        request: { url: \"{{api_base}}/v1/orders\" }\n        expect: { status: 401 }\n",
            "give `from.token`, or send the token with `auth: { bearer }`",
        ),
        (
            "      - property: { family: bearer, from: { token: \"{{secret.client_id}}\" } }\n        request: { url: \"{{api_base}}/v1/orders\", auth: { bearer: \"{{secret.client_secret}}\" } }\n        expect: { status: 401 }\n",
            "the request does not carry `from.token`",
        ),
        (
            "      - property: { family: bearer, from: { token: \"{{secret.client_id}}\", key: x } }\n        request: { url: \"{{api_base}}/v1/orders\", auth: { bearer: \"{{secret.client_id}}\" } }\n        expect: { status: 401 }\n",
            "unknown key `key` for family `bearer`: expected `token`, `public_key`, `other_token`",
        ),
    ];
    for (step, expected) in cases {
        common::assert_bad_steps("demo", "DEMO-BEARER-02", step, expected);
    }
    // Carried in a query parameter, a header after a scheme, or a form field, it loads.
    for request in [
        "{ url: \"{{api_base}}/v1/orders\", query: { signature: \"{{secret.client_id}}\" } }",
        "{ url: \"{{api_base}}/v1/orders\", headers: { X-Token: \"Token {{secret.client_id}}\" } }",
        "{ method: POST, url: \"{{api_base}}/v1/orders\", body: { form: { t: \"{{secret.client_id}}\" } } }",
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(
            dir.path().join("demo/prop.yaml"),
            format!(
                "scenarios:\n  - id: ok\n    title: ok\n    requirements: [DEMO-BEARER-02]\n    steps:\n      - property: {{ family: bearer, from: {{ token: \"{{{{secret.client_id}}}}\" }} }}\n        request: {request}\n        expect: {{ status: 401 }}\n"
            ),
        )
        .unwrap();
        let run =
            common::authconform(&["validate", "--scenarios", &dir.path().display().to_string()]);
        assert!(
            !run.stderr.contains("prop.yaml:"),
            "{request}\n{}",
            run.dump()
        );
    }
}
