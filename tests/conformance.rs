//! The conformance harness (`harness = false`): every scenario under `scenarios/` is a libtest
//! trial named `provider::file::scenario-id`, with kind `happy` or `negative`, run against the
//! embedded mocks of `mock::builtin()` (or the target named by `AUTHCONFORM_TARGET`).
//!
//! Skips carry their reason (`ignored, target `x` does not configure provider `y``). Scenarios
//! mostly wait on the network, so the harness runs 32 at a time unless `--test-threads` says
//! otherwise: suite time follows the longest wait, not the sum. Works under `cargo nextest run`
//! too (one process per trial).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use authconform::exec::MockOptions;
use authconform::{Runner, Target, Verdict, load_plan};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

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
    let trials = plan
        .scenarios
        .iter()
        .map(|planned| {
            let kind = planned.kind();
            let planned = planned.clone();
            let runner = runner.clone();
            let handle = runtime.handle().clone();
            Trial::ignorable_test(planned.trial_name(), move || {
                let result = handle.block_on(runner.run(&planned));
                match result.verdict {
                    Verdict::Pass => Ok(Completion::Completed),
                    Verdict::Skipped { reason } => Ok(Completion::ignored_with(reason)),
                    Verdict::Fail { ref message, .. } | Verdict::Error { ref message, .. } => {
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
                        Err(Failed::from(runner.secrets().redact(&text)))
                    }
                }
            })
            .with_kind(kind)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
