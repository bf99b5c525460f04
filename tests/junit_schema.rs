//! JUnit validity: runs the real `authconform` binary and validates each JUnit report it writes
//! against the Jenkins JUnit schema (`tests/fixtures/junit/jenkins-junit-10.xsd`) with `xmllint`
//! (Debian package `libxml2-utils`). The tests are `#[ignore]`d with that reason, so a machine with
//! only the Rust toolchain passes `cargo test` and lists them as ignored; `.ci/run` installs
//! xmllint and runs them with `--include-ignored`, where a missing xmllint fails them: they never
//! pass unchecked.
//!
//! It also reads the XML with plain string checks (no XML crate): one `<testcase>` per scenario
//! that `authconform list` lists, `classname` = `<provider>.<file>` and `name` = the scenario id
//! (unique together), suite `skipped` counts and wall times, and the verdict
//! elements: `<failure>` for an unmet expectation, `<error>` for a scenario that could not run
//! (DNS failure), `<skipped>` with its reason. The failing and skipping runs use fixtures under
//! `tests/fixtures/canary/`, one with markup, `]]>` and control characters in its messages.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{ROOT, Run, assert_junit_schema_valid, authconform};

/// The schema every report must satisfy.
use common::JUNIT_XSD as XSD;

/// Arguments selecting the canary target and the failing fixture scenarios.
const FAILING: &[&str] = &[
    "--target",
    "tests/fixtures/canary/target.yaml",
    "--specs",
    "specs",
    "--scenarios",
    "tests/fixtures/canary/scenarios",
];
/// Arguments selecting a target that configures no provider (every scenario skipped).
const SKIPPING: &[&str] = &["--target", "tests/fixtures/canary/target-no-providers.yaml"];

/// Runs `authconform run <args>` and requires the JUnit report it must write; returns the run
/// and how long it took.
fn run(args: &[&str]) -> (Run, Duration) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let run = authconform(&all);
    let elapsed = started.elapsed();
    assert!(
        run.junit_path.is_file(),
        "no JUnit report at {}\n{}",
        run.junit_path.display(),
        run.dump()
    );
    (run, elapsed)
}

/// Returns the trial names `authconform list <args>` prints, one per line.
fn listed(args: &[&str]) -> Vec<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    let listing = authconform(&all);
    assert_eq!(
        listing.code,
        Some(0),
        "authconform list failed\n{}",
        listing.dump()
    );
    let names: Vec<String> = listing
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(": ")
                .unwrap_or_else(|| panic!("unexpected list line `{l}`"))
                .0
                .to_owned()
        })
        .collect();
    assert!(!names.is_empty(), "authconform list printed nothing");
    names
}

/// Resolves the five predefined XML entities.
fn xml_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in a start tag (`<tag a="…" …>`), entities resolved.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(xml_unescape(&tag[start..end]))
}

/// One `<testcase>`: its start tag and its content (empty when self-closing).
struct Case {
    /// The trial name `provider::file::id`, from `classname` (`provider.file`) and the case's
    /// own `name` (the scenario id, checked not to repeat the classname).
    name: String,
    classname: String,
    content: String,
}

/// The start tag of the first `<element ` in `xml`, without the final `>`.
fn start_tag<'a>(xml: &'a str, element: &str) -> Option<&'a str> {
    let open = format!("<{element} ");
    let start = xml.find(&open)?;
    let end = start + xml[start..].find('>')?;
    Some(&xml[start..end])
}

/// The start tags of every `<element ` in `xml`, without their final `>`.
fn start_tags<'a>(xml: &'a str, element: &str) -> Vec<&'a str> {
    let mut tags = Vec::new();
    let mut rest = xml;
    while let Some(tag) = start_tag(rest, element) {
        tags.push(tag);
        // `tag` is a slice of `rest`: continue after it.
        let end = tag.as_ptr() as usize - rest.as_ptr() as usize + tag.len();
        rest = &rest[end..];
    }
    tags
}

/// Splits the report into its test cases.
fn testcases(xml: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<testcase ") {
        rest = &rest[start..];
        let tag_end = rest
            .find('>')
            .expect("an unterminated <testcase> start tag");
        let tag = &rest[..tag_end];
        let id = attribute(tag, "name").expect("a <testcase> without name");
        let classname = attribute(tag, "classname").unwrap_or_default();
        assert!(
            !id.contains("::") && !id.contains(&classname),
            "<testcase name=\"{id}\"> repeats its classname `{classname}`"
        );
        let name = format!("{}::{id}", classname.replace('.', "::"));
        let (content, next) = if tag.ends_with('/') {
            (String::new(), tag_end + 1)
        } else {
            let close = rest
                .find("</testcase>")
                .unwrap_or_else(|| panic!("<testcase name=\"{name}\"> is never closed"));
            (rest[tag_end + 1..close].to_owned(), close)
        };
        cases.push(Case {
            name,
            classname,
            content,
        });
        rest = &rest[next..];
    }
    cases
}

/// Checks the structure common to every report: one case per listed scenario, unique names,
/// `classname` = `provider.file` from the trial name `provider::file::id`, and suite counts that
/// match the cases. Returns the cases by name.
fn assert_structure(run: &Run, elapsed: Duration, list_args: &[&str]) -> Vec<Case> {
    let cases = testcases(&run.junit);
    let names = listed(list_args);
    assert_eq!(
        cases.len(),
        names.len(),
        "one <testcase> per scenario `authconform list` lists ({names:#?})\n{}",
        run.dump()
    );
    let mut unique = BTreeSet::new();
    for case in &cases {
        assert!(
            unique.insert(case.name.as_str()),
            "duplicate <testcase name=\"{}\">\n{}",
            case.name,
            run.dump()
        );
        let parts: Vec<&str> = case.name.split("::").collect();
        assert_eq!(
            parts.len(),
            3,
            "name `{}` is not provider::file::id",
            case.name
        );
        assert_eq!(
            case.classname,
            format!("{}.{}", parts[0], parts[1]),
            "classname of {}",
            case.name
        );
        assert!(
            parts[..2].iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            }),
            "classname `{}` is not <provider>.<file>",
            case.classname
        );
    }
    let listed: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        unique,
        listed,
        "the report's cases are the listed scenarios\n{}",
        run.dump()
    );
    // One suite per provider (`authconform.<provider>`), counting that provider's cases.
    let suites = start_tags(&run.junit, "testsuite");
    assert!(!suites.is_empty(), "no <testsuite>\n{}", run.dump());
    let mut counted = 0;
    for suite in suites {
        let name = attribute(suite, "name").unwrap_or_default();
        let provider = name
            .strip_prefix("authconform.")
            .unwrap_or_else(|| panic!("suite name `{name}` is not authconform.<provider>"));
        let own: Vec<&Case> = cases
            .iter()
            .filter(|c| c.name.starts_with(&format!("{provider}::")))
            .collect();
        let count = |element: &str| {
            own.iter()
                .filter(|c| c.content.contains(&format!("<{element} ")))
                .count()
                .to_string()
        };
        assert_eq!(
            attribute(suite, "tests"),
            Some(own.len().to_string()),
            "{suite}"
        );
        assert_eq!(
            attribute(suite, "failures"),
            Some(count("failure")),
            "{suite}"
        );
        assert_eq!(attribute(suite, "errors"), Some(count("error")), "{suite}");
        assert_eq!(
            attribute(suite, "skipped"),
            Some(count("skipped")),
            "{suite}"
        );
        // Whole seconds, no fraction: `2026-12-01T10:00:00Z`.
        let timestamp = attribute(suite, "timestamp").unwrap_or_default();
        assert!(
            timestamp.len() == 20 && timestamp.ends_with('Z'),
            "timestamp `{timestamp}`"
        );
        // The wall time the suite took, so never more than the whole run's (the sum of its
        // concurrent cases' times is).
        let time: f64 = attribute(suite, "time").unwrap().parse().unwrap();
        assert!(
            time <= elapsed.as_secs_f64(),
            "suite time {time} s, the run took {elapsed:?}\n{suite}"
        );
        counted += own.len();
    }
    assert_eq!(
        counted,
        cases.len(),
        "every case is in its provider's suite"
    );
    cases
}

fn case<'a>(cases: &'a [Case], name: &str) -> &'a Case {
    cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no <testcase name=\"{name}\">"))
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn xmllint_is_installed() {
    match Command::new("xmllint").arg("--version").output() {
        Ok(output) => assert!(output.status.success(), "xmllint --version failed"),
        Err(e) => panic!(
            "`xmllint` is not available ({e}): run `apt-get install libxml2-utils` \
             (the project's .ci/run installs it)"
        ),
    }
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn the_default_run_writes_a_valid_report_with_one_case_per_scenario() {
    let (run, elapsed) = run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_junit_schema_valid(&run);
    let cases = assert_structure(&run, elapsed, &[]);
    for case in &cases {
        // The live-only generic profile has no embedded mock: the default target does not
        // configure it, so its cases are skipped with that reason, never passed.
        if case.name.starts_with("oauth2::") {
            assert!(
                case.content.contains("<skipped")
                    && case
                        .content
                        .contains("does not configure provider `oauth2`"),
                "{} is not skipped for its provider\n{}",
                case.name,
                run.dump()
            );
            continue;
        }
        for element in ["<failure", "<error", "<skipped"] {
            assert!(
                !case.content.contains(element),
                "{} passed, but its case holds {element}\n{}",
                case.name,
                run.dump()
            );
        }
        assert!(
            case.content.contains("<system-out>") && case.content.contains("verdict: pass"),
            "{} has no system-out with its verdict\n{}",
            case.name,
            run.dump()
        );
    }
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn a_failure_is_a_failure_element_and_a_dns_error_an_error_element() {
    let (run, elapsed) = run(FAILING);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_junit_schema_valid(&run);
    let cases = assert_structure(&run, elapsed, FAILING);

    let failed = case(&cases, "demo::leak::password-as-user");
    assert!(
        failed
            .content
            .contains("<failure type=\"expectation-not-met\" message=\""),
        "an unmet expectation is a <failure>\n{}",
        run.dump()
    );
    assert!(!failed.content.contains("<error"), "{}", run.dump());

    let error = case(&cases, "demo::dns::unresolvable-host");
    assert!(
        error
            .content
            .contains("<error type=\"could-not-run\" message=\""),
        "a host that does not resolve is an <error> (if this is a <failure> with a timeout, the \
         resolver hung for 30s)\n{}",
        run.dump()
    );
    assert!(!error.content.contains("<failure"), "{}", run.dump());
    assert!(
        xml_unescape(&error.content).contains("dns error"),
        "{}",
        run.dump()
    );

    // Markup, `]]>` and control characters in title, step name and message stay well-formed
    // (the schema check above parsed them); the message is still there, escaped.
    let markup = case(&cases, "demo::markup::markup-in-messages");
    let tag = start_tag(&markup.content, "failure").expect("a <failure>");
    let message = attribute(tag, "message").expect("a failure message");
    assert!(message.contains("<error> & \\\"x\\\""), "{message}");
    assert!(!markup.content.contains('\x07') && !markup.content.contains('\x01'));
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn skipped_scenarios_are_skipped_elements_with_their_reason() {
    let (run, elapsed) = run(SKIPPING);
    // Skips are no failures, but a run where nothing ran is not green (`--no-tests=fail`).
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(run.stderr.contains("no scenario ran"), "{}", run.dump());
    assert_junit_schema_valid(&run);
    let cases = assert_structure(&run, elapsed, SKIPPING);
    for case in &cases {
        let tag = start_tag(&case.content, "skipped")
            .unwrap_or_else(|| panic!("{} is not <skipped>\n{}", case.name, run.dump()));
        let reason = attribute(tag, "message").unwrap_or_default();
        let provider = case.name.split("::").next().unwrap_or_default();
        assert!(
            reason.contains(&format!("does not configure provider `{provider}`")),
            "{}: skip reason `{reason}`",
            case.name
        );
        assert!(!case.content.contains("<failure") && !case.content.contains("<error"));
    }
}

#[test]
#[ignore = "needs xmllint (Debian libxml2-utils); .ci/run installs it"]
fn the_schema_check_rejects_an_invalid_report() {
    // Proves `assert_schema_valid` can fail: a <testcase> without its required name.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junit.xml");
    std::fs::write(
        &path,
        "<?xml version=\"1.0\"?><testsuites><testsuite name=\"s\" tests=\"1\">\
         <testcase classname=\"demo.x\"/></testsuite></testsuites>",
    )
    .unwrap();
    let output = Command::new("xmllint")
        .current_dir(ROOT)
        .args(["--noout", "--schema", XSD])
        .arg(&path)
        .output()
        .expect("run xmllint (apt-get install libxml2-utils)");
    assert!(
        !output.status.success(),
        "xmllint accepted a testcase without a name"
    );
    assert!(Path::new(ROOT).join(XSD).is_file());
}
