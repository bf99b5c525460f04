//! The `authconform` command line: `run`, `list`, `validate`.
//!
//! Exit codes: 0 all scenarios passed (skips allowed), 1 some failed or could not run,
//! 2 invalid input or configuration.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use futures::StreamExt as _;

use crate::diagnostic::LoadErrors;
use crate::exec::{MockOptions, Runner, Verdict};
use crate::plan::{Plan, PlannedScenario, load_plan};
use crate::report::console::Console;
use crate::target::Target;

/// Exit code: every scenario passed or was skipped.
pub const EXIT_OK: u8 = 0;
/// Exit code: some scenario failed or could not run.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the input (scenarios, specs, target, arguments) is invalid.
pub const EXIT_INVALID: u8 = 2;

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
}

#[derive(Debug, Args)]
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
    /// Where to write the JUnit XML.
    #[arg(long, value_name = "PATH", default_value = "reports/junit.xml")]
    junit: PathBuf,
    /// How many scenarios run at once (they mostly wait on the network).
    #[arg(long, value_name = "N", default_value_t = 64)]
    jobs: usize,
    /// Print only failures and the summary.
    #[arg(long, short)]
    quiet: bool,
    /// Print every step of every scenario.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Exit 1 when some requirement has no scenario.
    #[arg(long)]
    deny_uncovered: bool,
}

/// Parses the arguments and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
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
    };
    ExitCode::from(code)
}

fn load(input: &InputArgs) -> Result<Plan, u8> {
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
    load_plan(&input.specs, &input.scenarios, target).map_err(|errors| {
        eprint!("{}", errors.render());
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
    let plan = match load(&args.select.input) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let scenarios = selected(&plan, &args.select);
    if scenarios.is_empty() {
        eprintln!("error: no scenario matches the filters");
        return EXIT_INVALID;
    }
    let runner = Runner::new(plan.target.clone(), MockOptions::default());
    let console = Console::new(runner.secrets(), args.verbose);
    println!(
        "authconform: running {} scenario(s) against target `{}`",
        scenarios.len(),
        plan.target.name
    );
    let mut results = Vec::new();
    let mut stream = futures::stream::iter(scenarios)
        .map(|s| runner.run(s))
        .buffer_unordered(args.jobs.max(1));
    while let Some(result) = stream.next().await {
        let show =
            !args.quiet || matches!(result.verdict, Verdict::Fail { .. } | Verdict::Error { .. });
        if show {
            console.print(&result);
        }
        results.push(result);
    }
    results.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
    print!("{}", console.summary(&results));
    match crate::report::junit::write(&args.junit, &results, runner.secrets()) {
        Ok(()) => println!("JUnit report: {}", args.junit.display()),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    let failed = results
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Fail { .. } | Verdict::Error { .. }));
    if failed { EXIT_FAILED } else { EXIT_OK }
}

fn list(args: SelectArgs) -> u8 {
    let plan = match load(&args.input) {
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
    let plan = match load(&args.input) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let uncovered = plan.uncovered();
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
