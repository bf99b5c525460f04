//! A code of its own for each `token_request` case (`property.authorize`), and an authorization
//! step capturing under other names (`authorize.capture_as`): the lenient Monerium variant
//! matching redirect URIs by prefix is caught under fixed run seeds while the conformant mock
//! passes under the same ones, a case whose own authorization gets no code makes the step an
//! error (never a pass), every case's code and verifier a server echoes back stays out of every
//! output (through the binary), and bad `capture_as` or `authorize` blocks are located load
//! errors.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use authconform::{Target, Verdict};
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use sha2::Digest as _;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TRIAL: &str = "monerium::authorization_code::generated-code-exchange-variants-refused";

/// The run seeds every check here uses: a lenient variant caught only by luck is no teeth.
const SEEDS: [u64; 3] = [1, 2, 0x9f3c];

/// How many scenario runs go at once: each starts its own mock servers.
const RUNS_AT_ONCE: usize = 3;

/// Under each seed, the prefix-matching variant fails at the property step on a redirect-URI
/// case, and the conformant mock passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_uri_matched_by_prefix_is_caught_whatever_the_seed() {
    let plan = common::verdicts::mock_plan();
    let runs: Vec<(bool, u64)> = SEEDS
        .iter()
        .flat_map(|&seed| [(true, seed), (false, seed)])
        .collect();
    let mut verdicts = Vec::new();
    for chunk in runs.chunks(RUNS_AT_ONCE) {
        verdicts.extend(
            futures::future::join_all(chunk.iter().map(|&(lenient, seed)| {
                let plan = &plan;
                async move {
                    let deviations: &[&str] = if lenient {
                        &["redirect-uri-prefix-match"]
                    } else {
                        &[]
                    };
                    let verdict = common::verdicts::run_one(plan, TRIAL, deviations, seed).await;
                    (lenient, seed, verdict)
                }
            }))
            .await,
        );
    }
    for (lenient, seed, verdict) in verdicts {
        if !lenient {
            assert_eq!(verdict, Verdict::Pass, "conformant, seed {seed}");
            continue;
        }
        let Verdict::Fail { step, message } = &verdict else {
            panic!("seed {seed}: expected a failure, got {verdict:?}");
        };
        assert_eq!(*step, 2, "seed {seed}: {message}");
        for fragment in [
            "`redirect-uri: ",
            "got HTTP 200, expected one of 400, 401",
            "replay: authconform run",
        ] {
            assert!(
                message.contains(fragment),
                "seed {seed}: no {fragment:?} in {message}"
            );
        }
    }
}

/// Plans one Monerium scenario file holding `steps` against the embedded mock target.
fn monerium_plan(dir: &Path, steps: &str) -> authconform::Plan {
    std::fs::create_dir_all(dir.join("monerium")).unwrap();
    std::fs::write(
        dir.join("monerium").join("codes.yaml"),
        format!(
            "scenarios:\n  - id: codes\n    title: codes\n    requirements: [MO-PKCE-07]\n    steps:\n{steps}"
        ),
    )
    .unwrap();
    common::verdicts::plan(dir, Target::mock())
}

const AUTHORIZE: &str = r#"      - name: authorize
        request:
          url: "{{api_base}}/auth"
          authorize:
            client_id: "{{client_id}}"
            redirect_uri: "{{redirect_uri}}"
            pkce: { method: S256 }
"#;

/// The code exchange's property step, its per-case authorization asking as `client_id`.
fn exchange(case_client: &str, from: &str) -> String {
    format!(
        r#"      - name: variants
        property:
          family: token_request
          from: {from}
          cases: 24
          authorize:
            url: "{{{{api_base}}}}/auth"
            authorize:
              client_id: "{case_client}"
              redirect_uri: "{{{{redirect_uri}}}}"
              pkce: {{ method: S256 }}
        request:
          method: POST
          url: "{{{{api_base}}}}/auth/token"
          token:
            grant: authorization_code
            client_id: "{{{{client_id}}}}"
            code: "{{{{secret.code}}}}"
            code_verifier: "{{{{secret.code_verifier}}}}"
            redirect_uri: "{{{{redirect_uri}}}}"
        expect:
          status: [400, 401]
          json: {{ $.access_token: absent }}
"#
    )
}

/// A case whose own authorization request is refused (an unknown client here) could not be
/// tried: the step is an error naming why, never a pass, though every token request would
/// have been refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_whose_own_authorization_gets_no_code_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!("{AUTHORIZE}{}", exchange("no-such-client", "{}"));
    let plan = monerium_plan(dir.path(), &steps);
    let verdict = common::verdicts::run_one(&plan, "monerium::codes::codes", &[], 7).await;
    let Verdict::Error { step, message } = &verdict else {
        panic!("expected an error, got {verdict:?}");
    };
    assert_eq!(*step, Some(1), "{message}");
    assert!(
        message.contains("its authorization request, with a well-formed S256 challenge, got no code (HTTP 400), so the case could not be tried"),
        "{message}"
    );
}

/// With its own authorization each case is judged on a live code: the conformant mock, which
/// consumes a code on any attempt, refuses every case for what the case changed, and a second
/// client's code captured under `other_code` (the step's own `code` and `code_verifier` left
/// in place) is sent among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_clients_code_captured_apart_is_sent_beside_each_cases_own() {
    let dir = tempfile::tempdir().unwrap();
    let other = r#"      - name: authorize the other client
        request:
          url: "{{api_base}}/auth"
          authorize:
            client_id: "{{other_client_id}}"
            redirect_uri: "{{other_redirect_uri}}"
            pkce: { method: S256 }
            capture_as: { code: other_code }
"#;
    let steps = format!(
        "{AUTHORIZE}{other}{}",
        exchange(
            "{{client_id}}",
            r#"{ other_code: "{{secret.other_code}}" }"#
        )
    );
    let plan = monerium_plan(dir.path(), &steps);
    let conformant = common::verdicts::run_one(&plan, "monerium::codes::codes", &[], 3).await;
    assert_eq!(conformant, Verdict::Pass);
    // Without its own codes every case after the first would meet a used code; with them, a
    // server taking the first of a parameter given twice is caught on a live one.
    let lenient = common::verdicts::run_one(
        &plan,
        "monerium::codes::codes",
        &["accepts-repeated-parameters"],
        3,
    )
    .await;
    let Verdict::Fail { step, message } = &lenient else {
        panic!("expected a failure, got {lenient:?}");
    };
    assert_eq!(*step, 2, "{message}");
    assert!(message.contains("`duplicated-parameter: "), "{message}");
}

#[test]
fn bad_capture_as_and_per_case_authorize_blocks_are_located_load_errors() {
    let authorize = |capture_as: &str| {
        format!(
            r#"      - request:
          url: "{{{{api_base}}}}/auth"
          authorize:
            client_id: "{{{{client_id}}}}"
            redirect_uri: "{{{{redirect_uri}}}}"
            capture_as: {capture_as}
"#
        )
    };
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &authorize("{ cod: other_code }"),
        "unknown field `cod`",
    );
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &authorize(r#"{ code: "other code" }"#),
        "expected a capture name (letters, digits, `_`, `-`), like `other_code`, found \"other code\"",
    );
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &authorize("{}"),
        "`capture_as` names none of",
    );
    // A name captured apart is not `code`: using `code` after it is using an undefined name.
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &format!(
            "{}{}",
            authorize("{ code: other_code }"),
            r#"      - request:
          method: POST
          url: "{{api_base}}/auth/token"
          token: { grant: authorization_code, client_id: "{{client_id}}", code: "{{secret.code}}", redirect_uri: "{{redirect_uri}}" }
"#
        ),
        "undefined secret `code`",
    );
    // A case's own authorization captures nothing.
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &format!("{AUTHORIZE}{}", exchange("{{client_id}}", "{}")).replace(
            "              pkce: { method: S256 }\n",
            "              pkce: { method: S256 }\n              capture_as: { code: c }\n",
        ),
        "a case's own authorization captures nothing for later steps: remove `capture_as`",
    );
    // Families other than `pkce` and `token_request` take no per-case authorization.
    common::assert_bad_steps(
        "monerium",
        "MO-PKCE-07",
        &format!("{AUTHORIZE}{}", exchange("{{client_id}}", "{}"))
            .replace("family: token_request", "family: bearer"),
        "family `bearer` runs no authorization request: remove `authorize`",
    );
}

/// The redirect URI the echo server's client registered.
const REGISTERED: &str = "https://client.test/cb";

/// An authorization server reflecting what it gets: `/auth` redirects with a fresh code (echoing
/// the challenge in the redirect); `/token` echoes the form in its body, and issues a token
/// (echoing it too) for a live code cut to 12 characters or more, so the reports keep failing
/// cases holding a case's edited code.
struct Echo {
    seen: Arc<Mutex<Vec<String>>>,
    codes: Arc<Mutex<HashMap<String, bool>>>,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        let mut codes = self.codes.lock().unwrap();
        if request.url.path() == "/auth" {
            let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
            let challenge = query.get("code_challenge").cloned().unwrap_or_default();
            let state = query.get("state").cloned().unwrap_or_default();
            let digest = sha2::Sha256::digest(format!("{challenge}{}", codes.len()).as_bytes());
            let code: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let location = url::Url::parse_with_params(
                REGISTERED,
                [
                    ("code", code.as_str()),
                    ("state", state.as_str()),
                    ("echo", challenge.as_str()),
                ],
            )
            .unwrap();
            // The first is the scenario's own authorization step, whose challenge is public.
            if !codes.is_empty() {
                seen.push(challenge);
            }
            codes.insert(code.clone(), false);
            seen.push(code);
            return ResponseTemplate::new(302).insert_header("location", location.as_str());
        }
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let get = |name: &str| {
            form.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        seen.extend(
            form.iter()
                .filter(|(n, _)| n == "code" || n == "code_verifier")
                .map(|(_, v)| v.clone()),
        );
        let code = get("code");
        let cut_from_live = code.len() >= 12
            && codes
                .iter()
                .any(|(live, used)| !used && live.len() > code.len() && live.starts_with(&code));
        if let Some(used) = codes.get_mut(&code) {
            *used = true;
        }
        let echoed: Vec<String> = form.iter().map(|(n, v)| format!("{n}={v}")).collect();
        if cut_from_live {
            let token = format!("tok-{code}-{}", seen.len());
            seen.push(token.clone());
            return ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "you_sent": echoed,
            }));
        }
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant",
            "you_sent": echoed,
        }))
    }
}

const ECHO_SPEC: &str = "\
provider: echo
title: Echo authorization server (test fixture)
requirements:
  - id: ECHO-TOKEN-01
    statement: Variants of a code exchange are refused.
    source: rfc6749
    kind: RFC
inputs:
  hosts:
    api_base: The echo server's base URL
  secrets:
    api_key: The client id
";

const ECHO_SCENARIOS: &str = r#"scenarios:
  - id: echoed
    title: Every case's own code and verifier is echoed back
    requirements: [ECHO-TOKEN-01]
    steps:
      - name: authorize
        request:
          url: "{{api_base}}/auth"
          authorize: { client_id: "{{secret.api_key}}", redirect_uri: "https://client.test/cb", pkce: { method: S256 } }
      - name: exchange
        request:
          method: POST
          url: "{{api_base}}/token"
          token: { grant: authorization_code, client_id: "{{secret.api_key}}", code: "{{secret.code}}", code_verifier: "{{secret.code_verifier}}", redirect_uri: "https://client.test/cb" }
        property:
          family: token_request
          from: {}
          cases: 128
          authorize:
            url: "{{api_base}}/auth"
            authorize: { client_id: "{{secret.api_key}}", redirect_uri: "https://client.test/cb", pkce: { method: S256 } }
        expect: { status: 400 }
"#;

/// Every code a case's own authorization got, its edits and its verifier, echoed back by the
/// server, reach no output; the server taking a truncated code is caught on a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cases_own_code_and_verifier_echoed_by_the_server_reach_no_output() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo {
            seen: seen.clone(),
            codes: Default::default(),
        })
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: ECHO_SPEC,
            flow: "codes",
            scenarios: ECHO_SCENARIOS,
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_CODES_CLIENT",
            key: "CANARY-codes-5e1f-client",
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "c0de"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence_text(&run);
    run.assert_no_output_holds_what_was_seen(&seen.lock().unwrap(), "CANARY-codes", 256);
    // Positive: a failing truncated-code case and its own authorization reached the reports.
    assert!(
        evidence.contains("you_sent") && evidence.contains("truncated to "),
        "{}",
        run.dump()
    );
    assert!(evidence.contains("echo=[redacted"), "{}", run.dump());
}

/// An authorization step with `capture_as` keeps the first client's `code` and `code_verifier`
/// in place: each client's code is then exchanged with its own verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_as_keeps_each_clients_code_and_verifier_apart() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!(
        "{AUTHORIZE}{}",
        r#"      - name: authorize the other client
        request:
          url: "{{api_base}}/auth"
          authorize:
            client_id: "{{other_client_id}}"
            redirect_uri: "{{other_redirect_uri}}"
            pkce: { method: S256 }
            capture_as: { code: other_code, code_verifier: other_verifier }
      - name: exchange the first client's code
        request:
          method: POST
          url: "{{api_base}}/auth/token"
          token: { grant: authorization_code, client_id: "{{client_id}}", code: "{{secret.code}}", code_verifier: "{{secret.code_verifier}}", redirect_uri: "{{redirect_uri}}" }
        expect: { status: 200 }
      - name: exchange the other client's code
        request:
          method: POST
          url: "{{api_base}}/auth/token"
          token: { grant: authorization_code, client_id: "{{other_client_id}}", code: "{{secret.other_code}}", code_verifier: "{{secret.other_verifier}}", redirect_uri: "{{other_redirect_uri}}" }
        expect: { status: 200 }
"#
    );
    let plan = monerium_plan(dir.path(), &steps);
    let verdict = common::verdicts::run_one(&plan, "monerium::codes::codes", &[], 1).await;
    assert_eq!(verdict, Verdict::Pass);
}

/// A per-case authorization sending a PKCE challenge while the token request sends no verifier
/// could prove no case's code: the step is an error, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_no_case_can_prove_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let steps = format!("{AUTHORIZE}{}", exchange("{{client_id}}", "{}")).replace(
        "            code_verifier: \"{{secret.code_verifier}}\"\n",
        "",
    );
    let plan = monerium_plan(dir.path(), &steps);
    let verdict = common::verdicts::run_one(&plan, "monerium::codes::codes", &[], 1).await;
    let Verdict::Error { step, message } = &verdict else {
        panic!("expected an error, got {verdict:?}");
    };
    assert_eq!(*step, Some(1), "{message}");
    assert!(
        message.contains(
            "sends a PKCE challenge, but the step's token request sends no `code_verifier`"
        ),
        "{message}"
    );
}

/// Without PKCE the per-case authorization request is sent as written: each case still gets a
/// code of its own, and every token request carries one the server issued (or an edit of one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pkce_each_case_still_gets_a_code_of_its_own() {
    let server = MockServer::start().await;
    let codes: Arc<Mutex<HashMap<String, bool>>> = Default::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo {
            seen: seen.clone(),
            codes: codes.clone(),
        })
        .mount(&server)
        .await;
    let scenarios = ECHO_SCENARIOS
        .replace(", pkce: { method: S256 }", "")
        .replace(", code_verifier: \"{{secret.code_verifier}}\"", "")
        .replace("cases: 128", "cases: 32");
    let tree = LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: ECHO_SPEC,
            flow: "codes",
            scenarios: Box::leak(scenarios.into_boxed_str()),
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_CODES_CLIENT",
            key: "CANARY-codes-5e1f-client",
        },
    );
    let run = blocking(move || tree.command("run", &["--seed", "5eed"])).await;
    let codes = codes.lock().unwrap();
    // The scenario's own authorization, then one per case (a failing case's shrinking adds more).
    assert!(
        codes.len() > 32,
        "{} authorizations\n{}",
        codes.len(),
        run.dump()
    );
    let used = codes.values().filter(|used| **used).count();
    // With the step's one code, that code would be the only one ever sent.
    assert!(
        used >= 16,
        "{used} of the cases' codes were sent as issued\n{}",
        run.dump()
    );
}
