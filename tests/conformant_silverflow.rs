//! Proves the Silverflow scenarios raise no false alarm: on each conformant variant of the mock
//! (401 problems titled "Unauthorized", the other documented title; the key that creates the
//! others counted toward the 40; the key list's member named `items`), every Silverflow scenario
//! passes, or differs from an assumption where the table says so.

mod common;

use common::conformant::assert_conformant_variants_pass;

#[test]
fn every_scenario_passes_on_each_conformant_variant() {
    assert_conformant_variants_pass(
        "silverflow",
        &[
            ("unauthorized-title", &[]),
            ("creating-key-counts", &[]),
            (
                "keys-listed-as-items",
                // Its only assumed check on the list names the member `apiKeys`.
                &["silverflow::api_keys::secret-is-returned-only-at-creation"],
            ),
        ],
    );
}

#[test]
fn unauthorized_title_changes_what_the_mock_answers() {
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

/// Basic credentials of the mock's activation key, from the embedded mock target.
fn admin() -> (String, String) {
    let secrets = authconform::Target::mock().inline_secrets("silverflow");
    (
        secrets["admin_key"].clone(),
        secrets["admin_secret"].clone(),
    )
}

#[test]
fn keys_listed_as_items_changes_what_the_mock_answers() {
    let (key, secret) = admin();
    common::conformant::assert_variant_observable(
        "silverflow",
        "keys-listed-as-items",
        "api",
        |client, base| {
            client
                .get(format!("{base}/v1/apiKeys"))
                .basic_auth(&key, Some(&secret))
        },
        |documented, chosen| {
            documented.0 == 200
                && chosen.0 == 200
                && documented.2.contains(r#""apiKeys":["#)
                && !documented.2.contains(r#""items""#)
                && chosen.2.contains(r#""items":["#)
                && !chosen.2.contains(r#""apiKeys""#)
        },
    );
}

/// The statuses of the first 40 keys an agent holding only its activation key creates, on a
/// fresh mock with `variants`.
fn first_forty_creations(variants: &[&str]) -> Vec<u16> {
    let (key, secret) = admin();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let config = authconform::mock::MockConfig {
            clock: std::sync::Arc::new(authconform::clock::VirtualClock::new()),
            secrets: authconform::Target::mock().inline_secrets("silverflow"),
            deviations: variants.iter().map(|v| (*v).to_owned()).collect(),
        };
        let mock = authconform::mock::builtin()
            .get("silverflow")
            .expect("a built-in mock")
            .start(config)
            .await
            .expect("the mock starts");
        let base = mock.url("api").expect("the mock serves the host");
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let response = client
                .post(format!("{base}/v1/apiKeys"))
                .basic_auth(&key, Some(&secret))
                .json(&serde_json::json!({"status": "disabled", "permissions": ["charges:List"]}))
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .expect("the mock answers");
            statuses.push(response.status().as_u16());
        }
        statuses
    })
}

#[test]
fn creating_key_counts_changes_what_the_mock_answers() {
    // The activation key does not count: 40 more are created. Counted, the 40th is refused.
    assert_eq!(first_forty_creations(&[]), [201; 40]);
    let mut counted = vec![201; 39];
    counted.push(409);
    assert_eq!(first_forty_creations(&["creating-key-counts"]), counted);
}
