//! Honest verdicts on live (real-clock) targets: a wait longer than `max_wait` is skipped with its
//! reason (before running when literal, at the step when templated), a short wait really waits,
//! an unset secret is an error (could not run), and a provider the target does not configure is
//! skipped. None of these is ever a pass.

use std::path::Path;
use std::time::{Duration, Instant};

use authconform::exec::MockOptions;
use authconform::{Plan, Runner, Target, Verdict, load_plan};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod common;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

async fn live_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/token-info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"expires_in": 300})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    server
}

fn live_plan(base: &str, providers_yaml: &str) -> Plan {
    let yaml = format!(
        "name: live-test\nclock: real\nlimits: {{ request_timeout: 5s, max_wait: 1s }}\n\
         sources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n{}",
        providers_yaml.replace("BASE", base)
    );
    common::fixture_plan("live-test.yaml", &yaml, "tests/fixtures/skips")
}

const DEMO: &str = "  demo:\n    hosts:\n      api_base: { url: \"BASE\" }\n    secrets:\n      \
                    username: { env: AUTHCONFORM_TEST_UNSET_USERNAME }\n      \
                    password: { env: AUTHCONFORM_TEST_UNSET_PASSWORD }\n";

async fn run(plan: &Plan, id: &str) -> (Verdict, Duration) {
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == format!("demo::waits::{id}"))
        .unwrap_or_else(|| panic!("no scenario {id}"));
    let started = Instant::now();
    let result = runner.run(planned).await;
    (result.verdict, started.elapsed())
}

#[tokio::test]
async fn literal_wait_beyond_max_wait_is_skipped_before_running() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == "demo::waits::literal-long-wait")
        .unwrap();
    let reason = planned.skip.as_deref().expect("skipped at plan time");
    assert!(reason.contains("needs a real wait of 30m"), "{reason}");
    assert!(reason.contains("allows at most 1s"), "{reason}");
    let (verdict, elapsed) = run(&plan, "literal-long-wait").await;
    assert!(matches!(verdict, Verdict::Skipped { .. }), "{verdict:?}");
    assert!(elapsed < Duration::from_secs(1));
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a skipped scenario sends nothing"
    );
}

#[tokio::test]
async fn templated_wait_beyond_max_wait_is_skipped_at_its_step() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let (verdict, elapsed) = run(&plan, "templated-long-wait").await;
    match verdict {
        Verdict::Skipped { reason } => {
            assert!(reason.contains("needs a real wait of 5m 1s"), "{reason}");
            assert!(reason.contains("limits.max_wait"), "{reason}");
        }
        other => panic!("expected a skip, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(1));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the first step ran"
    );
}

#[tokio::test]
async fn short_real_wait_really_waits_and_passes() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let (verdict, elapsed) = run(&plan, "short-real-wait").await;
    assert_eq!(verdict, Verdict::Pass);
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
}

#[tokio::test]
async fn unset_secret_is_an_error_naming_the_variable() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let (verdict, _) = run(&plan, "needs-a-secret").await;
    match verdict {
        Verdict::Error { message, .. } => {
            assert!(
                message.contains("secret `username` is not set"),
                "{message}"
            );
            assert!(
                message.contains("AUTHCONFORM_TEST_UNSET_USERNAME"),
                "{message}"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn unconfigured_provider_is_skipped_with_the_reason() {
    let plan = live_plan("http://unused.invalid", "  electrum: {}\n");
    let (verdict, _) = run(&plan, "short-real-wait").await;
    match verdict {
        Verdict::Skipped { reason } => {
            assert_eq!(
                reason,
                "target `live-test` does not configure provider `demo`"
            )
        }
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[tokio::test]
async fn polling_beyond_max_wait_is_skipped_before_running() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == "demo::waits::polling-beyond-max-wait")
        .unwrap();
    let reason = planned.skip.as_deref().expect("skipped at plan time");
    assert!(reason.contains("needs a real wait of 5m"), "{reason}");
    let (verdict, _) = run(&plan, "polling-beyond-max-wait").await;
    assert!(matches!(verdict, Verdict::Skipped { .. }), "{verdict:?}");
}

#[tokio::test]
async fn real_time_polling_waits_between_attempts_then_fails() {
    let server = live_server().await;
    let plan = live_plan(&server.uri(), DEMO);
    let (verdict, elapsed) = run(&plan, "polling-in-real-time").await;
    // How many attempts fit depends on how long each takes (the window counts them), so the
    // count is read from the message and the pauses checked against it.
    let attempts = match &verdict {
        Verdict::Fail { step: 0, message } => {
            let tail = message
                .split("got HTTP 401, expected 200; still not met after ")
                .nth(1)
                .unwrap_or_else(|| panic!("{message}"));
            let (count, rest) = tail.split_once(' ').unwrap_or_else(|| panic!("{message}"));
            assert_eq!(
                rest, "attempt(s) in a window of 600ms, every 200ms",
                "{message}"
            );
            count.parse::<u32>().unwrap_or_else(|_| panic!("{message}"))
        }
        other => panic!("expected a failure at the first step, got {other:?}"),
    };
    assert!((1..=3).contains(&attempts), "{attempts} attempts in 600ms");
    assert!(
        elapsed >= Duration::from_millis(200) * (attempts - 1),
        "{attempts} attempts, so {} real pauses of 200ms, waited {elapsed:?}",
        attempts - 1
    );
}

/// A target needs only the sources of the providers it configures: the scenarios of the others
/// are skipped, so the sources they name (`unallowlisted`, CIDR test addresses) are not asked for.
#[test]
fn sources_of_unconfigured_providers_are_not_required() {
    let yaml = "name: one-provider\nclock: real\nlimits: { request_timeout: 5s }\n\
                sources:\n  default: { bind: 127.0.0.1 }\nproviders: {}\n";
    let target = Target::parse(Path::new("one-provider.yaml"), yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let plan = load_plan(
        &root().join("specs"),
        &root().join("scenarios"),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let named_unallowlisted = plan.scenarios.iter().any(|s| {
        s.scenario.steps.iter().any(|step| {
            step.request
                .as_ref()
                .is_some_and(|r| r.source.as_deref() == Some("unallowlisted"))
        })
    });
    assert!(
        named_unallowlisted,
        "some real scenario names `unallowlisted`"
    );
    assert!(plan.scenarios.iter().all(|s| s.skip.is_some()));
}
