//! Proves the We.Platform scenarios raise no false alarm: on each conformant variant of the mock
//! (an authorization service that refuses a bad login with 400), every We.Platform scenario
//! passes, or differs from an assumption where its check is marked as one (the 401 of a refused
//! login, which the docs do not give).

mod common;

use common::conformant::{assert_conformant_variants_pass, assert_variant_observable};

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass(
        "we-platform",
        &[(
            "login-refusal-as-400",
            &["we-platform::auth_service::wrong-password-gets-401"],
        )],
    );
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    assert_variant_observable(
        "we-platform",
        "login-refusal-as-400",
        "auth",
        |client, base| {
            client
                .post(format!("{base}/v1/auth/login"))
                .json(&serde_json::json!({"login": "nobody", "password": "wrong"}))
        },
        |documented, chosen| documented.0 == 401 && chosen.0 == 400,
    );
}
