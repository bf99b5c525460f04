//! `eventually` on a real clock, against a host that accepts connections and never answers: the
//! window bounds the whole step (each attempt's timeout is capped by the time left), and what a
//! step spends polling counts against `limits.max_wait`, attempts included.

use std::time::{Duration, Instant};

use authconform::exec::MockOptions;
use authconform::{Plan, Runner, ScenarioResult, Verdict};
use tokio::net::TcpListener;

mod common;

/// A host that accepts every connection and holds it open without a byte, until dropped.
async fn silent_host() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

fn plan(base: &str, max_wait: &str) -> Plan {
    let yaml = format!(
        "name: silent\nclock: real\nlimits: {{ request_timeout: 3s, max_wait: {max_wait} }}\n\
         sources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n  demo:\n    hosts:\n      \
         api_base: {{ url: \"{base}\" }}\n    variables:\n      pause: 2s\n"
    );
    common::fixture_plan("silent.yaml", &yaml, "tests/fixtures/eventually")
}

async fn run(plan: &Plan, id: &str) -> (ScenarioResult, Duration) {
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == format!("demo::window::{id}"))
        .unwrap_or_else(|| panic!("no scenario {id}"));
    assert_eq!(planned.skip, None, "planned to run");
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(30), runner.run(planned))
        .await
        .expect("the scenario ended");
    (result, started.elapsed())
}

fn fail_message(result: &ScenarioResult) -> &str {
    match &result.verdict {
        Verdict::Fail { message, .. } => message,
        other => panic!(
            "expected a failure, got {other:?}\n{}",
            result.step_summary()
        ),
    }
}

/// `within: 5s, every: 1s` with a 3 s request timeout: the first attempt times out after 3 s, the
/// second starts at 4 s with the 1 s left as its timeout, and the step fails at 5 s. Counting only
/// the pauses, it used to run five full 3 s attempts (19 s) and then report "over 4s".
#[tokio::test]
async fn the_window_bounds_the_step_and_caps_each_attempt() {
    let (base, host) = silent_host().await;
    let plan = plan(&base, "1m");
    let (result, took) = run(&plan, "silent-host").await;
    host.abort();
    let message = fail_message(&result);
    assert!(
        message.contains("still not met after 2 attempt(s) in a window of 5s, every 1s"),
        "{message}"
    );
    assert!(
        message.contains("timeout"),
        "the attempts timed out: {message}"
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_millis(6500),
        "the step took {took:?}, the window is 5s"
    );
    let last = result.steps[0]
        .transcript
        .as_ref()
        .expect("the last attempt's transcript");
    assert_eq!(last.outcome, "read-timeout");
    assert!(
        last.elapsed < Duration::from_millis(1500),
        "the last attempt had 1s left and waited {:?}",
        last.elapsed
    );
}

/// A templated 2 s wait the plan cannot see, then a 3 s window: only the 2 s that `max_wait: 4s`
/// has left are polled, and the scenario ends within `max_wait` (it used to wait 2 s, then spend
/// a whole 3 s attempt, pause, and attempt again).
#[tokio::test]
async fn polling_after_a_wait_stays_within_max_wait() {
    let (base, host) = silent_host().await;
    let plan = plan(&base, "4s");
    let (result, took) = run(&plan, "silent-host-after-a-wait").await;
    host.abort();
    let message = fail_message(&result);
    assert!(
        message.contains("in a window of 2s, every 1s")
            && message.contains("allows no longer real wait: limits.max_wait"),
        "{message}"
    );
    assert!(
        took < Duration::from_millis(4500),
        "the scenario took {took:?}, max_wait is 4s"
    );
}
