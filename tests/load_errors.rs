//! Bad input gets a clear error, never a panic.
//!
//! Every invalid fixture under `tests/fixtures/invalid/<case>/` (`scenarios/demo/*.yaml`, checked
//! against the real `specs/` unless the case brings broken ones, sometimes a `target.yaml`) is
//! validated by the real binary, which must
//! exit 2 and print, for each problem, `file:line:col`, the path inside the document and what was
//! expected, then `N problems found`. Property tests feed arbitrary and mutated scenario files to
//! the loader and check it never panics and every error renders with a `-->` location line.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;

use authconform::Target;
use authconform::diagnostic::{LoadError, SpanIndex};
use authconform::load_plan;
use authconform::scenario::load::{Names, check_scenario, parse_file};
use common::{Run, authconform};
use proptest::prelude::*;
use proptest::sample::Index;

/// The fixture root, relative to the crate root (the binary's working directory).
const FIXTURES: &str = "tests/fixtures/invalid";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `authconform validate --specs <case>/specs --scenarios <case>/scenarios EXTRA`.
fn validate(case: &str, extra: &[&str]) -> Run {
    let dir = Path::new(FIXTURES).join(case);
    // A case brings its own specs only when they are what is broken.
    let specs = if dir.join("specs").is_dir() {
        dir.join("specs")
    } else {
        PathBuf::from("specs")
    };
    let scenarios = dir.join("scenarios");
    let mut args = vec![
        "validate",
        "--specs",
        specs.to_str().unwrap(),
        "--scenarios",
        scenarios.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    authconform(&args)
}

/// The path of a fixture's scenario file as the binary prints it.
fn scenario_file(case: &str, file: &str) -> String {
    Path::new(FIXTURES)
        .join(case)
        .join("scenarios")
        .join("demo")
        .join(file)
        .display()
        .to_string()
}

/// The path of a fixture's other file (target, spec) as the binary prints it.
fn case_file(case: &str, file: &str) -> String {
    Path::new(FIXTURES)
        .join(case)
        .join(file)
        .display()
        .to_string()
}

impl Run {
    /// Asserts exit code 2 and the final count of problems.
    fn assert_invalid(&self, problems: usize) -> &Self {
        assert_eq!(
            self.code,
            Some(2),
            "expected exit 2 (invalid input)\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let count = format!(
            "error: {problems} problem{} found in the input files",
            if problems == 1 { "" } else { "s" }
        );
        assert!(
            self.stderr.contains(&count),
            "expected `{count}` in:\n{}",
            self.stderr
        );
        self
    }

    /// Asserts exit code 2 and a final count that matches the errors printed.
    fn assert_exit_invalid(&self) -> &Self {
        self.assert_invalid(self.blocks().len())
    }

    /// The rendered errors, one string each.
    fn blocks(&self) -> Vec<&str> {
        let starts: Vec<usize> = self
            .stderr
            .match_indices("error: invalid ")
            .map(|(i, _)| i)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(n, &start)| {
                let end = starts.get(n + 1).copied().unwrap_or(self.stderr.len());
                &self.stderr[start..end]
            })
            .collect()
    }

    /// The one rendered error whose `-->` line is exactly `location` (`file[:line:col]`).
    fn error_at(&self, location: &str) -> &str {
        let arrow = format!("--> {location}\n");
        let found: Vec<&str> = self
            .blocks()
            .into_iter()
            .filter(|b| b.contains(&arrow))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "expected exactly one error at `{location}` in:\n{}",
            self.stderr
        );
        found[0]
    }
}

/// Asserts `block` contains every fragment.
fn assert_has(block: &str, fragments: &[&str]) {
    for fragment in fragments {
        assert!(
            block.contains(fragment),
            "expected `{fragment}` in:\n{block}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario errors caught while deserializing
// ---------------------------------------------------------------------------------------------

#[test]
fn mistyped_key_is_an_unknown_field_at_the_key() {
    let run = validate("mistyped_key", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:8:9",
        scenario_file("mistyped_key", "basic.yaml")
    ));
    assert_has(
        error,
        &[
            "error: invalid scenario",
            "8 |         expct:",
            "unknown field `expct`",
            "expected one of `name`, `request`, `capture`, `expect`, `clock`",
            "Did you mean `expect`?",
            "= at scenarios[0].steps[0].expct",
        ],
    );
}

#[test]
fn mistyped_keys_and_variants_get_a_suggestion() {
    let run = validate("mistyped_key", &[]);
    let error = run.error_at(&format!(
        "{}:8:9",
        scenario_file("mistyped_key", "basic.yaml")
    ));
    assert_has(error, &["unknown field `expct`", "Did you mean `expect`?"]);

    let run = validate("near_miss_variant", &[]);
    let error = run.error_at(&format!(
        "{}:8:19",
        scenario_file("near_miss_variant", "token.yaml")
    ));
    assert_has(
        error,
        &["unknown variant `bearr`", "Did you mean `bearer`?"],
    );

    let run = validate("assorted", &[]);
    let error = run.error_at(&format!(
        "{}:18:33",
        scenario_file("assorted", "assorted.yaml")
    ));
    assert_has(
        error,
        &["unknown variant `equal`", "Did you mean `equals`?"],
    );

    let target = case_file("target_unknown_key", "target.yaml");
    let run = validate("target_unknown_key", &["--target", &target]);
    let error = run.error_at(&format!("{target}:5:3"));
    assert_has(
        error,
        &[
            "unknown field `request_timeot`",
            "Did you mean `request_timeout`?",
        ],
    );
}

#[test]
fn near_miss_auth_scheme_lists_the_accepted_ones() {
    let run = validate("near_miss_variant", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:8:19",
        scenario_file("near_miss_variant", "token.yaml")
    ));
    assert_has(
        error,
        &[
            "unknown variant `bearr`, expected one of `basic`, `bearer`, `api_key`, `oauth2`",
            "= at scenarios[0].steps[0].request.auth.bearr",
        ],
    );
}

#[test]
fn status_as_a_word_expects_a_status_code() {
    let run = validate("wrong_type_status", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:9:19",
        scenario_file("wrong_type_status", "basic.yaml")
    ));
    assert_has(
        error,
        &[
            "9 |           status: fourohone",
            "expected an HTTP status code (100–599), found the string \"fourohone\"",
            "= at scenarios[0].steps[0].expect.status",
        ],
    );
}

#[test]
fn two_key_choice_names_the_extra_key() {
    let run = validate("two_key_choice", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:8:96",
        scenario_file("two_key_choice", "basic.yaml")
    ));
    assert_has(
        error,
        &[
            "expected exactly one key naming the choice, found another key `bearer`",
            "= at scenarios[0].steps[0].request.auth.bearer",
        ],
    );
}

#[test]
fn unknown_auth_scheme_lists_the_accepted_ones() {
    let run = validate("unknown_auth_scheme", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:9:13",
        scenario_file("unknown_auth_scheme", "token.yaml")
    ));
    assert_has(
        error,
        &[
            "9 |             kerberos: { token: x }",
            "unknown variant `kerberos`, expected one of `basic`, `bearer`, `api_key`, `oauth2`",
            "= at scenarios[0].steps[0].request.auth.kerberos",
        ],
    );
    assert!(!error.contains("Did you mean"), "{error}");
}

#[test]
fn duration_without_unit_asks_for_one() {
    let run = validate("duration_without_unit", &[]);
    run.assert_exit_invalid();
    let error = run.error_at(&format!(
        "{}:11:19",
        scenario_file("duration_without_unit", "allowlist.yaml")
    ));
    assert_has(
        error,
        &[
            "11 |           within: 3",
            "a duration needs a unit: write `3s` or `3ms`",
            "= at scenarios[0].steps[0].expect.within",
        ],
    );
}

#[test]
fn values_wrong_in_themselves_and_undefined_names_are_each_reported() {
    let run = validate("assorted", &[]);
    run.assert_exit_invalid();
    let file = scenario_file("assorted", "assorted.yaml");
    let expected: [(&str, &[&str]); 7] = [
        (
            "9:27",
            &[
                "expected an HTTP status code (100–599), found 99",
                "= at scenarios[0].steps[0].expect.status",
            ],
        ),
        (
            "13:13",
            &[
                "invalid JSONPath `$[`",
                "expected RFC 9535 syntax",
                "= at scenarios[0].steps[1].expect.json.$[",
            ],
        ),
        (
            "14:25",
            &[
                "unterminated `{{` in template \"{{api_base}/v1/profile\": expected `}}`",
                "= at scenarios[0].steps[2].request.url",
            ],
        ),
        (
            "18:33",
            &[
                "unknown variant `equal`, expected one of `present`, `absent`, `equals`, `not_equals`, `differs_from`, `contains`, `matches`",
                "= at scenarios[0].steps[3].expect.headers.www-authenticate.equal",
            ],
        ),
        (
            "26:19",
            &[
                "unknown source `elsewhere`: the target defines `block_first`, `block_last`, `default`, `outside_32`, `past_block`, `unallowlisted`",
                "= at scenarios[1].steps[0].request.source",
            ],
        ),
        (
            "30:38",
            &[
                "undefined variable `username`",
                "`username` is a secret: write `{{secret.username}}`",
                "= at scenarios[1].steps[1].request.auth.basic.username",
            ],
        ),
        (
            "30:64",
            &[
                "undefined secret `pasword`",
                "= at scenarios[1].steps[1].request.auth.basic.password",
            ],
        ),
    ];
    for (location, fragments) in expected {
        assert_has(run.error_at(&format!("{file}:{location}")), fragments);
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario errors caught by the checks after deserializing
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_requirement_is_located_and_suggested_when_close() {
    let run = validate("unknown_requirement", &[]);
    run.assert_invalid(2);
    let file = scenario_file("unknown_requirement", "allowlist.yaml");
    let close = run.error_at(&format!("{file}:5:32"));
    assert_has(
        close,
        &[
            "5 |     requirements: [DEMO-IP-01, DEMO-IP-99]",
            "unknown requirement `DEMO-IP-99`: no spec in specs/ defines it",
            "Did you mean `DEMO-IP-01`?",
            "= at scenarios[0].requirements[1]",
        ],
    );
    let far = run.error_at(&format!("{file}:12:20"));
    assert_has(
        far,
        &[
            "unknown requirement `NOPE-ZZZ-1`",
            "= at scenarios[1].requirements[0]",
        ],
    );
    assert!(!far.contains("Did you mean"), "{far}");
}

#[test]
fn undefined_variable_is_located_and_suggested() {
    let run = validate("undefined_variable", &[]);
    run.assert_invalid(1);
    let error = run.error_at(&format!(
        "{}:7:25",
        scenario_file("undefined_variable", "basic.yaml")
    ));
    assert_has(
        error,
        &[
            "undefined variable `api_bse`",
            "Did you mean `api_base`?",
            "= at scenarios[0].steps[0].request.url",
        ],
    );
}

#[test]
fn timeout_without_within_is_refused() {
    let run = validate("timeout_without_within", &[]);
    run.assert_invalid(1);
    let error = run.error_at(&format!(
        "{}:10:20",
        scenario_file("timeout_without_within", "allowlist.yaml")
    ));
    assert_has(
        error,
        &[
            "`outcome: timeout` needs `within`",
            "= at scenarios[0].steps[0].expect",
        ],
    );
}

#[test]
fn timeout_with_status_is_refused() {
    let run = validate("timeout_with_status", &[]);
    run.assert_invalid(1);
    let error = run.error_at(&format!(
        "{}:10:20",
        scenario_file("timeout_with_status", "allowlist.yaml")
    ));
    assert_has(
        error,
        &[
            "`outcome: timeout` expects no valid HTTP response, so nothing of a response (`status`, `headers`, `json`, `body`, …) can be checked",
            "= at scenarios[0].steps[0].expect",
        ],
    );
}

#[test]
fn post_deserialize_checks_report_the_right_element() {
    let run = validate("location_by_text_search", &[]);
    run.assert_invalid(1);
    assert_has(
        &run.stderr,
        &[
            "`outcome: timeout` needs `within`",
            "= at scenarios[0].steps[1].expect",
        ],
    );

    let run = validate("duplicate_scenario_id", &[]);
    run.assert_invalid(1);
    assert_has(
        &run.stderr,
        &[
            "duplicate scenario id `missing-header` in this file",
            "= at scenarios[1].id",
        ],
    );

    let run = validate("step_without_action", &[]);
    run.assert_invalid(1);
    assert_has(
        &run.stderr,
        &[
            "a step needs a `request`, a `clock` or a `compute`",
            "= at scenarios[0].steps[1]",
        ],
    );

    let run = validate("quoted_source", &[]);
    run.assert_invalid(1);
    assert_has(
        &run.stderr,
        &[
            "unknown source `elsewhere`: the target defines `block_first`, `block_last`, `default`, `outside_32`, `past_block`, `unallowlisted`",
            "= at scenarios[0].steps[0].request.source",
        ],
    );

    let run = validate("method_location", &[]);
    run.assert_exit_invalid();
    assert_has(
        &run.stderr,
        &[
            "invalid HTTP method `post`: expected an uppercase method such as `GET` or `POST`",
            "= at scenarios[0].steps[0].request.method",
        ],
    );
}

#[test]
fn check_error_points_into_its_own_step() {
    let run = validate("location_by_text_search", &[]);
    // steps[1]'s `outcome: timeout` is on line 17; steps[0]'s (valid) one is on line 11.
    let file = scenario_file("location_by_text_search", "allowlist.yaml");
    assert!(
        run.stderr.contains(&format!("--> {file}:17:")),
        "expected the error on line 17 (steps[1]) in:\n{}",
        run.stderr
    );
}

#[test]
fn quoted_unknown_source_is_located() {
    let run = validate("quoted_source", &[]);
    run.assert_invalid(1);
    let file = scenario_file("quoted_source", "allowlist.yaml");
    assert!(
        run.stderr.contains(&format!("--> {file}:8:")),
        "expected the error on line 8 in:\n{}",
        run.stderr
    );
}

#[test]
fn duplicate_scenario_id_points_at_the_duplicate() {
    let run = validate("duplicate_scenario_id", &[]);
    let file = scenario_file("duplicate_scenario_id", "basic.yaml");
    assert_has(
        run.error_at(&format!("{file}:9:9")),
        &["duplicate scenario id `missing-header`"],
    );
}

#[test]
fn step_without_request_or_clock_is_located() {
    let run = validate("step_without_action", &[]);
    let file = scenario_file("step_without_action", "basic.yaml");
    assert!(
        run.stderr.contains(&format!("--> {file}:8:")),
        "expected the error on line 8 (steps[1]) in:\n{}",
        run.stderr
    );
}

#[test]
fn invalid_method_points_at_the_method() {
    let run = validate("method_location", &[]);
    let file = scenario_file("method_location", "token.yaml");
    assert_has(
        run.error_at(&format!("{file}:8:19")),
        &["invalid HTTP method `post`"],
    );
}

// ---------------------------------------------------------------------------------------------
// Several problems in one file, syntax errors, odd files
// ---------------------------------------------------------------------------------------------

#[test]
fn every_problem_in_a_file_is_reported() {
    let run = validate("several_errors", &[]);
    run.assert_exit_invalid();
    let file = scenario_file("several_errors", "mixed.yaml");
    let expected: [(&str, &[&str]); 5] = [
        (
            "9:27",
            &[
                "expected an HTTP status code (100–599)",
                "= at scenarios[0].steps[0].expect.status",
            ],
        ),
        (
            "15:9",
            &["unknown field `expct`", "= at scenarios[0].steps[2].expct"],
        ),
        (
            "29:45",
            &[
                "a duration needs a unit: write `3s` or `3ms`",
                "= at scenarios[2].steps[0].expect.within",
            ],
        ),
        (
            "33:20",
            &[
                "unknown requirement `DEMO-IP-99`",
                "= at scenarios[3].requirements[0]",
            ],
        ),
        (
            "35:25",
            &[
                "undefined variable `api_bse`",
                "= at scenarios[3].steps[0].request.url",
            ],
        ),
    ];
    for (location, fragments) in expected {
        assert_has(run.error_at(&format!("{file}:{location}")), fragments);
    }
    // The valid scenario and the valid step between broken ones draw no error.
    assert!(!run.stderr.contains("scenarios[1]"), "{}", run.stderr);
    assert!(!run.stderr.contains("steps[1]"), "{}", run.stderr);
}

#[test]
fn no_follow_on_error_when_every_step_is_broken() {
    for (case, problems) in [
        ("mistyped_key", 1),
        ("wrong_type_status", 1),
        ("two_key_choice", 1),
        ("unknown_auth_scheme", 1),
        ("near_miss_variant", 1),
        ("duration_without_unit", 1),
        ("method_location", 1),
        ("assorted", 7),
        ("several_errors", 5),
    ] {
        let run = validate(case, &[]);
        assert!(
            !run.stderr.contains("a scenario needs at least one step"),
            "{case}: follow-on error about a scenario whose steps are all broken:\n{}",
            run.stderr
        );
        run.assert_invalid(problems);
    }
}

#[test]
fn syntax_errors_are_located() {
    let run = validate("unclosed_flow_sequence", &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let file = scenario_file("unclosed_flow_sequence", "basic.yaml");
    assert_has(
        &run.stderr,
        &[
            &format!("--> {file}:5:10\n"),
            "did not find expected ',' or ']'",
            "while parsing a flow sequence",
        ],
    );

    let run = validate("tab_indentation", &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    let file = scenario_file("tab_indentation", "basic.yaml");
    assert_has(
        &run.stderr,
        &[
            &format!("--> {file}:6:1\n"),
            "found character that cannot start any token",
        ],
    );
}

#[test]
fn yaml_line_breaks_other_than_newline_keep_lines_right() {
    // Line 3's title holds a U+2028 LINE SEPARATOR; `fourohone` is on line 7 of the file as
    // editors and `text.lines()` count it.
    let run = validate("unicode_line_separator", &[]);
    let file = scenario_file("unicode_line_separator", "basic.yaml");
    assert_has(
        run.error_at(&format!("{file}:7:27")),
        &[
            "7 |         expect: { status: fourohone }",
            "expected an HTTP status code (100–599)",
        ],
    );
}

#[test]
fn a_syntax_error_is_reported_once() {
    validate("unclosed_flow_sequence", &[]).assert_invalid(1);
    validate("tab_indentation", &[]).assert_invalid(1);
}

#[test]
fn empty_scenario_file_misses_scenarios() {
    let run = validate("empty_file", &[]);
    run.assert_invalid(1);
    let error = run.error_at(&format!(
        "{}:1:1",
        scenario_file("empty_file", "basic.yaml")
    ));
    assert_has(error, &["missing field `scenarios`"]);
}

#[test]
fn scenario_file_outside_a_provider_folder_is_refused() {
    let run = validate("stray_file", &[]);
    run.assert_invalid(1);
    let file = case_file("stray_file", "scenarios/basic.yaml");
    assert_has(
        run.error_at(&file),
        &["scenario files belong in a provider folder: scenarios/<provider>/<flow>.yaml"],
    );
}

#[test]
fn broken_spec_is_located_and_hides_follow_on_requirement_errors() {
    let run = validate("broken_spec", &[]);
    run.assert_invalid(1);
    let error = run.error_at(&format!(
        "{}:21:11",
        case_file("broken_spec", "specs/demo.yaml")
    ));
    assert_has(
        error,
        &[
            "error: invalid spec",
            "unknown variant `Documented`, expected one of `Doc`, `RFC`, `Assumed`",
            "= at requirements[0].kind",
        ],
    );
}

#[test]
fn missing_folders_are_reported_not_panicked_on() {
    let run = authconform(&[
        "validate",
        "--specs",
        "tests/fixtures/invalid/no-such-specs",
        "--scenarios",
        "tests/fixtures/invalid/no-such-scenarios",
    ]);
    run.assert_invalid(2);
    assert_has(
        &run.stderr,
        &[
            "cannot read the specs folder",
            "cannot read the scenarios folder",
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------------------------

#[test]
fn the_repository_is_valid_and_fully_covered() {
    let run = authconform(&["validate"]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("0 uncovered requirements"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(": valid"), "{}", run.stdout);
}

#[test]
fn uncovered_requirement_is_listed_and_denied_on_request() {
    let run = validate("uncovered", &[]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_has(
        &run.stdout,
        &[
            "1 uncovered requirement(s) (no scenario cites them):",
            "  DEMO-TOKEN-02 (demo, RFC): Bad client credentials get 401 `invalid_client`",
        ],
    );
    assert!(!run.stdout.contains("DEMO-TOKEN-01 ("), "{}", run.stdout);

    let run = validate("uncovered", &["--deny-uncovered"]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("DEMO-TOKEN-02"), "{}", run.stdout);
}

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

#[test]
fn target_with_an_unknown_key_is_located() {
    let target = case_file("target_unknown_key", "target.yaml");
    let run = validate("target_unknown_key", &["--target", &target]);
    run.assert_invalid(1);
    assert_has(
        run.error_at(&format!("{target}:5:3")),
        &[
            "error: invalid target",
            "unknown field `request_timeot`, expected one of `request_timeout`, `max_wait`, `propagation`, `property_cases`, `concurrency`, `rate`. Did you mean `request_timeout`?",
            "= at limits.request_timeot",
        ],
    );
}

#[test]
fn inline_secret_on_a_live_target_is_refused() {
    let target = case_file("target_inline_secret", "target.yaml");
    let run = validate("target_inline_secret", &["--target", &target]);
    run.assert_invalid(1);
    assert_has(
        run.error_at(&format!("{target}:10:7")),
        &[
            "error: invalid target",
            "inline secret values are only for the embedded mocks' fake credentials",
            "`env: VARIABLE_NAME`",
            "= at providers.demo.secrets.password",
        ],
    );
}

#[test]
fn inline_secret_error_points_at_the_secret_not_a_comment() {
    let target = case_file("target_inline_secret_comment", "target.yaml");
    let run = validate("target_inline_secret_comment", &["--target", &target]);
    run.assert_invalid(1);
    run.error_at(&format!("{target}:10:7"));
}

#[test]
fn missing_target_file_is_reported() {
    let run = authconform(&[
        "validate",
        "--target",
        "tests/fixtures/invalid/no-such-target.yaml",
    ]);
    run.assert_invalid(1);
    assert_has(&run.stderr, &["cannot read the target"]);
}

// ---------------------------------------------------------------------------------------------
// Properties: the loader never panics, every error renders with a location line
// ---------------------------------------------------------------------------------------------

/// Keys of the real format, plus a few near misses.
const KEYS: &[&str] = &[
    "scenarios",
    "id",
    "title",
    "requirements",
    "tags",
    "steps",
    "name",
    "request",
    "method",
    "url",
    "query",
    "headers",
    "body",
    "form",
    "json",
    "raw",
    "auth",
    "basic",
    "bearer",
    "api_key",
    "username",
    "password",
    "header",
    "value",
    "source",
    "timeout",
    "connect_timeout",
    "capture",
    "jsonpath",
    "regex",
    "secret",
    "expect",
    "outcome",
    "within",
    "status",
    "clock",
    "advance",
    "plus",
    "present",
    "absent",
    "equals",
    "contains",
    "matches",
    "exists",
    "gt",
    "ge",
    "lt",
    "le",
    "www-authenticate",
    "\"$.access_token\"",
    "'$['",
    "expct",
    "oauth3",
    "token",
    "é",
];

/// Values of the real format, plus wrong ones and YAML oddities.
const VALUES: &[&str] = &[
    "",
    "401",
    "200",
    "[200, 401]",
    "[]",
    "{}",
    "fourohone",
    "-1",
    "1.5",
    "99999999999999999999999",
    "3",
    "3s",
    "500ms",
    "1h 30m",
    "timeout",
    "response",
    "refused",
    "reset",
    "true",
    "null",
    "~",
    "valid-id",
    "Bad_Id",
    "\"{{api_base}}/v1/profile\"",
    "\"{{secret.username}}\"",
    "\"{{secret.nope}}\"",
    "\"{{api_bse}}\"",
    "\"{{ttl}}s\"",
    "\"{{\"",
    "'{{}}'",
    "[DEMO-IP-01]",
    "[DEMO-IP-99, DEMO-BASIC-01]",
    "{ status: 401 }",
    "{ status: fourohone }",
    "{ outcome: timeout }",
    "{ outcome: timeout, within: 1s, status: 200 }",
    "{ basic: { username: a, password: b }, bearer: x }",
    "{ basic: { username: \"a:b\", password: b } }",
    "{ api_key: { header: X-API-Key, value: k } }",
    "{ oauth3: x }",
    "[present, { contains: x }]",
    "{ equals: 1 }",
    "{ gt: x }",
    "{ jsonpath: $.a, secret: true }",
    "{ jsonpath: $.a, header: h }",
    "{ advance: \"{{ttl}}s\", plus: 1s }",
    "{ form: { a: b } }",
    "{ json: { a: [1, \"{{x}}\"] } }",
    "POST",
    "get",
    "X-API-Key",
    "'bad header'",
    "\"(unclosed\"",
    "\"$[\"",
    "&a x",
    "*a",
    "*nope",
    "!basic x",
    "!!binary aGk=",
    "|",
    ">-",
    "\"é£\"",
    "unallowlisted",
    "elsewhere",
    "[",
    "{",
    "'",
    "\"",
    "- x",
    "? x",
    "%YAML 1.2",
];

/// One line of YAML-ish text: indentation, maybe a dash, a key and a value, or an odd line.
fn yaml_line() -> impl Strategy<Value = String> {
    let entry = (
        0usize..7,
        any::<bool>(),
        prop::sample::select(KEYS),
        prop::sample::select(&[": ", ":", " : ", ": "][..]),
        prop::sample::select(VALUES),
    )
        .prop_map(|(indent, dash, key, sep, value)| {
            format!(
                "{}{}{key}{}{value}",
                "  ".repeat(indent),
                if dash { "- " } else { "" },
                if value.is_empty() { ":" } else { sep }
            )
        });
    let item = (0usize..7, prop::sample::select(VALUES))
        .prop_map(|(indent, value)| format!("{}- {value}", "  ".repeat(indent)));
    let odd = prop::sample::select(
        &[
            "",
            "# comment",
            "---",
            "...",
            "\t- x",
            "scenarios:",
            "  - id: a",
            "    steps:",
            "      - request: { url: \"{{api_base}}\" }",
        ][..],
    )
    .prop_map(str::to_owned);
    prop_oneof![6 => entry, 2 => item, 1 => odd, 1 => ".{0,20}"]
}

/// A scenario file: free-form lines, or a valid head followed by free-form lines.
fn yaml_text() -> impl Strategy<Value = String> {
    let lines = || prop::collection::vec(yaml_line(), 0..30);
    let head = "scenarios:\n  - id: a\n    title: t\n    requirements: [DEMO-IP-01]\n    steps:\n      - request:\n          url: \"{{api_base}}/v1/profile\"\n";
    prop_oneof![
        lines().prop_map(|l| l.join("\n")),
        lines().prop_map(move |l| format!("{head}{}", l.join("\n"))),
    ]
}

/// The names the embedded mock target and the demo spec define.
fn demo_names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| {
        let catalogue = authconform::spec::load_catalogue(&root().join("specs"))
            .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
        let mut names = Names {
            requirements: catalogue.requirements.keys().cloned().collect(),
            ..Names::default()
        };
        Target::mock().fill_names("demo", &mut names);
        names
    })
}

/// Asserts an error renders with its `-->` line, its message, and a location inside `text`.
fn assert_renders(error: &LoadError, text: &str) -> Result<(), TestCaseError> {
    let rendered = error.to_string();
    prop_assert!(
        rendered.contains("  --> "),
        "no `-->` line in:\n{}",
        rendered
    );
    prop_assert!(
        rendered.contains(&error.file.display().to_string()),
        "{}",
        rendered
    );
    for line in error.message.lines() {
        prop_assert!(rendered.contains(line), "{}", rendered);
    }
    if let Some(location) = error.location {
        // serde_yaml counts YAML line breaks (`\r`, NEL, LS, PS too), the checks count `\n`: accept
        // either (the mismatch is covered by `yaml_line_breaks_other_than_newline_keep_lines_right`).
        let lines = text.split('\n').count().max(yaml_lines(text));
        // serde_yaml reports the end of a text without a final newline as the next line's start.
        let end_of_input = location.line == lines + 1 && location.column == 1;
        prop_assert!(
            location.line >= 1 && location.column >= 1 && (location.line <= lines || end_of_input),
            "location {}:{} outside a {}-line text:\n{}",
            location.line,
            location.column,
            lines,
            rendered
        );
    }
    Ok(())
}

/// Lines in `text` as YAML counts them: `\r\n`, `\r`, `\n`, NEL, LS and PS each end a line.
fn yaml_lines(text: &str) -> usize {
    let mut lines = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                chars.next_if_eq(&'\n');
                lines += 1;
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => lines += 1,
            _ => {}
        }
    }
    lines
}

/// `cases` cases (`PROPTEST_CASES` overrides it, for a longer search), and no regression file
/// written next to the sources.
fn config(cases: u32) -> ProptestConfig {
    let defaults = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            defaults.cases
        } else {
            cases
        },
        failure_persistence: None,
        ..defaults
    }
}

/// One edit of a valid file.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    ReplaceChar(Index, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let chars = prop::sample::select(
        &[
            ':', '-', ' ', '{', '}', '[', ']', '"', '\'', '#', '\t', 'x', '0', '&', '*', '!', '|',
            '>', '%', '@', '`', ',', '?', 'é', '\n',
        ][..],
    );
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), chars).prop_map(|(i, c)| Mutation::ReplaceChar(i, c)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i.index(lines.len()));
            lines.join("\n")
        }
        Mutation::DuplicateLine(i) => {
            let at = i.index(lines.len());
            lines.insert(at, lines[at]);
            lines.join("\n")
        }
        Mutation::ReplaceChar(i, c) => {
            let mut chars: Vec<char> = text.chars().collect();
            if chars.is_empty() {
                return c.to_string();
            }
            let at = i.index(chars.len());
            chars[at] = *c;
            chars.into_iter().collect()
        }
    }
}

/// The real demo scenario files, as (file name, text).
fn real_scenario_files() -> &'static [(String, String)] {
    static FILES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = root().join("scenarios").join("demo");
        let mut files: Vec<PathBuf> = authconform::plan::yaml_files(&dir).expect("scenarios/demo");
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(&p).expect("readable scenario file");
                (name, text)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn parse_file_never_panics_on_arbitrary_text(text in ".{0,400}") {
        let file = Path::new("x.yaml");
        let (parsed, errors) = parse_file(file, &text, &SpanIndex::build(&text));
        for error in &errors {
            assert_renders(error, &text)?;
        }
        for p in &parsed {
            for error in check_scenario(file, &text, p, demo_names(), &SpanIndex::build(&text)) {
                assert_renders(&error, &text)?;
            }
        }
    }

    #[test]
    fn parse_and_check_never_panic_on_yaml_like_text(text in yaml_text()) {
        let file = Path::new("x.yaml");
        let (parsed, errors) = parse_file(file, &text, &SpanIndex::build(&text));
        for error in &errors {
            assert_renders(error, &text)?;
        }
        let mut last = None;
        for p in &parsed {
            prop_assert!(last < Some(p.index), "indices out of order");
            last = Some(p.index);
            for error in check_scenario(file, &text, p, demo_names(), &SpanIndex::build(&text)) {
                assert_renders(&error, &text)?;
            }
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn load_plan_never_panics_on_mutated_real_files(
        which in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let files = real_scenario_files();
        let (name, original) = &files[which.index(files.len())];
        let mut text = original.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let provider = dir.path().join("scenarios").join("demo");
        std::fs::create_dir_all(&provider).expect("create scenarios/demo");
        let path = provider.join(name);
        std::fs::write(&path, &text).expect("write the mutated file");
        let mocks = authconform::mock::builtin();
        match load_plan(&root().join("specs"), &dir.path().join("scenarios"), Target::mock(), &mocks) {
            Ok(_) => {}
            Err(errors) => {
                prop_assert!(!errors.is_empty(), "Err without any error");
                let rendered = errors.render();
                prop_assert!(
                    rendered.contains(&format!("error: {} problem", errors.0.len())),
                    "{}",
                    rendered
                );
                for error in &errors.0 {
                    prop_assert_eq!(&error.file, &path, "error about another file: {}", error);
                    assert_renders(error, &text)?;
                }
            }
        }
    }
}

#[test]
fn unmutated_real_files_load() {
    for (name, text) in real_scenario_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let provider = dir.path().join("scenarios").join("demo");
        std::fs::create_dir_all(&provider).expect("create scenarios/demo");
        std::fs::write(provider.join(name), text).expect("write");
        if let Err(errors) = load_plan(
            &root().join("specs"),
            &dir.path().join("scenarios"),
            Target::mock(),
            &authconform::mock::builtin(),
        ) {
            panic!("{name} does not load on its own:\n{errors}");
        }
    }
}

#[test]
fn eventually_and_same_as_misuses_are_each_located() {
    let case = "eventually_and_same_as";
    let run = validate(case, &[]);
    run.assert_invalid(5);
    let file = scenario_file(case, "polling.yaml");
    for (at, fragments) in [
        (
            "7:9",
            &[
                "`eventually` repeats a request until its `expect` holds: it needs both in the same step",
                "= at scenarios[0].steps[0].eventually",
            ][..],
        ),
        (
            "7:42",
            &[
                "`every` is longer than `within`: there would be a single attempt",
                "= at scenarios[0].steps[0].eventually.every",
            ][..],
        ),
        ("10:42", &["`every: 0s` would poll without pause"][..]),
        (
            "11:20",
            &[
                "a whole response cannot be a secret",
                "= at scenarios[0].steps[1].capture.refusal",
            ][..],
        ),
        (
            "13:53",
            &[
                "no earlier step captured a response as `refusl`",
                "Did you mean `refusal`?",
                "= at scenarios[0].steps[2].expect.same_as.response",
            ][..],
        ),
    ] {
        assert_has(run.error_at(&format!("{file}:{at}")), fragments);
    }
}

/// A template in every position the format has (compute specs, clock steps, requests with every
/// body and auth kind, token and authorize requests, every expectation), each naming its own
/// undefined variable `vNN`, listed in the test in that order.
const EVERY_TEMPLATE_POSITION: &str = r#"scenarios:
  - id: every-template
    title: every template position
    requirements: [DEMO-BASIC-01]
    steps:
      - compute:
          a: { jwt_sign: { alg: HS256, key: { shared_secret: "{{v01}}" }, claims: { sub: "{{v02}}", l: ["{{v03}}"] } } }
          b: { jwt_forge: { token: "{{v04}}", change: { wrong_key: "{{v05}}" } } }
          c: { jwt_forge: { token: "{{a}}", change: { claims: { x: "{{v06}}" } } } }
          d: { pkce_challenge: { verifier: "{{v07}}" } }
          e: { digest: { of: "{{v08}}", chain: [sha-256], encoding: hex } }
          f: { hmac: { alg: sha-256, key: "{{v09}}", message: "{{v10}}", encoding: hex } }
          g: { canonical_signature: { pairs: { k: "{{v11}}" }, key_value_separator: "{{v55}}", separator: "{{v12}}", then: { hmac: { alg: sha-256, key: "{{v56}}" } }, encoding: hex } }
          h: { basic_credentials: { username: "{{v13}}", password: "{{v14}}" } }
      - clock: { advance: "{{v15}}" }
      - request:
          url: "{{v16}}"
          query: { q: "{{v17}}" }
          headers: { x-h: "{{v18}}" }
          body: { json: { j: ["{{v19}}"] } }
          auth: { oauth2: { token_url: "{{v20}}", grant: password, client_id: "{{v21}}", client_secret: "{{v22}}", username: "{{v23}}", password: "{{v24}}", scope: "{{v25}}", resource: "{{v26}}", extra: { e: "{{v27}}" } } }
        expect:
          headers: { x-r: [{ equals: "{{v28}}" }, { contains: "{{v29}}" }] }
          body: { contains: "{{v30}}" }
          json: { $.a: { equals: { k: "{{v31}}" } }, $.b: { contains: "{{v32}}" } }
          jwt: { $.t: { claims: { $.sub: { equals: "{{v33}}" } } } }
          www_authenticate: { scheme: bearer, realm: "{{v34}}" }
          oauth_error: { error: { contains: "{{v35}}" } }
          problem: { title: "{{v36}}" }
      - request:
          url: "{{api_base}}/x"
          body: { form: { f: "{{v37}}" } }
          auth: { basic: { username: "{{v38}}", password: "{{v39}}" } }
      - request: { url: "{{api_base}}/x", body: { raw: "{{v40}}" }, auth: { bearer: "{{v41}}" } }
      - request: { url: "{{api_base}}/x", auth: { api_key: { header: x-k, value: "{{v42}}" } } }
      - request: { method: POST, url: "{{api_base}}/t", token: { grant: refresh_token, refresh_token: "{{v43}}", code: "{{v44}}", redirect_uri: "{{v45}}", code_verifier: "{{v46}}" } }
      - request:
          url: "{{api_base}}/authorize"
          authorize: { client_id: "{{v47}}", redirect_uri: "{{v48}}", response_type: "{{v49}}", scope: "{{v50}}", state: "{{v51}}", extra: { z: "{{v52}}" }, pkce: { verifier: "{{v53}}", challenge: "{{v54}}" } }
"#;

#[test]
fn every_template_position_is_checked_for_undefined_names() {
    let text = EVERY_TEMPLATE_POSITION;
    let file = Path::new("every.yaml");
    let (parsed, errors) = parse_file(file, text, &SpanIndex::build(text));
    assert!(
        errors.is_empty(),
        "{}",
        authconform::diagnostic::LoadErrors(errors)
    );
    assert_eq!(parsed.len(), 1);
    let errors = check_scenario(
        file,
        text,
        &parsed[0],
        demo_names(),
        &SpanIndex::build(text),
    );
    let s = "scenarios[0].steps";
    let expected: Vec<String> = [
        "[0].compute.a.jwt_sign.key.shared_secret",
        "[0].compute.a.jwt_sign.claims.sub",
        "[0].compute.a.jwt_sign.claims.l[0]",
        "[0].compute.b.jwt_forge.token",
        "[0].compute.b.jwt_forge.change.wrong_key",
        "[0].compute.c.jwt_forge.change.claims.x",
        "[0].compute.d.pkce_challenge.verifier",
        "[0].compute.e.digest.of",
        "[0].compute.f.hmac.key",
        "[0].compute.f.hmac.message",
        "[0].compute.g.canonical_signature.pairs.k",
        "[0].compute.g.canonical_signature.separator",
        "[0].compute.h.basic_credentials.username",
        "[0].compute.h.basic_credentials.password",
        "[1].clock.advance",
        "[2].request.url",
        "[2].request.query.q",
        "[2].request.headers.x-h",
        "[2].request.body.json.j[0]",
        "[2].request.auth.oauth2.token_url",
        "[2].request.auth.oauth2.client_id",
        "[2].request.auth.oauth2.client_secret",
        "[2].request.auth.oauth2.username",
        "[2].request.auth.oauth2.password",
        "[2].request.auth.oauth2.scope",
        "[2].request.auth.oauth2.resource",
        "[2].request.auth.oauth2.extra.e",
        "[2].expect.headers.x-r",
        "[2].expect.headers.x-r",
        "[2].expect.body",
        "[2].expect.json.$.a.k",
        "[2].expect.json.$.b",
        "[2].expect.jwt.$.t.claims.$.sub",
        "[2].expect.www_authenticate.realm",
        "[2].expect.oauth_error.error",
        "[2].expect.problem.title",
        "[3].request.body.form.f",
        "[3].request.auth.basic.username",
        "[3].request.auth.basic.password",
        "[4].request.body.raw",
        "[4].request.auth.bearer",
        "[5].request.auth.api_key.value",
        "[6].request.token.refresh_token",
        "[6].request.token.code",
        "[6].request.token.redirect_uri",
        "[6].request.token.code_verifier",
        "[7].request.authorize.client_id",
        "[7].request.authorize.redirect_uri",
        "[7].request.authorize.response_type",
        "[7].request.authorize.scope",
        "[7].request.authorize.state",
        "[7].request.authorize.extra.z",
        "[7].request.authorize.pkce.verifier",
        "[7].request.authorize.pkce.challenge",
        "[0].compute.g.canonical_signature.key_value_separator",
        "[0].compute.g.canonical_signature.then.hmac.key",
    ]
    .iter()
    .map(|p| format!("{s}{p}"))
    .collect();
    for (i, path) in expected.iter().enumerate() {
        let name = format!("v{:02}", i + 1);
        let found: Vec<&LoadError> = errors
            .iter()
            .filter(|e| e.message.contains(&format!("undefined variable `{name}`")))
            .collect();
        assert_eq!(found.len(), 1, "`{name}` at {path}: {found:?}");
        assert_eq!(found[0].path.as_deref(), Some(path.as_str()), "`{name}`");
        let line = text
            .lines()
            .position(|l| l.contains(&format!("{{{{{name}}}}}")))
            .map(|i| i + 1);
        assert_eq!(
            found[0].location.map(|l| l.line),
            line,
            "`{name}` at {path}"
        );
    }
    // `c` uses `a`, computed before it in the same step: defined, so not reported.
    assert!(
        !errors
            .iter()
            .any(|e| e.message.contains("undefined variable `a`")),
        "{errors:?}"
    );
}
