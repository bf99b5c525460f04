//! Proves the Pledg scenarios raise no false alarm: on each conformant variant of the mock
//! (a missing `grant_type` refused as `unsupported_grant_type`), every Pledg scenario passes.

mod common;

use common::conformant::assert_conformant_variants_pass;

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass("pledg", &["unsupported-grant-type-when-missing"]);
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    let target = authconform::Target::mock();
    let secrets = target.inline_secrets("pledg");
    let (key, secret) = (secrets["api_key"].clone(), secrets["api_secret"].clone());
    common::conformant::assert_variant_observable(
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
}
