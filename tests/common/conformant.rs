//! The dual of the broken-variant check: each conformant variant of a provider's mock (another
//! choice where the documentation is silent) runs every scenario of the provider, and none may
//! fail or end in error. A scenario that fails on a conformant variant is a false alarm: on a
//! live provider that chose differently, it would report non-conformance the docs do not support.

use std::path::Path;

use authconform::{Target, Verdict};

use super::verdicts::{plan, run_all, secret_values};

/// Runs every scenario of `provider` against each of its mock's conformant variants, which
/// `variants` must list exactly, and panics listing every scenario that did not pass.
pub fn assert_conformant_variants_pass(provider: &str, variants: &[&str]) {
    let registry = authconform::mock::builtin();
    let mut known: Vec<&str> = registry
        .get(provider)
        .map(|mock| mock.conformant().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut listed = variants.to_vec();
    known.sort_unstable();
    listed.sort_unstable();
    assert_eq!(
        listed, known,
        "the list must name every conformant variant the `{provider}` mock knows"
    );
    assert!(
        !known.is_empty(),
        "the `{provider}` mock has no conformant variant"
    );

    let mut plan = plan(&Path::new(super::ROOT).join("scenarios"), Target::mock());
    plan.scenarios.retain(|s| s.provider == provider);
    let secrets = secret_values(&plan.target);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut problems = Vec::new();
    for variant in variants {
        let results = runtime.block_on(run_all(&plan, std::slice::from_ref(variant)));
        assert_eq!(results.len(), plan.scenarios.len());
        for result in results.values() {
            match &result.verdict {
                Verdict::Pass => {}
                other => problems.push(format!(
                    "{variant}: {} ended {} ({other:?})\n{}",
                    result.trial_name,
                    other.label(),
                    result.step_summary()
                )),
            }
            let shown = format!("{:?}", result.verdict) + &result.step_summary();
            for secret in &secrets {
                assert!(
                    !shown.contains(secret.as_str()),
                    "{variant}: a secret of the target shows in {}",
                    result.trial_name
                );
            }
        }
    }
    assert!(
        problems.is_empty(),
        "false alarms on conformant variants:\n{}",
        problems.join("\n")
    );
}

/// One answer of a mock: status, `Content-Type` and body.
pub type Answer = (u16, String, String);

/// Starts `provider`'s mock with `variants` (its fake secrets from the embedded mock target),
/// sends the request `build` makes for the URL of its host `host`, and returns the answer.
pub fn answer(
    provider: &str,
    variants: &[&str],
    host: &str,
    build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
) -> Answer {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let config = authconform::mock::MockConfig {
            clock: std::sync::Arc::new(authconform::clock::VirtualClock::new()),
            secrets: Target::mock().inline_secrets(provider),
            deviations: variants.iter().map(|v| (*v).to_owned()).collect(),
        };
        let mock = authconform::mock::builtin()
            .get(provider)
            .expect("a built-in mock")
            .start(config)
            .await
            .expect("the mock starts");
        let base = mock.url(host).expect("the mock serves the host");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let response = build(&client, &base).send().await.expect("an answer");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.text().await.expect("a body");
        (status, content_type, body)
    })
}

/// Asserts that `variant` changes what `provider`'s mock answers to the request `build` makes:
/// a conformant variant that changed nothing would prove nothing.
pub fn assert_variant_observable(
    provider: &str,
    variant: &str,
    host: &str,
    build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    differs: impl Fn(&Answer, &Answer) -> bool,
) {
    let documented = answer(provider, &[], host, &build);
    let chosen = answer(provider, &[variant], host, &build);
    assert!(
        differs(&documented, &chosen),
        "`{variant}` does not change the answer: {documented:?} vs {chosen:?}"
    );
}
