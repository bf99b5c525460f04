//! JUnit XML through junit-report: one `<testsuite>` per provider, one `<testcase>` per scenario
//! (name = trial name, classname = `provider.file`), `<failure>` for an unmet expectation,
//! `<error>` for could-not-run, `<skipped>` with its reason, and `<system-out>` holding the
//! requirement ids and the redacted step summary.

use std::collections::BTreeMap;
use std::path::Path;

use junit_report::{Report, TestCase, TestSuite};

use crate::exec::{ScenarioResult, Verdict};
use crate::secret::SecretRegistry;

/// Builds the report XML.
pub fn render(results: &[ScenarioResult], secrets: &SecretRegistry) -> Result<Vec<u8>, String> {
    let clean = |text: &str| xml_safe(&secrets.redact(text));
    let mut suites: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for result in results {
        suites
            .entry(result.provider.as_str())
            .or_default()
            .push(result);
    }
    let mut report = Report::new();
    for (provider, mut members) in suites {
        members.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
        let mut suite = TestSuite::new(&format!("authconform.{provider}"));
        if let Some(first) = members.iter().map(|r| r.started).min() {
            suite.set_timestamp(time::OffsetDateTime::from(first));
        }
        suite.hostname = super::hostname();
        for result in members {
            let time = time::Duration::try_from(result.duration).unwrap_or(time::Duration::ZERO);
            let name = clean(&result.trial_name);
            let mut case = match &result.verdict {
                Verdict::Pass => TestCase::success(&name, time),
                Verdict::Fail { message, .. } => {
                    let mut c = TestCase::failure(
                        &name,
                        time,
                        "expectation-not-met",
                        &clean(first_line(message)),
                    );
                    set_cause(&mut c, &clean(message));
                    c
                }
                Verdict::Error { message, .. } => {
                    let mut c =
                        TestCase::error(&name, time, "could-not-run", &clean(first_line(message)));
                    set_cause(&mut c, &clean(message));
                    c
                }
                Verdict::Skipped { reason } => {
                    TestCase::skipped_with_cause(&name, "skipped", &clean(reason))
                }
            };
            case.set_classname(&clean(&result.classname));
            let out = format!(
                "scenario: {}\ntitle: {}\nrequirements: {}\nverdict: {}\n\n{}",
                result.trial_name,
                result.title,
                result.requirements.join(", "),
                result.verdict.label(),
                result.step_summary()
            );
            case.set_system_out(&clean(&out));
            suite.add_testcase(case);
        }
        report.add_testsuite(suite);
    }
    let mut bytes = Vec::new();
    report
        .write_xml(&mut bytes)
        .map_err(|e| format!("cannot render JUnit XML: {e}"))?;
    Ok(bytes)
}

/// Writes the JUnit report to `path` atomically.
pub fn write(
    path: &Path,
    results: &[ScenarioResult],
    secrets: &SecretRegistry,
) -> Result<(), String> {
    let bytes = render(results, secrets)?;
    super::write_atomically(path, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn set_cause(case: &mut TestCase, cause: &str) {
    use junit_report::TestResult;
    match &mut case.result {
        TestResult::Failure { cause: c, .. } | TestResult::Error { cause: c, .. } => {
            *c = Some(cause.to_owned())
        }
        _ => {}
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Removes characters XML 1.0 cannot carry, and breaks `]]>` (CDATA terminator).
fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|c| {
            matches!(c, '\t' | '\n' | '\r') || (*c >= ' ' && *c != '\u{FFFE}' && *c != '\u{FFFF}')
        })
        .collect::<String>()
        .replace("]]>", "]] >")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::time::{Duration, SystemTime};

    fn result(verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
            trial_name: "demo::basic::x".into(),
            classname: "demo.basic".into(),
            provider: "demo".into(),
            id: "x".into(),
            title: "t".into(),
            requirements: vec!["DEMO-BASIC-01".into()],
            verdict,
            steps: vec![],
            started: SystemTime::now(),
            duration: Duration::from_millis(5),
        }
    }

    #[test]
    fn failure_and_error_are_different_elements_and_secrets_are_redacted() {
        let secrets = SecretRegistry::new();
        secrets.register(&Secret::new("password".parse().unwrap(), "CANARY-junit-pw"));
        let results = vec![
            result(Verdict::Fail {
                step: 0,
                message: "got CANARY-junit-pw\x01 ]]> end".into(),
            }),
            result(Verdict::Error {
                step: None,
                message: "mock did not start".into(),
            }),
            result(Verdict::Skipped {
                reason: "no provider".into(),
            }),
        ];
        let xml = String::from_utf8(render(&results, &secrets).unwrap()).unwrap();
        assert!(
            xml.contains("<failure type=\"expectation-not-met\""),
            "{xml}"
        );
        assert!(xml.contains("<error type=\"could-not-run\""), "{xml}");
        assert!(
            xml.contains("<skipped type=\"skipped\" message=\"no provider\""),
            "{xml}"
        );
        assert!(!xml.contains("CANARY-junit-pw"), "{xml}");
        assert!(xml.contains("[redacted:password]"), "{xml}");
        assert!(!xml.contains('\x01'));
    }
}
