//! Proves the suite has teeth: every expectation kind can fail, with a message naming the step and
//! the deviation, and the demo scenarios catch each deliberately broken variant of the demo mock.
//!
//! - `tests/fixtures/failing/demo/*.yaml` hold scenarios whose expectations are deliberately wrong
//!   against the correct demo mock, one per expectation kind (status, status set, each header,
//!   JSONPath and body check, each transport outcome, `within`, captures), plus scenarios that
//!   cannot run at all (verdict Error, not Fail). [`FIXTURES`] says how each one must end.
//! - `closed_port.yaml` runs against a port that is bound but not listening, so the kernel refuses
//!   it: a refused connection must never pass for the timeout of a dropping allowlist.
//! - [`DEVIATIONS`] runs every real demo scenario under `scenarios/` against the demo mock with one
//!   deviation at a time: exactly the listed scenarios fail, saying why; every other one passes.
//!   The other providers' tables are in `tests/deviations_<provider>.rs`, on the same check.
//!
//! Scenarios run concurrently, so each test takes about as long as its longest wait (1 s).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use authconform::exec::MockOptions;
use authconform::target::SecretSource;
use authconform::{Plan, PlannedScenario, Runner, ScenarioResult, Target, Verdict};
use common::verdicts::{
    Caught, Kind, assert_deviations_caught, check_case, check_shape, plan, run_all, secret_values,
};

/// One fixture scenario: how it ends, at which step (0-based), and fragments its message must
/// contain, in this order.
struct Case {
    trial: &'static str,
    kind: Kind,
    step: usize,
    fragments: &'static [&'static str],
}

const fn fail(trial: &'static str, step: usize, fragments: &'static [&'static str]) -> Case {
    Case {
        trial,
        kind: Kind::Fail,
        step,
        fragments,
    }
}

const fn error(trial: &'static str, step: usize, fragments: &'static [&'static str]) -> Case {
    Case {
        trial,
        kind: Kind::Error,
        step,
        fragments,
    }
}

const fn pass(trial: &'static str) -> Case {
    Case {
        trial,
        kind: Kind::Pass,
        step: 0,
        fragments: &[],
    }
}

/// Every scenario under `tests/fixtures/failing/`, and how it must end against the correct mock.
const FIXTURES: &[Case] = &[
    // status
    fail(
        "demo::status::status-mismatch",
        0,
        &["step 1 (fetch the profile): got HTTP 200, expected 401"],
    ),
    fail(
        "demo::status::status-set-mismatch",
        0,
        &["step 1 (fetch the profile): got HTTP 200, expected one of 401, 403"],
    ),
    fail(
        "demo::status::every-failed-check-is-reported",
        0,
        &[
            "step 1 (fetch the profile): got HTTP 200, expected 401; ",
            "header `www-authenticate`: expected present, it is absent; ",
            r#"$.plan: expected to equal "silver", found "gold""#,
        ],
    ),
    fail(
        "demo::status::second-step-fails",
        1,
        &["step 2 (GET {{api_base}}/v1/profile): got HTTP 401, expected 200"],
    ),
    // headers
    fail(
        "demo::headers::header-present",
        0,
        &["step 1 (fetch the profile): header `www-authenticate`: expected present, it is absent"],
    ),
    fail(
        "demo::headers::header-absent",
        0,
        &[
            r#"step 1 (fetch the profile without credentials): header `www-authenticate`: expected absent, found "Basic realm=\"demo\", charset=\"UTF-8\"""#,
        ],
    ),
    fail(
        "demo::headers::header-equals",
        0,
        &[
            r#"step 1 (obtain a token): header `cache-control`: expected to equal "no-cache", found "no-store""#,
        ],
    ),
    fail(
        "demo::headers::header-contains",
        0,
        &[
            r#"step 1 (fetch the profile): header `content-type`: expected to contain "xml", found "application/json""#,
        ],
    ),
    fail(
        "demo::headers::header-matches",
        0,
        &[
            r#"step 1 (fetch the profile without credentials): header `www-authenticate`: expected to match /^Basic realm="other"/, found "Basic realm=\"demo\", charset=\"UTF-8\"""#,
        ],
    ),
    fail(
        "demo::headers::header-check-on-absent-header",
        0,
        &[
            r#"step 1 (fetch the profile): header `cache-control`: expected to equal "no-store", it is absent"#,
        ],
    ),
    // JSONPath
    fail(
        "demo::json::json-equals",
        0,
        &[r#"step 1 (fetch the profile): $.plan: expected to equal "silver", found "gold""#],
    ),
    fail(
        "demo::json::json-exists",
        0,
        &["step 1 (fetch the profile): $.email: expected to exist, it selects nothing"],
    ),
    fail(
        "demo::json::json-absent",
        0,
        &[r#"step 1 (fetch the profile): $.plan: expected absent, found "gold""#],
    ),
    fail(
        "demo::json::json-matches",
        0,
        &[
            r#"step 1 (fetch the profile): $.plan: expected a string matching /^silver$/, found "gold""#,
        ],
    ),
    fail(
        "demo::json::json-contains",
        0,
        &[
            r#"step 1 (fetch the profile): $.plan: expected a string containing "platinum", found "gold""#,
        ],
    ),
    fail(
        "demo::json::json-equals-secret",
        0,
        &[
            r#"step 1 (fetch the profile): $.user: expected to equal "[redacted:client_id]", found "[redacted:username]""#,
        ],
    ),
    fail(
        "demo::json::json-equals-type",
        0,
        &[r#"step 1 (obtain a token): $.expires_in: expected to equal "300", found 300"#],
    ),
    fail(
        "demo::json::json-gt",
        0,
        &["step 1 (obtain a token): $.expires_in: expected > 300, found 300"],
    ),
    fail(
        "demo::json::json-ge",
        0,
        &["step 1 (obtain a token): $.expires_in: expected >= 301, found 300"],
    ),
    fail(
        "demo::json::json-lt",
        0,
        &["step 1 (obtain a token): $.expires_in: expected < 300, found 300"],
    ),
    fail(
        "demo::json::json-le",
        0,
        &["step 1 (obtain a token): $.expires_in: expected <= 299.5, found 300"],
    ),
    fail(
        "demo::json::json-compare-not-a-number",
        0,
        &[r#"step 1 (obtain a token): $.token_type: expected a number > 0, found "Bearer""#],
    ),
    fail(
        "demo::json::json-on-non-json-body",
        0,
        &[
            "step 1 (call a route the API does not have): body is not JSON (",
            r#"), so 1 JSONPath check(s) cannot hold: """#,
        ],
    ),
    // body
    fail(
        "demo::body::body-contains",
        0,
        &[
            r#"step 1 (fetch the reports): body: expected to contain "invoice", found "{\"reports\":[{\"id\":\"r-1\",\"kind\":\"settlement\"}]}""#,
        ],
    ),
    fail(
        "demo::body::body-matches",
        0,
        &[
            r#"step 1 (fetch the reports): body: expected to match /"kind":\s*"refund"/, found "{\"reports\":[{\"id\":\"r-1\",\"kind\":\"settlement\"}]}""#,
        ],
    ),
    fail(
        "demo::body::body-present",
        0,
        &["step 1 (call a route the API does not have): body: expected non-empty, it is empty"],
    ),
    fail(
        "demo::body::body-absent",
        0,
        &[
            r#"step 1 (fetch the reports): body: expected empty, found "{\"reports\":[{\"id\":\"r-1\",\"kind\":\"settlement\"}]}""#,
        ],
    ),
    // transport outcome and `within`
    fail(
        "demo::outcome::timeout-but-answered",
        0,
        &[
            "step 1 (fetch the profile from the allowlisted source): got HTTP 200, expected timeout (no response within 1.0s): the source was answered, so it is not being dropped",
        ],
    ),
    fail(
        "demo::outcome::refused-but-answered",
        0,
        &["step 1 (fetch the profile): got HTTP 401, expected refused"],
    ),
    fail(
        "demo::outcome::reset-but-answered",
        0,
        &["step 1 (fetch the profile): got HTTP 401, expected reset"],
    ),
    fail(
        "demo::outcome::response-but-dropped",
        0,
        &[
            "step 1 (fetch the profile from 127.0.0.2): timeout waiting for the response after ",
            " ms, expected a response",
        ],
    ),
    fail(
        "demo::outcome::within-exceeded",
        0,
        &[
            "step 1 (fetch the profile at once): timeout waiting for the response after ",
            " ms, expected a response within 300 ms",
        ],
    ),
    // captures
    fail(
        "demo::capture::capture-jsonpath-selects-nothing",
        0,
        &["step 1 (obtain a token): capture `refresh`: $.refresh_token selected nothing"],
    ),
    fail(
        "demo::capture::capture-jsonpath-selects-many",
        0,
        &[
            "step 1 (fetch the reports): capture `fields`: $.reports[0].* selected 2 values, expected one",
        ],
    ),
    fail(
        "demo::capture::capture-header-absent",
        0,
        &["step 1 (fetch the profile): capture `etag`: header `etag` is absent"],
    ),
    fail(
        "demo::capture::capture-regex-no-match",
        0,
        &[
            r#"step 1 (fetch the profile without credentials): capture `scope`: /scope="([^"]*)"/ does not match"#,
        ],
    ),
    fail(
        "demo::capture::capture-from-non-json-body",
        0,
        &["step 1 (call a route the API does not have): capture `error`: body is not JSON ("],
    ),
    // could not run: Error, not Fail
    error(
        "demo::errors::unresolvable-host",
        0,
        &["could not send the request: ", "dns error"],
    ),
    error(
        "demo::errors::url-cannot-be-built",
        1,
        &["invalid URL `http://127.0.0.1:gold/x`: invalid port number"],
    ),
    error(
        "demo::errors::clock-advance-not-a-duration",
        1,
        &["clock.advance rendered to `gold`: invalid duration `gold`"],
    ),
    // a refused connection is refused, and nothing else
    fail(
        "demo::closed_port::timeout-but-refused",
        0,
        &[
            "step 1 (call the closed port): refused, expected timeout (no response within 1.0s): the connection was actively rejected, but a dropping allowlist never answers",
        ],
    ),
    pass("demo::closed_port::refused"),
    // eventually and same_as
    pass("demo::eventually::eventually-holds"),
    fail(
        "demo::eventually::eventually-gives-up",
        0,
        &[
            "step 1 (poll for a refusal that never comes): got HTTP 200, expected 401; still not met after 4 attempt(s) in a window of 2m, every 30s",
        ],
    ),
    pass("demo::eventually::same-refusal"),
    fail(
        "demo::eventually::different-refusal",
        1,
        &[
            "step 2 (a bearer token nobody issued): differs from `basic_refusal`: ",
            r#"header `www-authenticate` "Bearer realm=\"demo\""#,
            r#" vs "Basic realm=\"demo\""#,
            r#"body differs at $['error']: "invalid_token" vs "unauthorized""#,
        ],
    ),
    pass("demo::eventually::different-refusal-ignoring-the-body"),
    fail(
        "demo::closed_port::reset-but-refused",
        0,
        &["step 1 (call the closed port): refused, expected reset"],
    ),
    fail(
        "demo::closed_port::response-but-refused",
        0,
        &["step 1 (call the closed port): refused, expected a response"],
    ),
];

/// Per deviation of the demo mock: the real scenarios that must fail under it; every other real
/// scenario must still pass.
const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "answers-unallowlisted",
        &[
            (
                "demo::allowlist::generated-sources-at-the-allowlist-boundaries",
                1,
                &[
                    "the addresses just outside the allowlist",
                    "got HTTP 403, expected timeout (no response within 1.0s): the source was answered, so it is not being dropped",
                ],
            ),
            (
                "demo::allowlist::unlisted-source-times-out",
                0,
                &[
                    "got HTTP 403, expected timeout (no response within 1.0s): the source was answered, so it is not being dropped",
                ],
            ),
            (
                "demo::allowlist::unlisted-source-cannot-get-a-token",
                0,
                &[
                    "got HTTP 403, expected timeout (no response within 1.0s): the source was answered, so it is not being dropped",
                ],
            ),
        ],
    ),
    (
        "resets-unallowlisted",
        &[
            (
                "demo::allowlist::generated-sources-at-the-allowlist-boundaries",
                1,
                &[
                    "the addresses just outside the allowlist",
                    "connection reset, expected timeout (no response within 1.0s)",
                ],
            ),
            (
                "demo::allowlist::unlisted-source-times-out",
                0,
                &["connection reset, expected timeout (no response within 1.0s)"],
            ),
            (
                "demo::allowlist::unlisted-source-cannot-get-a-token",
                0,
                &["connection reset, expected timeout (no response within 1.0s)"],
            ),
        ],
    ),
    (
        "accepts-expired-tokens",
        &[(
            "demo::token::expired-token-refused",
            2,
            &["got HTTP 200, expected 401"],
        )],
    ),
    (
        "omits-no-store",
        &[(
            "demo::token::issue-and-use-token",
            0,
            &[r#"header `cache-control`: expected to equal "no-store", it is absent"#],
        )],
    ),
    (
        "omits-basic-challenge",
        &[
            (
                "demo::basic::wrong-password",
                0,
                &[
                    r#"header `www-authenticate`: expected to match /^Basic realm="demo"/, it is absent"#,
                ],
            ),
            (
                "demo::basic::missing-header",
                0,
                &[
                    "header `www-authenticate`: expected present, it is absent; ",
                    r#"header `www-authenticate`: expected to contain "charset=\"UTF-8\"", it is absent"#,
                ],
            ),
            (
                "demo::basic::malformed-refused",
                0,
                &[
                    "case 1 of 256 failed: `",
                    "no `basic` challenge in `WWW-Authenticate` (the header is absent)",
                    "replay: authconform run --target targets/mock.yaml --filter 'demo::basic::malformed-refused' --seed ",
                ],
            ),
        ],
    ),
    (
        "accepts-any-api-key",
        &[
            (
                "demo::api_key::wrong-or-missing-key",
                0,
                &["got HTTP 200, expected 403"],
            ),
            (
                "demo::api_key::derived-keys-refused",
                0,
                &["got HTTP 200, expected 403", "minimal failing case"],
            ),
        ],
    ),
    (
        "basic-scheme-case-sensitive",
        &[(
            "demo::basic::scheme-case-accepted",
            0,
            &[
                "failed: `scheme-case: `",
                "got HTTP 401, expected 200",
                "minimal failing case",
                "--filter 'demo::basic::scheme-case-accepted' --seed ",
            ],
        )],
    ),
    (
        "basic-password-prefix",
        &[(
            "demo::basic::malformed-refused",
            0,
            &[
                "got HTTP 200, expected 401",
                "minimal failing case",
                "--filter 'demo::basic::malformed-refused' --seed ",
            ],
        )],
    ),
    (
        "basic-ignores-bad-base64",
        &[(
            "demo::basic::malformed-refused",
            0,
            &["got HTTP 200, expected 401", "minimal failing case"],
        )],
    ),
    (
        "basic-lenient-spaces",
        &[(
            "demo::basic::malformed-refused",
            0,
            &[
                "failed: `",
                "space",
                "got HTTP 200, expected 401",
                "minimal failing case",
            ],
        )],
    ),
    (
        "api-key-prefix-only",
        &[(
            "demo::api_key::derived-keys-refused",
            0,
            &[
                "got HTTP 200, expected 403",
                "minimal failing case",
                "--filter 'demo::api_key::derived-keys-refused' --seed ",
            ],
        )],
    ),
    (
        "token-accepts-repeated-parameters",
        &[(
            "demo::token::malformed-token-requests-refused",
            0,
            &[
                "`duplicated-parameter: `",
                "got HTTP 200",
                "minimal failing case",
                "--filter 'demo::token::malformed-token-requests-refused' --seed ",
            ],
        )],
    ),
    (
        "token-accepts-two-client-auth-methods",
        &[(
            "demo::token::malformed-token-requests-refused",
            0,
            &[
                "`both-places: Basic, and ",
                "got HTTP 200",
                "minimal failing case",
            ],
        )],
    ),
    (
        "token-client-secret-prefix",
        &[(
            "demo::token::malformed-token-requests-refused",
            0,
            &[
                "`wrong-client-secret (Basic): ",
                "got HTTP 200",
                "minimal failing case",
            ],
        )],
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures_dir() -> PathBuf {
    root().join("tests/fixtures/failing")
}

fn real_scenarios_dir() -> PathBuf {
    root().join("scenarios")
}

/// A TCP port on 127.0.0.1 that is bound but not listening: connecting to it is refused, and
/// nothing else can take the port while the socket is held.
fn closed_port() -> tokio::net::TcpSocket {
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind 127.0.0.1:0");
    socket
}

/// The mock target plus `closed_base`, a base URL on `port` that refuses connections.
fn closed_port_target(port: u16) -> Target {
    let yaml = format!(
        r#"name: mock-with-closed-port
clock: virtual
limits:
  request_timeout: 10s
sources:
  default: {{ bind: 127.0.0.1 }}
  unallowlisted: {{ bind: 127.0.0.2 }}
providers:
  demo:
    hosts:
      api_base: {{ mock: api }}
      closed_base: {{ url: "http://127.0.0.1:{port}" }}
    secrets:
      username: {{ value: demo-user }}
      password: {{ value: "demo-pass:with-colon £" }}
      client_id: {{ value: demo-client }}
      client_secret: {{ value: demo-client-secret }}
      api_key: {{ value: demo-api-key-0123456789 }}
"#
    );
    let target = Target::parse(Path::new("t.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e).render()));
    // Same fake credentials as the embedded mock target, so the fixtures test the same mock.
    assert_eq!(
        demo_secret_values(&target),
        demo_secret_values(&Target::mock()),
        "the closed-port target must carry targets/mock.yaml's demo secrets"
    );
    target
}

/// The demo provider's inline secret values.
fn demo_secret_values(target: &Target) -> Vec<String> {
    let mut values: Vec<String> = target.providers["demo"]
        .secrets
        .values()
        .filter_map(|s| match s {
            SecretSource::Value(v) => Some(v.clone()),
            SecretSource::Env(_) => None,
        })
        .collect();
    values.sort();
    values
}

fn find<'a>(plan: &'a Plan, trial: &str) -> &'a Arc<PlannedScenario> {
    plan.scenarios
        .iter()
        .find(|s| s.trial_name() == trial)
        .unwrap_or_else(|| panic!("no scenario `{trial}` in the plan"))
}

#[tokio::test]
async fn every_expectation_kind_can_fail() {
    let socket = closed_port();
    let port = socket.local_addr().expect("a bound port").port();
    let plan = plan(&fixtures_dir(), closed_port_target(port));
    let secrets = secret_values(&plan.target);
    let results = run_all(&plan, &[]).await;
    drop(socket);

    let mut problems = Vec::new();
    let listed: Vec<&str> = FIXTURES.iter().map(|c| c.trial).collect();
    for trial in results.keys() {
        if !listed.contains(&trial.as_str()) {
            problems.push(format!("{trial}: a fixture with no row in FIXTURES"));
        }
    }
    for case in FIXTURES {
        let Some(result) = results.get(case.trial) else {
            problems.push(format!("{}: a FIXTURES row with no scenario", case.trial));
            continue;
        };
        problems.extend(check_case(result, case.kind, case.step, case.fragments));
        problems.extend(check_shape(result, &secrets));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `eventually` polls on the scenario's virtual clock: the 300 s token is first refused at the
/// sixth attempt, five virtual minutes in, and the run takes no real time for it.
#[tokio::test]
async fn eventually_polls_on_the_virtual_clock() {
    let socket = closed_port();
    let port = socket.local_addr().expect("a bound port").port();
    let plan = plan(&fixtures_dir(), closed_port_target(port));
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let result = runner
        .run(find(&plan, "demo::eventually::eventually-holds"))
        .await;
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.step_summary());
    let polled = &result.steps[1].passed;
    assert!(
        polled
            .iter()
            .any(|p| p == "held at attempt 6 (after 5m of at most 10m)"),
        "{polled:?}"
    );
    assert!(
        result.duration < Duration::from_secs(5),
        "polling on the virtual clock costs no real time: {:?}",
        result.duration
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_a_timeout() {
    let socket = closed_port();
    let port = socket.local_addr().expect("a bound port").port();
    let fixtures = plan(&fixtures_dir(), closed_port_target(port));
    let real = plan(&real_scenarios_dir(), Target::mock());
    let runner = Runner::new(
        fixtures.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let mock_runner = Runner::new(
        real.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let (refused_as_timeout, refused, dropped) = tokio::join!(
        runner.run(find(&fixtures, "demo::closed_port::timeout-but-refused")),
        runner.run(find(&fixtures, "demo::closed_port::refused")),
        mock_runner.run(find(&real, "demo::allowlist::unlisted-source-times-out")),
    );
    drop(socket);
    let outcome = |r: &ScenarioResult| {
        r.steps[0]
            .transcript
            .as_ref()
            .map(|t| (t.outcome, t.elapsed))
            .expect("a request step has a transcript")
    };

    // `outcome: timeout, within: 1s` against a refusing port fails at once: refused is no timeout.
    match &refused_as_timeout.verdict {
        Verdict::Fail { step: 0, message } => {
            assert!(message.contains("refused, expected timeout"), "{message}")
        }
        other => panic!("a refused connection passed for a timeout: {other:?}"),
    }
    let (class, elapsed) = outcome(&refused_as_timeout);
    assert_eq!(class, "refused");
    assert!(
        elapsed < Duration::from_millis(900),
        "a refusal is immediate, not a wait for the window: {elapsed:?}"
    );

    // `outcome: refused` against it passes.
    assert_eq!(refused.verdict, Verdict::Pass, "{}", refused.step_summary());
    assert_eq!(outcome(&refused).0, "refused");

    // The same expectation against the demo mock from an unallowlisted source passes: dropped.
    assert_eq!(dropped.verdict, Verdict::Pass, "{}", dropped.step_summary());
    let (class, elapsed) = outcome(&dropped);
    assert!(
        class == "read-timeout" || class == "connect-timeout",
        "a dropped source times out, got `{class}`"
    );
    assert!(
        elapsed >= Duration::from_millis(950),
        "no answer must come for the whole `within: 1s`, waited {elapsed:?}"
    );
}

#[tokio::test]
async fn every_real_scenario_passes_on_the_correct_mock() {
    let plan = plan(&real_scenarios_dir(), Target::mock());
    assert!(!plan.scenarios.is_empty(), "no scenarios under scenarios/");
    let secrets = secret_values(&plan.target);
    let results = run_all(&plan, &[]).await;
    let mut problems = Vec::new();
    for result in results.values() {
        // A provider the mock target does not configure (the generic `oauth2` profile, live
        // only) is skipped with that reason, never passed.
        let provider = result.trial_name.split("::").next().unwrap_or_default();
        if !plan.target.providers.contains_key(provider) {
            match &result.verdict {
                Verdict::Skipped { reason } if reason.contains("does not configure provider") => {}
                other => problems.push(format!("{}: {other:?}", result.trial_name)),
            }
            continue;
        }
        if result.verdict != Verdict::Pass {
            problems.push(format!(
                "{}: {:?}\n{}",
                result.trial_name,
                result.verdict,
                result.step_summary()
            ));
        }
        problems.extend(check_shape(result, &secrets));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each deviation runs on its own thread and runtime: on one shared runtime, the runners'
/// synchronous client builds stall every other runner's requests, eating into the 1 s windows (see
/// the report on `ClientPool::client`).
#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("demo", DEVIATIONS);
}

#[tokio::test]
async fn an_unknown_deviation_is_an_error_not_a_pass() {
    let plan = plan(&real_scenarios_dir(), Target::mock());
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions {
            deviations: vec!["accepts-everything".into()],
        },
    );
    let result = runner
        .run(find(&plan, "demo::basic::valid-credentials"))
        .await;
    match &result.verdict {
        Verdict::Error {
            step: None,
            message,
        } => assert!(
            message.contains(
                "the embedded `demo` mock did not start: unknown deviation `accepts-everything`"
            ),
            "{message}"
        ),
        other => panic!("expected an Error before any step, got {other:?}"),
    }
    assert!(result.steps.is_empty());
}
