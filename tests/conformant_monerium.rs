//! Proves the Monerium scenarios raise no false alarm: on each conformant variant of the mock
//! (an HTML error page where `/auth` refuses before redirecting, the OpenAPI's error shape for a
//! wrong client secret), every Monerium scenario passes, or differs from an assumption where its
//! check is marked as one (the JSON body of an `/auth` refusal, which the docs do not give).

mod common;

use common::conformant::assert_conformant_variants_pass;

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass(
        "monerium",
        &[
            (
                "html-authorize-errors",
                &[
                    "monerium::authorization_code::other-clients-redirect-uri-not-redirected",
                    "monerium::authorization_code::unregistered-redirect-uri-not-redirected",
                ],
            ),
            ("api-shape-for-bad-client", &[]),
        ],
    );
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    common::conformant::assert_variant_observable(
        "monerium",
        "html-authorize-errors",
        "api",
        |client, base| {
            client.get(format!(
                "{base}/auth?client_id=mo-pkce-client-0001&redirect_uri=https%3A%2F%2Felsewhere.test%2F&code_challenge=abc&code_challenge_method=S256"
            ))
        },
        |documented, chosen| {
            documented.0 == 400
                && chosen.0 == 400
                && documented.1.contains("json")
                && chosen.1.starts_with("text/html")
        },
    );
    let target = authconform::Target::mock();
    let client_id = target.inline_secrets("monerium")["cc_client_id"].clone();
    common::conformant::assert_variant_observable(
        "monerium",
        "api-shape-for-bad-client",
        "api",
        |client, base| {
            client.post(format!("{base}/auth/token")).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", "not-the-secret"),
            ])
        },
        |documented, chosen| {
            documented.2.contains(r#""error":"invalid_client""#)
                && chosen.0 == 400
                && chosen.2.contains(r#""status":"Bad Request""#)
        },
    );
}
