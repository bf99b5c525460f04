//! [`Target`]: where scenarios run. Base URLs per provider host (live URLs, or embedded mock hosts),
//! named source addresses, secrets by environment-variable name, limits, and the clock kind.
//!
//! `targets/mock.yaml` is embedded in the binary and is the default: every provider on its
//! embedded mock, on the virtual clock, with the mocks' fake credentials inline. Live targets
//! never hold secret values, only the names of the environment variables that do.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de;

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
    /// What `property` steps leave out on this target, with why.
    #[serde(default)]
    pub property: TargetProperty,
    /// Named source addresses requests can be sent from.
    #[serde(default)]
    pub sources: IndexMap<String, SourceSpec>,
    /// Per provider: hosts, variables, secrets. A provider not listed is skipped.
    #[serde(default)]
    pub providers: IndexMap<String, ProviderTarget>,
    /// The file it came from (empty for the embedded target).
    #[serde(skip)]
    pub file: PathBuf,
    /// The text it was parsed from, so checks made later (against the specs) point into it.
    #[serde(skip)]
    text: String,
    /// True for the embedded default target, which configures every built-in provider whether
    /// or not the specs in use define it.
    #[serde(skip)]
    embedded: bool,
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
    /// How long this environment takes at most to apply a change (a new key, a revoked one):
    /// replaces the documented bound of `eventually: { propagation: true }` windows.
    #[serde(default)]
    pub propagation: Option<DurationValue>,
    /// Cases a `property` step sends when it does not say (256 when absent).
    #[serde(default)]
    pub property_cases: Option<PropertyCases>,
    /// Requests a `property` step keeps in flight at once (16 when absent).
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    /// Requests per second a `property` step sends at most; no bound when absent.
    #[serde(default)]
    pub rate: Option<Rate>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: default_request_timeout(),
            max_wait: None,
            propagation: None,
            property_cases: None,
            concurrency: None,
            rate: None,
        }
    }
}

impl Limits {
    /// Cases a `property` step sends when it does not say.
    pub const DEFAULT_PROPERTY_CASES: u32 = 256;
    /// Requests a `property` step keeps in flight when a live target does not say.
    pub const DEFAULT_CONCURRENCY: usize = 16;
    /// Requests a `property` step keeps in flight on embedded mocks when the target does not
    /// say: each is a descriptor on both sides of the same machine, within the 16 a running
    /// scenario is given (`run`'s open-file budget), and more at once only adds sockets.
    pub const DEFAULT_MOCK_CONCURRENCY: usize = 4;

    /// Returns the cases a `property` step sends: its own count, else the target's, else 256.
    pub fn property_cases(&self, step: Option<u32>) -> u32 {
        step.or(self.property_cases.map(|c| c.0))
            .unwrap_or(Self::DEFAULT_PROPERTY_CASES)
    }

    /// Returns the requests a `property` step keeps in flight at once, on embedded mocks when
    /// `on_mocks`.
    pub fn concurrency(&self, on_mocks: bool) -> usize {
        let default = if on_mocks {
            Self::DEFAULT_MOCK_CONCURRENCY
        } else {
            Self::DEFAULT_CONCURRENCY
        };
        self.concurrency.map_or(default, |c| c.0)
    }
}

/// A target's `property:` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProperty {
    /// Kinds of generated cases no `property` step sends on this target: what this environment
    /// cannot take (a live account that locks after wrong passwords), each with its reason.
    #[serde(default)]
    pub except: Vec<TargetKindExclusion>,
}

/// `property.except[]`: `{ kind: wrong-password, family: token_request, because: "…" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetKindExclusion {
    /// A kind of case, as the scenario reference's families table names it.
    pub kind: String,
    /// The one family it is left out of; every family that has the kind when absent.
    #[serde(default)]
    pub family: Option<crate::scenario::model::PropertyFamily>,
    /// Why, for the reports: never empty.
    pub because: String,
}

impl TargetProperty {
    /// Returns the kinds of `family` this target leaves out, each with its reason.
    pub fn excluded(
        &self,
        family: crate::scenario::model::PropertyFamily,
    ) -> impl Iterator<Item = (&str, &str)> {
        self.except
            .iter()
            .filter(move |e| e.family.is_none_or(|f| f == family))
            .filter(move |e| family.kinds().contains(&e.kind.as_str()))
            .map(|e| (e.kind.as_str(), e.because.as_str()))
    }
}

/// `limits.property_cases`: an integer from 1 to 10,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyCases(pub u32);

impl<'de> Deserialize<'de> for PropertyCases {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        match u32::try_from(n) {
            Ok(n) if (1..=crate::scenario::model::PropertySpec::MAX_CASES).contains(&n) => {
                Ok(Self(n))
            }
            _ => Err(serde::de::Error::custom(format!(
                "expected a number of property cases from 1 to {}, found {n}",
                crate::scenario::model::PropertySpec::MAX_CASES
            ))),
        }
    }
}

/// `limits.concurrency`: requests in flight at once, from 1 to 256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency(pub usize);

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        match usize::try_from(n) {
            Ok(n) if (1..=256).contains(&n) => Ok(Self(n)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a concurrency from 1 to 256 requests in flight, found {n}"
            ))),
        }
    }
}

/// `limits.rate`: requests per second, a positive number (fractions allowed: `0.5` is one
/// request every two seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = f64::deserialize(d)?;
        if n.is_finite() && n > 0.0 && n <= 100_000.0 {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom(format!(
                "expected a rate above 0 and at most 100000 requests per second, found {n}"
            )))
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
#[serde(from = "ProviderTargetFile")]
pub struct ProviderTarget {
    /// Host variables: name → base URL (`{ url: … }`) or embedded mock host (`{ mock: … }`).
    pub hosts: IndexMap<String, HostSpec>,
    /// URL paths the environment puts endpoints at, each empty or starting with `/`.
    pub paths: IndexMap<String, String>,
    /// Plain variables (realm names, ids that are not secret).
    pub variables: IndexMap<String, String>,
    /// The paths and variables the target left out and got from their spec's `default`, set when
    /// the plan is loaded; recorded in the evidence so an auditor sees which values were used.
    pub defaulted: BTreeSet<String>,
    /// Secrets: name → environment variable (`{ env: … }`), or, on mock targets only, the mock's
    /// fake value (`{ value: … }`).
    pub secrets: IndexMap<String, SecretSource>,
    /// Hosts whose `http://` URL may carry this provider's secrets unencrypted to a host that is
    /// not loopback (`allow_plain_http: true` on the host entry).
    pub allow_plain_http: BTreeSet<String>,
    /// TLS settings per host (`tls:` on the host entry), as written.
    pub tls_files: IndexMap<String, TlsFiles>,
    /// TLS settings per host, read and built when the target is loaded: requests whose URL has
    /// the host's origin use them.
    pub tls: IndexMap<String, crate::net::HostTls>,
}

/// A host's `tls:` entry: file paths, relative to the target file's folder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// A PEM bundle of the CA certificates this host alone is trusted by (instead of the
    /// platform's roots).
    #[serde(default)]
    pub ca_file: Option<String>,
    /// A PEM client certificate (chain, end entity first) shown to the host (mTLS).
    #[serde(default)]
    pub client_cert_file: Option<String>,
    /// The PEM private key of `client_cert_file` (key material: never printed).
    #[serde(default)]
    pub client_key_file: Option<String>,
}

/// [`ProviderTarget`] as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderTargetFile {
    #[serde(default)]
    hosts: IndexMap<String, HostEntry>,
    #[serde(default)]
    paths: IndexMap<String, String>,
    #[serde(default)]
    variables: IndexMap<String, String>,
    #[serde(default)]
    secrets: IndexMap<String, SecretSource>,
}

impl From<ProviderTargetFile> for ProviderTarget {
    fn from(file: ProviderTargetFile) -> Self {
        let allow_plain_http = file
            .hosts
            .iter()
            .filter(|(_, entry)| entry.allow_plain_http)
            .map(|(name, _)| name.clone())
            .collect();
        let tls_files = file
            .hosts
            .iter()
            .filter_map(|(name, entry)| Some((name.clone(), entry.tls.clone()?)))
            .collect();
        Self {
            hosts: file
                .hosts
                .into_iter()
                .map(|(name, entry)| (name, entry.spec))
                .collect(),
            paths: file.paths,
            variables: file.variables,
            defaulted: BTreeSet::new(),
            secrets: file.secrets,
            allow_plain_http,
            tls_files,
            tls: IndexMap::new(),
        }
    }
}

/// A host entry as written: `{ url: … }` (optionally with `allow_plain_http: true`, or with
/// `tls: { … }` for an `https://` URL) or `{ mock: … }`. Hand-written because the opt-in rides along the choice, which the single-key
/// form of [`HostSpec`] cannot carry.
struct HostEntry {
    spec: HostSpec,
    allow_plain_http: bool,
    tls: Option<TlsFiles>,
}

const HOST_KEYS: &[&str] = &["url", "mock", "allow_plain_http", "tls"];

/// A key of a host entry.
enum HostKey {
    Url,
    Mock,
    AllowPlainHttp,
    Tls,
}

/// Reads a host entry's key, refusing a wrong one while the deserializer points at it (so the
/// error is located at the key, not at the entry): an unknown key, a second of `url`/`mock`, and
/// `allow_plain_http` next to `mock`.
struct HostKeySeed<'a> {
    spec: Option<&'a HostSpec>,
    allow_plain_http: bool,
    tls: bool,
}

impl<'de> de::DeserializeSeed<'de> for HostKeySeed<'_> {
    type Value = HostKey;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<HostKey, D::Error> {
        d.deserialize_str(self)
    }
}

impl de::Visitor<'_> for HostKeySeed<'_> {
    type Value = HostKey;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("one of `url`, `mock`, `allow_plain_http`, `tls`")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<HostKey, E> {
        let not_for_mock =
            "`allow_plain_http` is for `url` hosts: an embedded mock is always on loopback";
        let tls_not_for_mock =
            "`tls` is for `url: https://…` hosts: an embedded mock speaks plain HTTP on loopback";
        match key {
            "url" | "mock" if self.spec.is_some() => Err(E::custom(
                "a host is either `url: …` or `mock: …`, not both",
            )),
            "url" => Ok(HostKey::Url),
            "mock" if self.allow_plain_http => Err(E::custom(not_for_mock)),
            "mock" if self.tls => Err(E::custom(tls_not_for_mock)),
            "mock" => Ok(HostKey::Mock),
            "allow_plain_http" if matches!(self.spec, Some(HostSpec::Mock(_))) => {
                Err(E::custom(not_for_mock))
            }
            "allow_plain_http" => Ok(HostKey::AllowPlainHttp),
            "tls" if matches!(self.spec, Some(HostSpec::Mock(_))) => {
                Err(E::custom(tls_not_for_mock))
            }
            "tls" => Ok(HostKey::Tls),
            other => Err(E::unknown_field(other, HOST_KEYS)),
        }
    }
}

impl<'de> Deserialize<'de> for HostEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = HostEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`{ url: … }` or `{ mock: … }`")
            }
            // The value is not echoed: a URL written here may carry a password.
            fn visit_str<E: de::Error>(self, _: &str) -> Result<HostEntry, E> {
                Err(E::custom(
                    "expected `{ url: \"https://…\" }` or `{ mock: <host> }`, found a bare string",
                ))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<HostEntry, A::Error> {
                let mut spec = None;
                let mut allow_plain_http = None;
                let mut tls = None;
                loop {
                    let seed = HostKeySeed {
                        spec: spec.as_ref(),
                        allow_plain_http: allow_plain_http.is_some(),
                        tls: tls.is_some(),
                    };
                    match map.next_key_seed(seed)? {
                        None => break,
                        Some(HostKey::Url) => spec = Some(HostSpec::Url(map.next_value()?)),
                        Some(HostKey::Mock) => spec = Some(HostSpec::Mock(map.next_value()?)),
                        Some(HostKey::AllowPlainHttp) => {
                            allow_plain_http = Some(map.next_value::<bool>()?);
                        }
                        Some(HostKey::Tls) => tls = Some(map.next_value::<TlsFiles>()?),
                    }
                }
                let Some(spec) = spec else {
                    return Err(de::Error::custom(
                        "a host needs `url: …` (a live base URL) or `mock: …` (an embedded mock host)",
                    ));
                };
                Ok(HostEntry {
                    spec,
                    allow_plain_http: allow_plain_http.unwrap_or(false),
                    tls,
                })
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<HostEntry, A::Error> {
                let spec = <HostSpec as crate::scenario::tagged::Derived>::derived(
                    de::value::EnumAccessDeserializer::new(data),
                )?;
                Ok(HostEntry {
                    spec,
                    allow_plain_http: false,
                    tls: None,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
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
        let mut target = Self::parse(Path::new("targets/mock.yaml"), MOCK_TARGET_YAML)
            .expect("the embedded mock target is valid (checked by a unit test)");
        target.embedded = true;
        target
    }

    /// Returns true for the embedded default target.
    pub fn is_embedded(&self) -> bool {
        self.embedded
    }

    /// Returns an error about this target at `path` inside it (line and column when known).
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> LoadError {
        let spans = SpanIndex::build(&self.text);
        hide_userinfo(
            LoadError::new(InputKind::Target, &self.file, message).at(&spans, &self.text, path),
        )
    }

    /// Reads and checks a target file.
    pub fn load(file: &Path) -> Result<Self, Vec<LoadError>> {
        let text = crate::diagnostic::read_input(InputKind::Target, file).map_err(|e| {
            let mut error = hide_userinfo(*e);
            // The line of an inline value is not shown: it may hold a (mock) secret.
            if error
                .source_line
                .as_deref()
                .is_some_and(|l| l.contains("value:"))
            {
                error.source_line = None;
            }
            vec![error]
        })?;
        Self::parse(file, &text)
    }

    /// Parses and checks a target from text.
    pub fn parse(file: &Path, text: &str) -> Result<Self, Vec<LoadError>> {
        let mut target: Target = parse_yaml(InputKind::Target, file, text).map_err(|errors| {
            errors
                .into_iter()
                .map(hide_secret_values)
                .map(hide_userinfo)
                .collect::<Vec<_>>()
        })?;
        target.file = file.to_owned();
        target.text = text.to_owned();
        let mut errors = Vec::new();
        let spans = SpanIndex::build(text);
        let err = |path: String, message: String| {
            LoadError::new(InputKind::Target, file, message).at(&spans, text, path)
        };
        if target.limits.request_timeout.0.is_zero() {
            errors.push(err(
                "limits.request_timeout".into(),
                "`request_timeout: 0s` would end every exchange before it starts: give a duration above 0s, like `30s`".into(),
            ));
        }
        for (name, source) in &target.sources {
            match (&source.bind, &source.proxy) {
                (Some(_), Some(_)) | (None, None) => errors.push(err(
                    format!("sources.{name}"),
                    "a source is either `bind: <address>` or `proxy: <url>`".into(),
                )),
                (None, Some(proxy)) => match url::Url::parse(proxy) {
                    Err(_) => errors.push(err(
                        format!("sources.{name}.proxy"),
                        format!("invalid proxy URL `{proxy}`"),
                    )),
                    // A target file holds no secret values, and the proxy URL is shown in the
                    // evidence's source list.
                    Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                        errors.push(err(
                            format!("sources.{name}.proxy"),
                            "a proxy URL cannot carry credentials (`user:password@`): a target file holds no secret values; use a proxy that admits the test host by its address".into(),
                        ))
                    }
                    Ok(_) => {}
                },
                _ => {}
            }
        }
        if target
            .limits
            .propagation
            .is_some_and(|propagation| propagation.0.is_zero())
        {
            errors.push(err(
                "limits.propagation".into(),
                "`propagation: 0s` would give polling no time at all: give the longest time this environment takes to apply a change, like `10s`".into(),
            ));
        }
        for (i, exclusion) in target.property.except.iter().enumerate() {
            let at = format!("property.except[{i}]");
            let kind = exclusion.kind.as_str();
            let known: Vec<&str> = match exclusion.family {
                Some(family) => family.kinds().to_vec(),
                None => {
                    let mut all: Vec<&str> = crate::scenario::model::PropertyFamily::ALL
                        .iter()
                        .flat_map(|f| f.kinds().iter().copied())
                        .collect();
                    all.sort_unstable();
                    all.dedup();
                    all
                }
            };
            if !known.contains(&kind) {
                let of = exclusion.family.map_or("any family".to_owned(), |f| {
                    format!("family `{}`", f.as_str())
                });
                errors.push(err(
                    format!("{at}.kind"),
                    format!(
                        "unknown kind `{kind}` for {of}: expected one of {}",
                        known
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if exclusion.because.trim().is_empty() {
                errors.push(err(
                    format!("{at}.because"),
                    format!(
                        "say why `{kind}` is left out: the reports show the reason beside every kind not tried"
                    ),
                ));
            }
        }
        let folder = match file.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut host_tls = Vec::new();
        for (provider, config) in &target.providers {
            for (name, files) in &config.tls_files {
                let at = format!("providers.{provider}.hosts.{name}.tls");
                let url = match &config.hosts[name] {
                    HostSpec::Url(url) => url,
                    HostSpec::Mock(_) => continue,
                };
                match load_host_tls(&folder, url, files) {
                    Ok(Some(tls)) => {
                        // Requests are matched to settings by origin: one origin, one set.
                        let other = host_tls.iter().find(|(_, _, other, other_files)| {
                            crate::net::HostTls::origin(other) == tls.origin()
                                && other_files != files
                        });
                        if let Some((other_provider, other_host, _, _)) = other {
                            errors.push(err(
                                at,
                                format!(
                                    "`providers.{other_provider}.hosts.{other_host}` has the same origin ({}) with other `tls` settings: requests are matched to settings by origin, so give both the same",
                                    tls.origin()
                                ),
                            ));
                            continue;
                        }
                        host_tls.push((provider.clone(), name.clone(), tls, files.clone()));
                    }
                    Ok(None) => {}
                    Err((key, message)) => errors.push(err(
                        match key {
                            Some(key) => format!("{at}.{key}"),
                            None => at,
                        },
                        message,
                    )),
                }
            }
            for (name, path) in &config.paths {
                if let Err(message) = crate::spec::check_path_value(path) {
                    errors.push(err(format!("providers.{provider}.paths.{name}"), message));
                }
                if config.hosts.contains_key(name) || config.variables.contains_key(name) {
                    errors.push(err(
                        format!("providers.{provider}.paths.{name}"),
                        format!("`{name}` is a path and also a host or a variable"),
                    ));
                }
            }
            for (name, host) in &config.hosts {
                if let HostSpec::Url(u) = host
                    && let Err(message) = check_base_url(
                        u,
                        !config.secrets.is_empty(),
                        config.allow_plain_http.contains(name),
                    )
                {
                    errors.push(err(
                        format!("providers.{provider}.hosts.{name}.url"),
                        message,
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
        for (provider, host, tls, _) in host_tls {
            if let Some(config) = target.providers.get_mut(&provider) {
                config.tls.insert(host, tls);
            }
        }
        if errors.is_empty() {
            Ok(target)
        } else {
            Err(errors.into_iter().map(hide_userinfo).collect())
        }
    }

    /// Returns the TLS settings of every host that has them, for the run's client pool.
    pub fn tls_hosts(&self) -> Vec<crate::net::HostTls> {
        self.providers
            .values()
            .flat_map(|config| config.tls.values().cloned())
            .collect()
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
                Some(
                    p.hosts
                        .keys()
                        .chain(p.paths.keys())
                        .chain(p.variables.keys())
                        .cloned()
                        .collect(),
                ),
                Some(p.secrets.keys().cloned().collect()),
            ),
            None => (None, None),
        }
    }

    /// Fills [`Names`] for `provider` from this target alone: what it supplies and its sources,
    /// for checking a scenario against a target without its spec (the planner checks against the
    /// spec's `inputs` instead).
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

/// Checks a live base URL: absolute `https://` (or `http://`), without credentials, and not plain
/// `http://` to a host off this machine when the provider has secrets, unless the host opts in.
/// The message never quotes the URL: it may hold a password.
fn check_base_url(text: &str, has_secrets: bool, allow_plain_http: bool) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| {
        format!("invalid base URL ({e}): expected an absolute URL like `https://api.example.com`")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "a base URL is `https://…` (or `http://…`), not `{}:`: expected a URL like `https://api.example.com`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("a base URL cannot carry credentials (`user:password@`): it would be printed in every transcript and sent as Basic credentials; declare them under `secrets` and send them with `auth`".into());
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    if url.scheme() == "http" && has_secrets && !loopback && !allow_plain_http {
        return Err(format!(
            "plain `http://` would send this provider's secrets unencrypted to `{}`: use `https://`, or add `allow_plain_http: true` to this host entry if that network is trusted",
            url.host_str().unwrap_or_default()
        ));
    }
    if url.scheme() == "https" && allow_plain_http {
        return Err(
            "`allow_plain_http: true` is for an `http://` URL: remove it from this `https://` host"
                .into(),
        );
    }
    Ok(())
}

/// Reads and builds a host's TLS settings, its files relative to `folder`. `Ok(None)` when the
/// URL is invalid (reported at `url`); an error names the key at fault (`None`: the `tls` entry
/// itself) and the file, never a byte of it.
fn load_host_tls(
    folder: &Path,
    url: &str,
    files: &TlsFiles,
) -> Result<Option<crate::net::HostTls>, (Option<&'static str>, String)> {
    use crate::net::{ClientIdentity, HostTls, TlsSetting};
    let Ok(parsed) = url::Url::parse(url) else {
        return Ok(None);
    };
    if parsed.scheme() != "https" {
        return Err((
            None,
            format!(
                "`tls` is for an `https://` host, and this one is `{}:`: remove `tls`, or use `https://`",
                parsed.scheme()
            ),
        ));
    }
    let (ca, cert, key) = (
        files.ca_file.as_deref(),
        files.client_cert_file.as_deref(),
        files.client_key_file.as_deref(),
    );
    match (ca, cert, key) {
        (None, None, None) => {
            return Err((
                None,
                "an empty `tls` changes nothing: give `ca_file` (the CA bundle this host is trusted by), `client_cert_file` with `client_key_file` (mTLS), or both".into(),
            ));
        }
        (_, Some(_), None) => {
            return Err((
                Some("client_cert_file"),
                "`client_cert_file` needs `client_key_file`, the certificate's private key".into(),
            ));
        }
        (_, None, Some(_)) => {
            return Err((
                Some("client_key_file"),
                "`client_key_file` needs `client_cert_file`, the certificate the key belongs to"
                    .into(),
            ));
        }
        _ => {}
    }
    let roots = ca
        .map(|ca| crate::net::read_pem_certificates(&folder.join(ca)))
        .transpose()
        .map_err(|e| (Some("ca_file"), e))?;
    let client = match (cert, key) {
        (Some(cert), Some(key)) => Some(ClientIdentity {
            chain: crate::net::read_pem_certificates(&folder.join(cert))
                .map_err(|e| (Some("client_cert_file"), e))?,
            key: crate::net::read_pem_private_key(&folder.join(key))
                .map_err(|e| (Some("client_key_file"), e))?,
        }),
        _ => None,
    };
    HostTls::new(parsed.origin(), roots, client)
        .map(Some)
        .map_err(|(setting, message)| {
            let key = match setting {
                TlsSetting::CaFile => "ca_file",
                TlsSetting::ClientCertFile => "client_cert_file",
                TlsSetting::ClientKeyFile => "client_key_file",
            };
            (Some(key), message)
        })
}

/// Masks the password of any `scheme://user:password@` in an error's message and source line.
fn hide_userinfo(mut error: LoadError) -> LoadError {
    let pattern =
        regex::Regex::new(r#"(://[^/?#@\s:"']*):[^\s"']*@"#).expect("a valid regular expression");
    error.message = pattern
        .replace_all(&error.message, "$1:[hidden]@")
        .into_owned();
    if let Some(line) = &error.source_line {
        error.source_line = Some(pattern.replace_all(line, "$1:[hidden]@").into_owned());
    }
    error
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
        // Both say what is wrong without quoting the value.
        if !error.message.starts_with("inline secret values")
            && !error.message.starts_with("duplicate key")
        {
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
    use crate::diagnostic::LoadErrors;

    #[test]
    fn the_embedded_mock_target_is_valid() {
        let target = Target::parse(Path::new("targets/mock.yaml"), MOCK_TARGET_YAML)
            .unwrap_or_else(|e| panic!("{}", crate::diagnostic::LoadErrors(e)));
        assert!(target.is_virtual());
        assert!(target.sources.contains_key("unallowlisted"));
    }

    /// A target's left-out kinds apply to the family named, or to every family having the
    /// kind when none is; a kind the family does not have is not among its exclusions.
    #[test]
    fn left_out_kinds_apply_to_their_family_or_every_family_having_them() {
        use crate::scenario::model::PropertyFamily;
        let yaml = "name: live\nclock: real\nproperty:\n  except:\n    - { kind: wrong-password, because: lockout }\n    - { kind: truncated, family: api_key, because: slow }\n";
        let target = Target::parse(Path::new("live.yaml"), yaml)
            .unwrap_or_else(|e| panic!("{}", LoadErrors(e)));
        let excluded = |family| target.property.excluded(family).collect::<Vec<_>>();
        assert_eq!(
            excluded(PropertyFamily::TokenRequest),
            [("wrong-password", "lockout")]
        );
        assert_eq!(
            excluded(PropertyFamily::Basic),
            [("wrong-password", "lockout")]
        );
        assert_eq!(excluded(PropertyFamily::ApiKey), [("truncated", "slow")]);
        assert!(excluded(PropertyFamily::Bearer).is_empty());
    }

    fn live_target(hosts: &str, secrets: bool) -> Result<Target, String> {
        let secrets = if secrets {
            "    secrets:\n      password: { env: DEMO_PASSWORD }\n"
        } else {
            ""
        };
        let yaml =
            format!("name: live\nclock: real\nproviders:\n  demo:\n    hosts:\n{hosts}{secrets}");
        Target::parse(Path::new("live.yaml"), &yaml)
            .map_err(|e| crate::diagnostic::LoadErrors(e).render())
    }

    #[test]
    fn base_urls_must_be_absolute_http_urls() {
        for (url, expected) in [
            ("api", "invalid base URL"),
            ("ftp://files.example", "not `ftp:`"),
            ("localhost:8080", "not `localhost:`"),
        ] {
            let rendered =
                live_target(&format!("      api: {{ url: \"{url}\" }}\n"), false).expect_err(url);
            assert!(rendered.contains("live.yaml:6:19"), "{url}: {rendered}");
            assert!(rendered.contains(expected), "{url}: {rendered}");
        }
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_without_printing_the_password() {
        for url in [
            "http://admin:s3cr3t-PW@api.example",
            "https://admin:s3cr3t-PW@api.example/v1",
            "https://admin:s3cr3t/PW@api.example",
        ] {
            let rendered =
                live_target(&format!("      api: {{ url: \"{url}\" }}\n"), false).expect_err(url);
            assert!(rendered.contains("live.yaml:6:19"), "{url}: {rendered}");
            assert!(
                rendered.contains("cannot carry credentials")
                    || rendered.contains("invalid base URL"),
                "{url}: {rendered}"
            );
            assert!(!rendered.contains("s3cr3t"), "{url}: {rendered}");
        }
    }

    #[test]
    fn credentials_in_a_proxy_url_are_refused_without_printing_the_password() {
        let yaml = "name: live\nclock: real\nsources:\n  egress: { proxy: \"http://user:pr0xy-PW@proxy.example:3128\" }\n";
        let errors = Target::parse(Path::new("live.yaml"), yaml).expect_err("refused");
        let rendered = LoadErrors(errors).render();
        assert!(rendered.contains("live.yaml:4:20"), "{rendered}");
        assert!(rendered.contains("cannot carry credentials"), "{rendered}");
        assert!(!rendered.contains("pr0xy-PW"), "{rendered}");
        let plain = "name: live\nclock: real\nsources:\n  egress: { proxy: \"http://proxy.example:3128\" }\n";
        Target::parse(Path::new("live.yaml"), plain).expect("a proxy without credentials");
    }

    #[test]
    fn plain_http_with_secrets_needs_loopback_or_the_opt_in() {
        let refused = live_target("      api: { url: \"http://10.0.0.5:8080\" }\n", true)
            .expect_err("plain http to a LAN host with secrets");
        assert!(refused.contains("live.yaml:6:19"), "{refused}");
        assert!(refused.contains("allow_plain_http: true"), "{refused}");
        // Without secrets there is nothing to leak.
        live_target("      api: { url: \"http://10.0.0.5:8080\" }\n", false).unwrap();
        for host in [
            "127.0.0.1:9000",
            "127.3.2.1",
            "[::1]:9000",
            "localhost:9000",
        ] {
            live_target(&format!("      api: {{ url: \"http://{host}\" }}\n"), true)
                .unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        let allowed = live_target(
            "      api: { url: \"http://10.0.0.5:8080\", allow_plain_http: true }\n      tls: { url: \"https://api.example\" }\n",
            true,
        )
        .unwrap();
        let demo = &allowed.providers["demo"];
        assert_eq!(demo.allow_plain_http.iter().collect::<Vec<_>>(), ["api"]);
        assert!(matches!(&demo.hosts["api"], HostSpec::Url(u) if u == "http://10.0.0.5:8080"));
        let pointless = live_target(
            "      api: { url: \"https://api.example\", allow_plain_http: true }\n",
            true,
        )
        .expect_err("opt-in on https");
        assert!(pointless.contains("is for an `http://` URL"), "{pointless}");
    }

    #[test]
    fn zero_request_timeout_is_refused_at_its_value() {
        let yaml = "name: t\nclock: real\nlimits: { request_timeout: 0s }\n";
        let errors = Target::parse(Path::new("t.yaml"), yaml).unwrap_err();
        let rendered = crate::diagnostic::LoadErrors(errors).render();
        assert!(rendered.contains("t.yaml:3:28"), "{rendered}");
        assert!(rendered.contains("`request_timeout: 0s`"), "{rendered}");
    }

    /// Writes a self-signed CA certificate at `file`.
    fn write_ca(file: &Path) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        std::fs::write(file, params.self_signed(&key).unwrap().pem()).unwrap();
    }

    #[test]
    fn tls_files_are_relative_to_the_target_and_one_origin_has_one_setting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("live")).unwrap();
        write_ca(&dir.path().join("ca.pem"));
        write_ca(&dir.path().join("other-ca.pem"));
        let file = dir.path().join("live/target.yaml");
        let target = |second_ca: &str| {
            format!(
                "name: live\nclock: real\nproviders:\n  demo:\n    hosts:\n      \
                 a: {{ url: \"https://localhost:7411\", tls: {{ ca_file: ../ca.pem }} }}\n      \
                 b: {{ url: \"https://localhost:7411/v2\", tls: {{ ca_file: {second_ca} }} }}\n      \
                 c: {{ url: \"https://127.0.0.1:7411\", tls: {{ ca_file: ../other-ca.pem }} }}\n"
            )
        };
        let loaded = Target::parse(&file, &target("../ca.pem"))
            .unwrap_or_else(|e| panic!("{}", LoadErrors(e)));
        let origins: Vec<String> = loaded.tls_hosts().iter().map(|t| t.origin()).collect();
        assert_eq!(
            origins,
            [
                "https://localhost:7411",
                "https://localhost:7411",
                "https://127.0.0.1:7411"
            ]
        );
        let errors = Target::parse(&file, &target("../other-ca.pem")).unwrap_err();
        let rendered = LoadErrors(errors).render();
        assert!(rendered.contains("target.yaml:7:"), "{rendered}");
        assert!(
            rendered
                .contains("`providers.demo.hosts.a` has the same origin (https://localhost:7411)"),
            "{rendered}"
        );
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
