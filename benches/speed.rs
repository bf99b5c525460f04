//! Speed and scale of the whole `authconform` process: `cargo bench --bench speed`.
//!
//! In one invocation the benchmark starts its own loopback target (a hyper server issuing tokens
//! and checking them as Bearer), generates specs, scenarios and a live target in a temporary
//! folder, runs the release binary as a whole process for each case (median wall time of several
//! runs, peak resident memory from `wait4`), runs the baselines (a raw reqwest loop, and Hurl when
//! it is on `PATH`), prints every figure beside its baseline, and checks every goal: a missed goal
//! makes the command exit 1. Nothing here runs under `cargo test`.
//!
//! ```text
//! cargo bench --bench speed                       # every group
//! cargo bench --bench speed -- --quick            # fewer repetitions
//! cargo bench --bench speed -- --runs 9 validate  # one group, nine runs of each small case
//! cargo bench --bench speed -- --serve DIR       # write the trees into DIR and serve them, to profile
//! ```

use std::convert::Infallible;
use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The groups a filter can name, in the order they run.
const GROUPS: [&str; 6] = [
    "fixed",
    "throughput",
    "redaction",
    "run10k",
    "validate",
    "suite",
];

/// The first argument that makes this benchmark a measuring process: `--measure-child LOG
/// PROGRAM ARGS…` runs PROGRAM and prints its wall time in nanoseconds, its peak resident set in
/// KiB and its exit code (-1 for a signal).
const MEASURE_CHILD: &str = "--measure-child";

/// Longest a measured process may take before it is killed and the case counted as missed.
const PROCESS_LIMIT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------------
// The loopback target

/// Issues tokens and recognises the ones it issued.
///
/// A unique issuer hands out `<prefix><counter>`, so redaction meets a new secret on every pair;
/// a repeated one hands out the same token every time.
struct Issuer {
    unique: bool,
    prefix: String,
    issued: AtomicU64,
}

impl Issuer {
    fn new(unique: bool) -> Self {
        // A per-start prefix, so that no token of an earlier server is ever recognised.
        let prefix = format!("bench-{:016x}-", rand::random::<u64>());
        Self {
            unique,
            prefix,
            issued: AtomicU64::new(0),
        }
    }

    fn issue(&self) -> String {
        if self.unique {
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            format!("{}{n:016x}", self.prefix)
        } else {
            format!("{}{:016x}", self.prefix, u64::MAX)
        }
    }

    fn recognises(&self, token: &str) -> bool {
        let Some(counter) = token.strip_prefix(&self.prefix) else {
            return false;
        };
        match u64::from_str_radix(counter, 16) {
            Ok(u64::MAX) => !self.unique,
            Ok(n) => self.unique && n < self.issued.load(Ordering::Relaxed),
            Err(_) => false,
        }
    }
}

async fn answer(
    request: Request<Incoming>,
    issuer: Arc<Issuer>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            CONTENT_TYPE,
            "application/json".parse().expect("a header value"),
        );
        Ok(response)
    };
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/token") => {
            // Reads the form to its end, so the connection stays usable for the next request.
            let _ = request.into_body().collect().await;
            let token = issuer.issue();
            reply(
                StatusCode::OK,
                format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#),
            )
        }
        (&Method::GET, "/resource") => {
            let presented = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "));
            if presented.is_some_and(|token| issuer.recognises(token)) {
                reply(StatusCode::OK, r#"{"resource":"ok"}"#.to_owned())
            } else {
                reply(
                    StatusCode::UNAUTHORIZED,
                    r#"{"error":"invalid_token"}"#.to_owned(),
                )
            }
        }
        _ => reply(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#.to_owned()),
    }
}

/// Starts a keep-alive HTTP/1 server on an ephemeral 127.0.0.1 port of `runtime`.
fn start_server(runtime: &tokio::runtime::Runtime, unique: bool) -> SocketAddr {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind the loopback benchmark server");
    listener
        .set_nonblocking(true)
        .expect("make the listener non-blocking");
    let address = listener.local_addr().expect("the listener's address");
    let issuer = Arc::new(Issuer::new(unique));
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let issuer = issuer.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| answer(request, issuer.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

// ---------------------------------------------------------------------------------------------
// Generated inputs

const SPEC: &str = "provider: bench
title: The benchmark's loopback target
documents:
  - { id: bench, title: \"benches/speed.rs, the loopback server\" }
requirements:
  - id: BENCH-TOKEN-01
    statement: The token endpoint issues a Bearer token that opens the resource.
    source: bench
    kind: Assumed
inputs:
  hosts:
    api_base: The loopback server's base URL
";

/// One token+bearer pair: obtain a token with a secret capture, then use it.
fn pair_scenario(n: usize) -> String {
    format!(
        r#"  - id: pair-{n}
    title: A token is issued and opens the resource
    requirements: [BENCH-TOKEN-01]
    steps:
      - request: {{ method: POST, url: "{{{{api_base}}}}/token", body: {{ form: {{ grant_type: client_credentials }} }} }}
        expect: {{ status: 200 }}
        capture:
          token: {{ jsonpath: $.access_token, secret: true }}
      - request: {{ url: "{{{{api_base}}}}/resource", auth: {{ bearer: "{{{{secret.token}}}}" }} }}
        expect: {{ status: 200 }}
"#
    )
}

/// One request: a token request whose answer is checked.
fn one_request_scenario(n: usize) -> String {
    format!(
        r#"  - id: token-{n}
    title: The token endpoint answers
    requirements: [BENCH-TOKEN-01]
    steps:
      - request: {{ method: POST, url: "{{{{api_base}}}}/token", body: {{ form: {{ grant_type: client_credentials }} }} }}
        expect: {{ status: 200 }}
"#
    )
}

/// One scenario of `pairs` token+bearer pairs, `2 × pairs` steps.
fn long_scenario(pairs: usize) -> String {
    let mut text = String::from(
        "  - id: long
    title: Many tokens are issued and each opens the resource
    requirements: [BENCH-TOKEN-01]
    steps:
",
    );
    for n in 0..pairs {
        let _ = write!(
            text,
            r#"      - request: {{ method: POST, url: "{{{{api_base}}}}/token", body: {{ form: {{ grant_type: client_credentials }} }} }}
        expect: {{ status: 200 }}
        capture:
          token{n}: {{ jsonpath: $.access_token, secret: true }}
      - request: {{ url: "{{{{api_base}}}}/resource", auth: {{ bearer: "{{{{secret.token{n}}}}}" }} }}
        expect: {{ status: 200 }}
"#
        );
    }
    text
}

/// A generated spec, scenario tree and live target, and the equivalent Hurl files.
struct Tree {
    root: PathBuf,
    scenario_count: usize,
    hurl_files: Vec<PathBuf>,
}

impl Tree {
    /// Writes `scenarios` spread evenly over `files` files, with a target reaching `server`.
    fn write(
        parent: &Path,
        name: &str,
        scenarios: &[String],
        files: usize,
        server: SocketAddr,
    ) -> Self {
        let root = parent.join(name);
        let folder = root.join("scenarios").join("bench");
        std::fs::create_dir_all(&folder).expect("create the scenario folder");
        std::fs::create_dir_all(root.join("specs")).expect("create the spec folder");
        std::fs::write(root.join("specs").join("bench.yaml"), SPEC).expect("write the spec");
        std::fs::write(
            root.join("target.yaml"),
            format!(
                "name: bench
clock: real
limits: {{ request_timeout: 30s }}
sources:
  default: {{ bind: 127.0.0.1 }}
providers:
  bench:
    hosts:
      api_base: {{ url: \"http://{server}\" }}
"
            ),
        )
        .expect("write the target");
        for (f, chunk) in chunks(scenarios, files).enumerate() {
            let mut text = String::from("scenarios:\n");
            for scenario in chunk {
                text.push_str(scenario);
            }
            std::fs::write(folder.join(format!("s{f:04}.yaml")), text)
                .expect("write a scenario file");
        }
        Self {
            root,
            scenario_count: scenarios.len(),
            hurl_files: Vec::new(),
        }
    }

    /// Writes the Hurl equivalent of `pairs_per_file` (token+bearer pairs in each file).
    fn with_hurl(mut self, pairs_per_file: &[usize], server: SocketAddr) -> Self {
        let folder = self.root.join("hurl");
        std::fs::create_dir_all(&folder).expect("create the Hurl folder");
        for (f, &pairs) in pairs_per_file.iter().enumerate() {
            let mut text = String::new();
            for n in 0..pairs {
                let _ = write!(
                    text,
                    "POST http://{server}/token
[FormParams]
grant_type: client_credentials
HTTP 200
[Captures]
token{n}: jsonpath \"$.access_token\"

GET http://{server}/resource
Authorization: Bearer {{{{token{n}}}}}
HTTP 200

"
                );
            }
            let path = folder.join(format!("h{f:04}.hurl"));
            std::fs::write(&path, text).expect("write a Hurl file");
            self.hurl_files.push(path);
        }
        self
    }

    fn run_command(&self, binary: &Path, reports: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .arg("run")
            .args(["--specs", "specs", "--scenarios", "scenarios"])
            .args(["--target", "target.yaml", "--jobs", "64", "--quiet"])
            .arg("--reports")
            .arg(reports)
            .current_dir(&self.root);
        command
    }

    fn validate_command(&self, binary: &Path) -> Command {
        let mut command = Command::new(binary);
        command
            .arg("validate")
            .args(["--specs", "specs", "--scenarios", "scenarios"])
            .args(["--target", "target.yaml"])
            .current_dir(&self.root);
        command
    }

    fn hurl_command(&self) -> Command {
        let mut command = Command::new("hurl");
        command
            .args(["--test", "--jobs", "64"])
            .args(&self.hurl_files);
        command
    }
}

/// Splits `items` into `parts` runs of nearly equal length, none empty.
fn chunks<T>(items: &[T], parts: usize) -> impl Iterator<Item = &[T]> {
    let parts = parts.clamp(1, items.len().max(1));
    let (base, extra) = (items.len() / parts, items.len() % parts);
    let mut start = 0;
    (0..parts).map(move |part| {
        let len = base + usize::from(part < extra);
        let chunk = &items[start..start + len];
        start += len;
        chunk
    })
}

// ---------------------------------------------------------------------------------------------
// Measuring a process

/// One finished process: its wall time (spawn to exit) and peak resident set.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    peak_kib: u64,
}

/// Starts `program` with `args`, its output in `log`, waits for it and returns its wall time
/// (spawn to exit), its peak resident set in KiB and its exit code (`None`: killed by a signal).
///
/// This runs in a measuring process of its own (see [`measure_once`]): on Linux `exec` records
/// the old address space's high-water mark in the peak `wait4` reports, and a child spawned from
/// the benchmark itself would inherit the benchmark's, which grows to hundreds of MB.
fn spawn_and_wait(
    program: &std::ffi::OsStr,
    args: &[std::ffi::OsString],
    log: &Path,
) -> Result<(Duration, u64, Option<i32>), String> {
    let mut command = Command::new(program);
    command.args(args);
    let out = File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
    let start = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
    let pid = libc::pid_t::try_from(child.id()).expect("a process id fits pid_t");
    let (finished, watch) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(PROCESS_LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: `pid` is our child and not reaped yet: it is reaped only after this thread
            // has ended, so the number cannot name another process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    // Waits for the exit without reaping (WNOWAIT), stops the watchdog, then reaps.
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid value of the plain C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is valid for writes; `pid` is our child.
        let waited = unsafe {
            libc::waitid(
                libc::P_PID,
                libc::id_t::try_from(pid).expect("a process id is positive"),
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if waited == 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("cannot wait for process {pid}"));
        }
    }
    let wall = start.elapsed();
    drop(finished);
    let _ = watchdog.join();
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid for writes; `pid` is our exited, unreaped child.
    // `wait4` reports this child's own peak memory, where `getrusage(RUSAGE_CHILDREN)` would give
    // the largest of every child so far.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } != pid {
        return Err(format!("cannot reap process {pid}"));
    }
    drop(child);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok((wall, u64::try_from(usage.ru_maxrss).unwrap_or(0), code))
}

/// Runs `command` to its end, with its output in `log`, and measures it through a measuring
/// process (this benchmark started with `--measure-child`). A process that exits with another
/// code than `expected_code`, or outlives [`PROCESS_LIMIT`], is an error quoting its log.
fn measure_once(command: &mut Command, log: &Path, expected_code: i32) -> Result<Sample, String> {
    let measurer =
        std::env::current_exe().map_err(|e| format!("cannot find the benchmark: {e}"))?;
    let mut measuring = Command::new(measurer);
    measuring
        .arg(MEASURE_CHILD)
        .arg(log)
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        measuring.current_dir(dir);
    }
    let output = measuring
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start the measuring process: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let parsed = match fields.as_slice() {
        [nanos, kib, code] => nanos
            .parse::<u64>()
            .ok()
            .zip(kib.parse::<u64>().ok())
            .zip(code.parse::<i32>().ok()),
        _ => None,
    };
    let Some(((nanos, peak_kib), code)) = parsed else {
        return Err(format!(
            "the measuring process failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    };
    let wall = Duration::from_nanos(nanos);
    // A negative code stands for a signal.
    let code = (code >= 0).then_some(code);
    if code != Some(expected_code) {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = tail
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(format!(
            "{:?} ended with {} after {:.1} s, expected exit {expected_code}; its output ends:\n{tail}",
            command.get_program(),
            code.map_or_else(|| "a signal".to_owned(), |c| format!("exit {c}")),
            wall.as_secs_f64()
        ));
    }
    Ok(Sample { wall, peak_kib })
}

/// The median wall time and the largest peak memory of `runs` runs.
#[derive(Clone, Copy)]
struct Measure {
    wall: Duration,
    peak_kib: u64,
}

fn measure(
    runs: usize,
    log: &Path,
    expected_code: i32,
    mut command: impl FnMut() -> Command,
) -> Result<Measure, String> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        samples.push(measure_once(&mut command(), log, expected_code)?);
    }
    Ok(Measure {
        wall: median(samples.iter().map(|s| s.wall).collect()),
        peak_kib: samples.iter().map(|s| s.peak_kib).max().unwrap_or(0),
    })
}

fn median(mut walls: Vec<Duration>) -> Duration {
    walls.sort();
    walls.get(walls.len() / 2).copied().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The raw reqwest baseline

/// Obtains a token and uses it, as a scenario of the pair trees does.
async fn raw_pair(client: &reqwest::Client, base: &str) -> Result<(), String> {
    let issued = client
        .post(format!("{base}/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if issued.status() != reqwest::StatusCode::OK {
        return Err(format!("token request answered {}", issued.status()));
    }
    let body: serde_json::Value = issued.json().await.map_err(|e| e.to_string())?;
    let token = body["access_token"]
        .as_str()
        .ok_or("the token response has no access_token")?;
    let used = client
        .get(format!("{base}/resource"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if used.status() != reqwest::StatusCode::OK {
        return Err(format!("resource request answered {}", used.status()));
    }
    used.bytes().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Times `pairs` pairs run by `tasks` spawned tasks (1: one after another), the client built
/// inside the timed part as the binary builds its own.
fn raw_loop(
    runtime: &tokio::runtime::Runtime,
    server: SocketAddr,
    pairs: usize,
    tasks: usize,
) -> Result<Duration, String> {
    runtime.block_on(async move {
        let start = Instant::now();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let base = Arc::new(format!("http://{server}"));
        let next = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..tasks)
            .map(|_| {
                let (client, base, next) = (client.clone(), base.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < pairs {
                        raw_pair(&client, &base).await?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        for worker in workers {
            worker.await.map_err(|e| e.to_string())??;
        }
        Ok(start.elapsed())
    })
}

fn raw_median(
    runtime: &tokio::runtime::Runtime,
    server: SocketAddr,
    pairs: usize,
    tasks: usize,
    runs: usize,
) -> Result<Duration, String> {
    let walls = (0..runs.max(1))
        .map(|_| raw_loop(runtime, server, pairs, tasks))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(median(walls))
}

// ---------------------------------------------------------------------------------------------
// Figures and goals

/// One line of the figures table: a measurement beside its baseline.
struct Figure {
    label: String,
    value: String,
    baseline: String,
    ratio: Option<f64>,
}

/// One checked goal.
struct Goal {
    label: String,
    measured: String,
    limit: String,
    /// `None` when it could not be checked (a baseline tool is missing), with the reason in
    /// `measured`.
    met: Option<bool>,
}

#[derive(Default)]
struct Report {
    figures: Vec<Figure>,
    goals: Vec<Goal>,
    errors: Vec<String>,
}

impl Report {
    fn figure(&mut self, label: &str, value: String, baseline: String, ratio: Option<f64>) {
        self.figures.push(Figure {
            label: label.to_owned(),
            value,
            baseline,
            ratio,
        });
    }

    fn goal(&mut self, label: &str, measured: String, limit: String, met: bool) {
        self.goals.push(Goal {
            label: label.to_owned(),
            measured,
            limit,
            met: Some(met),
        });
    }

    fn unchecked(&mut self, label: &str, why: &str, limit: String) {
        self.goals.push(Goal {
            label: label.to_owned(),
            measured: why.to_owned(),
            limit,
            met: None,
        });
    }

    /// Records a case that could not be measured: its goals count as missed.
    fn error(&mut self, case: &str, error: String) {
        eprintln!("error: {case}: {error}");
        self.errors.push(format!("{case}: {error}"));
        self.goals.push(Goal {
            label: case.to_owned(),
            measured: "could not be measured".to_owned(),
            limit: "-".to_owned(),
            met: Some(false),
        });
    }

    fn print(&self) {
        println!();
        println!(
            "{:<52} {:>14}  {:<34} {:>7}",
            "figure", "authconform", "baseline", "ratio"
        );
        for figure in &self.figures {
            println!(
                "{:<52} {:>14}  {:<34} {:>7}",
                figure.label,
                figure.value,
                figure.baseline,
                figure
                    .ratio
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"))
            );
        }
        println!();
        println!("{:<52} {:>20}  {:<22} result", "goal", "measured", "limit");
        for goal in &self.goals {
            let result = match goal.met {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "SKIP",
            };
            println!(
                "{:<52} {:>20}  {:<22} {result}",
                goal.label, goal.measured, goal.limit
            );
        }
    }

    fn missed(&self) -> usize {
        self.goals.iter().filter(|g| g.met == Some(false)).count()
    }
}

fn ms(wall: Duration) -> String {
    format!("{:.1} ms", wall.as_secs_f64() * 1e3)
}

fn secs(wall: Duration) -> String {
    format!("{:.3} s", wall.as_secs_f64())
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib_to_mb(kib))
}

fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE)
}

// ---------------------------------------------------------------------------------------------
// The benchmark

struct Options {
    quick: bool,
    /// Runs of each small case; the large ones take fewer.
    runs: usize,
    groups: Vec<String>,
}

impl Options {
    /// Parses the arguments after `cargo bench --bench speed --`; `None` when nothing is to run.
    fn parse() -> Result<Option<Self>, String> {
        let mut options = Self {
            quick: false,
            runs: 5,
            groups: Vec::new(),
        };
        let mut benching = false;
        let mut runs_given = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                // `cargo bench` passes `--bench`; `cargo test --benches` does not.
                "--bench" => benching = true,
                "--quick" => options.quick = true,
                "--runs" => {
                    let value = args.next().ok_or("--runs needs a number")?;
                    options.runs = value.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                        format!("--runs: expected a number from 1, got `{value}`")
                    })?;
                    runs_given = true;
                }
                group if GROUPS.contains(&group) => options.groups.push(group.to_owned()),
                other => {
                    return Err(format!(
                        "unknown argument `{other}`: expected --quick, --runs N or a group ({})",
                        GROUPS.join(", ")
                    ));
                }
            }
        }
        if !benching && options.groups.is_empty() {
            return Ok(None);
        }
        if options.quick && !runs_given {
            options.runs = 3;
        }
        Ok(Some(options))
    }

    fn selects(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }

    /// Runs of a case taking a second or more.
    fn large_runs(&self) -> usize {
        if self.quick { 1 } else { self.runs.div_ceil(2) }
    }
}

/// Finds the release binary `cargo bench` built beside this benchmark.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_authconform"))
}

fn hurl_version() -> Option<String> {
    let output = Command::new("hurl").arg("--version").output().ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("hurl")
            .to_owned()
    })
}

/// Runs as the measuring process of [`measure_once`].
fn measure_child(args: &[std::ffi::OsString]) -> ExitCode {
    let [log, program, rest @ ..] = args else {
        eprintln!("{MEASURE_CHILD} needs LOG PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    match spawn_and_wait(program, rest, Path::new(log)) {
        Ok((wall, peak_kib, code)) => {
            println!("{} {peak_kib} {}", wall.as_nanos(), code.unwrap_or(-1));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|arg| arg == MEASURE_CHILD) {
        return measure_child(&args[1..]);
    }
    if let Some(at) = args.iter().position(|arg| arg == "--serve") {
        let Some(folder) = args.get(at + 1) else {
            eprintln!("error: --serve needs a folder");
            return ExitCode::from(2);
        };
        return serve(Path::new(folder));
    }
    let options = match Options::parse() {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("speed: run it with `cargo bench --bench speed` (nothing is measured here)");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let binary = binary();
    let hurl = hurl_version();
    println!(
        "authconform speed benchmark: {}, {} core(s), {} run(s) per small case, {} per large case",
        binary.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        options.runs,
        options.large_runs()
    );
    match &hurl {
        Some(version) => println!("baseline: {version}"),
        None => println!("baseline: Hurl is not on PATH; its figures and goals are skipped"),
    }

    let server_runtime = server_runtime();
    let repeated = start_server(&server_runtime, false);
    let unique = start_server(&server_runtime, true);
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("start the baseline runtime");
    let temp = tempfile::tempdir().expect("create a temporary folder");
    let bench = Bench {
        binary,
        hurl: hurl.is_some(),
        temp: temp.path().to_owned(),
        options,
        repeated,
        unique,
        client_runtime,
    };
    let mut report = Report::default();
    for group in GROUPS {
        if !bench.options.selects(group) {
            continue;
        }
        println!("-- {group}");
        match group {
            "fixed" => bench.fixed(&mut report),
            "throughput" => bench.throughput(&mut report),
            "redaction" => bench.redaction(&mut report),
            "run10k" => bench.run10k(&mut report),
            "validate" => bench.validate(&mut report),
            "suite" => bench.suite(&mut report),
            _ => unreachable!("every group is listed"),
        }
    }
    report.print();
    let missed = report.missed();
    if missed == 0 {
        println!("\nevery checked goal met");
        ExitCode::SUCCESS
    } else {
        println!("\n{missed} goal(s) missed");
        ExitCode::FAILURE
    }
}

/// The runtime the loopback targets are served on: two workers of their own, named so a profile
/// tells them from the baseline's.
fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .expect("start the server runtime")
}

/// Writes the throughput trees into `folder` and serves both targets until stdin closes, so that
/// a profiler can run the binary over them on its own (`perf record target/release/authconform
/// run ...` in a tree's folder).
fn serve(folder: &Path) -> ExitCode {
    let runtime = server_runtime();
    let repeated = start_server(&runtime, false);
    let unique = start_server(&runtime, true);
    let pairs: Vec<String> = (0..500).map(pair_scenario).collect();
    let tokens: Vec<String> = (0..2_000).map(pair_scenario).collect();
    let single: Vec<String> = (0..10_000).map(one_request_scenario).collect();
    let trees = [
        Tree::write(folder, "pairs-50", &pairs, 50, repeated),
        Tree::write(folder, "pairs-1", &pairs, 1, repeated),
        Tree::write(folder, "pairs-unique", &pairs, 50, unique),
        Tree::write(folder, "redact-repeated", &tokens, 50, repeated),
        Tree::write(folder, "redact-unique", &tokens, 50, unique),
        Tree::write(folder, "run10k", &single, 100, repeated),
    ];
    for tree in &trees {
        println!("{}", tree.root.display());
    }
    println!(
        "serving {repeated} (one token) and {unique} (a new token each time); close stdin to stop"
    );
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    ExitCode::SUCCESS
}

struct Bench {
    binary: PathBuf,
    hurl: bool,
    temp: PathBuf,
    options: Options,
    repeated: SocketAddr,
    unique: SocketAddr,
    client_runtime: tokio::runtime::Runtime,
}

impl Bench {
    fn log(&self, name: &str) -> PathBuf {
        self.temp.join(format!("{name}.log"))
    }

    /// Times `authconform run` over `tree`, reports in a fresh folder each run.
    fn run(&self, name: &str, tree: &Tree, runs: usize) -> Result<Measure, String> {
        let reports = self.temp.join(format!("{name}-reports"));
        let result = measure(runs, &self.log(name), 0, || {
            tree.run_command(&self.binary, &reports)
        });
        if let Ok(m) = &result {
            println!(
                "{name}: {} scenarios, median {}, peak {}",
                tree.scenario_count,
                ms(m.wall),
                mb(m.peak_kib)
            );
        }
        result
    }

    /// Times Hurl over `tree`'s Hurl files when Hurl is installed.
    fn hurl(&self, name: &str, tree: &Tree, runs: usize) -> Option<Result<Measure, String>> {
        if !self.hurl {
            return None;
        }
        let result = measure(runs, &self.log(&format!("{name}-hurl")), 0, || {
            tree.hurl_command()
        });
        if let Ok(m) = &result {
            println!("{name} (Hurl): median {}", ms(m.wall));
        }
        Some(result)
    }

    fn pairs(&self, count: usize) -> Vec<String> {
        (0..count).map(pair_scenario).collect()
    }

    fn fixed(&self, report: &mut Report) {
        let tree = Tree::write(&self.temp, "fixed", &self.pairs(5), 5, self.repeated)
            .with_hurl(&[1; 5], self.repeated);
        // More runs than elsewhere: a 17 ms figure moves with every scheduling hiccup.
        let runs = self.options.runs * 2 + 1;
        let label = "5 scenarios, fixed overhead (median)";
        let own = match self.run("fixed", &tree, runs) {
            Ok(m) => m,
            Err(e) => return report.error(label, e),
        };
        let limit = Duration::from_millis(17);
        match self.hurl("fixed", &tree, runs) {
            Some(Ok(h)) => report.figure(
                label,
                ms(own.wall),
                format!("Hurl {}", ms(h.wall)),
                Some(ratio(own.wall, h.wall)),
            ),
            Some(Err(e)) => report.error("5 scenarios under Hurl", e),
            None => report.figure(label, ms(own.wall), "Hurl not installed".into(), None),
        }
        report.goal(label, ms(own.wall), "<= 17.0 ms".into(), own.wall <= limit);
    }

    fn throughput(&self, report: &mut Report) {
        let runs = self.options.runs;
        let raw64 = raw_median(&self.client_runtime, self.repeated, 500, 64, runs);
        let raw1 = raw_median(&self.client_runtime, self.repeated, 500, 1, runs);
        let (raw64, raw1) = match (raw64, raw1) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return report.error("raw reqwest loop, 500 pairs", e),
        };
        println!(
            "raw reqwest, 500 pairs: {} (64 tasks), {} (sequential)",
            ms(raw64),
            ms(raw1)
        );
        report.figure(
            "raw reqwest, 500 pairs, sequential",
            ms(raw1),
            "-".into(),
            None,
        );
        let cases = [
            (
                "500 pairs, 50 files, --jobs 64",
                "pairs-50",
                50,
                self.repeated,
            ),
            (
                "500 pairs, one file, --jobs 64",
                "pairs-1",
                1,
                self.repeated,
            ),
            (
                "500 pairs, every token new, 50 files",
                "pairs-unique",
                50,
                self.unique,
            ),
        ];
        for (label, name, files, server) in cases {
            let tree = Tree::write(&self.temp, name, &self.pairs(500), files, server)
                .with_hurl(&vec![500 / files; files], server);
            let own = match self.run(name, &tree, runs) {
                Ok(m) => m,
                Err(e) => {
                    report.error(label, e);
                    continue;
                }
            };
            let raw = if server == self.unique {
                raw_median(&self.client_runtime, server, 500, 64, runs)
            } else {
                Ok(raw64)
            };
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    report.error("raw reqwest loop, unique tokens", e);
                    continue;
                }
            };
            report.figure(
                label,
                ms(own.wall),
                format!("raw reqwest (64 tasks) {}", ms(raw)),
                Some(ratio(own.wall, raw)),
            );
            let hurl = self.hurl(name, &tree, runs);
            if let Some(Ok(h)) = &hurl {
                report.figure(
                    &format!("{label} vs Hurl"),
                    ms(own.wall),
                    format!("Hurl {}", ms(h.wall)),
                    Some(ratio(own.wall, h.wall)),
                );
            }
            if server == self.unique {
                continue;
            }
            report.goal(
                &format!("{label}: vs raw reqwest"),
                format!("{:.2}x", ratio(own.wall, raw)),
                "<= 1.30x".into(),
                ratio(own.wall, raw) <= 1.3,
            );
            match hurl {
                Some(Ok(h)) => report.goal(
                    &format!("{label}: vs Hurl"),
                    format!("{:.2}x", ratio(own.wall, h.wall)),
                    "<= 0.50x".into(),
                    ratio(own.wall, h.wall) <= 0.5,
                ),
                Some(Err(e)) => report.error(&format!("{label} under Hurl"), e),
                None => report.unchecked(
                    &format!("{label}: vs Hurl"),
                    "Hurl not installed",
                    "<= 0.50x".into(),
                ),
            }
        }
        let label = "one scenario of 1,000 steps";
        let tree = Tree::write(&self.temp, "steps", &[long_scenario(500)], 1, self.repeated)
            .with_hurl(&[500], self.repeated);
        match self.run("steps", &tree, runs) {
            Ok(own) => {
                let baseline = match self.hurl("steps", &tree, runs) {
                    Some(Ok(h)) => (
                        format!("Hurl {}", ms(h.wall)),
                        Some(ratio(own.wall, h.wall)),
                    ),
                    Some(Err(e)) => {
                        report.error("1,000 steps under Hurl", e);
                        ("-".into(), None)
                    }
                    None => ("Hurl not installed".into(), None),
                };
                report.figure(label, ms(own.wall), baseline.0, baseline.1);
            }
            Err(e) => report.error(label, e),
        }
    }

    fn redaction(&self, report: &mut Report) {
        let runs = self.options.large_runs();
        let pairs = self.pairs(2_000);
        let repeated = Tree::write(&self.temp, "redact-repeated", &pairs, 50, self.repeated);
        let unique = Tree::write(&self.temp, "redact-unique", &pairs, 50, self.unique);
        let label = "2,000 pairs, every token new";
        let (same, new) = match (
            self.run("redact-repeated", &repeated, runs),
            self.run("redact-unique", &unique, runs),
        ) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return report.error(label, e),
        };
        let r = ratio(new.wall, same.wall);
        report.figure(
            label,
            ms(new.wall),
            format!("one repeated token {}", ms(same.wall)),
            Some(r),
        );
        report.goal(
            "redaction: 2,000 new tokens vs one repeated",
            format!("{r:.2}x"),
            "<= 1.20x".into(),
            r <= 1.2,
        );
    }

    fn run10k(&self, report: &mut Report) {
        let runs = self.options.large_runs();
        let scenarios: Vec<String> = (0..10_000).map(one_request_scenario).collect();
        let tree = Tree::write(&self.temp, "run10k", &scenarios, 100, self.repeated);
        let label = "run, 10,000 one-request scenarios";
        let own = match self.run("run10k", &tree, runs) {
            Ok(m) => m,
            Err(e) => return report.error(label, e),
        };
        report.figure(
            label,
            secs(own.wall),
            format!("peak {}", mb(own.peak_kib)),
            None,
        );
        report.goal(
            "run 10,000 one-request scenarios: time",
            secs(own.wall),
            "< 2 s".into(),
            own.wall < Duration::from_secs(2),
        );
        report.goal(
            "run 10,000 one-request scenarios: memory",
            mb(own.peak_kib),
            "< 150 MB".into(),
            kib_to_mb(own.peak_kib) < 150.0,
        );
    }

    fn validate(&self, report: &mut Report) {
        let small = Tree::write(&self.temp, "validate-5", &self.pairs(5), 1, self.repeated);
        let floor = match measure(self.options.runs, &self.log("validate-5"), 0, || {
            small.validate_command(&self.binary)
        }) {
            Ok(m) => m,
            Err(e) => return report.error("validate, 5 scenarios", e),
        };
        report.figure(
            "validate, 5 scenarios (floor)",
            ms(floor.wall),
            format!("peak {}", mb(floor.peak_kib)),
            None,
        );
        // Per count: (layout, wall) in order one file, 100 per file, 500 files.
        let mut walls: Vec<(usize, Vec<(String, Duration)>)> = Vec::new();
        let mut per_scenario_kib: Option<(f64, String)> = None;
        for (count, limit) in [
            (1_000, None),
            (10_000, Some(Duration::from_secs(1))),
            (50_000, Some(Duration::from_secs(5))),
        ] {
            let runs = if count > 10_000 {
                self.options.large_runs()
            } else {
                self.options.runs.div_ceil(2)
            };
            let scenarios = self.pairs(count);
            let mut layouts: Vec<(&str, usize, Duration)> = Vec::new();
            let mut worst = Duration::ZERO;
            for (layout, files) in [
                ("one file", 1),
                ("100 per file", count / 100),
                ("500 files", 500),
            ] {
                let label = format!(
                    "validate, {count} scenarios, {layout} ({files} x {})",
                    count / files
                );
                // At 50,000, 100 per file is 500 files: one tree, measured once, in both rows.
                if let Some(&(_, _, wall)) = layouts.iter().find(|(_, f, _)| *f == files) {
                    layouts.push((layout, files, wall));
                    continue;
                }
                let name = format!("validate-{count}-{files}");
                let tree = Tree::write(&self.temp, &name, &scenarios, files, self.repeated);
                match measure(runs, &self.log(&name), 0, || {
                    tree.validate_command(&self.binary)
                }) {
                    Ok(m) => {
                        println!("{name}: median {}, peak {}", ms(m.wall), mb(m.peak_kib));
                        report.figure(
                            &label,
                            secs(m.wall),
                            format!("peak {}", mb(m.peak_kib)),
                            None,
                        );
                        worst = worst.max(m.wall);
                        let kib = m.peak_kib.saturating_sub(floor.peak_kib) as f64 / count as f64;
                        if count >= 10_000
                            && per_scenario_kib.as_ref().is_none_or(|(k, _)| kib > *k)
                        {
                            per_scenario_kib = Some((kib, label.clone()));
                        }
                        layouts.push((layout, files, m.wall));
                    }
                    Err(e) => report.error(&label, e),
                }
                // The 50,000-scenario trees are large; keep the disk free for the next one.
                let _ = std::fs::remove_dir_all(&tree.root);
            }
            let Some(limit) = limit else {
                continue;
            };
            report.goal(
                &format!("validate {count} scenarios (slowest layout)"),
                secs(worst),
                format!("< {} s", limit.as_secs()),
                worst < limit && !layouts.is_empty(),
            );
            if let (Some(fast), Some(slow)) = (
                layouts.iter().map(|l| l.2).min(),
                layouts.iter().map(|l| l.2).max(),
            ) {
                let spread = ratio(slow, fast);
                report.goal(
                    &format!("validate {count}: slowest / fastest layout"),
                    format!("{spread:.2}x"),
                    "<= 1.50x".into(),
                    spread <= 1.5,
                );
            }
            walls.push((
                count,
                layouts
                    .into_iter()
                    .map(|(layout, _, wall)| (layout.to_owned(), wall))
                    .collect(),
            ));
        }
        // Linear in the count: time per scenario at 50,000 within 1.5x of that at 10,000.
        if let [.., (small_count, small), (large_count, large)] = walls.as_slice() {
            for (layout, large_wall) in large {
                let Some((_, small_wall)) = small.iter().find(|(l, _)| l == layout) else {
                    continue;
                };
                let growth =
                    ratio(*large_wall, *small_wall) * *small_count as f64 / *large_count as f64;
                report.goal(
                    &format!("validate per scenario, 50k / 10k, {layout}"),
                    format!("{growth:.2}x"),
                    "<= 1.50x".into(),
                    growth <= 1.5,
                );
            }
        }
        if let Some((kib, label)) = per_scenario_kib {
            println!("largest memory per scenario: {kib:.2} KiB ({label})");
            report.goal(
                "memory per loaded scenario (validate, above floor)",
                format!("{kib:.2} KiB"),
                "<= 4 KiB".into(),
                kib <= 4.0,
            );
        }
    }

    fn suite(&self, report: &mut Report) {
        let label = "own suite on the embedded mocks";
        let reports = self.temp.join("suite-reports");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let own = measure(self.options.runs, &self.log("suite"), 0, || {
            let mut command = Command::new(&self.binary);
            command
                .args(["run", "--quiet", "--reports"])
                .arg(&reports)
                .current_dir(manifest);
            command
        });
        let own = match own {
            Ok(m) => m,
            Err(e) => return report.error(label, e),
        };
        println!("suite: median {}, peak {}", ms(own.wall), mb(own.peak_kib));
        report.figure(
            label,
            secs(own.wall),
            format!("peak {}", mb(own.peak_kib)),
            None,
        );
        report.goal(
            "own suite: time",
            secs(own.wall),
            "<= 1.6 s".into(),
            own.wall <= Duration::from_millis(1_600),
        );
        report.goal(
            "own suite: memory",
            mb(own.peak_kib),
            "<= 40 MB".into(),
            kib_to_mb(own.peak_kib) <= 40.0,
        );
    }
}
