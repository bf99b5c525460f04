//! The Markdown summary (`reports/summary.md`), short enough for a CI job summary: the run, its
//! result (the word the console and the evidence page show), a table per provider, what failed or could not run, what was skipped and why, the requirements
//! not verified, and the report hash an auditor can check `evidence.json` against.
//!
//! Rendered from the [`Evidence`], so it says nothing the evidence does not (and holds no secret
//! the evidence redacted).

use std::fmt::Write as _;

use super::evidence::{Evidence, RequirementStatus, ScenarioVerdict, provider_tallies};

/// How many rows each list shows before saying how many more there are.
const LIST_LIMIT: usize = 50;

/// Renders the summary.
pub fn render(evidence: &Evidence) -> String {
    let run = &evidence.run;
    let mut out = String::new();
    let status = if run.complete {
        "complete".to_owned()
    } else {
        format!(
            "**INCOMPLETE**: {}",
            cell(run.incomplete_reason.as_deref().unwrap_or("interrupted"))
        )
    };
    let _ = writeln!(
        out,
        "# authconform run against `{}`\n",
        code(&run.target.name)
    );
    let _ = writeln!(
        out,
        "{} {} · {} → {} · host `{}` · {status}\n",
        run.tool,
        run.tool_version,
        run.started,
        run.finished,
        code(&run.host)
    );
    if !run.merged_from.is_empty() {
        // An auditor checks each run the report was assembled from against its own published hash.
        match &run.test_run_id {
            // One test run's trial records (nextest): one run, told apart by trial.
            Some(id) => {
                let _ = writeln!(
                    out,
                    "Merged from the {} trial records of test run `{}`:\n",
                    run.merged_from.len(),
                    code(id)
                );
            }
            None => {
                let _ = writeln!(out, "Merged from {} runs:\n", run.merged_from.len());
            }
        }
        for (index, input) in run.merged_from.iter().enumerate() {
            let t = &input.totals;
            let _ = writeln!(
                out,
                "- run #{index}: `{}` (report sha256 `{}`): target `{}`, host `{}`, {} \u{2192} {}{}; {} passed, {} failed, {} errors, {} skipped, {} not run",
                code(&input.file),
                input.report_sha256,
                code(&input.target.name),
                code(&input.host),
                input.started,
                input.finished,
                if input.complete {
                    ""
                } else {
                    ", **incomplete**"
                },
                t.passed,
                t.failed,
                t.errors,
                t.skipped,
                t.not_run
            );
        }
        out.push('\n');
    }
    let t = &run.totals;
    let strict = run.strict.unwrap_or(false);
    let outcome = super::RunOutcome::of_run(run);
    let _ = writeln!(
        out,
        "**Result: {}** \u{2014} {}.\n",
        outcome.word(),
        outcome.explanation(t)
    );
    // Shown only when some scenario differs, so runs without assumptions read as before.
    let differs = t.differs_from_assumption > 0;
    let differs_total = if differs {
        format!(
            ", {} differ from an assumption ({})",
            t.differs_from_assumption,
            if strict {
                "--strict: failures"
            } else {
                "not failures without --strict"
            }
        )
    } else {
        String::new()
    };
    let waived_total = if t.waived > 0 {
        format!(", {} waived", t.waived)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "**{} passed, {} failed, {} errors, {} skipped, {} not run{differs_total}{waived_total}**\n",
        t.passed, t.failed, t.errors, t.skipped, t.not_run
    );
    out.push_str(if differs {
        "| provider | passed | failed | errors | skipped | not run | differs from assumption | requirements verified |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    } else {
        "| provider | passed | failed | errors | skipped | not run | requirements verified |\n|---|---:|---:|---:|---:|---:|---:|\n"
    });
    for (provider, tally) in provider_tallies(evidence) {
        let c = &tally.scenarios;
        let differs_cell = if differs {
            format!(" {} |", c.differs_from_assumption)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |{differs_cell} {} / {} |",
            cell(provider),
            c.passed,
            c.failed,
            c.errors,
            c.skipped,
            c.not_run,
            tally.verified,
            tally.requirements
        );
    }
    let section = |out: &mut String, title: &str, rows: Vec<String>| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n## {title} ({})\n", rows.len());
        for row in rows.iter().take(LIST_LIMIT) {
            let _ = writeln!(out, "- {row}");
        }
        if rows.len() > LIST_LIMIT {
            let _ = writeln!(
                out,
                "- … and {} more (see evidence.json)",
                rows.len() - LIST_LIMIT
            );
        }
    };
    // In a merged report each record and citation names the run it comes from (`run #N`, as
    // numbered in "Merged from"), so a line traces to that run's report.
    let input_of = super::merge::inputs_of_records(&run.merged_from);
    let of_run = |input: Option<usize>| input.map(|i| format!(", run #{i}")).unwrap_or_default();
    let scenarios_with = |verdicts: &[ScenarioVerdict]| -> Vec<String> {
        evidence
            .scenarios
            .iter()
            .enumerate()
            .filter(|(_, s)| verdicts.contains(&s.verdict))
            .map(|(n, s)| {
                format!(
                    "`{}` ({}{}): {}",
                    code(&s.trial),
                    s.verdict,
                    of_run(input_of.get(n).copied()),
                    cell(s.message.as_deref().unwrap_or(""))
                )
            })
            .collect()
    };
    section(
        &mut out,
        "Failed or could not run",
        scenarios_with(&[ScenarioVerdict::Fail, ScenarioVerdict::Error]),
    );
    section(
        &mut out,
        "Differs from an assumption",
        scenarios_with(&[ScenarioVerdict::DiffersFromAssumption]),
    );
    // Who waived what, why and until when, beside the failure as it was.
    let waived: Vec<String> = evidence
        .scenarios
        .iter()
        .enumerate()
        .filter_map(|(n, s)| {
            let w = s.waiver.as_ref()?;
            Some(format!(
                "`{}` (waived {}{}): waived by {} until {} (covers `{}`): {} \u{2014} {}",
                code(&s.trial),
                w.waived_verdict,
                of_run(input_of.get(n).copied()),
                cell(&w.owner),
                cell(&w.expires),
                code(&w.covers),
                cell(&w.reason),
                cell(s.message.as_deref().unwrap_or(""))
            ))
        })
        .collect();
    section(&mut out, "Waived", waived);
    let to_review: Vec<String> = run
        .waiver_problems
        .iter()
        .map(|p| {
            format!(
                "{} waiver for `{}`, owned by {}, expires {}: {}",
                p.problem,
                code(&p.covers),
                cell(&p.owner),
                cell(&p.expires),
                cell(&p.reason)
            )
        })
        .collect();
    section(&mut out, "Waivers to review", to_review);
    // Generated-case kinds a `property` step did not try, who left each out and why: a pass
    // covers only the kinds tried.
    let not_tried: Vec<String> = evidence
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter().map(move |step| (s, step)))
        .filter_map(|(s, step)| Some((s, step, step.property.as_ref()?)))
        .flat_map(|(s, step, property)| {
            property.left_out.iter().map(move |l| {
                format!(
                    "`{}` step {} (`{}`): {} (left out by the {}: {})",
                    code(&s.trial),
                    step.number,
                    code(&property.family),
                    cell(&l.kind),
                    l.by.as_str(),
                    cell(&l.because)
                )
            })
        })
        .collect();
    section(&mut out, "Generated kinds not tried", not_tried);
    section(
        &mut out,
        "Skipped",
        scenarios_with(&[ScenarioVerdict::Skipped]),
    );
    section(
        &mut out,
        "Not run",
        scenarios_with(&[ScenarioVerdict::NotRun]),
    );
    let unverified: Vec<String> = evidence
        .requirements
        .iter()
        .filter(|r| r.status != RequirementStatus::Verified)
        .map(|r| {
            let cited: Vec<String> = r
                .scenarios
                .iter()
                .filter_map(|s| {
                    Some(format!(
                        "`{}` {} run #{}",
                        code(&s.trial),
                        s.verdict,
                        s.input?
                    ))
                })
                .collect();
            let cited = if cited.is_empty() {
                String::new()
            } else {
                format!(" \u{2014} {}", cited.join(", "))
            };
            format!(
                "`{}` ({}): {}{cited}",
                code(&r.id),
                r.status,
                cell(&r.statement)
            )
        })
        .collect();
    section(&mut out, "Requirements not verified", unverified);
    let _ = writeln!(
        out,
        "\nEvidence: `evidence.json`, report sha256 `{}` (`authconform verify evidence.json --sha256 {}`)",
        evidence.manifest.report_sha256, evidence.manifest.report_sha256
    );
    out
}

/// Makes text safe inside a table cell or list item: one line, no pipes, no markup, at most 300
/// characters.
fn cell(text: &str) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let short = match one_line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    };
    short
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "'")
}

/// Makes text safe inside a code span.
fn code(text: &str) -> String {
    text.chars()
        .map(|c| if c == '`' || c.is_control() { '\'' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::evidence::{MergedInput, seal, tests::sample};

    #[test]
    fn a_merged_report_lists_each_run_with_its_hash() {
        let mut evidence = sample("bob");
        assert!(!render(&seal(evidence.clone())).contains("Merged from"));
        let input = |file: &str, sha: &str| MergedInput {
            file: file.into(),
            report_sha256: sha.into(),
            git_commit: None,
            host: "ci-1".into(),
            started: "2026-12-01T10:00:00Z".into(),
            finished: "2026-12-01T10:00:05Z".into(),
            complete: true,
            target: evidence.run.target.clone(),
            totals: evidence.run.totals.clone(),
            test_run_id: None,
            first_scenario: 0,
            scenario_count: 1,
        };
        evidence.run.merged_from = vec![
            input("a/evidence.json", &"ab".repeat(32)),
            input("b/evidence.json", &"cd".repeat(32)),
        ];
        let text = render(&seal(evidence.clone()));
        assert!(text.contains("Merged from 2 runs:"), "{text}");
        let mut trials = evidence.clone();
        trials.run.test_run_id = Some("5b1e2f0c".into());
        let text = render(&seal(trials));
        assert!(
            text.contains("Merged from the 2 trial records of test run `5b1e2f0c`:"),
            "{text}"
        );
        for (index, file, sha) in [(0, "a/evidence.json", "ab"), (1, "b/evidence.json", "cd")] {
            assert!(
                text.contains(&format!(
                    "- run #{index}: `{file}` (report sha256 `{}`): target `",
                    sha.repeat(32)
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn a_merged_report_names_the_run_of_each_record_and_citation() {
        use crate::report::merge::{Input, merge};
        let run = |verdict: ScenarioVerdict| {
            let mut report = sample("bob");
            report.scenarios.truncate(1);
            report.scenarios[0].verdict = verdict;
            report.scenarios[0].message = Some(format!("said {verdict}"));
            report.run.complete = true;
            report.run.incomplete_reason = None;
            report.run.totals = crate::report::evidence::totals(&report.scenarios);
            report.requirements[0].scenarios[0].verdict = verdict;
            report.requirements[0].status =
                crate::report::evidence::requirement_status(std::iter::once(verdict));
            report.requirements[1].scenarios.clear();
            report.requirements[1].status = RequirementStatus::NotVerified;
            Input {
                file: format!("{verdict}/evidence.json"),
                bytes: crate::report::evidence::canonical_bytes(&seal(report)),
            }
        };
        let merged = merge(&[run(ScenarioVerdict::Pass), run(ScenarioVerdict::Fail)]).unwrap();
        let text = render(&merged);
        assert!(
            text.contains("- `demo::basic::a` (fail, run #1): said fail"),
            "{text}"
        );
        assert!(
            text.contains(
                "- `DEMO-BASIC-01` (conflict): s \u{2014} `demo::basic::a` pass run #0, `demo::basic::a` fail run #1"
            ),
            "{text}"
        );
        // A run's own summary names no run.
        assert!(!render(&seal(sample("bob"))).contains("run #"));
    }

    #[test]
    fn an_incomplete_run_says_so_and_lists_what_did_not_run() {
        let mut evidence = sample("bob");
        evidence.scenarios[1].message = Some("not run: a | b <script>\nx".into());
        let text = render(&seal(evidence));
        assert!(text.contains("**INCOMPLETE**"), "{text}");
        assert!(
            text.contains(
                "**Result: INTERRUPTED** \u{2014} no scenario failed, but 1 did not run."
            ),
            "{text}"
        );
        assert!(text.contains("## Not run (1)"), "{text}");
        assert!(text.contains("not run: a \\| b &lt;script&gt; x"), "{text}");
        assert!(
            text.contains("| demo | 1 | 0 | 0 | 0 | 1 | 1 / 2 |"),
            "{text}"
        );
    }
}
