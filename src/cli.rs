//! The `authconform` command line: `run`, `list`, `validate`, `verify`, `merge`, `init-target`.
//!
//! Exit codes of `run`, `list`, `validate`: 0 all scenarios passed (skips allowed), 1 some failed
//! or could not run, 2 invalid input or configuration, 130 interrupted (SIGINT; the reports are
//! written, marked incomplete). `verify`: 0 intact, 1 tampered, 2 unreadable or not evidence.
//! `init-target`: 0 template printed, 2 unknown provider, specs that do not load, or a spec without
//! `inputs`.
//!
//! On the first Ctrl-C a run starts no more scenarios and aborts the running ones (a live expiry
//! wait can last half an hour: waiting for it would defeat the interruption); the reports list
//! both kinds as `not-run`. The handler is installed before anything else, so a Ctrl-C while the
//! plan loads (nothing to report yet) or while the reports are written also ends in exit 130; a
//! second Ctrl-C exits at once, leaving temporary files the next run removes.
//!
//! A run holds a lock on its reports folder from before loading to the end, so two runs never
//! mix their reports; it raises its open-file limit to the hard limit and runs no more
//! scenarios at once than the limit leaves room for.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::diagnostic::LoadErrors;
use crate::exec::{MockOptions, Runner, Verdict};
use crate::plan::{Plan, PlannedScenario, load_plan};
use crate::registry::MockRegistry;
use crate::report::console::{Console, Progress};
use crate::report::evidence;
use crate::report::{ReportPaths, verify};
use crate::run::{ReportSink, Reports, RunEvent, RunOptions, RunSink, Sinks};
use crate::target::Target;

/// Exit code: every scenario passed or was skipped.
pub const EXIT_OK: u8 = 0;
/// Exit code: some scenario failed or could not run.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the input (scenarios, specs, target, arguments) is invalid.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: the run was interrupted (128 + SIGINT, as shells report it); reports are written.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Conformance and compliance suite for API authentication.
#[derive(Debug, Parser)]
#[command(name = "authconform", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios against a target and write the JUnit report.
    Run(RunArgs),
    /// List the scenarios that would run, with their kind and skip reason.
    List(SelectArgs),
    /// Check specs, scenarios and target; report requirements no scenario covers.
    Validate(ValidateArgs),
    /// Check that an evidence report is unchanged since the run wrote it (exit 0 intact,
    /// 1 tampered, 2 unreadable or not an evidence report).
    Verify(VerifyArgs),
    /// Merge the evidence reports of several runs (shards, filter halves, network places) into
    /// one verifiable report, with its summary.md and evidence.html beside it (exit 0 written,
    /// 2 an input cannot be merged).
    Merge(MergeArgs),
    /// Print a commented live-target template for PROVIDER, built from the inputs its spec
    /// declares: every host, variable and secret with its description, secrets as environment
    /// variable names (exit 2 for a provider no spec defines).
    InitTarget(InitTargetArgs),
}

#[derive(Debug, Args)]
struct InitTargetArgs {
    /// The provider, as its spec names it (e.g. `pledg`).
    #[arg(value_name = "PROVIDER")]
    provider: String,
    /// Folder of requirement specs.
    #[arg(long, value_name = "DIR", default_value = "specs")]
    specs: PathBuf,
    /// Folder of scenarios, for the source names they send from.
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    scenarios: PathBuf,
}

#[derive(Debug, Args)]
struct MergeArgs {
    /// The evidence reports to merge (each must verify), e.g. shard-1/evidence.json.
    #[arg(value_name = "FILE", num_args = 1.., required = true)]
    files: Vec<PathBuf>,
    /// Where to write the merged report; summary.md and evidence.html go into the same folder.
    #[arg(long, short, value_name = "OUT")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The evidence report, e.g. reports/evidence.json.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The report hash published by the run (console, summary.md): the file must match it too.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
}

#[derive(Debug, Clone, Args)]
struct InputArgs {
    /// Target file; the embedded mocks (targets/mock.yaml) when absent.
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Folder of requirement specs.
    #[arg(long, value_name = "DIR", default_value = "specs")]
    specs: PathBuf,
    /// Folder of scenarios (one subfolder per provider).
    #[arg(long, value_name = "DIR", default_value = "scenarios")]
    scenarios: PathBuf,
}

#[derive(Debug, Args)]
struct SelectArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Run only scenarios whose name (`provider::file::id`) contains one of these.
    #[arg(value_name = "FILTER")]
    filters: Vec<String>,
    /// Same as a positional FILTER (repeatable).
    #[arg(long = "filter", value_name = "TEXT")]
    filter_flags: Vec<String>,
    /// Only scenarios carrying this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Leave out scenarios whose name contains this (repeatable).
    #[arg(long = "skip", value_name = "TEXT")]
    skips: Vec<String>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Folder for the reports: junit.xml, evidence.json, summary.md.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    reports: PathBuf,
    /// Where to write the JUnit XML instead of <DIR>/junit.xml.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// How many scenarios run at once (they mostly wait on the network); lowered when the
    /// open-file limit leaves no room for that many.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = parse_jobs)]
    jobs: usize,
    /// What a run in which no scenario ran (every one skipped) ends with: `fail` (exit 1),
    /// `warn` (a warning, exit 0) or `pass` (exit 0).
    #[arg(long, value_name = "ACTION", value_enum, default_value_t = NoTests::Fail)]
    no_tests: NoTests,
    /// Fail the run (exit 1, JUnit `<failure>`) when a scenario's documented checks held but a
    /// check resting on an assumption (a choice the provider's docs do not make) did not.
    #[arg(long)]
    strict: bool,
    /// Waivers file: known deviations, each with an owner, a reason and an expiry date
    /// (default: `waivers.yaml` beside the target file, when there is one).
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
    /// The run's seed (hexadecimal), from which `property` steps draw their cases: a failure's
    /// replay command gives it. Random when absent.
    #[arg(long, value_name = "HEX", value_parser = crate::property::parse_run_seed)]
    seed: Option<u64>,
    /// Print only failures, the summary and the evidence line; no progress bar.
    #[arg(long, short, conflicts_with = "verbose")]
    quiet: bool,
    /// Print every step of every scenario.
    #[arg(long, short)]
    verbose: bool,
}

/// Reads `--jobs`: a count of at least 1 (none at a time would never end).
fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(jobs) => Ok(jobs),
        Err(e) => Err(e.to_string()),
    }
}

/// What a run in which no scenario ran ends with (nextest's `--no-tests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum NoTests {
    /// Exit 1 and say why nothing ran.
    Fail,
    /// Say why nothing ran, exit 0.
    Warn,
    /// Exit 0 silently.
    Pass,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Exit 1 when some requirement has no scenario.
    #[arg(long)]
    deny_uncovered: bool,
    /// Waivers file to check (default: `waivers.yaml` beside the target file, when there is one).
    #[arg(long, value_name = "FILE")]
    waivers: Option<PathBuf>,
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Multi-threaded: each scenario of a run is a task, so responses are handled on the worker
    // threads where they arrive and scenario logic uses every core.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let code = match cli.command {
        Command::Run(args) => runtime.block_on(run(args)),
        Command::List(args) => list(args),
        Command::Validate(args) => validate(args),
        Command::Verify(args) => verify_file(&args),
        Command::Merge(args) => merge_files(&args),
        Command::InitTarget(args) => init_target(&args),
    };
    // An interrupted load may still be blocked reading its input: leave it behind rather than
    // wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}

fn load(input: &InputArgs, mocks: &MockRegistry) -> Result<Plan, u8> {
    let target = match &input.target {
        Some(file) => Target::load(file),
        None => Ok(Target::mock()),
    };
    let target = match target {
        Ok(t) => t,
        Err(errors) => {
            eprint!("{}", LoadErrors(errors).render());
            return Err(EXIT_INVALID);
        }
    };
    load_plan(&input.specs, &input.scenarios, target, mocks).map_err(|errors| {
        eprint!("{}", errors.render());
        EXIT_INVALID
    })
}

/// Loads the run's waivers: `explicit`, else `waivers.yaml` beside the target file; none when
/// neither is there. A file that does not load is rendered and exits 2.
fn load_waivers(
    explicit: Option<&std::path::Path>,
    target: Option<&std::path::Path>,
    plan: &Plan,
) -> Result<Option<crate::waiver::Waivers>, u8> {
    let Some(file) = crate::waiver::Waivers::file_for(explicit, target) else {
        return Ok(None);
    };
    crate::waiver::Waivers::load(&file, plan)
        .map(Some)
        .map_err(|errors| {
            eprint!("{}", LoadErrors(errors).render());
            EXIT_INVALID
        })
}

fn selected<'a>(plan: &'a Plan, select: &SelectArgs) -> Vec<&'a Arc<PlannedScenario>> {
    let filters: Vec<&String> = select
        .filters
        .iter()
        .chain(select.filter_flags.iter())
        .collect();
    plan.scenarios
        .iter()
        .filter(|s| {
            let name = s.trial_name();
            (filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
                && !select.skips.iter().any(|k| name.contains(k.as_str()))
                && (select.tags.is_empty()
                    || s.scenario.tags.iter().any(|t| select.tags.contains(t)))
        })
        .collect()
}

async fn run(args: RunArgs) -> u8 {
    let mut interrupt = Interrupt::install();
    let paths = ReportPaths::new(&args.reports, args.junit.as_deref());
    // Held until the run returns, after the last report is written.
    let _reports_lock = match crate::report::prepare(&args.reports, &paths) {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let input = args.select.input.clone();
    let mocks = crate::mock::builtin();
    let loading_mocks = mocks.clone();
    // Loading reads files (a target on a slow mount, a pipe): it must not keep Ctrl-C waiting.
    let loading = tokio::task::spawn_blocking(move || load(&input, &loading_mocks));
    let plan = tokio::select! {
        biased;
        () = interrupt.wait() => {
            eprintln!("authconform: interrupted (SIGINT) while loading: no scenario ran, no report was written");
            return EXIT_INTERRUPTED;
        }
        loaded = loading => match loaded {
            Ok(Ok(plan)) => plan,
            Ok(Err(code)) => return code,
            Err(e) => {
                eprintln!("error: loading stopped: {e}");
                return EXIT_INVALID;
            }
        },
    };
    let scenarios: Vec<Arc<PlannedScenario>> =
        selected(&plan, &args.select).into_iter().cloned().collect();
    if scenarios.is_empty() {
        eprintln!("error: no scenario matches the filters");
        return EXIT_INVALID;
    }
    let waivers = match load_waivers(
        args.waivers.as_deref(),
        args.select.input.target.as_deref(),
        &plan,
    ) {
        Ok(waivers) => waivers.map(|w| {
            Arc::new(crate::waiver::WaiverSet::new(
                w,
                crate::waiver::today(),
                args.strict,
            ))
        }),
        Err(code) => return code,
    };
    if let Some(waivers) = &waivers
        && !args.quiet
    {
        println!(
            "authconform: {} waiver(s) from {}",
            waivers.len(),
            waivers.file().display()
        );
    }
    let jobs = bounded_jobs(args.jobs, scenarios.len());
    let mut runner = Runner::new(plan.target.clone(), mocks, MockOptions::default());
    if let Some(seed) = args.seed {
        runner = runner.with_seed(seed);
    }
    let runner = Arc::new(runner);
    if !args.quiet {
        println!(
            "authconform: seed {}",
            crate::property::format_run_seed(runner.seed())
        );
    }
    crate::run::redact_panic_messages(runner.secrets().clone());
    let console = ConsoleSink {
        console: Console::new(runner.secrets(), args.verbose),
        progress: Progress::new(scenarios.len(), !args.quiet, runner.secrets()),
        quiet: args.quiet,
    };
    let reports = ReportSink::with_waivers(args.strict, waivers.clone());
    let options = RunOptions {
        jobs,
        waivers: waivers.clone(),
        ..RunOptions::default()
    };
    let end = crate::run::run(
        &plan,
        &scenarios,
        &runner,
        &options,
        interrupt.wait(),
        &Sinks(vec![&console, &reports]),
    )
    .await;
    let ConsoleSink { console, .. } = console;
    if let Some(reason) = &end.interrupted {
        eprintln!("authconform: {reason}");
    }
    let Reports {
        evidence,
        results,
        written,
    } = reports.write(&plan, &scenarios, &end, &paths, runner.secrets());
    let interrupted = end.interrupted;
    print!("{}", console.summary(&evidence));
    match written {
        Ok(_) => {
            if !args.quiet {
                println!("JUnit report: {}", paths.junit.display());
                println!("Summary: {}", paths.summary.display());
                println!("Evidence page: {}", paths.html.display());
            }
            println!(
                "Evidence: {} (report sha256 {})",
                paths.evidence.display(),
                evidence.manifest.report_sha256
            );
        }
        Err(errors) => {
            for e in errors {
                eprintln!("error: {}", runner.secrets().redact(&e));
            }
            return EXIT_FAILED;
        }
    }
    let mut failed = results.iter().any(|r| match r.verdict {
        Verdict::Fail { .. } | Verdict::Error { .. } => true,
        Verdict::DiffersFromAssumption { .. } => args.strict,
        Verdict::Pass | Verdict::Waived { .. } | Verdict::Skipped { .. } => false,
    });
    if let Some(waivers) = &waivers {
        for problem in waivers.problems(&results) {
            eprintln!(
                "{}",
                runner.secrets().redact(&problem.render(waivers.file()))
            );
            // An unused waiver would cover the next regression unseen: strict runs refuse it.
            failed |= problem.kind == crate::waiver::WaiverProblemKind::Expired || args.strict;
        }
    }
    if interrupted.is_some() || interrupt.happened() {
        EXIT_INTERRUPTED
    } else if failed {
        EXIT_FAILED
    } else if results.iter().any(|r| {
        matches!(
            r.verdict,
            Verdict::Pass | Verdict::DiffersFromAssumption { .. } | Verdict::Waived { .. }
        )
    }) {
        EXIT_OK
    } else {
        // Every scenario was skipped: green would say the target conforms while nothing
        // checked it.
        let why = nothing_ran(&results);
        match args.no_tests {
            NoTests::Fail => {
                eprintln!(
                    "error: {why}; --no-tests=warn or --no-tests=pass accepts a run where nothing ran"
                );
                EXIT_FAILED
            }
            NoTests::Warn => {
                eprintln!("warning: {why}");
                EXIT_OK
            }
            NoTests::Pass => EXIT_OK,
        }
    }
}

/// The binary's console: a line per finished scenario (only failures when quiet) under the
/// progress bar, which names the longest-running scenario.
struct ConsoleSink<'a> {
    console: Console<'a>,
    progress: Progress<'a>,
    quiet: bool,
}

impl RunSink for ConsoleSink<'_> {
    fn event(&self, event: &RunEvent<'_>) {
        match event {
            RunEvent::PlanLoaded { plan, selected } => {
                if !self.quiet {
                    println!(
                        "authconform: running {} scenario(s) against target `{}`",
                        selected.len(),
                        plan.target.name
                    );
                }
            }
            RunEvent::ScenarioFinished { result } => {
                let show = !self.quiet || result.verdict.needs_attention();
                self.progress.finished_one(|| {
                    if show {
                        self.console.print(result);
                    }
                });
            }
            RunEvent::StillRunning { longest } => {
                if self.progress.is_shown() {
                    self.progress
                        .show_longest(longest.map(|(trial, waited)| (trial.to_owned(), waited)));
                }
            }
            RunEvent::RunFinished | RunEvent::RunInterrupted { .. } => self.progress.clear(),
            RunEvent::ScenarioStarted { .. } | RunEvent::StepFinished { .. } => {}
        }
    }

    fn wants_steps(&self) -> bool {
        false
    }
}

/// Says why no scenario ran: how many were selected, and the commonest skip reasons.
fn nothing_ran(results: &[crate::exec::ScenarioResult]) -> String {
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for result in results {
        if let Verdict::Skipped { reason } = &result.verdict {
            match reasons.iter_mut().find(|(r, _)| *r == reason.as_str()) {
                Some((_, count)) => *count += 1,
                None => reasons.push((reason, 1)),
            }
        }
    }
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(reason, count)| format!("{count} × {reason}"))
        .collect();
    let more = if reasons.len() > 3 {
        format!("; and {} other reason(s)", reasons.len() - 3)
    } else {
        String::new()
    };
    format!(
        "no scenario ran: all {} selected scenario(s) were skipped ({}{more})",
        results.len(),
        shown.join("; ")
    )
}

/// Open files one running scenario may need: its mock servers (listener, runtime, front) and
/// their connections; about 11 measured on the embedded mocks, with room to spare.
const FILES_PER_SCENARIO: u64 = 16;
/// Open files kept for the rest of the process: the runtime, the client pools, the reports.
const FILES_RESERVED: u64 = 64;

/// Raises the open-file limit as far as the hard limit allows (as nextest does), then returns
/// how many scenarios may run at once: `--jobs`, lowered (and said so on stderr) when the limit
/// leaves room for fewer than would otherwise run together.
fn bounded_jobs(jobs: usize, scenarios: usize) -> usize {
    let Some(limit) = raise_open_file_limit() else {
        return jobs;
    };
    let room = usize::try_from(limit.saturating_sub(FILES_RESERVED) / FILES_PER_SCENARIO)
        .unwrap_or(usize::MAX)
        .max(1);
    if jobs.min(scenarios) > room {
        eprintln!(
            "authconform: --jobs {jobs} lowered to {room}: the open-file limit is {limit} and a running scenario may need {FILES_PER_SCENARIO} (raise it with `ulimit -n`)"
        );
        room
    } else {
        jobs
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force, or `None`
/// where there is none to read.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        // Raising failed: the current limit still bounds the run.
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft),
    }
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

/// Ctrl-C for a whole run: installed first, so no moment of the run lets SIGINT pass unnoticed.
struct Interrupt {
    received: tokio::sync::watch::Receiver<bool>,
}

impl Interrupt {
    /// Installs the handler. The first SIGINT is recorded for the run to act on; a second one
    /// ends the process at once with exit 130.
    fn install() -> Self {
        let (sender, received) = tokio::sync::watch::channel(false);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Registered here, synchronously: a signal arriving before the task first runs is
            // still delivered to it.
            if let Ok(mut sigint) = signal(SignalKind::interrupt()) {
                tokio::spawn(async move {
                    if sigint.recv().await.is_some() {
                        let _ = sender.send(true);
                        if sigint.recv().await.is_some() {
                            eprintln!("authconform: interrupted twice: exiting without reports");
                            std::process::exit(i32::from(EXIT_INTERRUPTED));
                        }
                    }
                });
            }
        }
        #[cfg(not(unix))]
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = sender.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
            }
        });
        Self { received }
    }

    /// Returns true once SIGINT has arrived.
    fn happened(&self) -> bool {
        *self.received.borrow()
    }

    /// Waits for SIGINT; never returns when no handler could be installed.
    async fn wait(&mut self) {
        if self.received.wait_for(|received| *received).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn verify_file(args: &VerifyArgs) -> u8 {
    let outcome = match std::fs::read(&args.file) {
        Ok(bytes) => verify::verify(&bytes, args.sha256.as_deref()),
        Err(e) => verify::Verification::Unreadable(format!("cannot read: {e}")),
    };
    let file = args.file.display();
    match &outcome {
        verify::Verification::Intact {
            report_sha256,
            scenarios,
            complete,
        } => {
            let incomplete = if *complete {
                ""
            } else {
                " (the run it records is incomplete)"
            };
            println!(
                "{file}: intact: {scenarios} scenario record(s), report sha256 {report_sha256}{incomplete}"
            );
        }
        verify::Verification::Tampered(findings) => {
            println!("{file}: TAMPERED: {} finding(s)", findings.len());
            for finding in findings {
                println!("  {finding}");
            }
        }
        verify::Verification::Unreadable(why) => eprintln!("error: {file}: {why}"),
    }
    outcome.exit_code()
}

/// Merges evidence reports into one, written with its summary and page; every refusal names the
/// input and why (exit 2).
fn merge_files(args: &MergeArgs) -> u8 {
    use crate::report::{markdown, merge, write_atomically};
    let folder = |path: &std::path::Path| {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        std::fs::canonicalize(parent.unwrap_or(std::path::Path::new(".")))
    };
    let mut inputs = Vec::new();
    for file in &args.files {
        let shown = file.display().to_string();
        match std::fs::read(file) {
            Ok(bytes) => inputs.push(merge::Input { file: shown, bytes }),
            Err(e) => {
                eprintln!("error: {shown}: cannot read: {e}");
                return EXIT_INVALID;
            }
        }
    }
    // Writing beside an input would replace that run's own summary.md and evidence.html.
    let out_folder = folder(&args.output).ok();
    if let Some(file) = args
        .files
        .iter()
        .find(|f| out_folder.is_some() && folder(f).ok() == out_folder)
    {
        eprintln!(
            "error: -o {}: {} is in the same folder; write the merged report to another folder (its summary.md and evidence.html would replace that run's)",
            args.output.display(),
            file.display()
        );
        return EXIT_INVALID;
    }
    let merged = match merge::merge(&inputs) {
        Ok(merged) => merged,
        Err(why) => {
            eprintln!("error: {why}");
            return EXIT_INVALID;
        }
    };
    let dir = match args.output.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let paths = ReportPaths::new(dir, None);
    let outputs = [
        (&args.output, evidence::canonical_bytes(&merged)),
        (&paths.summary, markdown::render(&merged).into_bytes()),
        (
            &paths.html,
            crate::report::html::render(&merged).into_bytes(),
        ),
    ];
    for (path, bytes) in outputs {
        if let Err(e) = write_atomically(path, &bytes) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_INVALID;
        }
    }
    let outcome = crate::report::RunOutcome::of_run(&merged.run);
    let conflicts = merged
        .requirements
        .iter()
        .filter(|r| r.status == evidence::RequirementStatus::Conflict)
        .count();
    println!(
        "merged {} report(s), {} scenario record(s): {}: {}; {conflicts} requirement(s) in conflict",
        inputs.len(),
        merged.scenarios.len(),
        outcome.word(),
        outcome.explanation(&merged.run.totals)
    );
    println!("Summary: {}", paths.summary.display());
    println!("Evidence page: {}", paths.html.display());
    println!(
        "Evidence: {} (report sha256 {})",
        args.output.display(),
        merged.manifest.report_sha256
    );
    EXIT_OK
}

fn list(args: SelectArgs) -> u8 {
    let plan = match load(&args.input, &crate::mock::builtin()) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    for s in selected(&plan, &args) {
        let skip = s
            .skip
            .as_deref()
            .map(|r| format!("  [skipped: {r}]"))
            .unwrap_or_default();
        println!(
            "{}: {}  ({})  {}{skip}",
            s.trial_name(),
            s.kind(),
            s.scenario.requirements.join(", "),
            s.scenario.title
        );
    }
    EXIT_OK
}

fn validate(args: ValidateArgs) -> u8 {
    let plan = match load(&args.input, &crate::mock::builtin()) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    match load_waivers(args.waivers.as_deref(), args.input.target.as_deref(), &plan) {
        Ok(Some(waivers)) => {
            println!(
                "{} waiver(s) in {}: valid",
                waivers.waivers.len(),
                waivers.file.display()
            );
            let today = crate::waiver::today();
            for waiver in waivers.waivers.iter().filter(|w| w.is_expired(today)) {
                eprintln!(
                    "warning: the waiver for `{}` ({}) owned by {} expired on {}: a run fails while it is there",
                    waiver.covers.name(),
                    waiver.path,
                    waiver.owner,
                    waiver.expires
                );
            }
        }
        Ok(None) => {}
        Err(code) => return code,
    }
    println!(
        "{} scenario(s) in {} file(s), {} requirement(s) in {} spec(s): valid",
        plan.scenarios.len(),
        plan.scenarios
            .iter()
            .map(|s| &s.path)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        plan.catalogue.requirements.len(),
        plan.catalogue.specs.len()
    );
    for missing in plan.missing_inputs() {
        if missing.optional {
            eprintln!(
                "note: target `{}` leaves out the optional `{}` {} `{}` ({}): the {} scenario(s) using it will be skipped",
                plan.target.name,
                missing.provider,
                missing.group,
                missing.name,
                missing.description,
                missing.scenarios
            );
            continue;
        }
        eprintln!(
            "warning: target `{}` does not supply `{}` {} `{}` ({}): the {} scenario(s) using it will be skipped",
            plan.target.name,
            missing.provider,
            missing.group,
            missing.name,
            missing.description,
            missing.scenarios
        );
    }
    for (provider, group, name) in plan.unused_inputs() {
        eprintln!(
            "warning: the `{provider}` spec declares {group} `{name}`, which none of its scenarios uses"
        );
    }
    let uncovered = plan.uncovered();
    if uncovered.is_empty() {
        println!("0 uncovered requirements");
        return EXIT_OK;
    }
    println!(
        "{} uncovered requirement(s) (no scenario cites them):",
        uncovered.len()
    );
    for id in &uncovered {
        let (provider, requirement) = &plan.catalogue.requirements[id];
        println!(
            "  {id} ({provider}, {}): {}",
            requirement.kind, requirement.statement
        );
    }
    if args.deny_uncovered {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// Prints the live-target template of a provider's spec (exit 0), or says why there is none
/// (exit 2): specs that do not load, an unknown provider, a spec without `inputs`.
fn init_target(args: &InitTargetArgs) -> u8 {
    let catalogue = match crate::spec::load_catalogue(&args.specs) {
        Ok(catalogue) => catalogue,
        Err(errors) => {
            eprint!("{}", LoadErrors(errors).render());
            return EXIT_INVALID;
        }
    };
    let Some((file, spec)) = catalogue.spec(&args.provider) else {
        let known: Vec<&str> = catalogue
            .specs
            .iter()
            .map(|(_, s)| s.provider.as_str())
            .collect();
        let hint = crate::scenario::load::nearest(&args.provider, known.iter().copied())
            .map(|n| format!(" Did you mean `{n}`?"))
            .unwrap_or_default();
        eprintln!(
            "error: no spec in {} defines provider `{}` (the specs define `{}`).{hint}",
            args.specs.display(),
            args.provider,
            known.join("`, `")
        );
        return EXIT_INVALID;
    };
    let Some(inputs) = &spec.inputs else {
        eprintln!(
            "error: {} declares no `inputs`: a template lists the hosts, variables and secrets a spec declares",
            file.display()
        );
        return EXIT_INVALID;
    };
    let sources: Vec<String> = crate::plan::sources_used(&args.scenarios, &args.provider)
        .into_iter()
        .collect();
    print!(
        "{}",
        crate::spec::live_target_template(spec, inputs, &sources)
    );
    EXIT_OK
}
