//! Waivers, through the real binary against a loopback server: a failure an unexpired waiver
//! covers is `waived` (exit 0) in the console, JUnit, evidence, summary and page, with its owner,
//! reason and expiry and the failure as it was; an expired waiver fails the run naming it, its
//! owner and date, whether or not its scenario fails; a waiver whose scenarios pass is reported
//! unused (a warning; a failure under `--strict`); `waivers.yaml` beside the target is read by
//! default; bad waivers files are load errors at their position (`run` and `validate`); a
//! secret in a waived failure is still redacted everywhere; the JUnit of a waived run validates
//! against the Jenkins schema (`#[ignore]`d: needs xmllint). Expiry dates are set relative to
//! today, so the tests hold on any day.

mod common;

use common::live_tree::{LiveTree, LiveTreeFiles};
use common::{
    assert_junit_schema_valid, authconform, blocking, evidence_schema_errors, evidence_text, read,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The API key the target takes from the environment; the server echoes it in its refusal.
const CANARY: &str = "CANARY-waiver-5c2e-api-key";
const KEY_ENV: &str = "AUTHCONFORM_TEST_WAIVER_KEY";

const SPEC: &str = "\
provider: shop
title: Shop API (test fixture)
requirements:
  - id: SHOP-REFUSE-01
    statement: A refused key gets 401 with a detail.
    source: shop docs, errors
    kind: Doc
  - id: SHOP-OK-01
    statement: The health endpoint answers 200.
    source: shop docs, health
    kind: Doc
  - id: SHOP-LATE-01
    statement: A late key gets 401.
    source: shop docs, errors
    kind: Doc
inputs:
  hosts:
    api_base: The shop API's base URL
  secrets:
    api_key: The shop API key
";

const SCENARIOS: &str = r#"scenarios:
  - id: refused
    title: A refused key gets 401 and the documented detail
    requirements: [SHOP-REFUSE-01]
    steps:
      - name: refused key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect:
          json: { $.detail: { equals: "key refused" } }
  - id: fine
    title: The health endpoint answers
    requirements: [SHOP-OK-01]
    steps:
      - name: health
        request: { url: "{{api_base}}/ok" }
        expect: { status: 200 }
  - id: late
    title: A late key gets 401
    requirements: [SHOP-LATE-01]
    steps:
      - name: late key
        request: { url: "{{api_base}}/refuse", headers: { X-Key: "{{secret.api_key}}" } }
        expect: { status: 401 }
"#;

/// Today plus `days`, as a waivers file writes it.
fn day(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

/// The spec and scenarios above, on a live target in `live/` (a waivers file can go beside it).
fn tree(server: &str) -> LiveTree {
    LiveTree::new(
        server,
        LiveTreeFiles {
            provider: "shop",
            spec: SPEC,
            flow: "api",
            scenarios: SCENARIOS,
            target: "live/target.yaml",
            key_env: KEY_ENV,
            key: CANARY,
        },
    )
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    let refusal = serde_json::json!({ "detail": format!("key {CANARY} unknown") });
    Mock::given(method("GET"))
        .and(path("/refuse"))
        .respond_with(ResponseTemplate::new(400).set_body_json(refusal))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

fn waiver(covers: &str, owner: &str, expires: &str) -> String {
    format!(
        "  - {covers}\n    owner: {owner}\n    reason: the refusal detail ships in release 42\n    expires: {expires}\n"
    )
}

fn record<'a>(evidence: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    evidence["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no record of {id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waived_failure_passes_the_run_and_every_report_shows_who_why_and_until_when() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let expires = day(30);
    let file = tree.write(
        "waivers.yaml",
        &format!(
            "waivers:\n{}{}",
            waiver("requirement: SHOP-REFUSE-01", "payments-team", &expires),
            waiver("scenario: shop::api::fine", "health-team", &expires)
        ),
    );
    let t = tree.clone();
    let file_arg = file.display().to_string();
    let run = blocking(move || {
        t.command(
            "run",
            &[
                "--waivers",
                &file_arg,
                "shop::api::refused",
                "shop::api::fine",
            ],
        )
    })
    .await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stdout.contains("WAIVED shop::api::refused"),
        "{}",
        run.dump()
    );
    assert!(
        run.stdout.contains(&format!(
            "waived by payments-team until {expires} (covers `SHOP-REFUSE-01`): the refusal detail ships in release 42"
        )),
        "{}",
        run.dump()
    );
    // The failure as it was, with the secret the server echoed redacted.
    assert!(run.stdout.contains("fail: "), "{}", run.dump());
    assert!(run.stdout.contains("[redacted:api_key]"), "{}", run.dump());
    assert!(run.stdout.contains("1 waived"), "{}", run.dump());
    // Unused: its scenario ran and passed.
    assert!(
        run.stderr
            .contains("warning: the waiver for scenario `shop::api::fine`")
            && run.stderr.contains("health-team")
            && run.stderr.contains("is unused"),
        "{}",
        run.dump()
    );

    let start = run
        .junit
        .find("<testcase name=\"refused\"")
        .expect("a testcase");
    let case = &run.junit[start..start + run.junit[start..].find("</testcase>").unwrap()];
    assert!(case.contains("status=\"waived\""), "{case}");
    assert!(
        !case.contains("<failure") && !case.contains("<skipped"),
        "{case}"
    );
    assert!(
        case.contains("payments-team") && case.contains(&expires),
        "{case}"
    );
    assert!(case.contains("waived fail: "), "{case}");

    let text = evidence_text(&run);
    let evidence: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(evidence_schema_errors(&evidence), Vec::<String>::new());
    let refused = record(&evidence, "refused");
    assert_eq!(refused["verdict"], "waived");
    assert_eq!(refused["failed_step"], 1);
    assert!(
        refused["message"].as_str().unwrap().contains("key refused"),
        "{refused}"
    );
    assert_eq!(refused["waiver"]["owner"], "payments-team");
    assert_eq!(refused["waiver"]["expires"], expires.as_str());
    assert_eq!(refused["waiver"]["covers"], "SHOP-REFUSE-01");
    assert_eq!(refused["waiver"]["waived_verdict"], "fail");
    assert_eq!(
        refused["waiver"]["reason"],
        "the refusal detail ships in release 42"
    );
    assert!(record(&evidence, "fine").get("waiver").is_none());
    let status = |id: &str| {
        evidence["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("SHOP-REFUSE-01"), "waived");
    assert_eq!(status("SHOP-OK-01"), "verified");
    assert_eq!(evidence["run"]["totals"]["waived"], 1);
    let problems = evidence["run"]["waiver_problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["problem"], "unused");
    assert_eq!(problems[0]["covers"], "shop::api::fine");
    assert_eq!(problems[0]["owner"], "health-team");

    let summary = read(&run.reports.join("summary.md"));
    assert!(summary.contains("## Waived (1)"), "{summary}");
    assert!(summary.contains("**Result: PASSED**"), "{summary}");
    assert!(
        summary.contains("## Waivers to review (1)")
            && summary.contains("unused waiver for `shop::api::fine`, owned by health-team"),
        "{summary}"
    );
    assert!(
        summary.contains("waived by payments-team until") && summary.contains("key refused"),
        "{summary}"
    );
    let page = read(&run.reports.join("evidence.html"));
    assert!(page.contains("Waived failure"), "{page}");
    assert!(page.contains("payments-team") && page.contains(&expires));
    assert!(page.contains("Waivers to review") && page.contains("health-team"));

    let evidence_path = run.reports.join("evidence.json");
    let verified = authconform(&["verify", evidence_path.to_str().unwrap()]);
    assert_eq!(verified.code, Some(0), "{}", verified.dump());
    let merged_path = run.dir.join("merged/evidence.json");
    let merged = authconform(&[
        "merge",
        evidence_path.to_str().unwrap(),
        "-o",
        merged_path.to_str().unwrap(),
    ]);
    assert_eq!(merged.code, Some(0), "{}", merged.dump());
    let merged_evidence: serde_json::Value = serde_json::from_str(&read(&merged_path)).unwrap();
    assert_eq!(
        record(&merged_evidence, "refused")["waiver"]["owner"],
        "payments-team"
    );
    assert_eq!(merged_evidence["run"]["totals"]["waived"], 1);
    let reverified = authconform(&["verify", merged_path.to_str().unwrap()]);
    assert_eq!(reverified.code, Some(0), "{}", reverified.dump());
    // A waived record that lost its waiver, or a waiver on another record, is found even when
    // every hash is made again.
    use authconform::report::evidence::{Evidence, ScenarioVerdict, canonical_bytes, seal};
    use authconform::report::verify::{Verification, verify};
    let sealed: Evidence = serde_json::from_str(&text).unwrap();
    let at = sealed
        .scenarios
        .iter()
        .position(|s| s.verdict == ScenarioVerdict::Waived)
        .unwrap();
    let mut stripped = sealed.clone();
    stripped.scenarios[at].waiver = None;
    let mut moved = sealed.clone();
    moved.scenarios[at].verdict = ScenarioVerdict::Fail;
    for (report, says) in [
        (stripped, "is `waived` but has no `waiver`"),
        (moved, "has a `waiver` but is `fail`, not `waived`"),
    ] {
        match verify(&canonical_bytes(&seal(report)), None) {
            Verification::Tampered(findings) => assert!(
                findings.iter().any(|f| f.contains(says)),
                "{says}: {findings:?}"
            ),
            other => panic!("{says}: {other:?}"),
        }
    }

    // No report holds the secret in any form the registry knows.
    for (name, text) in [
        ("stdout", run.stdout.clone()),
        ("stderr", run.stderr.clone()),
        ("junit", run.junit.clone()),
        ("evidence", text),
        ("summary", summary),
        ("page", page),
    ] {
        assert!(!text.contains(CANARY), "the secret shows in {name}");
    }

    // Strict: an unused waiver fails the run.
    let t = tree.clone();
    let file_arg = file.display().to_string();
    let strict = blocking(move || {
        t.command(
            "run",
            &[
                "--strict",
                "--waivers",
                &file_arg,
                "shop::api::refused",
                "shop::api::fine",
            ],
        )
    })
    .await;
    assert_eq!(strict.code, Some(1), "{}", strict.dump());
    assert!(strict.stderr.contains("is unused"), "{}", strict.dump());
    let strict_summary = read(&strict.reports.join("summary.md"));
    assert!(
        strict_summary.contains("**Result: FAILED**"),
        "{strict_summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_waiver_fails_the_run_whether_or_not_its_scenario_fails() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    let expired = day(-3);
    // Beside the target: read without `--waivers`.
    tree.write(
        "live/waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("scenario: shop::api::late", "auth-team", &expired)
        ),
    );
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["shop::api::late"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(run.stdout.contains("1 waiver(s) from"), "{}", run.dump());
    assert!(
        run.stdout.contains("FAIL shop::api::late"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains(&format!(
            "error: the waiver for scenario `shop::api::late` ({}, waivers[0]) owned by auth-team expired on {expired}",
            tree.path("live/waivers.yaml").display()
        )),
        "{}",
        run.dump()
    );
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();
    assert_eq!(evidence_schema_errors(&evidence), Vec::<String>::new());
    assert_eq!(record(&evidence, "late")["verdict"], "fail");
    assert_eq!(evidence["run"]["waiver_problems"][0]["problem"], "expired");
    assert_eq!(
        evidence["run"]["waiver_problems"][0]["expires"],
        expired.as_str()
    );

    // Its scenario passes: the expired waiver still fails the run, and every report says so.
    tree.write(
        "live/waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("requirement: SHOP-OK-01", "health-team", &expired)
        ),
    );
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["shop::api::fine"])).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.stdout.contains("PASS shop::api::fine"),
        "{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("requirement `SHOP-OK-01`")
            && run.stderr.contains("owned by health-team expired on"),
        "{}",
        run.dump()
    );
    let summary = read(&run.reports.join("summary.md"));
    assert!(summary.contains("**Result: FAILED**"), "{summary}");
    assert!(
        summary.contains("expired waiver for `SHOP-OK-01`, owned by health-team"),
        "{summary}"
    );
    assert!(run.stdout.contains("FAILED"), "{}", run.dump());
    // The expiry day itself still holds.
    tree.write(
        "live/waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("requirement: SHOP-LATE-01", "auth-team", &day(0))
        ),
    );
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["shop::api::late"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stdout.contains("WAIVED shop::api::late"),
        "{}",
        run.dump()
    );
}

#[test]
fn bad_waivers_files_are_load_errors_at_their_position() {
    let tree = tree("http://127.0.0.1:9");
    let future = day(30);
    let cases: [(&str, String, &str); 6] = [
        (
            "unknown key",
            format!("waivers:\n  - requirement: SHOP-OK-01\n    owner: a\n    reason: b\n    expires: {future}\n    expiry: {future}\n"),
            "waivers.yaml:6:5",
        ),
        (
            "bad date",
            "waivers:\n  - requirement: SHOP-OK-01\n    owner: a\n    reason: b\n    expires: 2027-02-30\n".to_owned(),
            "waivers.yaml:5:14",
        ),
        (
            "unknown requirement",
            format!("waivers:\n  - requirement: SHOP-OK-02\n    owner: a\n    reason: b\n    expires: {future}\n"),
            "waivers.yaml:2:18",
        ),
        (
            "unknown scenario",
            format!("waivers:\n  - scenario: shop::api::fin\n    owner: a\n    reason: b\n    expires: {future}\n"),
            "waivers.yaml:2:15",
        ),
        (
            "both",
            format!("waivers:\n  - requirement: SHOP-OK-01\n    scenario: shop::api::fine\n    owner: a\n    reason: b\n    expires: {future}\n"),
            "waivers.yaml:2:5",
        ),
        (
            "no owner",
            format!("waivers:\n  - requirement: SHOP-OK-01\n    owner: \"\"\n    reason: b\n    expires: {future}\n"),
            "waivers.yaml:3:12",
        ),
    ];
    let expected_words = [
        "unknown field `expiry`",
        "expected an ISO 8601 date (YYYY-MM-DD, like 2027-03-31), found `2027-02-30`",
        "unknown requirement `SHOP-OK-02`. Did you mean `SHOP-OK-01`?",
        "unknown scenario `shop::api::fin` (expected `provider::file::id`). Did you mean `shop::api::fine`?",
        "exactly one of `requirement: <id>` or `scenario: <provider::file::id>`",
        "`owner` must not be empty",
    ];
    for ((name, text, position), words) in cases.iter().zip(expected_words) {
        let file = tree.write("waivers.yaml", text);
        let file_arg = file.display().to_string();
        for command in ["run", "validate"] {
            let run = tree.command(command, &["--waivers", &file_arg]);
            assert_eq!(run.code, Some(2), "{name} ({command}): {}", run.dump());
            assert!(
                run.stderr.contains(position) && run.stderr.contains(words),
                "{name} ({command}): expected {position} and {words:?}\n{}",
                run.dump()
            );
        }
    }
    // An expired waiver is valid input: `validate` warns, a run would fail.
    let file = tree.write(
        "waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("requirement: SHOP-OK-01", "ops", &day(-1))
        ),
    );
    let file_arg = file.display().to_string();
    let run = tree.command("validate", &["--waivers", &file_arg]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stderr
            .contains("warning: the waiver for `SHOP-OK-01` (waivers[0]) owned by ops expired on"),
        "{}",
        run.dump()
    );
    // A valid file: `validate` says so.
    let file = tree.write(
        "waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("requirement: SHOP-OK-01", "a", &future)
        ),
    );
    let file_arg = file.display().to_string();
    let run = tree.command("validate", &["--waivers", &file_arg]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(run.stdout.contains("1 waiver(s) in"), "{}", run.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
async fn junit_with_a_waived_failure_is_valid() {
    let server = server().await;
    let tree = std::sync::Arc::new(tree(&server.uri()));
    tree.write(
        "live/waivers.yaml",
        &format!(
            "waivers:\n{}",
            waiver("requirement: SHOP-REFUSE-01", "payments-team", &day(30))
        ),
    );
    let t = tree.clone();
    let run = blocking(move || t.command("run", &["shop::api::refused"])).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(run.junit.contains("status=\"waived\""), "{}", run.dump());
    assert_junit_schema_valid(&run);
}
