//! Every live-target template, `targets/*.example.yaml`, stays usable as it is copied: `validate`
//! accepts it with every requirement covered; it is a real-clock target with live URLs only and
//! every secret named by environment variable (never a value); it configures the same hosts,
//! variables and secrets as the embedded mock target, so every scenario of its providers
//! resolves; and none of those scenarios is skipped except for a wait its `max_wait` does not
//! allow.

mod common;

use std::path::{Path, PathBuf};

use authconform::target::{ClockKind, HostSpec, ProviderTarget, SecretSource};
use authconform::{Target, load_plan};

fn templates() -> Vec<PathBuf> {
    let dir = Path::new(common::ROOT).join("targets");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("targets/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".example.yaml"))
        .collect();
    found.sort();
    // One per provider profile, and the demo's.
    assert!(found.len() >= 6, "templates: {found:?}");
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

#[test]
fn every_template_validates_with_every_requirement_covered() {
    for path in templates() {
        let relative = path.strip_prefix(common::ROOT).unwrap_or(&path);
        common::assert_target_validates(&relative.to_string_lossy());
    }
}

#[test]
fn every_template_is_live_and_names_what_the_mock_target_names() {
    let mock = Target::mock();
    for path in templates() {
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
            assert_eq!(
                names(config),
                names(&mock.providers[provider]),
                "{file}: `{provider}` names other hosts, variables or secrets than the mock target"
            );
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

#[test]
fn every_scenario_of_a_templates_providers_is_planned() {
    let root = Path::new(common::ROOT);
    for path in templates() {
        let target = load(&path);
        let providers: Vec<String> = target.providers.keys().cloned().collect();
        let plan = load_plan(&root.join("specs"), &root.join("scenarios"), target)
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
