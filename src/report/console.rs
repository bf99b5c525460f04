//! The console: one line per finished scenario, the failure detail under it, a summary per
//! provider closed by the run's result (the word summary.md and the evidence page show), and on a terminal a [`Progress`] bar. Everything printed is redacted; colours only
//! when stdout is a terminal and `NO_COLOR` is unset.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::evidence::{Evidence, provider_tallies};
use crate::exec::{ScenarioResult, Verdict};
use crate::secret::SecretRegistry;

/// Prints results as they arrive.
pub struct Console<'a> {
    secrets: &'a SecretRegistry,
    colour: bool,
    verbose: bool,
}

impl<'a> Console<'a> {
    /// Creates a console printer; colours only when stdout is a terminal.
    pub fn new(secrets: &'a SecretRegistry, verbose: bool) -> Self {
        Self {
            secrets,
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            verbose,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Renders one finished scenario.
    pub fn line(&self, result: &ScenarioResult) -> String {
        let (label, code) = match result.verdict {
            Verdict::Pass => ("PASS", "32"),
            Verdict::Fail { .. } => ("FAIL", "31"),
            Verdict::Error { .. } => ("ERROR", "35"),
            Verdict::Skipped { .. } => ("SKIP", "33"),
            Verdict::DiffersFromAssumption { .. } => ("DIFFERS", "36"),
            Verdict::Waived { .. } => ("WAIVED", "34"),
        };
        let mut out = format!(
            "{:>5} {} ({} ms)\n",
            self.paint(code, label),
            result.trial_name,
            result.duration.as_millis()
        );
        match &result.verdict {
            Verdict::Fail { message, .. } | Verdict::Error { message, .. } => {
                out.push_str(&format!("      {message}\n"));
            }
            Verdict::Skipped { reason } => out.push_str(&format!("      skipped: {reason}\n")),
            Verdict::DiffersFromAssumption { message } => {
                out.push_str(&format!("      differs from assumption: {message}\n"));
            }
            Verdict::Waived { failure, waiver } => {
                out.push_str(&format!(
                    "      {}
",
                    waiver.describe()
                ));
                if let Some(message) = failure.message() {
                    out.push_str(&format!(
                        "      {}: {message}
",
                        failure.label()
                    ));
                }
            }
            Verdict::Pass => {}
        }
        if self.verbose || result.verdict.needs_attention() {
            for line in result.step_summary().lines() {
                out.push_str(&format!("      {line}\n"));
            }
        } else {
            // A pass that did not try every kind says so, with why, even when quiet.
            for step in &result.steps {
                if let Some(property) = step.property.as_ref().filter(|p| !p.left_out.is_empty()) {
                    out.push_str(&format!(
                        "      step {}: {}\n",
                        step.index + 1,
                        property.describe_left_out().trim_start_matches("; ")
                    ));
                }
            }
        }
        self.secrets.redact(&out)
    }

    /// Prints one finished scenario.
    pub fn print(&self, result: &ScenarioResult) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.line(result).as_bytes());
    }

    /// Renders the per-provider summary (scenario verdicts and requirements verified) and the
    /// closing `N passed, N failed` line.
    pub fn summary(&self, evidence: &Evidence) -> String {
        let totals = &evidence.run.totals;
        let not_run = totals.not_run > 0;
        let differs = totals.differs_from_assumption > 0;
        let mut out = format!(
            "\nprovider      passed  failed  errors  skipped{}{}  requirements verified\n",
            if not_run { "  not-run" } else { "" },
            if differs { "  differs" } else { "" }
        );
        for (provider, tally) in provider_tallies(evidence) {
            let c = &tally.scenarios;
            let not_run_cell = if not_run {
                format!(" {:>8}", c.not_run)
            } else {
                String::new()
            };
            let differs_cell = if differs {
                format!(" {:>8}", c.differs_from_assumption)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{provider:<12} {:>7} {:>7} {:>7} {:>8}{not_run_cell}{differs_cell}  {:>11}\n",
                c.passed,
                c.failed,
                c.errors,
                c.skipped,
                format!("{} / {}", tally.verified, tally.requirements)
            ));
        }
        out.push_str(&format!(
            "\n{} passed, {} failed, {} skipped",
            totals.passed,
            totals.failed + totals.errors,
            totals.skipped
        ));
        if not_run {
            out.push_str(&format!(", {} not run (incomplete)", totals.not_run));
        }
        let strict = evidence.run.strict.unwrap_or(false);
        if differs {
            out.push_str(&format!(
                ", {} differ from an assumption{}",
                totals.differs_from_assumption,
                if strict { " (--strict: failures)" } else { "" }
            ));
        }
        if totals.waived > 0 {
            out.push_str(&format!(", {} waived", totals.waived));
        }
        out.push('\n');
        if totals.errors > 0 {
            out.push_str(&format!(
                "({} of the failed could not run: see ERROR lines)\n",
                totals.errors
            ));
        }
        let outcome = super::RunOutcome::of_run(&evidence.run);
        let code = match outcome {
            super::RunOutcome::Passed => "32",
            super::RunOutcome::Failed => "31",
            super::RunOutcome::Interrupted => "35",
            super::RunOutcome::NothingRan => "33",
        };
        out.push_str(&format!(
            "{}: {}\n",
            self.paint(code, outcome.word()),
            outcome.explanation(totals)
        ));
        self.secrets.redact(&out)
    }
}

/// The progress bar on stderr: scenarios finished out of selected, and the scenario that has
/// been running longest (a live expiry or an eventual-consistency poll), so a long quiet stretch
/// shows what it waits for. Drawn only when stderr is a terminal and the run is not `--quiet`.
pub struct Progress<'a> {
    bar: Option<ProgressBar>,
    secrets: &'a SecretRegistry,
}

/// Below this, the longest-running scenario is not worth naming.
const WORTH_NAMING: Duration = Duration::from_secs(2);

impl<'a> Progress<'a> {
    /// Creates the bar for `total` scenarios, hidden unless `wanted` and stderr is a terminal.
    pub fn new(total: usize, wanted: bool, secrets: &'a SecretRegistry) -> Self {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total as u64),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} scenarios {bar:20} {elapsed} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Self { bar, secrets }
    }

    /// Returns true when the bar is drawn.
    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts one finished scenario; `print` runs with the bar out of the way.
    pub fn finished_one(&self, print: impl FnOnce()) {
        match &self.bar {
            Some(bar) => {
                bar.suspend(print);
                bar.inc(1);
            }
            None => print(),
        }
    }

    /// Shows the scenario running longest and for how long.
    pub fn show_longest(&self, longest: Option<(String, Duration)>) {
        let Some(bar) = &self.bar else { return };
        let message = match longest {
            Some((trial, waited)) if waited >= WORTH_NAMING => {
                format!("· {}s in {trial}", waited.as_secs())
            }
            _ => String::new(),
        };
        bar.set_message(self.secrets.redact(&message));
    }

    /// Removes the bar before the summary is printed.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::evidence::{seal, tests::sample};
    use crate::secret::Secret;

    #[test]
    fn the_summary_counts_not_run_scenarios_and_verified_requirements() {
        let secrets = SecretRegistry::new();
        secrets.register(&Secret::new("password".parse().unwrap(), "CANARY-con-pw"));
        let mut evidence = sample("bob");
        evidence.scenarios[0].provider = "demo".into();
        let console = Console::new(&secrets, false);
        let text = console.summary(&seal(evidence));
        assert!(text.contains("not-run"), "{text}");
        assert!(text.contains("1 / 2"), "{text}");
        assert!(text.contains("1 not run (incomplete)"), "{text}");
        assert!(
            text.ends_with("\nINTERRUPTED: no scenario failed, but 1 did not run\n"),
            "{text}"
        );
    }

    #[test]
    fn the_progress_bar_is_hidden_when_not_wanted() {
        let secrets = SecretRegistry::new();
        let progress = Progress::new(3, false, &secrets);
        assert!(!progress.is_shown());
        let mut printed = false;
        progress.finished_one(|| printed = true);
        assert!(printed);
    }
}
