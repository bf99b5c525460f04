//! [`Target`]: where scenarios run. Base URLs per provider host (live URLs, or embedded mock hosts),
//! named source addresses, secrets by environment-variable name, limits, and the clock kind.
//!
//! `targets/mock.yaml` is embedded in the binary and is the default: every provider on its
//! embedded mock, on the virtual clock, with the mocks' fake credentials inline. Live targets
//! never hold secret values, only the names of the environment variables that do.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use crate::diagnostic::{InputKind, LoadError, SpanIndex};
use crate::scenario::load::{Names, parse_yaml};
use crate::scenario::model::DurationValue;

/// The embedded default target's YAML.
pub const MOCK_TARGET_YAML: &str = include_str!("../targets/mock.yaml");

/// A target file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short name shown in reports.
    pub name: String,
    /// What this environment is.
    #[serde(default)]
    pub description: Option<String>,
    /// `virtual` for the embedded mocks, `real` for live endpoints.
    pub clock: ClockKind,
    /// Limits on waiting.
    #[serde(default)]
    pub limits: Limits,
    /// Named source addresses requests can be sent from.
    #[serde(default)]
    pub sources: IndexMap<String, SourceSpec>,
    /// Per provider: hosts, variables, secrets. A provider not listed is skipped.
    #[serde(default)]
    pub providers: IndexMap<String, ProviderTarget>,
    /// The file it came from (empty for the embedded target).
    #[serde(skip)]
    pub file: PathBuf,
}

/// The clock a target runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Mock providers and the executor share a virtual clock; `clock` steps cost nothing.
    Virtual,
    /// Wall-clock time; `clock` steps wait for real, up to `limits.max_wait`.
    Real,
}

/// Limits on waiting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Total time allowed for one request unless the step says otherwise.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: DurationValue,
    /// Longest real wait a `clock` step may take on a real-clock target; longer waits make the
    /// scenario skipped with that reason. Absent: no real waits at all.
    #[serde(default)]
    pub max_wait: Option<DurationValue>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: default_request_timeout(),
            max_wait: None,
        }
    }
}

fn default_request_timeout() -> DurationValue {
    DurationValue(Duration::from_secs(30))
}

/// A named source: a local address to bind, or a proxy to go through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The local address to bind (e.g. `127.0.0.2`, or an allowlisted egress address).
    #[serde(default)]
    pub bind: Option<IpAddr>,
    /// An HTTP(S) proxy URL whose egress address is the source.
    #[serde(default)]
    pub proxy: Option<String>,
}

/// What a target says about one provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderTarget {
    /// Host variables: name → base URL (`{ url: … }`) or embedded mock host (`{ mock: … }`).
    #[serde(default)]
    pub hosts: IndexMap<String, HostSpec>,
    /// Plain variables (realm names, ids that are not secret).
    #[serde(default)]
    pub variables: IndexMap<String, String>,
    /// Secrets: name → environment variable (`{ env: … }`), or, on mock targets only, the mock's
    /// fake value (`{ value: … }`).
    #[serde(default)]
    pub secrets: IndexMap<String, SecretSource>,
}

/// Where a host is.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case")]
pub enum HostSpec {
    /// A live base URL.
    Url(String),
    /// A host of the provider's embedded mock, started per scenario.
    Mock(String),
}

crate::tagged_enum!(HostSpec, "one of `url: …` or `mock: …`");

/// Where a secret's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable's name.
    Env(String),
    /// An inline value: only fake credentials for embedded mocks.
    Value(String),
}

crate::tagged_enum!(
    SecretSource,
    "one of `env: VARIABLE` or `value: …` (mock targets only)"
);

impl Target {
    /// Returns the embedded mock target.
    pub fn mock() -> Self {
        Self::parse(Path::new("targets/mock.yaml"), MOCK_TARGET_YAML)
            .expect("the embedded mock target is valid (checked by a unit test)")
    }

    /// Reads and checks a target file.
    pub fn load(file: &Path) -> Result<Self, Vec<LoadError>> {
        let text = crate::diagnostic::read_input(InputKind::Target, file).map_err(|e| vec![*e])?;
        Self::parse(file, &text)
    }

    /// Parses and checks a target from text.
    pub fn parse(file: &Path, text: &str) -> Result<Self, Vec<LoadError>> {
        let mut target: Target = parse_yaml(InputKind::Target, file, text).map_err(|errors| {
            errors
                .into_iter()
                .map(hide_secret_values)
                .collect::<Vec<_>>()
        })?;
        target.file = file.to_owned();
        let mut errors = Vec::new();
        let spans = SpanIndex::build(text);
        let err = |path: String, message: String| {
            LoadError::new(InputKind::Target, file, message).at(&spans, text, path)
        };
        for (name, source) in &target.sources {
            match (&source.bind, &source.proxy) {
                (Some(_), Some(_)) | (None, None) => errors.push(err(
                    format!("sources.{name}"),
                    "a source is either `bind: <address>` or `proxy: <url>`".into(),
                )),
                (None, Some(proxy)) if url::Url::parse(proxy).is_err() => errors.push(err(
                    format!("sources.{name}.proxy"),
                    format!("invalid proxy URL `{proxy}`"),
                )),
                _ => {}
            }
        }
        for (provider, config) in &target.providers {
            for (name, host) in &config.hosts {
                if let HostSpec::Url(u) = host
                    && url::Url::parse(u).is_err()
                {
                    errors.push(err(
                        format!("providers.{provider}.hosts.{name}"),
                        format!("invalid base URL `{u}`: expected an absolute URL like `https://api.example.com`"),
                    ));
                }
                if config.variables.contains_key(name) {
                    errors.push(err(
                        format!("providers.{provider}.variables.{name}"),
                        format!("`{name}` is both a host and a variable"),
                    ));
                }
            }
            for (name, secret) in &config.secrets {
                if name.parse::<crate::secret::SecretName>().is_err() {
                    errors.push(err(
                        format!("providers.{provider}.secrets.{name}"),
                        format!("invalid secret name `{name}`: use letters, digits, `_` and `-`"),
                    ));
                }
                if matches!(secret, SecretSource::Value(_)) && target.clock == ClockKind::Real {
                    errors.push(hide_secret_values(err(
                        format!("providers.{provider}.secrets.{name}"),
                        "inline secret values are only for the embedded mocks' fake credentials: on a live target write `env: VARIABLE_NAME`".into(),
                    )));
                }
            }
        }
        if errors.is_empty() {
            Ok(target)
        } else {
            Err(errors)
        }
    }

    /// Returns true when the target runs on the embedded mocks' virtual clock.
    pub fn is_virtual(&self) -> bool {
        self.clock == ClockKind::Virtual
    }

    /// Returns the most a scenario may wait in real time in all (`limits.max_wait`; none when
    /// absent).
    pub fn max_real_wait(&self) -> Duration {
        self.limits.max_wait.map_or(Duration::ZERO, |d| d.0)
    }

    /// Returns the inline (mock) secret values of `provider`, by name; secrets named by
    /// environment variable are left out.
    pub fn inline_secrets(&self, provider: &str) -> HashMap<String, String> {
        self.providers
            .get(provider)
            .map(|p| {
                p.secrets
                    .iter()
                    .filter_map(|(name, source)| match source {
                        SecretSource::Value(v) => Some((name.clone(), v.clone())),
                        SecretSource::Env(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Returns the names scenarios of `provider` may use, for the load-time checks.
    pub fn names_for(&self, provider: &str) -> (Option<HashSet<String>>, Option<HashSet<String>>) {
        match self.providers.get(provider) {
            Some(p) => (
                Some(p.hosts.keys().chain(p.variables.keys()).cloned().collect()),
                Some(p.secrets.keys().cloned().collect()),
            ),
            None => (None, None),
        }
    }

    /// Fills the target's part of [`Names`] for `provider`.
    pub fn fill_names(&self, provider: &str, names: &mut Names) {
        let (variables, secrets) = self.names_for(provider);
        names.variables = variables;
        names.secrets = secrets;
        names.sources = self
            .providers
            .contains_key(provider)
            .then(|| self.sources.keys().cloned().collect());
    }
}

/// Keeps an error about a secret entry from echoing its value: the source line is dropped, and a
/// parse message (which may quote the value) is replaced by what is expected.
fn hide_secret_values(mut error: LoadError) -> LoadError {
    let about_secret = error.path.as_deref().is_some_and(|p| {
        let mut parts = p.split('.');
        parts.next() == Some("providers") && parts.nth(1) == Some("secrets")
    });
    if about_secret {
        error.source_line = None;
        if !error.message.starts_with("inline secret values") {
            error.message =
                "expected `{ env: VARIABLE_NAME }`, or `{ value: … }` on a mock target \
                             (the line is not shown: it may hold a secret)"
                    .into();
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_mock_target_is_valid() {
        let target = Target::parse(Path::new("targets/mock.yaml"), MOCK_TARGET_YAML)
            .unwrap_or_else(|e| panic!("{}", crate::diagnostic::LoadErrors(e)));
        assert!(target.is_virtual());
        assert!(target.sources.contains_key("unallowlisted"));
    }

    #[test]
    fn inline_secrets_are_refused_on_live_targets() {
        let yaml = "name: live\nclock: real\nproviders:\n  demo:\n    secrets:\n      password: { value: hunter22 }\n";
        let errors = Target::parse(Path::new("live.yaml"), yaml).unwrap_err();
        let rendered = crate::diagnostic::LoadErrors(errors).render();
        assert!(rendered.contains("live.yaml:6:7"), "{rendered}");
        assert!(
            rendered.contains("only for the embedded mocks"),
            "{rendered}"
        );
    }
}
