//! Embedded mock providers: each documented provider behaviour emulated on wiremock servers, each
//! host behind its own TCP [`front`] that decides source-IP rules from the real peer address, all
//! reading the scenario's [`VirtualClock`](crate::clock::VirtualClock).
//!
//! Mocks get fake credentials from the target's secrets, compare presented credentials in constant
//! time, and never print what they receive. A mock can be started with named deviations (documented
//! behaviour deliberately broken) so tests can prove the scenarios catch them.
//!
//! Every mock is built on the shared [`kit`]: wiremock routes with stateful responders, reply
//! builders, the OAuth token endpoint, typed deviations, random ids and CIDR blocks.
//!
//! Nothing else in the crate names these providers: [`builtin`] lists them in a
//! [`MockRegistry`], which the binary and the test harness hand to the planner and the runner.

pub mod demo;
pub mod electrum;
pub mod front;
pub mod kit;
pub mod monerium;
pub mod pledg;
pub mod silverflow;
pub mod we_platform;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use crate::registry::{MockConfig, RunningMock};
use crate::registry::{MockProvider, MockRegistry};

/// Returns the registry of the embedded mocks, one entry per provider: its name (the folder under
/// `scenarios/`), its module's `HOSTS` and `DEVIATIONS`, and its `start`.
pub fn builtin() -> MockRegistry {
    MockRegistry::new()
        .with(MockProvider::new(
            "demo",
            demo::HOSTS,
            demo::DEVIATIONS,
            demo::start,
        ))
        .with(
            MockProvider::new(
                "electrum",
                electrum::HOSTS,
                electrum::DEVIATIONS,
                electrum::start,
            )
            .with_conformant(electrum::CONFORMANT),
        )
        .with(
            MockProvider::new("pledg", pledg::HOSTS, pledg::DEVIATIONS, pledg::start)
                .with_conformant(pledg::CONFORMANT),
        )
        .with(
            MockProvider::new(
                "monerium",
                monerium::HOSTS,
                monerium::DEVIATIONS,
                monerium::start,
            )
            .with_conformant(monerium::CONFORMANT),
        )
        .with(
            MockProvider::new(
                "silverflow",
                silverflow::HOSTS,
                silverflow::DEVIATIONS,
                silverflow::start,
            )
            .with_conformant(silverflow::CONFORMANT),
        )
        .with(MockProvider::new(
            "we-platform",
            we_platform::HOSTS,
            we_platform::DEVIATIONS,
            we_platform::start,
        ))
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
    use std::collections::HashMap;
    use std::future::Future as _;
    use std::sync::Arc;

    use super::*;
    use crate::clock::VirtualClock;

    /// The embedded mock target configures exactly the providers the built-in registry has, and
    /// names only hosts their mocks serve.
    #[test]
    fn the_builtin_registry_matches_the_embedded_mock_target() {
        let registry = builtin();
        let target = crate::Target::mock();
        let in_registry: Vec<&str> = registry.providers().map(|p| p.name()).collect();
        let mut in_target: Vec<&str> = target.providers.keys().map(String::as_str).collect();
        in_target.sort_unstable();
        assert_eq!(in_registry, in_target);
        for (provider, config) in &target.providers {
            let hosts = registry.get(provider).expect("an entry").hosts();
            for host in config.hosts.values() {
                let crate::target::HostSpec::Mock(name) = host else {
                    panic!("`{provider}` has a live host in the embedded mock target");
                };
                assert!(hosts.contains(name), "`{provider}` has no host `{name}`");
            }
        }
    }

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
                    let entry = builtin().get(&name).cloned().ok_or("no entry")?;
                    let mut mock = Some(entry.start(config).await?);
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

    /// A variant name means one thing: a deviation the scenarios must catch, or a conformant
    /// choice they must pass.
    #[test]
    fn no_variant_is_both_a_deviation_and_a_conformant_choice() {
        for mock in builtin().providers() {
            for name in mock.conformant() {
                assert!(
                    !mock.deviations().contains(name),
                    "`{}`: `{name}` is listed as both",
                    mock.name()
                );
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
