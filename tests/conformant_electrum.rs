//! Proves the Electrum scenarios raise no false alarm: on each conformant variant of the mock
//! (a 401 with an empty body, which Electrum says refusals may have), every Electrum scenario passes.

mod common;

use common::conformant::assert_conformant_variants_pass;

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass("electrum", &["empty-refusal-bodies"]);
}

#[test]
fn each_conformant_variant_changes_what_the_mock_answers() {
    common::conformant::assert_variant_observable(
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
}
