//! The conformance harness (`harness = false`): every scenario under `scenarios/` is a libtest
//! trial named `provider::file::scenario-id`, with kind `happy` or `negative`, run against the
//! embedded mocks of `mock::builtin()` (or the target named by `AUTHCONFORM_TARGET`).
//!
//! Skips carry their reason (`ignored, target `x` does not configure provider `y``). Scenarios
//! mostly wait on the network, so the harness runs 32 at a time unless `--test-threads` says
//! otherwise: suite time follows the longest wait, not the sum. Works under `cargo nextest run`
//! too (one process per trial).
//!
//! With `AUTHCONFORM_REPORTS=DIR` the trials that ran are written to DIR as `authconform run
//! --reports DIR` writes them (junit.xml, evidence.json, summary.md, evidence.html), through the
//! same report sink; see `authconform::run::run_as_trials`. Under nextest (`NEXTEST=1`), each
//! trial process writes instead its sealed evidence record to `DIR/trials/<NEXTEST_RUN_ID>/`,
//! for `authconform merge` to assemble.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use authconform::exec::MockOptions;
use authconform::run::{HarnessReports, run_as_trials};
use authconform::{Runner, Target, load_plan};
use libtest_mimic::Arguments;

/// Trials run at once unless `--test-threads` is given.
const DEFAULT_CONCURRENCY: usize = 32;

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(DEFAULT_CONCURRENCY);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = match std::env::var_os("AUTHCONFORM_TARGET") {
        Some(file) => Target::load(Path::new(&file)),
        None => Ok(Target::mock()),
    };
    let target = match target {
        Ok(target) => target,
        Err(errors) => {
            eprint!("{}", authconform::diagnostic::LoadErrors(errors).render());
            return ExitCode::from(2);
        }
    };
    // Taken before anything runs, as `authconform run` does: a bad folder costs no run. Listing
    // runs nothing, so it touches no folder (nextest lists before it runs, with or without a run
    // id).
    let reports = match std::env::var_os("AUTHCONFORM_REPORTS").filter(|_| !args.list) {
        Some(dir) => match HarnessReports::for_harness(Path::new(&dir)) {
            Ok(reports) => Some(reports),
            Err(e) => {
                eprintln!("error: AUTHCONFORM_REPORTS: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    // The embedded mocks, handed to the planner (mock host names) and the runner (started per
    // scenario).
    let mocks = authconform::mock::builtin();
    let plan = match load_plan(&root.join("specs"), &root.join("scenarios"), target, &mocks) {
        Ok(plan) => plan,
        Err(errors) => {
            eprint!("{}", errors.render());
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        mocks,
        MockOptions::default(),
    ));
    // A trial's panic message is printed by the hook before libtest-mimic catches it.
    authconform::run::redact_panic_messages(runner.secrets().clone());
    let outcome = run_as_trials(&args, &plan, &runner, runtime.handle(), reports.as_ref());
    let written = outcome.reports.map(|r| r.written).or(outcome.trial_records);
    match written {
        Some(Ok(files)) => {
            for file in files {
                println!("report: {}", file.display());
            }
        }
        Some(Err(errors)) => {
            for e in errors {
                eprintln!("error: {}", runner.secrets().redact(&e));
            }
            return ExitCode::from(1);
        }
        None => {
            // On stderr: stdout is libtest's, which tools parse.
            if reports.is_some() {
                eprintln!("no trial ran: no report written");
            }
        }
    }
    outcome.conclusion.exit_code()
}
