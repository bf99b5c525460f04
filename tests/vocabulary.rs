//! Proves the scenario vocabulary live scenarios need, against a loopback wiremock server
//! (scenarios in `tests/fixtures/vocabulary/demo/`), each construct working and failing:
//!
//! - `differs_from`: a rotated refresh token differs from the old one; one handed out again
//!   fails, and the message never shows the secret capture it names.
//! - `not_equals` on JSON (numbers compared numerically), headers and the body.
//! - Templated numeric bounds: `le: "{{max_ttl}}"` holds and fails as a literal would; a
//!   rendering that is not a number is the step's error.
//! - Any grant string: sent verbatim as `grant_type`; `auth: { oauth2 }` caches the tokens of
//!   other grants, and of the same grant with other fields, apart.
//! - `finally`: runs after a failed step, keeps the failure, records cleanup steps as such; a
//!   failing cleanup turns a pass into an error while the other cleanups still run.
//! - `repeat`: exactly `count` requests, each with its iteration; the first failing iteration
//!   ends the step; a count from a `count: true` capture and an `integer` compute, 0 sending
//!   nothing; many iterations recorded as eleven.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use authconform::exec::MockOptions;
use authconform::{Plan, Runner, ScenarioResult, Target, Verdict, load_plan};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The refresh token `/tokens/old` hands out, every time.
const OLD_REFRESH: &str = "rt-old-CANARY-7f3a-9d1e";
/// The refresh token `/tokens/new` hands out.
const NEW_REFRESH: &str = "rt-new-4b2c-8e0f";

/// The token endpoint: a new access token per request; `not-a-grant` refused.
struct TokenEndpoint(AtomicUsize);

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&request.body);
        if body.contains("grant_type=not-a-grant") {
            return ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({ "error": "unsupported_grant_type" }));
        }
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": format!("at-{n}-0c1d2e3f"),
            "token_type": "Bearer",
            "expires_in": 3600
        }))
    }
}

/// Echoes the `n` query parameter of a created key.
struct Keys;

impl Respond for Keys {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "n")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        ResponseTemplate::new(201).set_body_json(serde_json::json!({ "n": n }))
    }
}

/// Accepts two creations, then answers 429.
struct Quota(AtomicUsize);

impl Respond for Quota {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
            ResponseTemplate::new(201)
        } else {
            ResponseTemplate::new(429)
        }
    }
}

struct Harness {
    server: MockServer,
    plan: Plan,
    runner: Runner,
}

impl Harness {
    /// Starts the server and plans against a virtual-clock target.
    async fn start() -> Self {
        Self::start_on("clock: virtual\nlimits: { request_timeout: 5s }").await
    }

    /// Starts the server and plans against a target with this clock and these limits.
    async fn start_on(clock_and_limits: &str) -> Self {
        let server = MockServer::start().await;
        let json = |status: u16, body: serde_json::Value| {
            ResponseTemplate::new(status).set_body_json(body)
        };
        let mounts = [
            (
                "GET",
                "/tokens/old",
                json(200, serde_json::json!({ "refresh_token": OLD_REFRESH }))
                    .insert_header("x-token", OLD_REFRESH),
            ),
            (
                "GET",
                "/tokens/new",
                json(200, serde_json::json!({ "refresh_token": NEW_REFRESH }))
                    .insert_header("x-token", NEW_REFRESH),
            ),
            (
                "GET",
                "/status",
                json(
                    200,
                    serde_json::json!({ "status": "active", "count": 5, "id": "k-42" }),
                )
                .insert_header("x-state", "active"),
            ),
            (
                "GET",
                "/ttl",
                json(200, serde_json::json!({ "expires_in": 3600 })),
            ),
            (
                "GET",
                "/list",
                json(200, serde_json::json!({ "keys": [1, 2, 3] })),
            ),
            ("DELETE", "/cleanup/k-42", ResponseTemplate::new(204)),
            ("DELETE", "/cleanup-broken", ResponseTemplate::new(500)),
        ];
        for (verb, route, response) in mounts {
            Mock::given(method(verb))
                .and(path(route))
                .respond_with(response)
                .mount(&server)
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(TokenEndpoint(AtomicUsize::new(0)))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/keys"))
            .respond_with(Keys)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/quota"))
            .respond_with(Quota(AtomicUsize::new(0)))
            .mount(&server)
            .await;
        let yaml = format!(
            "name: vocabulary\n{clock_and_limits}\n\
             providers:\n  demo:\n    hosts:\n      echo_base: {{ url: \"{}\" }}\n",
            server.uri()
        );
        let target = Target::parse(Path::new("vocabulary.yaml"), &yaml)
            .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = load_plan(
            common::runner_specs().path(),
            &root.join("tests/fixtures/vocabulary"),
            target,
            &authconform::mock::builtin(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        let runner = Runner::new(
            plan.target.clone(),
            authconform::mock::builtin(),
            MockOptions::default(),
        );
        Self {
            server,
            plan,
            runner,
        }
    }

    async fn run(&self, id: &str) -> ScenarioResult {
        let trial = format!("demo::vocabulary::{id}");
        let planned = self
            .plan
            .scenarios
            .iter()
            .find(|s| s.trial_name() == trial)
            .unwrap_or_else(|| panic!("no scenario {trial}"));
        assert!(planned.skip.is_none(), "{trial} is skipped: {planned:?}");
        self.runner.run(planned).await
    }

    /// The requests the server received on `route` (by path), in order.
    async fn received(&self, verb: &str, route: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.method.as_str() == verb && r.url.path() == route)
            .collect()
    }
}

/// Every text of a result a sink could show.
fn shown(result: &ScenarioResult) -> String {
    let mut text = format!("{:?}\n{}", result.verdict, result.step_summary());
    for step in &result.steps {
        text.push_str(&format!("{step:?}\n"));
    }
    text
}

fn assert_pass(result: &ScenarioResult) {
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}:\n{}",
        result.trial_name,
        result.step_summary()
    );
}

/// Returns the failure message, asserting the scenario failed (not erred) at `step` (0-based).
fn failure(result: &ScenarioResult, step: usize) -> String {
    match &result.verdict {
        Verdict::Fail { step: at, message } => {
            assert_eq!(*at, step, "{message}");
            message.clone()
        }
        other => panic!(
            "{}: expected a failure, got {other:?}\n{}",
            result.trial_name,
            result.step_summary()
        ),
    }
}

/// Returns the error message, asserting the scenario erred at `step` (0-based).
fn error(result: &ScenarioResult, step: usize) -> String {
    match &result.verdict {
        Verdict::Error { step: at, message } => {
            assert_eq!(*at, Some(step), "{message}");
            message.clone()
        }
        other => panic!(
            "{}: expected an error, got {other:?}\n{}",
            result.trial_name,
            result.step_summary()
        ),
    }
}

#[tokio::test]
async fn a_rotated_token_differs_from_the_old_one() {
    let h = Harness::start().await;
    let result = h.run("rotated-token-differs").await;
    assert_pass(&result);
    let passed = result.steps[1].passed.join("\n");
    assert!(
        passed.contains("$.refresh_token differs from the captured `old_refresh`"),
        "{passed}"
    );
    assert!(
        passed.contains("header `x-token` differs from the captured `old_refresh`"),
        "{passed}"
    );
}

#[tokio::test]
async fn a_token_equal_to_the_old_one_fails_differs_from_without_showing_it() {
    let h = Harness::start().await;
    let result = h.run("rotated-token-equal-to-the-old").await;
    let message = failure(&result, 1);
    assert!(
        message.contains(
            "$.refresh_token: expected to differ from the captured `old_refresh`, but equals the captured `old_refresh` [redacted]"
        ),
        "{message}"
    );
    let text = shown(&result);
    assert!(
        !text.contains(OLD_REFRESH),
        "the secret capture leaked: {text}"
    );
    assert!(
        !text.contains("CANARY"),
        "part of the secret leaked: {text}"
    );
}

#[tokio::test]
async fn not_equals_holds_on_another_value_and_fails_on_the_same() {
    let h = Harness::start().await;
    let result = h.run("not-equals").await;
    let passed = result.steps[0].passed.join("\n");
    for held in [
        "$.status does not equal \"revoked\"",
        "$.count does not equal 4",
        "header `x-state` does not equal \"revoked\"",
        "body does not equal \"{}\"",
    ] {
        assert!(passed.contains(held), "{held:?} not in {passed}");
    }
    // 5 and 5.0 are one number, as `equals` compares them.
    let message = failure(&result, 1);
    assert!(
        message.contains("$.count: expected not to equal 5.0, but it does"),
        "{message}"
    );
}

#[tokio::test]
async fn templated_bounds_hold_and_fail_as_literal_ones() {
    let h = Harness::start().await;
    let result = h.run("templated-bounds").await;
    let passed = result.steps[1].passed.join("\n");
    for held in [
        "$.expires_in <= 3600 (3600)",
        "$.expires_in >= 3600 (3600)",
        "$.expires_in equals 3600",
    ] {
        assert!(passed.contains(held), "{held:?} not in {passed}");
    }
    let message = failure(&result, 3);
    assert!(
        message.contains("$.expires_in: expected <= 3300, found 3600"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bound_rendering_no_number_is_an_error_not_a_failure() {
    let h = Harness::start().await;
    let result = h.run("templated-bound-not-a-number").await;
    let message = error(&result, 1);
    assert!(
        message.contains("`lt: {{word}}` rendered \"active\", which is not a number"),
        "{message}"
    );
}

/// The `grant_type` of each token request the server received, in order.
async fn grant_types(h: &Harness) -> Vec<(String, String)> {
    h.received("POST", "/token")
        .await
        .iter()
        .map(|r| {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&r.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let get = |name: &str| {
                form.iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            (get("grant_type"), get("device_code"))
        })
        .collect()
}

#[tokio::test]
async fn an_unregistered_grant_reaches_the_server_verbatim() {
    let h = Harness::start().await;
    assert_pass(&h.run("extension-grant").await);
    assert_pass(&h.run("unregistered-grant").await);
    let bodies: Vec<String> = h
        .received("POST", "/token")
        .await
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        [
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=device-client&device_code=dc-1",
            "grant_type=not-a-grant",
        ]
    );
}

#[tokio::test]
async fn tokens_of_other_grants_or_other_fields_are_cached_apart() {
    let h = Harness::start().await;
    assert_pass(&h.run("extension-grants-cached-apart").await);
    assert_eq!(
        grant_types(&h).await,
        [
            ("urn:example:one".to_owned(), "dc-1".to_owned()),
            ("urn:example:two".to_owned(), "dc-1".to_owned()),
            ("urn:example:one".to_owned(), "dc-2".to_owned()),
        ],
        "the fourth step reuses the first token; no other is shared"
    );
}

#[tokio::test]
async fn finally_runs_after_a_failed_step_and_keeps_the_failure() {
    let h = Harness::start().await;
    let result = h.run("finally-after-a-failure").await;
    let message = failure(&result, 1);
    assert!(
        message.contains("step 2 (fails): got HTTP 200, expected 500"),
        "{message}"
    );
    // The step after the failure never ran; both cleanup steps did, with the capture of step 1,
    // and the second's failure changed nothing.
    let names: Vec<(usize, &str, bool)> = result
        .steps
        .iter()
        .map(|s| (s.index, s.name.as_str(), s.cleanup))
        .collect();
    assert_eq!(
        names,
        [
            (0, "create", false),
            (1, "fails", false),
            (2, "delete it", true),
            (3, "a broken cleanup", true),
        ]
    );
    assert_eq!(h.received("DELETE", "/cleanup/k-42").await.len(), 1);
    assert_eq!(h.received("DELETE", "/cleanup-broken").await.len(), 1);
    assert_eq!(h.received("GET", "/status").await.len(), 2);
    let summary = result.step_summary();
    assert!(
        summary.contains("step 3 [ok] (cleanup) delete it"),
        "{summary}"
    );
    assert!(
        summary.contains("step 4 [FAILED] (cleanup) a broken cleanup"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_failing_cleanup_turns_a_pass_into_an_error() {
    let h = Harness::start().await;
    let result = h.run("finally-failing-turns-a-pass-into-an-error").await;
    let message = error(&result, 1);
    assert!(
        message.contains(
            "a cleanup step could not complete, so state may be left behind: step 2 (a broken cleanup): got HTTP 500, expected 204"
        ),
        "{message}"
    );
    // The cleanup after the broken one still ran.
    assert_eq!(h.received("DELETE", "/cleanup/k-42").await.len(), 1);
    assert!(result.steps[2].cleanup && result.steps[2].failed.is_empty());

    assert_pass(&h.run("finally-passing").await);
}

#[tokio::test]
async fn cleanup_steps_are_numbered_after_a_repeated_step() {
    let h = Harness::start().await;
    let result = h.run("finally-after-a-repeat").await;
    assert_pass(&result);
    let numbered: Vec<(usize, bool)> = result.steps.iter().map(|s| (s.index, s.cleanup)).collect();
    assert_eq!(numbered, [(0, false), (0, false), (0, false), (1, true)]);
}

#[tokio::test]
async fn cleanup_runs_after_a_step_skipped_for_max_wait() {
    let h = Harness::start_on("clock: real\nlimits: { request_timeout: 5s, max_wait: 1s }").await;
    let result = h.run("finally-after-a-skip").await;
    let Verdict::Skipped { reason } = &result.verdict else {
        panic!(
            "expected a skip, got {:?}\n{}",
            result.verdict,
            result.step_summary()
        );
    };
    assert!(reason.contains("limits.max_wait"), "{reason}");
    // The request after the skipped wait never went; the cleanup did.
    assert!(h.received("GET", "/status").await.is_empty());
    assert_eq!(h.received("DELETE", "/cleanup/k-42").await.len(), 1);
    assert!(result.steps.last().is_some_and(|s| s.cleanup));

    let result = h.run("finally-failing-after-a-skip").await;
    let message = error(&result, 2);
    assert!(
        message
            .starts_with("a cleanup step could not complete, so state may be left behind: step 3"),
        "{message}"
    );
}

#[tokio::test]
async fn repeat_sends_exactly_count_requests_each_with_its_iteration() {
    let h = Harness::start().await;
    let result = h.run("repeat-three-times").await;
    assert_pass(&result);
    let sent: Vec<String> = h
        .received("POST", "/keys")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sent, ["n=1", "n=2", "n=3"]);
    let names: Vec<&str> = result.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        &names[..3],
        [
            "create a key (1/3)",
            "create a key (2/3)",
            "create a key (3/3)"
        ]
    );
    assert!(result.steps[..3].iter().all(|s| s.index == 0));
    // The last iteration's capture is what the next step sees.
    let status = h.received("GET", "/status").await;
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].url.query(), Some("last=3"));
}

#[tokio::test]
async fn repeat_stops_at_the_failing_iteration() {
    let h = Harness::start().await;
    let result = h.run("repeat-stops-at-the-failing-iteration").await;
    let message = failure(&result, 0);
    assert!(
        message.contains("step 1 (fill the quota (3/5)): got HTTP 429, expected 201"),
        "{message}"
    );
    assert_eq!(h.received("POST", "/quota").await.len(), 3);
    assert_eq!(result.steps.len(), 3);
}

#[tokio::test]
async fn repeat_sized_from_a_count_capture_and_an_integer_compute() {
    let h = Harness::start().await;
    let result = h.run("repeat-sized-from-state").await;
    assert_pass(&result);
    // Three keys exist, five are wanted: two created; the loop sized to zero sent nothing.
    let sent: Vec<String> = h
        .received("POST", "/keys")
        .await
        .iter()
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(sent, ["n=1", "n=2"]);
    let computed = result.steps[1].passed.join("\n");
    assert!(computed.contains("missing = 2"), "{computed}");
    assert!(computed.contains("zero = 0"), "{computed}");
    let skipped = result.steps.last().expect("the zero loop is recorded");
    assert_eq!(skipped.name, "create none");
    assert!(
        skipped.passed[0].starts_with("not sent: `repeat.count` ({{zero}}) rendered 0"),
        "{:?}",
        skipped.passed
    );
}

#[tokio::test]
async fn many_iterations_are_recorded_as_the_first_ten_and_the_last() {
    let h = Harness::start().await;
    let result = h.run("repeat-many-keeps-reports-small").await;
    assert_pass(&result);
    assert_eq!(h.received("POST", "/keys").await.len(), 25);
    assert_eq!(result.steps.len(), 11);
    assert_eq!(result.steps[9].name, "ping (10/25)");
    let last = &result.steps[10];
    assert_eq!(last.name, "ping (25/25)");
    assert_eq!(
        last.passed[0],
        "iterations 11 to 24 held (not recorded, to keep reports small)"
    );
}
