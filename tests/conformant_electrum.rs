//! Proves the Electrum scenarios raise no false alarm: on each conformant variant of the mock
//! (a 401 with an empty body, which Electrum says refusals may have; Keycloak 17's paths without
//! `/auth`, with a target that says so), every Electrum scenario passes.

mod common;

use common::conformant::{
    Variant, assert_conformant_variants_pass_on_targets, assert_variant_observable,
    assert_variant_observable_on_target,
};

/// Keycloak 17 and later: the target's `keycloak_path` is empty.
const KEYCLOAK_17_PATHS: Variant = Variant {
    name: "keycloak-17-paths",
    differs: &[],
    target: |electrum| {
        electrum
            .paths
            .insert("keycloak_path".to_owned(), String::new());
    },
};

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass_on_targets(
        "electrum",
        &[
            Variant::plain("empty-refusal-bodies", &[]),
            KEYCLOAK_17_PATHS,
        ],
    );
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    assert_variant_observable(
        "electrum",
        "empty-refusal-bodies",
        "api",
        |client, base| {
            client.get(format!(
                "{base}/moneytransfer/v2/orders?receiverId=r&orderRedeemRef=o"
            ))
        },
        |documented, chosen| {
            documented.0 == 401
                && chosen.0 == 401
                && !documented.2.is_empty()
                && chosen.2.is_empty()
        },
    );
    let target = authconform::Target::mock();
    let secrets = target.inline_secrets("electrum");
    let password_grant = |client: &reqwest::Client, base: &str| {
        client
            .post(format!(
                "{base}/realms/electrum-test/protocol/openid-connect/token"
            ))
            .form(&[
                ("grant_type", "password"),
                ("username", secrets["username"].as_str()),
                ("password", secrets["password"].as_str()),
                ("client_id", secrets["client_id"].as_str()),
                ("client_secret", secrets["client_secret"].as_str()),
            ])
    };
    assert_variant_observable_on_target(
        "electrum",
        &KEYCLOAK_17_PATHS,
        "auth",
        password_grant,
        |documented, chosen| {
            documented.0 == 404 && chosen.0 == 200 && chosen.2.contains("\"access_token\"")
        },
    );
}
