//! [`MockRegistry`]: the mock providers a run may start, handed to the planner and the runner as
//! data, so neither knows any provider by name.
//!
//! Each [`MockProvider`] entry gives a provider's name, its mock's host names (what a target's
//! `{ mock: <host> }` may name), the deviations it knows, and how to start it on a scenario's
//! clock with the target's fake secrets. The binary and the test harness hand in the built-in
//! registry (`mock::builtin()`); a test can hand in one of its own, with a mock defined next to
//! the test.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::clock::VirtualClock;

/// What a mock provider is started with.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The scenario's clock.
    pub clock: Arc<VirtualClock>,
    /// The provider's secrets from the target (fake values).
    pub secrets: HashMap<String, String>,
    /// Variants to apply, by name (see the provider's entry in the registry): deviations
    /// (documented behaviour deliberately broken) and conformant variants (other choices where
    /// the documentation is silent).
    pub deviations: Vec<String>,
}

impl MockConfig {
    /// Returns a secret the mock needs, or says which is missing.
    pub fn secret(&self, name: &str) -> Result<String, String> {
        self.secrets.get(name).cloned().ok_or_else(|| {
            format!("the target gives no value for secret `{name}`, which the mock needs")
        })
    }

    /// Returns true when `deviation` was asked for.
    pub fn deviates(&self, deviation: &str) -> bool {
        self.deviations.iter().any(|d| d == deviation)
    }

    fn check_deviations(&self, known: &[String]) -> Result<(), String> {
        match self.deviations.iter().find(|d| !known.contains(d)) {
            Some(unknown) if known.is_empty() => Err(format!(
                "unknown deviation `{unknown}`: this mock knows none"
            )),
            Some(unknown) => Err(format!(
                "unknown deviation `{unknown}`: this mock knows `{}`",
                known.join("`, `")
            )),
            None => Ok(()),
        }
    }
}

/// A started mock provider: its hosts' URLs; servers stop when it is dropped.
pub struct RunningMock {
    pub(crate) hosts: HashMap<String, String>,
    pub(crate) _servers: Vec<Box<dyn Any + Send + Sync>>,
}

impl fmt::Debug for RunningMock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningMock")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Drops the servers with tokio's cooperative budget lifted.
///
/// wiremock's `MockServer` drop blocks (`futures::executor::block_on`) on an async lock of tokio's.
/// When a scenario ends inside a task that has spent its budget, as when one future drives many
/// scenarios, tokio answers every poll of that lock with "not ready" plus an immediate wake-up,
/// and the nested executor spins forever. Unconstrained, the lock is taken as soon as it is free.
impl Drop for RunningMock {
    fn drop(&mut self) {
        let servers = std::mem::take(&mut self._servers);
        let mut dropping = std::pin::pin!(tokio::task::unconstrained(async move {
            drop(servers);
        }));
        // The future has no await point: its first poll completes it.
        let _ = dropping
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    }
}

impl RunningMock {
    /// Makes a running mock from its hosts (name → base URL) and whatever must live as long as
    /// it does (servers, fronts); they are dropped with it.
    pub fn new(hosts: HashMap<String, String>, servers: Vec<Box<dyn Any + Send + Sync>>) -> Self {
        Self {
            hosts,
            _servers: servers,
        }
    }

    /// Returns the base URL of host `name`.
    pub fn url(&self, name: &str) -> Option<String> {
        self.hosts.get(name).cloned()
    }
}

/// What starting a mock returns: the running mock, or why it did not start.
pub type StartFuture = Pin<Box<dyn Future<Output = Result<RunningMock, String>> + Send>>;

type StartFn = Arc<dyn Fn(MockConfig) -> StartFuture + Send + Sync>;

/// One provider's mock: its name, host names, deviations and how to start it.
#[derive(Clone)]
pub struct MockProvider {
    name: String,
    hosts: Vec<String>,
    deviations: Vec<String>,
    conformant: Vec<String>,
    start: StartFn,
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .field("deviations", &self.deviations)
            .field("conformant", &self.conformant)
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Describes the mock of provider `name` (the folder name under `scenarios/`): the hosts it
    /// serves, the deviations it knows, and `start`, which starts one instance.
    pub fn new<F, Fut>(name: &str, hosts: &[&str], deviations: &[&str], start: F) -> Self
    where
        F: Fn(MockConfig) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<RunningMock, String>> + Send + 'static,
    {
        Self {
            name: name.to_owned(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
            conformant: Vec::new(),
            start: Arc::new(move |config| Box::pin(start(config))),
        }
    }

    /// Adds the mock's conformant variants: other choices where the documentation is silent,
    /// which the scenarios must pass (or report as differing from an assumption), as its
    /// deviations prove they fail.
    pub fn with_conformant(mut self, variants: &[&str]) -> Self {
        self.conformant = variants.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Returns the provider's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the host names the mock serves.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Returns the deviations the mock knows.
    pub fn deviations(&self) -> &[String] {
        &self.deviations
    }

    /// Returns the conformant variants the mock knows.
    pub fn conformant(&self) -> &[String] {
        &self.conformant
    }

    /// Starts one instance, refusing variants the mock does not know (a misspelt deviation
    /// would otherwise test nothing and pass).
    pub async fn start(&self, config: MockConfig) -> Result<RunningMock, String> {
        let known: Vec<String> = self
            .deviations
            .iter()
            .chain(&self.conformant)
            .cloned()
            .collect();
        config.check_deviations(&known)?;
        (self.start)(config).await
    }
}

/// The mock providers a run may start, by provider name.
#[derive(Debug, Clone, Default)]
pub struct MockRegistry {
    providers: BTreeMap<String, MockProvider>,
}

impl MockRegistry {
    /// Makes an empty registry: every `{ mock: … }` host is then a load error.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `provider`, replacing an entry of the same name (to run a provider on another mock).
    pub fn insert(&mut self, provider: MockProvider) -> Option<MockProvider> {
        self.providers.insert(provider.name.clone(), provider)
    }

    /// Returns the registry with `provider` added (see [`MockRegistry::insert`]).
    pub fn with(mut self, provider: MockProvider) -> Self {
        self.insert(provider);
        self
    }

    /// Returns the mock of `provider`, if the registry has one.
    pub fn get(&self, provider: &str) -> Option<&MockProvider> {
        self.providers.get(provider)
    }

    /// Returns every entry, by provider name.
    pub fn providers(&self) -> impl Iterator<Item = &MockProvider> {
        self.providers.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(deviations: &[&str]) -> MockConfig {
        MockConfig {
            clock: Arc::new(VirtualClock::new()),
            secrets: HashMap::new(),
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn tiny() -> MockProvider {
        MockProvider::new(
            "tiny",
            &["api"],
            &["lenient"],
            |config: MockConfig| async move {
                let url = if config.deviates("lenient") {
                    "http://127.0.0.1:2"
                } else {
                    "http://127.0.0.1:1"
                };
                Ok(RunningMock::new(
                    HashMap::from([("api".to_owned(), url.to_owned())]),
                    Vec::new(),
                ))
            },
        )
    }

    #[tokio::test]
    async fn an_entry_starts_its_mock_with_the_deviations_asked_for() {
        let registry = MockRegistry::new().with(tiny());
        let entry = registry.get("tiny").expect("the entry");
        assert_eq!(entry.hosts(), ["api"]);
        let plain = entry.start(config(&[])).await.expect("starts");
        assert_eq!(plain.url("api").as_deref(), Some("http://127.0.0.1:1"));
        let lenient = entry.start(config(&["lenient"])).await.expect("starts");
        assert_eq!(lenient.url("api").as_deref(), Some("http://127.0.0.1:2"));
        assert!(registry.get("other").is_none());
    }

    #[tokio::test]
    async fn an_unknown_deviation_is_refused_naming_the_known_ones() {
        let error = tiny()
            .start(config(&["lenient", "lenent"]))
            .await
            .expect_err("refused");
        assert_eq!(
            error,
            "unknown deviation `lenent`: this mock knows `lenient`"
        );
    }

    #[test]
    fn inserting_a_provider_again_replaces_it() {
        let mut registry = MockRegistry::new().with(tiny());
        let other = MockProvider::new("tiny", &["web"], &[], |_| async {
            Err::<RunningMock, String>("never started".into())
        });
        assert!(registry.insert(other).is_some());
        assert_eq!(registry.get("tiny").expect("the entry").hosts(), ["web"]);
        assert_eq!(registry.providers().count(), 1);
    }
}
