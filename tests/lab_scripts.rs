//! The lab's scripts and files, checked without the lab's servers (those run under `.ci/run`,
//! exercised by `tests/lab.rs`): `lab/up`, `lab/down` and `.ci/run` parse as bash;
//! `lab/credentials.env`, sourced by bash, defines exactly the credentials the lab targets and
//! live tests read; the nginx templates listen where the lab's table says and keep their access
//! checks; the servers do not inherit lab/up's lock; and `lab/down` stops a process its pid file names only while that process runs the
//! lab's command line, so a stale pid file never stops someone else's process.
//!
//! Needs bash and, for the `lab/down` checks, Linux's `/proc`: no tool beyond a base system.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(relative: &str) -> String {
    fs::read_to_string(repo_file(relative)).unwrap_or_else(|e| panic!("read {relative}: {e}"))
}

#[test]
fn lab_scripts_parse_as_bash() {
    for script in ["lab/up", "lab/down", "lab/common.sh", ".ci/run"] {
        let output = Command::new("bash")
            .arg("-n")
            .arg(repo_file(script))
            .output()
            .expect("run bash -n");
        assert!(
            output.status.success(),
            "{script} does not parse: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The lab's credentials as the lab targets read them by name; the passwords are UTF-8 on
/// purpose (non-ASCII bytes in form posts and in Basic credentials).
const CONTRACT_CREDENTIALS: [(&str, &str); 8] = [
    ("LAB_BASIC_PASSWORD", "lab-basic-pässword"),
    ("LAB_BASIC_USERNAME", "alice"),
    ("LAB_CLIENT_BASIC_SECRET", "lab-basic-secret"),
    ("LAB_CLIENT_CODE_SECRET", "lab-code-secret"),
    ("LAB_CLIENT_POST_SECRET", "lab-post-secret"),
    ("LAB_CLIENT_SHORT_SECRET", "lab-short-secret"),
    ("LAB_PASSWORD", "lab-password-ä€"),
    ("LAB_USERNAME", "alice"),
];

#[test]
fn credentials_env_defines_exactly_the_contract_credentials() {
    // Sourced in a clean environment: every LAB_ variable afterwards comes from the file, and
    // each is exported (a plain assignment would not reach the servers lab/up starts).
    let script =
        r#". "$1" && for name in $(compgen -e LAB_); do printf '%s=%s\0' "$name" "${!name}"; done"#;
    let output = Command::new("bash")
        .env_clear()
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .arg(repo_file("lab/credentials.env"))
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "sourcing lab/credentials.env failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("the credentials are UTF-8");
    let defined: BTreeMap<&str, &str> = stdout
        .split('\0')
        .filter(|entry| !entry.is_empty())
        .map(|entry| entry.split_once('=').expect("NAME=value"))
        .collect();
    let expected: BTreeMap<&str, &str> = CONTRACT_CREDENTIALS.into_iter().collect();
    assert_eq!(defined, expected);
}

#[test]
fn nginx_templates_listen_where_the_lab_table_says() {
    let conformant = read("lab/nginx/conformant.conf.in");
    for listen in [
        "listen 127.0.0.1:7410;",
        "listen 127.0.0.1:7411 ssl;",
        "listen 127.0.0.1:7413 ssl;",
    ] {
        assert!(conformant.contains(listen), "conformant: no `{listen}`");
    }
    assert!(conformant.contains("ssl_verify_client on;"));
    // nginx before 1.23.4 (Debian 12 ships 1.22) offers TLS 1.2 at most unless told otherwise.
    assert_eq!(
        conformant.matches("ssl_protocols TLSv1.2 TLSv1.3;").count(),
        2,
        "each https server offers TLS 1.3"
    );
    assert!(read("lab/nginx/misconfigured.conf.in").contains("listen 127.0.0.1:7412;"));
    assert!(read("lab/nginx/netns.conf.in").contains("listen 10.77.0.1:80;"));
}

#[test]
fn nginx_protected_locations_answer_after_their_access_checks() {
    let locations = read("lab/nginx/locations.conf.in");
    assert!(locations.contains(r#"auth_basic "lab";"#));
    assert!(
        locations.contains("@IP_RULES@"),
        "/ip/ takes the instance's rules"
    );
    // `return` runs in nginx's rewrite phase, before auth_basic and allow/deny: a `return 200`
    // in a protected location would answer every request, credentials or not.
    for block in locations.split("location ").skip(1) {
        let (path, body) = block.split_once('{').expect("a location block");
        if path.contains("/basic/") || path.contains("/ip/") {
            assert!(
                !body.contains("return "),
                "location {path} answers with `return`, before its access checks"
            );
            assert!(body.contains("try_files"), "location {path} serves a file");
        }
    }
    let up = read("lab/up");
    assert!(up.contains("allow 127.0.0.1;") && up.contains("allow 10.77.0.2;"));
}

#[test]
fn up_starts_servers_without_its_lock() {
    // lab/up holds lab/.run/lock (fd 9) while it runs; a server started with that descriptor
    // keeps the lock after lab/up exits, and every later lab/up and lab/down waits forever.
    let up = read("lab/up");
    let launches: Vec<&str> = up
        .lines()
        .filter(|line| {
            line.contains("exec setsid")
                || line.trim_start().starts_with("if ! \"${run_in[@]}\" nginx")
        })
        .collect();
    assert_eq!(launches.len(), 2, "the Node and the nginx launch lines");
    for launch in launches {
        let from_launch = &up[up.find(launch).expect("the line")..];
        let command = from_launch.split("; then").next().expect("a command");
        assert!(
            command.contains("9>&-"),
            "`{}` passes the lock on",
            launch.trim()
        );
    }
    assert!(read("lab/common.sh").contains("exec 9>\"$RUN/lock\""));
}

/// A process that waits (at most 30 s) with the given command line, for `lab/down` to stop or
/// leave alone.
fn waiting_process(arguments: &[&str]) -> Child {
    Command::new("bash")
        .args(["-c", "read -r -t 30 line", "bash"])
        .args(arguments)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn bash")
}

fn exited_within(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().expect("try_wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A copy of lab/down and its helpers in a fresh folder, so that it acts on that folder's
/// `.run/` and never on a lab running on this machine.
fn lab_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = dir.path().join("lab");
    fs::create_dir_all(lab.join(".run")).expect("create .run");
    for file in ["down", "common.sh"] {
        fs::copy(repo_file(&format!("lab/{file}")), lab.join(file)).expect("copy");
    }
    dir
}

fn run_down(lab: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(lab.join("down"))
        .output()
        .expect("run lab/down")
}

#[cfg(target_os = "linux")]
#[test]
fn down_with_nothing_started_exits_0_and_says_nothing() {
    let dir = lab_copy();
    let lab = dir.path().join("lab");
    for _ in 0..2 {
        let output = run_down(&lab);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn down_stops_only_processes_running_the_lab_command_line() {
    let dir = lab_copy();
    let lab = dir.path().join("lab");
    let run = lab.join(".run");
    let lab_path = lab.to_str().expect("UTF-8 temp path");

    // A stale pid file naming a process that is not the lab's: left running, file removed.
    let mut stranger = waiting_process(&["not-the-lab"]);
    fs::write(run.join("oidc-conformant.pid"), stranger.id().to_string()).unwrap();
    // A pid file naming a process with the lab's command line: stopped.
    let server = format!("{lab_path}/oidc/server.mjs");
    let mut labs_own = waiting_process(&[&server, "--port", "7401", "--misconfigured"]);
    fs::write(
        run.join("oidc-misconfigured.pid"),
        labs_own.id().to_string(),
    )
    .unwrap();
    // `spawn` returns once bash is exec'd, so /proc already shows these command lines.

    let output = run_down(&lab);
    let stopped_labs_own = exited_within(&mut labs_own, Duration::from_secs(10));
    let stranger_alive = stranger.try_wait().expect("try_wait").is_none();
    stranger.kill().ok();
    stranger.wait().ok();
    labs_own.kill().ok();
    labs_own.wait().ok();

    assert!(output.status.success(), "{output:?}");
    assert!(
        stopped_labs_own,
        "lab/down left the lab's own process running"
    );
    assert!(
        stranger_alive,
        "lab/down stopped a process it did not start"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "oidc-misconfigured: stopped\n"
    );
    for pid_file in ["oidc-conformant.pid", "oidc-misconfigured.pid"] {
        match fs::metadata(run.join(pid_file)) {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            other => panic!("{pid_file} still there: {other:?}"),
        }
    }
}
