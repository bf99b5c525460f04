//! The evidence report of real runs: `evidence.json` validates against `docs/evidence.schema.json`
//! (draft 2020-12, with the `jsonschema` crate), `authconform verify` passes on it and fails, with
//! exit code 1, after a one-byte edit anywhere it matters (a verdict, the host, the indentation,
//! a hash), exits 2 on a file that is not evidence; `summary.md` sits next to it; the matrix lists
//! every requirement, uncovered and skipped ones included.

use std::path::Path;
use std::process::Command;

mod common;

use common::{BIN, ROOT, Run, authconform, evidence_schema_errors, evidence_text};

/// Validates a run's evidence against the schema and returns it parsed.
fn assert_valid(run: &Run) -> serde_json::Value {
    let text = evidence_text(run);
    let value: serde_json::Value = serde_json::from_str(&text).expect("evidence.json is JSON");
    let errors = evidence_schema_errors(&value);
    assert!(
        errors.is_empty(),
        "evidence.json does not match docs/evidence.schema.json:\n  {}",
        errors.join("\n  ")
    );
    value
}

/// Runs `authconform verify FILE`.
fn verify(file: &Path) -> (Option<i32>, String) {
    let output = Command::new(BIN)
        .current_dir(ROOT)
        .arg("verify")
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .expect("run authconform verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

#[test]
fn the_default_run_writes_evidence_that_validates_and_verifies() {
    let run = authconform(&["run", "--quiet"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        !run.stdout.contains("PASS "),
        "--quiet prints failures only\n{}",
        run.dump()
    );
    let value = assert_valid(&run);
    assert_eq!(value["schema"], "authconform.evidence/1");
    assert_eq!(value["run"]["complete"], true);
    assert_eq!(value["run"]["target"]["name"], "mock");
    let scenarios = value["scenarios"].as_array().unwrap();
    let listed = authconform(&["list"]).stdout.lines().count();
    assert_eq!(scenarios.len(), listed, "one record per selected scenario");
    // Every provider the mock target configures passes; the live-only `oauth2` profile is
    // skipped with the reason, and its requirements are not verified by a skip.
    let live_only = |provider: &serde_json::Value| provider == "oauth2";
    assert!(
        scenarios
            .iter()
            .all(|s| s["verdict"] == "pass" || live_only(&s["provider"])),
        "{}",
        run.dump()
    );
    assert!(
        scenarios
            .iter()
            .filter(|s| live_only(&s["provider"]))
            .all(|s| s["verdict"] == "skipped"
                && s["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("does not configure provider `oauth2`"))),
        "{}",
        run.dump()
    );
    // Source addresses actually used, per request, and the transport outcome class.
    let exchange = &scenarios[0]["steps"][0]["exchanges"][0];
    assert_eq!(exchange["source"], "127.0.0.1", "{exchange}");
    assert_eq!(exchange["outcome"], "response", "{exchange}");
    let requirements = value["requirements"].as_array().unwrap();
    assert!(
        requirements
            .iter()
            .filter(|r| !live_only(&r["provider"]))
            .all(|r| r["status"] == "verified"),
        "every requirement of the mocked providers is covered and passes on the mocks"
    );
    assert!(
        requirements
            .iter()
            .filter(|r| live_only(&r["provider"]))
            .all(|r| r["status"] != "verified"),
        "a skipped scenario verifies nothing"
    );
    let evidence = run.reports.join("evidence.json");
    let (code, text) = verify(&evidence);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("intact"), "{text}");
    let hash = value["manifest"]["report_sha256"].as_str().unwrap();
    assert!(
        run.stdout.contains(hash),
        "the console publishes the report hash"
    );
    let summary = std::fs::read_to_string(run.reports.join("summary.md")).expect("summary.md");
    // Every demo scenario passed, counted from the records, so a new scenario changes no line.
    let demo = scenarios.iter().filter(|s| s["provider"] == "demo").count();
    assert!(
        summary.contains(&format!("| demo | {demo} | 0 | 0 | 0 | 0 | 13 / 13 |")),
        "{summary}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["demo", &demo.to_string(), "0", "0", "0", "13", "/", "13"]),
        "the console's demo row\n{}",
        run.dump()
    );
    assert!(summary.contains(hash), "{summary}");
    // The page renders this run's evidence: its hash, and every scenario's record.
    let page = std::fs::read_to_string(run.reports.join("evidence.html")).expect("evidence.html");
    assert!(page.contains(hash), "the page shows the report hash");
    for scenario in scenarios {
        let trial = scenario["trial"].as_str().unwrap();
        assert!(page.contains(trial), "the page omits {trial}");
    }
    // The JUnit report went where `--junit` said, not into the reports folder.
    assert!(run.junit_path.is_file() && !run.reports.join("junit.xml").exists());
    // Gathered while the scenarios ran: every spec and scenario file, hashed as on disk.
    let inputs = value["run"]["inputs"].as_array().unwrap();
    assert_eq!(inputs[0]["path"], "targets/mock.yaml (embedded)");
    let mut files = yaml_files(&Path::new(ROOT).join("specs"));
    files.extend(yaml_files(&Path::new(ROOT).join("scenarios")));
    assert_eq!(inputs.len(), files.len() + 1, "{inputs:?}");
    for input in &inputs[1..] {
        let path = input["path"].as_str().unwrap();
        let bytes = std::fs::read(Path::new(ROOT).join(path)).expect(path);
        let sha256 = authconform::report::evidence::sha256_hex(&bytes);
        assert_eq!(input["sha256"], sha256, "{path}");
    }
}

/// Returns every `.yaml` file under `dir`.
fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files
}

#[test]
fn verify_fails_after_a_one_byte_edit() {
    let run = authconform(&["run", "--quiet", "demo::basic"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let original = std::fs::read(run.reports.join("evidence.json")).unwrap();
    let text = String::from_utf8(original.clone()).unwrap();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in evidence"))
    };
    // The scenario records follow the matrix, which holds verdicts too.
    let records = at("\n  \"scenarios\": [");
    let record_verdict = records + text[records..].find("\"verdict\": \"pass\"").unwrap();
    // (what, byte offset, new byte, what verify must name)
    let edits = [
        (
            "a scenario verdict",
            record_verdict + 12,
            b'q',
            "scenarios[",
        ),
        (
            "the host",
            at("\"host\": \"") + 9,
            b'#',
            "manifest.report_sha256",
        ),
        (
            "the indentation",
            at("  \"run\"") + 1,
            b'\t',
            "canonical form",
        ),
        (
            "the report hash",
            at("\"report_sha256\": \"") + 18,
            b'x',
            "manifest.report_sha256",
        ),
        (
            "a requirement status",
            at("\"status\": \"verified\"") + 11,
            b'V',
            "requirements[",
        ),
        ("the JSON syntax", text.len() - 2, b']', "valid JSON"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, offset, byte, named) in edits {
        let mut bytes = original.clone();
        assert_ne!(bytes[offset], byte, "{what}: the edit changes the byte");
        bytes[offset] = byte;
        let file = dir.path().join("evidence.json");
        std::fs::write(&file, &bytes).unwrap();
        let (code, out) = verify(&file);
        assert_eq!(code, Some(1), "{what}: tampered\n{out}");
        assert!(
            out.contains("TAMPERED") || out.contains("valid JSON"),
            "{what}\n{out}"
        );
        assert!(out.contains(named), "{what}: names `{named}`\n{out}");
    }
    // The schema check can fail too: an undocumented verdict, an unknown field.
    let mut value: serde_json::Value = serde_json::from_slice(&original).unwrap();
    value["scenarios"][0]["verdict"] = "passed".into();
    value["run"]["operator"] = "someone".into();
    let errors = evidence_schema_errors(&value);
    assert!(errors.len() >= 2, "{errors:?}");
    let not_evidence = dir.path().join("other.json");
    std::fs::write(&not_evidence, "{\"hello\": 1}").unwrap();
    assert_eq!(verify(&not_evidence).0, Some(2));
    assert_eq!(verify(&dir.path().join("missing.json")).0, Some(2));
}

#[test]
fn the_matrix_lists_skipped_and_uncovered_requirements() {
    let run = authconform(&[
        "run",
        "--target",
        "tests/fixtures/canary/target-no-providers.yaml",
        "demo::basic",
    ]);
    // Nothing ran: exit 1 (`--no-tests=fail`), with every report still written.
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(run.stderr.contains("no scenario ran"), "{}", run.dump());
    let value = assert_valid(&run);
    let requirements = value["requirements"].as_array().unwrap();
    let status = |id: &str| {
        requirements
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("{id} not in the matrix"))
    };
    assert_eq!(status("DEMO-BASIC-01"), "skipped");
    // No selected scenario cites the token requirements: listed, not verified.
    let not_verified = requirements
        .iter()
        .filter(|r| r["status"] == "not-verified")
        .count();
    assert!(not_verified > 0, "{value:#}");
    let skipped = &value["scenarios"][0];
    assert_eq!(skipped["verdict"], "skipped");
    assert!(
        skipped["message"]
            .as_str()
            .unwrap()
            .contains("does not configure provider `demo`")
    );
    let summary = std::fs::read_to_string(run.reports.join("summary.md")).unwrap();
    assert!(summary.contains("## Skipped"), "{summary}");
    assert!(
        summary.contains("## Requirements not verified"),
        "{summary}"
    );
    assert_eq!(verify(&run.reports.join("evidence.json")).0, Some(0));
}

/// Reports written before the evidence model was typed (`tests/fixtures/evidence/`: a run on the
/// virtual clock with every verdict and outcome, one on the real clock, their merge with
/// `conflict` rows and the `mixed` clock, and a real run of the demo provider) still verify, and
/// read into the typed model and written again they are the same bytes.
#[test]
fn reports_written_before_the_typed_model_verify_and_round_trip_byte_for_byte() {
    use authconform::report::evidence::{Evidence, canonical_bytes};
    use authconform::report::verify::{Verification, verify};
    let folder = Path::new(ROOT).join("tests/fixtures/evidence");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&folder).expect("the fixture folder") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let verdict = verify(&bytes, None);
        assert!(
            matches!(verdict, Verification::Intact { .. }),
            "{}: {verdict:?}",
            path.display()
        );
        let tree: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            evidence_schema_errors(&tree),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        let report: Evidence = serde_json::from_slice(&bytes).unwrap();
        assert!(
            canonical_bytes(&report) == bytes,
            "{}: re-serialized bytes differ",
            path.display()
        );
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "demo-run.json",
            "merged.json",
            "run-real.json",
            "run-virtual.json"
        ]
    );
}

/// A word the format does not define, in any of the typed fields, makes `verify` say where and
/// which words it expected (exit 1: the file claims to be evidence).
#[test]
fn an_unknown_word_in_a_report_is_a_verify_finding_naming_the_field() {
    let original =
        std::fs::read_to_string(Path::new(ROOT).join("tests/fixtures/evidence/merged.json"))
            .unwrap();
    let cases = [
        (
            "\"verdict\": \"pass\"",
            "\"verdict\": \"passed\"",
            "requirements[0].scenarios[0].verdict",
            "unknown variant `passed`, expected one of `pass`, `fail`, `error`, `skipped`, `differs-from-assumption`, `waived`, `not-run`",
        ),
        (
            "\"status\": \"conflict\"",
            "\"status\": \"disputed\"",
            "requirements[0].status",
            "unknown variant `disputed`",
        ),
        (
            "\"kind\": \"RFC\"",
            "\"kind\": \"Rfc\"",
            "requirements[1].kind",
            "expected one of `Doc`, `RFC`, `Assumed`",
        ),
        (
            "\"clock\": \"mixed\"",
            "\"clock\": \"both\"",
            "run.target.clock",
            "expected one of `virtual`, `real`, `mixed`",
        ),
        (
            "\"outcome\": \"refused\"",
            "\"outcome\": \"rejected\"",
            ".outcome",
            "unknown variant `rejected`",
        ),
        (
            "\"kind\": \"happy\"",
            "\"kind\": \"positive\"",
            "scenarios[0].kind",
            "expected `happy` or `negative`",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (from, to, path, expected) in cases {
        assert!(original.contains(from), "{from}");
        let file = dir.path().join("edited.json");
        std::fs::write(&file, original.replacen(from, to, 1)).unwrap();
        let (code, text) = verify(&file);
        assert_eq!(code, Some(1), "{to}: {text}");
        assert!(text.contains(path), "{to}: {text}");
        assert!(text.contains(expected), "{to}: {text}");
    }
}

/// `build` reads nothing: with the plan's files deleted and no git around, the report holds the
/// facts given, and building twice gives the same bytes.
#[test]
fn evidence_is_built_from_the_facts_given_without_files_or_git() {
    use authconform::exec::MockOptions;
    use authconform::report::evidence::{InputFile, RunContext, RunFacts, build, canonical_bytes};
    use authconform::{Runner, Target, load_plan};
    use std::time::{Duration, SystemTime};

    let tree = tempfile::tempdir().unwrap();
    for folder in ["specs", "scenarios/demo"] {
        std::fs::create_dir_all(tree.path().join(folder)).unwrap();
    }
    for file in ["specs/demo.yaml", "scenarios/demo/basic.yaml"] {
        std::fs::copy(Path::new(ROOT).join(file), tree.path().join(file)).unwrap();
    }
    let plan = load_plan(
        &tree.path().join("specs"),
        &tree.path().join("scenarios"),
        Target::mock(),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let planned = plan.scenarios[0].clone();
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), runner.run(&planned))
            .await
            .expect("a demo scenario ends within 30 s")
    });
    let checkout = tree.path().to_path_buf();
    drop(tree); // the plan's files are gone, and there never was a git checkout
    assert!(!checkout.exists());

    let facts = RunFacts {
        host: "auditor-box".into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        inputs: vec![InputFile {
            path: "specs/demo.yaml".into(),
            sha256: "ef".repeat(32),
        }],
        started: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        finished: SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_002_500),
        working_dir: Some(checkout.clone()),
        test_run_id: None,
    };
    let context = RunContext {
        plan: &plan,
        selected: std::slice::from_ref(&planned),
        results: std::slice::from_ref(&result),
        incomplete_reason: None,
        strict: false,
        waiver_problems: Vec::new(),
    };
    let first = canonical_bytes(&build(&context, &facts, runner.secrets()));
    let second = canonical_bytes(&build(&context, &facts, runner.secrets()));
    assert!(first == second, "two builds from the same inputs differ");
    let report: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(report["run"]["host"], "auditor-box");
    assert_eq!(
        report["run"]["git_commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(report["run"]["inputs"][0]["sha256"], "ef".repeat(32));
    assert_eq!(report["run"]["inputs"].as_array().unwrap().len(), 1);
    assert_eq!(report["run"]["started"], "2027-01-15T08:00:00.000Z");
    assert_eq!(report["run"]["finished"], "2027-01-15T08:00:02.500Z");
    // Paths are shown relative to the working directory the facts name.
    assert_eq!(report["scenarios"][0]["file"], "scenarios/demo/basic.yaml");
    assert_eq!(evidence_schema_errors(&report), Vec::<String>::new());
    let file = checkout.with_extension("json");
    std::fs::write(&file, &first).unwrap();
    let (code, text) = verify(&file);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, Some(0), "{text}");
}
