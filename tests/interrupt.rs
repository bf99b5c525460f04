//! Ctrl-C mid-run: starts the real binary on a real-clock target whose second scenario waits a
//! real minute (`tests/fixtures/interrupt/`), against a loopback HTTP server started here; sends
//! SIGINT once the first scenario has passed; then requires exit code 130 and reports that are
//! written, valid, verifiable and say what did not run.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
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

#[test]
fn sigint_writes_valid_reports_marked_incomplete() {
    let port = serve_ok();
    let dir = tempfile::tempdir().unwrap();
    let template =
        std::fs::read_to_string(format!("{ROOT}/tests/fixtures/interrupt/target.yaml")).unwrap();
    let target = dir.path().join("target.yaml");
    std::fs::write(&target, template.replace("PORT", &port.to_string())).unwrap();
    let reports = dir.path().join("reports");
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .args(["run", "--scenarios", "tests/fixtures/interrupt/scenarios"])
        .arg("--target")
        .arg(&target)
        .arg("--reports")
        .arg(&reports)
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
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: `kill` only sends a signal to the child started above, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("authconform did not end within 10 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    printed.extend(received.try_iter());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
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
