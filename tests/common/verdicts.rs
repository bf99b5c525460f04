//! Checking verdicts against tables: how a scenario must end (pass, fail or error, at which step,
//! saying what), the shape every verdict must have, and the broken-variant check every provider's
//! mock goes through ([`assert_deviations_caught`]).

use std::collections::BTreeMap;
use std::path::Path;

use authconform::exec::MockOptions;
use authconform::target::SecretSource;
use authconform::{Plan, Runner, ScenarioResult, Target, Verdict, load_plan};
use futures::future::join_all;

/// How many deviations' runs overlap in [`assert_deviations_caught`].
const DEVIATIONS_AT_ONCE: usize = 3;

/// How a scenario must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pass,
    Fail,
    Error,
}

/// A real scenario that must fail under a deviation: trial, failing step (0-based), fragments its
/// message must contain, in this order.
pub type Caught = (&'static str, usize, &'static [&'static str]);

/// Loads `scenarios` against the real specs (the demo spec with the inputs the runner's tests
/// supply, [`super::runner_specs`]), or panics with the rendered errors.
pub fn plan(scenarios: &Path, target: Target) -> Plan {
    load_plan(
        super::runner_specs().path(),
        scenarios,
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|errors| panic!("{}", errors.render()))
}

/// The repository's scenarios planned against the embedded mock target, loaded once per test
/// binary: the property tests run one scenario under several deviations and seeds, and loading
/// every spec and scenario again for each run took most of a second unoptimised.
pub fn mock_plan() -> Plan {
    static PLAN: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| plan(&Path::new(super::ROOT).join("scenarios"), Target::mock()))
        .clone()
}

/// Runs the one scenario `trial` of `plan` on the embedded mocks with `deviations` and run seed
/// `seed`; returns its verdict. The scenario must run there, not be skipped at planning.
pub async fn run_one(plan: &Plan, trial: &str, deviations: &[&str], seed: u64) -> Verdict {
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions {
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        },
    )
    .with_seed(seed);
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == trial)
        .unwrap_or_else(|| panic!("{trial} is planned"));
    assert_eq!(planned.skip, None, "{trial} runs on the mocks");
    runner.run(planned).await.verdict
}

/// Runs every scenario of `plan` concurrently with `deviations`, keyed by trial name.
pub async fn run_all(plan: &Plan, deviations: &[&str]) -> BTreeMap<String, ScenarioResult> {
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions {
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        },
    );
    let runner = &runner;
    join_all(plan.scenarios.iter().map(|s| async move {
        let result = runner.run(s).await;
        (result.trial_name.clone(), result)
    }))
    .await
    .into_iter()
    .collect()
}

/// Every inline secret value of `target`, of all providers: none may appear in any output.
pub fn secret_values(target: &Target) -> Vec<String> {
    let mut values: Vec<String> = target
        .providers
        .values()
        .flat_map(|p| p.secrets.values())
        .filter_map(|s| match s {
            SecretSource::Value(v) => Some(v.clone()),
            SecretSource::Env(_) => None,
        })
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Returns where `fragments` fail to appear in `message` in order, if they do not.
pub fn missing_fragment(message: &str, fragments: &[&str]) -> Option<String> {
    let mut rest = message;
    for fragment in fragments {
        match rest.find(fragment) {
            Some(at) => rest = &rest[at + fragment.len()..],
            None => return Some(format!("{fragment:?} (in order)")),
        }
    }
    None
}

/// Checks what every verdict must satisfy, whatever the scenario: a Fail names its step
/// (`step N (name): `) and carries that step's failed checks; an Error is recorded on its step; the
/// scenario stopped at that step; no secret value appears in the verdict or the step summary.
pub fn check_shape(result: &ScenarioResult, secrets: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    let trial = &result.trial_name;
    // A verdict names the scenario's step; a repeated step leaves a record per kept iteration
    // and `finally:` steps follow the one a scenario stopped at, so the step's record is the last
    // non-cleanup one with its index.
    let record = |step: usize| {
        result
            .steps
            .iter()
            .rev()
            .find(|s| !s.cleanup && s.index == step)
    };
    let stopped_at = match &result.verdict {
        Verdict::Fail { step, message } => {
            match record(*step) {
                Some(s) => {
                    let prefix = format!("step {} ({}): ", step + 1, s.name);
                    if !message.starts_with(&prefix) {
                        problems.push(format!(
                            "{trial}: message does not start with {prefix:?}: {message:?}"
                        ));
                    }
                    if s.failed.is_empty() {
                        problems.push(format!(
                            "{trial}: failing step {step} lists no failed check"
                        ));
                    }
                    for check in &s.failed {
                        if !message.contains(check.as_str()) {
                            problems.push(format!(
                                "{trial}: message omits the failed check {check:?}: {message:?}"
                            ));
                        }
                    }
                }
                None => problems.push(format!("{trial}: failing step {step} did not run")),
            }
            Some(*step)
        }
        Verdict::Error { step, message } => {
            // The step that could not run says so in the summary (`[ERROR]`, `could not run`),
            // and the verdict names it as a failure does: `step N (name): <error>`.
            let named = |s: &authconform::exec::StepResult| {
                s.error
                    .as_ref()
                    .map(|e| format!("step {} ({}): {e}", s.index + 1, s.name))
            };
            if let Some(step) = step
                && record(*step).and_then(named).as_ref() != Some(message)
            {
                problems.push(format!(
                    "{trial}: step {step} does not record the error {message:?}:\n{}",
                    result.step_summary()
                ));
            }
            *step
        }
        _ => None,
    };
    let last_ran = result.steps.iter().rfind(|s| !s.cleanup).map(|s| s.index);
    if let Some(step) = stopped_at
        && last_ran != Some(step)
    {
        problems.push(format!(
            "{trial}: stopped at step {step} but step {last_ran:?} ran last"
        ));
    }
    let text = format!("{:?}\n{}", result.verdict, result.step_summary());
    for secret in secrets {
        if text.contains(secret.as_str()) {
            problems.push(format!("{trial}: a secret value leaked into {text:?}"));
        }
    }
    problems
}

/// Checks `result` against a row of a table.
pub fn check_case(
    result: &ScenarioResult,
    kind: Kind,
    step: usize,
    fragments: &[&str],
) -> Option<String> {
    let trial = &result.trial_name;
    let (got_kind, got_step, message) = match &result.verdict {
        Verdict::Pass => (Kind::Pass, 0, ""),
        Verdict::Fail { step, message } => (Kind::Fail, *step, message.as_str()),
        Verdict::Error {
            step: Some(step),
            message,
        } => (Kind::Error, *step, message.as_str()),
        other => {
            return Some(format!(
                "{trial}: expected {kind:?} at step {step}, got {other:?}"
            ));
        }
    };
    if got_kind != kind || got_step != step {
        return Some(format!(
            "{trial}: expected {kind:?} at step {step}, got {:?}\n{}",
            result.verdict,
            result.step_summary()
        ));
    }
    missing_fragment(message, fragments)
        .map(|missing| format!("{trial}: message lacks {missing}: {message:?}"))
}

/// Proves the scenarios of `provider` have teeth: its mock's deviations are exactly those tabled,
/// and with each one switched on (its own thread and runtime, so one deviation's waits never eat
/// into another's windows) the tabled scenarios fail at the tabled step saying the tabled
/// fragments, while every other scenario of the provider still passes; no secret value leaks.
pub fn assert_deviations_caught(provider: &str, table: &[(&str, &[Caught])]) {
    let registry = authconform::mock::builtin();
    let mut known: Vec<&str> = registry
        .get(provider)
        .map(|mock| mock.deviations().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut tabled: Vec<&str> = table.iter().map(|(d, _)| *d).collect();
    known.sort_unstable();
    tabled.sort_unstable();
    assert_eq!(
        tabled, known,
        "the table must list every deviation the `{provider}` mock knows"
    );

    let mut plan = plan(&Path::new(super::ROOT).join("scenarios"), Target::mock());
    plan.scenarios.retain(|s| s.provider == provider);
    assert!(
        !plan.scenarios.is_empty(),
        "no scenarios for provider `{provider}`"
    );
    let secrets = secret_values(&plan.target);
    // A few deviations at a time: all at once, the mock servers' threads of every deviation
    // compete for two cores and a step can outlast its `within` on a loaded machine.
    let mut runs: Vec<BTreeMap<String, ScenarioResult>> = Vec::new();
    for chunk in table.chunks(DEVIATIONS_AT_ONCE) {
        runs.extend(std::thread::scope(|scope| {
            let threads: Vec<_> = chunk
                .iter()
                .map(|(deviation, _)| {
                    let plan = &plan;
                    scope.spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .expect("a runtime")
                            .block_on(run_all(plan, std::slice::from_ref(deviation)))
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a deviation run panicked"))
                .collect::<Vec<_>>()
        }));
    }

    let mut problems = Vec::new();
    for ((deviation, caught_by), results) in table.iter().zip(&runs) {
        for (trial, ..) in caught_by.iter() {
            if !results.contains_key(*trial) {
                problems.push(format!("{deviation}: no scenario `{trial}`"));
            }
        }
        if caught_by.is_empty() {
            problems.push(format!("{deviation}: no scenario is said to catch it"));
        }
        for result in results.values() {
            let expected = caught_by
                .iter()
                .find(|(trial, ..)| *trial == result.trial_name);
            let judged = as_strict(result);
            let problem = match expected {
                Some((_, step, fragments)) => check_case(&judged, Kind::Fail, *step, fragments),
                None => check_case(&judged, Kind::Pass, 0, &[]),
            };
            problems.extend(problem.map(|p| format!("with `{deviation}`: {p}")));
            problems.extend(
                check_shape(result, &secrets)
                    .into_iter()
                    .map(|p| format!("with `{deviation}`: {p}")),
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Returns `result` as a strict run judges it: the mocks implement the suite's assumptions, so
/// against them a difference from one is a failure (as the harness makes it), at the first step
/// holding a note. A scenario citing only `Assumed` requirements catches its deviations this way.
fn as_strict(result: &ScenarioResult) -> ScenarioResult {
    let mut judged = result.clone();
    if let Verdict::DiffersFromAssumption { message } = &result.verdict {
        let step = result
            .steps
            .iter()
            .find(|s| !s.assumed.is_empty())
            .map_or(0, |s| s.index);
        judged.verdict = Verdict::Fail {
            step,
            message: message.clone(),
        };
    }
    judged
}
