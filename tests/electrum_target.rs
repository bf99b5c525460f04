//! The Electrum live-target template loads: `authconform validate` accepts
//! `targets/electrum.example.yaml` with every scenario and spec, every requirement covered, and
//! the template names each secret by environment variable (a live target never holds one).

mod common;

use authconform::Target;
use authconform::target::{ClockKind, SecretSource};

const TEMPLATE: &str = "targets/electrum.example.yaml";

#[test]
fn the_example_target_validates() {
    common::assert_target_validates(TEMPLATE);
}

#[test]
fn the_example_target_is_live_and_names_every_secret_by_variable() {
    let path = std::path::Path::new(common::ROOT).join(TEMPLATE);
    let target = Target::load(&path)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    assert_eq!(target.clock, ClockKind::Real);
    let electrum = &target.providers["electrum"];
    let mut names: Vec<&str> = electrum.secrets.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["client_id", "client_secret", "password", "username"]
    );
    for (name, secret) in &electrum.secrets {
        assert!(
            matches!(secret, SecretSource::Env(_)),
            "secret `{name}` must come from the environment"
        );
    }
    for host in ["auth_base", "api_base"] {
        assert!(electrum.hosts.contains_key(host), "host `{host}`");
    }
    for source in ["default", "unallowlisted"] {
        assert!(target.sources.contains_key(source), "source `{source}`");
    }
}
