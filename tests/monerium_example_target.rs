//! Keeps `targets/monerium.example.yaml`, the Monerium sandbox template, loadable: it validates
//! with every requirement covered, it configures every name the Monerium scenarios use, and it
//! holds no secret value, only environment-variable names.

mod common;

use std::path::Path;

use authconform::Target;
use authconform::target::{ClockKind, HostSpec, SecretSource};
use common::authconform;

const EXAMPLE: &str = "targets/monerium.example.yaml";

#[test]
fn the_example_target_validates_with_every_requirement_covered() {
    common::assert_target_validates(EXAMPLE);
}

#[test]
fn the_example_target_runs_monerium_live_with_secrets_from_the_environment() {
    let target = Target::load(&Path::new(common::ROOT).join(EXAMPLE))
        .unwrap_or_else(|errors| panic!("{errors:?}"));
    assert_eq!(target.clock, ClockKind::Real);
    let monerium = &target.providers["monerium"];
    assert!(
        monerium
            .hosts
            .values()
            .all(|h| matches!(h, HostSpec::Url(_))),
        "live hosts only"
    );
    for (name, source) in &monerium.secrets {
        assert!(
            matches!(source, SecretSource::Env(_)),
            "secret `{name}` must name an environment variable"
        );
    }
    // The same names as the mock target's Monerium section, so every scenario resolves.
    let mock = Target::mock();
    let names = |p: &authconform::target::ProviderTarget| {
        let mut names: Vec<String> = p
            .hosts
            .keys()
            .chain(p.variables.keys())
            .chain(p.secrets.keys())
            .cloned()
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(monerium), names(&mock.providers["monerium"]));
}

#[test]
fn no_monerium_scenario_is_skipped_for_want_of_configuration() {
    let run = authconform(&["list", "--target", EXAMPLE]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let monerium: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("monerium::"))
        .collect();
    assert!(!monerium.is_empty(), "{}", run.dump());
    for line in monerium {
        assert!(!line.contains("does not configure"), "{line}");
    }
}
