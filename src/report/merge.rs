//! `authconform merge`: one verifiable evidence report from the reports of several runs (CI
//! shards, `--filter` halves, runs from two network places).
//!
//! Every input must verify on its own, be of this schema version, come from the same
//! authconform version and agree on the requirements and the content of every spec and scenario
//! file they share; targets, hosts and selections may differ. Scenario records are kept byte for
//! byte (their hashes still match the input's), input after input; the traceability matrix and
//! the totals are derived again from them, and the result is sealed as a run's report is, so
//! `authconform verify` checks it the same way.

use std::collections::BTreeMap;

use super::evidence::{
    self, Clock, Evidence, InputFile, Manifest, MergedInput, RequirementRecord, RequirementStatus,
    RunInfo, SCHEMA_VERSION, ScenarioRef, ScenarioVerdict, TargetInfo, TlsObserved,
};
use super::verify::{Verification, verify};

/// One report to merge: the name it is known by (its path as given) and its bytes.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as given on the command line; recorded in `run.merged_from[].file`.
    pub file: String,
    /// The file's bytes, exactly as read.
    pub bytes: Vec<u8>,
}

/// Returns the status of a requirement in a merged report from the verdicts of the scenarios
/// citing it, grouped by run (an input report, or every trial record of one test run):
/// `conflict` when one run verified it and another failed it; else `failed` when one failed it;
/// else `verified` when one verified it (an error, skip or interruption elsewhere does not undo
/// that); else what all the verdicts together make it.
pub fn requirement_status(verdicts_by_run: &[Vec<ScenarioVerdict>]) -> RequirementStatus {
    let per_run: Vec<RequirementStatus> = verdicts_by_run
        .iter()
        .filter(|verdicts| !verdicts.is_empty())
        .map(|verdicts| evidence::requirement_status(verdicts.iter().copied()))
        .collect();
    match (
        per_run.contains(&RequirementStatus::Verified),
        per_run.contains(&RequirementStatus::Failed),
    ) {
        (true, true) => RequirementStatus::Conflict,
        (false, true) => RequirementStatus::Failed,
        (true, false) => RequirementStatus::Verified,
        (false, false) => evidence::requirement_status(verdicts_by_run.iter().flatten().copied()),
    }
}

/// Merges `inputs` into one sealed report, or says which input cannot be merged and why.
pub fn merge(inputs: &[Input]) -> Result<Evidence, String> {
    let mut reports: Vec<(&Input, Evidence)> = Vec::new();
    for input in inputs {
        let report = read(input)?;
        if let Some((earlier, _)) = reports
            .iter()
            .find(|(_, r)| r.manifest.report_sha256 == report.manifest.report_sha256)
        {
            return Err(format!(
                "{}: is the same report as {} (report sha256 {}): its scenarios would count twice",
                input.file, earlier.file, report.manifest.report_sha256
            ));
        }
        reports.push((input, report));
    }
    let Some((first_input, first)) = reports.first() else {
        return Err("no report to merge".into());
    };
    for (input, report) in &reports[1..] {
        if report.run.tool_version != first.run.tool_version {
            return Err(format!(
                "{}: written by authconform {}, but {} by {}: merge reports of one authconform version",
                input.file, report.run.tool_version, first_input.file, first.run.tool_version
            ));
        }
    }
    // Trial records of two test runs (a folder holding an earlier run's records) would make one
    // run of two.
    let mut test_runs = reports
        .iter()
        .filter_map(|(input, r)| Some((input, r.run.test_run_id.as_deref()?)));
    if let Some((first_trial, first_run)) = test_runs.next()
        && let Some((input, run)) = test_runs.find(|(_, run)| run != &first_run)
    {
        return Err(format!(
            "{}: a trial record of test run {run}, but {} is one of test run {first_run}: merge the records of one test run (DIR/trials/<run-id>/*.json)",
            input.file, first_trial.file
        ));
    }
    check_shared_inputs(&reports)?;
    let requirements = catalogue(&reports)?;

    let mut scenarios = Vec::new();
    let mut merged_from = Vec::new();
    for (input, report) in &reports {
        merged_from.push(MergedInput {
            file: input.file.clone(),
            report_sha256: report.manifest.report_sha256.clone(),
            git_commit: report.run.git_commit.clone(),
            host: report.run.host.clone(),
            started: report.run.started.clone(),
            finished: report.run.finished.clone(),
            complete: report.run.complete,
            target: report.run.target.clone(),
            totals: report.run.totals.clone(),
            test_run_id: report.run.test_run_id.clone(),
            first_scenario: scenarios.len(),
            scenario_count: report.scenarios.len(),
        });
        scenarios.extend(report.scenarios.iter().cloned());
    }
    let input_of = inputs_of_records(&merged_from);
    let runs = runs_of_inputs(&merged_from);
    let requirements = requirements
        .into_values()
        .map(|mut row| {
            let (refs, status) = matrix_row(&row.id, &scenarios, &input_of, &runs);
            row.scenarios = refs;
            row.status = status;
            row
        })
        .collect();

    let runs: Vec<&RunInfo> = reports.iter().map(|(_, r)| &r.run).collect();
    let incomplete: Vec<String> = reports
        .iter()
        .filter(|(_, r)| !r.run.complete)
        .map(|(input, r)| {
            let why = r.run.incomplete_reason.as_deref().unwrap_or("incomplete");
            format!("{}: {why}", input.file)
        })
        .collect();
    let mut files: Vec<InputFile> = Vec::new();
    for file in runs.iter().flat_map(|r| &r.inputs) {
        if !files.contains(file) {
            files.push(file.clone());
        }
    }
    let merged = Evidence {
        schema: SCHEMA_VERSION.to_owned(),
        run: RunInfo {
            tool: first.run.tool.clone(),
            tool_version: first.run.tool_version.clone(),
            git_commit: common(runs.iter().map(|r| &r.git_commit))
                .cloned()
                .flatten(),
            host: distinct(runs.iter().map(|r| r.host.as_str())).join(", "),
            started: runs
                .iter()
                .map(|r| r.started.clone())
                .min()
                .unwrap_or_default(),
            finished: runs
                .iter()
                .map(|r| r.finished.clone())
                .max()
                .unwrap_or_default(),
            complete: incomplete.is_empty(),
            incomplete_reason: (!incomplete.is_empty()).then(|| incomplete.join("; ")),
            target: merged_target(&runs),
            inputs: files,
            totals: evidence::totals(&scenarios),
            strict: merged_strict(&runs),
            test_run_id: shared_test_run(merged_from.iter().map(|i| &i.test_run_id)),
            merged_from,
            waiver_problems: {
                let mut problems: Vec<evidence::WaiverProblemRecord> = Vec::new();
                for problem in runs.iter().flat_map(|r| &r.waiver_problems) {
                    if !problems.contains(problem) {
                        problems.push(problem.clone());
                    }
                }
                problems
            },
        },
        requirements,
        scenarios,
        manifest: Manifest {
            algorithm: "sha256".to_owned(),
            report_sha256: String::new(),
        },
    };
    // The records are sealed already; sealing again recomputes their hashes unchanged and fills
    // in the report hash.
    Ok(evidence::seal(merged))
}

/// Returns whether a merged run is strict: when any input was (a difference from an assumption
/// failed that run, and merging must not turn it into a pass); unknown when no input says.
fn merged_strict(runs: &[&RunInfo]) -> Option<bool> {
    let recorded: Vec<bool> = runs.iter().filter_map(|r| r.strict).collect();
    (!recorded.is_empty()).then(|| recorded.contains(&true))
}

/// Returns, for each scenario record of a merged report, the index of the input it came from.
pub fn inputs_of_records(merged_from: &[MergedInput]) -> Vec<usize> {
    merged_from
        .iter()
        .enumerate()
        .flat_map(|(i, input)| std::iter::repeat_n(i, input.scenario_count))
        .collect()
}

/// Returns, for each input of a merged report, the run it belongs to: trial records of one test
/// run (the same `test_run_id`) are one run, any other input is a run of its own. Runs are
/// numbered by their first input.
pub fn runs_of_inputs(merged_from: &[MergedInput]) -> Vec<usize> {
    merged_from
        .iter()
        .enumerate()
        .map(|(i, input)| match &input.test_run_id {
            Some(id) => merged_from
                .iter()
                .position(|other| other.test_run_id.as_ref() == Some(id))
                .unwrap_or(i),
            None => i,
        })
        .collect()
}

/// Returns the test run every input is a trial record of, when they all share one.
pub fn shared_test_run<'a>(
    mut ids: impl Iterator<Item = &'a Option<String>> + Clone,
) -> Option<String> {
    let first = ids.clone().next()?.clone()?;
    ids.all(|id| id.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// Derives a merged matrix row: the records citing `id`, marked with their input, and its
/// status, the verdicts grouped by the run (`runs`, per input) they come from.
pub fn matrix_row(
    id: &str,
    scenarios: &[evidence::ScenarioRecord],
    input_of: &[usize],
    runs: &[usize],
) -> (Vec<ScenarioRef>, RequirementStatus) {
    let mut refs = Vec::new();
    let mut by_run: Vec<Vec<ScenarioVerdict>> = vec![Vec::new(); runs.len()];
    for (record, &input) in scenarios.iter().zip(input_of) {
        if record.requirements.iter().any(|r| r == id) {
            refs.push(ScenarioRef {
                trial: record.trial.clone(),
                verdict: record.verdict,
                input: Some(input),
            });
            if let Some(verdicts) = runs.get(input).and_then(|&run| by_run.get_mut(run)) {
                verdicts.push(record.verdict);
            }
        }
    }
    let status = requirement_status(&by_run);
    (refs, status)
}

/// Verifies and parses one input; a merged report is refused (merge its inputs instead: its
/// records would lose which run they came from).
fn read(input: &Input) -> Result<Evidence, String> {
    match verify(&input.bytes, None) {
        Verification::Intact { .. } => {}
        Verification::Tampered(findings) => {
            return Err(format!(
                "{}: does not verify (`authconform verify` finds it tampered): {}",
                input.file,
                findings.join("; ")
            ));
        }
        Verification::Unreadable(why) => return Err(format!("{}: {why}", input.file)),
    }
    let report: Evidence = serde_json::from_slice(&input.bytes)
        .map_err(|e| format!("{}: not an evidence report: {e}", input.file))?;
    if !report.run.merged_from.is_empty() {
        return Err(format!(
            "{}: is itself a merged report; merge the reports it lists in run.merged_from instead",
            input.file
        ));
    }
    Ok(report)
}

/// Checks that a spec or scenario file two inputs both loaded has the same content in both: the
/// same trial must mean the same scenario. The first of `run.inputs` is the run's target, which
/// may differ.
fn check_shared_inputs(reports: &[(&Input, Evidence)]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (input, report) in reports {
        for file in report.run.inputs.iter().skip(1) {
            match seen.get(file.path.as_str()) {
                Some((sha256, earlier)) if *sha256 != file.sha256 => {
                    return Err(format!(
                        "{}: loaded `{}` with sha256 {}, but {earlier} loaded it with sha256 {sha256}: merge runs of the same specs and scenarios",
                        input.file, file.path, file.sha256
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(&file.path, (&file.sha256, &input.file));
                }
            }
        }
    }
    Ok(())
}

/// Collects every requirement of every input, by id; the same id must be stated the same way.
fn catalogue(
    reports: &[(&Input, Evidence)],
) -> Result<BTreeMap<String, RequirementRecord>, String> {
    let mut rows: BTreeMap<String, (RequirementRecord, &str)> = BTreeMap::new();
    for (input, report) in reports {
        for row in &report.requirements {
            match rows.get(&row.id) {
                Some((earlier, file))
                    if (
                        &earlier.provider,
                        &earlier.statement,
                        &earlier.source,
                        &earlier.kind,
                    ) != (&row.provider, &row.statement, &row.source, &row.kind) =>
                {
                    return Err(format!(
                        "{}: requirement `{}` is stated differently than in {file}: merge runs of the same specs",
                        input.file, row.id
                    ));
                }
                Some(_) => {}
                None => {
                    rows.insert(row.id.clone(), (row.clone(), &input.file));
                }
            }
        }
    }
    Ok(rows.into_iter().map(|(id, (row, _))| (id, row)).collect())
}

/// The target of a merged report: the inputs' common target, or, where they differ, every name
/// joined with ` + `, clock `mixed` when the clocks differ, and for a host or source that differs
/// every value joined with ` | ` (each input's own target is in `run.merged_from`).
fn merged_target(runs: &[&RunInfo]) -> TargetInfo {
    if let Some(same) = common(runs.iter().map(|r| &r.target)) {
        return same.clone();
    }
    let join = |values: Vec<&str>, separator: &str| distinct(values.into_iter()).join(separator);
    let mut hosts: BTreeMap<String, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    let mut sources: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut allow_plain_http: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut defaulted: BTreeMap<String, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    let mut tls: BTreeMap<String, BTreeMap<String, Vec<&TlsObserved>>> = BTreeMap::new();
    for target in runs.iter().map(|r| &r.target) {
        for (provider, hosts) in &target.tls {
            for (host, observed) in hosts {
                tls.entry(provider.clone())
                    .or_default()
                    .entry(host.clone())
                    .or_default()
                    .push(observed);
            }
        }
        for (provider, values) in &target.defaulted {
            for (name, value) in values {
                defaulted
                    .entry(provider.clone())
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .push(value);
            }
        }
        for (provider, variables) in &target.hosts {
            for (variable, url) in variables {
                hosts
                    .entry(provider.clone())
                    .or_default()
                    .entry(variable.clone())
                    .or_default()
                    .push(url);
            }
        }
        for (name, source) in &target.sources {
            sources.entry(name.clone()).or_default().push(source);
        }
        for (provider, variables) in &target.allow_plain_http {
            let merged = allow_plain_http.entry(provider.clone()).or_default();
            for variable in variables {
                if !merged.contains(variable) {
                    merged.push(variable.clone());
                }
            }
        }
    }
    TargetInfo {
        name: join(runs.iter().map(|r| r.target.name.as_str()).collect(), " + "),
        description: Some(format!(
            "merged from {} runs against different targets; each run's target is in run.merged_from",
            runs.len()
        )),
        clock: common(runs.iter().map(|r| &r.target.clock))
            .copied()
            .unwrap_or(Clock::Mixed),
        hosts: hosts
            .into_iter()
            .map(|(provider, variables)| {
                let variables = variables
                    .into_iter()
                    .map(|(variable, urls)| (variable, join(urls, " | ")))
                    .collect();
                (provider, variables)
            })
            .collect(),
        sources: sources
            .into_iter()
            .map(|(name, shown)| (name, join(shown, " | ")))
            .collect(),
        allow_plain_http,
        defaulted: defaulted
            .into_iter()
            .map(|(provider, values)| {
                let values = values
                    .into_iter()
                    .map(|(name, shown)| (name, join(shown, " | ")))
                    .collect();
                (provider, values)
            })
            .collect(),
        propagation: Some(join(
            runs.iter()
                .filter_map(|r| r.target.propagation.as_deref())
                .collect(),
            " | ",
        ))
        .filter(|shown| !shown.is_empty()),
        // A host one run reached over TLS and another did not is the one run's observation; two
        // that saw different sessions show both, each field joined with ` | `.
        tls: tls
            .into_iter()
            .map(|(provider, hosts)| {
                let hosts = hosts
                    .into_iter()
                    .map(|(host, seen)| {
                        let observed = TlsObserved {
                            version: join(seen.iter().map(|s| s.version.as_str()).collect(), " | "),
                            peer_certificate_sha256: join(
                                seen.iter()
                                    .map(|s| s.peer_certificate_sha256.as_str())
                                    .collect(),
                                " | ",
                            ),
                        };
                        (host, observed)
                    })
                    .collect();
                (provider, hosts)
            })
            .collect(),
    }
}

/// Returns the value every item shares, or `None` when they differ (or there is none).
fn common<'a, T: PartialEq + 'a>(mut items: impl Iterator<Item = &'a T>) -> Option<&'a T> {
    let first = items.next()?;
    items.all(|item| item == first).then_some(first)
}

/// Returns the values in first-seen order, each once.
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::evidence::{canonical_bytes, seal, tests::sample};

    fn input(file: &str, report: &Evidence) -> Input {
        Input {
            file: file.into(),
            bytes: canonical_bytes(report),
        }
    }

    use ScenarioVerdict::{Error, Fail, Pass, Skipped};

    /// A complete report whose one scenario cites DEMO-BASIC-01 with `verdict`.
    fn run(host: &str, verdict: ScenarioVerdict) -> Evidence {
        let mut report = sample("bob");
        report.run.host = host.into();
        report.scenarios.truncate(1);
        report.scenarios[0].verdict = verdict;
        report.run.complete = true;
        report.run.incomplete_reason = None;
        report.run.totals = evidence::totals(&report.scenarios);
        report.requirements[0].scenarios[0].verdict = verdict;
        report.requirements[0].status = evidence::requirement_status(std::iter::once(verdict));
        report.requirements[1].scenarios.clear();
        report.requirements[1].status = RequirementStatus::NotVerified;
        seal(report)
    }

    /// The trial record of test run `run_id` for trial `trial` citing DEMO-BASIC-01.
    fn trial_record(run_id: &str, trial: &str, verdict: ScenarioVerdict) -> Evidence {
        let mut record = run("ci-1", verdict);
        record.scenarios[0].trial = trial.into();
        record.requirements[0].scenarios[0].trial = trial.into();
        record.run.test_run_id = Some(run_id.into());
        seal(record)
    }

    #[test]
    fn merged_status_shows_a_conflict_and_keeps_a_verification() {
        use RequirementStatus as S;
        assert_eq!(requirement_status(&[vec![Pass], vec![Fail]]), S::Conflict);
        assert_eq!(requirement_status(&[vec![Pass, Fail], vec![]]), S::Failed);
        assert_eq!(requirement_status(&[vec![Pass], vec![Error]]), S::Verified);
        assert_eq!(requirement_status(&[vec![], vec![Error]]), S::Error);
        assert_eq!(requirement_status(&[vec![Skipped], vec![]]), S::Skipped);
        assert_eq!(requirement_status(&[vec![], vec![]]), S::NotVerified);
    }

    #[test]
    fn trial_records_of_one_test_run_make_the_matrix_of_one_run() {
        let passed = trial_record("run-1", "demo::basic::a", Pass);
        let broken = trial_record("run-1", "demo::basic::b", Error);
        let merged = merge(&[input("t/a.json", &passed), input("t/b.json", &broken)]).unwrap();
        // One run in which one scenario passed and another could not run: `error`, as
        // `authconform run` would say, not `verified` as for two separate runs.
        assert_eq!(merged.requirements[0].status, RequirementStatus::Error);
        assert_eq!(merged.run.test_run_id.as_deref(), Some("run-1"));
        assert_eq!(
            merged.run.merged_from[1].test_run_id.as_deref(),
            Some("run-1")
        );
        assert_eq!(verify(&canonical_bytes(&merged), None).exit_code(), 0);
        // The same two records as reports of separate runs keep the verification.
        let (a, b) = (run("h", Pass), run("h2", Error));
        let separate = merge(&[input("a.json", &a), input("b.json", &b)]).unwrap();
        assert_eq!(separate.requirements[0].status, RequirementStatus::Verified);
        assert_eq!(separate.run.test_run_id, None);
        // A record of an earlier test run is refused, not mixed in.
        let stale = trial_record("run-0", "demo::basic::b", Pass);
        let refused =
            merge(&[input("t/a.json", &passed), input("old/b.json", &stale)]).unwrap_err();
        assert!(
            refused.starts_with("old/b.json: a trial record of test run run-0, but t/a.json"),
            "{refused}"
        );
        // A merged report claiming a test run its inputs do not share does not verify.
        let mut claimed = merged.clone();
        claimed.run.test_run_id = Some("run-2".into());
        let Verification::Tampered(findings) = verify(&canonical_bytes(&seal(claimed)), None)
        else {
            panic!("a wrong test run id must not verify");
        };
        assert!(findings[0].contains("run.test_run_id"), "{findings:?}");
        // Moving a record to another test run changes the rule, and verify re-derives it.
        let mut regrouped = merged;
        regrouped.run.merged_from[1].test_run_id = Some("run-2".into());
        regrouped.run.test_run_id = None;
        let Verification::Tampered(findings) = verify(&canonical_bytes(&seal(regrouped)), None)
        else {
            panic!("a regrouped merge must not verify");
        };
        assert!(findings[0].contains("make it `verified`"), "{findings:?}");
    }

    #[test]
    fn a_merged_report_verifies_and_marks_each_record_with_its_input() {
        let (a, b) = (run("host-a", Pass), run("host-b", Fail));
        let merged = merge(&[input("a.json", &a), input("b.json", &b)]).unwrap();
        assert_eq!(merged.scenarios[0].sha256, a.scenarios[0].sha256);
        assert_eq!(merged.scenarios[1].sha256, b.scenarios[0].sha256);
        assert_eq!(merged.requirements[0].status, RequirementStatus::Conflict);
        let inputs: Vec<Option<usize>> = merged.requirements[0]
            .scenarios
            .iter()
            .map(|s| s.input)
            .collect();
        assert_eq!(inputs, [Some(0), Some(1)]);
        assert_eq!(merged.run.host, "host-a, host-b");
        assert_eq!(merged.run.totals.passed + merged.run.totals.failed, 2);
        let bytes = canonical_bytes(&merged);
        assert_eq!(
            verify(&bytes, None).exit_code(),
            0,
            "{:?}",
            verify(&bytes, None)
        );
        // A status hidden after sealing again is still caught by the derived check.
        let mut hidden = merged.clone();
        hidden.requirements[0].status = RequirementStatus::Failed;
        let Verification::Tampered(findings) = verify(&canonical_bytes(&seal(hidden)), None) else {
            panic!("a hidden conflict must not verify");
        };
        assert!(findings[0].contains("make it `conflict`"), "{findings:?}");
        // Records moved to the other input are caught too.
        let mut moved = merged;
        moved.run.merged_from[0].scenario_count = 0;
        moved.run.merged_from[1].first_scenario = 0;
        moved.run.merged_from[1].scenario_count = 2;
        assert_eq!(verify(&canonical_bytes(&seal(moved)), None).exit_code(), 1);
    }

    #[test]
    fn inputs_that_cannot_be_merged_are_refused_with_the_reason() {
        let a = run("host-a", Pass);
        let same = merge(&[input("a.json", &a), input("copy.json", &a)]).unwrap_err();
        assert!(
            same.starts_with("copy.json: is the same report as a.json"),
            "{same}"
        );
        let mut newer = run("host-b", Pass);
        newer.run.tool_version = "9.9.9".into();
        let version = merge(&[input("a.json", &a), input("b.json", &seal(newer))]).unwrap_err();
        assert!(version.contains("authconform 9.9.9"), "{version}");
        let mut restated = run("host-b", Pass);
        restated.requirements[0].statement = "another".into();
        let spec = merge(&[input("a.json", &a), input("b.json", &seal(restated))]).unwrap_err();
        assert!(
            spec.contains("`DEMO-BASIC-01` is stated differently"),
            "{spec}"
        );
        let mut bytes = canonical_bytes(&run("host-b", Pass));
        let at = bytes.len() / 2;
        bytes[at] = bytes[at].wrapping_add(1);
        let tampered = Input {
            file: "b.json".into(),
            bytes,
        };
        let refused = merge(&[input("a.json", &a), tampered]).unwrap_err();
        assert!(refused.starts_with("b.json: "), "{refused}");
        let merged = merge(&[input("a.json", &a), input("b.json", &run("h", Fail))]).unwrap();
        let nested = merge(&[input("m.json", &merged), input("a.json", &a)]).unwrap_err();
        assert!(nested.contains("is itself a merged report"), "{nested}");
    }

    #[test]
    fn differing_targets_are_all_named() {
        let a = run("host-a", Pass);
        let mut b = run("host-b", Pass);
        b.run.target.name = "live".into();
        b.run.target.clock = Clock::Real;
        b.run
            .target
            .sources
            .insert("office".into(), "bind 10.0.0.1".into());
        let merged = merge(&[input("a.json", &a), input("b.json", &seal(b))]).unwrap();
        assert_eq!(merged.run.target.name, "mock + live");
        assert_eq!(merged.run.target.clock, Clock::Mixed);
        assert_eq!(merged.run.target.sources["office"], "bind 10.0.0.1");
        assert_eq!(merged.run.merged_from[1].target.name, "live");
    }
}
