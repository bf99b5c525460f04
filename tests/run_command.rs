//! The `run` command's own behaviour, on the real binary: bad report paths and arguments exit 2
//! before any scenario runs, a killed run's temporary files are removed, a run where nothing ran
//! is not green (`--no-tests`), and a lowered open-file limit lowers `--jobs` instead of losing
//! scenarios and reports. Ctrl-C and the reports lock, which need a run that lasts, are in
//! tests/interrupt.rs.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{BIN, ROOT, authconform};

/// Runs `authconform run ARGS` from the crate root with colours off, no paths added.
fn run_raw(args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(ROOT)
        .arg("run")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run authconform")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that `output` is an exit 2 before any scenario ran, with `said` on stderr.
fn assert_refused_before_running(output: &Output, said: &str) {
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stderr.contains(said), "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "stderr:\n{stderr}");
    assert!(
        !stdout.contains("running") && !stdout.contains("PASS"),
        "a scenario ran: {stdout}"
    );
}

#[test]
fn reports_pointing_at_a_file_exit_2_saying_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reports");
    std::fs::write(&file, "not a folder").unwrap();
    let output = run_raw(&["demo::basic", "--reports", file.to_str().unwrap()]);
    assert_refused_before_running(&output, "not a directory");
    assert!(text(&output.stderr).contains(file.to_str().unwrap()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");

    let below = file.join("sub");
    let output = run_raw(&["demo::basic", "--reports", below.to_str().unwrap()]);
    assert_refused_before_running(&output, "not a directory");
}

#[test]
fn an_unwritable_junit_path_exits_2_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_a_file = file.join("junit.xml");
    let output = run_raw(&[
        "demo::basic",
        "--reports",
        reports.to_str().unwrap(),
        "--junit",
        under_a_file.to_str().unwrap(),
    ]);
    assert_refused_before_running(&output, "not a directory");
    assert!(text(&output.stderr).contains("--junit"));

    let a_folder = dir.path().join("folder");
    std::fs::create_dir(&a_folder).unwrap();
    let output = run_raw(&[
        "demo::basic",
        "--reports",
        reports.to_str().unwrap(),
        "--junit",
        a_folder.to_str().unwrap(),
    ]);
    assert_refused_before_running(&output, "is a directory");
}

#[test]
fn jobs_zero_is_refused_with_exit_2() {
    let output = run_raw(&["demo::basic", "--jobs", "0"]);
    assert_refused_before_running(&output, "must be at least 1");
}

#[test]
fn a_killed_runs_temporary_files_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let stale = [
        ".junit.xml.4242.tmp",
        ".evidence.json.1.tmp",
        ".summary.md.77.tmp",
        ".evidence.html.999999.tmp",
    ];
    let kept = [
        "notes.tmp",
        ".junit.xml.abc.tmp",
        ".other.xml.12.tmp",
        "junit.xml.12.tmp",
    ];
    for name in stale.iter().chain(kept.iter()) {
        std::fs::write(reports.join(name), "left over").unwrap();
    }
    let output = run_raw(&[
        "demo::basic",
        "--quiet",
        "--reports",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    for name in stale {
        assert!(!reports.join(name).exists(), "{name} was left");
    }
    for name in kept {
        assert!(reports.join(name).exists(), "{name} is not ours to remove");
    }
    assert!(reports.join("evidence.json").is_file());
}

/// The target configures no provider: every selected scenario is skipped.
const NOTHING_RUNS: &[&str] = &[
    "run",
    "--target",
    "tests/fixtures/canary/target-no-providers.yaml",
    "demo::basic",
];

#[test]
fn a_run_where_nothing_ran_fails_and_says_why_with_reports_written() {
    let run = authconform(NOTHING_RUNS);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.stderr.contains("no scenario ran: all ")
            && run.stderr.contains("does not configure provider `demo`"),
        "{}",
        run.dump()
    );
    assert!(run.stderr.contains("--no-tests"), "{}", run.dump());
    assert!(run.junit.contains("<skipped"), "{}", run.dump());
    assert!(run.reports.join("evidence.json").is_file());
    assert!(run.reports.join("summary.md").is_file());
}

#[test]
fn no_tests_warn_and_pass_accept_a_run_where_nothing_ran() {
    let mut args = NOTHING_RUNS.to_vec();
    args.extend(["--no-tests", "warn"]);
    let run = authconform(&args);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(
        run.stderr.contains("warning: no scenario ran"),
        "{}",
        run.dump()
    );

    let mut args = NOTHING_RUNS.to_vec();
    args.extend(["--no-tests", "pass"]);
    let run = authconform(&args);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(!run.stderr.contains("no scenario ran"), "{}", run.dump());
}

#[test]
fn a_run_where_something_passed_is_not_caught_by_no_tests() {
    let run = authconform(&["run", "demo::basic"]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert!(!run.stderr.contains("no scenario ran"), "{}", run.dump());
}

/// Runs `authconform run ARGS` with RLIMIT_NOFILE set to `soft`/`hard` in the child.
#[cfg(unix)]
fn run_with_open_file_limit(soft: u64, hard: u64, reports: &Path, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(BIN);
    command
        .current_dir(ROOT)
        .arg("run")
        .args(args)
        .arg("--reports")
        .arg(reports)
        .env("NO_COLOR", "1");
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `setrlimit` is async-signal-safe and touches only the child's own limits.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command.output().expect("run authconform")
}

/// The hard open-file limit of this process.
#[cfg(unix)]
fn hard_open_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` writes into the struct given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_max
}

#[cfg(unix)]
#[test]
fn a_low_open_file_limit_lowers_jobs_and_every_scenario_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    // 14 demo scenarios at once need about 170 descriptors: more than 128.
    let output = run_with_open_file_limit(128, 128, &reports, &["demo::", "--jobs", "2000"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let dump = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{dump}");
    assert!(stderr.contains("--jobs 2000 lowered to "), "{dump}");
    assert!(stderr.contains("open-file limit is 128"), "{dump}");
    assert!(!dump.contains("Too many open files"), "{dump}");
    for report in ["junit.xml", "evidence.json", "summary.md", "evidence.html"] {
        assert!(reports.join(report).is_file(), "no {report}\n{dump}");
    }
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("evidence.json")).unwrap())
            .unwrap();
    assert_eq!(evidence["run"]["totals"]["failed"], 0, "{dump}");
    assert_eq!(evidence["run"]["totals"]["errors"], 0, "{dump}");
}

#[cfg(unix)]
#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let hard = hard_open_file_limit().min(1 << 20);
    assert!(hard >= 256, "this machine's hard open-file limit is {hard}");
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    // At a soft limit of 48 not even one scenario would fit: only a raised limit runs 8 at once
    // without lowering --jobs.
    let output = run_with_open_file_limit(48, hard, &reports, &["demo::", "--jobs", "8"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let dump = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(output.status.code(), Some(0), "{dump}");
    assert!(!stderr.contains("lowered"), "{dump}");
    assert!(reports.join("evidence.json").is_file(), "{dump}");
}

#[cfg(unix)]
#[test]
fn reports_are_written_when_scenarios_run_out_of_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    // Too few descriptors for even one scenario's mock: scenarios fail or error, some of them
    // by a panic in the mock server, and the run still ends normally with every report.
    let output = run_with_open_file_limit(12, 12, &reports, &["demo::", "--quiet"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    let dump = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(output.status.code(), Some(1), "{dump}");
    for report in ["junit.xml", "evidence.json", "summary.md", "evidence.html"] {
        assert!(reports.join(report).is_file(), "no {report}\n{dump}");
    }
    assert!(stdout.contains("FAILED: "), "{dump}");
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("evidence.json")).unwrap())
            .unwrap();
    assert!(
        evidence["run"]["totals"]["errors"].as_u64() > Some(0),
        "{dump}"
    );
}
