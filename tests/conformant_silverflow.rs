//! Proves the Silverflow scenarios raise no false alarm: on each conformant variant of the mock
//! (401 problems titled "Unauthorized", the other documented title), every Silverflow scenario passes.

mod common;

use common::conformant::assert_conformant_variants_pass;

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass("silverflow", &["unauthorized-title"]);
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    common::conformant::assert_variant_observable(
        "silverflow",
        "unauthorized-title",
        "api",
        |client, base| client.get(format!("{base}/v1/agents/current")),
        |documented, chosen| {
            documented.0 == 401
                && chosen.0 == 401
                && documented
                    .2
                    .contains(r#""title":"Authentication Required""#)
                && chosen.2.contains(r#""title":"Unauthorized""#)
        },
    );
}
