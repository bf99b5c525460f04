//! The evidence as one self-contained HTML page (`reports/evidence.html`) that an auditor reads on
//! screen and prints: [`render`].
//!
//! The page holds a summary of the run, the requirement matrix of each provider (status in colour
//! *and* words, so a black-and-white print still says it), and every scenario with its steps and
//! its HTTP exchanges folded in `<details>`. It loads nothing: inline CSS, no scripts, no fonts,
//! no images, and a Content-Security-Policy that forbids all of them should a text ever slip
//! through. Every text comes from the run (transcripts of a hostile server included) and is
//! escaped; control and bidirectional-override characters are shown, not obeyed. The output
//! depends on the [`Evidence`] alone, so two renderings of one evidence are byte-identical.
//!
//! `evidence.json` stays the record its hashes cover; this page is a reading of it.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::evidence::{
    Clock, Evidence, ExchangeRecord, RequirementRecord, ScenarioRecord, ScenarioVerdict,
    StepRecord, Totals,
};

/// Renders `evidence` as one HTML5 document.
pub fn render(evidence: &Evidence) -> String {
    let input_of_records = super::merge::inputs_of_records(&evidence.run.merged_from);
    // The matrix links each citation to its record: a lookup, not a scan of every record, so a
    // requirement cited by every scenario of a large run does not cost a scan per citation.
    let mut records = HashSet::with_capacity(evidence.scenarios.len() * 2);
    for (n, scenario) in evidence.scenarios.iter().enumerate() {
        records.insert((scenario.trial.as_str(), None));
        if let Some(&input) = input_of_records.get(n) {
            records.insert((scenario.trial.as_str(), Some(input)));
        }
    }
    let mut page = Page {
        out: String::with_capacity(64 * 1024),
        evidence,
        input_of_records,
        records,
    };
    page.document();
    page.out
}

/// How a status is shown beside its word: the CSS class giving its colour, and a symbol.
struct Status {
    class: &'static str,
    symbol: &'static str,
}

/// Looks up how a requirement status or scenario verdict (by its word) is shown. The typed model
/// holds no other word; one would be shown as it is, uncoloured.
fn status(word: &str) -> Status {
    let (class, symbol) = match word {
        "verified" | "pass" => ("st-pass", "\u{2713}"),
        "failed" | "fail" => ("st-fail", "\u{2717}"),
        // Runs merged into one report disagreed: as alarming as a failure, never hidden.
        "conflict" => ("st-fail", "\u{21c4}"),
        "error" => ("st-error", "!"),
        "skipped" => ("st-skip", "\u{2013}"),
        // Neither green nor red: the documented checks held, a choice the docs leave open
        // differs.
        "differs-from-assumption" => ("st-assumed", "\u{2260}"),
        // A failure someone accepted until a date: never green, never hidden.
        "waived" => ("st-waived", "\u{2691}"),
        "not-verified" | "not-run" => ("st-none", "\u{25cb}"),
        _ => ("st-other", "?"),
    };
    Status { class, symbol }
}

/// The requirement statuses, in the order the matrix counts them.
const REQUIREMENT_STATUSES: [&str; 5] = ["verified", "failed", "error", "skipped", "not-verified"];

struct Page<'a> {
    out: String,
    evidence: &'a Evidence,
    /// In a merged report, the merged run (index in `run.merged_from`) of each scenario record;
    /// empty otherwise.
    input_of_records: Vec<usize>,
    /// Every record as a citation names it: `(trial, None)`, and in a merged report also
    /// `(trial, Some(run))`.
    records: HashSet<(&'a str, Option<usize>)>,
}

/// One provider's part of the page.
struct Provider<'a> {
    name: &'a str,
    requirements: Vec<&'a RequirementRecord>,
    /// Each record with the merged run it comes from (in a merged report).
    scenarios: Vec<(Option<usize>, &'a ScenarioRecord)>,
}

impl<'a> Page<'a> {
    /// Appends markup of our own.
    fn w(&mut self, raw: &str) {
        self.out.push_str(raw);
    }

    /// Appends a text from the evidence, escaped.
    fn t(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    /// Groups requirements and scenarios by provider, providers in the order the evidence first
    /// names them (its specs' order, then its plan's).
    fn providers(&self) -> Vec<Provider<'a>> {
        let mut providers: Vec<Provider<'a>> = Vec::new();
        let index = |providers: &mut Vec<Provider<'a>>, name: &'a str| -> usize {
            match providers.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => {
                    providers.push(Provider {
                        name,
                        requirements: Vec::new(),
                        scenarios: Vec::new(),
                    });
                    providers.len() - 1
                }
            }
        };
        for requirement in &self.evidence.requirements {
            let i = index(&mut providers, &requirement.provider);
            providers[i].requirements.push(requirement);
        }
        for (n, scenario) in self.evidence.scenarios.iter().enumerate() {
            let i = index(&mut providers, &scenario.provider);
            let input = self.input_of_records.get(n).copied();
            providers[i].scenarios.push((input, scenario));
        }
        providers
    }

    fn document(&mut self) {
        let run = &self.evidence.run;
        self.w("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        // Defence in depth behind the escaping: nothing may load or run, styles only inline.
        self.w(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n",
        );
        self.w("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        self.w("<title>Authentication conformance evidence \u{2014} ");
        self.t(&run.target.name);
        self.w(" \u{2014} ");
        self.t(&run.started);
        self.w("</title>\n<style>\n");
        self.w(CSS);
        self.w("</style>\n</head>\n<body>\n");
        let providers = self.providers();
        self.summary(&providers);
        for provider in &providers {
            self.provider(provider);
        }
        self.w("<footer>Rendered by ");
        self.t(&run.tool);
        self.w(" ");
        self.t(&run.tool_version);
        self.w(" from evidence <code>");
        self.t(&self.evidence.schema);
        self.w("</code> \u{b7} report SHA-256 <code>");
        self.t(&self.evidence.manifest.report_sha256);
        self.w("</code></footer>\n</body>\n</html>\n");
    }

    fn summary(&mut self, providers: &[Provider<'a>]) {
        let run = &self.evidence.run;
        self.w("<header class=\"top\">\n<p class=\"kicker\">Audit evidence \u{b7} ");
        self.t(&run.tool);
        self.w(" ");
        self.t(&run.tool_version);
        self.w("</p>\n<h1>Authentication conformance evidence</h1>\n<p class=\"target-line\">Target <strong>");
        self.t(&run.target.name);
        self.w("</strong>");
        if let Some(description) = &run.target.description {
            self.w(" \u{2014} ");
            self.t(description);
        }
        self.w("</p>\n");
        // The outcome, coloured by the run's result; completeness below it in its own,
        // neutral style, so a complete run that failed never looks green.
        let outcome = super::RunOutcome::of_run(run);
        let outcome_class = match outcome {
            super::RunOutcome::Passed => "st-pass",
            super::RunOutcome::Failed => "st-fail",
            super::RunOutcome::Interrupted => "st-error",
            super::RunOutcome::NothingRan => "st-skip",
        };
        let _ = writeln!(
            self.out,
            "<p class=\"banner outcome {outcome_class}\" id=\"outcome\"><strong>{}</strong> \u{2014} {}.</p>",
            outcome.word(),
            outcome.explanation(&run.totals)
        );
        if run.complete {
            self.w(
                "<p class=\"banner complete\" id=\"completeness\"><strong>Complete</strong> \
                 \u{2014} every selected scenario ran to its verdict.</p>\n",
            );
        } else {
            self.w(
                "<p class=\"banner incomplete\" id=\"completeness\"><strong>INCOMPLETE</strong> \
                 \u{2014} ",
            );
            match &run.incomplete_reason {
                Some(reason) => self.t(reason),
                None => self.w("no reason recorded"),
            }
            let _ = writeln!(
                self.out,
                ". {} scenario{} did not run; a requirement only those cite is not-verified.</p>",
                run.totals.not_run,
                plural(run.totals.not_run)
            );
        }
        self.w("</header>\n");

        self.totals(&run.totals);
        if !run.waiver_problems.is_empty() {
            self.w("<section class=\"waiver-problems\" aria-label=\"Waivers to review\">\n<h2>Waivers to review</h2>\n<ul>\n");
            for problem in &run.waiver_problems {
                self.w("<li><span class=\"badge st-fail\">");
                self.t(problem.problem.as_str());
                self.w("</span> <code>");
                self.t(&problem.covers);
                self.w("</code>, owned by ");
                self.t(&problem.owner);
                self.w(", expires ");
                self.t(&problem.expires);
                self.w(": ");
                self.t(&problem.reason);
                self.w("</li>\n");
            }
            self.w("</ul>\n</section>\n");
        }

        self.w("<section class=\"run\" aria-label=\"Run\">\n<h2>Run</h2>\n<dl class=\"facts\">\n");
        self.fact("Tool", &format!("{} {}", run.tool, run.tool_version));
        self.fact("Target", &run.target.name);
        self.fact(
            "Clock",
            match run.target.clock {
                Clock::Virtual => "virtual (embedded mock providers)",
                Clock::Real => "real (live endpoints)",
                Clock::Mixed => "mixed (merged runs on different clocks)",
            },
        );
        if let Some(strict) = run.strict {
            self.fact(
                "Strict",
                if strict {
                    "yes: a difference from an assumption fails the run"
                } else {
                    "no: a difference from an assumption is reported, not failed"
                },
            );
        }
        self.fact("Started (UTC)", &run.started);
        self.fact("Finished (UTC)", &run.finished);
        self.fact("Host", &run.host);
        self.w("<dt>Git commit</dt><dd>");
        match &run.git_commit {
            Some(commit) => {
                self.w("<code>");
                self.t(commit);
                self.w("</code>");
            }
            None => self.w("(not a git checkout)"),
        }
        self.w("</dd>\n");
        self.fact("Evidence format", &self.evidence.schema);
        self.w("<dt>Report ");
        self.t(&self.evidence.manifest.algorithm.to_uppercase());
        self.w("</dt><dd><code class=\"hash\">");
        self.t(&self.evidence.manifest.report_sha256);
        self.w(
            "</code><br><span class=\"note\">of evidence.json, the record this page renders; \
             <code>authconform verify</code> recomputes it</span></dd>\n",
        );
        self.w("</dl>\n");

        self.w("<h3>Requirements per provider</h3>\n<table class=\"overview\">\n<thead><tr><th>Provider</th><th>Requirements</th>");
        for word in REQUIREMENT_STATUSES {
            self.w("<th>");
            self.badge(word);
            self.w("</th>");
        }
        self.w("<th>Scenarios</th></tr></thead>\n<tbody>\n");
        for provider in providers {
            self.w("<tr><th scope=\"row\"><a href=\"#");
            self.w(&provider_anchor(provider.name));
            self.w("\">");
            self.t(provider.name);
            let _ = write!(
                self.out,
                "</a></th><td class=\"num\">{}</td>",
                provider.requirements.len()
            );
            for word in REQUIREMENT_STATUSES {
                let count = provider
                    .requirements
                    .iter()
                    .filter(|r| r.status.as_str() == word)
                    .count();
                let zero = if count == 0 { " zero" } else { "" };
                let _ = write!(self.out, "<td class=\"num{zero}\">{count}</td>");
            }
            let _ = writeln!(
                self.out,
                "<td class=\"num\">{}</td></tr>",
                provider.scenarios.len()
            );
        }
        self.w("</tbody>\n</table>\n");

        if !run.merged_from.is_empty() {
            // Each run the report was assembled from, so an auditor can check it against its own
            // published hash.
            self.w("<h3>Merged from</h3>\n");
            if let Some(id) = &run.test_run_id {
                // One test run's trial records (nextest): one run, told apart by trial.
                self.w("<p class=\"note\">The trial records of test run <code>");
                self.t(id);
                self.w("</code>, one per trial.</p>\n");
            }
            self.w("<table class=\"kv merged\">\n<thead><tr><th>#</th><th>Report</th><th>SHA-256</th><th>Target</th><th>Host</th><th>Started</th><th>Records</th></tr></thead>\n<tbody>\n");
            for (index, input) in run.merged_from.iter().enumerate() {
                let _ = write!(self.out, "<tr><td class=\"num\">{index}</td><td><code>");
                self.t(&input.file);
                self.w("</code></td><td><code>");
                self.t(&input.report_sha256);
                self.w("</code></td><td>");
                self.t(&input.target.name);
                self.w("</td><td>");
                self.t(&input.host);
                self.w("</td><td>");
                self.t(&input.started);
                let _ = writeln!(
                    self.out,
                    "</td><td class=\"num\">{}</td></tr>",
                    input.scenario_count
                );
            }
            self.w("</tbody>\n</table>\n");
        }

        let target = &run.target;
        if !target.hosts.is_empty() || !target.sources.is_empty() {
            self.w("<h3>Target</h3>\n");
        }
        if !target.hosts.is_empty() {
            self.w("\n<table class=\"kv\">\n<thead><tr><th>Provider</th><th>Host</th><th>Base URL</th></tr></thead>\n<tbody>\n");
            for (provider, hosts) in &target.hosts {
                for (host, url) in hosts {
                    self.w("<tr><td>");
                    self.t(provider);
                    self.w("</td><td><code>");
                    self.t(host);
                    self.w("</code></td><td><code>");
                    self.t(url);
                    self.w("</code>");
                    if target
                        .allow_plain_http
                        .get(provider)
                        .is_some_and(|opted| opted.contains(host))
                    {
                        // An auditor must see that secrets went unencrypted to this host.
                        self.w(" <span class=\"unencrypted\">secrets sent unencrypted (allow_plain_http)</span>");
                    }
                    if let Some(tls) = target.tls.get(provider).and_then(|hosts| hosts.get(host)) {
                        self.w("<br><span class=\"tls\">");
                        self.t(&tls.version);
                        self.w(", server certificate SHA-256 <code>");
                        self.t(&tls.peer_certificate_sha256);
                        self.w("</code></span>");
                    }
                    self.w("</td></tr>\n");
                }
            }
            self.w("</tbody>\n</table>\n");
        }
        if !target.sources.is_empty() {
            self.w("<table class=\"kv sources\">\n<thead><tr><th>Source</th><th>Binds or proxies through</th></tr></thead>\n<tbody>\n");
            for (source, binding) in &target.sources {
                self.w("<tr><td><code>");
                self.t(source);
                self.w("</code></td><td><code>");
                self.t(binding);
                self.w("</code></td></tr>\n");
            }
            self.w("</tbody>\n</table>\n");
        }

        let inputs = &run.inputs;
        let _ = write!(
            self.out,
            "<details class=\"inputs\"><summary>Inputs: {} spec and scenario file{} with their \
             SHA-256</summary>\n<table class=\"kv\">\n<thead><tr><th>File</th><th>SHA-256</th></tr></thead>\n<tbody>\n",
            inputs.len(),
            plural(inputs.len())
        );
        for input in inputs {
            self.w("<tr><td><code>");
            self.t(&input.path);
            self.w("</code></td><td><code class=\"hash\">");
            self.t(&input.sha256);
            self.w("</code></td></tr>\n");
        }
        self.w("</tbody>\n</table>\n</details>\n</section>\n");
    }

    fn totals(&mut self, totals: &Totals) {
        let all = totals.passed
            + totals.failed
            + totals.errors
            + totals.skipped
            + totals.not_run
            + totals.differs_from_assumption
            + totals.waived;
        self.w("<section class=\"totals\" id=\"totals\" aria-label=\"Totals\">\n");
        for (label, word, count) in [
            ("passed", "pass", totals.passed),
            ("failed", "fail", totals.failed),
            ("errors", "error", totals.errors),
            ("skipped", "skipped", totals.skipped),
            ("not run", "not-run", totals.not_run),
            (
                "differ from assumption",
                "differs-from-assumption",
                totals.differs_from_assumption,
            ),
        ]
        .into_iter()
        // Shown only when some failure is waived, so other runs' tiles keep their grid.
        .chain((totals.waived > 0).then_some(("waived", "waived", totals.waived)))
        {
            let zero = if count == 0 { " zero" } else { "" };
            let _ = writeln!(
                self.out,
                "<div class=\"tile {}{zero}\"><span class=\"count\">{count}</span><span class=\"label\">{} {label}</span></div>",
                status(word).class,
                status(word).symbol
            );
        }
        let _ = writeln!(
            self.out,
            "<div class=\"tile all\"><span class=\"count\">{all}</span><span class=\"label\">scenario{}</span></div>",
            plural(all)
        );
        self.w("</section>\n");
    }

    fn fact(&mut self, term: &str, value: &str) {
        self.w("<dt>");
        self.t(term);
        self.w("</dt><dd>");
        self.t(value);
        self.w("</dd>\n");
    }

    fn badge(&mut self, word: &str) {
        let shown = status(word);
        self.w("<span class=\"badge ");
        self.w(shown.class);
        self.w("\">");
        self.w(shown.symbol);
        self.w("\u{a0}");
        self.t(word);
        self.w("</span>");
    }

    fn provider(&mut self, provider: &Provider<'a>) {
        self.w("<section class=\"provider\" id=\"");
        self.w(&provider_anchor(provider.name));
        self.w("\">\n<h2>Provider <span class=\"provider-name\">");
        self.t(provider.name);
        self.w("</span></h2>\n");
        self.matrix(provider);
        if !provider.scenarios.is_empty() {
            let _ = writeln!(
                self.out,
                "<h3>Scenarios ({})</h3>",
                provider.scenarios.len()
            );
            for &(input, scenario) in &provider.scenarios {
                self.scenario(scenario, input);
            }
        }
        self.w("</section>\n");
    }

    fn matrix(&mut self, provider: &Provider<'a>) {
        let _ = writeln!(
            self.out,
            "<h3>Requirement matrix ({} requirement{})</h3>",
            provider.requirements.len(),
            plural(provider.requirements.len())
        );
        if provider.requirements.is_empty() {
            self.w(
                "<p class=\"note\">No requirement of this provider is in the loaded specs.</p>\n",
            );
            return;
        }
        self.w("<table class=\"matrix\">\n<thead><tr><th class=\"c-id\">Requirement</th><th class=\"c-kind\">Kind</th><th>Statement</th><th class=\"c-status\">Status</th><th class=\"c-scen\">Cited by</th></tr></thead>\n<tbody>\n");
        for requirement in &provider.requirements {
            let row = status(requirement.status.as_str());
            self.w("<tr class=\"");
            self.w(row.class);
            self.w("\" id=\"");
            self.w(&requirement_anchor(&requirement.provider, &requirement.id));
            self.w("\"><td class=\"c-id\"><code>");
            self.t(&requirement.id);
            self.w("</code></td><td class=\"c-kind\"><span class=\"kind\">");
            self.t(&requirement.kind.to_string());
            self.w("</span></td><td><div class=\"statement\">");
            self.t(&requirement.statement);
            self.w("</div><div class=\"source\">");
            self.t(&requirement.source);
            self.w("</div></td><td class=\"c-status\">");
            self.badge(requirement.status.as_str());
            self.w("</td><td class=\"c-scen\">");
            if requirement.scenarios.is_empty() {
                self.w("<span class=\"note\">no scenario cites it</span>");
            } else {
                self.w("<ul class=\"refs\">");
                for cited in &requirement.scenarios {
                    self.w("<li>");
                    self.badge(cited.verdict.as_str());
                    self.w(" ");
                    if self.has_scenario(&cited.trial, cited.input) {
                        self.w("<a href=\"#");
                        self.w(&record_anchor(&cited.trial, cited.input));
                        self.w("\"><code>");
                        self.t(&cited.trial);
                        self.w("</code></a>");
                    } else {
                        self.w("<code>");
                        self.t(&cited.trial);
                        self.w("</code> <span class=\"note\">(not in this run)</span>");
                    }
                    if let Some(input) = cited.input {
                        // Which merged run said so, to trace the record to that run's report.
                        self.run_chip(input);
                    }
                    self.w("</li>");
                }
                self.w("</ul>");
            }
            self.w("</td></tr>\n");
        }
        self.w("</tbody>\n</table>\n");
    }

    /// Returns true when the report holds the record of `trial` (from merged run `input`).
    fn has_scenario(&self, trial: &str, input: Option<usize>) -> bool {
        self.records.contains(&(trial, input))
    }

    /// Appends the mark of merged run `input`: its index in "Merged from" and, as a tooltip,
    /// its report file.
    fn run_chip(&mut self, input: usize) {
        self.w(" <span class=\"run-of\"");
        if let Some(merged) = self.evidence.run.merged_from.get(input) {
            self.w(" title=\"");
            self.t(&merged.file);
            self.w("\"");
        }
        let _ = write!(self.out, ">run #{input}</span>");
    }

    /// The anchor of the matrix row for requirement `id` cited by a scenario of `provider`: that
    /// provider's own row, else the first provider holding the id.
    fn requirement_link(&self, provider: &str, id: &str) -> Option<String> {
        let requirements = &self.evidence.requirements;
        requirements
            .iter()
            .find(|r| r.provider == provider && r.id == id)
            .or_else(|| requirements.iter().find(|r| r.id == id))
            .map(|r| requirement_anchor(&r.provider, &r.id))
    }

    fn scenario(&mut self, scenario: &ScenarioRecord, input: Option<usize>) {
        let shown = status(scenario.verdict.as_str());
        let anchor = record_anchor(&scenario.trial, input);
        self.w("<article class=\"scenario ");
        self.w(shown.class);
        self.w("\" id=\"");
        self.w(&anchor);
        self.w("\">\n<h4>");
        self.badge(scenario.verdict.as_str());
        self.w(" ");
        self.t(&scenario.title);
        self.w("</h4>\n<p class=\"meta\"><code>");
        self.t(&scenario.trial);
        self.w("</code> \u{b7} ");
        self.t(scenario.kind.as_str());
        self.w(" \u{b7} <code>");
        self.t(&scenario.file);
        self.w("</code>");
        if let Some(started) = &scenario.started {
            self.w(" \u{b7} started ");
            self.t(started);
        }
        let _ = write!(self.out, " \u{b7} {}", duration(scenario.duration_ms));
        if let Some(input) = input {
            self.w(" \u{b7} from");
            self.run_chip(input);
            if let Some(merged) = self.evidence.run.merged_from.get(input) {
                self.w(" <code>");
                self.t(&merged.file);
                self.w("</code>");
            }
        }
        self.w("<br>record SHA-256 <code class=\"hash\">");
        self.t(&scenario.sha256);
        self.w("</code></p>\n");

        self.w("<p class=\"verifies\">Verifies ");
        if scenario.requirements.is_empty() {
            self.w("<span class=\"note\">no requirement</span>");
        }
        for id in &scenario.requirements {
            match self.requirement_link(&scenario.provider, id) {
                Some(target) => {
                    self.w("<a class=\"chip\" href=\"#");
                    self.w(&target);
                    self.w("\">");
                    self.t(id);
                    self.w("</a> ");
                }
                None => {
                    self.w("<span class=\"chip\">");
                    self.t(id);
                    self.w("</span> ");
                }
            }
        }
        self.w("</p>\n");

        if let Some(message) = &scenario.message {
            let label = match scenario.verdict {
                ScenarioVerdict::Fail => "Failure",
                ScenarioVerdict::Error => "Could not run",
                ScenarioVerdict::Skipped => "Skipped because",
                ScenarioVerdict::NotRun => "Not run because",
                ScenarioVerdict::Pass => "Message",
                ScenarioVerdict::DiffersFromAssumption => "Differs from assumption",
                ScenarioVerdict::Waived => "Waived failure",
            };
            self.w("<div class=\"message ");
            self.w(shown.class);
            self.w("\"><div class=\"message-label\">");
            self.w(label);
            if let Some(step) = scenario.failed_step {
                let _ = write!(
                    self.out,
                    " at <a href=\"#{anchor}.step{step}\">step {step}</a>"
                );
            }
            self.w("</div><pre>");
            self.t(message);
            self.w("</pre></div>\n");
            if let Some(waiver) = &scenario.waiver {
                self.w("<dl class=\"facts waiver\"><dt>Waived by</dt><dd>");
                self.t(&waiver.owner);
                self.w("</dd><dt>Until</dt><dd>");
                self.t(&waiver.expires);
                self.w("</dd><dt>Covers</dt><dd><code>");
                self.t(&waiver.covers);
                self.w("</code> (");
                self.t(waiver.waived_verdict.as_str());
                self.w(")</dd><dt>Reason</dt><dd>");
                self.t(&waiver.reason);
                self.w("</dd></dl>\n");
            }
        } else if scenario.verdict == ScenarioVerdict::NotRun {
            self.w("<p class=\"note\">The run was interrupted before this scenario ran.</p>\n");
        }

        if !scenario.steps.is_empty() {
            self.w("<ol class=\"steps\">\n");
            for (i, step) in scenario.steps.iter().enumerate() {
                // The iterations of a `repeat` share their step's number: its last record (the
                // one that ended the step) holds the anchor.
                let anchored = scenario
                    .steps
                    .get(i + 1)
                    .is_none_or(|next| next.number != step.number);
                self.step(&anchor, scenario.failed_step, step, anchored);
            }
            self.w("</ol>\n");
        }
        self.w("</article>\n");
    }

    fn step(
        &mut self,
        scenario: &str,
        failed_step: Option<usize>,
        step: &StepRecord,
        anchored: bool,
    ) {
        let stopped = (anchored && failed_step == Some(step.number)) || !step.failed.is_empty();
        let class = if step.error.is_some() {
            "step st-error"
        } else if stopped {
            "step st-fail"
        } else if !step.assumed.is_empty() {
            "step st-assumed"
        } else {
            "step"
        };
        let id = if anchored {
            format!(" id=\"{scenario}.step{}\"", step.number)
        } else {
            String::new()
        };
        let _ = write!(
            self.out,
            "<li class=\"{class}\"{id} value=\"{n}\"><div class=\"step-head\"><span class=\"step-no\">Step {n}</span> ",
            n = step.number
        );
        if step.cleanup {
            self.w("<span class=\"step-cleanup\">cleanup</span> ");
        }
        self.t(&step.name);
        let _ = writeln!(
            self.out,
            " <span class=\"step-counts\">{} passed \u{b7} {} failed{}</span></div>",
            step.passed.len(),
            step.failed.len(),
            if step.assumed.is_empty() {
                String::new()
            } else {
                format!(" \u{b7} {} differ from assumption", step.assumed.len())
            }
        );
        if !step.passed.is_empty() || !step.failed.is_empty() || !step.assumed.is_empty() {
            self.w("<ul class=\"checks\">");
            for check in &step.failed {
                self.w("<li class=\"ko\"><span class=\"mark\">\u{2717} failed</span> ");
                self.t(check);
                self.w("</li>");
            }
            for note in &step.assumed {
                self.w("<li class=\"assumed\"><span class=\"mark\">\u{2260} differs from assumption</span> ");
                self.t(&note.check);
                self.w(" <span class=\"because\">(assumed because ");
                self.t(&note.because);
                self.w(")</span></li>");
            }
            for check in &step.passed {
                self.w("<li class=\"ok\"><span class=\"mark\">\u{2713} passed</span> ");
                self.t(check);
                self.w("</li>");
            }
            self.w("</ul>\n");
        }
        if let Some(error) = &step.error {
            self.w("<div class=\"message st-error\"><div class=\"message-label\">Could not run</div><pre>");
            self.t(error);
            self.w("</pre></div>\n");
        }
        if let Some(clock) = &step.clock {
            self.w("<p class=\"clock\">Clock: ");
            self.t(clock);
            self.w("</p>\n");
        }
        if let Some(property) = &step.property {
            self.w("<p class=\"clock\">Generated cases: ");
            self.t(&property.describe());
            if let Some(replay) = &property.replay {
                self.w("<br><code>");
                self.t(replay);
                self.w("</code>");
            }
            self.w("</p>\n");
        }
        let count = step.exchanges.len();
        for (i, exchange) in step.exchanges.iter().enumerate() {
            // The exchanges of the step that failed are what a reader opens first.
            self.exchange(i + 1, count, stopped || step.error.is_some(), exchange);
        }
        self.w("</li>\n");
    }

    fn exchange(&mut self, position: usize, count: usize, open: bool, exchange: &ExchangeRecord) {
        self.w(if open {
            "<details class=\"exchange\" open><summary>"
        } else {
            "<details class=\"exchange\"><summary>"
        });
        if count > 1 {
            let _ = write!(self.out, "<span class=\"pos\">{position}/{count}</span> ");
        }
        self.w("<span class=\"method\">");
        self.t(&exchange.method);
        self.w("</span> <span class=\"url\">");
        self.t(&exchange.url);
        self.w("</span> <span class=\"arrow\">\u{2192}</span> ");
        match exchange.status {
            Some(code) => {
                let class = match code {
                    200..=299 => "sc-ok",
                    300..=399 => "sc-redirect",
                    _ => "sc-err",
                };
                let _ = write!(self.out, "<span class=\"sc {class}\">{code}</span>");
            }
            None => {
                self.w("<span class=\"sc sc-none\">");
                self.t(exchange.outcome.as_str());
                self.w("</span>");
            }
        }
        let _ = write!(
            self.out,
            " <span class=\"ms\">{}</span></summary>\n<div class=\"exchange-body\">\n<p class=\"exchange-facts\">From <code>",
            duration(exchange.elapsed_ms)
        );
        self.t(exchange.source.as_deref().unwrap_or("(default route)"));
        if let Some(local) = &exchange.local_address {
            self.w("</code> (local address <code>");
            self.t(local);
            self.w("</code>)");
        } else {
            self.w("</code>");
        }
        self.w(" \u{b7} outcome <code>");
        self.t(exchange.outcome.as_str());
        self.w("</code>");
        if let Some(detail) = &exchange.outcome_detail {
            self.w(" (");
            self.t(detail);
            self.w(")");
        }
        if let Some(resent) = &exchange.resent {
            self.w(" \u{b7} resent: ");
            self.t(resent);
        }
        if let Some(code) = exchange.status {
            let _ = write!(self.out, " \u{b7} status <code>{code}</code>");
        }
        let _ = write!(
            self.out,
            " \u{b7} {}</p>\n<div class=\"halves\">\n<div class=\"half\"><h5>Request</h5>\n",
            duration(exchange.elapsed_ms)
        );
        self.headers(&exchange.request_headers);
        self.body(exchange.request_body.as_deref());
        self.w("</div>\n<div class=\"half\"><h5>Response</h5>\n");
        if exchange.status.is_none() && exchange.response_headers.is_empty() {
            self.w("<p class=\"note\">No response: ");
            self.t(exchange.outcome.as_str());
            self.w(".</p>\n");
        } else {
            self.headers(&exchange.response_headers);
        }
        self.body(exchange.response_body.as_deref());
        self.w("</div>\n</div>\n</div></details>\n");
    }

    fn headers(&mut self, headers: &[(String, String)]) {
        if headers.is_empty() {
            self.w("<p class=\"note\">no headers</p>\n");
            return;
        }
        self.w("<table class=\"headers\"><tbody>");
        for (name, value) in headers {
            self.w("<tr><th>");
            self.t(name);
            self.w("</th><td>");
            self.t(value);
            self.w("</td></tr>");
        }
        self.w("</tbody></table>\n");
    }

    fn body(&mut self, body: Option<&str>) {
        match body {
            Some(body) if !body.is_empty() => {
                self.w("<pre class=\"body\">");
                self.t(body);
                self.w("</pre>\n");
            }
            _ => self.w("<p class=\"note\">no body</p>\n"),
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn duration(ms: u64) -> String {
    if ms < 10_000 {
        format!("{ms}\u{a0}ms")
    } else {
        format!("{}.{}\u{a0}s", ms / 1000, (ms % 1000) / 100)
    }
}

/// Appends `text` escaped for HTML text and double- or single-quoted attribute values.
///
/// Control characters (but tab and line feed; a CR before LF is dropped) and characters that
/// reorder or hide text (bidirectional overrides, noncharacters) become `[U+001B]`, `[U+202E]`,
/// so a transcript cannot make the page say something other than what the server sent. Common
/// fonts have no glyphs for the Control Pictures block, so the code point is spelled out.
fn escape_into(out: &mut String, text: &str) {
    // Runs of characters shown as they are are copied whole: most of a transcript is one run.
    let mut copied = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let entity = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '"' => Some("&quot;"),
            '\'' => Some("&#39;"),
            '\n' | '\t' => continue,
            '\r' if chars.peek().is_some_and(|&(_, next)| next == '\n') => Some(""),
            '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fdd0}'..='\u{fdef}' => None,
            _ if (c as u32) & 0xfffe == 0xfffe => None,
            _ => continue,
        };
        out.push_str(&text[copied..at]);
        match entity {
            Some(entity) => out.push_str(entity),
            None => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
        }
        copied = at + c.len_utf8();
    }
    out.push_str(&text[copied..]);
}

/// Turns a name into an id fragment: ASCII letters, digits and `-` stay, every other byte is
/// `_xx`, so distinct names never share an anchor and no name can leave the attribute.
fn anchor_part(name: &str) -> String {
    let mut part = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            part.push(byte as char);
        } else {
            let _ = write!(part, "_{byte:02x}");
        }
    }
    part
}

fn provider_anchor(provider: &str) -> String {
    format!("p.{}", anchor_part(provider))
}

fn requirement_anchor(provider: &str, id: &str) -> String {
    format!("r.{}.{}", anchor_part(provider), anchor_part(id))
}

fn scenario_anchor(trial: &str) -> String {
    format!("s.{}", anchor_part(trial))
}

/// The anchor of a scenario record: in a merged report, where a trial may come from several
/// runs, the run's index is part of it (`s3.…`).
fn record_anchor(trial: &str, input: Option<usize>) -> String {
    match input {
        None => scenario_anchor(trial),
        Some(input) => format!("s{input}.{}", anchor_part(trial)),
    }
}

/// The page's style: screen first, then print (every transcript shown, rows and exchanges never
/// cut, a page per provider, colours kept so the badges print).
const CSS: &str = r#"
:root {
  --ink: #1f2328; --muted: #59636e; --line: #d0d7de; --soft: #f6f8fa; --accent: #0b4f8a;
  --pass: #116329; --pass-bg: #dafbe1; --pass-line: #4ac26b;
  --fail: #a40e26; --fail-bg: #ffebe9; --fail-line: #ff8182;
  --error: #7d4e00; --error-bg: #fff1c2; --error-line: #d4a72c;
  --skip: #424a53; --skip-bg: #eaeef2; --skip-line: #afb8c1;
  --none: #6639ba; --none-bg: #f3eeff; --none-line: #c297ff;
  --assumed: #0a5c73; --assumed-bg: #dff3f8; --assumed-line: #5cb8d1;
}
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body {
  margin: 0 auto; max-width: 1180px; padding: 28px 32px 48px; color: var(--ink); background: #fff;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Liberation Sans", "DejaVu Sans", sans-serif;
}
code, pre, .url, .method, .hash {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", "DejaVu Sans Mono", monospace;
  font-size: 0.92em;
}
code, pre, td, dd, .url { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; margin: 0; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 28px; margin: 2px 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 16px; margin: 24px 0 10px; }
h4 { font-size: 15px; margin: 0 0 4px; }
h5 { font-size: 12px; margin: 10px 0 4px; text-transform: uppercase; letter-spacing: 0.06em; color: var(--muted); }
.kicker { margin: 0; color: var(--muted); text-transform: uppercase; letter-spacing: 0.08em; font-size: 12px; font-weight: 600; }
.target-line { margin: 0 0 14px; font-size: 15px; }
.note { color: var(--muted); font-size: 0.92em; }
.banner { margin: 10px 0 0; padding: 10px 14px; border-radius: 6px; border: 1px solid; font-size: 15px; }
.banner.outcome { background: var(--c-bg); border-color: var(--c); color: var(--c); border-width: 2px; font-size: 17px; }
.banner.complete { background: var(--soft); border-color: var(--line); color: var(--muted); }
.banner.incomplete { background: var(--error-bg); border-color: var(--error-line); color: var(--error); }
.totals { display: grid; grid-template-columns: repeat(7, 1fr); gap: 10px; margin: 18px 0 6px; }
.tile { border: 1px solid; border-radius: 8px; padding: 10px 12px; }
.tile .count { display: block; font-size: 28px; font-weight: 700; line-height: 1.1; }
.tile .label { font-size: 13px; font-weight: 600; }
.tile.zero { opacity: 0.55; }
.tile.all { border-color: var(--line); background: var(--soft); }
.st-pass { --c: var(--pass); --c-bg: var(--pass-bg); --c-line: var(--pass-line); }
.st-fail { --c: var(--fail); --c-bg: var(--fail-bg); --c-line: var(--fail-line); }
.st-error { --c: var(--error); --c-bg: var(--error-bg); --c-line: var(--error-line); }
.st-skip { --c: var(--skip); --c-bg: var(--skip-bg); --c-line: var(--skip-line); }
.st-none { --c: var(--none); --c-bg: var(--none-bg); --c-line: var(--none-line); }
.st-assumed { --c: var(--assumed); --c-bg: var(--assumed-bg); --c-line: var(--assumed-line); }
.st-waived { --c: var(--skip); --c-bg: var(--skip-bg); --c-line: var(--skip-line); }
.st-other { --c: var(--ink); --c-bg: #fff; --c-line: var(--line); }
.tile[class*="st-"] { color: var(--c); background: var(--c-bg); border-color: var(--c-line); }
.badge {
  display: inline-block; padding: 0 8px; border-radius: 10px; border: 1px solid var(--c-line);
  background: var(--c-bg); color: var(--c); font-size: 12px; font-weight: 700; white-space: nowrap; line-height: 18px;
}
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 0; }
.facts dt { color: var(--muted); font-weight: 600; }
.facts dd { margin: 0; }
.hash { font-size: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); border-bottom: 2px solid var(--line); font-size: 12.5px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; width: 8%; }
td.zero { color: #afb8c1; }
table.overview thead th { text-align: right; }
table.overview thead th:first-child { text-align: left; }
table.kv td { font-size: 13px; }
.inputs { margin-top: 14px; }
.inputs > summary { cursor: pointer; font-weight: 600; }
.provider-name { font-family: inherit; }
.matrix tr { border-left: 4px solid var(--c-line); }
.matrix td.c-id { width: 12%; white-space: nowrap; font-weight: 600; }
.matrix td.c-kind { width: 7%; white-space: nowrap; }
.matrix td.c-status { width: 11%; }
.matrix td.c-scen { width: 31%; }
.matrix tr.st-fail td { background: #fff8f8; }
.matrix tr.st-error td { background: #fffcf0; }
.kind { font-size: 12px; font-weight: 600; padding: 0 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--soft); }
.statement { font-weight: 500; }
.source { color: var(--muted); font-size: 12px; margin-top: 2px; }
.refs { list-style: none; margin: 0; padding: 0; }
.refs li { margin: 1px 0; font-size: 12.5px; }
.run-of { font-size: 11.5px; font-weight: 600; padding: 0 5px; border: 1px solid var(--line); border-radius: 4px; color: var(--accent); white-space: nowrap; }
.scenario {
  border: 1px solid var(--line); border-left: 5px solid var(--c-line); border-radius: 6px;
  padding: 12px 16px; margin: 0 0 14px; scroll-margin-top: 10px;
}
.meta { margin: 0 0 6px; color: var(--muted); font-size: 12.5px; }
.verifies { margin: 4px 0 8px; font-size: 13px; }
.chip { display: inline-block; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; padding: 0 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--soft); margin: 1px 0; }
.message { border: 1px solid var(--c-line); background: var(--c-bg); border-radius: 5px; padding: 8px 12px; margin: 8px 0; }
.message-label { font-weight: 700; color: var(--c); font-size: 12.5px; margin-bottom: 2px; }
.steps { margin: 8px 0 0; padding-left: 0; list-style: none; }
.step { border-top: 1px dashed var(--line); padding: 8px 0 6px; }
.step-head { font-weight: 600; }
.step-no { display: inline-block; min-width: 58px; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.step.st-fail .step-no, .step.st-error .step-no { color: var(--c); }
.step-cleanup { color: var(--muted); font-size: 12px; border: 1px solid var(--muted); border-radius: 3px; padding: 0 4px; }
.step-counts { color: var(--muted); font-weight: 400; font-size: 12px; margin-left: 6px; }
.checks { list-style: none; margin: 4px 0 4px 58px; padding: 0; font-size: 13px; }
.checks li { margin: 1px 0; }
.checks .mark { display: inline-block; min-width: 64px; font-weight: 700; font-size: 12px; }
.checks .ok .mark { color: var(--pass); }
.checks .ko { color: var(--fail); }
.checks .ko .mark { color: var(--fail); }
.checks .assumed, .checks .assumed .mark { color: var(--assumed); }
.checks .because { color: var(--muted); }
.step.st-assumed .step-no { color: var(--c); }
.matrix tr.st-assumed td { background: #f4fbfd; }
.clock { margin: 4px 0 4px 58px; font-size: 13px; color: var(--muted); }
.step > .message { margin-left: 58px; }
.exchange { margin: 6px 0 4px 58px; border: 1px solid var(--line); border-radius: 5px; background: #fff; }
.exchange > summary { cursor: pointer; padding: 5px 10px; background: var(--soft); border-radius: 5px; font-size: 13px; overflow-wrap: anywhere; }
.exchange[open] > summary { border-bottom: 1px solid var(--line); border-radius: 5px 5px 0 0; }
.method { font-weight: 700; }
.pos { color: var(--muted); font-size: 12px; }
.arrow { color: var(--muted); }
.sc { font-weight: 700; font-family: ui-monospace, "DejaVu Sans Mono", monospace; padding: 0 5px; border-radius: 3px; }
.sc-ok { color: var(--pass); background: var(--pass-bg); }
.sc-redirect { color: var(--skip); background: var(--skip-bg); }
.sc-err { color: var(--fail); background: var(--fail-bg); }
.sc-none { color: var(--error); background: var(--error-bg); }
.ms { color: var(--muted); font-size: 12px; }
.exchange-body { padding: 8px 12px 10px; }
.exchange-facts { margin: 0 0 4px; font-size: 12.5px; color: var(--muted); }
.exchange-facts code { color: var(--ink); }
table.sources { margin-top: 10px; }
.unencrypted { font-weight: bold; color: #a40000; }
.halves { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
table.headers { font-size: 12px; }
table.headers th, table.headers td { padding: 2px 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
table.headers th { width: 34%; font-weight: 600; color: var(--muted); overflow-wrap: anywhere; }
pre.body { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; font-size: 12px; margin-top: 6px; max-height: 24em; overflow: auto; }
footer { margin-top: 40px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media (max-width: 800px) {
  body { padding: 16px; }
  .totals { grid-template-columns: repeat(3, 1fr); }
  .exchange-facts { margin: 0 0 4px; font-size: 12.5px; color: var(--muted); }
.exchange-facts code { color: var(--ink); }
table.sources { margin-top: 10px; }
.halves { grid-template-columns: 1fr; }
  .checks, .clock, .exchange, .step > .message { margin-left: 0; }
}
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  a { color: inherit; }
  h2, h3, h4, h5 { break-after: avoid; }
  .provider { break-before: page; }
  thead { display: table-header-group; }
  tr, .tile, .message, .exchange, .facts, .step-head, .checks li { break-inside: avoid; }
  .scenario { break-inside: auto; }
  details > summary { list-style: none; }
  details > summary::-webkit-details-marker { display: none; }
  details::details-content { content-visibility: visible; display: block; }
  pre.body { max-height: none; overflow: visible; }
  .exchange > summary { border-bottom: 1px solid var(--line); }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::report::evidence::{
        InputFile, Manifest, RunInfo, SCHEMA_VERSION, ScenarioRef, TargetInfo,
    };

    fn exchange(url: &str, body: &str) -> ExchangeRecord {
        ExchangeRecord {
            method: "POST".into(),
            url: url.into(),
            source: Some("127.0.0.2".into()),
            request_headers: vec![
                ("authorization".into(), "Basic [redacted]".into()),
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
            ],
            request_body: Some("grant_type=client_credentials&client_secret=[redacted]".into()),
            outcome: crate::report::evidence::OutcomeClass::Response,
            status: Some(401),
            response_headers: vec![("www-authenticate".into(), "Basic realm=\"x\"".into())],
            response_body: Some(body.into()),
            elapsed_ms: 12,
            outcome_detail: None,
            resent: None,
            local_address: None,
        }
    }

    /// Reads a verdict or status from its word, as a report holds it.
    fn word<T: serde::de::DeserializeOwned>(word: &str) -> T {
        serde_json::from_value(serde_json::Value::from(word)).expect("a documented word")
    }

    fn scenario(provider: &str, id: &str, verdict: &str, message: Option<&str>) -> ScenarioRecord {
        let ran = !matches!(verdict, "skipped" | "not-run");
        ScenarioRecord {
            trial: format!("{provider}::basic::{id}"),
            provider: provider.into(),
            file: format!("scenarios/{provider}/basic.yaml"),
            id: id.into(),
            title: format!("Scenario {id}"),
            kind: crate::scenario::model::ScenarioKind::Negative,
            requirements: vec![format!("{}-01", provider.to_uppercase())],
            verdict: word(verdict),
            message: message.map(str::to_owned),
            waiver: None,
            failed_step: (verdict == "fail").then_some(1),
            started: ran.then(|| "2026-12-01T10:00:00Z".into()),
            duration_ms: 40,
            steps: if ran {
                vec![StepRecord {
                    number: 1,
                    name: "token request".into(),
                    passed: vec!["outcome is response".into()],
                    failed: if verdict == "fail" {
                        vec!["status: expected 401, got 200".into()]
                    } else {
                        vec![]
                    },
                    error: (verdict == "error").then(|| "dns error".into()),
                    assumed: Vec::new(),
                    clock: None,
                    cleanup: false,
                    property: None,
                    exchanges: vec![exchange(
                        "mock:token/oauth?x=1&y=2",
                        "<script>alert(1)</script> ]]> & \"q\" 'a' \u{7}\u{0}\u{202e}",
                    )],
                }]
            } else {
                vec![]
            },
            sha256: "ab".repeat(32),
        }
    }

    fn requirement(
        provider: &str,
        id: &str,
        status: &str,
        cited: &[(&str, &str)],
    ) -> RequirementRecord {
        RequirementRecord {
            id: id.into(),
            provider: provider.into(),
            statement: format!("Statement of {id} <b>bold</b>"),
            source: "API docs, section 2".into(),
            kind: crate::report::evidence::RequirementKind::Doc,
            status: word(status),
            scenarios: cited
                .iter()
                .map(|(trial, verdict)| ScenarioRef {
                    trial: (*trial).into(),
                    verdict: word(verdict),
                    input: None,
                })
                .collect(),
        }
    }

    fn evidence(complete: bool) -> Evidence {
        Evidence {
            schema: SCHEMA_VERSION.into(),
            run: RunInfo {
                tool: "authconform".into(),
                tool_version: "0.1.0".into(),
                git_commit: Some("0123456789abcdef".into()),
                host: "ci-host".into(),
                started: "2026-12-01T10:00:00Z".into(),
                finished: "2026-12-01T10:00:05Z".into(),
                complete,
                incomplete_reason: (!complete).then(|| "interrupted (SIGINT)".into()),
                target: TargetInfo {
                    name: "mock".into(),
                    description: Some("embedded mocks".into()),
                    clock: Clock::Virtual,
                    hosts: BTreeMap::from([(
                        "alpha".into(),
                        BTreeMap::from([("api".into(), "mock:api".into())]),
                    )]),
                    sources: BTreeMap::from([("office".into(), "127.0.0.2".into())]),
                    allow_plain_http: BTreeMap::new(),
                    defaulted: BTreeMap::new(),
                    propagation: None,
                    tls: BTreeMap::new(),
                },
                inputs: vec![InputFile {
                    path: "specs/alpha.yaml".into(),
                    sha256: "cd".repeat(32),
                }],
                totals: Totals {
                    passed: 1,
                    failed: 1,
                    errors: 1,
                    skipped: 1,
                    not_run: 1,
                    differs_from_assumption: 0,
                    waived: 0,
                },
                strict: None,
                test_run_id: None,
                merged_from: Vec::new(),
                waiver_problems: Vec::new(),
            },
            requirements: vec![
                requirement(
                    "alpha",
                    "ALPHA-01",
                    "verified",
                    &[("alpha::basic::ok", "pass")],
                ),
                requirement(
                    "alpha",
                    "ALPHA-02",
                    "failed",
                    &[("alpha::basic::bad", "fail")],
                ),
                requirement(
                    "alpha",
                    "ALPHA-03",
                    "error",
                    &[("alpha::basic::dns", "error")],
                ),
                requirement(
                    "beta",
                    "BETA-01",
                    "skipped",
                    &[("beta::basic::later", "skipped")],
                ),
                requirement(
                    "beta",
                    "BETA-02",
                    "not-verified",
                    &[("beta::basic::cut", "not-run")],
                ),
                requirement("beta", "BETA-03", "not-verified", &[]),
            ],
            scenarios: vec![
                scenario("alpha", "ok", "pass", None),
                scenario(
                    "alpha",
                    "bad",
                    "fail",
                    Some("status: expected 401, got 200"),
                ),
                scenario("alpha", "dns", "error", Some("dns error")),
                scenario("beta", "later", "skipped", Some("max_wait 1h exceeded")),
                scenario("beta", "cut", "not-run", None),
            ],
            manifest: Manifest {
                algorithm: "sha256".into(),
                report_sha256: "ef".repeat(32),
            },
        }
    }

    #[test]
    fn a_host_allowed_plain_http_is_marked_beside_its_url() {
        let mut evidence = evidence(true);
        let plain = render(&evidence);
        assert!(
            !plain.contains("secrets sent unencrypted"),
            "no host opted in"
        );
        evidence.run.target.allow_plain_http =
            BTreeMap::from([("alpha".into(), vec!["api".into()])]);
        let html = render(&evidence);
        assert!(
            html.contains(
                "<code>mock:api</code> <span class=\"unencrypted\">secrets sent unencrypted (allow_plain_http)</span>"
            ),
            "{html}"
        );
    }

    /// Cleanup steps carry a mark, and the iterations of a `repeat` (records sharing a
    /// number) give the anchor only to the last, which a failure links to.
    #[test]
    fn cleanup_steps_are_marked_and_repeated_steps_anchor_once() {
        let mut evidence = evidence(true);
        let bad = &mut evidence.scenarios[1];
        let mut first = bad.steps[0].clone();
        first.name = "create (1/2)".into();
        first.failed.clear();
        bad.steps[0].name = "create (2/2)".into();
        let mut cleanup = bad.steps[0].clone();
        cleanup.number = 2;
        cleanup.name = "delete it".into();
        cleanup.failed.clear();
        cleanup.cleanup = true;
        bad.steps.insert(0, first);
        bad.steps.push(cleanup);
        let html = render(&evidence);
        assert_eq!(
            html.matches("id=\"s.alpha_3a_3abasic_3a_3abad.step1\"")
                .count(),
            1
        );
        let anchored = html
            .find("id=\"s.alpha_3a_3abasic_3a_3abad.step1\"")
            .unwrap();
        assert!(
            html[anchored..].find("create (2/2)") < html[anchored..].find("delete it"),
            "the anchor is on the last iteration"
        );
        assert!(!html[anchored..].contains("create (1/2)"));
        assert_eq!(
            html.matches("<span class=\"step-cleanup\">cleanup</span> delete it")
                .count(),
            1
        );
        assert_eq!(html.matches("class=\"step-cleanup\"").count(), 1);
    }

    #[test]
    fn a_conflict_between_merged_runs_looks_failed() {
        let shown = status("conflict");
        assert_eq!((shown.class, shown.symbol), ("st-fail", "\u{21c4}"));
    }

    #[test]
    fn a_merged_report_lists_its_runs_with_their_hashes() {
        let mut evidence = evidence(true);
        assert!(!render(&evidence).contains("Merged from"));
        let input = |file: &str, sha: &str| crate::report::evidence::MergedInput {
            file: file.into(),
            report_sha256: sha.into(),
            git_commit: None,
            host: "ci-<1>".into(),
            started: "2026-12-01T10:00:00Z".into(),
            finished: "2026-12-01T10:00:05Z".into(),
            complete: true,
            target: evidence.run.target.clone(),
            totals: evidence.run.totals.clone(),
            test_run_id: None,
            first_scenario: 0,
            scenario_count: 3,
        };
        evidence.run.merged_from = vec![
            input("a/evidence.json", &"ab".repeat(32)),
            input("b/<x>.json", &"cd".repeat(32)),
        ];
        let html = render(&evidence);
        assert!(html.contains("<h3>Merged from</h3>"), "{html}");
        assert!(!html.contains("trial records of test run"), "{html}");
        evidence.run.test_run_id = Some("5b1e<2f>".into());
        let html = render(&evidence);
        assert!(
            html.contains(
                "<p class=\"note\">The trial records of test run <code>5b1e&lt;2f&gt;</code>, one per trial.</p>"
            ),
            "{html}"
        );
        assert!(html.contains(&format!(
            "<tr><td class=\"num\">1</td><td><code>b/&lt;x&gt;.json</code></td><td><code>{}</code></td><td>mock</td><td>ci-&lt;1&gt;</td>",
            "cd".repeat(32)
        )), "{html}");
    }

    #[test]
    fn hostile_text_renders_inert() {
        let html = render(&evidence(true));
        assert!(
            !html.contains("<script"),
            "a body's markup reached the page"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("]]&gt; &amp; &quot;q&quot; &#39;a&#39; [U+0007][U+0000][U+202E]"));
        assert!(html.contains("Statement of ALPHA-01 &lt;b&gt;bold&lt;/b&gt;"));
        assert!(!html.contains('\u{7}') && !html.contains('\u{0}') && !html.contains('\u{202e}'));
        assert!(html.contains("mock:token/oauth?x=1&amp;y=2"));
    }

    #[test]
    fn escaping_covers_attributes_and_controls() {
        let mut out = String::new();
        escape_into(
            &mut out,
            "a\"b'c<d>e&f\r\ng\rh\u{1b}\u{85}\u{2066}\u{ffff}\u{1fffe}\tz",
        );
        assert_eq!(
            out,
            "a&quot;b&#39;c&lt;d&gt;e&amp;f\ng[U+000D]h[U+001B][U+0085][U+2066][U+FFFF][U+1FFFE]\tz"
        );
    }

    #[test]
    fn anchors_are_injective_and_safe() {
        assert_eq!(scenario_anchor("a::b::c-1"), "s.a_3a_3ab_3a_3ac-1");
        assert_ne!(anchor_part("a_3a"), anchor_part("a:"));
        assert_eq!(anchor_part("\" onmouseover=x"), "_22_20onmouseover_3dx");
    }

    #[test]
    fn every_status_and_verdict_appears() {
        let html = render(&evidence(true));
        for word in ["verified", "failed", "error", "skipped", "not-verified"] {
            let class = status(word).class;
            assert!(
                html.contains(&format!("<span class=\"badge {class}\">")),
                "{word}"
            );
            assert!(html.contains(&format!("\u{a0}{word}</span>")), "{word}");
        }
        for word in ["pass", "fail", "error", "skipped", "not-run"] {
            assert!(html.contains(&format!("\u{a0}{word}</span>")), "{word}");
        }
        assert!(html.contains(
            "<span class=\"count\">1</span><span class=\"label\">\u{2717} failed</span>"
        ));
        assert!(html.contains("Skipped because"));
        assert!(html.contains("max_wait 1h exceeded"));
        assert!(html.contains("status: expected 401, got 200"));
    }

    /// The class list of the element with `id`.
    fn classes_of<'h>(html: &'h str, id: &str) -> &'h str {
        let at = html.find(&format!(" id=\"{id}\"")).unwrap();
        let tag = &html[html[..at].rfind('<').unwrap()..at];
        let start = tag.find("class=\"").unwrap() + 7;
        &tag[start..start + tag[start..].find('"').unwrap()]
    }

    #[test]
    fn a_complete_run_that_failed_looks_failed_not_green() {
        let html = render(&evidence(true));
        assert_eq!(classes_of(&html, "outcome"), "banner outcome st-fail");
        assert!(html.contains(
            "<strong>FAILED</strong> \u{2014} 1 scenario(s) failed and 1 could not run."
        ));
        // Completeness is said apart, in a style that is no verdict's colour.
        assert_eq!(classes_of(&html, "completeness"), "banner complete");
        let complete_style = CSS
            .lines()
            .find(|l| l.starts_with(".banner.complete"))
            .unwrap();
        assert!(!complete_style.contains("--pass"), "{complete_style}");
    }

    #[test]
    fn the_outcome_banner_follows_the_result() {
        let mut passed = evidence(true);
        passed.run.totals = Totals {
            passed: 3,
            failed: 0,
            errors: 0,
            skipped: 1,
            not_run: 0,
            differs_from_assumption: 0,
            waived: 0,
        };
        let html = render(&passed);
        assert_eq!(classes_of(&html, "outcome"), "banner outcome st-pass");
        assert!(html.contains("<strong>PASSED</strong>"));
        passed.run.totals.errors = 1;
        assert_eq!(
            classes_of(&render(&passed), "outcome"),
            "banner outcome st-fail"
        );
        let mut nothing = passed.clone();
        nothing.run.totals = Totals {
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 4,
            not_run: 0,
            differs_from_assumption: 0,
            waived: 0,
        };
        let html = render(&nothing);
        assert_eq!(classes_of(&html, "outcome"), "banner outcome st-skip");
        assert!(html.contains("<strong>NOTHING RAN</strong>"));
        let mut cut = nothing.clone();
        cut.run.complete = false;
        cut.run.totals.not_run = 2;
        cut.run.totals.passed = 1;
        let html = render(&cut);
        assert_eq!(classes_of(&html, "outcome"), "banner outcome st-error");
        assert!(html.contains("<strong>INTERRUPTED</strong>"));
    }

    #[test]
    fn an_incomplete_run_is_marked_with_its_reason() {
        let complete = render(&evidence(true));
        assert!(complete.contains("<strong>Complete</strong>"));
        assert!(!complete.contains("INCOMPLETE"));
        let incomplete = render(&evidence(false));
        assert!(incomplete.contains(
            "<p class=\"banner incomplete\" id=\"completeness\"><strong>INCOMPLETE</strong> \
             \u{2014} interrupted (SIGINT). 1 scenario did not run"
        ));
    }

    #[test]
    fn nothing_external_is_referenced_and_every_link_lands() {
        let html = render(&evidence(false));
        // The one `http` of the template is the CSP meta's attribute name.
        assert_eq!(html.matches("http-equiv=").count(), 1);
        let html = html.replace("http-equiv=", "");
        for forbidden in [
            "src=", "http", "url(", "@import", "<link", "<script", "<img", "<iframe", "<object",
        ] {
            assert!(!html.contains(forbidden), "the page contains `{forbidden}`");
        }
        let ids: Vec<&str> = html
            .split(" id=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "duplicate ids");
        let hrefs: Vec<&str> = html
            .split("href=\"")
            .skip(1)
            .map(|rest| &rest[..rest.find('"').unwrap()])
            .collect();
        assert!(hrefs.len() >= 10, "{hrefs:?}");
        for href in hrefs {
            let target = href
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("external link `{href}`"));
            assert!(unique.contains(target), "dangling link `{href}`");
        }
        // The matrix links each ran scenario and every scenario links back to its requirement.
        assert!(html.contains("href=\"#s.alpha_3a_3abasic_3a_3abad\""));
        assert!(html.contains("href=\"#r.alpha.ALPHA-01\""));
        assert!(html.contains("href=\"#s.alpha_3a_3abasic_3a_3abad.step1\""));
    }

    #[test]
    fn a_transcript_url_is_shown_but_never_linked() {
        let mut evidence = evidence(true);
        evidence.scenarios[0].steps[0].exchanges[0].url = "https://api.example/token".into();
        let html = render(&evidence);
        assert!(html.contains("<span class=\"url\">https://api.example/token</span>"));
        assert_eq!(
            html.replace("http-equiv=", "").matches("http").count(),
            1,
            "the URL once, in the exchange's summary line"
        );
    }

    #[test]
    fn a_merged_report_names_the_run_of_each_record() {
        let mut evidence = evidence(true);
        assert!(!render(&evidence).contains("class=\"run-of\""));
        // The same trial from two runs: records 0..3 from run 0, 3..6 from run 1.
        let mut second = evidence.scenarios[0].clone();
        second.verdict = ScenarioVerdict::Fail;
        evidence.scenarios = vec![
            evidence.scenarios[0].clone(),
            evidence.scenarios[1].clone(),
            evidence.scenarios[2].clone(),
            second,
            evidence.scenarios[3].clone(),
            evidence.scenarios[4].clone(),
        ];
        let input = |file: &str, first: usize| crate::report::evidence::MergedInput {
            file: file.into(),
            report_sha256: "ab".repeat(32),
            git_commit: None,
            host: "ci".into(),
            started: "2026-12-01T10:00:00Z".into(),
            finished: "2026-12-01T10:00:05Z".into(),
            complete: true,
            target: evidence.run.target.clone(),
            totals: evidence.run.totals.clone(),
            test_run_id: None,
            first_scenario: first,
            scenario_count: 3,
        };
        evidence.run.merged_from = vec![input("a/evidence.json", 0), input("b/<x>.json", 3)];
        evidence.requirements[0].status = word("conflict");
        evidence.requirements[0].scenarios = vec![
            crate::report::evidence::ScenarioRef {
                trial: "alpha::basic::ok".into(),
                verdict: ScenarioVerdict::Pass,
                input: Some(0),
            },
            crate::report::evidence::ScenarioRef {
                trial: "alpha::basic::ok".into(),
                verdict: ScenarioVerdict::Fail,
                input: Some(1),
            },
        ];
        let html = render(&evidence);
        // Each citation in the matrix names its run and links to that run's record.
        for (input, file, verdict) in [
            (0, "a/evidence.json", "pass"),
            (1, "b/&lt;x&gt;.json", "fail"),
        ] {
            assert!(
                html.contains(&format!(
                    "\u{a0}{verdict}</span> <a href=\"#s{input}.alpha_3a_3abasic_3a_3aok\"><code>alpha::basic::ok</code></a> <span class=\"run-of\" title=\"{file}\">run #{input}</span></li>"
                )),
                "{html}"
            );
            // Each record says which run it comes from, under an anchor of its own.
            assert!(
                html.contains(&format!("id=\"s{input}.alpha_3a_3abasic_3a_3aok\"")),
                "{html}"
            );
            assert!(
                html.contains(&format!(
                    " \u{b7} from <span class=\"run-of\" title=\"{file}\">run #{input}</span> <code>{file}</code>"
                )),
                "{html}"
            );
        }
        assert!(!html.contains("id=\"s.alpha"), "no unmerged anchor is left");
    }

    #[test]
    fn the_output_is_deterministic() {
        assert_eq!(render(&evidence(false)), render(&evidence(false)));
    }
}
