//! Named kinds of generated cases: a scenario's `except` and a target's `property.except` leave
//! kinds out before drawing (never sent, not even while shrinking), every output records what was
//! left out, by whom and why, and bad exclusions are located load errors. Also the Electrum
//! password-grant scenario's teeth under fixed seeds.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use authconform::Verdict;
use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{blocking, evidence_text};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_SECRET: &str = "kinds-client-secret-0123";
const KEY_ENV: &str = "AUTHCONFORM_KINDS_CLIENT_SECRET";

const SPEC: &str = "\
provider: kinds
title: Kinds API (test fixture)
requirements:
  - id: KINDS-TOKEN-01
    statement: Malformed token requests are refused.
    source: rfc6749
    kind: RFC
inputs:
  hosts:
    api_base: The token endpoint's base URL
  secrets:
    api_key: The client secret
";

/// What the server saw: requests carrying the client in both places, and ones with a wrong
/// client secret.
#[derive(Default)]
struct Seen {
    total: AtomicUsize,
    both_places: AtomicUsize,
    wrong_secret: AtomicUsize,
}

/// A strict token endpoint: every request the family generates is refused with 400
/// `invalid_request`, and the kinds the tests leave out are counted.
struct CountingToken(Arc<Seen>);

impl Respond for CountingToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let seen = &self.0;
        seen.total.fetch_add(1, Ordering::SeqCst);
        let secrets: Vec<&str> = form
            .iter()
            .filter(|(n, _)| n == "client_secret")
            .map(|(_, v)| v.as_str())
            .collect();
        if request.headers.contains_key("authorization") && !secrets.is_empty() {
            seen.both_places.fetch_add(1, Ordering::SeqCst);
        }
        if secrets.iter().any(|s| *s != CLIENT_SECRET) {
            seen.wrong_secret.fetch_add(1, Ordering::SeqCst);
        }
        ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": "invalid_request"}))
    }
}

const BOTH_PLACES_REASON: &str = "the provider accepts a client in both places";
const WRONG_SECRET_REASON: &str = "a wrong secret locks this client";

fn scenarios(except: &str) -> String {
    format!(
        r#"scenarios:
  - id: generated-token-requests
    title: Every generated token request is refused
    requirements: [KINDS-TOKEN-01]
    steps:
      - name: variants of the token request are refused
        property:
          family: token_request
          from: {{}}{except}
        request:
          method: POST
          url: "{{{{api_base}}}}/token"
          token:
            grant: client_credentials
            client_id: kinds-client
            client_secret: "{{{{secret.api_key}}}}"
            client_auth: client_secret_post
        expect:
          status: [400, 401]
          json: {{ $.access_token: absent }}
"#
    )
}

/// Starts the counting endpoint and a tree whose scenario has `except` (YAML after `from: {}`)
/// and whose target adds `target_property` (a top-level block, or empty).
async fn counting_tree(except: &str, target_property: &str) -> (MockServer, Arc<Seen>, LiveTree) {
    let server = MockServer::start().await;
    let seen = Arc::new(Seen::default());
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(CountingToken(seen.clone()))
        .mount(&server)
        .await;
    let scenarios: &'static str = Box::leak(scenarios(except).into_boxed_str());
    let tree = LiveTree::new(
        &server.uri(),
        LiveTreeFiles {
            provider: "kinds",
            spec: SPEC,
            flow: "token",
            scenarios,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: CLIENT_SECRET,
        },
    );
    if !target_property.is_empty() {
        let target = std::fs::read_to_string(tree.path("target.yaml")).unwrap();
        tree.write("target.yaml", &format!("{target_property}{target}"));
    }
    (server, seen, tree)
}

/// The scenario leaves out `both-places` and the target `wrong-client-secret`: the server never
/// sees either among the 256 cases, the step passes, and the same step with neither exclusion
/// sends both. Every output says which kinds were not tried, who left them out and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn left_out_kinds_are_never_sent_and_every_output_says_why() {
    let except = format!(
        "\n          except:\n            - {{ kind: both-places, because: \"{BOTH_PLACES_REASON}\" }}"
    );
    let target_property = format!(
        "property:\n  except:\n    - {{ kind: wrong-client-secret, family: token_request, because: \"{WRONG_SECRET_REASON}\" }}\n    - {{ kind: wrong-password, because: \"never applies to a client credentials grant\" }}\n"
    );
    let (_server, seen, tree) = counting_tree(&except, &target_property).await;
    let tree = Arc::new(tree);
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--seed", "5"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(seen.total.load(Ordering::SeqCst) >= 200, "{}", run.dump());
    assert_eq!(seen.both_places.load(Ordering::SeqCst), 0);
    assert_eq!(seen.wrong_secret.load(Ordering::SeqCst), 0);

    let scenario_line = format!("both-places (left out by the scenario: {BOTH_PLACES_REASON})");
    let target_line =
        format!("wrong-client-secret (left out by the target: {WRONG_SECRET_REASON})");
    for (name, text) in run.report_outputs() {
        if name == "stderr" {
            continue;
        }
        for needle in [&scenario_line, &target_line] {
            assert!(
                text.contains(needle.as_str()),
                "{name} lacks `{needle}`:\n{text}"
            );
        }
    }
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();
    let left_out = &evidence["scenarios"][0]["steps"][0]["property"]["left_out"];
    assert_eq!(
        left_out,
        &serde_json::json!([
            {"kind": "both-places", "by": "scenario", "because": BOTH_PLACES_REASON},
            {"kind": "wrong-client-secret", "by": "target", "because": WRONG_SECRET_REASON},
            {"kind": "wrong-password", "by": "target", "because": "never applies to a client credentials grant"},
        ]),
        "{}",
        run.dump()
    );
    assert!(
        common::evidence_schema_errors(&evidence).is_empty(),
        "{:?}",
        common::evidence_schema_errors(&evidence)
    );

    // The same step without the exclusions sends both kinds.
    let (_server, seen, tree) = counting_tree("", "").await;
    let run = blocking(move || tree.command("run", &["--seed", "5"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        seen.both_places.load(Ordering::SeqCst) > 0,
        "{}",
        run.dump()
    );
    assert!(
        seen.wrong_secret.load(Ordering::SeqCst) > 0,
        "{}",
        run.dump()
    );
    assert!(!run.stdout.contains("not tried"), "{}", run.dump());
}

#[test]
fn bad_exclusions_in_a_scenario_are_located_load_errors() {
    let step = |except: &str| {
        format!(
            "      - property: {{ family: token_request, from: {{}}, except: {except} }}\n        request: {{ method: POST, url: \"{{{{api_base}}}}/v1/token\", body: {{ form: {{ grant_type: client_credentials }} }} }}\n        expect: {{ status: 400 }}\n"
        )
    };
    for (except, expected) in [
        (
            "[ { kind: both-place, because: x } ]",
            "unknown kind `both-place` for family `token_request`: expected one of `duplicated-parameter`, `missing-parameter`",
        ),
        (
            "[ { kind: both-places, because: \" \" } ]",
            "say why `both-places` is left out",
        ),
        (
            "[ { kind: both-places, because: x }, { kind: both-places, because: y } ]",
            "kind `both-places` is already left out above",
        ),
        (
            "[ { kind: both-places, reason: x } ]",
            "unknown field `reason`",
        ),
    ] {
        common::assert_bad_steps("demo", "DEMO-TOKEN-03", &step(except), expected);
    }
    common::assert_bad_steps(
        "demo",
        "DEMO-BASIC-03",
        "      - property: { family: basic_accepted, from: { username: u, password: p }, except: [ { kind: re-encoded, because: x }, { kind: scheme-case, because: y } ] }\n        request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 200 }\n",
        "every kind of family `basic_accepted` is left out",
    );
}

#[test]
fn bad_exclusions_in_a_target_are_located() {
    for (block, expected) in [
        (
            "property:\n  except:\n    - { kind: wrong-pasword, because: lockout }\n",
            "unknown kind `wrong-pasword` for any family: expected one of",
        ),
        (
            "property:\n  except:\n    - { kind: both-places, family: basic, because: x }\n",
            "unknown kind `both-places` for family `basic`: expected one of `empty-user-id`",
        ),
        (
            "property:\n  except:\n    - { kind: wrong-password, because: \"\" }\n",
            "say why `wrong-password` is left out",
        ),
        (
            "property:\n  except:\n    - { kind: wrong-password, family: tokens, because: x }\n",
            "unknown variant `tokens`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.yaml");
        let text =
            std::fs::read_to_string(std::path::Path::new(common::ROOT).join("targets/mock.yaml"))
                .unwrap();
        std::fs::write(&target, format!("{text}\n{block}")).unwrap();
        let run = common::authconform(&["validate", "--target", &target.display().to_string()]);
        assert_eq!(run.code, Some(2), "{block}\n{}", run.dump());
        assert!(
            run.stderr.contains(expected) && run.stderr.contains("target.yaml:"),
            "{block}\n{}",
            run.dump()
        );
    }
}

const ELECTRUM_GRANTS: &str = "electrum::token::generated-password-grants-refused";

/// Electrum's generated password grants catch a token endpoint taking the first of a repeated
/// parameter under every seed tried, and the faithful mock passes under the same seeds.
#[tokio::test]
async fn repeated_parameters_accepted_by_electrum_are_caught_whatever_the_seed() {
    let plan = common::verdicts::mock_plan();
    for seed in [1, 2, 3, 0x9f3c] {
        match common::verdicts::run_one(
            &plan,
            ELECTRUM_GRANTS,
            &["accepts-repeated-parameters"],
            seed,
        )
        .await
        {
            Verdict::Fail { message, .. } => assert!(
                message.contains("duplicated-parameter"),
                "seed {seed}: {message}"
            ),
            other => panic!("seed {seed}: expected a failure, got {other:?}"),
        }
        let verdict = common::verdicts::run_one(&plan, ELECTRUM_GRANTS, &[], seed).await;
        assert_eq!(verdict, Verdict::Pass, "seed {seed}");
    }
}
