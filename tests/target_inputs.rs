//! What the target supplies where the docs leave a choice open: paths and methods with spec
//! defaults (recorded in the evidence when used), optional inputs, a signing key in either form,
//! and a propagation bound replacing a documented polling window.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authconform::{Target, load_plan};

/// A spec whose entry point's path and method are target inputs with defaults.
const RELAY_SPEC: &str = "\
provider: relay
title: Relay entry point
requirements:
  - id: RELAY-ENTRY-01
    statement: The entry point answers 200.
    source: relay docs
    kind: Doc
inputs:
  hosts:
    api_base: The relay's base URL
  paths:
    entry_path:
      description: Where the entry point is served
      default: /default/entry
  variables:
    entry_method:
      description: The entry point's method
      default: GET
";

const RELAY_SCENARIO: &str = "\
scenarios:
  - id: entry-answers
    title: The entry point answers
    requirements: [RELAY-ENTRY-01]
    steps:
      - request:
          method: \"{{entry_method}}\"
          url: \"{{api_base}}{{entry_path}}/x?q=1\"
        expect: { status: 200 }
";

/// A loopback server answering 200 to every request and recording each request line.
struct RecordingServer {
    url: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl RecordingServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let recorded = lines.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head);
                if let Some(line) = text.lines().next() {
                    recorded.lock().unwrap().push(line.to_owned());
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Self { url, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// Writes the relay spec, its scenario and `target` into a folder; returns the three paths.
fn relay_tree(dir: &Path, target: &str) -> [String; 3] {
    std::fs::create_dir_all(dir.join("specs")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios/relay")).unwrap();
    std::fs::write(dir.join("specs/relay.yaml"), RELAY_SPEC).unwrap();
    std::fs::write(dir.join("scenarios/relay/entry.yaml"), RELAY_SCENARIO).unwrap();
    std::fs::write(dir.join("target.yaml"), target).unwrap();
    ["specs", "scenarios", "target.yaml"].map(|p| dir.join(p).display().to_string())
}

fn relay_target(url: &str, provider_extra: &str) -> String {
    format!(
        "name: relay-live\nclock: real\nlimits: {{ request_timeout: 5s }}\nsources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n  relay:\n    hosts:\n      api_base: {{ url: \"{url}\" }}\n{provider_extra}"
    )
}

fn run_relay(target: &str) -> (common::Run, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let [specs, scenarios, target] = relay_tree(dir.path(), target);
    let run = common::authconform(&[
        "run",
        "--specs",
        &specs,
        "--scenarios",
        &scenarios,
        "--target",
        &target,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let evidence: serde_json::Value =
        serde_json::from_str(&common::evidence_text(&run)).expect("evidence is JSON");
    assert_eq!(
        common::evidence_schema_errors(&evidence),
        Vec::<String>::new()
    );
    (run, evidence)
}

#[test]
fn a_target_path_and_method_reach_the_server_and_the_defaults_do_not() {
    let server = RecordingServer::start();
    let (_, evidence) = run_relay(&relay_target(
        &server.url,
        "    paths:\n      entry_path: \"/custom/a b\"\n    variables:\n      entry_method: PUT\n",
    ));
    assert_eq!(server.lines(), ["PUT /custom/a%20b/x?q=1 HTTP/1.1"]);
    assert!(
        evidence["run"]["target"].get("defaulted").is_none(),
        "nothing was defaulted: {}",
        evidence["run"]["target"]
    );
}

#[test]
fn left_out_inputs_take_the_spec_defaults_recorded_in_the_evidence() {
    let server = RecordingServer::start();
    let (_, evidence) = run_relay(&relay_target(&server.url, ""));
    assert_eq!(server.lines(), ["GET /default/entry/x?q=1 HTTP/1.1"]);
    assert_eq!(
        evidence["run"]["target"]["defaulted"],
        serde_json::json!({ "relay": { "entry_method": "GET", "entry_path": "/default/entry" } })
    );
}

#[test]
fn a_method_that_is_not_a_method_is_refused_before_any_request() {
    let server = RecordingServer::start();
    // From the target: an error at the target's line.
    let dir = tempfile::tempdir().unwrap();
    let text = relay_target(&server.url, "    variables:\n      entry_method: get it\n");
    let [specs, scenarios, target] = relay_tree(dir.path(), &text);
    let args = [
        "run",
        "--specs",
        &specs,
        "--scenarios",
        &scenarios,
        "--target",
        &target,
    ];
    let run = common::authconform(&args);
    let line = text.lines().position(|l| l.contains("get it")).unwrap() + 1;
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr.contains(&format!("target.yaml:{line}:"))
            && run.stderr.contains(
                "`entry_method` is used as a request method: invalid HTTP method `get it`"
            ),
        "{}",
        run.dump()
    );
    // From the spec's default: an error at the default's line in the spec.
    let spec = RELAY_SPEC.replace("default: GET", "default: \"G T\"");
    std::fs::write(dir.path().join("specs/relay.yaml"), &spec).unwrap();
    std::fs::write(
        dir.path().join("target.yaml"),
        relay_target(&server.url, ""),
    )
    .unwrap();
    let run = common::authconform(&args);
    let line = spec.lines().position(|l| l.contains("G T")).unwrap() + 1;
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr.contains(&format!("relay.yaml:{line}:"))
            && run.stderr.contains("invalid HTTP method `G T`"),
        "{}",
        run.dump()
    );
    assert_eq!(server.lines(), Vec::<String>::new());
}

#[test]
fn bad_target_paths_and_limits_are_located() {
    let cases = [
        (
            "    paths:\n      entry_path: custom/entry\n",
            "entry_path: custom",
            "expected a URL path starting with `/` (or empty)",
        ),
        (
            "    paths:\n      entry_path: /api/../admin\n",
            "entry_path: /api",
            "no empty, `.` or `..` segment",
        ),
        (
            "    paths:\n      entry_pth: /e\n",
            "entry_pth",
            "unknown path `entry_pth`",
        ),
        (
            "    variables:\n      entry_path: /e\n",
            "entry_path: /e",
            "`entry_path` is a path of `relay`, not a variable: move it under `paths`",
        ),
    ];
    for (extra, needle, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = relay_target("http://127.0.0.1:9", extra);
        let [specs, scenarios, target] = relay_tree(dir.path(), &text);
        let run = common::authconform(&[
            "validate",
            "--specs",
            &specs,
            "--scenarios",
            &scenarios,
            "--target",
            &target,
        ]);
        let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
        assert_eq!(run.code, Some(2), "{extra}\n{}", run.dump());
        assert!(
            run.stderr.contains(&format!("target.yaml:{line}:")) && run.stderr.contains(message),
            "{extra}: expected `{message}` at line {line}:\n{}",
            run.stderr
        );
    }
    let zero = "name: t\nclock: real\nlimits:\n  propagation: 0s\n";
    let error = Target::parse(Path::new("t.yaml"), zero).unwrap_err();
    assert_eq!(error.len(), 1);
    let rendered = error[0].to_string();
    assert!(
        rendered.contains("t.yaml:4:") && rendered.contains("`propagation: 0s`"),
        "{rendered}"
    );
}

#[test]
fn a_propagation_bound_is_the_window_of_a_marked_poll_at_run_time() {
    let server = RecordingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let target = relay_target(&server.url, "").replace(
        "request_timeout: 5s",
        "request_timeout: 5s, max_wait: 10s, propagation: 3s",
    );
    let [specs, scenarios, target] = relay_tree(dir.path(), &target);
    // The server answers 200: a poll for 201 never holds, so it runs its whole window.
    std::fs::write(
        dir.path().join("scenarios/relay/entry.yaml"),
        RELAY_SCENARIO.replace(
            "expect: { status: 200 }",
            "expect: { status: 201 }\n        eventually: { within: 5m, every: 1s, propagation: true }",
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let run = common::authconform(&[
        "run",
        "--specs",
        &specs,
        "--scenarios",
        &scenarios,
        "--target",
        &target,
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.junit.contains("<failure") && run.junit.contains("in a window of 3s, every 1s"),
        "{}",
        run.junit
    );
    assert!(server.lines().len() >= 2, "polled: {:?}", server.lines());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// The Silverflow sandbox template with `max_wait` set, and `propagation` when given.
fn silverflow_target(max_wait: &str, propagation: Option<&str>) -> Target {
    let root = Path::new(common::ROOT);
    let text = std::fs::read_to_string(root.join("targets/silverflow.example.yaml")).unwrap();
    let limits = match propagation {
        Some(bound) => format!("  max_wait: {max_wait}\n  propagation: {bound}\n"),
        None => format!("  max_wait: {max_wait}\n"),
    };
    assert!(text.contains("  max_wait: 11m\n"));
    let text = text.replace("  max_wait: 11m\n", &limits);
    Target::parse(Path::new("silverflow.yaml"), &text)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)))
}

/// Returns the skip reason of every Silverflow scenario that polls for a change.
fn polling_skips(target: Target) -> Vec<(String, Option<String>)> {
    let root = Path::new(common::ROOT);
    let plan = load_plan(
        &root.join("specs"),
        &root.join("scenarios"),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    plan.scenarios
        .iter()
        .filter(|s| s.provider == "silverflow")
        .filter(|s| {
            s.scenario
                .steps
                .iter()
                .any(|step| step.eventually.is_some())
        })
        .map(|s| (s.trial_name(), s.skip.clone()))
        .collect()
}

#[test]
fn a_propagation_bound_plans_polling_scenarios_a_short_max_wait_would_skip() {
    let without = polling_skips(silverflow_target("2m", None));
    // The lifecycle, ip-range and key-limit scenarios all poll.
    for file in ["lifecycle", "ip_ranges", "key_limit"] {
        assert!(
            without
                .iter()
                .any(|(name, _)| name.starts_with(&format!("silverflow::{file}::"))),
            "{file}: {without:?}"
        );
    }
    for (name, skip) in &without {
        let reason = skip
            .as_deref()
            .unwrap_or_else(|| panic!("{name} is planned"));
        assert!(reason.contains("allows at most 2m"), "{name}: {reason}");
    }
    let with = polling_skips(silverflow_target("2m", Some("10s")));
    assert_eq!(with.len(), without.len());
    for (name, skip) in &with {
        assert_eq!(skip, &None, "{name}");
    }
    // The target's bound replaces the documented one, it does not only shorten it: a bound
    // beyond max_wait skips them again.
    for (name, skip) in polling_skips(silverflow_target("2m", Some("3m"))) {
        assert!(skip.is_some(), "{name}");
    }
}

/// The embedded mock target with its We.Platform signing key replaced by `key` (YAML lines
/// indented for the `value: |` block), written into `dir`.
fn mock_target_with_signing_key(dir: &Path, key: &str) -> String {
    let text = authconform::target::MOCK_TARGET_YAML;
    let start = text
        .find("      signing_key:\n")
        .expect("the mock's signing key");
    let end = text[start..]
        .find("-----END PRIVATE KEY-----\n")
        .map(|at| start + at + "-----END PRIVATE KEY-----\n".len())
        .expect("the end of the PEM");
    let block: String = key.lines().map(|l| format!("          {l}\n")).collect();
    let replaced = format!(
        "{}      signing_key:\n        value: |\n{block}{}",
        &text[..start],
        &text[end..]
    );
    let path = dir.join("mock-key.yaml");
    std::fs::write(&path, replaced).unwrap();
    path.display().to_string()
}

#[test]
fn a_jwk_or_a_pem_signing_key_signs_tokens_the_mock_accepts() {
    let root = Path::new(common::ROOT);
    let jwk = std::fs::read_to_string(root.join("src/auth/keys/test-rs256-private.jwk")).unwrap();
    let pem = std::fs::read_to_string(root.join("src/auth/keys/test-rs256-private.pem")).unwrap();
    for (form, key) in [("jwk", jwk.trim()), ("pem", pem.trim())] {
        let dir = tempfile::tempdir().unwrap();
        let target = mock_target_with_signing_key(dir.path(), key);
        let run =
            common::authconform(&["run", "--target", &target, "--filter", "we-platform::jwt"]);
        assert_eq!(run.code, Some(0), "{form}: {}", run.dump());
        let passed = run.junit.matches("<testcase").count();
        assert!(passed >= 5, "{form}: {}", run.junit);
        assert!(!run.junit.contains("<failure") && !run.junit.contains("<error"));
    }
    // Neither form: the scenarios signing with it cannot run, and say why without the key.
    let dir = tempfile::tempdir().unwrap();
    let target = mock_target_with_signing_key(dir.path(), "c2lnbmluZy1rZXktY2FuYXJ5LTdmM2E=");
    let run = common::authconform(&["run", "--target", &target, "--filter", "we-platform::jwt"]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.junit.contains("<error")
            && run
                .junit
                .contains("`private_key`: invalid key: expected an rsa private key as pem"),
        "{}",
        run.junit
    );
    assert!(
        !run.junit.contains("c2lnbmluZy1rZXktY2FuYXJ5")
            && !run.stdout.contains("c2lnbmluZy1rZXktY2FuYXJ5")
    );
}

#[test]
fn optional_inputs_left_out_skip_only_their_scenarios_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = authconform::target::MOCK_TARGET_YAML
        .lines()
        .filter(|l| !l.contains("other_client_id:") && !l.contains("other_redirect_uri:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text.len(), authconform::target::MOCK_TARGET_YAML.len());
    let target = dir.path().join("mock-one-client.yaml");
    std::fs::write(&target, &text).unwrap();
    let target = target.display().to_string();

    let validated = common::authconform(&["validate", "--target", &target]);
    assert_eq!(validated.code, Some(0), "{}", validated.dump());
    assert!(
        !validated.stderr.contains("warning"),
        "{}",
        validated.dump()
    );
    assert!(
        validated.stderr.contains(
            "note: target `mock` leaves out the optional `monerium` variable `other_client_id` (Client id of a second PKCE application, registered with other_redirect_uri only)"
        ),
        "{}",
        validated.dump()
    );

    let run = common::authconform(&["run", "--target", &target, "--filter", "monerium::"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let skipped = run.junit.matches("<skipped").count();
    assert!(skipped >= 2, "{}", run.junit);
    assert!(
        run.junit.contains("does not supply optional variable `other_client_id` (Client id of a second PKCE application"),
        "{}",
        run.junit
    );
    assert!(
        run.junit.matches("<testcase").count() > skipped + 10,
        "everything else runs: {}",
        run.junit
    );
    assert!(!run.junit.contains("<failure") && !run.junit.contains("<error"));
}
