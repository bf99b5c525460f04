//! `authconform merge` through the real binary, on runs against the embedded mocks: two
//! `--filter` halves merge into one report that `verify` accepts, that validates against the
//! schema and whose matrix and totals cover both halves; a requirement one run verified and
//! another failed is a `conflict`; a tampered input is refused (exit 2); a one-byte edit of the
//! merged report fails `verify`.

use std::path::{Path, PathBuf};

mod common;

use common::{Run, authconform, evidence_schema_errors, evidence_text};

/// Runs `authconform run ARGS` and checks it wrote evidence with the expected exit code.
fn run(args: &[&str], code: i32) -> (Run, serde_json::Value) {
    let mut all = vec!["run", "--quiet"];
    all.extend_from_slice(args);
    let run = authconform(&all);
    assert_eq!(run.code, Some(code), "{}", run.dump());
    let value = serde_json::from_str(&evidence_text(&run)).expect("evidence.json is JSON");
    (run, value)
}

fn evidence_path(run: &Run) -> String {
    run.reports.join("evidence.json").display().to_string()
}

/// Runs `authconform merge INPUTS -o <tempdir>/merged/evidence.json`; returns the merge and the
/// output path (kept as long as the tempdir).
fn merge(inputs: &[&Run], out_dir: &Path) -> (Run, PathBuf) {
    let out = out_dir.join("merged").join("evidence.json");
    let paths: Vec<String> = inputs.iter().map(|r| evidence_path(r)).collect();
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(paths.iter().map(String::as_str));
    let out_text = out.display().to_string();
    args.extend(["-o", out_text.as_str()]);
    (authconform(&args), out)
}

fn verify(file: &Path) -> Run {
    authconform(&["verify", &file.display().to_string()])
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("the merged report is JSON")
}

fn assert_schema_valid(value: &serde_json::Value) {
    let errors = evidence_schema_errors(value);
    assert!(
        errors.is_empty(),
        "the merged report does not match docs/evidence.schema.json:\n  {}",
        errors.join("\n  ")
    );
}

fn requirement<'v>(report: &'v serde_json::Value, id: &str) -> &'v serde_json::Value {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no requirement {id}"))
}

#[test]
fn two_filter_halves_merge_into_one_report_that_verifies() {
    let (first, first_report) = run(&["--filter", "demo::api_key", "--filter", "demo::basic"], 0);
    let (second, second_report) = run(
        &["--filter", "demo::token", "--filter", "demo::allowlist"],
        0,
    );
    let out_dir = tempfile::tempdir().unwrap();
    let (merged_run, out) = merge(&[&first, &second], out_dir.path());
    assert_eq!(merged_run.code, Some(0), "{}", merged_run.dump());
    let verified = verify(&out);
    assert_eq!(verified.code, Some(0), "{}", verified.dump());
    let merged = read_json(&out);
    assert_schema_valid(&merged);

    // Records kept as written, input after input, hashes unchanged.
    let records: Vec<&serde_json::Value> = first_report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second_report["scenarios"].as_array().unwrap())
        .collect();
    let merged_records: Vec<&serde_json::Value> =
        merged["scenarios"].as_array().unwrap().iter().collect();
    assert_eq!(merged_records, records);

    // Totals add up.
    for field in ["passed", "failed", "errors", "skipped", "not_run"] {
        let sum = first_report["run"]["totals"][field].as_u64().unwrap()
            + second_report["run"]["totals"][field].as_u64().unwrap();
        assert_eq!(
            merged["run"]["totals"][field].as_u64(),
            Some(sum),
            "{field}"
        );
    }
    assert!(merged["run"]["totals"]["passed"].as_u64().unwrap() >= 4);

    // Every requirement either half verified is verified, and cited by that half's records.
    for (index, half) in [&first_report, &second_report].into_iter().enumerate() {
        for row in half["requirements"].as_array().unwrap() {
            if row["status"] != "verified" {
                continue;
            }
            let id = row["id"].as_str().unwrap();
            let merged_row = requirement(&merged, id);
            assert_eq!(merged_row["status"], "verified", "{id}: {merged_row}");
            for cited in row["scenarios"].as_array().unwrap() {
                let mut expected = cited.clone();
                expected["input"] = serde_json::json!(index);
                assert!(
                    merged_row["scenarios"]
                        .as_array()
                        .unwrap()
                        .contains(&expected),
                    "{id}: {expected} missing from {merged_row}"
                );
            }
        }
    }
    assert_eq!(requirement(&merged, "DEMO-KEY-01")["status"], "verified");
    assert_eq!(requirement(&merged, "DEMO-TOKEN-01")["status"], "verified");

    // Each input named, with the report hash its run published.
    let merged_from = merged["run"]["merged_from"].as_array().unwrap();
    assert_eq!(merged_from.len(), 2);
    for (input, (run, report)) in merged_from
        .iter()
        .zip([(&first, &first_report), (&second, &second_report)])
    {
        assert_eq!(input["file"].as_str(), Some(evidence_path(run).as_str()));
        assert_eq!(input["report_sha256"], report["manifest"]["report_sha256"]);
    }

    // The summary and the page are beside it and name the merged report's hash.
    let hash = merged["manifest"]["report_sha256"].as_str().unwrap();
    let summary = std::fs::read_to_string(out.with_file_name("summary.md")).unwrap();
    assert!(summary.contains(hash), "{summary}");
    let page = std::fs::read_to_string(out.with_file_name("evidence.html")).unwrap();
    assert!(page.contains("DEMO-TOKEN-01"), "the page lacks the matrix");
    assert!(merged_run.stdout.contains(hash), "{}", merged_run.dump());
}

#[test]
fn the_same_trial_in_two_runs_is_kept_from_each() {
    let (first, _) = run(&["--filter", "demo::basic::valid-credentials"], 0);
    let (second, _) = run(&["--filter", "demo::basic::valid-credentials"], 0);
    let out_dir = tempfile::tempdir().unwrap();
    let (merged_run, out) = merge(&[&first, &second], out_dir.path());
    assert_eq!(merged_run.code, Some(0), "{}", merged_run.dump());
    assert_eq!(verify(&out).code, Some(0));
    let merged = read_json(&out);
    assert_schema_valid(&merged);
    let trials: Vec<&str> = merged["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["trial"].as_str().unwrap())
        .collect();
    assert_eq!(
        trials,
        [
            "demo::basic::valid-credentials",
            "demo::basic::valid-credentials"
        ]
    );
    let row = requirement(&merged, "DEMO-BASIC-01");
    let inputs: Vec<u64> = row["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["input"].as_u64().unwrap())
        .collect();
    assert_eq!(inputs, [0, 1]);
    assert_eq!(row["status"], "verified");
}

#[test]
fn a_requirement_verified_in_one_run_and_failed_in_another_is_a_conflict() {
    let (passing, _) = run(&["--filter", "demo::api_key::valid-key"], 0);
    // A fixture whose expectation the correct mock cannot meet, citing the same requirement.
    let (failing, _) = run(&["--scenarios", "tests/fixtures/merge"], 1);
    let out_dir = tempfile::tempdir().unwrap();
    let (merged_run, out) = merge(&[&passing, &failing], out_dir.path());
    assert_eq!(merged_run.code, Some(0), "{}", merged_run.dump());
    assert!(
        merged_run.stdout.contains("1 requirement(s) in conflict"),
        "{}",
        merged_run.dump()
    );
    assert_eq!(verify(&out).code, Some(0));
    let merged = read_json(&out);
    assert_schema_valid(&merged);
    let row = requirement(&merged, "DEMO-KEY-01");
    assert_eq!(row["status"], "conflict", "{row}");
    assert_eq!(
        row["scenarios"],
        serde_json::json!([
            { "trial": "demo::api_key::valid-key", "verdict": "pass", "input": 0 },
            { "trial": "demo::deviation::reports-mention-invoices", "verdict": "fail", "input": 1 }
        ])
    );
    let summary = std::fs::read_to_string(out.with_file_name("summary.md")).unwrap();
    assert!(summary.contains("`DEMO-KEY-01` (conflict)"), "{summary}");
}

#[test]
fn a_tampered_input_is_refused_naming_the_file() {
    let (first, _) = run(&["--filter", "demo::api_key::valid-key"], 0);
    let (second, _) = run(&["--filter", "demo::basic::valid-credentials"], 0);
    let path = second.reports.join("evidence.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("\"verdict\": \"pass\"", "\"verdict\": \"fail\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&path, edited).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let (merged_run, out) = merge(&[&first, &second], out_dir.path());
    assert_eq!(merged_run.code, Some(2), "{}", merged_run.dump());
    let named = format!("error: {}: does not verify", path.display());
    assert!(merged_run.stderr.contains(&named), "{}", merged_run.dump());
    assert!(!out.exists(), "nothing is written when an input is refused");
}

#[test]
fn a_one_byte_edit_of_the_merged_report_fails_verify() {
    let (first, _) = run(&["--filter", "demo::api_key::valid-key"], 0);
    let (second, _) = run(&["--filter", "demo::basic::valid-credentials"], 0);
    let out_dir = tempfile::tempdir().unwrap();
    let (merged_run, out) = merge(&[&first, &second], out_dir.path());
    assert_eq!(merged_run.code, Some(0), "{}", merged_run.dump());
    let original = std::fs::read(&out).unwrap();
    // One byte in each part the merge derived or added: an input's file name, an input marker
    // of the matrix, the merged totals.
    for needle in ["\"file\": \"/", "\"input\": 1", "\"passed\": 2"] {
        let at = find(&original, needle).unwrap_or_else(|| panic!("no {needle}"));
        let mut edited = original.clone();
        let byte = at + needle.len() - 1;
        edited[byte] = if edited[byte] == b'1' { b'0' } else { b'3' };
        std::fs::write(&out, &edited).unwrap();
        let verified = verify(&out);
        assert_eq!(verified.code, Some(1), "{needle}: {}", verified.dump());
        assert!(verified.stdout.contains("TAMPERED"), "{}", verified.dump());
    }
}

fn find(haystack: &[u8], needle: &str) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

#[test]
fn the_merged_report_is_not_written_over_an_input_runs_reports() {
    let (first, _) = run(&["--filter", "demo::api_key::valid-key"], 0);
    let (second, _) = run(&["--filter", "demo::basic::valid-credentials"], 0);
    let summary = first.reports.join("summary.md");
    let before = std::fs::read(&summary).unwrap();
    let out = first.reports.join("merged.json");
    let merged = authconform(&[
        "merge",
        &evidence_path(&first),
        &evidence_path(&second),
        "-o",
        &out.display().to_string(),
    ]);
    assert_eq!(merged.code, Some(2), "{}", merged.dump());
    assert!(
        merged.stderr.contains("is in the same folder"),
        "{}",
        merged.dump()
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read(&summary).unwrap(), before);
}
