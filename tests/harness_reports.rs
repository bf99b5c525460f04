//! The reports `cargo test --test conformance` writes with `AUTHCONFORM_REPORTS`: the harness's
//! entry point (`run::run_as_trials`, all of `tests/conformance.rs` but reading two variables) run
//! in-process with a filter, its reports checked against what `authconform run` writes for the
//! same filter.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use authconform::exec::MockOptions;
use authconform::run::{HarnessReports, run_as_trials};
use authconform::{Plan, Runner, Target, load_plan};
use libtest_mimic::Arguments;

/// The trials these tests run: a handful, on the fast demo mock.
const FILTER: &str = "demo::basic::";

fn mock_plan() -> Plan {
    let root = Path::new(common::ROOT);
    load_plan(
        &root.join("specs"),
        &root.join("scenarios"),
        Target::mock(),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

fn harness_args(extra: &[&str]) -> Arguments {
    let mut argv = vec!["conformance", "--test-threads", "4"];
    argv.extend_from_slice(extra);
    Arguments::from_iter(argv)
}

/// Runs the harness on `plan` with `args`, writing reports to `dir` when given.
fn run_harness(
    plan: &Plan,
    args: &Arguments,
    dir: Option<&Path>,
) -> authconform::run::TrialsOutcome {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    ));
    let reports = dir.map(|d| HarnessReports::prepare(d).expect("prepare the reports folder"));
    run_as_trials(args, plan, &runner, runtime.handle(), reports.as_ref())
}

/// The trial names (`provider::file::id`) of the JUnit test cases in `xml`, read from each
/// case's `classname` (`provider.file`) and `name` (the scenario id).
fn junit_cases(xml: &str) -> BTreeSet<String> {
    xml.split("<testcase ")
        .skip(1)
        .map(|case| {
            let attribute = |key: &str| {
                let from = case.find(&format!(" {key}=\"")).map_or_else(
                    || case.find(&format!("{key}=\"")).expect(key) + key.len() + 2,
                    |at| at + key.len() + 3,
                );
                let to = from + case[from..].find('"').expect("closing quote");
                case[from..to].to_owned()
            };
            format!(
                "{}::{}",
                attribute("classname").replace('.', "::"),
                attribute("name")
            )
        })
        .collect()
}

/// The text of the JUnit test case for `trial`.
fn junit_case<'x>(xml: &'x str, trial: &str) -> &'x str {
    let (classname, id) = trial.rsplit_once("::").unwrap();
    let classname = classname.replace("::", ".");
    xml.split("<testcase ")
        .find(|c| {
            c.contains(&format!("name=\"{id}\""))
                && c.contains(&format!("classname=\"{classname}\""))
        })
        .unwrap_or_else(|| panic!("no test case for {trial}: {xml}"))
}

/// The trial names the evidence records, with their verdicts.
fn evidence_verdicts(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("evidence.json written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("evidence is JSON");
    json["scenarios"]
        .as_array()
        .expect("scenarios array")
        .iter()
        .map(|s| {
            (
                s["trial"].as_str().unwrap().to_owned(),
                s["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn filtered_harness_run_writes_the_reports_authconform_run_writes() {
    let plan = mock_plan();
    let expected: BTreeSet<String> = plan
        .scenarios
        .iter()
        .map(|s| s.trial_name())
        .filter(|name| name.contains(FILTER))
        .collect();
    assert!(expected.len() >= 2, "the filter selects several trials");
    assert!(expected.len() < plan.scenarios.len());

    let dir = tempfile::tempdir().unwrap();
    let outcome = run_harness(&plan, &harness_args(&[FILTER]), Some(dir.path()));
    assert_eq!(
        outcome.conclusion.num_filtered_out,
        (plan.scenarios.len() - expected.len()) as u64
    );
    assert_eq!(outcome.conclusion.num_failed, 0);
    let written = outcome
        .reports
        .expect("reports written")
        .written
        .expect("no error");
    let names: BTreeSet<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["evidence.html", "evidence.json", "junit.xml", "summary.md"]
            .map(String::from)
            .into()
    );

    // JUnit: exactly the trials that ran.
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(junit_cases(&junit), expected, "{junit}");

    // The evidence verifies, and records the same trials, complete.
    let evidence = dir.path().join("evidence.json");
    let verify = std::process::Command::new(common::BIN)
        .arg("verify")
        .arg(&evidence)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("intact: {} scenario record(s)", expected.len())),
        "{said}"
    );
    assert!(!said.contains("incomplete"), "{said}");
    let from_harness = evidence_verdicts(&evidence);
    assert!(
        from_harness.iter().all(|(_, v)| v == "pass"),
        "{from_harness:?}"
    );

    // `authconform run` with the same filter reports the same trials and verdicts.
    let run = common::authconform(&["run", FILTER]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_eq!(junit_cases(&run.junit), expected);
    assert_eq!(
        evidence_verdicts(&run.reports.join("evidence.json")),
        from_harness
    );
    let summary = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(summary.contains("**Result: PASSED**"), "{summary}");
}

#[test]
fn skipped_trials_are_in_the_reports_as_skips() {
    let mut plan = mock_plan();
    let reason = "target `mock` sets no limit this scenario fits";
    let skipped = plan
        .scenarios
        .iter_mut()
        .find(|s| s.trial_name().contains(FILTER))
        .expect("a trial to skip");
    let mut planned = (**skipped).clone();
    planned.skip = Some(reason.to_owned());
    *skipped = Arc::new(planned);
    let skipped_name = skipped.trial_name();

    let dir = tempfile::tempdir().unwrap();
    let outcome = run_harness(&plan, &harness_args(&[FILTER]), Some(dir.path()));
    assert_eq!(outcome.conclusion.num_ignored, 1);
    outcome
        .reports
        .expect("reports written")
        .written
        .expect("no error");

    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit_cases(&junit).contains(&skipped_name), "{junit}");
    let case = junit_case(&junit, &skipped_name);
    assert!(case.contains("<skipped"), "{case}");
    assert!(case.contains("sets no limit this scenario fits"), "{case}");
    let verdicts = evidence_verdicts(&dir.path().join("evidence.json"));
    assert!(
        verdicts.contains(&(skipped_name.clone(), "skipped".to_owned())),
        "{verdicts:?}"
    );
}

#[test]
fn no_report_without_a_folder_or_when_no_trial_ran() {
    let plan = mock_plan();
    let outcome = run_harness(&plan, &harness_args(&[FILTER]), None);
    assert!(outcome.conclusion.num_passed > 0);
    assert!(outcome.reports.is_none());

    // A filter matching nothing runs nothing: no report claims a run happened.
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_harness(
        &plan,
        &harness_args(&["no-such-trial-anywhere"]),
        Some(dir.path()),
    );
    assert_eq!(outcome.conclusion.num_passed, 0);
    assert!(outcome.reports.is_none());
    assert!(!dir.path().join("junit.xml").exists());
    assert!(!dir.path().join("evidence.json").exists());
}

#[test]
fn the_harness_holds_the_reports_folder_lock() {
    let dir = tempfile::tempdir().unwrap();
    let _held = HarnessReports::prepare(dir.path()).expect("first hold");
    let second = HarnessReports::prepare(dir.path()).expect_err("a second hold is refused");
    assert!(second.contains("another authconform run"), "{second}");
}
