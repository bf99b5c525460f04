//! Reporters: sinks for [`ScenarioResult`](crate::exec::ScenarioResult)s. Each takes the run's
//! [`SecretRegistry`] and redacts everything it writes; [`write_all`] is the one place that
//! writes a run's report files, and checks every byte of them against the registry last.

pub mod console;
pub mod evidence;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod verify;

use std::borrow::Cow;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::exec::ScenarioResult;
use crate::secret::SecretRegistry;
use evidence::Sealed;

/// Where a run's reports go.
#[derive(Debug, Clone)]
pub struct ReportPaths {
    /// JUnit XML (`<dir>/junit.xml` unless `--junit` says otherwise).
    pub junit: PathBuf,
    /// The evidence report (`<dir>/evidence.json`).
    pub evidence: PathBuf,
    /// The Markdown summary (`<dir>/summary.md`).
    pub summary: PathBuf,
    /// The evidence as a self-contained page (`<dir>/evidence.html`).
    pub html: PathBuf,
}

impl ReportPaths {
    /// Puts every report in `dir`, the JUnit XML at `junit` when given.
    pub fn new(dir: &Path, junit: Option<&Path>) -> Self {
        Self {
            junit: junit.map_or_else(|| dir.join("junit.xml"), Path::to_path_buf),
            evidence: dir.join("evidence.json"),
            summary: dir.join("summary.md"),
            html: dir.join("evidence.html"),
        }
    }
}

/// What a run came to, as every report names it: the console's closing line, summary.md and the
/// evidence page all say the same word. Completeness (did every selected scenario run?) is a
/// separate fact; an interrupted run with no failure is `Interrupted`, never `Passed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Some scenario ran and every one that ran passed; the run is complete.
    Passed,
    /// Some scenario failed or could not run, or (under `--strict`) differs from an assumption.
    Failed,
    /// No scenario failed, but the run was interrupted before all of them ran.
    Interrupted,
    /// No scenario ran: every one was skipped.
    NothingRan,
}

impl RunOutcome {
    /// Reads the outcome from a run's totals, completeness and strictness: a scenario that
    /// differs from an assumption fails a `--strict` run and counts as having run otherwise.
    pub fn of(totals: &evidence::Totals, complete: bool, strict: bool) -> Self {
        let differs = totals.differs_from_assumption;
        if totals.failed + totals.errors > 0 || (strict && differs > 0) {
            Self::Failed
        } else if !complete {
            Self::Interrupted
        } else if totals.passed + differs + totals.waived == 0 {
            Self::NothingRan
        } else {
            Self::Passed
        }
    }

    /// Reads the outcome of a report's run: as [`RunOutcome::of`], and failed when a waiver
    /// expired (or, in a `--strict` run, went unused), whatever the scenarios did.
    pub fn of_run(run: &evidence::RunInfo) -> Self {
        let strict = run.strict.unwrap_or(false);
        let waivers_fail = run
            .waiver_problems
            .iter()
            .any(|p| strict || p.problem == evidence::WaiverProblem::Expired);
        if waivers_fail {
            Self::Failed
        } else {
            Self::of(&run.totals, run.complete, strict)
        }
    }

    /// Returns the word the reports show: `PASSED`, `FAILED`, `INTERRUPTED`, `NOTHING RAN`.
    pub fn word(self) -> &'static str {
        match self {
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Interrupted => "INTERRUPTED",
            Self::NothingRan => "NOTHING RAN",
        }
    }

    /// Returns the sentence after the word, from the totals.
    pub fn explanation(self, totals: &evidence::Totals) -> String {
        match self {
            Self::Passed if totals.waived > 0 => format!(
                "no scenario failed unwaived ({} passed, {} waived, {} differ from an assumption, {} skipped)",
                totals.passed, totals.waived, totals.differs_from_assumption, totals.skipped
            ),
            Self::Passed if totals.differs_from_assumption > 0 => format!(
                "no scenario failed ({} passed, {} differ from an assumption, {} skipped)",
                totals.passed, totals.differs_from_assumption, totals.skipped
            ),
            Self::Passed => format!(
                "every scenario that ran passed ({} passed, {} skipped)",
                totals.passed, totals.skipped
            ),
            Self::Failed if totals.differs_from_assumption > 0 => format!(
                "{} scenario(s) failed, {} could not run and {} differ from an assumption",
                totals.failed, totals.errors, totals.differs_from_assumption
            ),
            Self::Failed if totals.failed + totals.errors == 0 => {
                "a waiver expired or, in a --strict run, went unused (see the waivers to review)"
                    .to_owned()
            }
            Self::Failed => format!(
                "{} scenario(s) failed and {} could not run",
                totals.failed, totals.errors
            ),
            Self::Interrupted => format!("no scenario failed, but {} did not run", totals.not_run),
            Self::NothingRan => format!("no scenario ran: all {} were skipped", totals.skipped),
        }
    }
}

/// The lock file a run holds in its reports folder (`File::try_lock`) while it runs.
pub const LOCK_FILE: &str = ".authconform.lock";

/// A run's exclusive hold on its reports folder; released when dropped, and by the system when
/// the process ends however it ends.
#[derive(Debug)]
pub struct ReportsLock {
    _file: std::fs::File,
}

/// Makes the reports folder ready before anything runs, so a bad path costs no run: creates
/// `dir`, takes its lock (another run holding it is an error naming the folder, not a wait: a
/// nightly job should not queue silently behind a stuck one), removes temporary files a killed
/// run left there, and checks the JUnit path can be written.
///
/// Every error names the path and is an invalid configuration (exit 2).
pub fn prepare(dir: &Path, paths: &ReportPaths) -> Result<ReportsLock, String> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(format!("--reports {shown}: not a directory"));
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
            format!("--reports {shown}: not a directory (a part of the path is a file)")
        }
        _ => format!("--reports {shown}: cannot create the folder: {e}"),
    })?;
    let lock_path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("--reports {shown}: cannot write there: {e}"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(format!(
                "--reports {shown}: another authconform run is writing its reports there                  (it holds {}); wait for it to end or give another --reports folder",
                lock_path.display()
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!(
                "--reports {shown}: cannot lock {}: {e}",
                lock_path.display()
            ));
        }
    }
    remove_stale_temporaries(dir, paths);
    check_junit_path(&paths.junit)?;
    Ok(ReportsLock { _file: file })
}

/// Removes `.<report>.<pid>.tmp` files of this run's reports from `dir`: under the lock no other
/// run writes there, so each is what a killed run left behind.
fn remove_stale_temporaries(dir: &Path, paths: &ReportPaths) {
    let reports: Vec<&str> = [&paths.junit, &paths.evidence, &paths.summary, &paths.html]
        .into_iter()
        .filter(|p| p.parent() == Some(dir))
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if let Some(name) = name.to_str()
            && reports.iter().any(|r| is_temporary_of(name, r))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Returns true when `name` is a temporary file [`write_atomically`] makes for `report`.
fn is_temporary_of(name: &str, report: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(report))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks that the JUnit report can be written where `--junit` says, by creating its folder and
/// a temporary file there.
fn check_junit_path(junit: &Path) -> Result<(), String> {
    let shown = junit.display();
    if junit.is_dir() {
        return Err(format!("--junit {shown}: is a directory, not a file"));
    }
    let dir = match junit.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
            format!("--junit {shown}: not a directory: {}", dir.display())
        }
        _ => format!("--junit {shown}: cannot create {}: {e}", dir.display()),
    })?;
    let probe = temporary_path(junit);
    std::fs::File::create(&probe)
        .map_err(|e| format!("--junit {shown}: cannot write there: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Renders and writes every report of a run, each atomically. `results` feed JUnit (not-run
/// scenarios among them as skips; `strict` makes a difference from an assumption a JUnit
/// `<failure>`); the sealed evidence `build` makes feeds everything else.
///
/// This is the list of sinks: a new report format is one more entry here. JUnit is rendered on
/// a thread of its own while `build` runs, then each report of the evidence on its own, so none
/// waits for another's rendering, scan or disk flush. Every rendered file passes
/// [`SecretRegistry::is_clean`] before it is written; one that does not has the value replaced
/// (for the evidence that breaks its hash, so `verify` reports the file) and the write is
/// reported as an error. Returns the evidence, and the files written (JUnit, evidence, summary,
/// page) or every error.
pub fn write_all(
    paths: &ReportPaths,
    results: &[ScenarioResult],
    strict: bool,
    build: impl FnOnce() -> Sealed,
    secrets: &SecretRegistry,
) -> (Sealed, Result<Vec<PathBuf>, Vec<String>>) {
    let attempt = |path: &Path, bytes: Cow<'_, [u8]>| match check_and_write(path, &bytes, secrets) {
        Err(WriteError::Io(_)) => Attempt::Again(bytes.into_owned()),
        done => Attempt::Done(done.map_err(|e| e.message(path))),
    };
    let joined = |thread: std::thread::ScopedJoinHandle<'_, Attempt>| {
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    };
    let (sealed, attempts) = std::thread::scope(|scope| {
        let junit = scope.spawn(|| match junit::render(results, strict, secrets) {
            Ok(bytes) => attempt(&paths.junit, Cow::Owned(bytes)),
            Err(e) => Attempt::Done(Err(e)),
        });
        let sealed = build();
        let evidence = sealed.evidence();
        // Every renderer of the evidence goes here, as the summary and the page do: it then gets
        // the same atomic write and final byte check.
        let [json, summary, html] = std::thread::scope(|scope| {
            let html = scope
                .spawn(|| attempt(&paths.html, Cow::Owned(html::render(evidence).into_bytes())));
            let json = attempt(&paths.evidence, Cow::Borrowed(sealed.bytes()));
            let summary = attempt(
                &paths.summary,
                Cow::Owned(markdown::render(evidence).into_bytes()),
            );
            [json, summary, joined(html)]
        });
        (sealed, [joined(junit), json, summary, html])
    });
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let order = [&paths.junit, &paths.evidence, &paths.summary, &paths.html];
    for (path, attempt) in order.into_iter().zip(attempts) {
        // Written at the same time, the reports may have wanted more files open than a low
        // limit allows; one at a time, now that the others are closed, they may not.
        let outcome = match attempt {
            Attempt::Done(outcome) => outcome,
            Attempt::Again(bytes) => write_checked(path, &bytes, secrets),
        };
        match outcome {
            Ok(()) => files.push(path.clone()),
            Err(e) => errors.push(e),
        }
    }
    let written = if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    };
    (sealed, written)
}

/// What writing one report in [`write_all`] came to.
enum Attempt {
    /// Written, or an error to report (a secret removed from the file, a render that failed).
    Done(Result<(), String>),
    /// Not written for an I/O error: the final bytes, to try once more.
    Again(Vec<u8>),
}

/// Why [`check_and_write`] failed.
enum WriteError {
    /// A secret reached the file: it was written with the value replaced, or could not be.
    Leaked(String),
    /// The file could not be written.
    Io(std::io::Error),
}

impl WriteError {
    fn message(self, path: &Path) -> String {
        match self {
            Self::Leaked(message) => message,
            Self::Io(e) => format!("cannot write {}: {e}", path.display()),
        }
    }
}

/// Writes a report file atomically once its final bytes pass [`SecretRegistry::is_clean`]; bytes
/// that do not are written with the value replaced (for evidence that breaks its hash, so
/// `verify` reports the file) and the write is an error saying so.
pub fn write_checked(path: &Path, bytes: &[u8], secrets: &SecretRegistry) -> Result<(), String> {
    check_and_write(path, bytes, secrets).map_err(|e| e.message(path))
}

fn check_and_write(path: &Path, bytes: &[u8], secrets: &SecretRegistry) -> Result<(), WriteError> {
    // Borrowed, not copied: every renderer writes UTF-8.
    let text = String::from_utf8_lossy(bytes);
    if secrets.is_clean(&text) {
        return write_atomically(path, bytes).map_err(WriteError::Io);
    }
    let redacted = secrets.redact(&text);
    Err(WriteError::Leaked(
        match write_atomically(path, redacted.as_bytes()) {
            Ok(()) => format!(
                "a secret reached {} past redaction; it was removed before writing",
                path.display()
            ),
            Err(e) => format!(
                "a secret reached {} past redaction, and it cannot be written: {e}",
                path.display()
            ),
        },
    ))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a reader
/// never sees a half-written report.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let temporary = temporary_path(path);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// The temporary file [`write_atomically`] writes `path` through: `.<name>.<pid>.tmp` beside it.
fn temporary_path(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    dir.join(format!(".{file_name}.{}.tmp", std::process::id()))
}

/// Returns the machine's host name (`localhost` when it cannot be read).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn console_summary_and_page_name_the_same_result() {
        let secrets = SecretRegistry::new();
        let mut failed = evidence::tests::sample("bob");
        failed.run.complete = true;
        failed.run.incomplete_reason = None;
        failed.run.totals.failed = 1;
        failed.run.totals.not_run = 0;
        let failed = evidence::seal(failed);
        let said = "FAILED";
        let console = console::Console::new(&secrets, false).summary(&failed);
        assert!(
            console.contains(&format!("\n{said}: 1 scenario(s) failed")),
            "{console}"
        );
        let summary = markdown::render(&failed);
        assert!(
            summary.contains(&format!("**Result: {said}**")),
            "{summary}"
        );
        assert!(summary.contains("· complete"), "{summary}");
        let page = html::render(&failed);
        assert!(page.contains(&format!("<strong>{said}</strong>")));
        assert!(
            !page.contains("PASSED") && !summary.contains("PASSED") && !console.contains("PASSED")
        );
    }

    #[test]
    fn temporary_file_names_are_recognised_exactly() {
        assert!(is_temporary_of(".junit.xml.4242.tmp", "junit.xml"));
        for other in [
            "junit.xml.4242.tmp",
            ".junit.xml..tmp",
            ".junit.xml.42a.tmp",
            ".junit.xml.42.tmp.bak",
            ".evidence.json.42.tmp",
        ] {
            assert!(!is_temporary_of(other, "junit.xml"), "{other}");
        }
    }

    #[test]
    fn a_secret_that_reaches_a_file_is_removed_and_reported() {
        let secrets = SecretRegistry::new();
        secrets.register(&Secret::new("password".parse().unwrap(), "CANARY-sink-pw"));
        // Evidence built without redaction: the last check must still catch the value.
        let evidence = evidence::tests::sample("CANARY-sink-pw");
        let dir = tempfile::tempdir().unwrap();
        let paths = ReportPaths::new(dir.path(), None);
        let (_, written) = write_all(&paths, &[], false, || Sealed::new(evidence), &secrets);
        let errors = written.unwrap_err();
        assert!(
            errors.iter().any(|e| e.contains("evidence.json")),
            "{errors:?}"
        );
        for file in [&paths.junit, &paths.evidence, &paths.summary] {
            let text = std::fs::read_to_string(file).unwrap();
            assert!(!text.contains("CANARY-sink-pw"), "{}", file.display());
        }
    }
}
