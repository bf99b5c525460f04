//! Embedded mock providers: each documented provider behaviour emulated on wiremock servers, each
//! host behind its own TCP [`front`] that decides source-IP rules from the real peer address, all
//! reading the scenario's [`VirtualClock`].
//!
//! Mocks get fake credentials from the target's secrets, compare presented credentials in constant
//! time, and never print what they receive. A mock can be started with named deviations (documented
//! behaviour deliberately broken) so tests can prove the scenarios catch them.

pub mod demo;
pub mod electrum;
pub mod front;
pub mod http;
pub mod monerium;
pub mod pledg;
pub mod silverflow;
pub mod we_platform;

use std::any::Any;
use std::collections::HashMap;
use std::future::Future as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::VirtualClock;

/// What a mock provider is started with.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// The scenario's clock.
    pub clock: Arc<VirtualClock>,
    /// The provider's secrets from the target (fake values).
    pub secrets: HashMap<String, String>,
    /// Deviations to apply (see each provider's `DEVIATIONS`).
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

    fn check_deviations(&self, known: &[&str]) -> Result<(), String> {
        match self
            .deviations
            .iter()
            .find(|d| !known.contains(&d.as_str()))
        {
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
    hosts: HashMap<String, String>,
    _servers: Vec<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for RunningMock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
    /// Returns the base URL of host `name`.
    pub fn url(&self, name: &str) -> Option<String> {
        self.hosts.get(name).cloned()
    }
}

/// Returns the host names of provider's embedded mock (empty when there is none).
pub fn host_names(provider: &str) -> &'static [&'static str] {
    match provider {
        "demo" => demo::HOSTS,
        "electrum" => electrum::HOSTS,
        "pledg" => pledg::HOSTS,
        "monerium" => monerium::HOSTS,
        "silverflow" => silverflow::HOSTS,
        "we-platform" => we_platform::HOSTS,
        _ => &[],
    }
}

/// Returns the deviations provider's mock knows.
pub fn deviations(provider: &str) -> &'static [&'static str] {
    match provider {
        "demo" => demo::DEVIATIONS,
        "electrum" => electrum::DEVIATIONS,
        "pledg" => pledg::DEVIATIONS,
        "monerium" => monerium::DEVIATIONS,
        "silverflow" => silverflow::DEVIATIONS,
        "we-platform" => we_platform::DEVIATIONS,
        _ => &[],
    }
}

/// Starts provider's embedded mock.
pub async fn start(provider: &str, config: MockConfig) -> Result<RunningMock, String> {
    config.check_deviations(deviations(provider))?;
    match provider {
        "demo" => demo::start(config).await,
        "electrum" => electrum::start(config).await,
        "pledg" => pledg::start(config).await,
        "monerium" => monerium::start(config).await,
        "silverflow" => silverflow::start(config).await,
        "we-platform" => we_platform::start(config).await,
        _ => Err(format!(
            "there is no embedded mock for provider `{provider}`"
        )),
    }
}

/// Compares a presented credential with the expected one in constant time (over digests, so the
/// length of the expected value does not leak either).
pub fn credential_eq(presented: &[u8], expected: &[u8]) -> bool {
    let a = Sha256::digest(presented);
    let b = Sha256::digest(expected);
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts every embedded mock with its fake secrets from the embedded mock target, then drops
    /// it inside a task whose cooperative budget is spent (as at the end of a scenario in a run
    /// that polls many scenarios in one task): the drop must finish.
    #[test]
    fn stopping_a_mock_with_the_task_budget_spent_does_not_hang() {
        let target = crate::Target::mock();
        for provider in target.providers.keys() {
            let secrets: HashMap<String, String> = target.inline_secrets(provider);
            let (done, finished) = std::sync::mpsc::channel();
            let name = provider.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                let outcome = runtime.block_on(async {
                    let config = MockConfig {
                        clock: Arc::new(VirtualClock::new()),
                        secrets,
                        deviations: Vec::new(),
                    };
                    let mut mock = Some(start(&name, config).await?);
                    let semaphore = tokio::sync::Semaphore::new(1);
                    std::future::poll_fn(|cx| {
                        for _ in 0..1000 {
                            let mut acquire = std::pin::pin!(semaphore.acquire());
                            let _ = acquire.as_mut().poll(cx);
                        }
                        drop(mock.take());
                        std::task::Poll::Ready(())
                    })
                    .await;
                    Ok::<(), String>(())
                });
                let _ = done.send(outcome);
            });
            match finished.recv_timeout(std::time::Duration::from_secs(10)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("the `{provider}` mock did not start: {e}"),
                Err(_) => {
                    panic!("dropping the `{provider}` mock hangs once the task's budget is spent")
                }
            }
        }
    }

    #[test]
    fn credential_comparison() {
        assert!(credential_eq(b"secret", b"secret"));
        assert!(!credential_eq(b"secret", b"secreT"));
        assert!(!credential_eq(b"", b"secret"));
    }
}
