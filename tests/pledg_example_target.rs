//! `targets/pledg.example.yaml`, the live staging template, stays loadable and complete: the
//! binary's `validate` accepts it, every Pledg scenario is planned on it (none skipped for a
//! missing host, variable or wait allowance), and it names environment variables for secrets and
//! real URLs for hosts, never inline values or embedded mocks.

mod common;

use std::path::Path;

use authconform::target::{ClockKind, HostSpec, SecretSource};
use authconform::{Target, load_plan};

const EXAMPLE: &str = "targets/pledg.example.yaml";

#[test]
fn validate_accepts_the_example_target() {
    common::assert_target_validates(EXAMPLE);
}

#[test]
fn every_pledg_scenario_is_planned_on_the_example_target() {
    let root = Path::new(common::ROOT);
    let target = Target::load(&root.join(EXAMPLE))
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    assert!(matches!(target.clock, ClockKind::Real));
    let pledg = target
        .providers
        .get("pledg")
        .expect("the example configures pledg");
    for (name, host) in &pledg.hosts {
        assert!(
            matches!(host, HostSpec::Url(_)),
            "host `{name}` must be a URL on a live target"
        );
    }
    for (name, secret) in &pledg.secrets {
        assert!(
            matches!(secret, SecretSource::Env(_)),
            "secret `{name}` must name an environment variable"
        );
    }

    let plan = load_plan(&root.join("specs"), &root.join("scenarios"), target)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let pledg_scenarios: Vec<_> = plan
        .scenarios
        .iter()
        .filter(|s| s.provider == "pledg")
        .collect();
    assert!(!pledg_scenarios.is_empty());
    for scenario in pledg_scenarios {
        assert_eq!(
            scenario.skip,
            None,
            "{} is skipped on the example target",
            scenario.trial_name()
        );
    }
}
