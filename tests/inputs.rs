//! A spec's `inputs` are the contract between a provider's scenarios and its targets: every
//! scenario is checked against them whether or not the target configures the provider; a target
//! may name only declared inputs, each in its group; a declared input the target does not supply
//! skips the scenarios that use it, with the reason, while the others run; a spec whose provider
//! has scenarios must declare them, in a checked shape.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, authconform};

/// A tree of inputs in a temporary folder: the repository's specs and scenarios, copied, to be
/// edited by a test.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn copy_of(specs: &str, scenarios: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = Path::new(common::ROOT);
        copy_dir(&root.join(specs), &dir.path().join("specs"));
        copy_dir(&root.join(scenarios), &dir.path().join("scenarios"));
        Self { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        std::fs::write(&path, text).expect("write a file");
        path
    }

    /// Replaces `from` by `to` in a file of the tree, which must contain it.
    fn edit(&self, relative: &str, from: &str, to: &str) {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).expect("read a file");
        assert!(text.contains(from), "{relative} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).expect("write a file");
    }

    /// Runs `authconform validate` on this tree, with `extra` arguments.
    fn validate(&self, extra: &[&str]) -> Run {
        let specs = self.path("specs");
        let scenarios = self.path("scenarios");
        let mut args = vec![
            "validate",
            "--specs",
            specs.to_str().expect("UTF-8"),
            "--scenarios",
            scenarios.to_str().expect("UTF-8"),
        ];
        args.extend_from_slice(extra);
        authconform(&args)
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let path = entry.expect("a directory entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy a file");
        }
    }
}

/// Returns the 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
        + 1
}

/// A name no spec declares, in a scenario of a provider the target does not configure, is a load
/// error at its position with the declared name suggested: `validate` with the demo template
/// (which configures only `demo`) still checks every pledg scenario.
#[test]
fn an_undeclared_name_in_a_scenario_of_an_unconfigured_provider_is_a_load_error() {
    let tree = Tree::copy_of("specs", "scenarios");
    let file = "scenarios/pledg/basic.yaml";
    let original = std::fs::read_to_string(tree.path(file)).expect("read");
    tree.edit(file, "{{back_base}}", "{{bak_base}}");
    tree.edit(
        file,
        "{{secret.dashboard_email}}",
        "{{secret.dashbord_email}}",
    );
    let target = Path::new(common::ROOT).join("targets/demo.example.yaml");
    let run = tree.validate(&["--target", target.to_str().expect("UTF-8")]);
    assert_eq!(run.code, Some(2), "{}", run.dump());

    let line = line_of(&original, "{{back_base}}");
    let column = original
        .lines()
        .nth(line - 1)
        .expect("the line")
        .find('"')
        .expect("a quote")
        + 1;
    let at = format!("pledg/basic.yaml:{line}:{column}\n");
    assert!(run.stderr.contains(&at), "expected {at}:\n{}", run.stderr);
    assert!(
        run.stderr.contains(
            "undefined variable `bak_base`: not a host or variable the `pledg` spec declares, nor captured by an earlier step. Did you mean `back_base`?"
        ),
        "{}",
        run.stderr
    );
    let secret_line = line_of(&original, "{{secret.dashboard_email}}");
    assert!(
        run.stderr
            .contains(&format!("pledg/basic.yaml:{secret_line}:")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("undefined secret `dashbord_email`")
            && run.stderr.contains("Did you mean `dashboard_email`?"),
        "{}",
        run.stderr
    );
}

/// A target naming an input the spec does not declare is refused at the target's line, with the
/// declared name suggested; an input in the wrong group is told where it belongs; an inline
/// secret value is not echoed.
#[test]
fn a_target_naming_an_undeclared_input_is_refused_at_its_position() {
    let tree = Tree::copy_of("specs", "scenarios");
    let template =
        std::fs::read_to_string(Path::new(common::ROOT).join("targets/pledg.example.yaml"))
            .expect("the pledg template");
    let misspelt = template
        .replace(
            "merchant_uid: mer_REPLACE_ME",
            "merchant_iud: mer_REPLACE_ME",
        )
        .replace("back_base: {", "bak_base: {")
        .replace(
            "      api_key: { env: PLEDG_API_KEY }",
            "      api_kye: { env: PLEDG_API_KEY }",
        );
    let target = tree.write("target.yaml", &misspelt);
    let run = tree.validate(&["--target", target.to_str().expect("UTF-8")]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    for (needle, message) in [
        (
            "merchant_iud:",
            "unknown variable `merchant_iud`: `specs/pledg.yaml` declares no such input for `pledg`",
        ),
        ("bak_base:", "unknown host `bak_base`"),
        ("api_kye:", "unknown secret `api_kye`"),
    ] {
        let line = line_of(&misspelt, needle);
        let block = run
            .stderr
            .split("\n\n")
            .find(|b| b.contains(&format!("target.yaml:{line}:")))
            .unwrap_or_else(|| panic!("no error at line {line}:\n{}", run.stderr));
        assert!(
            block.contains(message.split(": `specs").next().expect("a message"))
                && block.contains("Did you mean"),
            "{block}"
        );
    }
    assert!(
        run.stderr.contains("Did you mean `merchant_uid`?")
            && run.stderr.contains("Did you mean `back_base`?")
            && run.stderr.contains("Did you mean `api_key`?"),
        "{}",
        run.stderr
    );

    // A secret supplied as a variable: told where it belongs. On a mock target its inline value
    // stays out of the message.
    let mock = "name: m\nclock: virtual\nsources:\n  default: { bind: 127.0.0.1 }\nproviders:\n  demo:\n    hosts:\n      api_base: { mock: api }\n    variables:\n      api_key: not-here\n    secrets:\n      username: { value: demo-user }\n      pasword: { value: Inline-Secret-Value-4242 }\n";
    let target = tree.write("mock-target.yaml", mock);
    let run = tree.validate(&["--target", target.to_str().expect("UTF-8")]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr.contains("mock-target.yaml:10:16")
            && run.stderr.contains(
                "`api_key` is a secret of `demo`, not a variable: move it under `secrets`"
            ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("mock-target.yaml:13:")
            && run.stderr.contains("Did you mean `password`?"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("Inline-Secret-Value-4242"),
        "{}",
        run.stderr
    );
}

/// A declared input the target does not supply skips exactly the scenarios that use it, with
/// the input and its description as the reason; the others run. `validate` says so and exits 0,
/// and the skipped scenario's requirement is not verified.
#[test]
fn a_missing_input_skips_the_scenarios_using_it_and_the_others_run() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    // Refuses every key: the wrong-key scenario passes against it.
    let server = runtime.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/greeting"))
            .respond_with(wiremock::ResponseTemplate::new(401))
            .mount(&server)
            .await;
        server
    });
    let tree = Tree::copy_of(
        "tests/fixtures/registry/specs",
        "tests/fixtures/registry/scenarios",
    );
    let target = tree.write(
        "target.yaml",
        &format!(
            "name: acme-without-key\nclock: real\nlimits: {{ request_timeout: 5s }}\nsources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n  acme:\n    hosts:\n      api_base: {{ url: \"{}\" }}\n",
            server.uri()
        ),
    );
    let target = target.to_str().expect("UTF-8");
    let reason = "target `acme-without-key` does not supply secret `api_key` (The API key Acme issued, sent in X-Acme-Key)";

    let validated = tree.validate(&["--target", target]);
    assert_eq!(validated.code, Some(0), "{}", validated.dump());
    assert!(
        validated.stderr.contains(
            "warning: target `acme-without-key` does not supply `acme` secret `api_key` (The API key Acme issued, sent in X-Acme-Key): the 1 scenario(s) using it will be skipped"
        ),
        "{}",
        validated.dump()
    );

    let specs = tree.path("specs");
    let scenarios = tree.path("scenarios");
    let run = authconform(&[
        "run",
        "--specs",
        specs.to_str().expect("UTF-8"),
        "--scenarios",
        scenarios.to_str().expect("UTF-8"),
        "--target",
        target,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let junit = &run.junit;
    let case = |id: &str| {
        let start = junit
            .find(&format!("name=\"{id}\""))
            .unwrap_or_else(|| panic!("no testcase {id}:\n{junit}"));
        let end = junit[start..]
            .find("</testcase>")
            .map_or(junit.len(), |e| start + e);
        &junit[start..end]
    };
    assert!(
        case("issued-key").contains("<skipped") && case("issued-key").contains(reason),
        "{junit}"
    );
    assert!(
        !case("wrong-key").contains("<skipped") && !case("wrong-key").contains("<failure"),
        "{junit}"
    );

    let evidence: serde_json::Value =
        serde_json::from_str(&common::evidence_text(&run)).expect("evidence is JSON");
    let status = |id: &str| {
        evidence["requirements"]
            .as_array()
            .expect("a requirement matrix")
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in the matrix"))["status"]
            .clone()
    };
    assert_eq!(status("ACME-KEY-01"), "skipped");
    assert_eq!(status("ACME-KEY-02"), "verified");
    drop(server);
}

/// A spec whose provider has scenarios must declare its inputs: without them `validate` fails at
/// the spec, naming what the scenarios use.
#[test]
fn a_spec_without_inputs_is_an_error_naming_what_its_scenarios_use() {
    let tree = Tree::copy_of(
        "tests/fixtures/registry/specs",
        "tests/fixtures/registry/scenarios",
    );
    let spec = std::fs::read_to_string(tree.path("specs/acme.yaml")).expect("read");
    let (head, _) = spec
        .split_once("\ninputs:\n")
        .expect("the acme spec ends with inputs");
    tree.write("specs/acme.yaml", head);
    let run = tree.validate(&[]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    let line = line_of(head, "provider: acme");
    assert!(
        run.stderr.contains(&format!("acme.yaml:{line}:")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "the spec of `acme` declares no `inputs`: a spec whose provider has scenarios lists the hosts, variables and secrets a target must supply for them (its scenarios use hosts or variables `api_base`, and secrets `api_key`)"
        ),
        "{}",
        run.stderr
    );
}

/// Scenarios of a provider no spec defines have no declaration to be checked against: an error
/// naming the provider and what its scenarios use.
#[test]
fn scenarios_of_a_provider_without_a_spec_are_an_error() {
    let tree = Tree::copy_of(
        "tests/fixtures/registry/specs",
        "tests/fixtures/registry/scenarios",
    );
    let greeting =
        std::fs::read_to_string(tree.path("scenarios/acme/greeting.yaml")).expect("read");
    tree.write(
        "scenarios/acme-copy/greeting.yaml",
        &greeting.replace("id: ", "id: copy-"),
    );
    let run = tree.validate(&[]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr.contains(
            "no spec defines provider `acme-copy`: add `acme-copy.yaml` to the specs folder with `provider: acme-copy`, its requirements and the `inputs` its scenarios use (its scenarios use hosts or variables `api_base`, and secrets `api_key`)"
        ),
        "{}",
        run.dump()
    );
}

/// The `inputs` block is checked like the rest of a spec: an unknown group, a name in two groups,
/// a description that is not one line of text, each at its position.
#[test]
fn bad_input_declarations_are_located() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "  secret:\n    api_key: The key\n",
            "secret:",
            "unknown field `secret`",
        ),
        (
            "  hosts:\n    api_base: The base URL\n  secrets:\n    api_base: The key\n    api_key: The key\n",
            "    api_base: The key",
            "`api_base` is declared twice, as a host and as a secret",
        ),
        (
            "  hosts:\n    api_base: { env: ACME_BASE }\n  secrets:\n    api_key: The key\n",
            "api_base: {",
            "unknown field `env`, expected one of `description`, `default`, `optional`",
        ),
        (
            "  hosts:\n    api_base: { description: The base URL, default: \"https://x.example\" }\n  secrets:\n    api_key: The key\n",
            "api_base: {",
            "the host `api_base` takes no `default`",
        ),
        (
            "  secrets:\n    api_key:\n      description: The key\n      default: k-0001\n",
            "default: k-0001",
            "the secret `api_key` takes no `default`",
        ),
        (
            "  paths:\n    entry:\n      description: The entry point\n      default: api/entry\n  secrets:\n    api_key: The key\n",
            "default: api/entry",
            "invalid default of the path `entry`: expected a URL path starting with `/` (or empty)",
        ),
        (
            "  paths:\n    entry:\n      description: The entry point\n      default: /api/../admin\n  secrets:\n    api_key: The key\n",
            "default: /api/../admin",
            "no empty, `.` or `..` segment",
        ),
        (
            "  variables:\n    method:\n      description: The method\n      default: GET\n      optional: true\n  secrets:\n    api_key: The key\n",
            "optional: true",
            "`method` has a `default`, so a target never lacks it: drop `optional: true`",
        ),
        (
            "  variables:\n    method: { description: The method, optional: yes-please }\n  secrets:\n    api_key: The key\n",
            "method: {",
            "expected a boolean",
        ),
        (
            "  hosts:\n    api_base: \"\"\n  secrets:\n    api_key: The key\n",
            "api_base: \"\"",
            "the host `api_base` needs a description",
        ),
        (
            "  hosts:\n    api_base: |\n      two\n      lines\n  secrets:\n    api_key: The key\n",
            "      two",
            "the description of the host `api_base` is one line",
        ),
        (
            "  hosts:\n    api_base: The base URL\n    api_base: Again\n  secrets:\n    api_key: The key\n",
            "api_base: Again",
            "duplicate key `api_base`",
        ),
        (
            "  hosts:\n    api base: The base URL\n    api_base: The base URL\n  secrets:\n    api_key: The key\n",
            "api base:",
            "invalid input name `api base`",
        ),
    ];
    for (block, needle, message) in cases {
        let tree = Tree::copy_of(
            "tests/fixtures/registry/specs",
            "tests/fixtures/registry/scenarios",
        );
        let spec = std::fs::read_to_string(tree.path("specs/acme.yaml")).expect("read");
        let (head, _) = spec.split_once("\ninputs:\n").expect("inputs");
        let text = format!("{head}\ninputs:\n{block}");
        tree.write("specs/acme.yaml", &text);
        let run = tree.validate(&[]);
        assert_eq!(run.code, Some(2), "{block}\n{}", run.dump());
        let line = line_of(&text, needle);
        assert!(
            run.stderr.contains(&format!("acme.yaml:{line}:")) && run.stderr.contains(message),
            "{block}: expected `{message}` at line {line}:\n{}",
            run.stderr
        );
    }
}

/// A declared input no scenario uses is a warning, not an error.
#[test]
fn a_declared_input_no_scenario_uses_is_a_warning() {
    let tree = Tree::copy_of(
        "tests/fixtures/registry/specs",
        "tests/fixtures/registry/scenarios",
    );
    tree.edit(
        "specs/acme.yaml",
        "  secrets:\n",
        "  variables:\n    tenant: The tenant id nobody reads\n  secrets:\n",
    );
    let run = tree.validate(&[]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stderr.contains(
            "warning: the `acme` spec declares variable `tenant`, which none of its scenarios uses"
        ),
        "{}",
        run.dump()
    );
}

/// Every shipped provider's spec declares exactly what its scenarios use, and the embedded mock
/// target supplies all of it: `validate` has nothing to warn about.
#[test]
fn shipped_specs_declare_what_their_scenarios_use() {
    let run = authconform(&["validate", "--deny-uncovered"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(!run.stderr.contains("warning"), "{}", run.dump());
}
