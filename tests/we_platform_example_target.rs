//! Keeps `targets/we-platform.example.yaml`, the We.Platform pre-production template, loadable:
//! it validates with every requirement covered, it configures every name the We.Platform
//! scenarios use, its hosts are live URLs, and it holds no secret value, only
//! environment-variable names.

mod common;

use std::path::Path;

use authconform::Target;
use authconform::target::{ClockKind, HostSpec, SecretSource};
use common::authconform;

const EXAMPLE: &str = "targets/we-platform.example.yaml";

#[test]
fn the_example_target_validates_with_every_requirement_covered() {
    common::assert_target_validates(EXAMPLE);
}

#[test]
fn the_example_target_runs_we_platform_live_with_secrets_from_the_environment() {
    let target = Target::load(&Path::new(common::ROOT).join(EXAMPLE))
        .unwrap_or_else(|errors| panic!("{}", authconform::diagnostic::LoadErrors(errors)));
    assert_eq!(target.clock, ClockKind::Real);
    let we = &target.providers["we-platform"];
    assert!(
        we.hosts.values().all(|h| matches!(h, HostSpec::Url(_))),
        "live hosts only"
    );
    for (name, source) in &we.secrets {
        assert!(
            matches!(source, SecretSource::Env(_)),
            "secret `{name}` must name an environment variable"
        );
    }
    // The same names as the mock target's We.Platform section, so every scenario resolves.
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
    assert_eq!(names(we), names(&mock.providers["we-platform"]));
}

#[test]
fn no_we_platform_scenario_is_skipped_for_want_of_configuration() {
    let run = authconform(&["list", "--target", EXAMPLE]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let we: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("we-platform::"))
        .collect();
    assert!(!we.is_empty(), "{}", run.dump());
    for line in we {
        assert!(!line.contains("does not configure"), "{line}");
    }
}
