//! The run as a stream of events: what `run::run` tells its sinks, in order, and what the report
//! sink makes of an interrupted run.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use authconform::exec::MockOptions;
use authconform::report::ReportPaths;
use authconform::run::{ReportSink, RunEvent, RunOptions, RunSink, Sinks};
use authconform::{Plan, PlannedScenario, Runner, Target, load_plan};

/// Writes each event down as a short line.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl RunSink for Recorder {
    fn event(&self, event: &RunEvent<'_>) {
        let line = match event {
            RunEvent::PlanLoaded { selected, .. } => format!("plan {}", selected.len()),
            RunEvent::ScenarioStarted { scenario } => format!("start {}", scenario.trial_name()),
            RunEvent::StepFinished { scenario, step } => {
                format!("step {} {}", scenario.trial_name(), step.index)
            }
            RunEvent::ScenarioFinished { result } => {
                format!("finish {} {}", result.trial_name, result.steps.len())
            }
            RunEvent::StillRunning { .. } => return,
            RunEvent::RunFinished => "finished".into(),
            RunEvent::RunInterrupted { .. } => "interrupted".into(),
        };
        self.0.lock().unwrap().push(line);
    }
}

fn demo_basic() -> (Plan, Vec<Arc<PlannedScenario>>, Arc<Runner>) {
    let root = Path::new(common::ROOT);
    let plan = load_plan(
        &root.join("specs"),
        &root.join("scenarios"),
        Target::mock(),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let selected: Vec<_> = plan
        .scenarios
        .iter()
        .filter(|s| s.trial_name().starts_with("demo::basic::"))
        .cloned()
        .collect();
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    ));
    (plan, selected, runner)
}

#[tokio::test]
async fn every_scenario_starts_then_finishes_between_plan_loaded_and_run_finished() {
    let (plan, selected, runner) = demo_basic();
    assert!(selected.len() >= 2);
    let recorder = Recorder::default();
    let options = RunOptions {
        jobs: 2,
        ..RunOptions::default()
    };
    let end = authconform::run::run(
        &plan,
        &selected,
        &runner,
        &options,
        std::future::pending(),
        &recorder,
    )
    .await;
    assert!(end.interrupted.is_none());
    let lines = recorder.0.into_inner().unwrap();
    assert_eq!(lines.first(), Some(&format!("plan {}", selected.len())));
    assert_eq!(lines.last(), Some(&"finished".to_owned()));
    for s in &selected {
        let name = s.trial_name();
        let start = lines
            .iter()
            .position(|l| *l == format!("start {name}"))
            .unwrap_or_else(|| panic!("{name} never started: {lines:?}"));
        let finish = lines
            .iter()
            .position(|l| l.starts_with(&format!("finish {name} ")))
            .unwrap_or_else(|| panic!("{name} never finished: {lines:?}"));
        assert!(start < finish, "{name}: {lines:?}");
        // Each step is reported once, in order, between the start and the finish, and the
        // finished result holds as many.
        let steps: Vec<usize> = lines
            .iter()
            .enumerate()
            .filter_map(|(at, l)| {
                let index = l.strip_prefix(&format!("step {name} "))?.parse().ok()?;
                assert!(start < at && at < finish, "{name}: {lines:?}");
                Some(index)
            })
            .collect();
        assert!(!steps.is_empty(), "{name}: {lines:?}");
        assert_eq!(steps, (0..steps.len()).collect::<Vec<_>>(), "{name}");
        assert_eq!(lines[finish], format!("finish {name} {}", steps.len()));
    }
    let reported = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(reported("start "), selected.len());
    assert_eq!(reported("finish "), selected.len());
}

/// A recorder that says it does not read steps.
#[derive(Default)]
struct StepBlind(Recorder);

impl RunSink for StepBlind {
    fn event(&self, event: &RunEvent<'_>) {
        self.0.event(event);
    }

    fn wants_steps(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn steps_reach_the_sinks_only_when_one_of_them_reads_steps() {
    let (plan, selected, runner) = demo_basic();
    let run = |sink: &'static (dyn RunSink + Sync)| {
        let (plan, selected, runner) = (&plan, &selected, &runner);
        async move {
            authconform::run::run(
                plan,
                selected,
                runner,
                &RunOptions::default(),
                std::future::pending(),
                sink,
            )
            .await
        }
    };
    let steps = |recorder: &Recorder| {
        let lines = recorder.0.lock().unwrap();
        let finished = lines.iter().filter(|l| l.starts_with("finish ")).count();
        (
            lines.iter().filter(|l| l.starts_with("step ")).count(),
            finished,
        )
    };
    let blind: &'static StepBlind = Box::leak(Box::default());
    run(blind).await;
    assert_eq!(steps(&blind.0), (0, selected.len()));
    // Beside a sink that reads steps, both get them.
    let reading: &'static Recorder = Box::leak(Box::default());
    let both: &'static Sinks<'static> = Box::leak(Box::new(Sinks(vec![blind, reading])));
    blind.0.0.lock().unwrap().clear();
    run(both).await;
    let (reading_steps, finished) = steps(reading);
    assert!(reading_steps >= selected.len(), "{reading_steps}");
    assert_eq!(finished, selected.len());
    assert_eq!(steps(&blind.0), (reading_steps, selected.len()));
}

#[tokio::test]
async fn an_interrupted_run_reports_every_unfinished_scenario_as_not_run() {
    let (plan, selected, runner) = demo_basic();
    let recorder = Recorder::default();
    let reports = ReportSink::default();
    // Fired before anything could finish.
    let end = authconform::run::run(
        &plan,
        &selected,
        &runner,
        &RunOptions::default(),
        std::future::ready(()),
        &Sinks(vec![&recorder, &reports]),
    )
    .await;
    let reason = end.interrupted.clone().expect("interrupted");
    assert!(
        reason.starts_with("interrupted (SIGINT) after 0 of "),
        "{reason}"
    );
    let lines = recorder.0.into_inner().unwrap();
    assert_eq!(lines.last(), Some(&"interrupted".to_owned()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("finish")), "{lines:?}");

    let dir = tempfile::tempdir().unwrap();
    let paths = ReportPaths::new(dir.path(), None);
    let written = reports.write(&plan, &selected, &end, &paths, runner.secrets());
    written.written.expect("reports written");
    assert!(!written.evidence.run.complete);
    assert_eq!(written.evidence.run.totals.not_run, selected.len());
    assert_eq!(written.results.len(), selected.len());
    assert!(written.results.iter().all(|r| matches!(
        &r.verdict,
        authconform::Verdict::Skipped { reason } if reason.starts_with("not run: interrupted")
    )));
}

/// The demo provider's mock, started through `wrap`, which sees each start's config and its
/// position among the starts.
fn demo_mock_wrapped<F, Fut>(wrap: F) -> authconform::MockRegistry
where
    F: Fn(usize, authconform::registry::MockProvider, authconform::registry::MockConfig) -> Fut
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = Result<authconform::registry::RunningMock, String>>
        + Send
        + 'static,
{
    let builtin = authconform::mock::builtin();
    let demo = builtin.get("demo").expect("the demo mock").clone();
    let hosts: Vec<&str> = demo.hosts().iter().map(String::as_str).collect();
    let deviations: Vec<&str> = demo.deviations().iter().map(String::as_str).collect();
    let starts = std::sync::atomic::AtomicUsize::new(0);
    let inner = demo.clone();
    builtin.with(authconform::registry::MockProvider::new(
        "demo",
        &hosts,
        &deviations,
        move |config| {
            let position = starts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            wrap(position, inner.clone(), config)
        },
    ))
}

fn finished_order(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("finish "))
        .map(|l| {
            l.rsplit_once(' ')
                .expect("name and step count")
                .0
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_run_on_worker_threads_and_reports_follow_plan_order() {
    let (plan, selected, _) = demo_basic();
    assert!(selected.len() >= 3);
    let driver = std::thread::current().id();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let seen = threads.clone();
    // The mock started second is the last to be ready, the third the first: scenarios finish
    // out of plan order whether the workers start them in plan order or in its reverse.
    let mocks = demo_mock_wrapped(move |position, demo, config| {
        seen.lock().unwrap().push(std::thread::current().id());
        async move {
            let delay = [300, 600].get(position).copied().unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            demo.start(config).await
        }
    });
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        mocks,
        MockOptions::default(),
    ));
    let recorder = Recorder::default();
    let reports = ReportSink::default();
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        authconform::run::run(
            &plan,
            &selected,
            &runner,
            &RunOptions::default(),
            std::future::pending(),
            &Sinks(vec![&recorder, &reports]),
        ),
    )
    .await
    .expect("the run ended within 30 s");
    assert!(end.interrupted.is_none());
    // Scenario logic ran in tasks of the runtime's workers, not in the future driving the run.
    let threads = threads.lock().unwrap().clone();
    assert_eq!(threads.len(), selected.len());
    assert!(threads.iter().all(|t| *t != driver), "{threads:?}");
    let lines = recorder.0.into_inner().unwrap();
    let finished = finished_order(&lines);
    // The reports list the scenarios in plan order all the same.
    let planned: Vec<String> = selected.iter().map(|s| s.trial_name()).collect();
    assert_ne!(finished, planned, "completion order: {lines:?}");
    let dir = tempfile::tempdir().unwrap();
    let paths = ReportPaths::new(dir.path(), None);
    let written = reports.write(&plan, &selected, &end, &paths, runner.secrets());
    written.written.expect("reports written");
    let results: Vec<String> = written
        .results
        .iter()
        .map(|r| r.trial_name.clone())
        .collect();
    assert_eq!(results, planned);
    let records: Vec<String> = written
        .evidence
        .scenarios
        .iter()
        .map(|r| r.trial.clone())
        .collect();
    assert_eq!(records, planned);
    let junit = std::fs::read_to_string(&paths.junit).unwrap();
    let at = |trial: &String| {
        let id = trial.rsplit("::").next().unwrap();
        junit
            .find(&format!("name=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} not in the JUnit report"))
    };
    assert!(planned.windows(2).all(|w| at(&w[0]) < at(&w[1])), "{junit}");
}

const SCENARIO_PANIC_CANARY: &str = "CANARY-scenario-panic-9051";

async fn start_panicking(
    _: authconform::registry::MockConfig,
) -> Result<authconform::registry::RunningMock, String> {
    panic!("the mock cannot start with {SCENARIO_PANIC_CANARY}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_scenario_is_its_own_error_with_the_message_redacted() {
    let (plan, selected, _) = demo_basic();
    let mocks = demo_mock_wrapped(|position, demo, config| async move {
        if position == 1 {
            start_panicking(config).await
        } else {
            demo.start(config).await
        }
    });
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        mocks,
        MockOptions::default(),
    ));
    runner
        .secrets()
        .register_value("password", SCENARIO_PANIC_CANARY);
    let recorder = Recorder::default();
    let reports = ReportSink::default();
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        authconform::run::run(
            &plan,
            &selected,
            &runner,
            &RunOptions {
                jobs: 1,
                ..RunOptions::default()
            },
            std::future::pending(),
            &Sinks(vec![&recorder, &reports]),
        ),
    )
    .await
    .expect("the run ended within 30 s");
    assert!(end.interrupted.is_none());
    let lines = recorder.0.into_inner().unwrap();
    assert_eq!(lines.last(), Some(&"finished".to_owned()), "{lines:?}");
    assert_eq!(finished_order(&lines).len(), selected.len(), "{lines:?}");
    let dir = tempfile::tempdir().unwrap();
    let written = reports.write(
        &plan,
        &selected,
        &end,
        &ReportPaths::new(dir.path(), None),
        runner.secrets(),
    );
    // With one job, the second scenario to start is the second in plan order.
    let is_panic_error = |verdict: &authconform::Verdict| {
        matches!(verdict, authconform::Verdict::Error { message, .. }
            if message.starts_with("the run of this scenario panicked: the mock cannot start with [redacted:password]"))
    };
    for (at, result) in written.results.iter().enumerate() {
        assert_eq!(
            is_panic_error(&result.verdict),
            at == 1,
            "{}: {:?}",
            result.trial_name,
            result.verdict
        );
        assert!(!format!("{:?}", result.verdict).contains(SCENARIO_PANIC_CANARY));
    }
    // The harness's path (one scenario in the trial's thread, no task of its own) makes a panic
    // the same error.
    let always_panics = Arc::new(Runner::new(
        plan.target.clone(),
        demo_mock_wrapped(|_, _, config| start_panicking(config)),
        MockOptions::default(),
    ));
    always_panics
        .secrets()
        .register_value("password", SCENARIO_PANIC_CANARY);
    let result =
        authconform::run::run_one(&always_panics, &selected[0], &Recorder::default()).await;
    assert!(is_panic_error(&result.verdict), "{:?}", result.verdict);
}

/// Set in the child process [`a_panic_message_is_printed_redacted`] starts.
const PANIC_CHILD: &str = "AUTHCONFORM_TEST_PANIC_CHILD";
const PANIC_CANARY: &str = "CANARY-panic-hook-4711";

#[test]
#[ignore = "the child process of a_panic_message_is_printed_redacted (the hook is process-wide)"]
fn panics_with_a_secret_under_the_redacting_hook() {
    if std::env::var_os(PANIC_CHILD).is_none() {
        return;
    }
    let secrets = Arc::new(authconform::secret::SecretRegistry::new());
    secrets.register_value("password", PANIC_CANARY);
    authconform::run::redact_panic_messages(secrets);
    panic!("a message quoting {PANIC_CANARY}");
}

#[test]
fn a_panic_message_is_printed_redacted() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panics_with_a_secret_under_the_redacting_hook",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(PANIC_CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "the child panicked: {stdout}");
    assert!(
        stderr.contains("authconform panicked at ") && stderr.contains("a message quoting"),
        "{stderr}"
    );
    assert!(stderr.contains("[redacted"), "{stderr}");
    assert!(!stderr.contains(PANIC_CANARY), "{stderr}");
    assert!(!stdout.contains(PANIC_CANARY), "{stdout}");
}
