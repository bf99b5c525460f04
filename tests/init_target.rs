//! `authconform init-target PROVIDER` prints a live-target template from the provider's declared
//! inputs: for every shipped provider and for a provider without a mock (`acme`), the output,
//! saved as a file, is a real-clock target that `validate` accepts with every requirement
//! covered, that supplies every declared input (so no scenario is skipped for a missing one),
//! and whose secrets are environment variable names only, never values. `validate` reads no
//! environment variable (values are read when a scenario runs), so the test sets none.

mod common;

use std::path::Path;

use authconform::Target;
use authconform::target::{ClockKind, HostSpec, SecretSource};

/// (provider, specs folder, scenarios folder)
const PROVIDERS: &[(&str, &str, &str)] = &[
    ("demo", "specs", "scenarios"),
    ("electrum", "specs", "scenarios"),
    ("monerium", "specs", "scenarios"),
    ("oauth2", "specs", "scenarios"),
    ("pledg", "specs", "scenarios"),
    ("silverflow", "specs", "scenarios"),
    ("we-platform", "specs", "scenarios"),
    (
        "acme",
        "tests/fixtures/registry/specs",
        "tests/fixtures/registry/scenarios",
    ),
];

#[test]
fn every_providers_template_validates_and_supplies_every_input() {
    let shipped: Vec<String> = std::fs::read_dir(Path::new(common::ROOT).join("specs"))
        .expect("read specs/")
        .map(|e| {
            e.expect("an entry")
                .path()
                .file_stem()
                .expect("a stem")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for provider in &shipped {
        assert!(
            PROVIDERS.iter().any(|(p, _, _)| p == provider),
            "`{provider}` is not in the round trip"
        );
    }
    let mock = Target::mock();
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (provider, specs, scenarios) in PROVIDERS {
        let printed = common::authconform(&[
            "init-target",
            provider,
            "--specs",
            specs,
            "--scenarios",
            scenarios,
        ]);
        assert_eq!(printed.code, Some(0), "{provider}: {}", printed.dump());
        let file = dir.path().join(format!("my-{provider}.yaml"));
        std::fs::write(&file, &printed.stdout).expect("write the template");
        let file = file.to_str().expect("UTF-8");

        let validated = common::authconform(&[
            "validate",
            "--specs",
            specs,
            "--scenarios",
            scenarios,
            "--target",
            file,
            "--deny-uncovered",
        ]);
        assert_eq!(
            validated.code,
            Some(0),
            "{provider}:\n{}\n{}",
            printed.stdout,
            validated.dump()
        );
        assert!(
            !validated.stderr.contains("warning"),
            "{provider}: {}",
            validated.dump()
        );
        let listed = common::authconform(&[
            "list",
            "--specs",
            specs,
            "--scenarios",
            scenarios,
            "--target",
            file,
        ]);
        assert_eq!(listed.code, Some(0), "{provider}: {}", listed.dump());
        assert!(
            listed.stdout.contains(&format!("{provider}::"))
                && !listed.stdout.contains("does not supply")
                && !listed
                    .stdout
                    .contains(&format!("does not configure provider `{provider}`")),
            "{provider}: {}",
            listed.stdout
        );

        let target = Target::load(Path::new(file))
            .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
        assert_eq!(target.clock, ClockKind::Real, "{provider}");
        assert_eq!(
            target.providers.keys().collect::<Vec<_>>(),
            [provider],
            "{provider}"
        );
        let config = &target.providers[*provider];
        assert!(
            config.hosts.values().all(|h| matches!(h, HostSpec::Url(_))),
            "{provider}"
        );
        let catalogue = authconform::spec::load_catalogue(&Path::new(common::ROOT).join(specs))
            .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
        let (_, spec) = catalogue.spec(provider).expect("the spec");
        let inputs = spec.inputs.as_ref().expect("declared inputs");
        for (_, name, decl) in inputs.iter() {
            let comment = comment_above(&printed.stdout, name, decl.default.is_some());
            let mut expected = decl.description.clone();
            if decl.default.is_some() {
                expected.push_str(
                    " Default (used when left out): override only where your environment differs.",
                );
            } else if decl.optional {
                expected.push_str(
                    " Optional: left out, the scenarios using it are skipped with that reason.",
                );
            }
            assert_eq!(
                comment, expected,
                "{provider}: `{name}`'s description is not its comment"
            );
            if let Some(default) = &decl.default {
                // Commented out: the target gets the default unless it overrides it.
                let entry = format!("      # {name}: {}\n", serde_json::json!(default));
                assert!(printed.stdout.contains(&entry), "{provider}: {entry}");
            }
        }
        assert_eq!(
            config.secrets.keys().collect::<Vec<_>>(),
            inputs.secrets.keys().collect::<Vec<_>>(),
            "{provider}"
        );
        for (name, source) in &config.secrets {
            let SecretSource::Env(variable) = source else {
                panic!("{provider}: secret `{name}` is not an environment variable");
            };
            assert_eq!(
                variable,
                &format!("{provider}_{name}")
                    .replace('-', "_")
                    .to_uppercase(),
                "{provider}"
            );
        }
        // Never a value: no inline secret, and none of the embedded mock's fake values.
        assert!(!printed.stdout.contains("value:"), "{provider}");
        for value in mock.inline_secrets(provider).values() {
            assert!(
                !printed.stdout.contains(value.as_str()),
                "{provider}: a mock secret value is in the template"
            );
        }
    }
}

/// Returns the comment lines right above the entry `name:` of a provider's inputs (`# name:`
/// when `commented_out`), joined.
fn comment_above(template: &str, name: &str, commented_out: bool) -> String {
    let lines: Vec<&str> = template.lines().collect();
    let entry = if commented_out {
        format!("      # {name}: ")
    } else {
        format!("      {name}: ")
    };
    let at = lines
        .iter()
        .position(|l| l.starts_with(&entry))
        .unwrap_or_else(|| panic!("no entry `{name}` in:\n{template}"));
    let mut words: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.starts_with("      # ") && !commented_entry(l))
        .map(|l| &l["      # ".len()..])
        .collect();
    words.reverse();
    words.join(" ")
}

#[test]
fn an_unknown_provider_is_refused_with_the_nearest_name() {
    let run = common::authconform(&["init-target", "plegd"]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(run.stdout.is_empty(), "{}", run.dump());
    assert!(
        run.stderr
            .contains("no spec in specs defines provider `plegd`")
            && run.stderr.contains("Did you mean `pledg`?"),
        "{}",
        run.dump()
    );
}

#[test]
fn a_spec_without_inputs_has_no_template() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = std::fs::read_to_string(
        Path::new(common::ROOT).join("tests/fixtures/registry/specs/acme.yaml"),
    )
    .expect("the acme spec");
    let (head, _) = spec.split_once("\ninputs:\n").expect("inputs");
    std::fs::write(dir.path().join("acme.yaml"), head).expect("write");
    let run = common::authconform(&[
        "init-target",
        "acme",
        "--specs",
        dir.path().to_str().expect("UTF-8"),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.dump());
    assert!(
        run.stderr.contains("acme.yaml declares no `inputs`"),
        "{}",
        run.dump()
    );
}

/// Returns true for a commented-out entry with its default, `      # name: "value"`.
fn commented_entry(line: &str) -> bool {
    line.trim_start_matches(' ')
        .strip_prefix("# ")
        .and_then(|rest| rest.split_once(": \""))
        .is_some_and(|(name, value)| {
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && value.ends_with('"')
        })
}
