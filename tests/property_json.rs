//! The `json_credentials` family end to end: We.Platform's generated login and refresh scenarios
//! catch their lenient mock variants under every seed tried and pass on the conformant mock under
//! the same seeds; credentials a loopback server echoes back from generated JSON bodies reach no
//! output (through the binary); bad `json_credentials` blocks and status classes are located
//! load errors.

mod common;

use std::sync::Arc;

use authconform::Verdict;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{assert_bad_steps, blocking, evidence_text};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SEEDS: [u64; 3] = [1, 2, 0x519c_a240_2d8e_8190];

async fn run_we_platform(trial: &str, variants: &[&str], seed: u64) -> Verdict {
    common::verdicts::run_one(&common::verdicts::mock_plan(), trial, variants, seed).await
}

/// A password compared over the characters presented only is caught by the generated logins
/// whatever the seed (a truncated or empty password logs in), and the conformant mock, either
/// refusal status, passes under the same seeds: teeth, not luck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_compared_by_its_prefix_is_caught_whatever_the_seed() {
    let trial = "we-platform::auth_service::generated-logins-refused";
    for seed in SEEDS {
        match run_we_platform(trial, &["password-prefix-accepted"], seed).await {
            Verdict::Fail { step: 1, message } => assert!(
                message.contains("`password`")
                    && message.contains("got HTTP 200, expected 4xx")
                    && message.contains("minimal failing case"),
                "seed {seed}: {message}"
            ),
            other => panic!("seed {seed}: expected a failure at step 1, got {other:?}"),
        }
        for conformant in [&[][..], &["login-refusal-as-400"][..]] {
            let verdict = run_we_platform(trial, conformant, seed).await;
            assert_eq!(verdict, Verdict::Pass, "{trial} {conformant:?} seed {seed}");
        }
    }
}

/// A refresh token that keeps working after use, and refresh tokens compared on their first 32
/// characters, are caught by the generated refreshes whatever the seed (the used token is a case
/// of its own kind; tokens changed, cut or extended after 32 characters are among the wrong
/// values), and the conformant mock passes under the same seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_refresh_checks_are_caught_whatever_the_seed() {
    let trial = "we-platform::auth_service::generated-refresh-tokens-refused";
    for seed in SEEDS {
        for (deviation, caught_by) in [
            (
                "refresh-not-rotated",
                "other-value: another `refresh_token`",
            ),
            ("refresh-token-cut-to-32", "wrong-value: `refresh_token`"),
        ] {
            match run_we_platform(trial, &[deviation], seed).await {
                Verdict::Fail { step: 2, message } => assert!(
                    message.contains(caught_by) && message.contains("got HTTP 200, expected 4xx"),
                    "{deviation} seed {seed}: {message}"
                ),
                other => {
                    panic!("{deviation} seed {seed}: expected a failure at step 2, got {other:?}")
                }
            }
        }
        let verdict = run_we_platform(trial, &[], seed).await;
        assert_eq!(verdict, Verdict::Pass, "{trial} seed {seed}");
    }
}

const LOGIN_CANARY: &str = "CANARY-json-7c1f-login-0001";
const PASSWORD_CANARY: &str = "CANARY-json-3a9b-password-0001";

/// How many leading characters of the password [`LoginEcho`] compares: a lenient server, so the
/// reports keep a failing case and its shrunk one.
const PASSWORD_PREFIX_CHECKED: usize = 16;

/// `GET /whoami` names the login (captured as a secret); `POST /login` answers with the body it
/// got echoed back: 200 with a token for the login with a password starting with the canary's
/// first [`PASSWORD_PREFIX_CHECKED`] characters, else 401.
struct LoginEcho;

impl Respond for LoginEcho {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if request.method.as_str() == "GET" {
            return ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "login": LOGIN_CANARY }));
        }
        let sent = String::from_utf8_lossy(&request.body).into_owned();
        let body: serde_json::Value = serde_json::from_str(&sent).unwrap_or_default();
        let lenient = body["login"] == LOGIN_CANARY
            && body["password"]
                .as_str()
                .is_some_and(|p| p.starts_with(&PASSWORD_CANARY[..PASSWORD_PREFIX_CHECKED]));
        let mut reply = serde_json::json!({ "error": "invalid login", "you_sent": sent });
        if lenient {
            reply["access_token"] = "tok-issued".into();
            return ResponseTemplate::new(200).set_body_json(reply);
        }
        ResponseTemplate::new(401).set_body_json(reply)
    }
}

const SPEC: &str = "\
provider: jsonecho
title: JSON login echo API (test fixture)
requirements:
  - id: JSONECHO-01
    statement: Login bodies derived from the user's are refused.
    source: test
    kind: Doc
inputs:
  hosts:
    api_base: The echo API's base URL
  secrets:
    api_key: The password
";

const SCENARIOS: &str = r#"scenarios:
  - id: echoed-logins
    title: Every generated login body is echoed back
    requirements: [JSONECHO-01]
    steps:
      - request: { url: "{{api_base}}/whoami" }
        expect: { status: 200 }
        capture:
          login: { jsonpath: $.login, secret: true }
      - property:
          family: json_credentials
          from: {}
        request:
          method: POST
          url: "{{api_base}}/login"
          body: { json: { login: "{{secret.login}}", password: "{{secret.api_key}}", locale: en } }
        expect:
          status: 4xx
          json: { $.access_token: absent }
"#;

/// Generated login bodies echoed by the server reach no output: neither the canaries nor any
/// generated value long enough to be registered (every value holding a canary's middle is).
/// Values shorter than 12 characters are not registered on their own (they would blank ordinary
/// words), so the needles are the canaries' middles, which only longer values hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_json_credentials_echoed_by_the_server_reach_no_output() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/whoami"))
        .respond_with(LoginEcho)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/login"))
        .respond_with(LoginEcho)
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "jsonecho",
            spec: SPEC,
            flow: "login",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_PROPERTY_JSON_PASSWORD",
            key: PASSWORD_CANARY,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "ef"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    run.assert_no_output_holds(&["json-7c1f".to_owned(), "json-3a9b".to_owned()]);
    // Positive: a case failed and was shrunk, its echo reached the reports redacted, and the
    // member that is no credential is shown as sent.
    let evidence = evidence_text(&run);
    assert!(
        evidence.contains("minimal failing case after") && evidence.contains("you_sent"),
        "{}",
        run.dump()
    );
    assert!(evidence.contains("[redacted"), "{}", run.dump());
    assert!(evidence.contains(r#"\"locale\":\"en\""#), "{}", run.dump());
}

#[test]
fn bad_json_credentials_blocks_and_status_classes_are_located_load_errors() {
    let login = r#"        request: { method: POST, url: "{{auth_base}}/v1/auth/login", body: { json: { login: "{{secret.user_login}}", password: "{{secret.user_password}}" } } }
        expect: { status: 4xx }
"#;
    assert_bad_steps(
        "we-platform",
        "WE-AUTH-05",
        &format!(
            "      - property: {{ family: json_credentials, from: {{ other_pass: x }} }}\n{login}"
        ),
        "unknown key `other_pass` for family `json_credentials`: expected `other_<member>` for a member of the JSON body (`other_login`, `other_password`)",
    );
    assert_bad_steps(
        "we-platform",
        "WE-AUTH-05",
        "      - property: { family: json_credentials, from: {} }\n        request: { method: POST, url: \"{{auth_base}}/v1/auth/login\", body: { form: { login: x } } }\n        expect: { status: 4xx }\n",
        "family `json_credentials` varies the credentials of the step's JSON body: give the request a `body: { json: { … } }` object",
    );
    for (status, expected) in [
        (
            "6xx",
            r#"status class (`1xx` to `5xx`), found the string "6xx""#,
        ),
        (
            "[401, 40x]",
            r#"status class (`1xx` to `5xx`), found the string "40x""#,
        ),
    ] {
        let steps = login.replace("status: 4xx", &format!("status: {status}"));
        assert_bad_steps(
            "we-platform",
            "WE-AUTH-05",
            &format!("      - property: {{ family: json_credentials, from: {{}} }}\n{steps}"),
            expected,
        );
    }
}

/// A JSON body none of whose members comes from a secret has no credential to vary: the step is
/// an error naming why, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_a_secret_member_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(LoginEcho)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(LoginEcho)
        .mount(&server)
        .await;
    let scenarios = SCENARIOS
        .replace(
            r#"login: { jsonpath: $.login, secret: true }"#,
            "login: { jsonpath: $.login }",
        )
        .replace(r#"{{secret.login}}"#, "{{login}}")
        .replace(r#""{{secret.api_key}}""#, "plain-password");
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "jsonecho",
            spec: SPEC,
            flow: "login",
            scenarios: Box::leak(scenarios.into_boxed_str()),
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_PROPERTY_JSON_PASSWORD",
            key: PASSWORD_CANARY,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &[])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.stdout.contains("ERROR") && run.stdout.contains("no credential to vary"),
        "{}",
        run.dump()
    );
}
