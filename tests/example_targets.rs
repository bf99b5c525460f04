//! Every live-target template, `targets/*.example.yaml`, stays usable as it is copied: `validate`
//! accepts it with every requirement covered; it is a real-clock target with live URLs only and
//! every secret named by environment variable (never a value); it supplies exactly the inputs its
//! providers' specs declare; for a provider the embedded mock target configures, it names the same
//! hosts, variables and secrets; every scenario of its
//! providers resolves; and none of those scenarios is skipped except for a wait its `max_wait`
//! does not allow.
//!
//! The same checks accept a template a user adds for a provider that has a spec and scenarios but
//! no embedded mock (`tests/fixtures/registry/`: the `acme` provider).

mod common;

use std::path::{Path, PathBuf};

use authconform::spec::InputGroup;
use authconform::target::{ClockKind, HostSpec, ProviderTarget, SecretSource};
use authconform::{Target, load_plan};

/// A tree of inputs: specs, scenarios and target templates, relative to the crate root.
struct Tree {
    specs: &'static str,
    scenarios: &'static str,
    targets: &'static str,
}

const BUILTIN: Tree = Tree {
    specs: "specs",
    scenarios: "scenarios",
    targets: "targets",
};

/// A provider with a spec, scenarios and a template, but no embedded mock.
const WITHOUT_MOCK: Tree = Tree {
    specs: "tests/fixtures/registry/specs",
    scenarios: "tests/fixtures/registry/scenarios",
    targets: "tests/fixtures/registry/targets",
};

fn templates(tree: &Tree) -> Vec<PathBuf> {
    let dir = Path::new(common::ROOT).join(tree.targets);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".example.yaml"))
        .collect();
    found.sort();
    assert!(!found.is_empty(), "no template in {}", dir.display());
    found
}

fn load(path: &Path) -> Target {
    Target::load(path).unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)))
}

fn names(p: &ProviderTarget) -> Vec<String> {
    let mut names: Vec<String> = p
        .hosts
        .keys()
        .chain(p.variables.keys())
        .chain(p.secrets.keys())
        .cloned()
        .collect();
    names.sort();
    names
}

fn assert_templates_validate(tree: &Tree) {
    for path in templates(tree) {
        let relative = path.strip_prefix(common::ROOT).unwrap_or(&path);
        let relative = relative.to_string_lossy();
        let run = common::authconform(&[
            "validate",
            "--specs",
            tree.specs,
            "--scenarios",
            tree.scenarios,
            "--target",
            &relative,
            "--deny-uncovered",
        ]);
        assert_eq!(run.code, Some(0), "{relative}\n{}", run.dump());
        assert!(
            run.stdout.contains("0 uncovered requirements"),
            "{relative}\n{}",
            run.dump()
        );
    }
}

fn assert_templates_are_live_and_name_what_the_mock_target_names(tree: &Tree) {
    let mock = Target::mock();
    let catalogue = authconform::spec::load_catalogue(&Path::new(common::ROOT).join(tree.specs))
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    for path in templates(tree) {
        let target = load(&path);
        let file = path.display();
        assert_eq!(target.clock, ClockKind::Real, "{file}");
        assert!(
            !target.providers.is_empty(),
            "{file} configures no provider"
        );
        for (provider, config) in &target.providers {
            assert!(
                config.hosts.values().all(|h| matches!(h, HostSpec::Url(_))),
                "{file}: `{provider}` has a host that is not a live URL"
            );
            for (name, source) in &config.secrets {
                assert!(
                    matches!(source, SecretSource::Env(_)),
                    "{file}: secret `{name}` must name an environment variable"
                );
            }
            // A template supplies every input its provider's spec declares, each in its group;
            // one with a `default` it may leave out (it shows the default commented out).
            let (_, spec) = catalogue
                .spec(provider)
                .unwrap_or_else(|| panic!("{file}: no spec for `{provider}`"));
            let inputs = spec
                .inputs
                .as_ref()
                .expect("a spec with scenarios declares inputs");
            let supplied = |group: InputGroup| -> Vec<String> {
                let mut names: Vec<String> = match group {
                    InputGroup::Host => config.hosts.keys().cloned().collect(),
                    InputGroup::Path => config.paths.keys().cloned().collect(),
                    InputGroup::Variable => config.variables.keys().cloned().collect(),
                    InputGroup::Secret => config.secrets.keys().cloned().collect(),
                };
                let defaults = inputs
                    .group(group)
                    .iter()
                    .filter(|(_, decl)| decl.default.is_some())
                    .map(|(name, _)| name.clone());
                for name in defaults {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                names.sort();
                names
            };
            let declared = |group: InputGroup| -> Vec<String> {
                let mut names: Vec<String> = inputs.group(group).keys().cloned().collect();
                names.sort();
                names
            };
            assert_eq!(
                InputGroup::ALL.map(supplied),
                InputGroup::ALL.map(declared),
                "{file}: `{provider}` does not supply exactly the inputs its spec declares"
            );
            // A provider without an embedded mock has nothing to compare with: that its
            // scenarios resolve is checked by planning them.
            if let Some(on_mock) = mock.providers.get(provider) {
                assert_eq!(
                    names(config),
                    names(on_mock),
                    "{file}: `{provider}` names other hosts, variables or secrets than the mock target"
                );
            }
            // CIDR blocks the scenarios create keys for (`*_range`) must be IPv4 CIDR.
            for (name, value) in config
                .variables
                .iter()
                .filter(|(n, _)| n.ends_with("_range"))
            {
                let (address, prefix) = value
                    .split_once('/')
                    .unwrap_or_else(|| panic!("{file}: `{name}` is not a CIDR block"));
                assert!(
                    address.parse::<std::net::Ipv4Addr>().is_ok(),
                    "{file}: {name}"
                );
                assert!(
                    prefix.parse::<u8>().is_ok_and(|p| p <= 32),
                    "{file}: {name}"
                );
            }
        }
    }
}

fn assert_every_scenario_of_a_templates_providers_is_planned(tree: &Tree) {
    let root = Path::new(common::ROOT);
    for path in templates(tree) {
        let target = load(&path);
        let providers: Vec<String> = target.providers.keys().cloned().collect();
        let plan = load_plan(
            &root.join(tree.specs),
            &root.join(tree.scenarios),
            target,
            &authconform::mock::builtin(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        let mut planned = 0;
        for scenario in plan
            .scenarios
            .iter()
            .filter(|s| providers.contains(&s.provider))
        {
            planned += 1;
            if let Some(reason) = &scenario.skip {
                assert!(
                    reason.contains("needs a real wait"),
                    "{}: {} is skipped: {reason}",
                    path.display(),
                    scenario.trial_name()
                );
            }
        }
        assert!(planned > 0, "{}: no scenario planned", path.display());
    }
}

#[test]
fn there_is_a_template_per_provider_and_the_demos() {
    let found = templates(&BUILTIN);
    assert!(found.len() >= 6, "templates: {found:?}");
}

#[test]
fn every_template_validates_with_every_requirement_covered() {
    assert_templates_validate(&BUILTIN);
}

#[test]
fn every_template_is_live_and_names_what_the_mock_target_names() {
    assert_templates_are_live_and_name_what_the_mock_target_names(&BUILTIN);
}

#[test]
fn every_scenario_of_a_templates_providers_is_planned() {
    assert_every_scenario_of_a_templates_providers_is_planned(&BUILTIN);
}

/// A user's template for a provider with a spec and scenarios but no embedded mock goes through
/// every check above, and the checks still apply to it.
#[test]
fn a_template_for_a_provider_without_a_mock_is_accepted_and_checked() {
    assert!(authconform::mock::builtin().get("acme").is_none());
    assert!(!Target::mock().providers.contains_key("acme"));
    assert_templates_validate(&WITHOUT_MOCK);
    assert_templates_are_live_and_name_what_the_mock_target_names(&WITHOUT_MOCK);
    assert_every_scenario_of_a_templates_providers_is_planned(&WITHOUT_MOCK);

    // Without a mock target to compare with, the spec's `inputs` check its names: a misspelt
    // secret is refused at the template's line, with the declared name suggested.
    let root = Path::new(common::ROOT);
    let template = root.join(WITHOUT_MOCK.targets).join("acme.example.yaml");
    let text = std::fs::read_to_string(&template).expect("the template");
    let misspelt = text.replace(
        "api_key: { env: ACME_API_KEY }",
        "api_kye: { env: ACME_API_KEY }",
    );
    assert_ne!(misspelt, text);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copy = dir.path().join("acme.example.yaml");
    std::fs::write(&copy, misspelt).expect("write the copy");
    let errors = load_plan(
        &root.join(WITHOUT_MOCK.specs),
        &root.join(WITHOUT_MOCK.scenarios),
        load(&copy),
        &authconform::mock::builtin(),
    )
    .expect_err("a secret the spec does not declare");
    let rendered = errors.render();
    let line = text
        .lines()
        .position(|l| l.contains("api_key:"))
        .expect("the secret's line")
        + 1;
    assert!(
        rendered.contains(&format!("acme.example.yaml:{line}:")),
        "{rendered}"
    );
    assert!(
        rendered.contains("unknown secret `api_kye`")
            && rendered.contains("Did you mean `api_key`?"),
        "{rendered}"
    );

    // Without the secret, the scenario that needs it is skipped with what is missing; the
    // other still runs.
    let without_secret = text.replace("      api_key: { env: ACME_API_KEY }\n", "");
    assert_ne!(without_secret, text);
    std::fs::write(&copy, without_secret).expect("write the copy");
    let plan = load_plan(
        &root.join(WITHOUT_MOCK.specs),
        &root.join(WITHOUT_MOCK.scenarios),
        load(&copy),
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let skip = |id: &str| {
        plan.scenarios
            .iter()
            .find(|s| s.scenario.id.to_string() == id)
            .unwrap_or_else(|| panic!("no scenario {id}"))
            .skip
            .clone()
    };
    assert_eq!(
        skip("issued-key").as_deref(),
        Some(
            "target `acme-preprod` does not supply secret `api_key` (The API key Acme issued, sent in X-Acme-Key)"
        )
    );
    assert_eq!(skip("wrong-key"), None);
}
