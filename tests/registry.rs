//! The mock registry is handed in: a provider the built-in registry does not know (`acme`, in
//! `tests/fixtures/registry/`) runs on a tiny mock defined in this file, through the same planner
//! and `Runner` as the built-in providers, and its scenarios pass and fail as they say. Without
//! that registry its `{ mock: … }` host is a load error, and a runner without it cannot run.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use authconform::exec::MockOptions;
use authconform::registry::{MockConfig, MockProvider, MockRegistry, RunningMock};
use authconform::{Plan, Runner, ScenarioResult, Target, Verdict, load_plan};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FIXTURE: &str = "tests/fixtures/registry";

/// Answers `GET /greeting`: 200 "hello" for the issued key, 401 otherwise (or, with the
/// `accepts-any-key` deviation, 200 for any key).
struct Greeting {
    key: String,
    accepts_any_key: bool,
}

impl Respond for Greeting {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let presented = request.headers.get("x-acme-key").map(|v| v.as_bytes());
        let accepted = match presented {
            Some(key) => self.accepts_any_key || key == self.key.as_bytes(),
            None => false,
        };
        if accepted {
            ResponseTemplate::new(200).set_body_string("hello from acme")
        } else {
            ResponseTemplate::new(401)
        }
    }
}

async fn start_acme(config: MockConfig) -> Result<RunningMock, String> {
    let greeting = Greeting {
        key: config.secret("api_key")?,
        accepts_any_key: config.deviates("accepts-any-key"),
    };
    // Listens on 127.0.0.1.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/greeting"))
        .respond_with(greeting)
        .mount(&server)
        .await;
    Ok(RunningMock::new(
        HashMap::from([("api".to_owned(), server.uri())]),
        vec![Box::new(server)],
    ))
}

fn acme_registry() -> MockRegistry {
    MockRegistry::new().with(MockProvider::new(
        "acme",
        &["api"],
        &["accepts-any-key"],
        start_acme,
    ))
}

fn target() -> Target {
    Target::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURE)
            .join("targets/mock.yaml"),
    )
    .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)))
}

fn load(mocks: &MockRegistry) -> Result<Plan, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    load_plan(
        &root.join("specs"),
        &root.join("scenarios"),
        target(),
        mocks,
    )
    .map_err(|e| e.render())
}

/// Runs every scenario of `plan` on `runner`, by trial name, each within 20 s.
async fn run_all(plan: &Plan, runner: &Runner) -> HashMap<String, ScenarioResult> {
    let mut results = HashMap::new();
    for planned in &plan.scenarios {
        let result = tokio::time::timeout(Duration::from_secs(20), runner.run(planned))
            .await
            .expect("the scenario ended within 20 s");
        results.insert(result.trial_name.clone(), result);
    }
    results
}

fn verdict<'a>(results: &'a HashMap<String, ScenarioResult>, trial: &str) -> &'a Verdict {
    &results
        .get(trial)
        .unwrap_or_else(|| panic!("no result for {trial}: {:?}", results.keys()))
        .verdict
}

#[tokio::test]
async fn a_handed_in_mock_runs_its_providers_scenarios() {
    let plan = load(&acme_registry()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.scenarios.len(), 2);
    let runner = Runner::new(plan.target.clone(), acme_registry(), MockOptions::default());
    let results = run_all(&plan, &runner).await;
    for (trial, result) in &results {
        assert_eq!(
            result.verdict,
            Verdict::Pass,
            "{trial}: {}",
            result.step_summary()
        );
    }
}

#[tokio::test]
async fn a_deviation_of_a_handed_in_mock_fails_the_scenario_that_catches_it() {
    let plan = load(&acme_registry()).unwrap_or_else(|e| panic!("{e}"));
    let runner = Runner::new(
        plan.target.clone(),
        acme_registry(),
        MockOptions {
            deviations: vec!["accepts-any-key".into()],
        },
    );
    let results = run_all(&plan, &runner).await;
    assert_eq!(
        verdict(&results, "acme::greeting::issued-key"),
        &Verdict::Pass
    );
    match verdict(&results, "acme::greeting::wrong-key") {
        Verdict::Fail { step, message } => {
            assert_eq!(*step, 0);
            assert!(
                message.contains("401") && message.contains("200"),
                "{message}"
            );
        }
        other => panic!("wrong-key must fail on the lenient mock, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_deviation_of_a_handed_in_mock_is_an_error_not_a_pass() {
    let plan = load(&acme_registry()).unwrap_or_else(|e| panic!("{e}"));
    let runner = Runner::new(
        plan.target.clone(),
        acme_registry(),
        MockOptions {
            deviations: vec!["accepts-any-kye".into()],
        },
    );
    let results = run_all(&plan, &runner).await;
    for trial in ["acme::greeting::issued-key", "acme::greeting::wrong-key"] {
        match verdict(&results, trial) {
            Verdict::Error { message, .. } => assert!(
                message.contains("unknown deviation `accepts-any-kye`")
                    && message.contains("`accepts-any-key`"),
                "{message}"
            ),
            other => panic!("{trial}: expected an error, got {other:?}"),
        }
    }
}

#[test]
fn a_mock_host_for_a_provider_the_registry_lacks_is_a_load_error_at_its_position() {
    for mocks in [authconform::mock::builtin(), MockRegistry::new()] {
        let rendered = load(&mocks).expect_err("no mock for `acme`");
        assert!(
            rendered.contains("targets/mock.yaml:11:25")
                && rendered.contains("there is no embedded mock for provider `acme`"),
            "{rendered}"
        );
    }
    let other_host = MockRegistry::new().with(MockProvider::new("acme", &["web"], &[], start_acme));
    let rendered = load(&other_host).expect_err("the mock has no host `api`");
    assert!(
        rendered.contains("targets/mock.yaml:11:25")
            && rendered.contains("the embedded `acme` mock has no host `api`: it has `web`"),
        "{rendered}"
    );
}

#[tokio::test]
async fn a_runner_handed_no_mock_for_the_provider_says_it_could_not_run() {
    let plan = load(&acme_registry()).unwrap_or_else(|e| panic!("{e}"));
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let results = run_all(&plan, &runner).await;
    for trial in ["acme::greeting::issued-key", "acme::greeting::wrong-key"] {
        assert_eq!(
            verdict(&results, trial),
            &Verdict::Error {
                step: None,
                message: "there is no embedded mock for provider `acme`".into(),
            }
        );
    }
}

/// The binary hands in the built-in registry, which has no `acme` mock: its mock target is bad
/// input (exit 2, at the host's line and column), never a panic.
#[test]
fn the_binary_refuses_a_mock_host_without_a_mock_at_its_position() {
    let run = common::authconform(&[
        "validate",
        "--specs",
        "tests/fixtures/registry/specs",
        "--scenarios",
        "tests/fixtures/registry/scenarios",
        "--target",
        "tests/fixtures/registry/targets/mock.yaml",
    ]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr
            .contains("tests/fixtures/registry/targets/mock.yaml:11:25")
            && run
                .stderr
                .contains("there is no embedded mock for provider `acme`"),
        "{}",
        run.dump()
    );
}

/// Scenarios on embedded mocks whose servers are up right now, and the most seen at once.
static MOCKS_UP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static MOCKS_UP_AT_MOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a running mock down when the scenario drops it.
struct Up;

impl Drop for Up {
    fn drop(&mut self) {
        MOCKS_UP.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn start_counted_acme(config: MockConfig) -> Result<RunningMock, String> {
    use std::sync::atomic::Ordering;
    let up = MOCKS_UP.fetch_add(1, Ordering::SeqCst) + 1;
    MOCKS_UP_AT_MOST.fetch_max(up, Ordering::SeqCst);
    let started = start_acme(config).await?;
    // Long enough that, unbounded, every scenario of the run would be up at once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(RunningMock::new(
        HashMap::from([(
            "api".to_owned(),
            started.url("api").expect("the acme mock has `api`"),
        )]),
        vec![Box::new(started), Box::new(Up)],
    ))
}

/// Listens to nothing.
struct Deaf;

impl authconform::run::RunSink for Deaf {
    fn event(&self, _: &authconform::run::RunEvent<'_>) {}
}

#[tokio::test(flavor = "multi_thread")]
async fn scenarios_on_embedded_mocks_run_a_few_per_core_at_once_whatever_the_jobs() {
    let registry = || {
        MockRegistry::new().with(MockProvider::new(
            "acme",
            &["api"],
            &["accepts-any-key"],
            start_counted_acme,
        ))
    };
    let plan = load(&registry()).unwrap_or_else(|e| panic!("{e}"));
    let runner = std::sync::Arc::new(Runner::new(
        plan.target.clone(),
        registry(),
        MockOptions::default(),
    ));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let selected: Vec<_> = (0..4 * cores + 24)
        .map(|_| plan.scenarios[0].clone())
        .collect();
    let options = authconform::run::RunOptions {
        jobs: 64,
        ..Default::default()
    };
    let end = tokio::time::timeout(
        Duration::from_secs(60),
        authconform::run::run(
            &plan,
            &selected,
            &runner,
            &options,
            std::future::pending(),
            &Deaf,
        ),
    )
    .await
    .expect("the run ended within 60 s");
    assert!(end.interrupted.is_none());
    let at_most = MOCKS_UP_AT_MOST.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (2..=4 * cores).contains(&at_most),
        "{at_most} scenarios had their mocks up at once on {cores} core(s)"
    );
    assert_eq!(MOCKS_UP.load(std::sync::atomic::Ordering::SeqCst), 0);
}
