//! `authconform verify`: checks that an evidence file is byte for byte what a run wrote.
//!
//! The file must parse as [`Evidence`], be in canonical form (re-serializing it gives the same
//! bytes), hold scenario records whose `sha256` match their content, a traceability matrix and
//! totals that agree with those records, and a `manifest.report_sha256` that matches the whole.
//! A changed byte anywhere breaks one of these; each [`Finding`] says which record or field.
//! A merged report (`run.merged_from`) is checked the same way, its matrix by the merged rule of
//! [`merge::requirement_status`], its inputs' slices of records against their totals.

use super::evidence::{
    self, Evidence, SCHEMA_VERSION, ScenarioVerdict, canonical_bytes, report_sha256,
    requirement_status, scenario_sha256,
};
use super::merge;

/// Exit code: the report is intact.
pub const EXIT_INTACT: u8 = 0;
/// Exit code: the report was changed after the run wrote it.
pub const EXIT_TAMPERED: u8 = 1;
/// Exit code: the file cannot be read or is not an evidence report.
pub const EXIT_UNREADABLE: u8 = 2;

/// What the start of every evidence file holds.
const CLAIM: &str = "\"authconform.evidence/";

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every hash matches and the file is canonical.
    Intact {
        /// The report hash, to compare with the one the run published.
        report_sha256: String,
        /// How many scenario records were checked.
        scenarios: usize,
        /// Whether the run was complete.
        complete: bool,
    },
    /// Something changed: one line per finding.
    Tampered(Vec<String>),
    /// Not readable, not JSON, or not an evidence report of a known schema.
    Unreadable(String),
}

impl Verification {
    /// Returns the documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Verification::Intact { .. } => EXIT_INTACT,
            Verification::Tampered(_) => EXIT_TAMPERED,
            Verification::Unreadable(_) => EXIT_UNREADABLE,
        }
    }
}

/// Verifies the bytes of an evidence file; `expected_sha256`, when given, is the report hash
/// published elsewhere (CI log, job summary) that the file must also match.
pub fn verify(bytes: &[u8], expected_sha256: Option<&str>) -> Verification {
    // A file whose start names our schema is evidence, however damaged the rest is.
    let head = &bytes[..bytes.len().min(64)];
    let claims_evidence = head.windows(CLAIM.len()).any(|w| w == CLAIM.as_bytes());
    let tree: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(tree) => tree,
        Err(e) if claims_evidence => {
            return Verification::Tampered(vec![format!("the file is no longer valid JSON: {e}")]);
        }
        Err(e) => return Verification::Unreadable(format!("not JSON: {e}")),
    };
    match tree.get("schema").and_then(|s| s.as_str()) {
        Some(SCHEMA_VERSION) => {}
        Some(other) if other.starts_with("authconform.evidence/") => {
            return Verification::Unreadable(format!(
                "schema `{other}` is not one this authconform reads (`{SCHEMA_VERSION}`)"
            ));
        }
        Some(other) if claims_evidence => {
            return Verification::Tampered(vec![format!(
                "`schema` is `{other}`, expected `{SCHEMA_VERSION}`"
            )]);
        }
        _ => {
            return Verification::Unreadable(
                "not an evidence report: no `schema: authconform.evidence/…`".into(),
            );
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let report: Evidence = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(report) => report,
        Err(e) => {
            return Verification::Tampered(vec![format!(
                "at `{}`: {} (the report does not match its schema)",
                e.path(),
                e.inner()
            )]);
        }
    };
    let mut findings = Vec::new();
    for (i, record) in report.scenarios.iter().enumerate() {
        let actual = scenario_sha256(record);
        if actual != record.sha256 {
            findings.push(format!(
                "scenarios[{i}] (`{}`): content does not match its sha256 (recorded {}, computed {actual})",
                record.trial, record.sha256
            ));
        }
    }
    findings.extend(consistency(&report));
    let actual = report_sha256(&report);
    if actual != report.manifest.report_sha256 {
        findings.push(format!(
            "manifest.report_sha256 does not match the report (recorded {}, computed {actual}){}",
            report.manifest.report_sha256,
            if findings.is_empty() {
                ": a field of `run`, `requirements` or `manifest` changed"
            } else {
                ""
            }
        ));
    }
    if let Some(expected) = expected_sha256
        && !expected.eq_ignore_ascii_case(&report.manifest.report_sha256)
    {
        findings.push(format!(
            "manifest.report_sha256 is {}, not the published {expected}",
            report.manifest.report_sha256
        ));
    }
    let canonical = canonical_bytes(&report);
    if canonical != bytes {
        findings.push(non_canonical(bytes, &canonical));
    }
    if findings.is_empty() {
        Verification::Intact {
            report_sha256: report.manifest.report_sha256,
            scenarios: report.scenarios.len(),
            complete: report.run.complete,
        }
    } else {
        Verification::Tampered(findings)
    }
}

/// Checks what the report derives from its scenario records: totals and the matrix.
fn consistency(report: &Evidence) -> Vec<String> {
    let mut findings = Vec::new();
    let totals = evidence::totals(&report.scenarios);
    if totals != report.run.totals {
        findings.push(format!(
            "run.totals ({:?}) do not count the scenario records ({totals:?})",
            report.run.totals
        ));
    }
    let not_run = report
        .scenarios
        .iter()
        .any(|s| s.verdict == ScenarioVerdict::NotRun);
    if report.run.complete == not_run {
        findings.push(format!(
            "run.complete is {} but {} scenario record is `not-run`",
            report.run.complete,
            if not_run { "a" } else { "no" }
        ));
    }
    // A difference from an assumption is shown by its notes; a pass cannot hold any.
    for (i, scenario) in report.scenarios.iter().enumerate() {
        let notes = scenario.steps.iter().any(|step| !step.assumed.is_empty());
        let differs = scenario.verdict == ScenarioVerdict::DiffersFromAssumption;
        if differs && !notes {
            findings.push(format!(
                "scenarios[{i}] (`{}`) is `differs-from-assumption` but no step holds an `assumed` note",
                scenario.trial
            ));
        } else if scenario.verdict == ScenarioVerdict::Pass && notes {
            findings.push(format!(
                "scenarios[{i}] (`{}`) is `pass` but a step holds an `assumed` note",
                scenario.trial
            ));
        }
        // A waived record names its waiver and keeps its failure; no other record has one.
        let waived = scenario.verdict == ScenarioVerdict::Waived;
        match (&scenario.waiver, waived) {
            (None, true) => findings.push(format!(
                "scenarios[{i}] (`{}`) is `waived` but has no `waiver`",
                scenario.trial
            )),
            (Some(_), false) => findings.push(format!(
                "scenarios[{i}] (`{}`) has a `waiver` but is `{}`, not `waived`",
                scenario.trial, scenario.verdict
            )),
            (Some(waiver), true) if scenario.message.is_none() => findings.push(format!(
                "scenarios[{i}] (`{}`) is `waived` (a `{}`) but its failure message is missing",
                scenario.trial, waiver.waived_verdict
            )),
            _ => {}
        }
    }
    let merged_from = &report.run.merged_from;
    if !merged_from.is_empty() {
        findings.extend(merged_inputs(report));
    }
    let input_of = merge::inputs_of_records(merged_from);
    let runs = merge::runs_of_inputs(merged_from);
    for (i, requirement) in report.requirements.iter().enumerate() {
        let (citing, status) = if merged_from.is_empty() {
            let refs: Vec<(String, ScenarioVerdict, Option<usize>)> = report
                .scenarios
                .iter()
                .filter(|s| s.requirements.contains(&requirement.id))
                .map(|s| (s.trial.clone(), s.verdict, None))
                .collect();
            let status = requirement_status(refs.iter().map(|(_, v, _)| *v));
            (refs, status)
        } else {
            let (refs, status) =
                merge::matrix_row(&requirement.id, &report.scenarios, &input_of, &runs);
            (
                refs.into_iter()
                    .map(|r| (r.trial, r.verdict, r.input))
                    .collect(),
                status,
            )
        };
        let listed: Vec<(String, ScenarioVerdict, Option<usize>)> = requirement
            .scenarios
            .iter()
            .map(|s| (s.trial.clone(), s.verdict, s.input))
            .collect();
        if citing != listed {
            findings.push(format!(
                "requirements[{i}] (`{}`).scenarios are {:?}, but the scenario records citing it say {:?}",
                requirement.id,
                in_words(&listed),
                in_words(&citing)
            ));
        }
        if requirement.status != status {
            findings.push(format!(
                "requirements[{i}] (`{}`).status is `{}`, but its scenarios make it `{status}`",
                requirement.id, requirement.status
            ));
        }
    }
    findings
}

/// Shows matrix references as the report writes them: `(trial, verdict, input)`.
fn in_words(refs: &[(String, ScenarioVerdict, Option<usize>)]) -> Vec<(&str, &str, Option<usize>)> {
    refs.iter()
        .map(|(trial, verdict, input)| (trial.as_str(), verdict.as_str(), *input))
        .collect()
}

/// Checks a merged report's `run.merged_from`: the inputs' scenario records follow one another
/// and cover every record once, each input's totals count its records, and the report's test
/// run is the one its inputs share.
fn merged_inputs(report: &Evidence) -> Vec<String> {
    let mut findings = Vec::new();
    let shared = merge::shared_test_run(report.run.merged_from.iter().map(|i| &i.test_run_id));
    if report.run.test_run_id != shared {
        findings.push(format!(
            "run.test_run_id is {:?}, but its inputs make it {shared:?}",
            report.run.test_run_id
        ));
    }
    let mut next = 0;
    for (i, input) in report.run.merged_from.iter().enumerate() {
        if input.first_scenario != next {
            findings.push(format!(
                "run.merged_from[{i}] (`{}`).first_scenario is {}, but the records before it end at {next}",
                input.file, input.first_scenario
            ));
        }
        next = input.first_scenario.saturating_add(input.scenario_count);
        let records = report.scenarios.get(input.first_scenario..next);
        match records {
            Some(records) if evidence::totals(records) == input.totals => {}
            Some(_) => findings.push(format!(
                "run.merged_from[{i}] (`{}`).totals do not count its scenario records",
                input.file
            )),
            None => findings.push(format!(
                "run.merged_from[{i}] (`{}`) claims scenario records past the end",
                input.file
            )),
        }
    }
    if next != report.scenarios.len() {
        findings.push(format!(
            "run.merged_from covers {next} scenario record(s), the report holds {}",
            report.scenarios.len()
        ));
    }
    findings
}

/// Describes the first line where the file departs from its canonical form.
fn non_canonical(bytes: &[u8], canonical: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let expected = String::from_utf8_lossy(canonical);
    let mut expected_lines = expected.split('\n');
    for (n, line) in text.split('\n').enumerate() {
        let want = expected_lines.next();
        if want != Some(line) {
            return format!(
                "line {} is not in canonical form: expected {:?}, found {:?}",
                n + 1,
                excerpt(want.unwrap_or("(end of file)")),
                excerpt(line)
            );
        }
    }
    format!(
        "the file ends early: line {} of the canonical form is missing",
        text.split('\n').count() + 1
    )
}

fn excerpt(line: &str) -> String {
    match line.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}
