//! Checks resting on assumptions, through the real binary against a loopback server: an
//! `assumed:` check that fails while the documented ones hold gives `differs-from-assumption`
//! (exit 0, a passing JUnit testcase with its note), `--strict` makes it a failure (exit 1, JUnit
//! `<failure>`), a documented failure beside it is still a failure, a scenario citing only
//! `Assumed` requirements differs rather than fails, a capture resting on the assumed shape ends
//! the scenario as differing; every report shows the status, merging keeps it, and a secret in a
//! failed assumed check's found value is redacted everywhere. Bad `assumed` blocks are load
//! errors at their position. The JUnit of such runs validates against the Jenkins schema
//! (`#[ignore]`d: needs xmllint, as `tests/junit_schema.rs`).

mod common;

use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{
    Run, assert_junit_schema_valid, authconform_with_env, blocking, evidence_schema_errors,
    evidence_text, read,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The API key the target takes from the environment; the server echoes it in its error body.
const CANARY: &str = "CANARY-assume-9d41-api-key";
const KEY_ENV: &str = "AUTHCONFORM_TEST_ASSUME_KEY";

const SPEC: &str = "\
provider: shop
title: Shop API (test fixture)
requirements:
  - id: SHOP-REFUSE-01
    statement: A refused key gets 400.
    source: shop docs, errors
    kind: Doc
  - id: SHOP-REFUSE-02
    statement: A refused key gets 400 and no Location.
    source: shop docs, errors
    kind: Doc
  - id: SHOP-LIST-01
    statement: The key list holds the keys.
    source: shop docs, keys
    kind: Doc
  - id: SHOP-TEAPOT-01
    statement: The refusal is a 418.
    source: the docs give no status; the mock answers 418
    kind: Assumed
  - id: SHOP-TEAPOT-02
    statement: A refused key gets a 418.
    source: the docs give no status; the mock answers 418
    kind: Assumed
inputs:
  hosts:
    api_base: The shop API's base URL
  secrets:
    api_key: The shop API key
";

const SCENARIOS: &str = r#"scenarios:
  - id: body-differs
    title: The refusal's documented parts hold, its assumed body does not
    requirements: [SHOP-REFUSE-02]
    steps:
      - name: refused key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect:
          status: 400
          headers: { location: absent }
          assumed:
            because: the docs give only the 400, not the error body
            json:
              $.error: { equals: invalid_request }
              $.detail: { equals: "key refused" }
      - name: the scenario goes on
        request: { url: "{{api_base}}/ok" }
        expect: { status: 200 }

  - id: documented-failure
    title: A documented failure is a failure, notes or not
    requirements: [SHOP-REFUSE-01]
    steps:
      - name: refused key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect:
          status: 401
          assumed:
            because: the docs give only the status, not the error body
            json: { $.error: { equals: invalid_request } }

  - id: all-assumed
    title: A scenario citing only Assumed requirements still fails where a plain check fails
    requirements: [SHOP-TEAPOT-02]
    steps:
      - name: refused key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect: { status: 418 }

  - id: assumed-status
    title: A refusal whose status is the assumed detail differs rather than fails
    requirements: [SHOP-TEAPOT-01]
    steps:
      - name: refused key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect:
          status: [400, 418]
          assumed: { because: "the docs give no status; the mock answers 418", status: 418 }

  - id: polls-for-the-assumed-shape
    title: A polling step whose documented checks hold keeps polling while an assumed one fails
    requirements: [SHOP-REFUSE-02]
    steps:
      - name: refused key, eventually with the assumed status
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        eventually: { within: 800ms, every: 200ms }
        expect:
          status: 400
          assumed:
            because: the docs do not say the refusal becomes a 401
            status: 401

  - id: capture-on-assumed-shape
    title: A capture that rests on the assumed member name ends the scenario as differing
    requirements: [SHOP-LIST-01]
    steps:
      - name: list the keys
        request: { url: "{{api_base}}/list" }
        expect:
          status: 200
          assumed:
            because: the docs do not name the list's member
            json: { "$.items[*].id": exists }
        capture:
          first: { jsonpath: "$.items[0].id" }
      - name: read the first key
        request: { url: "{{api_base}}/keys/{{first}}" }
        expect: { status: 200 }
"#;

/// The spec and scenarios above, on a live target at `server`.
fn tree(server: &str) -> LiveTree {
    LiveTree::new(
        server,
        LiveTreeFiles {
            provider: "shop",
            spec: SPEC,
            flow: "refusal",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: CANARY,
        },
    )
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    let refusal = serde_json::json!({
        "error": "bad_request",
        "detail": format!("key {CANARY} refused"),
    });
    Mock::given(method("GET"))
        .and(path("/refuse"))
        .respond_with(ResponseTemplate::new(400).set_body_json(refusal))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/list"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"apiKeys": [{"id": "k1"}]})),
        )
        .mount(&server)
        .await;
    server
}

/// Returns the `<testcase …>…</testcase>` (or self-closed) element of scenario `id`.
fn testcase<'a>(junit: &'a str, id: &str) -> &'a str {
    let start = junit
        .find(&format!("<testcase name=\"{id}\""))
        .unwrap_or_else(|| panic!("no testcase {id} in\n{junit}"));
    let rest = &junit[start..];
    let end = rest.find("</testcase>").map_or_else(
        || rest.find("/>").expect("an end") + 2,
        |e| e + "</testcase>".len(),
    );
    &rest[..end]
}

fn scenario<'a>(evidence: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    evidence["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

fn requirement_status<'a>(evidence: &'a serde_json::Value, id: &str) -> &'a str {
    evidence["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .and_then(|r| r["status"].as_str())
        .unwrap_or_else(|| panic!("no requirement {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assumed_check_differs_without_failing_unless_strict() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["shop::refusal::body-differs"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stdout.contains("DIFFERS shop::refusal::body-differs"),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout
            .contains("differs from assumption: step 1 (refused key): $.error"),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout
            .contains("(assumed: the docs give only the 400, not the error body)"),
        "{}",
        run.dump()
    );
    // The scenario went on past the step whose assumed checks failed.
    assert!(
        run.stdout.contains("step 2 [ok] the scenario goes on"),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout.contains("1 differ from an assumption"),
        "{}",
        run.dump()
    );
    assert!(run.stdout.contains("PASSED"), "{}", run.dump());
    let case = testcase(&run.junit, "body-differs");
    assert!(
        case.contains("status=\"differs-from-assumption\""),
        "{case}"
    );
    assert!(!case.contains("<failure"), "{case}");
    assert!(
        case.contains("authconform.status: differs-from-assumption"),
        "{case}"
    );
    assert!(
        case.contains("the docs give only the 400, not the error body"),
        "{case}"
    );
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();
    assert_eq!(evidence["run"]["strict"], false);

    let t = tree.clone();
    let strict =
        blocking(move || t.command("run", &["--strict", "shop::refusal::body-differs"])).await;
    assert_eq!(strict.code, Some(1), "{}", strict.dump());
    assert!(strict.stdout.contains("FAILED"), "{}", strict.dump());
    let case = testcase(&strict.junit, "body-differs");
    assert!(
        case.contains("<failure type=\"differs-from-assumption\""),
        "{case}"
    );
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&strict)).unwrap();
    assert_eq!(evidence["run"]["strict"], true);
    assert_eq!(
        scenario(&evidence, "body-differs")["verdict"],
        "differs-from-assumption"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_shows_the_status_and_merging_keeps_it() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &[])).await;
    // A documented failure fails the run whatever else differs.
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence_json = evidence_text(&run);
    let evidence: serde_json::Value = serde_json::from_str(&evidence_json).unwrap();
    let errors = evidence_schema_errors(&evidence);
    assert!(errors.is_empty(), "{errors:#?}");

    let documented = scenario(&evidence, "documented-failure");
    assert_eq!(documented["verdict"], "fail");
    let message = documented["message"].as_str().unwrap();
    assert!(message.contains("got HTTP 400, expected 401"), "{message}");
    assert!(!message.contains("$.error"), "{message}");
    // The note of the failing step is still listed.
    let note = &documented["steps"][0]["assumed"][0];
    assert!(
        note["check"].as_str().unwrap().contains("$.error"),
        "{note}"
    );

    let differs = scenario(&evidence, "body-differs");
    assert_eq!(differs["verdict"], "differs-from-assumption");
    assert_eq!(differs["steps"].as_array().unwrap().len(), 2);
    let notes = differs["steps"][0]["assumed"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(
        notes[0]["because"],
        "the docs give only the 400, not the error body"
    );
    assert!(
        notes[0]["check"]
            .as_str()
            .unwrap()
            .contains("$.error: expected to equal \"invalid_request\""),
        "{notes:?}"
    );
    assert_eq!(
        differs["steps"][0]["failed"].as_array().unwrap().len(),
        0,
        "{differs}"
    );

    // A requirement of kind Assumed does not turn a plain check into an assumption: a provider
    // breaking the documented part of it must fail.
    let all_assumed = scenario(&evidence, "all-assumed");
    assert_eq!(all_assumed["verdict"], "fail", "{all_assumed}");
    let assumed_status = scenario(&evidence, "assumed-status");
    assert_eq!(assumed_status["verdict"], "differs-from-assumption");
    let note = &assumed_status["steps"][0]["assumed"][0];
    assert!(
        note["check"]
            .as_str()
            .unwrap()
            .contains("got HTTP 400, expected 418"),
        "{note}"
    );
    assert_eq!(
        note["because"], "the docs give no status; the mock answers 418",
        "{note}"
    );

    let captured = scenario(&evidence, "capture-on-assumed-shape");
    assert_eq!(captured["verdict"], "differs-from-assumption");
    assert_eq!(captured["steps"].as_array().unwrap().len(), 1, "{captured}");
    let notes = captured["steps"][0]["assumed"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["check"].as_str().unwrap().starts_with("capture `first`")),
        "{notes:?}"
    );

    assert_eq!(requirement_status(&evidence, "SHOP-REFUSE-01"), "failed");
    assert_eq!(
        requirement_status(&evidence, "SHOP-REFUSE-02"),
        "differs-from-assumption"
    );
    assert_eq!(
        requirement_status(&evidence, "SHOP-TEAPOT-01"),
        "differs-from-assumption"
    );
    assert_eq!(evidence["run"]["totals"]["differs_from_assumption"], 4);
    assert_eq!(requirement_status(&evidence, "SHOP-TEAPOT-02"), "failed");
    assert_eq!(evidence["run"]["totals"]["failed"], 2);

    let html = read(&run.reports.join("evidence.html"));
    assert!(html.contains("st-assumed"), "no assumed colour on the page");
    assert!(
        html.contains("differs from assumption"),
        "no assumed wording"
    );
    assert!(
        html.contains("the docs do not name the list&#39;s member")
            || html.contains("the docs do not name the list's member")
    );
    let summary = read(&run.reports.join("summary.md"));
    assert!(
        summary.contains("## Differs from an assumption (4)"),
        "{summary}"
    );
    assert!(summary.contains("4 differ from an assumption"), "{summary}");

    // `verify` accepts the report, and a merge of two runs keeps the status.
    let evidence_path = run.reports.join("evidence.json");
    let verify = blocking({
        let path = evidence_path.clone();
        move || common::authconform(&["verify", path.to_str().unwrap()])
    })
    .await;
    assert_eq!(verify.code, Some(0), "{}", verify.dump());
    // A differing record without its notes is a finding of `verify`.
    let mut edited = evidence.clone();
    for record in edited["scenarios"].as_array_mut().unwrap() {
        if record["id"] == "body-differs" {
            record["steps"][0]
                .as_object_mut()
                .unwrap()
                .remove("assumed");
        }
    }
    let edited_path = tree.path("edited.json");
    std::fs::write(&edited_path, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    let verify =
        blocking(move || common::authconform(&["verify", edited_path.to_str().unwrap()])).await;
    assert_eq!(verify.code, Some(1), "{}", verify.dump());
    assert!(
        verify
            .stdout
            .contains("is `differs-from-assumption` but no step holds an `assumed` note")
            || verify
                .stderr
                .contains("is `differs-from-assumption` but no step holds an `assumed` note"),
        "{}",
        verify.dump()
    );
    let t = tree.clone();
    let other = blocking(move || t.command("run", &["shop::refusal::assumed-status"])).await;
    assert_eq!(other.code, Some(0), "{}", other.dump());
    let merged_path = tree.path("merged/evidence.json");
    let (a, b, out) = (
        evidence_path.clone(),
        other.reports.join("evidence.json"),
        merged_path.clone(),
    );
    let merge = blocking(move || {
        common::authconform(&[
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
    })
    .await;
    assert_eq!(merge.code, Some(0), "{}", merge.dump());
    let merged: serde_json::Value = serde_json::from_str(&read(&merged_path)).unwrap();
    assert_eq!(merged["run"]["totals"]["differs_from_assumption"], 5);
    assert_eq!(
        requirement_status(&merged, "SHOP-TEAPOT-01"),
        "differs-from-assumption"
    );
    let errors = evidence_schema_errors(&merged);
    assert!(errors.is_empty(), "{errors:#?}");
    let verify =
        blocking(move || common::authconform(&["verify", merged_path.to_str().unwrap()])).await;
    assert_eq!(verify.code, Some(0), "{}", verify.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_in_a_failed_assumed_check_is_redacted_everywhere() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let t = tree.clone();
    let run =
        blocking(move || t.command("run", &["--verbose", "shop::refusal::body-differs"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let evidence = evidence_text(&run);
    // The found value of `$.detail` quoted the key: the note shows it redacted.
    assert!(
        evidence.contains("found \\\"key [redacted:api_key] refused\\\""),
        "{evidence}"
    );
    let outputs = [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("junit.xml", run.junit.clone()),
        ("evidence.json", evidence),
        ("evidence.html", read(&run.reports.join("evidence.html"))),
        ("summary.md", read(&run.reports.join("summary.md"))),
    ];
    for (name, text) in outputs {
        assert!(!text.contains(CANARY), "{name} holds the canary:\n{text}");
    }
}

/// Writes one scenario file holding `expect` (indented for a step's `expect:`) into a copy of
/// the tree and returns `validate`'s run.
fn validate_expect(expect: &str) -> Run {
    let tree = tree("http://127.0.0.1:9");
    let text = format!(
        "scenarios:\n  - id: bad\n    title: t\n    requirements: [SHOP-REFUSE-01]\n    steps:\n      - request: {{ url: \"{{{{api_base}}}}/refuse\" }}\n        expect:\n{expect}"
    );
    std::fs::write(tree.path("scenarios/shop/refusal.yaml"), text).unwrap();
    let (specs, scenarios, target) = (
        tree.path("specs"),
        tree.path("scenarios"),
        tree.path("target.yaml"),
    );
    authconform_with_env(
        &[
            "validate",
            "--specs",
            specs.to_str().unwrap(),
            "--scenarios",
            scenarios.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
        &[(KEY_ENV, CANARY)],
    )
}

#[test]
fn bad_assumed_blocks_are_load_errors_at_their_position() {
    // (the `expect` body, from line 8 of the file; where the error is; what it says)
    let cases: &[(&str, &str, &str)] = &[
        (
            "          status: 400\n          assumed: { because: the docs are silent }\n",
            "refusal.yaml:9:11",
            "an empty `assumed` block",
        ),
        (
            "          status: 400\n          assumed:\n            json: { $.error: exists }\n",
            "refusal.yaml:10:13",
            "missing field `because`",
        ),
        (
            "          status: 400\n          assumed:\n            because: silent\n            outcome: timeout\n",
            "refusal.yaml:11:22",
            "`outcome` cannot be assumed",
        ),
        (
            "          status: 400\n          assumed:\n            because: silent\n            within: 2s\n",
            "refusal.yaml:11:21",
            "`within` cannot be assumed",
        ),
        (
            "          status: 400\n          assumed:\n            because: silent\n            jsn: { $.error: exists }\n",
            "refusal.yaml:11:13",
            "unknown field `jsn`",
        ),
        (
            "          status: 400\n          assumed:\n            because: \"\"\n            status: 400\n",
            "refusal.yaml:10:22",
            "`because` must be one line",
        ),
    ];
    for (expect, at, says) in cases {
        let run = validate_expect(expect);
        assert_eq!(run.code, Some(2), "{expect}\n{}", run.dump());
        assert!(
            run.stderr.contains(at),
            "expected {at} for\n{expect}\n{}",
            run.dump()
        );
        assert!(
            run.stderr.contains(says),
            "expected {says:?} for\n{expect}\n{}",
            run.dump()
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.dump());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
async fn junit_with_a_difference_from_an_assumption_is_valid_strict_or_not() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    for strict in [false, true] {
        let t = tree.clone();
        let run = blocking(move || {
            if strict {
                t.command("run", &["--strict"])
            } else {
                t.command("run", &[])
            }
        })
        .await;
        assert!(
            run.junit.contains("differs-from-assumption"),
            "{}",
            run.dump()
        );
        assert_junit_schema_valid(&run);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_step_polls_on_while_only_an_assumed_check_fails() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let t = tree.clone();
    let run =
        blocking(move || t.command("run", &["shop::refusal::polls-for-the-assumed-shape"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();
    let record = scenario(&evidence, "polls-for-the-assumed-shape");
    assert_eq!(record["verdict"], "differs-from-assumption", "{record}");
    let note = &record["steps"][0]["assumed"][0];
    assert!(
        note["check"]
            .as_str()
            .unwrap()
            .contains("got HTTP 400, expected 401"),
        "{note}"
    );
    let attempts = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/refuse")
        .count();
    assert!(
        attempts > 1,
        "the step stopped polling after {attempts} attempt(s)"
    );
}
