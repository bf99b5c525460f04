//! authconform: proves, per documented requirement, that an API enforces authentication as its
//! documentation says, against live endpoints or embedded mock providers.
//!
//! ```text
//! specs/*.yaml ─┐
//!               ├─► plan::load_plan (ids resolve, names defined, coverage) ─► Plan
//! scenarios/ ───┘                                                            │
//! targets/X.yaml ─► Target (hosts, sources, secrets, clock, limits) ─────────┤
//! mock::builtin() ─► registry::MockRegistry (handed in: mock host names) ────┤
//!                                                                            ▼
//!              exec::Runner: steps → auth → net (reqwest) → Outcome → checks
//!                     │                                  ▲
//!                     └─ per scenario on mock targets: the registry entry's start
//!                        (front + wiremock, VirtualClock)
//!                                                                            ▼
//!              ScenarioResult (redacted) ─► report: console · JUnit · evidence JSON · summary.md
//! ```
//!
//! The planner and the runner know no provider by name: the caller hands both a
//! [`registry::MockRegistry`], the embedded mocks' being [`mock::builtin`].
//!
//! Loading is the only stage that returns `Err`; running always yields a verdict: pass, fail
//! (an expectation not met), error (could not run) or skipped (with its reason).

pub mod auth;
pub mod cli;
pub mod clock;
pub mod diagnostic;
pub mod exec;
pub mod input;
pub mod mock;
pub mod net;
pub mod plan;
pub mod property;
pub mod registry;
pub mod report;
pub mod run;
pub mod scenario;
pub mod secret;
pub mod spec;
pub mod target;
pub mod waiver;

pub use exec::{Runner, ScenarioResult, Verdict};
pub use plan::{Plan, PlannedScenario, load_plan};
pub use registry::MockRegistry;
pub use target::Target;
