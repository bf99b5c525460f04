//! The authorization step (`request.authorize`) against the embedded Monerium mock, with the
//! scenarios of `tests/fixtures/authorize/`: the runner's own checks of the redirect (where it
//! goes, the code, the `state`) are listed as the step's passed and failed checks, and its
//! transcript shows the URL exactly as sent, form-encoded, with the secret in it redacted (a plain
//! request's query too).

use std::path::Path;

use authconform::exec::MockOptions;
use authconform::{Runner, ScenarioResult, Target, load_plan};

/// Runs the fixture scenario `id` on the mock target, the mock deviating as `deviations` say.
async fn run(id: &str, deviations: &[&str]) -> ScenarioResult {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_plan(
        &root.join("specs"),
        &root.join("tests/fixtures/authorize"),
        Target::mock(),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.scenario.id.to_string() == id)
        .unwrap_or_else(|| panic!("no scenario {id}"));
    let options = MockOptions {
        deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
    };
    let runner = Runner::new(plan.target.clone(), authconform::mock::builtin(), options);
    tokio::time::timeout(std::time::Duration::from_secs(20), runner.run(planned))
        .await
        .expect("the scenario ended within 20 s")
}

#[tokio::test]
async fn the_redirect_checks_are_listed_as_passed_checks_of_the_step() {
    let result = run("state-with-reserved-characters", &[]).await;
    assert_eq!(result.verdict.label(), "pass", "{result:#?}");
    let step = &result.steps[0];
    assert!(step.failed.is_empty(), "{step:#?}");
    for check in [
        "the redirect goes to the redirect_uri sent, https://app.monerium.test/callback",
        "the redirect carries a code",
        "the redirect returns the `state` sent",
    ] {
        assert!(
            step.passed.iter().any(|c| c == check),
            "`{check}` is not among {:#?}",
            step.passed
        );
    }
}

#[tokio::test]
async fn a_state_not_returned_is_a_failed_check_beside_the_passed_ones() {
    let result = run("state-with-reserved-characters", &["drops-state"]).await;
    assert_eq!(result.verdict.label(), "fail", "{result:#?}");
    let step = &result.steps[0];
    assert_eq!(
        step.failed,
        ["the redirect carries a code but no `state`"],
        "{step:#?}"
    );
    assert!(
        step.passed
            .iter()
            .any(|c| c.starts_with("the redirect goes to the redirect_uri sent")),
        "{step:#?}"
    );
}

#[tokio::test]
async fn no_redirect_where_one_is_required_is_a_failed_check() {
    let result = run("unregistered-redirect", &[]).await;
    assert_eq!(result.verdict.label(), "fail", "{result:#?}");
    assert_eq!(
        result.steps[0].failed,
        ["a redirect to the redirect_uri carrying a code: got HTTP 400"],
        "{result:#?}"
    );
}

#[tokio::test]
async fn the_authorization_url_is_shown_as_sent_with_its_secret_redacted() {
    let result = run("state-with-reserved-characters", &[]).await;
    let url = &result.steps[0]
        .transcript
        .as_ref()
        .expect("a transcript")
        .url;
    assert!(url.contains("&state=a+b%26c&"), "{url}");
    assert!(
        url.contains("redirect_uri=https%3A%2F%2Fapp.monerium.test%2Fcallback"),
        "{url}"
    );
    assert!(url.contains("&login_hint=[redacted:password]"), "{url}");
    assert!(!url.contains("a b&c"), "{url}");
    assert!(!url.contains("monerium-pass"), "{url}");
}

/// A plain request's query too: `q=a+b%26c` as the wire carried it, and a secret inside a value
/// redacted in its encoded form.
#[tokio::test]
async fn a_query_is_shown_as_sent_with_its_secret_redacted() {
    let result = run("plain-query", &[]).await;
    assert_eq!(result.verdict.label(), "pass", "{result:#?}");
    let url = &result.steps[0]
        .transcript
        .as_ref()
        .expect("a transcript")
        .url;
    assert!(
        url.ends_with("/auth?q=a+b%26c&hint=[redacted:password]&mixed=x+[redacted:password]+y"),
        "{url}"
    );
    assert!(!url.contains("monerium-pass"), "{url}");
}
