//! Proves the Pledg scenarios raise no false alarm: on each conformant variant of the mock
//! (a missing `grant_type` refused as `unsupported_grant_type`; the signed parameters taken at
//! another method and path with refusals of their own; the dashboard endpoint at another path,
//! each with a target that says where), every Pledg scenario passes, or differs from an
//! assumption where its check is marked as one (the status and body of a refused signature,
//! which Pledg does not give).

mod common;

use authconform::mock::pledg::{OTHER_DASHBOARD_PATH, OTHER_SIGNED_ENTRY_PATH};
use common::conformant::{
    Variant, assert_conformant_variants_pass_on_targets, assert_variant_observable,
    assert_variant_observable_on_target,
};

/// The signed parameters go to `POST /api/v2/purchases/signed`.
const OTHER_SIGNED_ENTRY_POINT: Variant = Variant {
    name: "other-signed-entry-point",
    differs: &[
        "pledg::signature::wrong-secret-refused",
        "pledg::signature::altered-payload-refused",
        "pledg::signature::unsigned-token-refused",
        "pledg::signature::expired-signature-refused",
        "pledg::signature::signature-validity-period-ends",
        "pledg::signature::missing-signature-refused",
    ],
    target: |pledg| {
        pledg.paths.insert(
            "signed_entry_path".to_owned(),
            OTHER_SIGNED_ENTRY_PATH.to_owned(),
        );
        pledg
            .variables
            .insert("signed_entry_method".to_owned(), "POST".to_owned());
    },
};

/// The dashboard endpoint is at another path.
const OTHER_DASHBOARD: Variant = Variant {
    name: "other-dashboard-path",
    differs: &[],
    target: |pledg| {
        pledg
            .paths
            .insert("dashboard_path".to_owned(), OTHER_DASHBOARD_PATH.to_owned());
    },
};

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass_on_targets(
        "pledg",
        &[
            Variant::plain("unsupported-grant-type-when-missing", &[]),
            OTHER_SIGNED_ENTRY_POINT,
            OTHER_DASHBOARD,
        ],
    );
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    let target = authconform::Target::mock();
    let secrets = target.inline_secrets("pledg");
    let (key, secret) = (secrets["api_key"].clone(), secrets["api_secret"].clone());
    assert_variant_observable(
        "pledg",
        "unsupported-grant-type-when-missing",
        "back",
        |client, base| {
            client
                .post(format!("{base}/api/token"))
                .basic_auth(&key, Some(&secret))
                .form(&[("scope", "none")])
        },
        |documented, chosen| {
            documented.0 == 400
                && chosen.0 == 400
                && documented.2.contains(r#""error":"invalid_request""#)
                && chosen.2.contains(r#""error":"unsupported_grant_type""#)
        },
    );
    // An unsigned call: the documented entry point is not there, the other one refuses it its way.
    assert_variant_observable_on_target(
        "pledg",
        &OTHER_SIGNED_ENTRY_POINT,
        "back",
        |client, base| client.post(format!("{base}{OTHER_SIGNED_ENTRY_PATH}")),
        |documented, chosen| {
            documented.0 == 404
                && chosen.0 == 422
                && chosen.2.contains("The signature is mandatory")
                && !chosen.2.contains("invalid_request_error")
        },
    );
    assert_variant_observable_on_target(
        "pledg",
        &OTHER_SIGNED_ENTRY_POINT,
        "back",
        |client, base| client.get(format!("{base}/api/payment_by_transfer")),
        |documented, chosen| documented.0 == 400 && chosen.0 == 404,
    );
    let (email, password) = (
        secrets["dashboard_email"].clone(),
        secrets["dashboard_password"].clone(),
    );
    assert_variant_observable_on_target(
        "pledg",
        &OTHER_DASHBOARD,
        "back",
        |client, base| {
            client
                .get(format!("{base}{OTHER_DASHBOARD_PATH}"))
                .basic_auth(&email, Some(&password))
        },
        |documented, chosen| documented.0 == 404 && chosen.0 == 200,
    );
}
