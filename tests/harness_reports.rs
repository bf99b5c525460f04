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

/// Set for a child process of this binary that plays one nextest trial process: the trial it
/// runs (see `trial_processes_under_nextest_write_records_that_merge_into_one_run`).
const TRIAL_PROCESS: &str = "AUTHCONFORM_TEST_TRIAL_PROCESS";

/// A trial process under nextest writes its trial's sealed record, and nothing else, into
/// `DIR/trials/<run-id>/`. Started by the test below as a nextest trial process (this binary
/// with `--exact`, `NEXTEST=1`, `NEXTEST_RUN_ID`, `AUTHCONFORM_REPORTS`); run alone, it plays one
/// in a folder of its own.
#[test]
fn a_trial_process_writes_its_record() {
    let own = tempfile::tempdir().unwrap();
    let (reports, trial, dir) = match std::env::var(TRIAL_PROCESS) {
        Ok(trial) => {
            let dir = std::path::PathBuf::from(std::env::var_os("AUTHCONFORM_REPORTS").unwrap());
            let reports = HarnessReports::for_harness(&dir).expect("trial records under nextest");
            (reports, trial, dir)
        }
        Err(_) => {
            let reports = HarnessReports::trial_records(own.path(), "local-run").unwrap();
            let trial = mock_plan()
                .scenarios
                .iter()
                .map(|s| s.trial_name())
                .find(|t| t.starts_with(FILTER))
                .unwrap();
            (reports, trial, own.path().to_path_buf())
        }
    };
    let plan = mock_plan();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let runner = Arc::new(Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    ));
    let args = Arguments::from_iter(["conformance", "--exact", trial.as_str()]);
    let outcome = run_as_trials(&args, &plan, &runner, runtime.handle(), Some(&reports));
    assert_eq!(outcome.conclusion.num_passed, 1, "{trial}");
    assert!(outcome.reports.is_none());
    let written = outcome
        .trial_records
        .expect("the trial ran")
        .expect("its record is written");
    assert_eq!(written.len(), 1);
    let record = &written[0];
    assert!(
        record.starts_with(dir.join("trials")),
        "{}",
        record.display()
    );
    let bytes = std::fs::read(record).unwrap();
    let verdict = authconform::report::verify::verify(&bytes, None);
    assert_eq!(verdict.exit_code(), 0, "{verdict:?}");
    let report: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(report["scenarios"].as_array().unwrap().len(), 1);
    assert_eq!(report["scenarios"][0]["trial"], trial.as_str());
    // The whole plan's requirements, so the records together give the whole matrix.
    assert_eq!(
        report["requirements"].as_array().unwrap().len(),
        plan.catalogue.requirements.len()
    );
    // No run report, no lock: other trial processes write beside it.
    for name in [
        "junit.xml",
        "evidence.json",
        "summary.md",
        "evidence.html",
        ".authconform.lock",
    ] {
        assert!(!dir.join(name).exists(), "{name}");
    }
}

/// Waits for `child` at most until `deadline`, killing it past that.
fn wait_until(
    mut child: std::process::Child,
    deadline: std::time::Instant,
) -> std::process::Output {
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            let output = child.wait_with_output().unwrap();
            panic!(
                "a trial process did not end in time:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The trials of a filter run as nextest runs them, one process each and all at once, every one
/// writing its record into the same folder; `authconform merge` assembles them into a report
/// that `verify` accepts and whose matrix and scenarios are those of one harness run of the same
/// trials. A record of an earlier test run in the same reports folder stays out.
#[test]
fn trial_processes_under_nextest_write_records_that_merge_into_one_run() {
    let plan = mock_plan();
    let trials: Vec<String> = plan
        .scenarios
        .iter()
        .map(|s| s.trial_name())
        .filter(|t| t.starts_with(FILTER))
        .collect();
    assert!(trials.len() >= 2, "{trials:?}");
    let dir = tempfile::tempdir().unwrap();
    let run_id = "5b1e2f0c-7a8d-4c3b-9e61-0d2a4f6b8c90";
    let earlier_run = "0d9c8b7a-6f5e-4d3c-2b1a-098765432100";
    let me = std::env::current_exe().unwrap();
    let spawn = |trial: &str, run: &str| {
        std::process::Command::new(&me)
            .args([
                "--exact",
                "a_trial_process_writes_its_record",
                "--test-threads",
                "1",
            ])
            .env("NEXTEST", "1")
            .env("NEXTEST_RUN_ID", run)
            .env("AUTHCONFORM_REPORTS", dir.path())
            .env(TRIAL_PROCESS, trial)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut children: Vec<_> = trials.iter().map(|t| spawn(t, run_id)).collect();
    children.push(spawn(&trials[0], earlier_run));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    for child in children {
        let output = wait_until(child, deadline);
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // The child ran the test that writes the record, not nothing.
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("1 passed"),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }

    let folder = dir.path().join("trials").join(run_id);
    let mut records: Vec<std::path::PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    records.sort();
    assert_eq!(records.len(), trials.len(), "{records:?}");
    for (record, trial) in records.iter().zip(&trials) {
        let name = record.file_name().unwrap().to_string_lossy();
        assert!(!name.contains(':') && name.ends_with(".json"), "{name}");
        assert!(
            name.contains(&trial.replace("::", "__")),
            "{name} for {trial}"
        );
    }

    let merged = dir.path().join("merged").join("evidence.json");
    let mut merge = std::process::Command::new(common::BIN);
    merge.arg("merge").args(&records).arg("-o").arg(&merged);
    let output = merge.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verify = std::process::Command::new(common::BIN)
        .arg("verify")
        .arg(&merged)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("intact: {} scenario record(s)", trials.len())),
        "{said}"
    );

    // One harness run of the same trials, in-process, for comparison.
    let single = tempfile::tempdir().unwrap();
    let outcome = run_harness(&plan, &harness_args(&[FILTER]), Some(single.path()));
    assert_eq!(outcome.conclusion.num_passed as usize, trials.len());
    let matrix = |path: &Path| -> (Vec<serde_json::Value>, Vec<(String, String)>) {
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rows = report["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let cited: Vec<_> = r["scenarios"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| (s["trial"].clone(), s["verdict"].clone()))
                    .collect();
                serde_json::json!([r["id"], r["status"], cited])
            })
            .collect();
        (rows, evidence_verdicts(path))
    };
    let (merged_rows, merged_scenarios) = matrix(&merged);
    let (single_rows, single_scenarios) = matrix(&single.path().join("evidence.json"));
    assert_eq!(
        merged_scenarios, single_scenarios,
        "scenarios in plan order"
    );
    assert_eq!(merged_rows, single_rows, "the matrix of one run");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(report["run"]["test_run_id"], run_id);
    assert_eq!(report["run"]["complete"], true);
    assert_eq!(
        common::evidence_schema_errors(&report),
        Vec::<String>::new()
    );

    // The earlier run's record sits in its own folder; given with these, merge refuses it.
    let stale = std::fs::read_dir(dir.path().join("trials").join(earlier_run))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect::<Vec<_>>();
    assert_eq!(stale.len(), 1);
    let output = std::process::Command::new(common::BIN)
        .arg("merge")
        .args(&records)
        .args(&stale)
        .arg("-o")
        .arg(dir.path().join("mixed").join("evidence.json"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!("a trial record of test run {earlier_run}")),
        "{said}"
    );
    assert!(!dir.path().join("mixed").join("evidence.json").exists());
}

/// The conformance harness binary that `cargo test` builds beside this one.
fn conformance_binary() -> std::path::PathBuf {
    let me = std::env::current_exe().unwrap();
    let deps = me.parent().unwrap();
    std::fs::read_dir(deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("conformance-") && p.extension().is_none()
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "no conformance harness in {}: build it with `cargo test --no-run --test conformance`",
                deps.display()
            )
        })
}

/// The real harness as nextest drives it: `--list` prints only the trial list on stdout (nextest
/// parses every line), then a trial run with `--exact` under `NEXTEST=1` writes its record.
#[test]
fn the_harness_binary_lists_cleanly_and_writes_a_trial_record_under_nextest() {
    let harness = conformance_binary();
    let dir = tempfile::tempdir().unwrap();
    let nextest = |args: &[&str]| {
        std::process::Command::new(&harness)
            .args(args)
            .env("NEXTEST", "1")
            .env("NEXTEST_RUN_ID", "list-then-run")
            .env("AUTHCONFORM_REPORTS", dir.path())
            .output()
            .unwrap()
    };
    let listed = nextest(&["--list", "--format", "terse"]);
    assert!(listed.status.success());
    // Listing runs nothing and touches no folder.
    assert!(!dir.path().join("trials").exists());
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(stdout.lines().count() > 10, "{stdout}");
    assert!(
        stdout.lines().all(|l| l.ends_with(": test")),
        "a line nextest cannot parse: {stdout}"
    );
    let trial = stdout
        .lines()
        .map(|l| l.trim_end_matches(": test").rsplit(' ').next().unwrap())
        .find(|t| t.starts_with(FILTER))
        .unwrap()
        .to_owned();
    let ran = nextest(&["--exact", &trial, "--nocapture"]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let folder = dir.path().join("trials").join("list-then-run");
    let records: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let bytes = std::fs::read(&records[0]).unwrap();
    assert_eq!(
        authconform::report::verify::verify(&bytes, None).exit_code(),
        0
    );
    assert!(!dir.path().join("junit.xml").exists());
}
