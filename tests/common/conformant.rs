//! The dual of the broken-variant check: each conformant variant of a provider's mock (another
//! choice where the documentation is silent) runs every scenario of the provider, and none may
//! fail or end in error. A scenario that fails on a conformant variant is a false alarm: on a
//! live provider that chose differently, it would report non-conformance the docs do not support.

use std::path::Path;

use authconform::target::{ProviderTarget, SecretSource};
use authconform::{Target, Verdict};

use super::verdicts::{plan, run_all, secret_values};

/// A conformant variant of a provider's mock and what a target for a provider that made its
/// choice says differently from the embedded mock target.
pub struct Variant<'a> {
    /// The variant's name, as the mock registers it.
    pub name: &'a str,
    /// The trials that differ from an assumption on it.
    pub differs: &'a [&'a str],
    /// Changes the provider's entry of the embedded mock target (paths, variables, secrets).
    pub target: fn(&mut ProviderTarget),
}

impl<'a> Variant<'a> {
    /// A variant that conforms with the embedded mock target as it is.
    pub const fn plain(name: &'a str, differs: &'a [&'a str]) -> Self {
        Self {
            name,
            differs,
            target: |_| {},
        }
    }

    /// Returns the embedded mock target as this variant needs it for `provider`.
    pub fn target_for(&self, provider: &str) -> Target {
        let mut target = Target::mock();
        (self.target)(
            target
                .providers
                .get_mut(provider)
                .expect("the mock target has the provider"),
        );
        target
    }
}

/// Sets an inline (mock) secret of a provider's target entry.
pub fn set_secret(provider: &mut ProviderTarget, name: &str, value: &str) {
    provider
        .secrets
        .insert(name.to_owned(), SecretSource::Value(value.to_owned()));
}

/// Runs every scenario of `provider` against each of its mock's conformant variants, which
/// `variants` must list exactly, each with the scenarios that differ from an assumption on it
/// (a check marked `assumed:` that the variant's choice does not meet), and panics listing every
/// scenario that failed, ended in error, or differed where the table does not say so (or did not
/// differ where it does).
pub fn assert_conformant_variants_pass(provider: &str, variants: &[(&str, &[&str])]) {
    let variants: Vec<Variant> = variants
        .iter()
        .map(|(name, differs)| Variant::plain(name, differs))
        .collect();
    assert_conformant_variants_pass_on_targets(provider, &variants);
}

/// Does what [`assert_conformant_variants_pass`] does, with each variant run against the target
/// it comes with: scenarios planned anew against it (its paths, variables and secrets), and its
/// mock started with its secrets.
pub fn assert_conformant_variants_pass_on_targets(provider: &str, variants: &[Variant]) {
    let registry = authconform::mock::builtin();
    let mut known: Vec<&str> = registry
        .get(provider)
        .map(|mock| mock.conformant().iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut listed: Vec<&str> = variants.iter().map(|v| v.name).collect();
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

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut problems = Vec::new();
    for entry in variants {
        let (variant, admitted) = (&entry.name, entry.differs);
        let mut plan = plan(
            &Path::new(super::ROOT).join("scenarios"),
            entry.target_for(provider),
        );
        plan.scenarios.retain(|s| s.provider == provider);
        let secrets = secret_values(&plan.target);
        let results = runtime.block_on(run_all(&plan, std::slice::from_ref(variant)));
        assert_eq!(results.len(), plan.scenarios.len());
        for trial in admitted {
            if !results.contains_key(*trial) {
                problems.push(format!("{variant}: no scenario `{trial}`"));
            }
        }
        for result in results.values() {
            let differs_as_tabled = admitted.contains(&result.trial_name.as_str());
            match &result.verdict {
                Verdict::Pass if !differs_as_tabled => {}
                Verdict::DiffersFromAssumption { .. } if differs_as_tabled => {}
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
    answer_on(&Target::mock(), provider, variants, host, build)
}

/// Does what [`answer`] does, with the mock given the fake secrets of `target`.
pub fn answer_on(
    target: &Target,
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
            secrets: target.inline_secrets(provider),
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

/// Asserts that `variant` changes what `provider`'s mock answers to the request `build` makes,
/// the mock started as [`assert_conformant_variants_pass_on_targets`] starts it: the documented
/// mock with the embedded mock target's secrets, the variant with those of its own target.
pub fn assert_variant_observable_on_target(
    provider: &str,
    variant: &Variant,
    host: &str,
    build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    differs: impl Fn(&Answer, &Answer) -> bool,
) {
    let documented = answer(provider, &[], host, &build);
    let chosen = answer_on(
        &variant.target_for(provider),
        provider,
        &[variant.name],
        host,
        &build,
    );
    assert!(
        differs(&documented, &chosen),
        "`{}` does not change the answer: {documented:?} vs {chosen:?}",
        variant.name
    );
}
