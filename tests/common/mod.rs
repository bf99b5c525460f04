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

/// The Jenkins JUnit schema the JUnit reports follow.
pub const JUNIT_XSD: &str = "tests/fixtures/junit/jenkins-junit-10.xsd";

/// Validates the JUnit report of `run` against [`JUNIT_XSD`] with `xmllint`, which must be
/// installed (tests calling this are `#[ignore]`d with that reason; `.ci/run` installs it).
pub fn assert_junit_schema_valid(run: &Run) {
    let output = match Command::new("xmllint")
        .current_dir(ROOT)
        .args(["--noout", "--schema", JUNIT_XSD])
        .arg(&run.junit_path)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`xmllint` is not on PATH, so the JUnit report cannot be validated against \
             {JUNIT_XSD}: run `apt-get install libxml2-utils` (the project's .ci/run installs it)"
        ),
        Err(e) => panic!("cannot run xmllint: {e}"),
    };
    assert!(
        output.status.success(),
        "the JUnit report does not validate against {JUNIT_XSD}:\n{}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        run.dump()
    );
}

/// Runs the binary off the runtime's threads, so a mock server on the runtime answers meanwhile.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("the run")
}

/// Reads a file a run wrote, naming it when it cannot.
pub fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

pub mod conformant;
pub mod live_tree;
pub mod verdicts;

/// Parses a target from `yaml` (named `file` in messages) and plans the scenarios under
/// `fixtures` (relative to the crate root) against the repository's specs and built-in mocks;
/// a load error panics with its rendered message.
pub fn fixture_plan(file: &str, yaml: &str, fixtures: &str) -> authconform::Plan {
    let root = std::path::Path::new(ROOT);
    let target = authconform::Target::parse(std::path::Path::new(file), yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    authconform::load_plan(
        runner_specs().path(),
        &root.join(fixtures),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

/// Inputs the runner's own tests supply for the `demo` provider on top of what its spec declares
/// (group, name, description): servers the tests start and key material they hold. The fixture
/// scenarios under `tests/fixtures/` that use them are planned against [`runner_specs`].
pub const RUNNER_INPUTS: &[(&str, &str, &str)] = &[
    (
        "hosts",
        "echo_base",
        "a loopback server the test starts, recording what it receives",
    ),
    ("hosts", "closed_base", "a loopback port nothing listens on"),
    (
        "hosts",
        "second_base",
        "a second misbehaving loopback server",
    ),
    ("hosts", "tls_base", "an https host beside a plain-http one"),
    ("hosts", "auth_base", "a loopback token endpoint"),
    ("hosts", "as_base", "a loopback authorization server"),
    (
        "variables",
        "key_file",
        "a PEM key file, relative to the target's folder",
    ),
    (
        "variables",
        "pause",
        "a wait a scenario takes from the target",
    ),
    (
        "variables",
        "redirect_uri",
        "the redirect URI registered for the client",
    ),
    ("secrets", "signing_key", "an RSA private key (PEM)"),
    ("secrets", "signing_jwk", "an RSA private key (JWK)"),
    (
        "secrets",
        "refresh_token",
        "a refresh token the test seeded",
    ),
    (
        "secrets",
        "auth_code",
        "an authorization code the test seeded",
    ),
    (
        "secrets",
        "pkce_verifier",
        "a PKCE verifier the test seeded",
    ),
];

/// Returns `specs/demo.yaml` with [`RUNNER_INPUTS`] added to its `inputs` (which must end the
/// file), so the runner's tests can supply them.
pub fn runner_demo_spec() -> String {
    let root = std::path::Path::new(ROOT);
    let text = std::fs::read_to_string(root.join("specs/demo.yaml")).expect("read specs/demo.yaml");
    let (head, _) = text
        .split_once("\ninputs:\n")
        .expect("specs/demo.yaml ends with its `inputs`");
    let catalogue = authconform::spec::load_catalogue(&root.join("specs"))
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let (_, demo) = catalogue.spec("demo").expect("a demo spec");
    let inputs = demo.inputs.as_ref().expect("the demo spec declares inputs");
    let mut block = String::from("\ninputs:\n");
    for group in authconform::spec::InputGroup::ALL {
        let declared = inputs
            .group(group)
            .iter()
            .map(|(name, decl)| (name.as_str(), decl.description.as_str()));
        let added = RUNNER_INPUTS
            .iter()
            .filter(|(g, _, _)| *g == group.key())
            .map(|(_, name, description)| (*name, *description));
        let entries: Vec<_> = declared.chain(added).collect();
        if entries.is_empty() {
            continue;
        }
        block.push_str(&format!("  {}:\n", group.key()));
        for (name, description) in entries {
            // A JSON string is a YAML double-quoted scalar.
            block.push_str(&format!("    {name}: {}\n", serde_json::json!(description)));
        }
    }
    format!("{head}{block}")
}

/// Returns a specs folder holding the repository's specs, with [`runner_demo_spec`] as the demo
/// spec. Planning reads it at once, so it may be dropped after `load_plan` returns.
pub fn runner_specs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let specs = std::path::Path::new(ROOT).join("specs");
    for entry in std::fs::read_dir(&specs).expect("read specs/") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, dir.path().join(name)).expect("copy a spec");
    }
    std::fs::write(dir.path().join("demo.yaml"), runner_demo_spec()).expect("write the demo spec");
    dir
}

impl Run {
    /// Every output of a `run` by name: the console streams, the JUnit report, the evidence,
    /// its HTML page and the summary.
    pub fn report_outputs(&self) -> Vec<(&'static str, String)> {
        let report = |file: &str| {
            std::fs::read_to_string(self.reports.join(file)).unwrap_or_else(|e| {
                panic!(
                    "no {file} in {}: {e}\n{}",
                    self.reports.display(),
                    self.dump()
                )
            })
        };
        vec![
            ("stdout", self.stdout.clone()),
            ("stderr", self.stderr.clone()),
            ("junit", self.junit.clone()),
            ("evidence", evidence_text(self)),
            ("html", report("evidence.html")),
            ("summary", report("summary.md")),
        ]
    }

    /// Asserts no output of the run holds any of `needles`, compared in any ASCII case. A
    /// failure names the output and shows the surroundings, the value itself replaced.
    /// Asserts no output holds `canary` nor any value an echoing server saw (more than
    /// `at_least` of them) of 12 characters or more: shorter ones (a code cut to a few
    /// characters) occur by chance in a report.
    pub fn assert_no_output_holds_what_was_seen(
        &self,
        seen: &[String],
        canary: &str,
        at_least: usize,
    ) {
        let mut needles: Vec<String> = seen
            .iter()
            .filter(|v| v.chars().count() >= 12)
            .cloned()
            .collect();
        needles.push(canary.to_owned());
        assert!(
            needles.len() > at_least,
            "the server saw too little: {}",
            needles.len()
        );
        self.assert_no_output_holds(&needles);
    }

    pub fn assert_no_output_holds(&self, needles: &[String]) {
        for (name, text) in self.report_outputs() {
            let lower = text.to_ascii_lowercase();
            for needle in needles {
                let needle = needle.to_ascii_lowercase();
                if let Some(at) = lower.find(&needle) {
                    let before: Vec<char> = lower[..at].chars().rev().take(80).collect();
                    let before: String = before.into_iter().rev().collect();
                    let after: String = lower[at + needle.len()..].chars().take(40).collect();
                    panic!("{name} holds a generated value: …{before}<VALUE>{after}…");
                }
            }
        }
    }
}

/// Asserts `validate` refuses, with a located error containing `expected`, a scenario file of
/// `provider` whose one scenario (tracing `requirement`) has the steps `steps` (YAML lines at
/// the steps' indentation).
pub fn assert_bad_steps(provider: &str, requirement: &str, steps: &str, expected: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(provider)).unwrap();
    std::fs::write(
        dir.path().join(provider).join("prop.yaml"),
        format!(
            "scenarios:\n  - id: bad\n    title: bad\n    requirements: [{requirement}]\n    steps:\n{steps}"
        ),
    )
    .unwrap();
    let run = authconform(&["validate", "--scenarios", &dir.path().display().to_string()]);
    assert_eq!(run.code, Some(2), "{expected}\n{}", run.dump());
    assert!(
        run.stderr.contains(expected) && run.stderr.contains("prop.yaml:"),
        "{expected}\n{}",
        run.dump()
    );
}
