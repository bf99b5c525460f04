//! The embedded Silverflow mock (being written).

use super::{MockConfig, RunningMock};

/// The mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
pub const DEVIATIONS: &[&str] = &[];

/// Starts the mock.
pub async fn start(_config: MockConfig) -> Result<RunningMock, String> {
    Err("the Silverflow mock is not written yet".into())
}
