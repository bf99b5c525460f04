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
//! [`ReportSink`], and writes the same reports once `libtest_mimic::run` returns. Under
//! `cargo nextest run` (one process per trial) each process writes instead the sealed evidence
//! record of its trial ([`HarnessReports::trial_records`]), which `authconform merge` assembles.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt as _;
use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Trial};

use crate::exec::{Runner, ScenarioResult, StepResult, Verdict};
use crate::plan::{Plan, PlannedScenario};
use crate::report::evidence::{self, Evidence, RunContext, RunFacts};
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

    /// Whether this sink reads [`RunEvent::StepFinished`]. When no sink of a run does, steps are
    /// not copied from the scenario tasks to the run loop (a transcript per step).
    fn wants_steps(&self) -> bool {
        true
    }
}

/// Hands every event to each sink in turn.
pub struct Sinks<'a>(pub Vec<&'a dyn RunSink>);

impl RunSink for Sinks<'_> {
    fn event(&self, event: &RunEvent<'_>) {
        for sink in &self.0 {
            sink.event(event);
        }
    }

    fn wants_steps(&self) -> bool {
        self.0.iter().any(|sink| sink.wants_steps())
    }
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How many scenarios run at once (at least 1).
    pub jobs: usize,
    /// How often [`RunEvent::StillRunning`] is sent.
    pub heartbeat: Duration,
    /// The run's waivers, applied to each result before the sinks see it.
    pub waivers: Option<Arc<crate::waiver::WaiverSet>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            jobs: 64,
            heartbeat: Duration::from_millis(250),
            waivers: None,
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
/// completes, telling `sink` everything. On interruption the running scenarios' tasks are
/// aborted, which ends their requests and waits.
///
/// Each scenario runs as a task of its own on the runtime's worker threads, so responses are
/// handled where they arrive and scenario logic uses every core. Scenarios start as
/// slots free, those with the longest known real wait ([`PlannedScenario::known_real_wait`])
/// first, then in plan order; the sink is called from this future only, in the order things happen: a
/// scenario's steps, then its finish. Reports do not depend on completion order: the
/// [`ReportSink`] writes them in plan order.
pub async fn run(
    plan: &Plan,
    selected: &[Arc<PlannedScenario>],
    runner: &Arc<Runner>,
    options: &RunOptions,
    interrupt: impl Future<Output = ()>,
    sink: &dyn RunSink,
) -> RunEnd {
    sink.event(&RunEvent::PlanLoaded { plan, selected });
    let started = SystemTime::now();
    let jobs = options.jobs.max(1);
    let wants_steps = sink.wants_steps();
    // Steps travel from the scenario tasks to this future, which alone calls the sink.
    let (steps_sender, mut steps) = tokio::sync::mpsc::unbounded_channel::<(usize, StepResult)>();
    // Dropping the set (interruption) aborts every task still in it.
    let mut tasks = tokio::task::JoinSet::new();
    // Task id → the scenario's position in `selected`, and when it started.
    let mut running: HashMap<tokio::task::Id, (usize, Instant)> = HashMap::new();
    let mut next = 0usize;
    let mut heartbeat = tokio::time::interval(options.heartbeat);
    let mut interrupt = std::pin::pin!(interrupt);
    let mut finished_count = 0usize;
    let mut interrupted = None;
    // Positions in start order: the longest known real waits first (a sort that keeps plan
    // order among equals), so a run ends when its work does, not a timeout started last.
    let mut start_order: Vec<usize> = (0..selected.len()).collect();
    start_order.sort_by_key(|&at| std::cmp::Reverse(selected[at].known_real_wait()));
    loop {
        while tasks.len() < jobs && next < selected.len() {
            let position = start_order[next];
            let planned = selected[position].clone();
            sink.event(&RunEvent::ScenarioStarted { scenario: &planned });
            let (runner, sender) = (runner.clone(), steps_sender.clone());
            let task = tasks.spawn(async move {
                let on_step = |step: &StepResult| {
                    // The receiver lives until the run ends; after that no one listens.
                    if wants_steps {
                        let _ = sender.send((position, step.clone()));
                    }
                };
                runner.run_observed(&planned, &on_step).await
            });
            running.insert(task.id(), (position, Instant::now()));
            next += 1;
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            () = &mut interrupt => {
                interrupted = Some(format!(
                    "interrupted (SIGINT) after {finished_count} of {} scenario(s): scenarios not started were not run, running ones were aborted",
                    selected.len()
                ));
                break;
            }
            Some(joined) = tasks.join_next_with_id() => {
                // Every step a task sent was sent before it ended: report them before its finish.
                while let Ok((position, step)) = steps.try_recv() {
                    sink.event(&RunEvent::StepFinished { scenario: &selected[position], step: &step });
                }
                let id = match &joined {
                    Ok((id, _)) => *id,
                    Err(error) => error.id(),
                };
                let Some((position, _)) = running.remove(&id) else {
                    continue;
                };
                let mut result = joined.map_or_else(
                    |error| ended_without_result(&selected[position], error, runner.secrets()),
                    |(_, result)| result,
                );
                if let Some(waivers) = &options.waivers {
                    waivers.apply(&mut result);
                }
                sink.event(&RunEvent::ScenarioFinished { result: &result });
                finished_count += 1;
            }
            Some((position, step)) = steps.recv() => {
                sink.event(&RunEvent::StepFinished { scenario: &selected[position], step: &step });
            }
            _ = heartbeat.tick() => {
                let now = Instant::now();
                let longest = running
                    .values()
                    .map(|(position, since)| (*position, now - *since))
                    .max_by_key(|(position, waited)| (*waited, std::cmp::Reverse(*position)));
                let trial = longest.map(|(position, _)| selected[position].trial_name());
                sink.event(&RunEvent::StillRunning {
                    longest: trial.as_deref().zip(longest.map(|(_, waited)| waited)),
                });
            }
        }
    }
    drop(tasks);
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

/// The result of a scenario whose task ended without one: a panic is that scenario's error, as
/// [`run_one`] makes it; a task cancelled by the runtime (shutting down) could not run either.
fn ended_without_result(
    planned: &PlannedScenario,
    error: tokio::task::JoinError,
    secrets: &SecretRegistry,
) -> ScenarioResult {
    match error.try_into_panic() {
        Ok(panic) => panicked_result(planned, panic.as_ref(), secrets),
        Err(_) => ScenarioResult {
            verdict: Verdict::Error {
                step: None,
                message: "the run of this scenario was cancelled before it ended".to_owned(),
            },
            ..not_run_result(planned, "")
        },
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
        .unwrap_or_else(|panic| panicked_result(planned, panic.as_ref(), runner.secrets()));
    sink.event(&RunEvent::ScenarioFinished { result: &result });
    result
}

/// The report sink: collects finished scenarios, then writes every report of the run.
#[derive(Debug, Default)]
pub struct ReportSink {
    results: Mutex<Vec<ScenarioResult>>,
    /// The run's facts, gathered while it runs.
    facts: Mutex<Option<evidence::PendingFacts>>,
    /// Whether a difference from an assumption fails the run (JUnit `<failure>`).
    strict: bool,
    /// The run's waivers, whose expired and unused ones the evidence lists.
    waivers: Option<Arc<crate::waiver::WaiverSet>>,
}

impl RunSink for ReportSink {
    fn event(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::PlanLoaded { plan, selected } => {
                *lock(&self.facts) = Some(RunFacts::gather_ahead(plan, selected));
            }
            RunEvent::ScenarioFinished { result } => {
                lock(&self.results).push((*result).clone());
            }
            _ => {}
        }
    }

    fn wants_steps(&self) -> bool {
        false
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
    /// Creates a sink for a run that is `--strict` or not.
    pub fn new(strict: bool) -> Self {
        Self {
            strict,
            ..Self::default()
        }
    }

    /// Creates a sink for a run that is `--strict` or not, with its waivers.
    pub fn with_waivers(strict: bool, waivers: Option<Arc<crate::waiver::WaiverSet>>) -> Self {
        Self {
            strict,
            waivers,
            ..Self::default()
        }
    }

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
        let strict = self.strict;
        let pending_facts = self.facts.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut results = self.results.into_inner().unwrap_or_else(|e| e.into_inner());
        let finished = results.len();
        let waiver_problems = self
            .waivers
            .as_ref()
            .map(|waivers| {
                waivers
                    .problems(&results)
                    .iter()
                    .map(crate::waiver::WaiverProblem::record)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(reason) = &end.interrupted {
            // JUnit has no "not run": those scenarios are skips whose reason says so. The
            // evidence records them as not run, from the finished results alone.
            let done: std::collections::HashSet<String> =
                results.iter().map(|r| r.trial_name.clone()).collect();
            for planned in selected.iter().filter(|s| !done.contains(&s.trial_name())) {
                results.push(not_run_result(planned, reason));
            }
        }
        // The evidence is built while JUnit renders.
        let (sealed, written) = crate::report::write_all(
            paths,
            &results,
            strict,
            || {
                let context = RunContext {
                    plan,
                    selected,
                    results: &results[..finished],
                    incomplete_reason: end.interrupted.clone(),
                    strict,
                    waiver_problems,
                };
                let facts = match pending_facts {
                    Some(pending) => pending.finish(plan, selected, end.started, end.finished),
                    None => RunFacts::gather(plan, selected, end.started, end.finished),
                };
                evidence::build_sealed(&context, &facts, secrets)
            },
            secrets,
        );
        results.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
        Reports {
            evidence: sealed.into_evidence(),
            results,
            written,
        }
    }
}

/// Where the harness writes its reports.
#[derive(Debug)]
pub struct HarnessReports(HarnessMode);

#[derive(Debug)]
enum HarnessMode {
    /// Every report of the run, in a folder this process holds locked.
    Run {
        paths: ReportPaths,
        _lock: ReportsLock,
    },
    /// One sealed evidence record per trial, in `DIR/trials/<run-id>/`, beside those other
    /// processes of the same test run write.
    Trials { folder: PathBuf, run_id: String },
}

/// The folder, under a reports folder, that holds the trial records of test runs.
pub const TRIALS_FOLDER: &str = "trials";

impl HarnessReports {
    /// Prepares `dir` as `authconform run --reports DIR` does (created, locked, cleaned); the
    /// error names the folder.
    pub fn prepare(dir: &Path) -> Result<Self, String> {
        let paths = ReportPaths::new(dir, None);
        let lock = crate::report::prepare(dir, &paths)?;
        Ok(Self(HarnessMode::Run { paths, _lock: lock }))
    }

    /// Prepares `DIR/trials/<run_id>/` for the trial records of test run `run_id`, where other
    /// processes of the same run write theirs at the same time: no lock is taken and nothing
    /// there is removed; each record is written on its own, atomically. The error names what is
    /// wrong.
    pub fn trial_records(dir: &Path, run_id: &str) -> Result<Self, String> {
        // The id becomes a folder name: a UUID, never a path.
        let plain = !run_id.is_empty()
            && run_id.len() <= 64
            && run_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(format!(
                "test run id {run_id:?} is not a plain id (letters, digits, `-`, `_`)"
            ));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(format!("{}: not a directory", dir.display()));
        }
        let folder = dir.join(TRIALS_FOLDER).join(run_id);
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("{}: cannot create the folder: {e}", folder.display()))?;
        Ok(Self(HarnessMode::Trials {
            folder,
            run_id: run_id.to_owned(),
        }))
    }

    /// Chooses how the conformance harness writes into `dir` from the environment nextest gives
    /// each test process: with `NEXTEST=1` the trial records of test run `NEXTEST_RUN_ID`
    /// ([`Self::trial_records`]), otherwise the run's reports ([`Self::prepare`]).
    pub fn for_harness(dir: &Path) -> Result<Self, String> {
        if std::env::var_os("NEXTEST").is_some_and(|v| v == "1") {
            let run_id = std::env::var("NEXTEST_RUN_ID").map_err(|_| {
                "under nextest (NEXTEST=1) the trial records need NEXTEST_RUN_ID, which cargo-nextest sets for each test"
                    .to_owned()
            })?;
            Self::trial_records(dir, &run_id)
        } else {
            Self::prepare(dir)
        }
    }
}

/// Returns the file name of a trial's record: its position in the plan (so that a folder
/// listing follows plan order) and its name with every character a file name may not safely
/// hold replaced (`demo::basic::x` → `00012-demo__basic__x.json`); the record inside keeps the
/// real name.
pub fn trial_record_name(position: usize, trial: &str) -> String {
    let safe: String = trial
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{position:05}-{safe}.json")
}

/// What the harness came to.
#[derive(Debug)]
pub struct TrialsOutcome {
    /// libtest-mimic's counts.
    pub conclusion: Conclusion,
    /// The reports written (`None` when no folder was given, no trial ran, or the harness wrote
    /// trial records).
    pub reports: Option<Reports>,
    /// The trial records written, or every error writing them (`None` unless the harness writes
    /// trial records and a trial ran).
    pub trial_records: Option<Result<Vec<PathBuf>, Vec<String>>>,
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
    // The embedded mocks implement the suite's assumptions, so against them a difference from
    // one is a defect of the suite: a failed trial, and a strict run in the reports.
    let strict = plan.target.is_virtual();
    let sink = Arc::new(ReportSink::new(strict));
    let started = SystemTime::now();
    let recorder = match reports {
        Some(HarnessReports(HarnessMode::Trials { folder, run_id })) => Some(Arc::new(
            TrialRecorder::new(plan, folder, run_id, started, runner.secrets().clone()),
        )),
        _ => None,
    };
    let trials = plan
        .scenarios
        .iter()
        .enumerate()
        .map(|(position, planned)| {
            let kind = planned.kind();
            let (planned, runner, sink) = (planned.clone(), runner.clone(), sink.clone());
            let (handle, recorder) = (runtime.clone(), recorder.clone());
            Trial::ignorable_test(planned.trial_name(), move || {
                if let Some(recorder) = &recorder {
                    recorder.provisional(position, &planned);
                }
                let result = handle.block_on(run_one(&runner, &planned, &*sink));
                if let Some(recorder) = &recorder {
                    recorder.record(position, &planned, &result);
                }
                trial_outcome(&result, strict, runner.secrets())
            })
            .with_kind(kind.as_str())
        })
        .collect();
    let conclusion = libtest_mimic::run(args, trials);
    let finished = SystemTime::now();
    if let Some(recorder) = recorder {
        return TrialsOutcome {
            conclusion,
            reports: None,
            trial_records: recorder.written(),
        };
    }
    let reports = reports.and_then(|reports| {
        let HarnessReports(HarnessMode::Run { paths, .. }) = reports else {
            return None;
        };
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
        Some(sink.write(plan, &selected, &end, paths, runner.secrets()))
    });
    TrialsOutcome {
        conclusion,
        reports,
        trial_records: None,
    }
}

/// Writes the sealed evidence record of each trial a harness process runs under nextest, into
/// `DIR/trials/<run-id>/` ([`trial_record_name`]): a one-scenario report carrying the test run's
/// id and the whole plan's requirements and inputs, so that `authconform merge` rebuilds the
/// matrix of the whole run from the records.
///
/// Before a trial runs, its record says `not-run` in an incomplete report; the verdict replaces
/// it when the trial ends. A trial process nextest kills (a timeout) thus leaves a record that
/// makes the merged report incomplete, rather than no record and a complete report without it.
/// Each record's final bytes are checked against the registry, as every report's are.
pub struct TrialRecorder {
    plan: Plan,
    folder: PathBuf,
    run_id: String,
    started: SystemTime,
    secrets: Arc<SecretRegistry>,
    facts: std::sync::OnceLock<RunFacts>,
    written: Mutex<Vec<PathBuf>>,
    errors: Mutex<Vec<String>>,
}

/// Why a provisional record says `not-run`: only a process that ended before the trial did
/// leaves it.
pub const TRIAL_NOT_FINISHED: &str =
    "the trial process ended before the trial did (killed, e.g. by a nextest timeout)";

impl TrialRecorder {
    /// Records the trials of test run `run_id` of `plan` into `folder`, for a process that
    /// started at `started`.
    pub fn new(
        plan: &Plan,
        folder: &Path,
        run_id: &str,
        started: SystemTime,
        secrets: Arc<SecretRegistry>,
    ) -> Self {
        Self {
            plan: plan.clone(),
            folder: folder.to_path_buf(),
            run_id: run_id.to_owned(),
            started,
            secrets,
            facts: std::sync::OnceLock::new(),
            written: Mutex::default(),
            errors: Mutex::default(),
        }
    }

    /// Writes the record of trial `planned` (at `position` in the plan) as not run yet.
    pub fn provisional(&self, position: usize, planned: &Arc<PlannedScenario>) {
        self.write(position, planned, None);
    }

    /// Writes the record of trial `planned` with its result, replacing the provisional one.
    pub fn record(&self, position: usize, planned: &Arc<PlannedScenario>, result: &ScenarioResult) {
        self.write(position, planned, Some(result));
    }

    /// Returns the records written, or every error (`None` when no trial ran).
    pub fn written(&self) -> Option<Result<Vec<PathBuf>, Vec<String>>> {
        let errors = lock(&self.errors).clone();
        let mut written = lock(&self.written).clone();
        written.sort();
        written.dedup();
        if !errors.is_empty() {
            Some(Err(errors))
        } else {
            (!written.is_empty()).then_some(Ok(written))
        }
    }

    fn write(
        &self,
        position: usize,
        planned: &Arc<PlannedScenario>,
        result: Option<&ScenarioResult>,
    ) {
        let selected = std::slice::from_ref(planned);
        let facts = self.facts.get_or_init(|| RunFacts {
            test_run_id: Some(self.run_id.clone()),
            ..RunFacts::gather(&self.plan, selected, self.started, self.started)
        });
        let facts = RunFacts {
            finished: SystemTime::now(),
            ..facts.clone()
        };
        let context = RunContext {
            plan: &self.plan,
            selected,
            results: result.map(std::slice::from_ref).unwrap_or_default(),
            incomplete_reason: result.is_none().then(|| TRIAL_NOT_FINISHED.to_owned()),
            strict: self.plan.target.is_virtual(),
            waiver_problems: Vec::new(),
        };
        let record = evidence::build_sealed(&context, &facts, &self.secrets);
        let path = self
            .folder
            .join(trial_record_name(position, &planned.trial_name()));
        match crate::report::write_checked(&path, record.bytes(), &self.secrets) {
            Ok(()) => lock(&self.written).push(path),
            Err(e) => lock(&self.errors).push(e),
        }
    }
}

/// A scenario's verdict as libtest sees it: skips are ignored with their reason, a failure or an
/// error fails the trial with a redacted message that says which of the two it was, and so does
/// a difference from an assumption when `strict` (it passes otherwise).
fn trial_outcome(
    result: &ScenarioResult,
    strict: bool,
    secrets: &SecretRegistry,
) -> Result<Completion, Failed> {
    match &result.verdict {
        // The harness reads no waivers file; a waived failure would pass as it does in a run.
        Verdict::Pass | Verdict::Waived { .. } => Ok(Completion::Completed),
        Verdict::DiffersFromAssumption { .. } if !strict => Ok(Completion::Completed),
        Verdict::DiffersFromAssumption { message } => {
            let text = format!(
                "differs from an assumption (the embedded mocks implement the suite's assumptions): {message}\nrequirements: {}\n{}",
                result.requirements.join(", "),
                result.step_summary()
            );
            Err(Failed::from(secrets.redact(&text)))
        }
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

/// The result of a scenario whose run panicked: an error quoting the panic message, redacted
/// (a panic message may quote whatever value was at hand).
fn panicked_result(
    planned: &PlannedScenario,
    panic: &(dyn std::any::Any + Send),
    secrets: &SecretRegistry,
) -> ScenarioResult {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    ScenarioResult {
        verdict: Verdict::Error {
            step: None,
            message: secrets.redact(&format!("the run of this scenario panicked: {message}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_from_an_assumption_fails_a_strict_trial_with_its_notes() {
        let secrets = SecretRegistry::new();
        secrets.register(&crate::secret::Secret::new(
            "api_key".parse().unwrap(),
            "CANARY-trial-key",
        ));
        let result = ScenarioResult {
            trial_name: "shop::refusal::x".into(),
            classname: "shop.refusal".into(),
            provider: "shop".into(),
            id: "x".into(),
            title: "t".into(),
            requirements: vec!["SHOP-01".into()],
            verdict: Verdict::DiffersFromAssumption {
                message:
                    "step 1 (refused): $.detail: found \"CANARY-trial-key\" (assumed: docs silent)"
                        .into(),
            },
            steps: Vec::new(),
            started: SystemTime::now(),
            duration: Duration::ZERO,
        };
        assert!(trial_outcome(&result, false, &secrets).is_ok());
        let Err(failed) = trial_outcome(&result, true, &secrets) else {
            panic!("a strict trial that differs from an assumption passed");
        };
        let text = format!("{failed:?}");
        assert!(text.contains("differs from an assumption"), "{text}");
        assert!(text.contains("(assumed: docs silent)"), "{text}");
        assert!(!text.contains("CANARY-trial-key"), "{text}");
    }

    #[test]
    fn trial_record_names_are_safe_file_names_in_plan_order() {
        assert_eq!(
            trial_record_name(12, "demo::basic::valid-credentials"),
            "00012-demo__basic__valid-credentials.json"
        );
        assert_eq!(
            trial_record_name(3, "we-platform::jwt/../x y::é.v2"),
            "00003-we-platform__jwt_.._x_y___.v2.json"
        );
        // The position leads, so names listed in byte order follow the plan even where the
        // replaced characters would sort differently.
        let mut names = [
            trial_record_name(10, "a::b::c"),
            trial_record_name(9, "a::b::c-z"),
        ];
        names.sort();
        assert!(names[0].starts_with("00009-"), "{names:?}");
    }

    #[test]
    fn a_trial_is_recorded_not_run_until_its_verdict_replaces_it() {
        use crate::report::merge::{Input, merge};
        use crate::report::verify::{Verification, verify};
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::plan::load_plan(
            &root.join("specs"),
            &root.join("scenarios"),
            crate::target::Target::mock(),
            &crate::mock::builtin(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        let dir = tempfile::tempdir().unwrap();
        let recorder = TrialRecorder::new(
            &plan,
            dir.path(),
            "run-7",
            SystemTime::now(),
            Arc::new(SecretRegistry::new()),
        );
        assert!(recorder.written().is_none(), "no trial ran yet");
        let (killed, finished) = (&plan.scenarios[0], &plan.scenarios[1]);
        recorder.provisional(0, killed);
        recorder.provisional(1, finished);
        let mut result = not_run_result(finished, "");
        result.verdict = Verdict::Pass;
        recorder.record(1, finished, &result);
        let written = recorder.written().unwrap().unwrap();
        assert_eq!(written.len(), 2, "one file per trial: {written:?}");
        let read = |path: &Path| -> Evidence {
            let bytes = std::fs::read(path).unwrap();
            assert!(matches!(verify(&bytes, None), Verification::Intact { .. }));
            serde_json::from_slice(&bytes).unwrap()
        };
        // The trial whose process ended early stays `not-run`, in an incomplete report.
        let left = read(&written[0]);
        assert_eq!(left.scenarios[0].trial, killed.trial_name());
        assert_eq!(left.scenarios[0].verdict, evidence::ScenarioVerdict::NotRun);
        assert!(!left.run.complete);
        assert_eq!(
            left.run.incomplete_reason.as_deref(),
            Some(TRIAL_NOT_FINISHED)
        );
        // The finished one's verdict replaced its provisional record.
        let done = read(&written[1]);
        assert_eq!(done.scenarios[0].verdict, evidence::ScenarioVerdict::Pass);
        assert!(done.run.complete);
        assert_eq!(done.run.test_run_id.as_deref(), Some("run-7"));
        // Merged, the run is incomplete: the killed trial is not silently missing.
        let inputs: Vec<Input> = written
            .iter()
            .map(|p| Input {
                file: p.display().to_string(),
                bytes: std::fs::read(p).unwrap(),
            })
            .collect();
        let merged = merge(&inputs).unwrap();
        assert!(!merged.run.complete);
        assert_eq!(merged.run.totals.not_run, 1);
        assert_eq!(merged.run.totals.passed, 1);
    }

    #[test]
    fn a_test_run_id_must_be_a_plain_id() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["", "../escape", "a/b", "run id", &"x".repeat(65)] {
            let refused = HarnessReports::trial_records(dir.path(), id).unwrap_err();
            assert!(refused.contains("is not a plain id"), "{id}: {refused}");
        }
        assert!(!dir.path().join(TRIALS_FOLDER).exists());
        HarnessReports::trial_records(dir.path(), "5b1e2f0c-7a8d-4c3b-9e61-0d2a4f6b8c90").unwrap();
        assert!(
            dir.path()
                .join(TRIALS_FOLDER)
                .join("5b1e2f0c-7a8d-4c3b-9e61-0d2a4f6b8c90")
                .is_dir()
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let refused = HarnessReports::trial_records(&file, "run").unwrap_err();
        assert!(refused.contains("not a directory"), "{refused}");
    }
}
