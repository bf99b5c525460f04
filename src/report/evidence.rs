//! The audit evidence of a run: what was checked, against what, when, with what result, and the
//! redacted transcripts that prove it — [`Evidence`], written as `reports/evidence.json`.
//!
//! The document is versioned ([`SCHEMA_VERSION`]) and documented in `docs/evidence.md` with its
//! JSON Schema (`docs/evidence.schema.json`). Every scenario record carries the SHA-256 of its own
//! canonical form, and [`Manifest`] the SHA-256 of the whole report, so `authconform verify`
//! can tell an auditor whether a byte of it changed since the run wrote it.
//!
//! [`build`] is pure: what needs the file system, git or a clock comes in [`RunFacts`], which
//! the caller gathers ([`RunFacts::gather`]). The words of the format (verdicts, statuses,
//! outcome classes, requirement kinds, clocks) are enums, read strictly.
//!
//! Nothing in here is a secret: every text comes from [`ScenarioResult`](crate::exec::ScenarioResult)s,
//! already redacted, and is redacted once more through the run's
//! [`SecretRegistry`](crate::secret::SecretRegistry) when the evidence is built.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use crate::exec::result::OutcomeClass;
use crate::exec::{ScenarioResult, StepResult, Transcript, Verdict};
use crate::plan::{Plan, PlannedScenario};
pub use crate::scenario::model::ScenarioKind;
use crate::secret::SecretRegistry;
pub use crate::spec::RequirementKind;
use crate::target::{ClockKind, HostSpec, Target};

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
    /// SHA-256 of the target, spec and scenario files the plan was loaded from.
    pub inputs: Vec<InputFile>,
    /// Counts of scenario verdicts.
    pub totals: Totals,
    /// Whether the run was `--strict` (a scenario differing from an assumption failed it);
    /// absent from reports written before runs recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// The test run (`cargo nextest run`, one process per trial) this report is a trial record
    /// of, by its run id; in a merged report, the one its records share. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_run_id: Option<String>,
    /// The reports a merged report was assembled from (`authconform merge`), in the order their
    /// scenario records follow one another; absent from a run's own report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedInput>,
    /// Waivers to review: expired ones (they failed the run) and unused ones (a warning; they
    /// failed a `--strict` run); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiver_problems: Vec<WaiverProblemRecord>,
}

/// A waiver the run reports on its own: expired or unused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverProblemRecord {
    /// `expired` or `unused`.
    pub problem: WaiverProblem,
    /// The requirement id or trial name the waiver names.
    pub covers: String,
    /// Who answers for it.
    pub owner: String,
    /// Why the deviation was accepted.
    pub reason: String,
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
}

/// Why a waiver is listed in `run.waiver_problems`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaiverProblem {
    /// `expired`: its date is past, so it failed the run.
    Expired,
    /// `unused`: its scenarios ran and none failed, so it can be removed.
    Unused,
}

/// One report a merged report was assembled from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedInput {
    /// The file as named on the command line.
    pub file: String,
    /// Its `manifest.report_sha256`, which `authconform verify FILE --sha256` checks it against.
    pub report_sha256: String,
    /// Its `run.git_commit`.
    pub git_commit: Option<String>,
    /// Its `run.host`.
    pub host: String,
    /// Its `run.started`.
    pub started: String,
    /// Its `run.finished`.
    pub finished: String,
    /// Its `run.complete`.
    pub complete: bool,
    /// Its `run.target`.
    pub target: TargetInfo,
    /// Its `run.totals`.
    pub totals: Totals,
    /// Its `run.test_run_id`: inputs of one test run are one run to the matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_run_id: Option<String>,
    /// The index in the merged `scenarios` of its first scenario record.
    pub first_scenario: usize,
    /// How many scenario records it contributed (all of its own).
    pub scenario_count: usize,
}

/// The target, without any secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInfo {
    /// The target's `name`.
    pub name: String,
    /// The target's `description`.
    pub description: Option<String>,
    /// `virtual` (embedded mocks) or `real` (live); `mixed` in a merged report of both.
    pub clock: Clock,
    /// Provider → host variable → base URL (for embedded mocks, the loopback URL they ran on in
    /// the first scenario that started them, or `mock:<host>`).
    pub hosts: BTreeMap<String, BTreeMap<String, String>>,
    /// Source name → what it binds or proxies through.
    pub sources: BTreeMap<String, String>,
    /// Provider → host variables whose `http://` URL was allowed to carry secrets unencrypted
    /// (`allow_plain_http: true`); absent when no host opts in.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allow_plain_http: BTreeMap<String, Vec<String>>,
    /// Provider → path or variable the target left out → the spec's default the run used;
    /// absent when the target supplies every defaulted input.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaulted: BTreeMap<String, BTreeMap<String, String>>,
    /// The target's `limits.propagation` (`10s`), which replaced the documented bound of
    /// `eventually: { propagation: true }` windows; absent when the target states none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Provider → `https://` host variable → the TLS session its requests showed (the first
    /// response from the host's origin, in plan order); absent when no host was reached over TLS.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tls: BTreeMap<String, BTreeMap<String, TlsObserved>>,
}

/// What a host showed over TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsObserved {
    /// The protocol version negotiated: `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// Lowercase hex SHA-256 of the server's end-entity certificate (DER).
    pub peer_certificate_sha256: String,
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
    /// Scenarios whose documented checks held but an assumed one did not; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub differs_from_assumption: usize,
    /// Scenarios whose failure a waiver covers; absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waived: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
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
    #[serde(serialize_with = "serialize_kind")]
    pub kind: RequirementKind,
    /// `failed` (a scenario citing it failed), else `error` (one could not run), else
    /// `not-verified` (no selected scenario cites it, or one of them did not run), else
    /// `differs-from-assumption` (one differed from an assumption), else `skipped` (one was
    /// skipped: its record gives the reason), else `verified` (all passed); in a merged report
    /// also `conflict`.
    pub status: RequirementStatus,
    /// The scenarios citing it: trial name and verdict label.
    pub scenarios: Vec<ScenarioRef>,
}

/// A scenario as the matrix cites it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRef {
    /// `provider::file::id`.
    pub trial: String,
    /// `pass`, `fail`, `error`, `differs-from-assumption`, `skipped` or `not-run`.
    pub verdict: ScenarioVerdict,
    /// In a merged report, the index in `run.merged_from` of the report the record comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<usize>,
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
    pub kind: ScenarioKind,
    /// The requirement ids it verifies.
    pub requirements: Vec<String>,
    /// `pass`, `fail`, `error`, `differs-from-assumption`, `skipped` or `not-run`.
    pub verdict: ScenarioVerdict,
    /// The failure or error message, the skip reason, or the assumption notes (a waived
    /// scenario's failure, as it was).
    pub message: Option<String>,
    /// For a `waived` scenario: the waiver covering its failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverRecord>,
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

/// The waiver covering a scenario's failure: who waived what, why and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaiverRecord {
    /// The requirement id or trial name the waiver names.
    pub covers: String,
    /// Who answers for it.
    pub owner: String,
    /// Why the deviation is accepted for now.
    pub reason: String,
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
    /// The verdict it covers: `fail`, or `differs-from-assumption` in a `--strict` run.
    pub waived_verdict: ScenarioVerdict,
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
    /// The assumed checks that did not hold (notes, not failures); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assumed: Vec<AssumptionRecord>,
    /// What a clock step did.
    pub clock: Option<String>,
    /// The HTTP exchanges of the step, in order: auxiliary ones (token fetches) first, then the
    /// step's own, then the hops of an authorization flow (redirects followed, forms submitted).
    pub exchanges: Vec<ExchangeRecord>,
    /// True for a cleanup step (`finally:`), run whatever the verdict; absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cleanup: bool,
    /// A `property` step's family, seed and counts; absent for other steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<crate::exec::result::PropertyRecord>,
}

/// An assumed check that did not hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumptionRecord {
    /// What was expected and what was found.
    pub check: String,
    /// Which choice the documentation does not make.
    pub because: String,
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
    /// `response`, `connect-timeout`, `read-timeout`, `refused`, `reset`, `malformed`, `tls` or
    /// `other`.
    pub outcome: OutcomeClass,
    /// The status, when a response came.
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// The start of the response body.
    pub response_body: Option<String>,
    /// How long the exchange took, in milliseconds.
    pub elapsed_ms: u64,
    /// The reason behind a `malformed`, `tls` or `other` outcome (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_detail: Option<String>,
    /// Why the request was sent a second time, on a fresh connection (absent when it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent: Option<String>,
    /// The local address (`127.0.0.1:54321`) of the connection the outcome came from: the
    /// address the server saw (absent when no connection was established).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
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

/// A scenario's verdict as the evidence records it: the run's [`Verdict`] without its details,
/// and `not-run` for a selected scenario an interruption kept from running (or aborted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioVerdict {
    /// `pass`: every expectation held.
    Pass,
    /// `fail`: an expectation was not met.
    Fail,
    /// `error`: the scenario could not run.
    Error,
    /// `skipped`: the target cannot run it (the record's message says why).
    Skipped,
    /// `differs-from-assumption`: every documented check held, an assumed one did not (the
    /// steps' `assumed` notes say which and why).
    DiffersFromAssumption,
    /// `waived`: it failed, and an unexpired waiver covers the failure (the record's `waiver`
    /// says whose, why and until when; its message keeps the failure).
    Waived,
    /// `not-run`: an interruption kept it from running or aborted it (in a trial record: its
    /// process ended before it did).
    NotRun,
}

impl ScenarioVerdict {
    /// Returns the word the evidence uses: `pass`, `fail`, `error`, `skipped`,
    /// `differs-from-assumption`, `waived`, `not-run`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::DiffersFromAssumption => "differs-from-assumption",
            Self::Waived => "waived",
            Self::NotRun => "not-run",
        }
    }
}

impl From<&Verdict> for ScenarioVerdict {
    fn from(verdict: &Verdict) -> Self {
        match verdict {
            Verdict::Pass => Self::Pass,
            Verdict::Fail { .. } => Self::Fail,
            Verdict::Error { .. } => Self::Error,
            Verdict::Skipped { .. } => Self::Skipped,
            Verdict::DiffersFromAssumption { .. } => Self::DiffersFromAssumption,
            Verdict::Waived { .. } => Self::Waived,
        }
    }
}

/// A requirement's status in the traceability matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequirementStatus {
    /// `verified`: every scenario citing it passed.
    Verified,
    /// `failed`: a scenario citing it failed.
    Failed,
    /// `error`: a scenario citing it could not run.
    Error,
    /// `skipped`: a scenario citing it was skipped, none failed or could not run.
    Skipped,
    /// `not-verified`: no scenario citing it ran, or one did not run.
    NotVerified,
    /// `differs-from-assumption`: no scenario citing it failed or could not run, but one
    /// differed from an assumption: neither verified nor failed.
    DiffersFromAssumption,
    /// `waived`: no scenario citing it failed unwaived, could not run or did not run, but a
    /// waiver covers one's failure: neither verified nor failed.
    Waived,
    /// `conflict` (merged reports only): one merged run verified it and another failed it.
    Conflict,
}

impl RequirementStatus {
    /// Returns the word the evidence uses: `verified`, `failed`, `error`, `skipped`,
    /// `not-verified`, `differs-from-assumption`, `conflict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Skipped => "skipped",
            Self::NotVerified => "not-verified",
            Self::DiffersFromAssumption => "differs-from-assumption",
            Self::Waived => "waived",
            Self::Conflict => "conflict",
        }
    }
}

/// The clock a report's scenarios ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Clock {
    /// `virtual`: the embedded mocks' virtual clock.
    Virtual,
    /// `real`: wall-clock time, live endpoints.
    Real,
    /// `mixed` (merged reports only): the merged runs ran on different clocks.
    Mixed,
}

impl Clock {
    /// Returns the word the evidence uses: `virtual`, `real`, `mixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Virtual => "virtual",
            Self::Real => "real",
            Self::Mixed => "mixed",
        }
    }
}

impl From<ClockKind> for Clock {
    fn from(clock: ClockKind) -> Self {
        match clock {
            ClockKind::Virtual => Self::Virtual,
            ClockKind::Real => Self::Real,
        }
    }
}

macro_rules! display_as_str {
    ($($name:ty),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
impl WaiverProblem {
    /// Returns the word the evidence uses: `expired` or `unused`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Unused => "unused",
        }
    }
}

display_as_str!(ScenarioVerdict, RequirementStatus, Clock, WaiverProblem);

/// Writes a requirement kind as the spec spells it (`Doc`, `RFC`, `Assumed`): the spec's own
/// type reads those words, and its `Display` writes them.
fn serialize_kind<S: serde::Serializer>(
    kind: &RequirementKind,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(kind)
}

/// What a run hands over to become [`Evidence`].
#[derive(Debug)]
pub struct RunContext<'a> {
    /// The loaded plan: catalogue, target, every scenario.
    pub plan: &'a Plan,
    /// The scenarios selected to run, in plan order.
    pub selected: &'a [Arc<PlannedScenario>],
    /// The results of the scenarios that finished (in any order).
    pub results: &'a [ScenarioResult],
    /// Why it is incomplete, when it is (the not-run scenarios give this as their message).
    pub incomplete_reason: Option<String>,
    /// Whether the run is `--strict`: a scenario differing from an assumption fails it.
    pub strict: bool,
    /// The run's expired and unused waivers.
    pub waiver_problems: Vec<WaiverProblemRecord>,
}

/// The circumstances of a run the evidence records, gathered by the caller so that [`build`]
/// reads no file, runs no program and asks no clock: the same inputs give the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    /// The machine that ran it.
    pub host: String,
    /// The commit checked out where the scenarios are, when there is one.
    pub git_commit: Option<String>,
    /// The target, spec and scenario files the plan was loaded from, with their hashes.
    pub inputs: Vec<InputFile>,
    /// When the run started.
    pub started: SystemTime,
    /// When it ended.
    pub finished: SystemTime,
    /// The folder paths are shown relative to (the working directory), when known.
    pub working_dir: Option<PathBuf>,
    /// The test run this report is one trial's record of (`cargo nextest run`'s run id).
    pub test_run_id: Option<String>,
}

impl RunFacts {
    /// Gathers the facts of a run of `selected` from `plan`: hashes the input files, asks git
    /// for the commit of the scenarios' checkout, reads the host name and the working directory.
    pub fn gather(
        plan: &Plan,
        selected: &[Arc<PlannedScenario>],
        started: SystemTime,
        finished: SystemTime,
    ) -> Self {
        let facts = FactSources::of(plan, selected).gather(false);
        Self {
            started,
            finished,
            ..facts.unwrap_or_else(|| unreachable!("a lenient gathering always ends"))
        }
    }

    /// Starts gathering the facts of a run of `selected` from `plan` on a thread of its own, as
    /// the run starts: hashing the inputs and asking git take milliseconds that the reports
    /// need not wait for at the end. The files are hashed as they were loaded.
    pub fn gather_ahead(plan: &Plan, selected: &[Arc<PlannedScenario>]) -> PendingFacts {
        let sources = FactSources::of(plan, selected);
        let first = sources.first_scenario.clone();
        let thread = std::thread::Builder::new()
            .name("run-facts".into())
            .spawn(move || sources.gather(true))
            .ok();
        PendingFacts { thread, first }
    }
}

/// Facts being gathered ahead of the end of a run ([`RunFacts::gather_ahead`]).
#[derive(Debug)]
pub struct PendingFacts {
    thread: Option<std::thread::JoinHandle<Option<RunFacts>>>,
    /// The first selected scenario's file, which says where git is asked.
    first: Option<PathBuf>,
}

impl PendingFacts {
    /// Returns the facts of the run of `selected` from `plan` with its times. They are gathered
    /// now when the thread could not gather them all (a file or git it could not open, e.g. for
    /// want of descriptors while scenarios ran) or gathered them for other scenarios.
    pub fn finish(
        self,
        plan: &Plan,
        selected: &[Arc<PlannedScenario>],
        started: SystemTime,
        finished: SystemTime,
    ) -> RunFacts {
        let same_run = self.first.as_deref() == selected.first().map(|s| s.path.as_path());
        match self.thread.and_then(|thread| thread.join().ok()).flatten() {
            Some(facts) if same_run => RunFacts {
                started,
                finished,
                ..facts
            },
            _ => RunFacts::gather(plan, selected, started, finished),
        }
    }
}

/// What the facts of a run are read from: owned, so that they can be read on another thread.
struct FactSources {
    /// The target file, `None` for the embedded mock target.
    target: Option<PathBuf>,
    specs: Vec<PathBuf>,
    /// Every scenario file of the plan, once each, in path order.
    scenario_files: Vec<PathBuf>,
    first_scenario: Option<PathBuf>,
}

impl FactSources {
    fn of(plan: &Plan, selected: &[Arc<PlannedScenario>]) -> Self {
        let target = &plan.target.file;
        let embedded = target.as_os_str().is_empty() || target == Path::new("targets/mock.yaml");
        let scenario_files: BTreeSet<&Path> =
            plan.scenarios.iter().map(|s| s.path.as_path()).collect();
        Self {
            target: (!embedded).then(|| target.clone()),
            specs: plan
                .catalogue
                .specs
                .iter()
                .map(|(p, _)| p.clone())
                .collect(),
            scenario_files: scenario_files.into_iter().map(Path::to_path_buf).collect(),
            first_scenario: selected.first().map(|s| s.path.clone()),
        }
    }

    /// Hashes the target, spec and scenario files, asks git for the commit of the scenarios'
    /// checkout, reads the host name and the working directory; the times are left at the
    /// epoch. A file that cannot be read is left out, or when `strict` gives `None`, as does git
    /// that cannot be started.
    fn gather(&self, strict: bool) -> Option<RunFacts> {
        let working_dir = std::env::current_dir().ok();
        let git_commit = match git_commit(self.first_scenario.as_deref()) {
            Ok(commit) => commit,
            Err(_) if strict => return None,
            Err(_) => None,
        };
        let mut inputs: Vec<InputFile> = Vec::new();
        if self.target.is_none() {
            inputs.push(InputFile {
                path: "targets/mock.yaml (embedded)".to_owned(),
                sha256: sha256_hex(crate::target::MOCK_TARGET_YAML.as_bytes()),
            });
        }
        let files = self
            .target
            .iter()
            .chain(&self.specs)
            .chain(&self.scenario_files);
        for path in files {
            match input_file(path, working_dir.as_deref()) {
                Some(file) => inputs.push(file),
                None if strict => return None,
                None => {}
            }
        }
        Some(RunFacts {
            host: super::hostname(),
            git_commit,
            inputs,
            started: SystemTime::UNIX_EPOCH,
            finished: SystemTime::UNIX_EPOCH,
            working_dir,
            test_run_id: None,
        })
    }
}

/// Builds the evidence of a run: every string redacted through `secrets`, then sealed (every
/// scenario hash and the report hash filled in). A pure function of its arguments: the facts
/// that need the file system, git or a clock come in `facts`.
pub fn build(context: &RunContext<'_>, facts: &RunFacts, secrets: &SecretRegistry) -> Evidence {
    build_sealed(context, facts, secrets).into_evidence()
}

/// Builds the evidence of a run as [`build`] does, with its canonical bytes, written in the
/// pass that hashes the report.
pub fn build_sealed(
    context: &RunContext<'_>,
    facts: &RunFacts,
    secrets: &SecretRegistry,
) -> Sealed {
    let plan = context.plan;
    let shown_path = |path: &Path| shown_path(path, facts.working_dir.as_deref());
    let by_trial: HashMap<&str, &ScenarioResult> = context
        .results
        .iter()
        .map(|r| (r.trial_name.as_str(), r))
        .collect();
    let not_run_message = context
        .incomplete_reason
        .as_deref()
        .map_or_else(|| "not run".to_owned(), |why| format!("not run: {why}"));
    let scenarios: Vec<ScenarioRecord> = context
        .selected
        .iter()
        .map(|planned| {
            let trial = planned.trial_name();
            match by_trial.get(trial.as_str()) {
                Some(result) => scenario_record(planned, result, shown_path(&planned.path)),
                None => ScenarioRecord {
                    trial,
                    provider: planned.provider.clone(),
                    file: shown_path(&planned.path),
                    id: planned.scenario.id.to_string(),
                    title: planned.scenario.title.clone(),
                    kind: planned.kind(),
                    requirements: planned.scenario.requirements.clone(),
                    verdict: ScenarioVerdict::NotRun,
                    message: Some(not_run_message.clone()),
                    waiver: None,
                    failed_step: None,
                    started: None,
                    duration_ms: 0,
                    steps: Vec::new(),
                    sha256: String::new(),
                },
            }
        })
        .collect();
    let requirements = plan
        .catalogue
        .requirements
        .iter()
        .map(|(id, (provider, requirement))| {
            let refs: Vec<ScenarioRef> = scenarios
                .iter()
                .filter(|s| s.requirements.contains(id))
                .map(|s| ScenarioRef {
                    trial: s.trial.clone(),
                    verdict: s.verdict,
                    input: None,
                })
                .collect();
            RequirementRecord {
                id: id.clone(),
                provider: provider.clone(),
                statement: requirement.statement.clone(),
                source: requirement.source.clone(),
                kind: requirement.kind,
                status: requirement_status(refs.iter().map(|r| r.verdict)),
                scenarios: refs,
            }
        })
        .collect();
    let evidence = Evidence {
        schema: SCHEMA_VERSION.to_owned(),
        run: RunInfo {
            tool: env!("CARGO_PKG_NAME").to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            git_commit: facts.git_commit.clone(),
            host: facts.host.clone(),
            started: rfc3339(facts.started),
            finished: rfc3339(facts.finished),
            complete: context.incomplete_reason.is_none(),
            incomplete_reason: context.incomplete_reason.clone(),
            target: TargetInfo {
                tls: tls_observed(&plan.target, context.selected, &by_trial),
                ..target_info(&plan.target)
            },
            inputs: facts.inputs.clone(),
            totals: totals(&scenarios),
            strict: Some(context.strict),
            test_run_id: facts.test_run_id.clone(),
            merged_from: Vec::new(),
            waiver_problems: context.waiver_problems.clone(),
        },
        requirements,
        scenarios,
        manifest: Manifest {
            algorithm: "sha256".to_owned(),
            report_sha256: String::new(),
        },
    };
    seal_redacted(evidence, secrets)
}

/// A sealed report and its canonical bytes ([`canonical_bytes`]), made in one pass.
#[derive(Debug)]
pub struct Sealed {
    evidence: Evidence,
    bytes: Vec<u8>,
}

impl Sealed {
    /// Seals `evidence` as [`seal`] does (no redaction) and writes its canonical bytes.
    pub fn new(mut evidence: Evidence) -> Self {
        let mut bytes = Vec::new();
        seal_in_place(&mut evidence, None, Some(&mut bytes));
        Self { evidence, bytes }
    }

    /// Returns the sealed report.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// Returns its canonical bytes, as `evidence.json` holds them.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Returns the report, dropping its bytes.
    pub fn into_evidence(self) -> Evidence {
        self.evidence
    }
}

/// Seals `evidence` with every string redacted through `secrets`, as
/// `Sealed::new(redacted(&evidence, secrets))` does, without rebuilding the report when no
/// string holds a secret (the usual case: transcripts are redacted when captured).
///
/// The pass that hashes the report also checks every string it writes, keys included, as it is
/// before JSON escaping ([`StringCheck`]). When each is clean, the tree redaction would change
/// nothing. Checking the strings themselves, not the JSON, matters: escaping turns `\u{8}` into
/// `\b`, and a form the registry knows escaped three times into one escaped four times, which
/// no needle matches.
fn seal_redacted(mut evidence: Evidence, secrets: &SecretRegistry) -> Sealed {
    let mut check = StringCheck::new(secrets);
    let mut bytes = Vec::new();
    seal_in_place(&mut evidence, Some(&mut check), Some(&mut bytes));
    if check.finish() {
        return Sealed { evidence, bytes };
    }
    drop(bytes);
    Sealed::new(redacted(&evidence, secrets))
}

/// Returns the matrix status of a requirement from the verdicts of the scenarios citing it:
/// `failed` if one failed, else `error` if one could not run, else `not-verified` if none ran or
/// one did not run, else `waived` if a waiver covers one's failure, else `differs-from-assumption` if one differed from an assumption, else
/// `skipped` if one was skipped, else (all passed) `verified`.
pub fn requirement_status(
    verdicts: impl Iterator<Item = ScenarioVerdict> + Clone,
) -> RequirementStatus {
    let any = |wanted: ScenarioVerdict| verdicts.clone().any(|v| v == wanted);
    if any(ScenarioVerdict::Fail) {
        RequirementStatus::Failed
    } else if any(ScenarioVerdict::Error) {
        RequirementStatus::Error
    } else if verdicts.clone().next().is_none() || any(ScenarioVerdict::NotRun) {
        RequirementStatus::NotVerified
    } else if any(ScenarioVerdict::Waived) {
        RequirementStatus::Waived
    } else if any(ScenarioVerdict::DiffersFromAssumption) {
        RequirementStatus::DiffersFromAssumption
    } else if any(ScenarioVerdict::Skipped) {
        RequirementStatus::Skipped
    } else {
        RequirementStatus::Verified
    }
}

/// One provider's line of a run summary: its scenarios by verdict, and its requirements.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProviderTally {
    /// Scenarios by verdict, as in [`Totals`].
    pub scenarios: Totals,
    /// Requirements of the provider's spec.
    pub requirements: usize,
    /// Those `verified`.
    pub verified: usize,
}

/// Tallies each provider that has scenarios in `evidence`, in name order (the console's and the
/// Markdown summary's per-provider rows).
pub fn provider_tallies(evidence: &Evidence) -> BTreeMap<&str, ProviderTally> {
    let mut tallies: BTreeMap<&str, ProviderTally> = BTreeMap::new();
    for s in &evidence.scenarios {
        let t = &mut tallies.entry(s.provider.as_str()).or_default().scenarios;
        t.count(s.verdict);
    }
    for r in &evidence.requirements {
        if let Some(tally) = tallies.get_mut(r.provider.as_str()) {
            tally.requirements += 1;
            tally.verified += usize::from(r.status == RequirementStatus::Verified);
        }
    }
    tallies
}

/// Returns the verdict counts of `scenarios`.
pub fn totals(scenarios: &[ScenarioRecord]) -> Totals {
    let mut totals = Totals::default();
    for s in scenarios {
        totals.count(s.verdict);
    }
    totals
}

impl Totals {
    /// Counts one scenario of verdict `verdict`.
    fn count(&mut self, verdict: ScenarioVerdict) {
        match verdict {
            ScenarioVerdict::Pass => self.passed += 1,
            ScenarioVerdict::Fail => self.failed += 1,
            ScenarioVerdict::Error => self.errors += 1,
            ScenarioVerdict::Skipped => self.skipped += 1,
            ScenarioVerdict::NotRun => self.not_run += 1,
            ScenarioVerdict::DiffersFromAssumption => self.differs_from_assumption += 1,
            ScenarioVerdict::Waived => self.waived += 1,
        }
    }
}

fn scenario_record(
    planned: &PlannedScenario,
    result: &ScenarioResult,
    file: String,
) -> ScenarioRecord {
    let (message, failed_step) = match &result.verdict {
        Verdict::Pass => (None, None),
        Verdict::Fail { step, message } => (Some(message.clone()), Some(step + 1)),
        Verdict::Error { step, message } => (Some(message.clone()), step.map(|s| s + 1)),
        Verdict::Skipped { reason } => (Some(reason.clone()), None),
        Verdict::DiffersFromAssumption { message } => (Some(message.clone()), None),
        Verdict::Waived { failure, .. } => match failure.as_ref() {
            Verdict::Fail { step, message } => (Some(message.clone()), Some(step + 1)),
            other => (other.message().map(str::to_owned), None),
        },
    };
    let waiver = match &result.verdict {
        Verdict::Waived { failure, waiver } => Some(WaiverRecord {
            covers: waiver.covers.clone(),
            owner: waiver.owner.clone(),
            reason: waiver.reason.clone(),
            expires: waiver.expires.clone(),
            waived_verdict: ScenarioVerdict::from(failure.as_ref()),
        }),
        _ => None,
    };
    let ran = !matches!(result.verdict, Verdict::Skipped { .. }) || !result.steps.is_empty();
    ScenarioRecord {
        trial: result.trial_name.clone(),
        provider: result.provider.clone(),
        file,
        id: result.id.clone(),
        title: result.title.clone(),
        kind: planned.kind(),
        requirements: result.requirements.clone(),
        verdict: ScenarioVerdict::from(&result.verdict),
        message,
        waiver,
        failed_step,
        started: ran.then(|| rfc3339(result.started)),
        duration_ms: u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX),
        steps: result.steps.iter().map(step_record).collect(),
        sha256: String::new(),
    }
}

fn step_record(step: &StepResult) -> StepRecord {
    StepRecord {
        number: step.index + 1,
        name: step.name.clone(),
        passed: step.passed.clone(),
        failed: step.failed.clone(),
        error: step.error.clone(),
        assumed: step
            .assumed
            .iter()
            .map(|note| AssumptionRecord {
                check: note.check.clone(),
                because: note.because.clone(),
            })
            .collect(),
        clock: step.clock.clone(),
        exchanges: step
            .auxiliary
            .iter()
            .chain(step.transcript.iter())
            .chain(step.hops.iter())
            .map(exchange_record)
            .collect(),
        cleanup: step.cleanup,
        property: step.property.clone(),
    }
}

fn exchange_record(t: &Transcript) -> ExchangeRecord {
    ExchangeRecord {
        method: t.method.clone(),
        url: t.url.clone(),
        source: t.source.clone(),
        request_headers: t.request_headers.clone(),
        request_body: t.request_body.clone(),
        outcome: t.outcome,
        status: t.status,
        response_headers: t.response_headers.clone(),
        response_body: t.response_body.clone(),
        elapsed_ms: u64::try_from(t.elapsed.as_millis()).unwrap_or(u64::MAX),
        outcome_detail: t.outcome_detail.clone(),
        resent: t.resent.clone(),
        local_address: t.local_address.clone(),
    }
}

/// Returns, per provider and `https://` host, the TLS session of the first response from the
/// host's origin in the provider's scenarios (in plan order, so the same results give the same
/// report whatever order they finished in).
fn tls_observed(
    target: &Target,
    selected: &[Arc<PlannedScenario>],
    by_trial: &HashMap<&str, &ScenarioResult>,
) -> BTreeMap<String, BTreeMap<String, TlsObserved>> {
    let mut observed = BTreeMap::new();
    for (provider, config) in &target.providers {
        let mut seen = BTreeMap::new();
        for (name, host) in &config.hosts {
            let HostSpec::Url(url) = host else { continue };
            let Ok(url) = url::Url::parse(url) else {
                continue;
            };
            if url.scheme() != "https" {
                continue;
            }
            let origin = url.origin().ascii_serialization();
            let first = selected
                .iter()
                .filter(|planned| &planned.provider == provider)
                .filter_map(|planned| by_trial.get(planned.trial_name().as_str()))
                .flat_map(|result| &result.steps)
                .flat_map(|step| step.auxiliary.iter().chain(step.transcript.iter()))
                .filter_map(|transcript| transcript.tls.as_ref())
                .find(|tls| tls.origin == origin);
            if let Some(tls) = first {
                seen.insert(
                    name.clone(),
                    TlsObserved {
                        version: tls.version.clone(),
                        peer_certificate_sha256: tls.peer_certificate_sha256.clone(),
                    },
                );
            }
        }
        if !seen.is_empty() {
            observed.insert(provider.clone(), seen);
        }
    }
    observed
}

fn target_info(target: &Target) -> TargetInfo {
    let hosts = target
        .providers
        .iter()
        .map(|(provider, config)| {
            let hosts = config
                .hosts
                .iter()
                .map(|(name, host)| {
                    let shown = match host {
                        HostSpec::Url(url) => without_userinfo(url),
                        HostSpec::Mock(mock) => format!("mock:{mock}"),
                    };
                    (name.clone(), shown)
                })
                .collect();
            (provider.clone(), hosts)
        })
        .collect();
    let sources = target
        .sources
        .iter()
        .map(|(name, source)| {
            let shown = match (&source.bind, &source.proxy) {
                (Some(ip), _) => format!("bind {ip}"),
                (None, Some(proxy)) => format!("proxy {}", without_userinfo(proxy)),
                (None, None) => "any".to_owned(),
            };
            (name.clone(), shown)
        })
        .collect();
    TargetInfo {
        name: target.name.clone(),
        description: target.description.clone(),
        clock: Clock::from(target.clock),
        hosts,
        sources,
        allow_plain_http: target
            .providers
            .iter()
            .filter(|(_, config)| !config.allow_plain_http.is_empty())
            .map(|(provider, config)| {
                let hosts = config.allow_plain_http.iter().cloned().collect();
                (provider.clone(), hosts)
            })
            .collect(),
        defaulted: target
            .providers
            .iter()
            .filter(|(_, config)| !config.defaulted.is_empty())
            .map(|(provider, config)| {
                let values = config
                    .defaulted
                    .iter()
                    .filter_map(|name| {
                        let value = config.paths.get(name).or(config.variables.get(name))?;
                        Some((name.clone(), value.clone()))
                    })
                    .collect();
                (provider.clone(), values)
            })
            .collect(),
        propagation: target
            .limits
            .propagation
            .map(|bound| humantime::format_duration(bound.0).to_string()),
        tls: BTreeMap::new(),
    }
}

/// Drops `user:password@` from a URL: a proxy or base URL may carry credentials.
fn without_userinfo(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn input_file(path: &Path, working_dir: Option<&Path>) -> Option<InputFile> {
    let bytes = std::fs::read(path).ok()?;
    Some(InputFile {
        path: shown_path(path, working_dir),
        sha256: sha256_hex(&bytes),
    })
}

/// Shows a path relative to the working directory when it is under it.
fn shown_path(path: &Path, working_dir: Option<&Path>) -> String {
    working_dir
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Returns the commit checked out where the scenarios are, when git knows one; an error when
/// git cannot be started.
fn git_commit(scenario_file: Option<&Path>) -> std::io::Result<Option<String>> {
    let dir = scenario_file
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let output = match std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
    {
        Ok(output) => output,
        // No git on this machine: no commit to record.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(commit) = String::from_utf8(output.stdout) else {
        return Ok(None);
    };
    let commit = commit.trim();
    Ok((output.status.success()
        && commit.len() >= 40
        && commit.bytes().all(|b| b.is_ascii_hexdigit()))
    .then(|| commit.to_owned()))
}

/// Formats a time as RFC 3339 UTC with exactly three digits of milliseconds
/// (`2026-12-01T20:41:07.120Z`), as the evidence format documents: the well-known RFC 3339
/// formatter drops trailing zeros (`.12Z`, no fraction at all on a whole second).
pub fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Returns `evidence` with every string in it, keys included, redacted through `secrets`.
///
/// Working on the JSON tree rather than on fields one by one means a field added later cannot
/// skip redaction, and redacting strings before serialization means a secret holding `"` or `\`
/// is found before JSON escaping would disguise it.
pub fn redacted(evidence: &Evidence, secrets: &SecretRegistry) -> Evidence {
    let mut tree = serde_json::to_value(evidence).expect("evidence serializes");
    redact_tree(&mut tree, secrets);
    serde_json::from_value(tree).expect("redaction keeps the evidence shape")
}

fn redact_tree(value: &mut serde_json::Value, secrets: &SecretRegistry) {
    match value {
        serde_json::Value::String(s) => *s = secrets.redact(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_tree(v, secrets)),
        serde_json::Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut v) in entries {
                redact_tree(&mut v, secrets);
                map.insert(secrets.redact(&key), v);
            }
        }
        _ => {}
    }
}

/// Fills in every scenario record's `sha256`, then the manifest's `report_sha256`.
pub fn seal(mut evidence: Evidence) -> Evidence {
    seal_in_place(&mut evidence, None, None);
    evidence
}

/// Seals `evidence` where it lies, hashing each serialization as it is written rather than
/// cloning records into a buffer. The pass that hashes the report also checks its strings into
/// `check` (see [`seal_redacted`]) and writes its canonical bytes into `canonical`, when given.
fn seal_in_place(
    evidence: &mut Evidence,
    check: Option<&mut StringCheck<'_>>,
    canonical: Option<&mut Vec<u8>>,
) {
    for record in &mut evidence.scenarios {
        record.sha256.clear();
        record.sha256 = json_sha256(record, SealFormatter::default());
    }
    evidence.manifest.report_sha256.clear();
    let Some(bytes) = canonical else {
        evidence.manifest.report_sha256 = json_sha256(evidence, SealFormatter::checking(check));
        return;
    };
    bytes.clear();
    let formatter = SealFormatter {
        check,
        pretty: Some((serde_json::ser::PrettyFormatter::new(), &mut *bytes)),
    };
    let sha256 = json_sha256(evidence, formatter);
    // The hash is the last value of the report, written as `""` while it was being computed.
    const UNSEALED_END: &[u8] = b"\"report_sha256\": \"\"\n  }\n}";
    if bytes.ends_with(UNSEALED_END) {
        // Between the quotes of that `""`.
        let at = bytes.len() - b"\"\n  }\n}".len();
        bytes.splice(at..at, sha256.bytes());
        bytes.push(b'\n');
        evidence.manifest.report_sha256 = sha256;
    } else {
        evidence.manifest.report_sha256 = sha256;
        *bytes = canonical_bytes(evidence);
    }
}

/// Returns the SHA-256 of a scenario record's compact JSON with `sha256` set to `""`.
pub fn scenario_sha256(record: &ScenarioRecord) -> String {
    if record.sha256.is_empty() {
        return json_sha256(record, SealFormatter::default());
    }
    let mut unsealed = record.clone();
    unsealed.sha256 = String::new();
    json_sha256(&unsealed, SealFormatter::default())
}

/// Returns the SHA-256 of the report's compact JSON with `manifest.report_sha256` set to `""`.
pub fn report_sha256(evidence: &Evidence) -> String {
    if evidence.manifest.report_sha256.is_empty() {
        return json_sha256(evidence, SealFormatter::default());
    }
    let mut unsealed = evidence.clone();
    unsealed.manifest.report_sha256 = String::new();
    json_sha256(&unsealed, SealFormatter::default())
}

/// Returns the lowercase hex SHA-256 of `value`'s compact JSON, the bytes going straight into
/// the hash; `formatter` may also check the strings and write the pretty form.
fn json_sha256<T: Serialize + ?Sized>(value: &T, formatter: SealFormatter<'_, '_>) -> String {
    use sha2::Digest as _;
    // serde_json writes a few bytes at a time; the hash takes whole blocks faster.
    let mut sink = std::io::BufWriter::with_capacity(64 * 1024, HashWriter(sha2::Sha256::new()));
    let written = if formatter.check.is_none() && formatter.pretty.is_none() {
        value.serialize(&mut serde_json::Serializer::new(&mut sink))
    } else {
        value.serialize(&mut serde_json::Serializer::with_formatter(
            &mut sink, formatter,
        ))
    };
    written.expect("evidence serializes");
    let HashWriter(hasher) = sink
        .into_inner()
        .unwrap_or_else(|_| unreachable!("a hash takes every write"));
    hex(&hasher.finalize())
}

/// An `io::Write` that feeds a SHA-256.
struct HashWriter(sha2::Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks every string a serialization writes against the registry, as it was before JSON
/// escaping.
///
/// Strings are gathered one after another, a line feed after each, and checked a batch at a
/// time: a batch ends only between strings, so no string is ever split, and a match the line
/// feeds make up across two strings only costs the slow path.
struct StringCheck<'a> {
    secrets: &'a SecretRegistry,
    batch: String,
    clean: bool,
}

/// How many bytes of strings are checked at once: small enough to stay in the cache.
const STRING_CHECK_BATCH: usize = 64 * 1024;

impl<'a> StringCheck<'a> {
    fn new(secrets: &'a SecretRegistry) -> Self {
        Self {
            secrets,
            batch: String::with_capacity(STRING_CHECK_BATCH + 1024),
            clean: true,
        }
    }

    fn check_batch(&mut self) {
        self.clean = self.clean && self.secrets.is_clean(&self.batch);
        self.batch.clear();
    }

    fn push_str(&mut self, fragment: &str) {
        if self.clean {
            self.batch.push_str(fragment);
        }
    }

    fn push(&mut self, c: char) {
        if self.clean {
            self.batch.push(c);
        }
    }

    fn end_string(&mut self) {
        if self.clean {
            self.batch.push('\n');
            if self.batch.len() >= STRING_CHECK_BATCH {
                self.check_batch();
            }
        }
    }

    /// Returns true when every string written was clean.
    fn finish(mut self) -> bool {
        self.check_batch();
        self.clean
    }
}

/// Writes compact JSON (to the hash) as serde_json's default formatter does and, alongside,
/// the pretty JSON [`canonical_bytes`] writes and the strings a [`StringCheck`] reads: one
/// serialization, escaping each string once, feeds all three.
#[derive(Default)]
struct SealFormatter<'a, 'b> {
    check: Option<&'a mut StringCheck<'b>>,
    pretty: Option<(serde_json::ser::PrettyFormatter<'static>, &'a mut Vec<u8>)>,
}

impl<'a, 'b> SealFormatter<'a, 'b> {
    fn checking(check: Option<&'a mut StringCheck<'b>>) -> Self {
        Self {
            check,
            pretty: None,
        }
    }
}

/// Implements a [`serde_json::ser::Formatter`] method by calling the compact formatter on the
/// hash's writer and the pretty one on the canonical bytes.
macro_rules! compact_and_pretty {
    ($($method:ident($($arg:ident: $type:ty),*);)*) => {$(
        fn $method<W: ?Sized + std::io::Write>(
            &mut self,
            writer: &mut W,
            $($arg: $type),*
        ) -> std::io::Result<()> {
            serde_json::ser::CompactFormatter.$method(writer, $($arg),*)?;
            match &mut self.pretty {
                Some((pretty, bytes)) => pretty.$method(*bytes, $($arg),*),
                None => Ok(()),
            }
        }
    )*};
}

impl serde_json::ser::Formatter for SealFormatter<'_, '_> {
    compact_and_pretty! {
        write_null();
        write_bool(value: bool);
        write_i8(value: i8);
        write_i16(value: i16);
        write_i32(value: i32);
        write_i64(value: i64);
        write_i128(value: i128);
        write_u8(value: u8);
        write_u16(value: u16);
        write_u32(value: u32);
        write_u64(value: u64);
        write_u128(value: u128);
        write_f32(value: f32);
        write_f64(value: f64);
        write_number_str(value: &str);
        begin_string();
        write_byte_array(value: &[u8]);
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        end_object_key();
        begin_object_value();
        end_object_value();
        write_raw_fragment(fragment: &str);
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        if let Some(check) = &mut self.check {
            check.end_string();
        }
        serde_json::ser::CompactFormatter.end_string(writer)?;
        match &mut self.pretty {
            Some((pretty, bytes)) => pretty.end_string(*bytes),
            None => Ok(()),
        }
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if let Some(check) = &mut self.check {
            check.push_str(fragment);
        }
        serde_json::ser::CompactFormatter.write_string_fragment(writer, fragment)?;
        match &mut self.pretty {
            Some((pretty, bytes)) => pretty.write_string_fragment(*bytes, fragment),
            None => Ok(()),
        }
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        let unescaped = unescaped(&char_escape);
        if let Some(check) = &mut self.check {
            check.push(unescaped);
        }
        serde_json::ser::CompactFormatter.write_char_escape(writer, char_escape)?;
        match &mut self.pretty {
            Some((pretty, bytes)) => pretty.write_char_escape(*bytes, escape_of(unescaped)),
            None => Ok(()),
        }
    }
}

/// Returns the character an escape stands for.
fn unescaped(escape: &serde_json::ser::CharEscape) -> char {
    use serde_json::ser::CharEscape;
    match escape {
        CharEscape::Quote => '"',
        CharEscape::ReverseSolidus => '\\',
        CharEscape::Solidus => '/',
        CharEscape::Backspace => '\u{8}',
        CharEscape::FormFeed => '\u{c}',
        CharEscape::LineFeed => '\n',
        CharEscape::CarriageReturn => '\r',
        CharEscape::Tab => '\t',
        CharEscape::AsciiControl(byte) => char::from(*byte),
    }
}

/// Returns the escape serde_json gives `c`: the inverse of [`unescaped`].
fn escape_of(c: char) -> serde_json::ser::CharEscape {
    use serde_json::ser::CharEscape;
    match c {
        '"' => CharEscape::Quote,
        '\\' => CharEscape::ReverseSolidus,
        '/' => CharEscape::Solidus,
        '\u{8}' => CharEscape::Backspace,
        '\u{c}' => CharEscape::FormFeed,
        '\n' => CharEscape::LineFeed,
        '\r' => CharEscape::CarriageReturn,
        '\t' => CharEscape::Tab,
        // Only ASCII controls are escaped otherwise.
        other => CharEscape::AsciiControl(u8::try_from(other).unwrap_or(b'?')),
    }
}

/// Returns the canonical file form: pretty JSON (two-space indent, fields in declaration order)
/// and a final newline. `authconform verify` accepts exactly these bytes.
pub fn canonical_bytes(evidence: &Evidence) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(evidence).expect("evidence serializes");
    bytes.push(b'\n');
    bytes
}

/// Returns the lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(bytes))
}

/// Returns `bytes` as lowercase hex.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::verify::{Verification, verify};
    use crate::secret::Secret;

    /// A small sealed report: one passed scenario with one exchange, one not-run, and a
    /// requirement each.
    pub(crate) fn sample(secret_in_body: &str) -> Evidence {
        let exchange = ExchangeRecord {
            method: "GET".into(),
            url: "http://127.0.0.1:1/v1/profile".into(),
            source: Some("127.0.0.1".into()),
            request_headers: vec![("authorization".into(), "Basic [redacted]".into())],
            request_body: None,
            outcome: OutcomeClass::Response,
            status: Some(200),
            response_headers: vec![("content-type".into(), "application/json".into())],
            response_body: Some(format!(
                "{{\"user\":{}}}",
                serde_json::json!(secret_in_body)
            )),
            elapsed_ms: 3,
            outcome_detail: None,
            resent: None,
            local_address: None,
        };
        let record = |trial: &str, verdict: ScenarioVerdict, requirement: &str| ScenarioRecord {
            trial: trial.into(),
            provider: "demo".into(),
            file: "scenarios/demo/basic.yaml".into(),
            id: trial.rsplit("::").next().unwrap().into(),
            title: "t".into(),
            kind: ScenarioKind::Happy,
            requirements: vec![requirement.into()],
            verdict,
            message: (verdict == ScenarioVerdict::NotRun)
                .then(|| "not run: interrupted (SIGINT)".into()),
            waiver: None,
            failed_step: None,
            started: None,
            duration_ms: 1,
            steps: vec![StepRecord {
                number: 1,
                name: "GET profile".into(),
                passed: vec!["status 200".into()],
                failed: vec![],
                error: None,
                assumed: Vec::new(),
                clock: None,
                exchanges: vec![exchange.clone()],
                cleanup: false,
                property: None,
            }],
            sha256: String::new(),
        };
        let scenarios = vec![
            record("demo::basic::a", ScenarioVerdict::Pass, "DEMO-BASIC-01"),
            record("demo::basic::b", ScenarioVerdict::NotRun, "DEMO-BASIC-02"),
        ];
        let requirement = |id: &str,
                           trial: &str,
                           verdict: ScenarioVerdict,
                           status: RequirementStatus| RequirementRecord {
            id: id.into(),
            provider: "demo".into(),
            statement: "s".into(),
            source: "doc".into(),
            kind: RequirementKind::Doc,
            status,
            scenarios: vec![ScenarioRef {
                trial: trial.into(),
                verdict,
                input: None,
            }],
        };
        Evidence {
            schema: SCHEMA_VERSION.into(),
            run: RunInfo {
                tool: "authconform".into(),
                tool_version: "0.1.0".into(),
                git_commit: None,
                host: "h".into(),
                started: "2026-01-01T00:00:00.000Z".into(),
                finished: "2026-01-01T00:00:01.000Z".into(),
                complete: false,
                incomplete_reason: Some("interrupted (SIGINT)".into()),
                target: TargetInfo {
                    name: "mock".into(),
                    description: None,
                    clock: Clock::Virtual,
                    hosts: BTreeMap::new(),
                    sources: BTreeMap::new(),
                    allow_plain_http: BTreeMap::new(),
                    defaulted: BTreeMap::new(),
                    propagation: None,
                    tls: BTreeMap::new(),
                },
                inputs: vec![],
                totals: totals(&scenarios),
                strict: None,
                test_run_id: None,
                merged_from: Vec::new(),
                waiver_problems: Vec::new(),
            },
            requirements: vec![
                requirement(
                    "DEMO-BASIC-01",
                    "demo::basic::a",
                    ScenarioVerdict::Pass,
                    RequirementStatus::Verified,
                ),
                requirement(
                    "DEMO-BASIC-02",
                    "demo::basic::b",
                    ScenarioVerdict::NotRun,
                    RequirementStatus::NotVerified,
                ),
            ],
            scenarios,
            manifest: Manifest {
                algorithm: "sha256".into(),
                report_sha256: String::new(),
            },
        }
    }

    #[test]
    fn a_sealed_report_verifies_and_a_changed_one_does_not() {
        let sealed = seal(sample("bob"));
        let bytes = canonical_bytes(&sealed);
        assert!(
            matches!(
                verify(&bytes, None),
                Verification::Intact {
                    complete: false,
                    ..
                }
            ),
            "{:?}",
            verify(&bytes, None)
        );
        let expected = sealed.manifest.report_sha256.clone();
        assert_eq!(verify(&bytes, Some(&expected)).exit_code(), 0);
        assert_eq!(verify(&bytes, Some(&"0".repeat(64))).exit_code(), 1);
        let mut changed = sealed.clone();
        changed.scenarios[0].duration_ms = 2;
        let Verification::Tampered(findings) = verify(&canonical_bytes(&changed), None) else {
            panic!("a changed duration is tampering");
        };
        assert!(
            findings[0].starts_with("scenarios[0] (`demo::basic::a`)"),
            "{findings:?}"
        );
    }

    /// A cleanup step says so in the report (and only a cleanup step: other steps keep their
    /// fields as they were), in a report the schema accepts and that verifies.
    #[test]
    fn a_cleanup_step_is_marked_and_the_schema_accepts_it() {
        let mut evidence = sample("bob");
        let mut cleanup = evidence.scenarios[0].steps[0].clone();
        cleanup.number = 2;
        cleanup.cleanup = true;
        evidence.scenarios[0].steps.push(cleanup);
        let sealed = seal(evidence);
        let bytes = canonical_bytes(&sealed);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let steps = &value["scenarios"][0]["steps"];
        assert_eq!(steps[1]["cleanup"], serde_json::Value::Bool(true));
        assert!(steps[0].get("cleanup").is_none(), "{steps}");
        let schema_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/evidence.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
        let validator = jsonschema::draft202012::new(&schema).expect("a valid schema");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        let mut wrong = value.clone();
        wrong["scenarios"][0]["steps"][0]["cleanup"] = serde_json::Value::Bool(false);
        assert!(
            validator.iter_errors(&wrong).next().is_some(),
            "`cleanup` is written only when true"
        );
        assert_eq!(verify(&bytes, None).exit_code(), 0);
    }

    #[test]
    fn every_string_is_redacted_even_one_the_json_escapes() {
        let secrets = SecretRegistry::new();
        let value = "CANARY-ev-\"quoted\"\\user";
        secrets.register(&Secret::new("username".parse().unwrap(), value));
        let mut evidence = sample(value);
        evidence.run.host = format!("host-{value}");
        evidence
            .run
            .target
            .sources
            .insert(value.to_owned(), "bind 127.0.0.1".into());
        let sealed = seal(redacted(&evidence, &secrets));
        let text = String::from_utf8(canonical_bytes(&sealed)).unwrap();
        assert!(!text.contains("CANARY-ev"), "{text}");
        assert!(text.contains("[redacted:username]"), "{text}");
        assert_eq!(verify(text.as_bytes(), None).exit_code(), 0);
    }

    /// Returns `text` as serde_json writes it inside a string.
    fn json_escaped(text: &str) -> String {
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    }

    /// Puts a text somewhere in a report.
    type Put = fn(&mut Evidence, &str);

    #[test]
    fn secrets_json_escapes_disguise_are_redacted_on_the_fast_path_too() {
        // Each value holds what serde_json escapes (`"`, `\\`, controls, with `\b` and `\f` in
        // their short forms) or leaves alone (`/`, non-ASCII).
        let values = [
            ("quoted", "CANARY-q\"uo\\te/slash"),
            ("multiline", "CANARY-line\nbreak\ttab\rcr"),
            ("unicode", "CANARY-n\u{f6}n-\u{e4}scii-\u{1f511}"),
            ("backspace", "CANARY-bs\u{8}bs"),
            ("formfeed", "CANARY-ff\u{c}ff"),
            ("controls", "CANARY-nul\u{0}esc\u{1b}"),
            // A form the registry knows JSON-escaped three times: JSON escapes it a fourth.
            ("thrice", "CANARY-l3\"x\\y"),
        ];
        let secrets = SecretRegistry::new();
        for (name, value) in values {
            secrets.register(&Secret::new(name.parse().unwrap(), value));
        }
        let thrice = json_escaped(&json_escaped(&json_escaped(values[6].1)));
        assert_ne!(thrice, values[6].1);
        // Each value alone in a report, at each kind of place, so that no other secret sends
        // the report down the slow path.
        let places: [(&str, Put); 5] = [
            ("a step message", |e, v| {
                e.scenarios[0].message = Some(format!("expected 200: {v}"));
            }),
            ("a check", |e, v| {
                e.scenarios[0].steps[0].failed = vec![format!("status was 401 for {v}")];
            }),
            ("a header", |e, v| {
                let exchange = &mut e.scenarios[0].steps[0].exchanges[0];
                exchange.request_headers.push(("x-key".into(), v.into()));
            }),
            ("a body", |e, v| {
                let exchange = &mut e.scenarios[0].steps[0].exchanges[0];
                exchange.response_body = Some(format!("{{\"echo\":\"{v}\"}}"));
            }),
            ("an object key", |e, v| {
                e.run.target.sources.insert(format!("s-{v}"), "any".into());
            }),
        ];
        for (name, value) in values {
            let written = if name == "thrice" {
                thrice.as_str()
            } else {
                value
            };
            for (place, put) in places {
                let mut evidence = sample("bob");
                put(&mut evidence, written);
                let sealed = seal_redacted(evidence.clone(), &secrets);
                let fast = sealed.bytes().to_vec();
                assert!(
                    fast == canonical_bytes(sealed.evidence()),
                    "{name} in {place}"
                );
                let text = String::from_utf8(fast.clone()).unwrap();
                let shown = format!("{name} in {place}: {text}");
                assert!(!text.contains("CANARY-"), "{shown}");
                assert!(!text.contains(&json_escaped(written)), "{shown}");
                assert!(text.contains(&format!("[redacted:{name}]")), "{shown}");
                assert_eq!(verify(&fast, None).exit_code(), 0, "{shown}");
                // The same bytes as redacting the whole tree, the way that cannot skip a string.
                let slow = canonical_bytes(&seal(redacted(&evidence, &secrets)));
                assert!(fast == slow, "{shown}");
            }
        }
    }

    #[test]
    fn a_clean_report_is_sealed_to_the_same_bytes_by_every_path() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evidence");
        let secrets = SecretRegistry::new();
        secrets.register(&Secret::new(
            "token".parse().unwrap(),
            "CANARY-in-no-report",
        ));
        let mut checked = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let report: Evidence = serde_json::from_slice(&bytes).unwrap();
            let shown = path.display();
            // Sealed again, whether its hashes are kept, cleared or wrong, it is the file.
            assert!(canonical_bytes(&seal(report.clone())) == bytes, "{shown}");
            let mut cleared = report.clone();
            for record in &mut cleared.scenarios {
                record.sha256 = "0".repeat(64);
            }
            cleared.manifest.report_sha256.clear();
            assert!(canonical_bytes(&seal(cleared.clone())) == bytes, "{shown}");
            let fast = seal_redacted(cleared.clone(), &secrets);
            assert!(fast.bytes() == bytes, "{shown}");
            assert!(canonical_bytes(fast.evidence()) == bytes, "{shown}");
            assert!(Sealed::new(cleared).bytes() == bytes, "{shown}");
            assert!(
                canonical_bytes(&seal(redacted(&report, &secrets))) == bytes,
                "{shown}"
            );
            assert_eq!(
                scenario_sha256(&report.scenarios[0]),
                report.scenarios[0].sha256
            );
            assert_eq!(report_sha256(&report), report.manifest.report_sha256);
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn requirement_status_follows_the_documented_precedence() {
        use ScenarioVerdict::{DiffersFromAssumption, Error, Fail, NotRun, Pass, Skipped};
        let status = |verdicts: &[ScenarioVerdict]| requirement_status(verdicts.iter().copied());
        assert_eq!(status(&[]), RequirementStatus::NotVerified);
        assert_eq!(status(&[Pass, Pass]), RequirementStatus::Verified);
        assert_eq!(status(&[Pass, Skipped]), RequirementStatus::Skipped);
        assert_eq!(status(&[Skipped, NotRun]), RequirementStatus::NotVerified);
        assert_eq!(status(&[Pass, Error, Skipped]), RequirementStatus::Error);
        assert_eq!(
            status(&[Pass, DiffersFromAssumption]),
            RequirementStatus::DiffersFromAssumption
        );
        assert_eq!(
            status(&[Skipped, DiffersFromAssumption]),
            RequirementStatus::DiffersFromAssumption
        );
        assert_eq!(
            status(&[Fail, DiffersFromAssumption]),
            RequirementStatus::Failed
        );
        assert_eq!(status(&[Error, Fail, NotRun]), RequirementStatus::Failed);
    }

    #[test]
    fn every_word_is_written_as_documented_and_read_back() {
        use serde_json::{from_value, json, to_value};
        let words = |values: Vec<serde_json::Value>| -> Vec<String> {
            values
                .into_iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        let verdicts = [
            ScenarioVerdict::Pass,
            ScenarioVerdict::Fail,
            ScenarioVerdict::Error,
            ScenarioVerdict::Skipped,
            ScenarioVerdict::NotRun,
        ];
        let written = words(verdicts.iter().map(|v| to_value(v).unwrap()).collect());
        assert_eq!(written, ["pass", "fail", "error", "skipped", "not-run"]);
        for (verdict, word) in verdicts.iter().zip(&written) {
            assert_eq!(verdict.as_str(), word);
            assert_eq!(
                from_value::<ScenarioVerdict>(json!(word)).unwrap(),
                *verdict
            );
        }
        let statuses = [
            RequirementStatus::Verified,
            RequirementStatus::Failed,
            RequirementStatus::Error,
            RequirementStatus::Skipped,
            RequirementStatus::NotVerified,
            RequirementStatus::Conflict,
        ];
        let written = words(statuses.iter().map(|v| to_value(v).unwrap()).collect());
        assert_eq!(
            written,
            [
                "verified",
                "failed",
                "error",
                "skipped",
                "not-verified",
                "conflict"
            ]
        );
        for (status, word) in statuses.iter().zip(&written) {
            assert_eq!(status.as_str(), word);
            assert_eq!(
                from_value::<RequirementStatus>(json!(word)).unwrap(),
                *status
            );
        }
        let clocks = [Clock::Virtual, Clock::Real, Clock::Mixed];
        let written = words(clocks.iter().map(|v| to_value(v).unwrap()).collect());
        assert_eq!(written, ["virtual", "real", "mixed"]);
        for (clock, word) in clocks.iter().zip(&written) {
            assert_eq!(clock.as_str(), word);
            assert_eq!(from_value::<Clock>(json!(word)).unwrap(), *clock);
        }
        let kinds = [
            RequirementKind::Doc,
            RequirementKind::Rfc,
            RequirementKind::Assumed,
        ];
        let mut row = sample("bob").requirements.remove(0);
        for (kind, word) in kinds.into_iter().zip(["Doc", "RFC", "Assumed"]) {
            row.kind = kind;
            let tree = to_value(&row).unwrap();
            assert_eq!(tree["kind"], word);
            assert_eq!(from_value::<RequirementRecord>(tree).unwrap().kind, kind);
        }
        let outcomes = [
            (OutcomeClass::Response, "response"),
            (OutcomeClass::ConnectTimeout, "connect-timeout"),
            (OutcomeClass::ReadTimeout, "read-timeout"),
            (OutcomeClass::Refused, "refused"),
            (OutcomeClass::Reset, "reset"),
            (OutcomeClass::Malformed, "malformed"),
            (OutcomeClass::Tls, "tls"),
            (OutcomeClass::Other, "other"),
        ];
        for (outcome, word) in outcomes {
            assert_eq!(to_value(outcome).unwrap(), json!(word));
            assert_eq!(from_value::<OutcomeClass>(json!(word)).unwrap(), outcome);
        }
        // Words are read exactly: another spelling or case is not one of them.
        for wrong in ["Pass", "passed", "not_run", ""] {
            assert!(
                from_value::<ScenarioVerdict>(json!(wrong)).is_err(),
                "{wrong}"
            );
        }
        assert!(from_value::<Clock>(json!("Virtual")).is_err());
        assert!(from_value::<OutcomeClass>(json!("timeout")).is_err());
        assert!(from_value::<RequirementStatus>(json!("not_verified")).is_err());
        row.kind = RequirementKind::Doc;
        let mut tree = to_value(&row).unwrap();
        tree["kind"] = json!("rfc");
        assert!(from_value::<RequirementRecord>(tree).is_err());
    }

    /// Facts given directly, as a caller without git or files would give them.
    fn facts(at: u64) -> RunFacts {
        RunFacts {
            host: "ci-7".into(),
            git_commit: Some("29be78bb15b8a3fe76ad074bd64f21549ac6e71f".into()),
            inputs: vec![InputFile {
                path: "specs/x.yaml".into(),
                sha256: "ab".repeat(32),
            }],
            started: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at),
            finished: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at + 2),
            working_dir: Some(PathBuf::from("/nowhere/checkout")),
            test_run_id: None,
        }
    }

    #[test]
    fn building_is_a_function_of_its_inputs_alone() {
        // No file of the plan exists and no git is asked: every fact comes in `facts`.
        let plan = Plan {
            scenarios: Vec::new(),
            catalogue: crate::spec::Catalogue::default(),
            target: Arc::new(crate::target::Target::mock()),
        };
        let context = RunContext {
            plan: &plan,
            selected: &[],
            results: &[],
            incomplete_reason: None,
            waiver_problems: Vec::new(),
            strict: false,
        };
        let secrets = SecretRegistry::new();
        let first = canonical_bytes(&build(&context, &facts(1_800_000_000), &secrets));
        let again = canonical_bytes(&build(&context, &facts(1_800_000_000), &secrets));
        assert_eq!(first, again);
        let report: Evidence = serde_json::from_slice(&first).unwrap();
        assert_eq!(report.run.host, "ci-7");
        assert_eq!(report.run.inputs, facts(0).inputs);
        assert_eq!(report.run.started, "2027-01-15T08:00:00.000Z");
        let at = |millis: u64| {
            rfc3339(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis))
        };
        assert_eq!(at(1_800_000_000_120), "2027-01-15T08:00:00.120Z");
        assert_eq!(at(1_800_000_000_005), "2027-01-15T08:00:00.005Z");
        assert_eq!(verify(&first, None).exit_code(), 0);
        // A different fact is a different report.
        let later = canonical_bytes(&build(&context, &facts(1_800_000_001), &secrets));
        assert_ne!(first, later);
    }

    #[test]
    fn facts_gathered_ahead_are_those_gathered_at_the_end_or_gathered_again() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::plan::load_plan(
            &root.join("specs"),
            &root.join("scenarios"),
            crate::target::Target::mock(),
            &crate::mock::builtin(),
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        let (started, finished) = (facts(0).started, facts(0).finished);
        let at_the_end = RunFacts::gather(&plan, &plan.scenarios, started, finished);
        assert!(at_the_end.inputs.len() > 2, "{:?}", at_the_end.inputs);
        let ahead = RunFacts::gather_ahead(&plan, &plan.scenarios);
        assert_eq!(
            ahead.finish(&plan, &plan.scenarios, started, finished),
            at_the_end
        );
        // A thread that could not gather them all leaves it to the end.
        let failed = PendingFacts {
            thread: std::thread::Builder::new().spawn(|| None).ok(),
            first: plan.scenarios.first().map(|s| s.path.clone()),
        };
        assert_eq!(
            failed.finish(&plan, &plan.scenarios, started, finished),
            at_the_end
        );
        // A file that cannot be read fails a strict gathering and is left out of a lenient one.
        let missing = FactSources {
            target: None,
            specs: vec![root.join("specs/no-such-spec.yaml")],
            scenario_files: Vec::new(),
            first_scenario: None,
        };
        assert!(missing.gather(true).is_none());
        let lenient = missing.gather(false).unwrap();
        assert_eq!(lenient.inputs.len(), 1, "{:?}", lenient.inputs);
        assert_eq!(lenient.inputs[0].path, "targets/mock.yaml (embedded)");
    }

    #[test]
    fn user_info_is_dropped_from_shown_urls() {
        assert_eq!(
            without_userinfo("http://user:pw@proxy.example:3128"),
            "http://proxy.example:3128/"
        );
        assert_eq!(
            without_userinfo("https://api.example"),
            "https://api.example"
        );
    }
}
