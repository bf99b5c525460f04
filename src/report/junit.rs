//! JUnit XML through junit-report: one `<testsuite>` per provider, one `<testcase>` per scenario
//! (classname = `provider.file`, name = the scenario id, so a CI system showing
//! `classname.name` shows each part once), `<failure>` for an unmet expectation, `<error>` for
//! could-not-run, `<skipped>` with its reason, and `<system-out>` holding the trial name, the
//! requirement ids and the redacted step summary. A scenario that differs from an assumption
//! passes with `status="differs-from-assumption"` on its `<testcase>` (the Jenkins schema has no
//! `<properties>` inside a testcase) and its notes in `<system-out>`; under `--strict` it is a
//! `<failure>` of type `differs-from-assumption`.
//!
//! A waived failure is a passing `<testcase>` with `status="waived"` and, in `<system-out>`,
//! the waiver (owner, expiry, reason) and the failure as it was. Not `<skipped>`: the scenario
//! ran and failed, and several CI tools fold skips away, where an auditor reading the JUnit must
//! see the failure and who accepted it.
//!
//! A suite's `timestamp` is its first scenario's start in whole seconds, and its `time` the wall
//! time from that start to its last scenario's end: scenarios run concurrently, so the sum of
//! their times (what junit-report writes) overstates the run. junit-report can set neither
//! `time` nor `skipped`, so [`render`] sets both on each `<testsuite>` of its output.

use std::collections::BTreeMap;
use std::path::Path;

use junit_report::{Report, TestCase, TestSuite};

use crate::exec::{ScenarioResult, Verdict};
use crate::secret::SecretRegistry;

/// Builds the report XML; `strict` makes a difference from an assumption a `<failure>`.
pub fn render(
    results: &[ScenarioResult],
    strict: bool,
    secrets: &SecretRegistry,
) -> Result<Vec<u8>, String> {
    let clean = |text: &str| xml_safe(&secrets.redact(text));
    let mut suites: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for result in results {
        suites
            .entry(result.provider.as_str())
            .or_default()
            .push(result);
    }
    let mut report = Report::new();
    let mut facts = Vec::new();
    // Per testcase in document order: the status attribute it gets, if any.
    let mut statuses: Vec<Option<&'static str>> = Vec::with_capacity(results.len());
    for (provider, mut members) in suites {
        members.sort_by(|a, b| a.trial_name.cmp(&b.trial_name));
        let mut suite = TestSuite::new(&format!("authconform.{provider}"));
        if let Some(first) = members.iter().map(|r| r.started).min() {
            let timestamp = time::OffsetDateTime::from(first);
            suite.set_timestamp(timestamp.replace_nanosecond(0).unwrap_or(timestamp));
        }
        suite.hostname = super::hostname();
        facts.push(SuiteFacts {
            skipped: members
                .iter()
                .filter(|r| matches!(r.verdict, Verdict::Skipped { .. }))
                .count(),
            wall: wall_time(&members),
        });
        for result in members {
            let time = time::Duration::try_from(result.duration).unwrap_or(time::Duration::ZERO);
            let name = clean(&result.id);
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
                Verdict::DiffersFromAssumption { message } if strict => {
                    let mut c = TestCase::failure(
                        &name,
                        time,
                        DIFFERS,
                        &clean(&format!(
                            "differs from an assumption (--strict): {}",
                            first_line(message)
                        )),
                    );
                    set_cause(&mut c, &clean(message));
                    c
                }
                Verdict::DiffersFromAssumption { .. } | Verdict::Waived { .. } => {
                    TestCase::success(&name, time)
                }
            };
            statuses.push(match result.verdict {
                Verdict::DiffersFromAssumption { .. } => Some(DIFFERS),
                Verdict::Waived { .. } => Some(WAIVED),
                _ => None,
            });
            case.set_classname(&clean(&result.classname));
            let note = match &result.verdict {
                Verdict::DiffersFromAssumption { message } => format!(
                    "authconform.status: {DIFFERS}\nassumption differed{}: {message}\n",
                    if strict {
                        " (--strict: a failure)"
                    } else {
                        " (not a failure without --strict)"
                    }
                ),
                Verdict::Waived { failure, waiver } => format!(
                    "authconform.status: {WAIVED}\n{}\nwaived {}: {}\n",
                    waiver.describe(),
                    failure.label(),
                    failure.message().unwrap_or_default()
                ),
                _ => String::new(),
            };
            let out = format!(
                "scenario: {}\ntitle: {}\nrequirements: {}\nverdict: {}\n{note}\n{}",
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
    set_suite_facts(&bytes, &facts, &statuses)
}

/// The status of a scenario that differs from an assumption, as JUnit carries it.
const DIFFERS: &str = "differs-from-assumption";
/// The status of a scenario whose failure a waiver covers.
const WAIVED: &str = "waived";

/// What junit-report cannot set on a `<testsuite>`.
struct SuiteFacts {
    skipped: usize,
    wall: std::time::Duration,
}

/// Returns the wall time from the first start to the last end among `members`.
fn wall_time(members: &[&ScenarioResult]) -> std::time::Duration {
    let first = members.iter().map(|r| r.started).min();
    let last = members.iter().map(|r| r.started + r.duration).max();
    match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first).unwrap_or_default(),
        _ => std::time::Duration::ZERO,
    }
}

/// Rewrites each `<testsuite>` start tag of junit-report's `xml`, in order, with `skipped` and
/// the wall `time` from `facts`; everything else is copied as it was read.
fn set_suite_facts(
    xml: &[u8],
    facts: &[SuiteFacts],
    statuses: &[Option<&'static str>],
) -> Result<Vec<u8>, String> {
    use quick_xml::events::{BytesStart, Event};
    let error = |e: &dyn std::fmt::Display| format!("cannot render JUnit XML: {e}");
    let text = std::str::from_utf8(xml).map_err(|e| error(&e))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len() + 64 * facts.len()));
    let mut facts = facts.iter();
    let mut rewrite = |start: &BytesStart| -> Result<BytesStart<'static>, String> {
        let fact = facts
            .next()
            .ok_or_else(|| error(&"more suites than rendered"))?;
        let mut tag = BytesStart::new("testsuite");
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| error(&e))?;
            if attribute.key.as_ref() == b"time" {
                tag.push_attribute(("skipped", fact.skipped.to_string().as_str()));
                tag.push_attribute(("time", format!("{:.3}", fact.wall.as_secs_f64()).as_str()));
            } else {
                tag.push_attribute(attribute);
            }
        }
        Ok(tag.into_owned())
    };
    let mut statuses = statuses.iter();
    let mut status = |start: BytesStart<'_>| -> BytesStart<'static> {
        match statuses.next().copied().flatten() {
            Some(word) => {
                let mut tag = start.into_owned();
                tag.push_attribute(("status", word));
                tag
            }
            None => start.into_owned(),
        }
    };
    loop {
        let event = match reader.read_event().map_err(|e| error(&e))? {
            Event::Eof => break,
            Event::Start(start) if start.name().as_ref() == b"testcase" => {
                Event::Start(status(start))
            }
            Event::Empty(start) if start.name().as_ref() == b"testcase" => {
                Event::Empty(status(start))
            }
            Event::Start(start) if start.name().as_ref() == b"testsuite" => {
                Event::Start(rewrite(&start)?)
            }
            Event::Empty(start) if start.name().as_ref() == b"testsuite" => {
                Event::Empty(rewrite(&start)?)
            }
            other => other,
        };
        writer.write_event(event).map_err(|e| error(&e))?;
    }
    Ok(writer.into_inner())
}

/// Writes the JUnit report to `path` atomically.
pub fn write(
    path: &Path,
    results: &[ScenarioResult],
    strict: bool,
    secrets: &SecretRegistry,
) -> Result<(), String> {
    let bytes = render(results, strict, secrets)?;
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

    /// The start tag of the `index`th `<testsuite>`.
    fn suite_tag(xml: &str, index: usize) -> &str {
        let at = xml
            .match_indices("<testsuite ")
            .nth(index)
            .map(|(at, _)| at)
            .unwrap();
        &xml[at..at + xml[at..].find('>').unwrap()]
    }

    #[test]
    fn a_suite_has_its_wall_time_whole_second_timestamp_and_skipped_count() {
        let secrets = SecretRegistry::new();
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_780_000_000_123_456_789);
        let mut results = Vec::new();
        // Three concurrent scenarios of 2 s, 2 s and 1 s: 2.5 s of wall time, not 5 s.
        for (offset_ms, length_ms, verdict) in [
            (0, 2000, Verdict::Pass),
            (500, 2000, Verdict::Pass),
            (
                100,
                1000,
                Verdict::Skipped {
                    reason: "no".into(),
                },
            ),
        ] {
            let mut r = result(verdict);
            r.started = start + Duration::from_millis(offset_ms);
            r.duration = Duration::from_millis(length_ms);
            results.push(r);
        }
        let xml = String::from_utf8(render(&results, false, &secrets).unwrap()).unwrap();
        let tag = suite_tag(&xml, 0);
        assert!(tag.contains(" time=\"2.500\""), "{tag}");
        assert!(tag.contains(" skipped=\"1\""), "{tag}");
        assert!(tag.contains(" tests=\"3\""), "{tag}");
        assert!(tag.contains(" timestamp=\"2026-05-28T20:26:40Z\""), "{tag}");
    }

    #[test]
    fn a_testcase_name_does_not_repeat_its_classname() {
        let xml = String::from_utf8(
            render(&[result(Verdict::Pass)], false, &SecretRegistry::new()).unwrap(),
        )
        .unwrap();
        assert!(
            xml.contains("<testcase name=\"x\" time=\"0.005\" classname=\"demo.basic\">"),
            "{xml}"
        );
        // The trial name stays in the case's output, for a search by it.
        assert!(xml.contains("scenario: demo::basic::x"), "{xml}");
    }

    #[test]
    fn only_the_suite_tags_are_rewritten_not_text_that_looks_like_one() {
        let mut hostile = result(Verdict::Fail {
            step: 0,
            message: "body <testsuite id=\"0\" time=\"9\"> & more".into(),
        });
        hostile.title = "<testsuite time=\"7\">".into();
        let mut other = result(Verdict::Pass);
        other.provider = "zeta".into();
        let xml =
            String::from_utf8(render(&[hostile, other], false, &SecretRegistry::new()).unwrap())
                .unwrap();
        assert_eq!(xml.matches(" skipped=\"0\"").count(), 2, "{xml}");
        assert!(xml.contains("title: <testsuite time=\"7\">"), "{xml}");
        assert!(
            xml.contains("body <testsuite id=\"0\" time=\"9\"> & more"),
            "{xml}"
        );
        assert!(
            xml.contains("<testsuite id=\"1\" name=\"authconform.zeta\""),
            "{xml}"
        );
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
        let xml = String::from_utf8(render(&results, false, &secrets).unwrap()).unwrap();
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
