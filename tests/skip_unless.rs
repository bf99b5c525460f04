//! `skip_unless:` through the real binary against a loopback server: when its checks hold the
//! scenario goes on (and passes); when one does not, the scenario stops at that step and is
//! skipped with `because` and the failed check (console, JUnit `<skipped>`, evidence), never
//! passed or failed, while `finally:` steps still run; a documented failure in the same step is
//! still a failure; a secret in a failed check's found value is redacted from every output. Bad
//! `skip_unless` blocks are load errors at their position.

mod common;

use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{Run, blocking, evidence_text, read};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CANARY: &str = "CANARY-skip-51c7-api-key";
const KEY_ENV: &str = "AUTHCONFORM_TEST_SKIP_UNLESS_KEY";

const SPEC: &str = "\
provider: meta
title: A server with discovery metadata (test fixture)
requirements:
  - id: META-REVOKE-01
    statement: A revoked token stops working.
    source: rfc7009 §2.1
    kind: RFC
  - id: META-REFRESH-01
    statement: A refresh token can be used once.
    source: rfc9700 §4.14.2
    kind: RFC
inputs:
  hosts:
    api_base: The server's base URL
  secrets:
    api_key: A key
";

const SCENARIOS: &str = r#"scenarios:
  - id: offered
    title: The metadata advertises revocation and refresh, so the scenario goes on
    requirements: [META-REVOKE-01]
    steps:
      - name: read the metadata
        request: { url: "{{api_base}}/full/metadata" }
        expect:
          status: 200
          skip_unless:
            because: the server does not advertise a revocation endpoint
            json:
              $.revocation_endpoint: exists
              "$.grant_types_supported[?@ == 'refresh_token']": exists
        capture: { revocation_endpoint: { jsonpath: $.revocation_endpoint } }
      - name: revoke
        request: { method: POST, url: "{{revocation_endpoint}}" }
        expect: { status: 200 }

  - id: not-offered
    title: The metadata lacks revocation, so the scenario is skipped with the reason
    requirements: [META-REVOKE-01]
    steps:
      - name: read the metadata
        request: { url: "{{api_base}}/bare/metadata" }
        expect:
          status: 200
          skip_unless:
            because: the server does not advertise a revocation endpoint
            json: { $.revocation_endpoint: exists }
        capture: { revocation_endpoint: { jsonpath: $.revocation_endpoint } }
      - name: revoke
        request: { method: POST, url: "{{revocation_endpoint}}" }
        expect: { status: 200 }
    finally:
      - name: clean up
        request: { method: DELETE, url: "{{api_base}}/cleanup" }
        expect: { status: 204 }

  - id: refresh-not-in-array
    title: The array of grants lacks refresh_token, so the scenario is skipped
    requirements: [META-REFRESH-01]
    steps:
      - name: read the metadata
        request: { url: "{{api_base}}/bare/metadata" }
        expect:
          status: 200
          skip_unless:
            because: the server does not offer the refresh_token grant
            json: { "$.grant_types_supported[?@ == 'refresh_token']": exists }
      - request: { url: "{{api_base}}/never" }
        expect: { status: 200 }

  - id: secret-in-the-reason
    title: A failed check quoting a secret the server echoed skips with the secret redacted
    requirements: [META-REVOKE-01]
    steps:
      - name: read the metadata
        request: { url: "{{api_base}}/echo/metadata", headers: { X-Key: "{{secret.api_key}}" } }
        expect:
          status: 200
          skip_unless:
            because: the server names another owner
            json: { $.owner: { equals: nobody } }

  - id: documented-failure-first
    title: A documented failure in the step is a failure, whatever skip_unless says
    requirements: [META-REVOKE-01]
    steps:
      - name: read the metadata
        request: { url: "{{api_base}}/bare/metadata" }
        expect:
          status: 201
          skip_unless:
            because: the server does not advertise a revocation endpoint
            json: { $.revocation_endpoint: exists }
"#;

fn tree(server: &str) -> LiveTree {
    LiveTree::new(
        server,
        LiveTreeFiles {
            provider: "meta",
            spec: SPEC,
            flow: "discovery",
            scenarios: SCENARIOS,
            target: "target.yaml",
            key_env: KEY_ENV,
            key: CANARY,
        },
    )
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    let full = serde_json::json!({
        "revocation_endpoint": format!("{}/revoke", server.uri()),
        "grant_types_supported": ["authorization_code", "refresh_token"],
    });
    Mock::given(method("GET"))
        .and(path("/full/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_json(full))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bare/metadata"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({ "grant_types_supported": ["authorization_code"] }),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/echo/metadata"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "owner": CANARY })),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/cleanup"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

fn scenario<'a>(evidence: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    evidence["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_unless_goes_on_when_it_holds_and_skips_with_the_reason_when_not() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["--verbose"])).await;
    // The documented failure fails the run; nothing else does.
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();

    let offered = scenario(&evidence, "offered");
    assert_eq!(offered["verdict"], "pass", "{offered}");
    assert_eq!(offered["steps"].as_array().unwrap().len(), 2, "{offered}");
    let passed = offered["steps"][0]["passed"].to_string();
    assert!(passed.contains("(skip_unless)"), "{passed}");
    assert_eq!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/revoke")
            .count(),
        1
    );

    let skipped = scenario(&evidence, "not-offered");
    assert_eq!(skipped["verdict"], "skipped", "{skipped}");
    let reason = skipped["message"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with(
            "the server does not advertise a revocation endpoint: $.revocation_endpoint"
        ),
        "{skipped}"
    );
    // The scenario stopped at the metadata step; its cleanup still ran.
    let steps = skipped["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{skipped}");
    assert_eq!(steps[1]["cleanup"], true, "{skipped}");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path() == "/cleanup")
            .count(),
        1
    );
    assert!(!requests.iter().any(|r| r.url.path() == "/never"));

    let array = scenario(&evidence, "refresh-not-in-array");
    assert_eq!(array["verdict"], "skipped", "{array}");
    assert!(
        array["message"]
            .as_str()
            .unwrap_or_default()
            .contains("the server does not offer the refresh_token grant: $.grant_types_supported[?@ == 'refresh_token']"),
        "{array}"
    );

    let echoed = scenario(&evidence, "secret-in-the-reason");
    assert_eq!(echoed["verdict"], "skipped", "{echoed}");
    assert!(
        echoed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("found \"[redacted:api_key]\""),
        "{echoed}"
    );
    let outputs = [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("junit.xml", run.junit.clone()),
        ("evidence.json", evidence_text(&run)),
        ("evidence.html", read(&run.reports.join("evidence.html"))),
        ("summary.md", read(&run.reports.join("summary.md"))),
    ];
    for (name, text) in outputs {
        assert!(!text.contains(CANARY), "{name} holds the canary:\n{text}");
    }

    let failed = scenario(&evidence, "documented-failure-first");
    assert_eq!(failed["verdict"], "fail", "{failed}");

    // Never a pass: JUnit says skipped, with the reason.
    let case = testcase(&run.junit, "not-offered");
    assert!(case.contains("<skipped"), "{case}");
    assert!(
        case.contains("the server does not advertise a revocation endpoint"),
        "{case}"
    );
    assert!(!testcase(&run.junit, "offered").contains("<skipped"));
    assert!(
        run.stdout.contains("SKIP") && run.stdout.contains("meta::discovery::not-offered"),
        "{}",
        run.dump()
    );
    // A requirement whose every scenario was skipped is not verified by them.
    let requirement = evidence["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "META-REFRESH-01")
        .unwrap();
    assert_ne!(requirement["status"], "verified", "{requirement}");
}

/// `validate` on the tree with one scenario whose metadata step expects `expect` (indented for
/// a step's `expect:`), and `finally` appended after the steps.
fn validate_expect(expect: &str, finally: &str) -> Run {
    let tree = tree("http://127.0.0.1:9");
    let text = format!(
        "scenarios:\n  - id: bad\n    title: t\n    requirements: [META-REVOKE-01]\n    steps:\n      - request: {{ url: \"{{{{api_base}}}}/m\" }}\n        expect:\n{expect}{finally}"
    );
    std::fs::write(tree.path("scenarios/meta/discovery.yaml"), text).unwrap();
    tree.command("validate", &[])
}

#[test]
fn bad_skip_unless_blocks_are_load_errors_at_their_position() {
    // (the `expect` body, from line 8 of the file; a `finally`; where the error is; what it says)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "          status: 200\n          skip_unless: { because: not offered }\n",
            "",
            "discovery.yaml:9:11",
            "an empty `skip_unless` block",
        ),
        (
            "          status: 200\n          skip_unless:\n            json: { $.x: exists }\n",
            "",
            "discovery.yaml:10:13",
            "missing field `because`",
        ),
        (
            "          status: 200\n          skip_unless:\n            because: not offered\n            outcome: timeout\n",
            "",
            "discovery.yaml:11:22",
            "`outcome` cannot decide a skip",
        ),
        (
            "          status: 200\n          skip_unless:\n            because: not offered\n            within: 2s\n",
            "",
            "discovery.yaml:11:21",
            "`within` cannot decide a skip",
        ),
        (
            "          status: 200\n          skip_unless:\n            because: not offered\n            jsn: { $.x: exists }\n",
            "",
            "discovery.yaml:11:13",
            "unknown field `jsn`",
        ),
        (
            "          status: 200\n          skip_unless:\n            because: \"not\\noffered\"\n            status: 200\n",
            "",
            "discovery.yaml:10:22",
            "`because` must be one line",
        ),
        (
            "          status: 200\n",
            "    finally:\n      - request: { url: \"{{api_base}}/m\" }\n        expect:\n          status: 200\n          skip_unless: { because: x, status: 200 }\n",
            "discovery.yaml:13:11",
            "`skip_unless` cannot be in a `finally` step",
        ),
    ];
    for (expect, finally, at, says) in cases {
        let run = validate_expect(expect, finally);
        assert_eq!(run.code, Some(2), "{expect}\n{}", run.dump());
        assert!(
            run.stderr.contains(at),
            "expected {at} for\n{expect}{finally}\n{}",
            run.dump()
        );
        assert!(
            run.stderr.contains(says),
            "expected {says:?} for\n{expect}{finally}\n{}",
            run.dump()
        );
    }
}
