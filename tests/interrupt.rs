//! Ctrl-C mid-run: starts the real binary on a real-clock target whose second scenario waits a
//! real minute (`tests/fixtures/interrupt/`), against a loopback HTTP server started here; sends
//! SIGINT once the first scenario has passed; then requires exit code 130 and reports that are
//! written, valid, verifiable and say what did not run. The same waiting run holds its reports
//! folder while a second run tries it; and a run whose target is a pipe nobody writes to is
//! interrupted while it loads.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::{BIN, ROOT, evidence_schema_errors};

/// Serves `200 ok` to every request on a loopback port; returns the port.
fn serve_ok() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 4096];
            let _ = stream.read(&mut buffer);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    port
}

/// A run of the interrupt fixture, started and past its quick scenario: it now waits a minute.
struct WaitingRun {
    child: Child,
    received: mpsc::Receiver<String>,
    printed: Vec<String>,
}

/// Starts the interrupt fixture's run writing into `reports` (target file in `dir`), and
/// returns once its quick scenario has passed.
fn start_waiting_run(dir: &Path, reports: &Path) -> WaitingRun {
    let port = serve_ok();
    let template =
        std::fs::read_to_string(format!("{ROOT}/tests/fixtures/interrupt/target.yaml")).unwrap();
    let target = dir.join("target.yaml");
    std::fs::write(&target, template.replace("PORT", &port.to_string())).unwrap();
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .args(["run", "--scenarios", "tests/fixtures/interrupt/scenarios"])
        .arg("--target")
        .arg(&target)
        .arg("--reports")
        .arg(reports)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authconform");
    let (lines, received) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !printed
        .iter()
        .any(|l: &String| l.contains("PASS demo::wait::quick"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("the quick scenario never passed:\n{}", printed.join("\n"));
            }
        }
    }
    WaitingRun {
        child,
        received,
        printed,
    }
}

/// Sends SIGINT to `child` and waits (at most 10 s) for it to end; returns its exit status and
/// its stderr.
fn interrupt(child: &mut Child) -> (std::process::ExitStatus, String) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: `kill` only sends a signal to the child started above, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = wait_at_most(child, Duration::from_secs(10), "SIGINT");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

/// Waits for `child` to end, killing it and failing after `limit`.
fn wait_at_most(child: &mut Child, limit: Duration, after: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("authconform did not end within {limit:?} of {after}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigint_writes_valid_reports_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let WaitingRun {
        mut child,
        received,
        mut printed,
    } = start_waiting_run(dir.path(), &reports);
    let (status, stderr) = interrupt(&mut child);
    printed.extend(received.try_iter());
    let dump = format!("stdout:\n{}\nstderr:\n{stderr}", printed.join("\n"));
    assert_eq!(status.code(), Some(130), "{dump}");
    assert!(stderr.contains("interrupted (SIGINT)"), "{dump}");

    let text = std::fs::read_to_string(reports.join("evidence.json")).expect("evidence.json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("evidence is JSON");
    let errors = evidence_schema_errors(&value);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert_eq!(value["run"]["complete"], false);
    assert!(
        value["run"]["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("SIGINT")
    );
    assert_eq!(value["run"]["totals"]["passed"], 1);
    assert_eq!(value["run"]["totals"]["not_run"], 1);
    let verdict = |trial: &str| {
        value["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["trial"] == trial)
            .map(|s| s["verdict"].as_str().unwrap().to_owned())
    };
    assert_eq!(verdict("demo::wait::quick").as_deref(), Some("pass"));
    assert_eq!(verdict("demo::wait::long-wait").as_deref(), Some("not-run"));

    let verify = Command::new(BIN)
        .current_dir(ROOT)
        .arg("verify")
        .arg(reports.join("evidence.json"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{said}");
    assert!(said.contains("incomplete"), "{said}");

    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("not run: interrupted (SIGINT)"), "{junit}");
    let summary = std::fs::read_to_string(reports.join("summary.md")).expect("summary.md");
    assert!(summary.contains("INCOMPLETE"), "{summary}");
    assert!(summary.contains("demo::wait::long-wait"), "{summary}");
    // Written atomically: no temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_second_run_on_the_same_reports_folder_exits_2_at_once_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let mut first = start_waiting_run(dir.path(), &reports);
    let started = Instant::now();
    let mut second = Command::new(BIN)
        .current_dir(ROOT)
        .args(["run", "demo::basic", "--reports"])
        .arg(&reports)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a second authconform");
    let status = wait_at_most(&mut second, Duration::from_secs(10), "its start");
    let waited = started.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    second
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let (first_status, first_stderr) = interrupt(&mut first.child);
    let dump = format!(
        "second run stdout:\n{stdout}\nstderr:\n{stderr}\nfirst run stderr:\n{first_stderr}"
    );
    assert_eq!(status.code(), Some(2), "{dump}");
    assert!(stderr.contains("another authconform run"), "{dump}");
    assert!(stderr.contains(reports.to_str().unwrap()), "{dump}");
    assert!(
        !stdout.contains("PASS"),
        "the second run ran scenarios\n{dump}"
    );
    assert!(waited < Duration::from_secs(5), "it waited {waited:?}");
    // The reports are the first run's alone.
    assert_eq!(first_status.code(), Some(130), "{dump}");
    let evidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("evidence.json")).unwrap())
            .unwrap();
    assert_eq!(evidence["run"]["target"]["name"], "interrupt", "{dump}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).unwrap();
    assert!(!junit.contains("demo.basic"), "{junit}");

    // The lock ends with the run that held it: the folder is free again.
    let third = Command::new(BIN)
        .current_dir(ROOT)
        .args(["run", "--quiet", "demo::basic", "--reports"])
        .arg(&reports)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        third.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

#[test]
fn sigint_while_the_plan_loads_exits_130_and_runs_nothing() {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.yaml");
    let path = std::ffi::CString::new(target.to_str().unwrap()).unwrap();
    // SAFETY: `mkfifo` reads the NUL-terminated path only.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let reports = dir.path().join("reports");
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .arg("run")
        .arg("--target")
        .arg(&target)
        .arg("--reports")
        .arg(&reports)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authconform");
    // Opening a pipe's write end without blocking succeeds only once a reader has it open: the
    // run is then loading its target, and reads from a writer that never writes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let _writer = loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&target)
        {
            Ok(writer) => break writer,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the run never opened its target: {e}");
            }
        }
    };
    std::thread::sleep(Duration::from_millis(100));
    let (status, stderr) = interrupt(&mut child);
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let dump = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(status.code(), Some(130), "{dump}");
    assert!(
        stderr.contains("interrupted (SIGINT) while loading"),
        "{dump}"
    );
    assert!(!stdout.contains("PASS"), "{dump}");
    assert!(!reports.join("evidence.json").exists(), "{dump}");
}
