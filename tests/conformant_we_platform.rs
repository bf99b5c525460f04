//! Proves the We.Platform scenarios raise no false alarm: on each conformant variant of the mock
//! (an authorization service that refuses a bad login with 400; an oauth2-mode node trusting the
//! operator's own key pair, which the target supplies), every We.Platform scenario passes, or
//! differs from an assumption where its check is marked as one (the 401 of a refused login, which
//! the docs do not give).

mod common;

use authconform::auth::jwt::{self, SigningKey};
use common::conformant::{
    Variant, assert_conformant_variants_pass_on_targets, assert_variant_observable,
    assert_variant_observable_on_target, set_secret,
};

/// An operator's RSA key pair, not the suite's built-in test key (PKCS#8 PEM and its public half).
const OPERATOR_KEY: &str = include_str!("fixtures/conformant/we-platform-operator-key.pem");
const OPERATOR_PUBLIC_KEY: &str =
    include_str!("fixtures/conformant/we-platform-operator-public.pem");

/// The node trusts the operator's key: the target signs with it and names its public half.
const TARGET_SIGNING_KEY: Variant = Variant {
    name: "target-signing-key",
    differs: &[],
    target: |we_platform| {
        set_secret(we_platform, "signing_key", OPERATOR_KEY);
        let spki: String = OPERATOR_PUBLIC_KEY
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        we_platform
            .variables
            .insert("node_public_key".to_owned(), spki);
    },
};

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass_on_targets(
        "we-platform",
        &[
            Variant::plain(
                "login-refusal-as-400",
                &["we-platform::auth_service::wrong-password-gets-401"],
            ),
            TARGET_SIGNING_KEY,
        ],
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

/// An administrator's token of the node owner signed with `key`, expiring long after any clock.
fn token_of(key: &SigningKey) -> String {
    let owner = authconform::mock::we_platform::NODE_OWNER_ADDRESS;
    jwt::sign(
        &serde_json::json!({
            "exp": u32::MAX,
            "roles": ["admin"],
            "addresses": [{"address": owner, "type": "node"}],
        }),
        key,
    )
    .expect("a signed token")
}

#[test]
fn the_target_key_variant_refuses_the_built_in_key_and_takes_the_operators() {
    let builtin =
        token_of(&SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM).expect("the test key"));
    let operator = token_of(&SigningKey::rs256_pem(OPERATOR_KEY).expect("the fixture key"));
    let read = |token: String| {
        move |client: &reqwest::Client, base: &str| {
            client
                .get(format!("{base}/consensus/settings"))
                .bearer_auth(&token)
        }
    };
    assert_variant_observable_on_target(
        "we-platform",
        &TARGET_SIGNING_KEY,
        "oauth_node",
        read(builtin),
        |documented, chosen| {
            documented.0 == 200 && chosen.0 == 401 && chosen.2.contains(r#""error":622"#)
        },
    );
    assert_variant_observable_on_target(
        "we-platform",
        &TARGET_SIGNING_KEY,
        "oauth_node",
        read(operator),
        |documented, chosen| documented.0 == 401 && chosen.0 == 200,
    );
}
