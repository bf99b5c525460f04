//! A run as a stream of events: the one entry point `authconform run` and the `cargo test`
//! harness share.
//!
//! [`run`] takes a plan, the selected scenarios, a [`Runner`] (target + mock registry) and
//! [`RunOptions`], and tells a [`RunSink`] what happens: [`RunEvent::PlanLoaded`], then per
//! scenario [`RunEvent::ScenarioStarted`] and [`RunEvent::ScenarioFinished`], a periodic
//! [`RunEvent::StepFinished`] for each step as it ends, a periodic [`RunEvent::StillRunning`],
//! and last [`RunEvent::RunFinished`] or [`RunEvent::RunInterrupted`].
//!
//! Sinks consume the events: the binary's console lines and progress bar, and the
//! [`ReportSink`], which collects the results and writes every report at the end through
//! [`crate::report::write_all`]. The harness ([`run_as_trials`]) lets libtest-mimic schedule the
//! trials (filters, `--test-threads`), runs each through [`run_one`] into the same
//! [`ReportSink`], and writes the same reports once `libtest_mimic::run` returns.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::{FutureExt as _, StreamExt as _};
use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Trial};

use crate::exec::{Runner, ScenarioResult, StepResult, Verdict};
use crate::plan::{Plan, PlannedScenario};
use crate::report::evidence::{self, Evidence, RunContext};
use crate::report::{ReportPaths, ReportsLock};
use crate::secret::SecretRegistry;

/// What happens in a run, in order.
#[derive(Debug)]
pub enum RunEvent<'a> {
    /// The plan is loaded and these scenarios are selected to run, in plan order.
    PlanLoaded {
        plan: &'a Plan,
        selected: &'a [Arc<PlannedScenario>],
    },
    /// A scenario started.
    ScenarioStarted { scenario: &'a PlannedScenario },
    /// A step of a running scenario ended; the finished scenario's result holds it too.
    StepFinished {
        scenario: &'a PlannedScenario,
        step: &'a StepResult,
    },
    /// A scenario finished (passed, failed, could not run or was skipped).
    ScenarioFinished { result: &'a ScenarioResult },
    /// Sent every [`RunOptions::heartbeat`] while scenarios run: the one that has been running
    /// longest, and for how long.
    StillRunning {
        longest: Option<(&'a str, Duration)>,
    },
    /// Every selected scenario finished.
    RunFinished,
    /// The interrupt fired: scenarios not started were not run, running ones were aborted.
    RunInterrupted { reason: &'a str },
}

/// Consumes a run's events. Shared by the trials of the harness, which run on several threads.
pub trait RunSink: Sync {
    /// Takes one event.
    fn event(&self, event: &RunEvent<'_>);
}

/// Hands every event to each sink in turn.
pub struct Sinks<'a>(pub Vec<&'a dyn RunSink>);

impl RunSink for Sinks<'_> {
    fn event(&self, event: &RunEvent<'_>) {
        for sink in &self.0 {
            sink.event(event);
        }
    }
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How many scenarios run at once (at least 1).
    pub jobs: usize,
    /// How often [`RunEvent::StillRunning`] is sent.
    pub heartbeat: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 64,
            heartbeat: Duration::from_millis(250),
        }
    }
}

/// When a run happened and whether it ended early.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// When the first scenario could start.
    pub started: SystemTime,
    /// When the last one finished or the run was interrupted.
    pub finished: SystemTime,
    /// Why the run is incomplete, when the interrupt fired.
    pub interrupted: Option<String>,
}

/// Runs `selected` with at most `options.jobs` at once until all finish or `interrupt`
/// completes, telling `sink` everything. On interruption the running scenarios' futures are
/// dropped, which ends their requests and waits.
pub async fn run(
    plan: &Plan,
    selected: &[Arc<PlannedScenario>],
    runner: &Runner,
    options: &RunOptions,
    interrupt: impl Future<Output = ()>,
    sink: &dyn RunSink,
) -> RunEnd {
    sink.event(&RunEvent::PlanLoaded { plan, selected });
    let started = SystemTime::now();
    // Trial name → when it started, for the longest wait.
    let running: Mutex<Vec<(String, Instant)>> = Mutex::default();
    let mut stream = futures::stream::iter(selected.iter())
        .map(|planned| {
            let running = &running;
            async move {
                let trial = planned.trial_name();
                lock(running).push((trial.clone(), Instant::now()));
                let result = run_one(runner, planned, sink).await;
                lock(running).retain(|(name, _)| *name != trial);
                result
            }
        })
        .buffer_unordered(options.jobs.max(1));
    let mut heartbeat = tokio::time::interval(options.heartbeat);
    let mut interrupt = std::pin::pin!(interrupt);
    let mut finished_count = 0usize;
    let mut interrupted = None;
    loop {
        tokio::select! {
            biased;
            () = &mut interrupt => {
                interrupted = Some(format!(
                    "interrupted (SIGINT) after {finished_count} of {} scenario(s): scenarios not started were not run, running ones were aborted",
                    selected.len()
                ));
                break;
            }
            next = stream.next() => {
                if next.is_none() {
                    break;
                }
                finished_count += 1;
            }
            _ = heartbeat.tick() => {
                let now = Instant::now();
                let longest = lock(&running)
                    .iter()
                    .map(|(trial, since)| (trial.clone(), now - *since))
                    .max_by_key(|(_, waited)| *waited);
                sink.event(&RunEvent::StillRunning {
                    longest: longest.as_ref().map(|(t, w)| (t.as_str(), *w)),
                });
            }
        }
    }
    drop(stream);
    match &interrupted {
        Some(reason) => sink.event(&RunEvent::RunInterrupted { reason }),
        None => sink.event(&RunEvent::RunFinished),
    }
    RunEnd {
        started,
        finished: SystemTime::now(),
        interrupted,
    }
}

/// Runs one scenario, telling `sink` when it starts and finishes. A panic in it (a mock that
/// cannot start its runtime) is that scenario's error: the others and the reports go on.
pub async fn run_one(
    runner: &Runner,
    planned: &PlannedScenario,
    sink: &dyn RunSink,
) -> ScenarioResult {
    sink.event(&RunEvent::ScenarioStarted { scenario: planned });
    let on_step = |step: &StepResult| {
        sink.event(&RunEvent::StepFinished {
            scenario: planned,
            step,
        });
    };
    let result = std::panic::AssertUnwindSafe(runner.run_observed(planned, &on_step))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| panicked_result(planned, panic.as_ref()));
    sink.event(&RunEvent::ScenarioFinished { result: &result });
    result
}

/// The report sink: collects finished scenarios, then writes every report of the run.
#[derive(Debug, Default)]
pub struct ReportSink {
    results: Mutex<Vec<ScenarioResult>>,
}

impl RunSink for ReportSink {
    fn event(&self, event: &RunEvent<'_>) {
        if let RunEvent::ScenarioFinished { result } = event {
            lock(&self.results).push((*result).clone());
        }
    }
}

/// What the report sink made of a run.
#[derive(Debug)]
pub struct Reports {
    /// The sealed evidence (the console summary reads it).
    pub evidence: Evidence,
    /// Every selected scenario's result, by trial name; those an interruption kept from finishing
    /// are skips whose reason says so.
    pub results: Vec<ScenarioResult>,
    /// The files written, or every error writing them.
    pub written: Result<Vec<PathBuf>, Vec<String>>,
}

impl ReportSink {
    /// How many scenarios finished so far.
    pub fn finished(&self) -> usize {
        lock(&self.results).len()
    }

    /// Builds the evidence from what was collected and writes every report to `paths`.
    pub fn write(
        self,
        plan: &Plan,
        selected: &[Arc<PlannedScenario>],
        end: &RunEnd,
        paths: &ReportPaths,
        secrets: &SecretRegistry,
    ) -> Reports {
        let mut results = self.results.into_inner().unwrap_or_else(|e| e.into_inner());
        results.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
        let context = RunContext {
            plan,
            selected,
            results: &results,
            started: end.started,
            finished: end.finished,
            incomplete_reason: end.interrupted.clone(),
        };
        let evidence = evidence::build(&context, secrets);
        if let Some(reason) = &end.interrupted {
            // JUnit has no "not run": those scenarios are skips whose reason says so.
            let done: std::collections::HashSet<String> =
                results.iter().map(|r| r.trial_name.clone()).collect();
            for planned in selected.iter().filter(|s| !done.contains(&s.trial_name())) {
                results.push(not_run_result(planned, reason));
            }
            results.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
        }
        let written = crate::report::write_all(paths, &results, &evidence, secrets);
        Reports {
            evidence,
            results,
            written,
        }
    }
}

/// Where the harness writes its reports, and its hold on that folder.
#[derive(Debug)]
pub struct HarnessReports {
    paths: ReportPaths,
    _lock: ReportsLock,
}

impl HarnessReports {
    /// Prepares `dir` as `authconform run --reports DIR` does (created, locked, cleaned); the
    /// error names the folder.
    pub fn prepare(dir: &Path) -> Result<Self, String> {
        let paths = ReportPaths::new(dir, None);
        let lock = crate::report::prepare(dir, &paths)?;
        Ok(Self { paths, _lock: lock })
    }
}

/// What the harness came to.
#[derive(Debug)]
pub struct TrialsOutcome {
    /// libtest-mimic's counts.
    pub conclusion: Conclusion,
    /// The reports written (`None` when no folder was given or no trial ran).
    pub reports: Option<Reports>,
}

/// Runs the plan as libtest trials named `provider::file::scenario-id` (kind `happy` or
/// `negative`), libtest-mimic choosing which run and how many at once. With `reports`, every
/// trial that ran (skips included, filtered-out ones not) reaches a [`ReportSink`], and the
/// reports are written once the trials end; when no trial ran (`--list`, a filter matching
/// nothing) none are written.
pub fn run_as_trials(
    args: &Arguments,
    plan: &Plan,
    runner: &Arc<Runner>,
    runtime: &tokio::runtime::Handle,
    reports: Option<&HarnessReports>,
) -> TrialsOutcome {
    let sink = Arc::new(ReportSink::default());
    let started = SystemTime::now();
    let trials = plan
        .scenarios
        .iter()
        .map(|planned| {
            let kind = planned.kind();
            let (planned, runner, sink) = (planned.clone(), runner.clone(), sink.clone());
            let handle = runtime.clone();
            Trial::ignorable_test(planned.trial_name(), move || {
                let result = handle.block_on(run_one(&runner, &planned, &*sink));
                trial_outcome(&result, runner.secrets())
            })
            .with_kind(kind)
        })
        .collect();
    let conclusion = libtest_mimic::run(args, trials);
    let finished = SystemTime::now();
    let reports = reports.and_then(|reports| {
        let sink = Arc::into_inner(sink)?;
        if sink.finished() == 0 {
            return None;
        }
        let ran: std::collections::HashSet<String> = lock(&sink.results)
            .iter()
            .map(|r| r.trial_name.clone())
            .collect();
        let selected: Vec<Arc<PlannedScenario>> = plan
            .scenarios
            .iter()
            .filter(|s| ran.contains(&s.trial_name()))
            .cloned()
            .collect();
        let end = RunEnd {
            started,
            finished,
            interrupted: None,
        };
        Some(sink.write(plan, &selected, &end, &reports.paths, runner.secrets()))
    });
    TrialsOutcome {
        conclusion,
        reports,
    }
}

/// A scenario's verdict as libtest sees it: skips are ignored with their reason, a failure or an
/// error fails the trial with a redacted message that says which of the two it was.
fn trial_outcome(result: &ScenarioResult, secrets: &SecretRegistry) -> Result<Completion, Failed> {
    match &result.verdict {
        Verdict::Pass => Ok(Completion::Completed),
        Verdict::Skipped { reason } => Ok(Completion::ignored_with(reason.clone())),
        Verdict::Fail { message, .. } | Verdict::Error { message, .. } => {
            let kind = if matches!(result.verdict, Verdict::Fail { .. }) {
                "expectation not met"
            } else {
                "could not run"
            };
            let text = format!(
                "{kind}: {message}\nrequirements: {}\n{}",
                result.requirements.join(", "),
                result.step_summary()
            );
            Err(Failed::from(secrets.redact(&text)))
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The JUnit stand-in for a scenario an interruption kept from finishing.
fn not_run_result(planned: &PlannedScenario, reason: &str) -> ScenarioResult {
    ScenarioResult {
        trial_name: planned.trial_name(),
        classname: planned.classname(),
        provider: planned.provider.clone(),
        id: planned.scenario.id.to_string(),
        title: planned.scenario.title.clone(),
        requirements: planned.scenario.requirements.clone(),
        verdict: Verdict::Skipped {
            reason: format!("not run: {reason}"),
        },
        steps: Vec::new(),
        started: SystemTime::now(),
        duration: Duration::ZERO,
    }
}

/// The result of a scenario whose run panicked: an error naming the panic, redacted later by
/// every sink.
fn panicked_result(
    planned: &PlannedScenario,
    panic: &(dyn std::any::Any + Send),
) -> ScenarioResult {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    ScenarioResult {
        verdict: Verdict::Error {
            step: None,
            message: format!("the run of this scenario panicked: {message}"),
        },
        ..not_run_result(planned, "")
    }
}

/// Replaces the panic message printer by one that redacts through the run's registry: a panic
/// message may quote whatever value was at hand. For a process's entry point (the binary, the
/// harness's `main`): the hook is process-wide.
pub fn redact_panic_messages(secrets: Arc<SecretRegistry>) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("authconform panicked{at}: {}", secrets.redact(&payload));
    }));
}
