//! Keeps `targets/silverflow.example.yaml`, the Silverflow sandbox template, loadable: it
//! validates with every requirement covered, it configures every host, variable, secret and
//! source the Silverflow scenarios use, it holds no secret value (only environment-variable
//! names), and its ranges are real IPv4 CIDR blocks.

mod common;

use std::path::Path;

use authconform::Target;
use authconform::target::{ClockKind, HostSpec, SecretSource};
use common::authconform;

const EXAMPLE: &str = "targets/silverflow.example.yaml";

fn example() -> Target {
    Target::load(&Path::new(common::ROOT).join(EXAMPLE))
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)))
}

#[test]
fn the_example_target_validates_with_every_requirement_covered() {
    common::assert_target_validates(EXAMPLE);
}

#[test]
fn the_example_target_runs_silverflow_live_with_secrets_from_the_environment() {
    let target = example();
    assert_eq!(target.clock, ClockKind::Real);
    let silverflow = &target.providers["silverflow"];
    assert!(
        silverflow
            .hosts
            .values()
            .all(|h| matches!(h, HostSpec::Url(_))),
        "live hosts only"
    );
    for (name, source) in &silverflow.secrets {
        assert!(
            matches!(source, SecretSource::Env(_)),
            "secret `{name}` must name an environment variable"
        );
    }
    // The same names as the mock target's Silverflow section, so every scenario resolves.
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
    assert_eq!(names(silverflow), names(&mock.providers["silverflow"]));
    for source in [
        "default",
        "outside_32",
        "block_first",
        "block_last",
        "past_block",
    ] {
        assert!(target.sources.contains_key(source), "source `{source}`");
    }
    for range in ["default_range", "block_range"] {
        let value = &silverflow.variables[range];
        let (address, prefix) = value.split_once('/').expect("a CIDR block");
        assert!(address.parse::<std::net::Ipv4Addr>().is_ok(), "{range}");
        assert!(prefix.parse::<u8>().is_ok_and(|p| p <= 32), "{range}");
    }
}

#[test]
fn no_silverflow_scenario_is_skipped_for_want_of_configuration() {
    let run = authconform(&["list", "--target", EXAMPLE]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let silverflow: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("silverflow::"))
        .collect();
    assert!(!silverflow.is_empty(), "{}", run.dump());
    for line in silverflow {
        assert!(!line.contains("does not configure"), "{line}");
    }
}
