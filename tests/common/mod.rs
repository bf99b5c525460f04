//! Running the real `authconform` binary from integration tests.
#![allow(dead_code)] // Each test crate uses its own part of this module.

use std::path::PathBuf;
use std::process::Command;

/// The crate root: the binary's working directory in tests.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_authconform");

/// What one run of the binary printed and wrote.
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The JUnit report of a `run`, or empty.
    pub junit: String,
    /// Where the JUnit report of a `run` was written.
    pub junit_path: PathBuf,
    /// The `--reports` folder of a `run` (evidence.json, summary.md).
    pub reports: PathBuf,
    /// Holds `junit_path` and `reports`: every file a `run` wrote.
    pub dir: PathBuf,
    /// Keeps the report on disk until the run is dropped.
    _dir: tempfile::TempDir,
}

impl Run {
    /// A run that did not happen, for testing what inspects runs.
    pub fn synthetic(stdout: String, stderr: String, junit: String) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        Self {
            code: Some(0),
            stdout,
            stderr,
            junit,
            junit_path: dir.path().join("junit.xml"),
            reports: dir.path().join("reports"),
            dir: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// Everything printed and written, for failure messages.
    pub fn dump(&self) -> String {
        format!(
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- junit.xml ---\n{}",
            self.code, self.stdout, self.stderr, self.junit
        )
    }
}

/// Runs `authconform ARGS` from the crate root, with colours off. For `run`, adds
/// `--reports <tempdir>/reports --junit <tempdir>/junit.xml` (so `--junit` keeps working next to
/// `--reports`) and reads the JUnit report back. A panic in the binary fails the test.
pub fn authconform(args: &[&str]) -> Run {
    authconform_with_env(args, &[])
}

/// Runs `authconform ARGS` as [`authconform`] does, with extra environment variables (a live
/// target's secrets).
pub fn authconform_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let junit_path = dir.path().join("junit.xml");
    let reports = dir.path().join("reports");
    let mut command = Command::new(BIN);
    command.current_dir(ROOT).args(args).env("NO_COLOR", "1");
    command.envs(env.iter().copied());
    if args.first() == Some(&"run") {
        command
            .arg("--reports")
            .arg(&reports)
            .arg("--junit")
            .arg(&junit_path);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        junit: std::fs::read_to_string(&junit_path).unwrap_or_default(),
        junit_path,
        reports,
        dir: dir.path().to_path_buf(),
        _dir: dir,
    };
    assert!(
        !run.stdout.contains("panicked") && !run.stderr.contains("panicked"),
        "authconform {args:?} panicked:\n{}",
        run.dump()
    );
    run
}

/// Reads `evidence.json` from a run's reports folder.
pub fn evidence_text(run: &Run) -> String {
    let path = run.reports.join("evidence.json");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("no evidence at {}: {e}\n{}", path.display(), run.dump()))
}

/// Returns every way `value` departs from `docs/evidence.schema.json` (draft 2020-12).
pub fn evidence_schema_errors(value: &serde_json::Value) -> Vec<String> {
    let path = std::path::Path::new(ROOT).join("docs/evidence.schema.json");
    let text = std::fs::read_to_string(&path).expect("read docs/evidence.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    let validator =
        jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema");
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(20)
        .collect()
}

/// Asserts that `authconform validate --target TARGET --deny-uncovered` accepts a target template
/// with every scenario and spec, and every requirement covered.
pub fn assert_target_validates(target: &str) {
    let run = authconform(&["validate", "--target", target, "--deny-uncovered"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stdout.contains("0 uncovered requirements"),
        "{}",
        run.dump()
    );
}

pub mod verdicts;

/// Parses a target from `yaml` (named `file` in messages) and plans the scenarios under
/// `fixtures` (relative to the crate root) against the repository's specs and built-in mocks;
/// a load error panics with its rendered message.
pub fn fixture_plan(file: &str, yaml: &str, fixtures: &str) -> authconform::Plan {
    let root = std::path::Path::new(ROOT);
    let target = authconform::Target::parse(std::path::Path::new(file), yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    authconform::load_plan(
        &root.join("specs"),
        &root.join(fixtures),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}
