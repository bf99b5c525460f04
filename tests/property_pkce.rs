//! The `pkce` property family end to end: each lenient Monerium variant only this family can
//! catch is caught under a fixed run seed (and the conformant mock passes under others), every
//! generated verifier, challenge and code a server echoes back stays out of every output
//! (through the binary, on a loopback authorization server reflecting them), and bad `pkce`
//! property blocks are located load errors.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use authconform::Verdict;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use sha2::Digest as _;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TRIAL: &str = "monerium::authorization_code::generated-pkce-attacks-refused";

/// Runs the Monerium PKCE property scenario under `deviations` with run seed `seed`.
async fn run_monerium(deviations: &[&str], seed: u64) -> Verdict {
    common::verdicts::run_one(&common::verdicts::mock_plan(), TRIAL, deviations, seed).await
}

/// How many scenario runs go at once.
const RUNS_AT_ONCE: usize = 3;

/// Each lenient variant, with what its failure must name (the kind of case that caught it).
const LENIENT: &[(&str, &[&str])] = &[
    (
        "accepts-verifier-of-any-length",
        &["verifier: ", "got HTTP 200, expected 400"],
    ),
    (
        "accepts-verifier-of-any-character",
        &["bad-character: ", "got HTTP 200, expected 400"],
    ),
    (
        "accepts-missing-verifier",
        &["no-verifier: ", "got HTTP 200, expected 400"],
    ),
    (
        "accepts-plain-pkce",
        &["-method: ", "got HTTP 200, expected 400"],
    ),
];

/// A lenient variant caught only by luck is no teeth: each is caught under a fixed seed (and
/// the deviation table's random one), with the default case count, and the conformant mock
/// passes under other seeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lenient_variant_is_caught_whatever_the_seed() {
    // With the random seed of every `tests/deviations_monerium.rs` run, each lenient variant is
    // caught under two seeds each time (each run costs about a second of CPU).
    let runs = LENIENT
        .iter()
        .map(|(deviation, fragments)| (Some((*deviation, *fragments)), 0x9f3c))
        .chain([2, 3].map(|seed| (None, seed)));
    let mut verdicts = Vec::new();
    // A few runs at a time: each starts its own mock servers, which compete for two cores.
    for chunk in runs.collect::<Vec<_>>().chunks(RUNS_AT_ONCE) {
        verdicts.extend(
            futures::future::join_all(chunk.iter().map(|&(lenient, seed)| async move {
                let deviations: Vec<&str> = lenient.iter().map(|(d, _)| *d).collect();
                (lenient, seed, run_monerium(&deviations, seed).await)
            }))
            .await,
        );
    }
    for (lenient, seed, verdict) in verdicts {
        match lenient {
            None => assert_eq!(verdict, Verdict::Pass, "conformant, seed {seed}"),
            Some((deviation, fragments)) => {
                let Verdict::Fail { step, message } = &verdict else {
                    panic!("{deviation}, seed {seed}: expected a failure, got {verdict:?}");
                };
                assert_eq!(*step, 1, "{deviation}, seed {seed}: {message}");
                for fragment in fragments.iter().chain(&["replay: authconform run"]) {
                    assert!(
                        message.contains(fragment),
                        "{deviation}, seed {seed}: no {fragment:?} in {message}"
                    );
                }
            }
        }
    }
}

/// An authorization server and token endpoint reflecting what it gets: `/auth` redirects with a
/// code derived from the challenge and echoes the challenge in the redirect; `/token` echoes the
/// verifier and the code in its body, and issues a token (echoing it too) for a verifier longer
/// than 128 characters, so the reports keep failing cases.
struct Echo {
    seen: Arc<Mutex<Vec<String>>>,
}

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        if request.url.path() == "/auth" {
            let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
            let challenge = query.get("code_challenge").cloned().unwrap_or_default();
            let state = query.get("state").cloned().unwrap_or_default();
            let digest = sha2::Sha256::digest(format!("{challenge}{}", seen.len()).as_bytes());
            let code: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            let location = url::Url::parse_with_params(
                "https://client.test/cb",
                [
                    ("code", code.as_str()),
                    ("state", state.as_str()),
                    ("echo", challenge.as_str()),
                ],
            )
            .unwrap();
            // The first request is the scenario's own authorization step, whose S256 challenge
            // is public like any step's; the cases' challenges are generated values.
            if !seen.is_empty() {
                seen.push(challenge);
            }
            seen.push(code);
            return ResponseTemplate::new(302).insert_header("location", location.as_str());
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let code = form.get("code").cloned().unwrap_or_default();
        seen.extend([verifier.clone(), code.clone()]);
        if verifier.chars().count() > 128 {
            let token = format!("tok-{code}");
            seen.push(token.clone());
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "access_token": token,
                "token_type": "Bearer",
                "you_sent": verifier,
                "code": code,
            }))
        } else {
            ResponseTemplate::new(400).set_body_json(serde_json::json!({
                "error": "invalid_grant",
                "you_sent": verifier,
                "code": code,
            }))
        }
    }
}

const SPEC: &str = "\
provider: echo
title: Echo authorization server (test fixture)
requirements:
  - id: ECHO-PKCE-01
    statement: PKCE attacks are refused.
    source: rfc7636
    kind: RFC
inputs:
  hosts:
    api_base: The echo server's base URL
  secrets:
    api_key: The client id
";

const SCENARIOS: &str = r#"scenarios:
  - id: echoed
    title: Every generated verifier, challenge and code is echoed back
    requirements: [ECHO-PKCE-01]
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
          family: pkce
          from: { verifier: "{{secret.code_verifier}}", required_method: S256 }
          cases: 128
          authorize:
            url: "{{api_base}}/auth"
            authorize: { client_id: "{{secret.api_key}}", redirect_uri: "https://client.test/cb", pkce: { method: S256 } }
        expect: { status: 400 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_verifiers_challenges_and_codes_echoed_by_the_server_reach_no_output() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(wiremock::matchers::any())
        .respond_with(Echo { seen: seen.clone() })
        .mount(&server)
        .await;
    let tree = Arc::new(LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: SPEC,
            flow: "pkce",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_PKCE_CLIENT",
            key: "CANARY-pkce-7d2b-client",
        },
    ));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "c0de"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence = evidence_text(&run);
    run.assert_no_output_holds_what_was_seen(&seen.lock().unwrap(), "CANARY-pkce", 256);
    // Positive: a failing case and its own authorization request reached the reports, redacted.
    assert!(
        evidence.contains("you_sent") && evidence.contains("long-verifier"),
        "{}",
        run.dump()
    );
    assert!(evidence.contains("echo=[redacted"), "{}", run.dump());
}

#[test]
fn bad_pkce_property_blocks_are_located_load_errors() {
    let token = "        request:\n          method: POST\n          url: \"{{api_base}}/auth/token\"\n          token: { grant: authorization_code, client_id: c, code: x, code_verifier: y, redirect_uri: \"https://r.test/cb\" }\n        expect: { status: 400 }\n";
    let authorize = "{ url: \"{{api_base}}/auth\", authorize: { client_id: c, redirect_uri: \"https://r.test/cb\", pkce: { method: S256 } } }";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("      - property: {{ family: pkce, from: {{ verifier: v }} }}\n{token}"),
            "family `pkce` runs an authorization request per case: add `authorize`",
        ),
        (
            format!(
                "      - property: {{ family: basic, from: {{ username: u, password: p }}, authorize: {authorize} }}\n        request: {{ url: \"{{{{api_base}}}}/v1/profile\" }}\n        expect: {{ status: 401 }}\n"
            ),
            "family `basic` runs no authorization request: remove `authorize`",
        ),
        (
            format!(
                "      - property: {{ family: pkce, from: {{ verifier: v }}, authorize: {{ url: \"{{{{api_base}}}}/auth\" }} }}\n{token}"
            ),
            "must be an authorization request: give it an `authorize` block",
        ),
        (
            format!(
                "      - property: {{ family: pkce, from: {{ verifier: v }}, authorize: {{ url: \"{{{{api_base}}}}/auth\", authorize: {{ client_id: c, redirect_uri: \"https://r.test/cb\" }} }} }}\n{token}"
            ),
            "add `pkce: {}` to this authorization request",
        ),
        (
            format!(
                "      - property: {{ family: pkce, from: {{ verifier: v }}, authorize: {authorize} }}\n        request: {{ url: \"{{{{api_base}}}}/auth/token\" }}\n        expect: {{ status: 400 }}\n"
            ),
            "give the step's request a `token` block",
        ),
        (
            format!(
                "      - property: {{ family: pkce, from: {{ verifer: v }}, authorize: {authorize} }}\n{token}"
            ),
            "unknown key `verifer` for family `pkce`",
        ),
    ];
    for (step, expected) in &cases {
        common::assert_bad_steps("monerium", "MO-PKCE-05", step, expected);
    }
}

/// An authorization server that misbehaves one way: `Refuses` gives a code to the scenario's
/// own authorization request only and refuses every case's with `access_denied`; `PlainAs400`
/// answers a challenge that is not S256 with a 400 page instead of the error redirect. Its
/// token endpoint refuses everything.
#[derive(Clone, Copy)]
enum Misbehaving {
    Refuses,
    PlainAs400,
    /// Not misbehaving: `/auth` shows a login form, and only its submission (`POST /login`,
    /// with the right password) redirects with a code.
    SignIn,
}

struct Server {
    mode: Misbehaving,
    authorizations: std::sync::atomic::AtomicUsize,
}

impl Respond for Server {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        match (self.mode, request.url.path()) {
            (Misbehaving::SignIn, "/auth") => {
                let original = request.url.query().unwrap_or_default();
                let page = format!(
                    "<html><body><form method=\"post\" action=\"/login\"><input name=\"username\"><input type=\"password\" name=\"password\"><input type=\"hidden\" name=\"q\" value=\"{}\"><button type=\"submit\">Sign in</button></form></body></html>",
                    original.replace('&', "&amp;")
                );
                return ResponseTemplate::new(200).set_body_raw(page, "text/html");
            }
            (Misbehaving::SignIn, "/login") => {
                let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
                    .into_owned()
                    .collect();
                if form.get("password").map(String::as_str) != Some("CANARY-pkce-7d2b-client") {
                    return ResponseTemplate::new(401);
                }
                query = url::form_urlencoded::parse(form.get("q").map_or("", |q| q).as_bytes())
                    .into_owned()
                    .collect();
            }
            (_, "/auth") => {}
            _ => {
                return ResponseTemplate::new(400).set_body_json(serde_json::json!({
                    "error": "invalid_grant",
                }));
            }
        }
        let state = query.get("state").cloned().unwrap_or_default();
        let n = self
            .authorizations
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let s256 = query.get("code_challenge_method").map(String::as_str) == Some("S256");
        let reply = match self.mode {
            Misbehaving::Refuses if n > 0 => ("error", "access_denied"),
            Misbehaving::PlainAs400 if !s256 => return ResponseTemplate::new(400),
            _ => ("code", "code-0123456789abcdef"),
        };
        let location = url::Url::parse_with_params(
            "https://client.test/cb",
            [reply, ("state", state.as_str())],
        )
        .unwrap();
        ResponseTemplate::new(302).insert_header("location", location.as_str())
    }
}

/// [`SCENARIOS`] with a login form to fill in each authorization request.
const SCENARIOS_SIGN_IN: &str = r#"scenarios:
  - id: echoed
    title: Every case signs in for its own code
    requirements: [ECHO-PKCE-01]
    steps:
      - name: authorize
        request:
          url: "{{api_base}}/auth"
          authorize: { client_id: c, redirect_uri: "https://client.test/cb", pkce: { method: S256 }, login: { form: { fields: { username: u, password: "{{secret.api_key}}" } } } }
      - name: exchange
        request:
          method: POST
          url: "{{api_base}}/token"
          token: { grant: authorization_code, client_id: c, code: "{{secret.code}}", code_verifier: "{{secret.code_verifier}}", redirect_uri: "https://client.test/cb" }
        property:
          family: pkce
          from: { verifier: "{{secret.code_verifier}}" }
          cases: 64
          authorize:
            url: "{{api_base}}/auth"
            authorize: { client_id: c, redirect_uri: "https://client.test/cb", pkce: { method: S256 }, login: { form: { fields: { username: u, password: "{{secret.api_key}}" } } } }
        expect: { status: 400 }
"#;

async fn run_against(mode: Misbehaving) -> common::Run {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Server {
            mode,
            authorizations: Default::default(),
        })
        .mount(&server)
        .await;
    let tree = LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "echo",
            spec: SPEC,
            flow: "pkce",
            scenarios: match mode {
                Misbehaving::SignIn => SCENARIOS_SIGN_IN,
                _ => SCENARIOS,
            },
            target: "target.yaml",
            key_env: "AUTHCONFORM_TEST_PKCE_CLIENT",
            key: "CANARY-pkce-7d2b-client",
        },
    );
    blocking(move || tree.command("run", &["--seed", "5eed"])).await
}

/// A case whose well-formed S256 challenge gets no code could not be tried: the step is an
/// error naming why, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_refused_at_authorization_without_cause_is_an_error_not_a_pass() {
    let run = run_against(Misbehaving::Refuses).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.junit.contains("<error")
            && run.stdout.contains(
                "with a well-formed S256 challenge, got no code (an error redirect `access_denied`)"
            ),
        "{}",
        run.dump()
    );
}

/// `plain` where S256 is required must be refused with RFC 7636 §4.4.1's `invalid_request`
/// error redirect: a bare 400 fails the case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_refused_otherwise_than_with_the_error_redirect_fails() {
    let run = run_against(Misbehaving::PlainAs400).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.junit.contains("<failure")
            && run.stdout.contains(
                "refuses the method with the `invalid_request` error redirect (RFC 7636 §4.4.1): got HTTP 400 without a redirect"
            ),
        "{}",
        run.dump()
    );
}

/// Each case's authorization request goes through the login form, as the scenario's own did:
/// every case gets its code by signing in, and all of them are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_case_signs_in_at_the_login_form_for_its_own_code() {
    let run = run_against(Misbehaving::SignIn).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let evidence = evidence_text(&run);
    assert!(
        evidence.contains("64 of 64 cases held") && !run.stdout.contains("CANARY-pkce"),
        "{}",
        run.dump()
    );
}
