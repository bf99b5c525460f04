//! The scenario format: YAML files under `scenarios/<provider>/<flow>.yaml`, each a list of
//! scenarios tracing to requirement ids. This layer has no tokio and no reqwest: it reads, checks
//! and describes; `exec` runs.

pub mod load;
pub mod model;
pub mod tagged;
pub mod template;

pub use model::{Scenario, ScenarioFile, Step};
pub use template::{Template, VarRef};
