//! The audit evidence of a run: what was checked, against what, when, with what result, and the
//! redacted transcripts that prove it — [`Evidence`], written as `reports/evidence.json`.
//!
//! The document is versioned ([`SCHEMA_VERSION`]) and documented in `docs/evidence.md` with its
//! JSON Schema (`docs/evidence.schema.json`). Every scenario record carries the SHA-256 of its own
//! canonical form, and [`Manifest`] the SHA-256 of the whole report, so `authconform verify`
//! can tell an auditor whether a byte of it changed since the run wrote it.
//!
//! Nothing in here is a secret: every text comes from [`ScenarioResult`](crate::exec::ScenarioResult)s,
//! already redacted, and is redacted once more through the run's
//! [`SecretRegistry`](crate::secret::SecretRegistry) when the evidence is built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `schema` value of this version of the evidence format.
pub const SCHEMA_VERSION: &str = "authconform.evidence/1";

/// One run's evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// [`SCHEMA_VERSION`].
    pub schema: String,
    /// What ran, where, when, on what inputs.
    pub run: RunInfo,
    /// The traceability matrix: every requirement of the loaded specs, the scenarios citing it
    /// and what they showed. Requirements no scenario ran for are `not-verified`.
    pub requirements: Vec<RequirementRecord>,
    /// Every selected scenario, in plan order, including skipped and not-run ones.
    pub scenarios: Vec<ScenarioRecord>,
    /// The hashes that make tampering evident.
    pub manifest: Manifest,
}

/// The run itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// `authconform`.
    pub tool: String,
    /// The crate version that ran.
    pub tool_version: String,
    /// The git commit of the scenarios' checkout, when there is one.
    pub git_commit: Option<String>,
    /// The machine that ran it (host name).
    pub host: String,
    /// Start, UTC, RFC 3339.
    pub started: String,
    /// End, UTC, RFC 3339.
    pub finished: String,
    /// False when the run was interrupted: `not-run` scenarios did not run.
    pub complete: bool,
    /// Why the run is incomplete (e.g. `interrupted (SIGINT)`).
    pub incomplete_reason: Option<String>,
    /// The target the scenarios ran against.
    pub target: TargetInfo,
    /// SHA-256 of every spec and scenario file the plan was loaded from.
    pub inputs: Vec<InputFile>,
    /// Counts of scenario verdicts.
    pub totals: Totals,
}

/// The target, without any secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// The target's `name`.
    pub name: String,
    /// The target's `description`.
    pub description: Option<String>,
    /// `virtual` (embedded mocks) or `real` (live).
    pub clock: String,
    /// Provider → host variable → base URL (for embedded mocks, the loopback URL they ran on in
    /// the first scenario that started them, or `mock:<host>`).
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
    /// Source name → what it binds or proxies through.
    pub sources: BTreeMap<String, String>,
}

/// One input file and its content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputFile {
    /// The path as loaded, relative to the working directory when possible.
    pub path: String,
    /// Lowercase hex SHA-256 of its bytes.
    pub sha256: String,
}

/// Verdict counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totals {
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios whose expectation was not met.
    pub failed: usize,
    /// Scenarios that could not run.
    pub errors: usize,
    /// Scenarios the target could not run, with a reason.
    pub skipped: usize,
    /// Scenarios an interruption kept from running.
    pub not_run: usize,
}

/// A row of the traceability matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementRecord {
    /// The requirement id (`ELEC-IP-02`).
    pub id: String,
    /// The provider whose spec holds it.
    pub provider: String,
    /// The statement, in our words.
    pub statement: String,
    /// Where it is stated (or why it is assumed).
    pub source: String,
    /// `Doc`, `RFC` or `Assumed`.
    pub kind: String,
    /// `verified` (every scenario citing it passed, at least one ran), `failed` (one failed),
    /// `error` (one could not run, none failed), `skipped` (every one citing it was skipped),
    /// `not-verified` (no scenario cites it, or none of those was selected or ran).
    pub status: String,
    /// The scenarios citing it: trial name and verdict label.
    pub scenarios: Vec<ScenarioRef>,
}

/// A scenario as the matrix cites it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRef {
    /// `provider::file::id`.
    pub trial: String,
    /// `pass`, `fail`, `error`, `skipped` or `not-run`.
    pub verdict: String,
}

/// One scenario's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRecord {
    /// `provider::file::id`.
    pub trial: String,
    /// The provider.
    pub provider: String,
    /// The scenario file, as loaded.
    pub file: String,
    /// The scenario id.
    pub id: String,
    /// The title.
    pub title: String,
    /// `happy` or `negative`.
    pub kind: String,
    /// The requirement ids it verifies.
    pub requirements: Vec<String>,
    /// `pass`, `fail`, `error`, `skipped` or `not-run`.
    pub verdict: String,
    /// The failure or error message, or the skip reason.
    pub message: Option<String>,
    /// The step (1-based) a failure or error happened at.
    pub failed_step: Option<usize>,
    /// Start, UTC, RFC 3339 (absent when it did not run).
    pub started: Option<String>,
    /// Wall-clock duration in milliseconds.
    pub duration_ms: u64,
    /// The steps that ran.
    pub steps: Vec<StepRecord>,
    /// Lowercase hex SHA-256 of this record's canonical JSON with `sha256` set to `""`.
    pub sha256: String,
}

/// One step's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    /// 1-based position in the scenario.
    pub number: usize,
    /// The step's name or description.
    pub name: String,
    /// The checks that held.
    pub passed: Vec<String>,
    /// The checks that did not, with what was found.
    pub failed: Vec<String>,
    /// Why the step could not run.
    pub error: Option<String>,
    /// What a clock step did.
    pub clock: Option<String>,
    /// The HTTP exchanges of the step, in order: auxiliary ones (token fetches) first, then the
    /// step's own.
    pub exchanges: Vec<ExchangeRecord>,
}

/// One HTTP exchange, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRecord {
    /// The method.
    pub method: String,
    /// The URL with its query (redacted).
    pub url: String,
    /// The local address the request left from, when bound (or `proxy <name>`).
    pub source: Option<String>,
    /// Request headers as sent, credentials replaced by `[redacted]`.
    pub request_headers: Vec<(String, String)>,
    /// The start of the request body, credential fields replaced.
    pub request_body: Option<String>,
    /// `response`, `connect-timeout`, `read-timeout`, `refused`, `reset`, `tls` or `other`.
    pub outcome: String,
    /// The status, when a response came.
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// The start of the response body.
    pub response_body: Option<String>,
    /// How long the exchange took, in milliseconds.
    pub elapsed_ms: u64,
}

/// Hashes over the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `sha256`.
    pub algorithm: String,
    /// Lowercase hex SHA-256 of the report's canonical JSON with this field set to `""`.
    pub report_sha256: String,
}
