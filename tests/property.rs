//! `property` steps end to end: the same run seed replays the same failing and minimal cases
//! (in process, on the demo mock with a lenient variant), generated credentials a server echoes
//! back never reach an output (through the binary, on loopback servers reflecting the
//! `Authorization` header, and a token request's form body too), and bad `property` blocks and
//! limits are located load errors.

mod common;

use std::sync::Arc;

use authconform::Verdict;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CANARY: &str = "CANARY-prop-4e1c-password";
const KEY_ENV: &str = "AUTHCONFORM_TEST_PROPERTY_KEY";
const USER: &str = "reflect-user";

/// Runs one demo scenario under `deviation` with run seed `seed`; returns its verdict.
async fn run_demo(trial: &str, deviation: &str, seed: u64) -> Verdict {
    common::verdicts::run_one(&common::verdicts::mock_plan(), trial, &[deviation], seed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_run_seed_replays_the_same_failing_and_minimal_cases() {
    let trial = "demo::basic::malformed-refused";
    let first = run_demo(trial, "basic-password-prefix", 0x9f3c).await;
    let again = run_demo(trial, "basic-password-prefix", 0x9f3c).await;
    let other = run_demo(trial, "basic-password-prefix", 0x9f3d).await;
    let message = |v: &Verdict| match v {
        Verdict::Fail { message, .. } => message.clone(),
        other => panic!("expected a failure, got {other:?}"),
    };
    let (first, again, other) = (message(&first), message(&again), message(&other));
    assert_eq!(first, again);
    assert!(
        first.contains(&format!(
            "replay: authconform run --target targets/mock.yaml --filter '{trial}' --seed 0000000000009f3c"
        )),
        "{first}"
    );
    assert!(first.contains("minimal failing case"), "{first}");
    // Another seed draws other cases: the messages differ at least in the seed they name.
    assert_ne!(first, other);
    assert!(other.contains("--seed 0000000000009f3d"), "{other}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformant_mock_passes_both_families_whatever_the_seed() {
    for seed in [1, 2, 3] {
        for trial in [
            "demo::basic::malformed-refused",
            "demo::basic::scheme-case-accepted",
        ] {
            // A deviation that touches neither family: the verdict is the conformant one.
            let verdict = run_demo(trial, "omits-no-store", seed).await;
            assert_eq!(verdict, Verdict::Pass, "{trial} with seed {seed}");
        }
    }
}

/// Each lenient token endpoint is caught by the cases of its own kind under every seed tried,
/// not by luck, and the conformant one passes under the same seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_token_endpoints_are_caught_whatever_the_seed() {
    let trial = "demo::token::malformed-token-requests-refused";
    for seed in [1, 2, 3] {
        for (deviation, kind) in [
            (
                "token-accepts-repeated-parameters",
                "`duplicated-parameter: ",
            ),
            ("token-accepts-two-client-auth-methods", "`both-places: "),
            (
                "token-client-secret-prefix",
                "`wrong-client-secret (Basic): ",
            ),
        ] {
            match run_demo(trial, deviation, seed).await {
                Verdict::Fail { message, .. } => assert!(
                    message.contains(kind),
                    "{deviation}, seed {seed}: {message}"
                ),
                other => panic!("{deviation}, seed {seed}: expected a failure, got {other:?}"),
            }
        }
        let verdict = run_demo(trial, "omits-no-store", seed).await;
        assert_eq!(verdict, Verdict::Pass, "seed {seed}");
    }
}

/// Answers with the `Authorization` header it got, as sent and base64-decoded, in its body: 401,
/// except for a password cut short (a truncated case), which it lets in with 200.
struct Reflect;

impl Respond for Reflect {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent = request
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let decoded = sent
            .split_once(' ')
            .and_then(|(_, token)| STANDARD.decode(token.trim()).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let cut_short = decoded
            .strip_prefix(&format!("{USER}:"))
            .is_some_and(|password| password != CANARY && CANARY.starts_with(password));
        let status = if cut_short { 200 } else { 401 };
        ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "error": "unauthorized",
            "you_sent": sent,
            "decoded": decoded,
        }))
    }
}

const SPEC: &str = "\
provider: echo
title: Echo API (test fixture)
requirements:
  - id: ECHO-BASIC-01
    statement: Malformed Basic credentials are refused.
    source: rfc7617
    kind: RFC
inputs:
  hosts:
    api_base: The echo API's base URL
  secrets:
    api_key: The password
";

/// The truncated cases fail (the server lets them in), so the reports keep the first failing
/// case and the shrunk one, each with a body echoing its credentials.
const SCENARIOS: &str = r#"scenarios:
  - id: echoed
    title: Every generated credential is echoed back
    requirements: [ECHO-BASIC-01]
    steps:
      - property:
          family: basic
          from: { username: reflect-user, password: "{{secret.api_key}}" }
          cases: 128
        request: { url: "{{api_base}}/profile" }
        expect: { status: 401 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_credentials_echoed_by_the_server_reach_no_output() {
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
            flow: "basic",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: CANARY,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "ab"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence_text(&run);
    // The canary's start and the base64 of the pair's start (the same for every case that
    // keeps the user-id) appear nowhere, in any case.
    let pair_start = STANDARD.encode(format!("{USER}:CANARY-p"));
    let needles = [
        "canary-prop".to_owned(),
        pair_start[..pair_start.len() - 4].to_ascii_lowercase(),
        format!("{USER}:canary").to_ascii_lowercase(),
    ];
    run.assert_no_output_holds(&needles);
    // Positive: the echoes reached the reports, redacted.
    assert!(
        evidence.contains("you_sent") && evidence.contains("[redacted:"),
        "{}",
        run.dump()
    );
    assert!(
        evidence.contains("minimal failing case after") && evidence.contains("truncated"),
        "{}",
        run.dump()
    );
}

const TOKEN_CANARY: &str = "CANARY-tok-7d2a-client-secret";
const TOKEN_CLIENT: &str = "echo-client";

/// A token endpoint that echoes the form body and the `Authorization` header it got (as sent and
/// base64-decoded): 200 with a token when the client is sent twice (a `both-places` case), else
/// 400 `invalid_request`.
struct ReflectToken;

impl Respond for ReflectToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent = request
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let decoded = sent
            .split_once(' ')
            .and_then(|(_, token)| STANDARD.decode(token.trim()).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let mut reply = serde_json::json!({
            "error": "invalid_request",
            "you_sent": sent,
            "decoded": decoded,
            "body": body,
        });
        if sent.is_empty() {
            return ResponseTemplate::new(400).set_body_json(reply);
        }
        reply["access_token"] = "tok-issued".into();
        ResponseTemplate::new(200).set_body_json(reply)
    }
}

/// The body client's requests: the `both-places` cases (the same client also as Basic) fail,
/// so the reports keep their exchanges, echoes and all.
const TOKEN_SCENARIOS: &str = r#"scenarios:
  - id: echoed-token-requests
    title: Every generated token request is echoed back
    requirements: [ECHO-BASIC-01]
    steps:
      - property:
          family: token_request
          from: {}
        request:
          method: POST
          url: "{{api_base}}/token"
          token:
            grant: client_credentials
            client_id: echo-client
            client_secret: "{{secret.api_key}}"
            client_auth: client_secret_post
        expect:
          status: [400, 401]
          json: { $.access_token: absent }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_token_requests_echoed_by_the_server_reach_no_output() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ReflectToken)
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: SPEC,
            flow: "token",
            scenarios: TOKEN_SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: TOKEN_CANARY,
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "cd"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence_text(&run);
    // The canary's start, and the base64 of the Basic pair's start, appear nowhere.
    let pair_start = STANDARD.encode(format!("{TOKEN_CLIENT}:CANARY-to"));
    let needles = [
        "canary-tok".to_owned(),
        pair_start[..pair_start.len() - 4].to_ascii_lowercase(),
    ];
    run.assert_no_output_holds(&needles);
    // Positive: the failing case is the client sent twice, and its echo reached the reports,
    // redacted.
    assert!(
        evidence.contains("both-places") && evidence.contains("you_sent"),
        "{}",
        run.dump()
    );
    assert!(evidence.contains("[redacted"), "{}", run.dump());
}

#[test]
fn bad_property_blocks_are_located_load_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "      - property: { family: basic, from: { username: u, password: p } }\n        request: { url: \"{{api_base}}/v1/profile\", auth: { bearer: x } }\n        expect: { status: 401 }\n",
            "family writes the credentials",
        ),
        (
            "      - property: { family: basic, from: { username: u, password: p } }\n        request: { url: \"{{api_base}}/v1/profile\" }\n",
            "needs an `expect`",
        ),
        (
            "      - property: { family: basic, from: { username: u } }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 401 }\n",
            "family `basic` needs `from.password`",
        ),
        (
            "      - property: { family: basic, from: { username: u, password: p, pasword: q } }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 401 }\n",
            "unknown key `pasword` for family `basic`",
        ),
        (
            "      - property: { family: token_request, from: { other_cod: x } }\n        request: { method: POST, url: \"{{api_base}}/v1/token\", body: { form: { grant_type: client_credentials } } }\n        expect: { status: 400 }\n",
            "unknown key `other_cod` for family `token_request`: expected `other_code`, `other_refresh_token`",
        ),
        (
            "      - property: { family: basic, from: { username: u, password: p }, cases: 0 }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 401 }\n",
            "expected a number of cases from 1 to 10000",
        ),
        (
            "      - property: { family: basik, from: { username: u, password: p } }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 401 }\n",
            "unknown variant `basik`",
        ),
        (
            "      - property: { family: basic, from: { username: u, password: p } }\n        expect: { status: 401 }\n",
            "applies its cases to the step's `request`",
        ),
        (
            "      - property: { family: basic, from: { username: u, password: p } }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: [400, 401], assumed: { because: x, status: 401 } }\n",
            "remove `assumed` and `skip_unless`",
        ),
        (
            "      - property: { family: api_key, from: { key: k } }\n        request: { url: \"{{api_base}}/v1/reports\" }\n        expect: { status: 403 }\n",
            "send `from.key` with `auth: { api_key: … }`, a header or a query parameter",
        ),
        (
            "      - property: { family: api_key, from: { key: k, other: j } }\n        request: { url: \"{{api_base}}/v1/reports\", headers: { X-API-Key: k } }\n        expect: { status: 403 }\n",
            "unknown key `other` for family `api_key`: expected `key`, `other_key`, `revoked_key`",
        ),
    ];
    for (step, expected) in cases {
        common::assert_bad_steps("demo", "DEMO-BASIC-03", step, expected);
    }
}

#[test]
fn bad_property_limits_in_a_target_are_located() {
    for (limits, expected) in [
        (
            "property_cases: 0",
            "expected a number of property cases from 1 to 10000",
        ),
        ("concurrency: 0", "expected a concurrency from 1 to 256"),
        ("rate: 0", "expected a rate above 0"),
        ("rate: -3", "expected a rate above 0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.yaml");
        let text =
            std::fs::read_to_string(std::path::Path::new(common::ROOT).join("targets/mock.yaml"))
                .unwrap()
                .replacen("\nlimits:\n", &format!("\nlimits:\n  {limits}\n"), 1);
        assert!(text.contains(limits), "targets/mock.yaml has `limits:`");
        std::fs::write(&target, text).unwrap();
        let run = common::authconform(&["validate", "--target", &target.display().to_string()]);
        assert_eq!(run.code, Some(2), "{limits}\n{}", run.dump());
        assert!(
            run.stderr.contains(expected) && run.stderr.contains("target.yaml:"),
            "{limits}\n{}",
            run.dump()
        );
    }
}

#[test]
fn a_seed_that_is_not_hexadecimal_is_refused_before_running() {
    for seed in ["xyz", "", "12345678901234567"] {
        let run = common::authconform(&["run", "--seed", seed, "demo::basic"]);
        assert_eq!(run.code, Some(2), "{seed:?}\n{}", run.dump());
        assert!(
            run.stderr
                .contains("expected a seed of 1 to 16 hexadecimal digits"),
            "{seed:?}\n{}",
            run.dump()
        );
        assert!(!run.stdout.contains("running"), "{}", run.dump());
    }
}

const KEY_CANARY: &str = "CANARY-prop-91d7-api-key";

/// How many leading characters of the key [`KeyEcho`] compares: a lenient server, so the reports
/// keep a failing case and its shrunk one.
const KEY_PREFIX_CHECKED: usize = 16;

/// Records when each request arrived and answers with the `X-API-Key` it got in its body: 403,
/// except for a value that starts with the key's first [`KEY_PREFIX_CHECKED`] characters.
#[derive(Clone, Default)]
struct KeyEcho {
    arrivals: Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
    keys: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl Respond for KeyEcho {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let now = std::time::Instant::now();
        let sent = request
            .headers
            .get("x-api-key")
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        self.arrivals.lock().unwrap().push(now);
        self.keys.lock().unwrap().push(sent.clone());
        let lenient = sent.starts_with(&KEY_CANARY.as_bytes()[..KEY_PREFIX_CHECKED]);
        ResponseTemplate::new(if lenient { 200 } else { 403 }).set_body_json(serde_json::json!({
            "error": 2,
            "you_sent": String::from_utf8_lossy(&sent),
        }))
    }
}

const KEY_SPEC: &str = "\
provider: keyecho
title: Key echo API (test fixture)
requirements:
  - id: KEYECHO-01
    statement: Keys derived from the issued one are refused.
    source: test
    kind: Doc
inputs:
  hosts:
    api_base: The echo API's base URL
  secrets:
    api_key: The API key
";

/// Starts the key echo server and a tree whose one scenario sends `cases` `api_key` cases
/// derived from the key, in a request whose `X-API-Key` is `sent` (a template).
async fn key_echo_tree(cases: u32, sent: &str) -> (MockServer, KeyEcho, Arc<LiveTree>) {
    let server = MockServer::start().await;
    let echo = KeyEcho::default();
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(echo.clone())
        .mount(&server)
        .await;
    let scenarios = format!(
        r#"scenarios:
  - id: derived-keys
    title: Keys derived from the issued one are refused
    requirements: [KEYECHO-01]
    steps:
      - property:
          family: api_key
          from: {{ key: "{{{{secret.api_key}}}}" }}
          cases: {cases}
        request:
          url: "{{{{api_base}}}}/reports"
          auth: {{ api_key: {{ header: X-API-Key, value: "{sent}" }} }}
        expect: {{ status: 403 }}
"#
    );
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "keyecho",
            spec: KEY_SPEC,
            flow: "keys",
            scenarios: Box::leak(scenarios.into_boxed_str()),
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_PROPERTY_API_KEY",
            key: KEY_CANARY,
        },
    ));
    (server, echo, tree)
}

/// With `limits.rate: 20`, 21 cases take about a second: case `i` arrives no earlier than
/// `i / 20` s after the first, however many may be in flight. The margin absorbs a loaded
/// machine delaying the first arrival (its connection is the first opened); without pacing all
/// 21 would arrive within a few tens of milliseconds, far inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targets_rate_paces_the_cases_of_a_property_step() {
    let (_server, echo, tree) = key_echo_tree(21, "{{secret.api_key}}").await;
    let target = std::fs::read_to_string(tree.path("target.yaml")).unwrap();
    let paced = target.replacen("limits:\n", "limits:\n  rate: 20\n  concurrency: 16\n", 1);
    assert_ne!(target, paced, "the tree's target has `limits:`");
    tree.write("target.yaml", &paced);
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "5"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let mut arrivals = echo.arrivals.lock().unwrap().clone();
    arrivals.sort();
    // 21 cases, then any shrinking of a failing one, paced alike.
    assert!(arrivals.len() >= 21, "{} requests", arrivals.len());
    let first = arrivals[0];
    let margin = std::time::Duration::from_millis(150);
    for (i, arrival) in arrivals.iter().enumerate() {
        let due = std::time::Duration::from_millis(50 * i as u64);
        assert!(
            arrival.duration_since(first) + margin >= due,
            "request {i} arrived {:?} after the first, due no earlier than {due:?}",
            arrival.duration_since(first)
        );
    }
    assert!(arrivals[20].duration_since(first) + margin >= std::time::Duration::from_millis(1000));
}

/// Every `api_key` case reaches the server as a key that is not the issued one, in the header
/// the step's request carries it in; the echoes of the failing cases reach the reports
/// redacted, and the key (nor its start) reaches no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_api_keys_echoed_by_the_server_reach_no_output() {
    let (_server, echo, tree) = key_echo_tree(256, "{{secret.api_key}}").await;
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "ab"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let keys = echo.keys.lock().unwrap().clone();
    assert!(keys.len() >= 256, "{} requests", keys.len());
    assert!(keys.iter().all(|k| k != KEY_CANARY.as_bytes()));
    let distinct: std::collections::BTreeSet<&Vec<u8>> = keys.iter().collect();
    assert!(distinct.len() > 100, "{} distinct keys", distinct.len());
    assert!(
        keys.iter()
            .any(|k| std::str::from_utf8(k).is_ok_and(|k| !k.is_ascii()))
    );
    let evidence = evidence_text(&run);
    run.assert_no_output_holds(&["canary-prop".to_owned()]);
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

/// A demo mock comparing only the key's first characters is caught under every seed tried, and
/// the conformant one passes the `api_key` family under the same seeds: teeth, not luck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_compared_by_its_prefix_is_caught_whatever_the_seed() {
    let trial = "demo::api_key::derived-keys-refused";
    for seed in [1, 2, 0x519c_a240_2d8e_8190] {
        match run_demo(trial, "api-key-prefix-only", seed).await {
            Verdict::Fail { message, .. } => assert!(
                message.contains("got HTTP 200, expected 403")
                    && message.contains("minimal failing case"),
                "seed {seed}: {message}"
            ),
            other => panic!("seed {seed}: expected a failure, got {other:?}"),
        }
        let verdict = run_demo(trial, "omits-no-store", seed).await;
        assert_eq!(verdict, Verdict::Pass, "{trial} with seed {seed}");
    }
}

/// A request that does not carry the key it is to vary cannot be judged: the step is an error,
/// never a pass, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_not_carrying_the_key_is_an_error() {
    let (_server, echo, tree) = key_echo_tree(16, "not-the-key-at-all").await;
    let t = tree.clone();
    let run = blocking(move || t.command("run", &[])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.stdout.contains("ERROR")
            && run
                .stdout
                .contains("carries `from.key` in no header and no query parameter"),
        "{}",
        run.dump()
    );
    assert!(echo.keys.lock().unwrap().is_empty());
    assert!(!run.stdout.to_ascii_lowercase().contains("canary-prop"));
}

/// A server dropping characters outside the base64 alphabet (spaces included) is still caught
/// under every seed tried, by the `bad-base64` or `space-inside` cases, though none of them puts
/// a character after the padding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_ignoring_bad_base64_is_caught_whatever_the_seed() {
    let trial = "demo::basic::malformed-refused";
    for seed in [1, 2, 0x519c_a240_2d8e_8190] {
        match run_demo(trial, "basic-ignores-bad-base64", seed).await {
            Verdict::Fail { message, .. } => assert!(
                (message.contains("failed: `bad-base64: ")
                    || message.contains("failed: `space-inside: "))
                    && message.contains("got HTTP 200"),
                "seed {seed}: {message}"
            ),
            other => panic!("seed {seed}: expected a failure, got {other:?}"),
        }
    }
}
