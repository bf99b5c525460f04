//! The console: one line per finished scenario, the failure detail under it, and a summary per
//! provider. Everything printed is redacted.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

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
            Verdict::Pass => {}
        }
        if self.verbose || matches!(result.verdict, Verdict::Fail { .. } | Verdict::Error { .. }) {
            for line in result.step_summary().lines() {
                out.push_str(&format!("      {line}\n"));
            }
        }
        self.secrets.redact(&out)
    }

    /// Prints one finished scenario.
    pub fn print(&self, result: &ScenarioResult) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.line(result).as_bytes());
    }

    /// Renders the per-provider summary and the closing `N passed, N failed` line.
    pub fn summary(&self, results: &[ScenarioResult]) -> String {
        let mut per_provider: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for r in results {
            let counts = per_provider.entry(r.provider.as_str()).or_default();
            let slot = match r.verdict {
                Verdict::Pass => 0,
                Verdict::Fail { .. } => 1,
                Verdict::Error { .. } => 2,
                Verdict::Skipped { .. } => 3,
            };
            counts[slot] += 1;
        }
        let mut out = String::from("\nprovider      passed  failed  errors  skipped\n");
        let mut total = [0usize; 4];
        for (provider, counts) in &per_provider {
            out.push_str(&format!(
                "{provider:<12} {:>7} {:>7} {:>7} {:>8}\n",
                counts[0], counts[1], counts[2], counts[3]
            ));
            for i in 0..4 {
                total[i] += counts[i];
            }
        }
        out.push_str(&format!(
            "\n{} passed, {} failed, {} skipped\n",
            total[0],
            total[1] + total[2],
            total[3]
        ));
        if total[2] > 0 {
            out.push_str(&format!(
                "({} of the failed could not run: see ERROR lines)\n",
                total[2]
            ));
        }
        self.secrets.redact(&out)
    }
}
