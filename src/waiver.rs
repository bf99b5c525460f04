//! Waivers: deviations a provider has knowingly, each owned, explained and dated.
//!
//! A waivers file (`authconform run --waivers FILE`, or `waivers.yaml` beside the target file)
//! lists entries that name a requirement id or a scenario (`provider::file::id`), an `owner`, a
//! `reason` and an `expires` date:
//!
//! ```text
//! waivers:
//!   - requirement: DEMO-TOKEN-02
//!     owner: payments-platform@example.com
//!     reason: the token endpoint answers 400 for an expired token; fix due in release 42
//!     expires: 2027-03-31
//! ```
//!
//! A scenario that failed (or, under `--strict`, differs from an assumption) and that an
//! unexpired waiver covers becomes [`Verdict::Waived`], keeping its failure. A waiver whose
//! expiry date is before the run's day fails the run whatever its scenarios do; one whose
//! scenarios ran and none failed is unused and said so. [`Waivers`] is the loaded file,
//! [`WaiverSet`] its use in one run.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::diagnostic::{InputKind, LoadError, SpanIndex};
use crate::exec::{ScenarioResult, Verdict, WaiverNote};
use crate::plan::Plan;

/// The file read when `--waivers` is not given: `waivers.yaml` in the target file's folder.
pub const DEFAULT_FILE_NAME: &str = "waivers.yaml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiversFile {
    waivers: Vec<WaiverEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverEntry {
    #[serde(default)]
    requirement: Option<String>,
    #[serde(default)]
    scenario: Option<String>,
    owner: String,
    reason: String,
    expires: String,
}

/// What a waiver covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covers {
    /// Every scenario citing this requirement id.
    Requirement(String),
    /// The scenario of this trial name.
    Scenario(String),
}

impl Covers {
    /// Returns the requirement id or trial name.
    pub fn name(&self) -> &str {
        match self {
            Covers::Requirement(id) | Covers::Scenario(id) => id,
        }
    }

    fn covers(&self, result: &ScenarioResult) -> bool {
        match self {
            Covers::Requirement(id) => result.requirements.iter().any(|r| r == id),
            Covers::Scenario(trial) => result.trial_name == *trial,
        }
    }
}

/// One waiver, as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// What it covers.
    pub covers: Covers,
    /// Who answers for it.
    pub owner: String,
    /// Why the deviation is accepted for now.
    pub reason: String,
    /// The last day it holds.
    pub expires: time::Date,
    /// Its document path (`waivers[2]`), for messages.
    pub path: String,
}

impl Waiver {
    /// Returns the note a waived scenario carries.
    pub fn note(&self) -> WaiverNote {
        WaiverNote {
            covers: self.covers.name().to_owned(),
            owner: self.owner.clone(),
            reason: self.reason.clone(),
            expires: self.expires.to_string(),
        }
    }

    /// Whether it no longer holds on `today`: it holds through its expiry day.
    pub fn is_expired(&self, today: time::Date) -> bool {
        self.expires < today
    }
}

/// A loaded waivers file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waivers {
    /// Where it was read from.
    pub file: PathBuf,
    /// The waivers, in file order.
    pub waivers: Vec<Waiver>,
}

impl Waivers {
    /// Returns the waivers file a run reads: `explicit` when given, else `waivers.yaml` beside
    /// `target` when that exists.
    pub fn file_for(explicit: Option<&Path>, target: Option<&Path>) -> Option<PathBuf> {
        if let Some(file) = explicit {
            return Some(file.to_owned());
        }
        let beside = target?.parent()?.join(DEFAULT_FILE_NAME);
        beside.is_file().then_some(beside)
    }

    /// Reads and checks a waivers file against the plan's requirements and scenarios.
    pub fn load(file: &Path, plan: &Plan) -> Result<Self, Vec<LoadError>> {
        let text = crate::diagnostic::read_input(InputKind::Waivers, file).map_err(|e| vec![*e])?;
        Self::parse(file, &text, plan)
    }

    /// Parses and checks waivers from text.
    pub fn parse(file: &Path, text: &str, plan: &Plan) -> Result<Self, Vec<LoadError>> {
        let parsed: WaiversFile =
            crate::scenario::load::parse_yaml(InputKind::Waivers, file, text)?;
        let spans = SpanIndex::build(text);
        let err = |path: String, message: String| {
            LoadError::new(InputKind::Waivers, file, message).at(&spans, text, path)
        };
        let mut errors = Vec::new();
        let mut waivers = Vec::new();
        for (index, entry) in parsed.waivers.into_iter().enumerate() {
            let path = format!("waivers[{index}]");
            let covers = match (entry.requirement, entry.scenario) {
                (Some(id), None) => {
                    if plan.catalogue.requirements.contains_key(&id) {
                        Some(Covers::Requirement(id))
                    } else {
                        let near = crate::scenario::load::nearest(
                            &id,
                            plan.catalogue.requirements.keys().map(String::as_str),
                        );
                        errors.push(err(
                            format!("{path}.requirement"),
                            format!("unknown requirement `{id}`{}", did_you_mean(near)),
                        ));
                        None
                    }
                }
                (None, Some(trial)) => {
                    let names: Vec<String> =
                        plan.scenarios.iter().map(|s| s.trial_name()).collect();
                    if names.contains(&trial) {
                        Some(Covers::Scenario(trial))
                    } else {
                        let near = crate::scenario::load::nearest(
                            &trial,
                            names.iter().map(String::as_str),
                        );
                        errors.push(err(
                            format!("{path}.scenario"),
                            format!(
                                "unknown scenario `{trial}` (expected `provider::file::id`){}",
                                did_you_mean(near)
                            ),
                        ));
                        None
                    }
                }
                _ => {
                    errors.push(err(
                        path.clone(),
                        "a waiver names exactly one of `requirement: <id>` or `scenario: <provider::file::id>`".into(),
                    ));
                    None
                }
            };
            for (field, value) in [("owner", &entry.owner), ("reason", &entry.reason)] {
                if value.trim().is_empty() {
                    errors.push(err(
                        format!("{path}.{field}"),
                        format!("`{field}` must not be empty: an auditor must see who waived what and why"),
                    ));
                }
            }
            let expires = match parse_date(&entry.expires) {
                Some(date) => Some(date),
                None => {
                    errors.push(err(
                        format!("{path}.expires"),
                        format!(
                            "expected an ISO 8601 date (YYYY-MM-DD, like 2027-03-31), found `{}`",
                            entry.expires
                        ),
                    ));
                    None
                }
            };
            if let (Some(covers), Some(expires)) = (covers, expires) {
                waivers.push(Waiver {
                    covers,
                    owner: entry.owner,
                    reason: entry.reason,
                    expires,
                    path,
                });
            }
        }
        if errors.is_empty() {
            Ok(Self {
                file: file.to_owned(),
                waivers,
            })
        } else {
            Err(errors)
        }
    }
}

fn did_you_mean(near: Option<&str>) -> String {
    near.map(|n| format!(". Did you mean `{n}`?"))
        .unwrap_or_default()
}

/// Parses `YYYY-MM-DD` (a calendar date that exists).
fn parse_date(text: &str) -> Option<time::Date> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| text[range].parse::<u32>().ok())
            .flatten()
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8..10)?).ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

/// Returns today's date (UTC), the day a run's waivers are judged on.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The waivers of one run: applied to results as they finish, then asked what was unused.
#[derive(Debug)]
pub struct WaiverSet {
    waivers: Waivers,
    today: time::Date,
    strict: bool,
    applied: Mutex<Vec<bool>>,
}

/// A waiver that did not hold or was not needed, as a run reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaiverProblem {
    /// The waiver.
    pub waiver: Waiver,
    /// Expired (fails the run) or unused (a warning; fails a `--strict` run).
    pub kind: WaiverProblemKind,
}

/// Why a waiver is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaiverProblemKind {
    /// Its expiry date is past: the run fails.
    Expired,
    /// Its scenarios ran and none failed: it can be removed.
    Unused,
}

impl WaiverProblem {
    /// Returns the evidence's record of it.
    pub fn record(&self) -> crate::report::evidence::WaiverProblemRecord {
        use crate::report::evidence::{WaiverProblem as Problem, WaiverProblemRecord};
        WaiverProblemRecord {
            problem: match self.kind {
                WaiverProblemKind::Expired => Problem::Expired,
                WaiverProblemKind::Unused => Problem::Unused,
            },
            covers: self.waiver.covers.name().to_owned(),
            owner: self.waiver.owner.clone(),
            reason: self.waiver.reason.clone(),
            expires: self.waiver.expires.to_string(),
        }
    }

    /// Renders the console line: `error: waiver … expired …` or `warning: waiver … unused …`.
    pub fn render(&self, file: &Path) -> String {
        let w = &self.waiver;
        let what = match &w.covers {
            Covers::Requirement(id) => format!("requirement `{id}`"),
            Covers::Scenario(trial) => format!("scenario `{trial}`"),
        };
        match self.kind {
            WaiverProblemKind::Expired => format!(
                "error: the waiver for {what} ({}, {}) owned by {} expired on {}: fix the deviation or renew the waiver",
                file.display(),
                w.path,
                w.owner,
                w.expires
            ),
            WaiverProblemKind::Unused => format!(
                "warning: the waiver for {what} ({}, {}) owned by {} (expires {}) is unused: its scenarios ran and none failed, so it can be removed",
                file.display(),
                w.path,
                w.owner,
                w.expires
            ),
        }
    }
}

impl WaiverSet {
    /// Judges `waivers` on `today`; under `strict` a difference from an assumption is a
    /// failure a waiver may cover.
    pub fn new(waivers: Waivers, today: time::Date, strict: bool) -> Self {
        let count = waivers.waivers.len();
        Self {
            waivers,
            today,
            strict,
            applied: Mutex::new(vec![false; count]),
        }
    }

    /// Returns the file the waivers came from.
    pub fn file(&self) -> &Path {
        &self.waivers.file
    }

    /// Returns how many waivers there are.
    pub fn len(&self) -> usize {
        self.waivers.waivers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.waivers.waivers.is_empty()
    }

    /// Turns a failure an unexpired waiver covers into [`Verdict::Waived`]. An error is never
    /// waived: the scenario did not run, so no known deviation was seen, and waiving it would
    /// hide that nothing was checked. An expired waiver is not applied.
    pub fn apply(&self, result: &mut ScenarioResult) {
        let waivable = match &result.verdict {
            Verdict::Fail { .. } => true,
            Verdict::DiffersFromAssumption { .. } => self.strict,
            _ => false,
        };
        if !waivable {
            return;
        }
        let found = self
            .waivers
            .waivers
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_expired(self.today) && w.covers.covers(result));
        if let Some((index, waiver)) = found {
            self.applied.lock().unwrap_or_else(|e| e.into_inner())[index] = true;
            let failure = std::mem::replace(&mut result.verdict, Verdict::Pass);
            result.verdict = Verdict::Waived {
                failure: Box::new(failure),
                waiver: waiver.note(),
            };
        }
    }

    /// Returns the expired waivers and the unused ones: unexpired, at least one covered scenario
    /// ran (passed, or differed from an assumption outside `--strict`), and none was waived. A
    /// waiver none of whose scenarios ran (left out by a filter, skipped) is neither.
    pub fn problems(&self, results: &[ScenarioResult]) -> Vec<WaiverProblem> {
        let applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        let mut problems = Vec::new();
        for (index, waiver) in self.waivers.waivers.iter().enumerate() {
            let kind = if waiver.is_expired(self.today) {
                Some(WaiverProblemKind::Expired)
            } else if !applied[index]
                && results.iter().any(|r| {
                    waiver.covers.covers(r)
                        && matches!(
                            r.verdict,
                            Verdict::Pass | Verdict::DiffersFromAssumption { .. }
                        )
                })
            {
                Some(WaiverProblemKind::Unused)
            } else {
                None
            };
            if let Some(kind) = kind {
                problems.push(WaiverProblem {
                    waiver: waiver.clone(),
                    kind,
                });
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_dates_in_iso_form() {
        assert_eq!(
            parse_date("2027-03-31"),
            time::Date::from_calendar_date(2027, time::Month::March, 31).ok()
        );
        for bad in [
            "2027-02-30",
            "2027-3-31",
            "31/03/2027",
            "2027-03-31T00:00",
            "",
            "２０２７-03-31",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    fn result(verdict: Verdict) -> ScenarioResult {
        ScenarioResult {
            trial_name: "shop::api::x".into(),
            classname: "shop.api".into(),
            provider: "shop".into(),
            id: "x".into(),
            title: "t".into(),
            requirements: vec!["SHOP-01".into()],
            verdict,
            steps: Vec::new(),
            started: std::time::SystemTime::now(),
            duration: std::time::Duration::ZERO,
        }
    }

    fn set(expires: time::Date, today: time::Date, strict: bool) -> WaiverSet {
        let waivers = Waivers {
            file: "waivers.yaml".into(),
            waivers: vec![Waiver {
                covers: Covers::Requirement("SHOP-01".into()),
                owner: "team".into(),
                reason: "known".into(),
                expires,
                path: "waivers[0]".into(),
            }],
        };
        WaiverSet::new(waivers, today, strict)
    }

    #[test]
    fn only_failures_are_waived_and_differences_only_when_strict() {
        let today = time::Date::from_calendar_date(2027, time::Month::March, 1).unwrap();
        let later = today.next_day().unwrap();
        let fail = Verdict::Fail {
            step: 0,
            message: "expected 401, got 400".into(),
        };
        let mut failed = result(fail.clone());
        set(later, today, false).apply(&mut failed);
        assert!(
            matches!(&failed.verdict, Verdict::Waived { failure, waiver } if **failure == fail && waiver.owner == "team"),
            "{:?}",
            failed.verdict
        );
        // Could not run: nothing was checked, so no known deviation was seen.
        let error = Verdict::Error {
            step: None,
            message: "connection refused".into(),
        };
        let mut errored = result(error.clone());
        set(later, today, true).apply(&mut errored);
        assert_eq!(errored.verdict, error);
        let differs = Verdict::DiffersFromAssumption {
            message: "n".into(),
        };
        let mut lenient = result(differs.clone());
        set(later, today, false).apply(&mut lenient);
        assert_eq!(lenient.verdict, differs);
        let mut strict = result(differs);
        set(later, today, true).apply(&mut strict);
        assert_eq!(strict.verdict.label(), "waived");
        // Expired: the failure stays a failure.
        let mut late = result(fail.clone());
        let expired = set(today.previous_day().unwrap(), today, false);
        expired.apply(&mut late);
        assert_eq!(late.verdict, fail);
        let problems = expired.problems(&[late]);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, WaiverProblemKind::Expired);
    }

    #[test]
    fn a_waiver_holds_through_its_expiry_day() {
        let day = time::Date::from_calendar_date(2027, time::Month::March, 31).unwrap();
        let waiver = Waiver {
            covers: Covers::Scenario("a::b::c".into()),
            owner: "o".into(),
            reason: "r".into(),
            expires: day,
            path: "waivers[0]".into(),
        };
        assert!(!waiver.is_expired(day));
        assert!(waiver.is_expired(day.next_day().unwrap()));
    }
}
