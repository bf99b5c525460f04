//! Results of running scenarios: plain data for the reporters. Every text in here has already been
//! redacted through the run's [`SecretRegistry`](crate::secret::SecretRegistry); reporters redact
//! again at their sink.

use std::time::{Duration, SystemTime};

pub use crate::net::{OutcomeClass, TlsSeen};

/// How a scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every expectation held.
    Pass,
    /// An expectation was not met (JUnit `<failure>`).
    Fail {
        /// The step (0-based) that failed.
        step: usize,
        /// What was expected and what happened.
        message: String,
    },
    /// The scenario could not run: missing secret, mock did not start, DNS (JUnit `<error>`).
    Error {
        /// The step (0-based) where it stopped, if it got that far.
        step: Option<usize>,
        /// Why.
        message: String,
    },
    /// Every documented expectation held, but a check resting on a choice the documentation
    /// does not make did not (an error body, a member name): the notes are in the steps'
    /// [`StepResult::assumed`]. Passes the run unless it is `--strict`.
    DiffersFromAssumption {
        /// The notes, one per failed assumed check: step, what was found, and why assumed.
        message: String,
    },
    /// A failure (or, under `--strict`, a difference from an assumption) that an unexpired
    /// waiver covers: reported with the waiver, and it does not fail the run.
    Waived {
        /// The verdict as the scenario ended, message and all.
        failure: Box<Verdict>,
        /// Who waived it, why and until when.
        waiver: WaiverNote,
    },
    /// The scenario was not run on this target, and why (JUnit `<skipped>`).
    Skipped {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// Returns `pass`, `fail`, `error`, `differs-from-assumption`, `waived` or `skipped`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail { .. } => "fail",
            Verdict::Error { .. } => "error",
            Verdict::DiffersFromAssumption { .. } => "differs-from-assumption",
            Verdict::Waived { .. } => "waived",
            Verdict::Skipped { .. } => "skipped",
        }
    }

    /// Returns true for a verdict a reader must look at even in a quiet console: a failure, an
    /// error, a difference from an assumption, a waived failure.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            Verdict::Fail { .. }
                | Verdict::Error { .. }
                | Verdict::DiffersFromAssumption { .. }
                | Verdict::Waived { .. }
        )
    }

    /// Returns the message of a failure, error, difference or skip (a waived one's failure).
    pub fn message(&self) -> Option<&str> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail { message, .. }
            | Verdict::Error { message, .. }
            | Verdict::DiffersFromAssumption { message } => Some(message),
            Verdict::Skipped { reason } => Some(reason),
            Verdict::Waived { failure, .. } => failure.message(),
        }
    }
}

/// The waiver that covers a scenario's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaiverNote {
    /// The requirement id or trial name it names.
    pub covers: String,
    /// Who answers for it.
    pub owner: String,
    /// Why the deviation is accepted for now.
    pub reason: String,
    /// The last day it holds, `YYYY-MM-DD`.
    pub expires: String,
}

impl WaiverNote {
    /// Renders it in one line: `waived by OWNER until DATE (covers X): REASON`.
    pub fn describe(&self) -> String {
        format!(
            "waived by {} until {} (covers `{}`): {}",
            self.owner, self.expires, self.covers, self.reason
        )
    }
}

/// A check that rests on an assumption and did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumptionNote {
    /// What was expected and what was found, as a failed check says it.
    pub check: String,
    /// Which choice the documentation does not make (the block's `because`, or the sources of
    /// the scenario's requirements when all of them are assumed).
    pub because: String,
}

/// One request as sent and received, redacted.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// The method.
    pub method: String,
    /// The URL with query (redacted).
    pub url: String,
    /// The local address the request was sent from, when bound.
    pub source: Option<String>,
    /// Request headers (credentials replaced by `[redacted]`).
    pub request_headers: Vec<(String, String)>,
    /// The start of the request body (credential fields replaced).
    pub request_body: Option<String>,
    /// The outcome class: `response`, `read-timeout`, `refused`, `malformed`, ….
    pub outcome: OutcomeClass,
    /// What the class alone does not say: the parser's reason for `malformed`, the TLS or
    /// transport error for `tls` and `other`.
    pub outcome_detail: Option<String>,
    /// Why the request was sent a second time, when it was (a reused connection closed before
    /// the response); the outcome is then the fresh connection's.
    pub resent: Option<String>,
    /// The status, when a response arrived.
    pub status: Option<u16>,
    /// Response headers.
    pub response_headers: Vec<(String, String)>,
    /// The start of the response body.
    pub response_body: Option<String>,
    /// How long the exchange took.
    pub elapsed: Duration,
    /// The local address (`127.0.0.1:54321`) of the connection the outcome came from, when one
    /// was established.
    pub local_address: Option<String>,
    /// The TLS session the response came over (version, server certificate), when over TLS.
    pub tls: Option<TlsSeen>,
}

impl Transcript {
    /// Records what the exchange's connection showed: its local address and TLS session.
    pub fn record_connection(&mut self, exchange: &crate::net::Exchange) {
        self.local_address = exchange.local_address.map(|a| a.to_string());
        self.tls = exchange.tls.clone();
    }
}

/// What one step did.
#[derive(Debug, Clone, Default)]
pub struct StepResult {
    /// 0-based index in the scenario.
    pub index: usize,
    /// The step's name, or a description of it.
    pub name: String,
    /// The request transcript (request steps).
    pub transcript: Option<Transcript>,
    /// What a clock step did (`advanced the virtual clock by 301s`).
    pub clock: Option<String>,
    /// The checks that held.
    pub passed: Vec<String>,
    /// The checks that did not, with what was found.
    pub failed: Vec<String>,
    /// The assumed checks that did not hold: notes, not failures.
    pub assumed: Vec<AssumptionNote>,
    /// Why the step could not run, when it could not.
    pub error: Option<String>,
    /// Requests the step made before its own (token fetches for `auth: { oauth2 }`).
    pub auxiliary: Vec<Transcript>,
    /// The requests an authorization flow made after the step's own (redirects followed,
    /// forms submitted), in order.
    pub hops: Vec<Transcript>,
    /// True for a `finally:` step: cleanup run whatever the scenario's verdict.
    pub cleanup: bool,
    /// What a `property` step's generated cases came to.
    pub property: Option<PropertyRecord>,
}

/// What a `property` step's generated cases came to: the family, the seeds that replay them and
/// the counts (the exchanges kept are the minimal failing case's and the first failing one's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyRecord {
    /// The family (`basic`, `basic_accepted`).
    pub family: String,
    /// The run's seed, as `--seed` takes it.
    pub seed: String,
    /// Cases generated and sent.
    pub cases: u32,
    /// Of those, the ones that met the step's `expect`.
    pub held: u32,
    /// Candidates sent while shrinking the first failing case.
    pub shrink_steps: u32,
    /// The command that draws the same cases again (when a case failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// The kinds of the family no case was drawn from, each with who left it out and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOutKind>,
}

/// A kind of generated case a `property` step did not try.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftOutKind {
    /// The kind (`both-places`).
    pub kind: String,
    /// Who left it out: the scenario's `except` or the target's `property.except`.
    pub by: LeftOutBy,
    /// Why, as written there.
    pub because: String,
}

/// Who left a kind out of a `property` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftOutBy {
    /// The scenario (`property.except`): what the documentation leaves open.
    Scenario,
    /// The target (`property.except`): what this environment cannot take.
    Target,
}

impl LeftOutBy {
    /// The word reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scenario => "scenario",
            Self::Target => "target",
        }
    }
}

impl PropertyRecord {
    /// Describes it in one line: `property basic: 256 cases, 256 held, seed 9f3c…`, then each
    /// kind left out: `; not tried: both-places (scenario: …)`.
    pub fn describe(&self) -> String {
        format!(
            "property {}: {} cases, {} held, seed {}, {} shrink steps{}",
            self.family,
            self.cases,
            self.held,
            self.seed,
            self.shrink_steps,
            self.describe_left_out()
        )
    }

    /// Describes the kinds left out, `; not tried: both-places (left out by the scenario: …)`,
    /// or nothing when none was.
    pub fn describe_left_out(&self) -> String {
        if self.left_out.is_empty() {
            return String::new();
        }
        let kinds: Vec<String> = self
            .left_out
            .iter()
            .map(|l| {
                format!(
                    "{} (left out by the {}: {})",
                    l.kind,
                    l.by.as_str(),
                    l.because
                )
            })
            .collect();
        format!("; not tried: {}", kinds.join("; "))
    }
}

/// What one scenario did.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// `provider::file::id`.
    pub trial_name: String,
    /// `provider.file`, the JUnit classname.
    pub classname: String,
    /// The provider.
    pub provider: String,
    /// The scenario's id.
    pub id: String,
    /// The scenario's title.
    pub title: String,
    /// The requirement ids it verifies.
    pub requirements: Vec<String>,
    /// How it ended.
    pub verdict: Verdict,
    /// The steps that ran.
    pub steps: Vec<StepResult>,
    /// When it started (wall clock).
    pub started: SystemTime,
    /// How long it took (wall clock).
    pub duration: Duration,
}

impl ScenarioResult {
    /// Renders the steps as a short redacted summary, one line per step.
    pub fn step_summary(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let status = if step.error.is_some() {
                "ERROR"
            } else if !step.failed.is_empty() {
                "FAILED"
            } else if !step.assumed.is_empty() {
                "DIFFERS"
            } else {
                "ok"
            };
            let cleanup = if step.cleanup { "(cleanup) " } else { "" };
            out.push_str(&format!(
                "step {} [{status}] {cleanup}{}\n",
                step.index + 1,
                step.name
            ));
            if let Some(t) = &step.transcript {
                let from = t
                    .source
                    .as_deref()
                    .map(|s| format!(" from {s}"))
                    .unwrap_or_default();
                let got = match t.status {
                    Some(status) => format!("HTTP {status}"),
                    None => t.outcome.to_string(),
                };
                out.push_str(&format!(
                    "  {} {}{from} -> {got} in {} ms\n",
                    t.method,
                    t.url,
                    t.elapsed.as_millis()
                ));
            }
            if let Some(clock) = &step.clock {
                out.push_str(&format!("  {clock}\n"));
            }
            if let Some(property) = &step.property {
                out.push_str(&format!("  {}\n", property.describe()));
            }
            for check in &step.failed {
                out.push_str(&format!("  ✗ {check}\n"));
            }
            for note in &step.assumed {
                out.push_str(&format!("  ≠ {} (assumed: {})\n", note.check, note.because));
            }
            if let Some(error) = &step.error {
                out.push_str(&format!("  ! could not run: {error}\n"));
            }
        }
        out
    }
}
