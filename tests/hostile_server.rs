//! A hostile-server battery: small raw-TCP servers on 127.0.0.1 that misbehave in one way each,
//! and the verdict, outcome class and message a real scenario gets against them. Every case goes
//! through the library's [`Runner`] on a real-clock target whose `api_base` is the server, with
//! the scenarios of `tests/fixtures/hostile/demo/hostile.yaml`.
//!
//! The honest verdicts: a server that answers wrongly (a bad status line, HTTP/0.9, control bytes
//! or too many headers, a bad chunk, a connection closed mid-message, a drip that never finishes)
//! makes a step expecting a response **fail**, with the outcome class that says how; only what
//! stops the suite itself from running is an error. Every case runs under a timeout, so the file
//! can neither hang nor take long (each server waits at most a few seconds for a client).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authconform::exec::MockOptions;
use authconform::exec::result::Transcript;
use authconform::net::{ClientPool, ConnectionUse, MAX_BODY, Outcome, SourceAddr, send_on};
use authconform::{Plan, Runner, ScenarioResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

mod common;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The bound on one case: well above any step timeout of the fixtures (at most 1 s).
const CASE_LIMIT: Duration = Duration::from_secs(10);

/// A server on 127.0.0.1 that hands each connection to its handler; it counts connections.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<F, Fut>(handle: F) -> Server
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            // Bounded, so no connection outlives its case even if the client never closes.
            tokio::spawn(tokio::time::timeout(CASE_LIMIT, handle(stream)));
        }
    });
    Server {
        addr,
        connections,
        task,
    }
}

/// Reads one request head; false on EOF or error before a complete head.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing of a following request is consumed.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// Answers each connection's first request with `reply` (which decides the framing), then closes.
async fn reply_once(reply: Vec<u8>) -> Server {
    let reply = Arc::new(reply);
    serve(move |mut stream| {
        let reply = reply.clone();
        async move {
            if read_head(&mut stream).await {
                let _ = stream.write_all(&reply).await;
                let _ = stream.flush().await;
            }
            let _ = stream.shutdown().await;
        }
    })
    .await
}

/// Closes the connection with an RST (zero linger).
fn reset(stream: TcpStream) {
    if let Ok(stream) = stream.into_std() {
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn plan(api_base: &str, second_base: &str) -> Plan {
    let yaml = format!(
        "name: hostile\nclock: real\nlimits: {{ request_timeout: 2s, max_wait: 1s }}\n\
         providers:\n  demo:\n    hosts:\n      api_base: {{ url: \"{api_base}\" }}\n      \
         second_base: {{ url: \"{second_base}\" }}\n"
    );
    common::fixture_plan("hostile.yaml", &yaml, "tests/fixtures/hostile")
}

/// Runs scenario `id` of the hostile fixtures `times` times on one runner (so on one pool of
/// clients) against `api_base`, within [`CASE_LIMIT`].
async fn run_times(id: &str, api_base: &str, times: usize) -> Vec<ScenarioResult> {
    let plan = plan(api_base, "http://127.0.0.1:9");
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let trial = format!("demo::hostile::{id}");
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == trial)
        .unwrap_or_else(|| panic!("no scenario {trial}"));
    tokio::time::timeout(CASE_LIMIT, async {
        let mut results = Vec::new();
        for _ in 0..times {
            results.push(runner.run(planned).await);
        }
        results
    })
    .await
    .unwrap_or_else(|_| panic!("{trial} against {api_base} did not end within {CASE_LIMIT:?}"))
}

async fn run(id: &str, api_base: &str) -> ScenarioResult {
    run_times(id, api_base, 1).await.remove(0)
}

/// The transcript of the scenario's only step.
fn transcript(result: &ScenarioResult) -> &Transcript {
    result.steps[0]
        .transcript
        .as_ref()
        .unwrap_or_else(|| panic!("no transcript: {result:#?}"))
}

/// Asserts the verdict label, the outcome class, and that the verdict's message contains each
/// fragment (for a pass, the passed checks do).
fn assert_case(result: &ScenarioResult, verdict: &str, class: &str, fragments: &[&str]) {
    let t = transcript(result);
    assert_eq!(
        (result.verdict.label(), t.outcome.as_str()),
        (verdict, class),
        "{result:#?}"
    );
    let text = match &result.verdict {
        authconform::Verdict::Fail { message, .. }
        | authconform::Verdict::Error { message, .. } => message.clone(),
        _ => result.steps[0].passed.join("; "),
    };
    for fragment in fragments {
        assert!(text.contains(fragment), "`{fragment}` not in `{text}`");
    }
}

#[tokio::test]
async fn silence_after_accept_fails_at_the_step_timeout() {
    let server = serve(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        tokio::time::sleep(CASE_LIMIT).await;
    })
    .await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "read-timeout",
        &["timeout waiting for the response after 1.0s, expected a response"],
    );
    let elapsed = transcript(&result).elapsed;
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    // The same silence is what `outcome: timeout` looks for, and never below its `within`.
    let result = run("expects-timeout", &server.url()).await;
    assert_case(
        &result,
        "pass",
        "read-timeout",
        &["no response within 500 ms"],
    );
    assert!(transcript(&result).elapsed >= Duration::from_millis(500));
}

#[tokio::test]
async fn rst_after_the_request_fails_as_a_reset() {
    let server = serve(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        reset(stream);
    })
    .await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "reset",
        &["connection reset, expected a response"],
    );
    let result = run("expects-reset", &server.url()).await;
    assert_case(&result, "pass", "reset", &["outcome reset"]);
}

#[tokio::test]
async fn close_mid_headers_fails_as_a_reset() {
    let server = reply_once(b"HTTP/1.1 200 OK\r\ncontent-type: text/pl".to_vec()).await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "reset",
        &["connection reset, expected a response"],
    );
}

#[tokio::test]
async fn close_mid_chunked_body_fails_as_a_reset() {
    let server = reply_once(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\nonly eight".to_vec(),
    )
    .await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "reset",
        &["connection reset, expected a response"],
    );
}

#[tokio::test]
async fn content_length_beyond_the_body_fails_as_a_reset() {
    let server = reply_once(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello".to_vec()).await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "reset",
        &["connection reset, expected a response"],
    );
}

/// The message ends where Content-Length says; what follows is not part of it.
#[tokio::test]
async fn content_length_short_of_the_body_delimits_the_message() {
    let server =
        reply_once(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello, and more".to_vec()).await;
    let result = run("expects-ok-body", &server.url()).await;
    assert_case(&result, "pass", "response", &["status 200"]);
    assert_eq!(transcript(&result).response_body.as_deref(), Some("hello"));
}

#[tokio::test]
async fn one_byte_a_second_drip_ends_at_the_step_timeout() {
    let server = serve(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
        loop {
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "read-timeout",
        &["timeout waiting for the response after 1.0s"],
    );
    let elapsed = transcript(&result).elapsed;
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
}

/// Writes a 100 MB body in 64 KB pieces until the client stops reading.
async fn huge_body_server() -> Server {
    serve(|mut stream| async move {
        let _ = read_head(&mut stream).await;
        let total: usize = 100 * 1024 * 1024;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let piece = vec![b'a'; 64 * 1024];
        for _ in 0..total / piece.len() {
            if stream.write_all(&piece).await.is_err() {
                break;
            }
        }
    })
    .await
}

#[tokio::test]
async fn hundred_megabyte_body_is_read_up_to_the_limit() {
    let server = huge_body_server().await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(&result, "pass", "response", &["status 200"]);
    assert!(
        result.duration < Duration::from_secs(5),
        "{:?}",
        result.duration
    );
    // What the step kept of the body is bounded by net::MAX_BODY.
    let clients = ClientPool::new()
        .client(&SourceAddr::Any, Duration::from_secs(1))
        .await
        .unwrap();
    let request = clients.pooled().get(server.url()).build().unwrap();
    let exchange = tokio::time::timeout(
        CASE_LIMIT,
        send_on(
            &clients,
            request,
            Duration::from_secs(2),
            ConnectionUse::Reuse,
        ),
    )
    .await
    .unwrap();
    assert_eq!(exchange.outcome, Outcome::Response(200));
    assert_eq!(exchange.response.unwrap().body.len(), MAX_BODY);
}

/// Each reply is not HTTP/1.1 as hyper parses it: a step expecting a response fails with the
/// parser's reason (the server answered, wrongly), and `outcome: malformed` passes.
async fn assert_malformed(reply: Vec<u8>, reason: &str) {
    let server = reply_once(reply).await;
    let result = run("expects-ok", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "malformed",
        &[
            "malformed response: ",
            reason,
            "expected a response: the server answered, but not with valid HTTP/1.1",
        ],
    );
    let detail = transcript(&result)
        .outcome_detail
        .clone()
        .unwrap_or_default();
    assert!(detail.contains(reason), "{detail}");
    let result = run("expects-malformed", &server.url()).await;
    assert_case(
        &result,
        "pass",
        "malformed",
        &["outcome malformed response: ", reason],
    );
}

#[tokio::test]
async fn bad_status_line_is_malformed() {
    assert_malformed(
        b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        "invalid HTTP status-code parsed",
    )
    .await;
}

#[tokio::test]
async fn http_0_9_reply_is_malformed() {
    assert_malformed(
        b"<html>no status line at all</html>\n".to_vec(),
        "invalid HTTP version parsed",
    )
    .await;
}

#[tokio::test]
async fn control_bytes_in_a_header_value_are_malformed() {
    assert_malformed(
        b"HTTP/1.1 200 OK\r\nx-probe: a\x01b\x7fc\r\ncontent-length: 0\r\n\r\n".to_vec(),
        "invalid HTTP header parsed",
    )
    .await;
}

#[tokio::test]
async fn ten_thousand_headers_are_malformed() {
    let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..10_000 {
        reply.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    reply.extend_from_slice(b"content-length: 0\r\n\r\n");
    assert_malformed(reply, "message head is too large").await;
}

#[tokio::test]
async fn bad_chunk_size_is_malformed() {
    assert_malformed(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec(),
        "chunk size",
    )
    .await;
}

/// HTTP sets no limit on a header's size; hyper takes heads up to about 400 KB, so a 64 KB header
/// is a valid response.
#[tokio::test]
async fn sixty_four_kilobyte_header_is_a_response() {
    let mut reply = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    reply.extend(std::iter::repeat_n(b'a', 64 * 1024));
    reply.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
    let server = reply_once(reply).await;
    let result = run("expects-big-header", &server.url()).await;
    assert_case(&result, "pass", "response", &["status 200"]);
    let big = transcript(&result)
        .response_headers
        .iter()
        .find(|(n, _)| n == "x-big")
        .map(|(_, v)| v.len());
    assert_eq!(big, Some(64 * 1024));
}

#[tokio::test]
async fn invalid_json_fails_a_jsonpath_check() {
    let server = reply_once(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 9\r\n\r\n{\"user\": ".to_vec(),
    )
    .await;
    let result = run("expects-json", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "response",
        &["body is not JSON (", "so 1 JSONPath check(s) cannot hold"],
    );
}

/// A body that is not JSON (an HTML page, nothing at all) carries no member: `absent` holds on
/// it, and only the checks that need a member fail, counted as such.
#[tokio::test]
async fn absent_holds_on_a_body_that_is_not_json() {
    for body in ["<html>Unauthorized</html>", ""] {
        let reply = |body: &str| {
            format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        let server = reply_once(reply(body)).await;
        let result = run("expects-no-token", &server.url()).await;
        assert_case(
            &result,
            "pass",
            "response",
            &["$.access_token absent (the body is not JSON)"],
        );
        let server = reply_once(reply(body)).await;
        let result = run("expects-no-token-and-an-error", &server.url()).await;
        assert_case(
            &result,
            "fail",
            "response",
            &["body is not JSON (", "so 1 JSONPath check(s) cannot hold"],
        );
    }
}

/// reqwest here has no decompression feature: a gzip body stays as sent, so a bomb (10 MB of
/// zeros in about 10 KB) is kept at its compressed size, and a JSONPath check on it fails.
#[tokio::test]
async fn gzip_bomb_stays_compressed() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 10 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
        bomb.len()
    )
    .into_bytes();
    reply.extend_from_slice(&bomb);
    let server = reply_once(reply).await;
    let result = run("expects-json", &server.url()).await;
    assert_case(&result, "fail", "response", &["body is not JSON ("]);
    let clients = ClientPool::new()
        .client(&SourceAddr::Any, Duration::from_secs(1))
        .await
        .unwrap();
    let request = clients.pooled().get(server.url()).build().unwrap();
    let exchange = send_on(
        &clients,
        request,
        Duration::from_secs(2),
        ConnectionUse::Fresh,
    )
    .await;
    assert_eq!(exchange.response.unwrap().body, bomb);
}

#[tokio::test]
async fn redirect_loop_is_the_response_never_followed() {
    let server = serve(|mut stream| async move {
        while read_head(&mut stream).await {
            let reply = b"HTTP/1.1 302 Found\r\nlocation: /probe\r\ncontent-length: 0\r\n\r\n";
            if stream.write_all(reply).await.is_err() {
                break;
            }
        }
    })
    .await;
    let result = run("expects-redirect", &server.url()).await;
    assert_case(&result, "pass", "response", &["status 302"]);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn cross_host_redirect_takes_no_credentials_anywhere() {
    let second = serve(|mut stream| async move {
        let _ = read_head(&mut stream).await;
    })
    .await;
    let location = format!("{}/steal", second.url());
    let server = reply_once(
        format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n")
            .into_bytes(),
    )
    .await;
    let result = run("expects-redirect", &server.url()).await;
    assert_case(&result, "pass", "response", &["status 302"]);
    let shown = transcript(&result)
        .response_headers
        .iter()
        .any(|(n, v)| n == "location" && *v == location);
    assert!(shown, "{result:#?}");
    // Give a (wrongly) followed redirect time to arrive before checking it never did.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(second.connections(), 0, "the second host was contacted");
}

/// A server that closes every connection after one response, without `Connection: close`.
async fn close_after_response() -> Server {
    serve(|mut stream| async move {
        if read_head(&mut stream).await {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        }
        let _ = stream.shutdown().await;
    })
    .await
}

/// 300 requests in a row on one runner's clients all pass: a pooled connection the server already
/// closed is never taken for the server's answer. `outcome: reset` never passes against it.
// Several worker threads, as in `authconform run`: the client's connection task may not have
// seen the server's FIN when the next request takes the idle connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_response_without_connection_close_is_never_a_reset() {
    let server = close_after_response().await;
    let results = run_times("expects-ok", &server.url(), 300).await;
    let failed: Vec<&ScenarioResult> = results
        .iter()
        .filter(|r| r.verdict.label() != "pass")
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 300 did not pass: {:#?}",
        failed.len(),
        failed.first()
    );
    for result in &results {
        if let Some(why) = &transcript(result).resent {
            assert!(
                why.starts_with("the reused connection closed before the response arrived"),
                "{why}"
            );
        }
    }
    let resent = results
        .iter()
        .filter(|r| transcript(r).resent.is_some())
        .count();
    eprintln!("close-after-response: {resent} of 300 requests were resent on a fresh connection");
    let results = run_times("expects-reset", &server.url(), 50).await;
    for result in &results {
        assert_case(
            result,
            "fail",
            "response",
            &[
                "got HTTP 200, expected reset: the server answered on a connection opened for this request",
            ],
        );
        assert_eq!(transcript(result).resent, None);
    }
}

#[tokio::test]
async fn tls_garbage_is_a_tls_failure() {
    let server = serve(|mut stream| async move {
        let mut hello = [0u8; 512];
        let _ = stream.read(&mut hello).await;
        let _ = stream
            .write_all(&[0x17, 0x42, 0x99, 0x00, 0x01, 0xff, 0xfe, 0x00, 0x10])
            .await;
    })
    .await;
    let result = run("expects-ok", &format!("https://{}", server.addr)).await;
    assert_case(
        &result,
        "fail",
        "tls",
        &["TLS error: ", "expected a response"],
    );
    assert!(transcript(&result).outcome_detail.is_some());
}

#[tokio::test]
async fn refused_port_fails_a_response_and_passes_refused() {
    let port = {
        let listener = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let result = run("expects-ok", &url).await;
    assert_case(
        &result,
        "fail",
        "refused",
        &["refused, expected a response"],
    );
    let result = run("expects-refused", &url).await;
    assert_case(&result, "pass", "refused", &["outcome refused"]);
}

#[tokio::test]
async fn malformed_www_authenticate_fails_the_challenge_check() {
    let server = reply_once(
        b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\r\ncontent-length: 0\r\n\r\n"
            .to_vec(),
    )
    .await;
    let result = run("expects-challenge", &server.url()).await;
    assert_case(
        &result,
        "fail",
        "response",
        &["`WWW-Authenticate` is malformed: "],
    );
}

/// The evidence of a malformed answer and of a resent request carries the reason for each, and
/// still validates against docs/evidence.schema.json.
// Several worker threads, as in `authconform run`: the client's connection task may not have
// seen the server's FIN when the next request takes the idle connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_records_the_malformed_reason_and_the_resend() {
    use authconform::report::evidence::{RunContext, RunFacts, build};
    use std::time::SystemTime;
    let malformed = reply_once(b"HTTP/1.1 2x0 OK\r\n\r\n".to_vec()).await;
    let flaky = close_after_response().await;
    let plan = plan(&malformed.url(), "http://127.0.0.1:9");
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let find = |id: &str| {
        plan.scenarios
            .iter()
            .find(|s| s.trial_name() == format!("demo::hostile::{id}"))
            .unwrap()
            .clone()
    };
    let result = tokio::time::timeout(CASE_LIMIT, runner.run(&find("expects-ok")))
        .await
        .unwrap();
    let record = serde_json::to_value(build(
        &RunContext {
            plan: &plan,
            selected: &[find("expects-ok")],
            results: &[result],
            incomplete_reason: None,
            strict: false,
            waiver_problems: Vec::new(),
        },
        &RunFacts::gather(&plan, &[], SystemTime::now(), SystemTime::now()),
        runner.secrets(),
    ))
    .unwrap();
    let exchange = &record["scenarios"][0]["steps"][0]["exchanges"][0];
    assert_eq!(exchange["outcome"], "malformed", "{exchange:#}");
    assert_eq!(
        exchange["outcome_detail"], "invalid HTTP status-code parsed",
        "{exchange:#}"
    );
    assert!(exchange.get("resent").is_none(), "{exchange:#}");
    assert_eq!(schema_errors(&record), Vec::<String>::new());

    // A resend happens when a reused connection closed: run until one does (the server closes
    // every connection, so the second request on a pooled connection is the usual case).
    let plan = self::plan(&flaky.url(), "http://127.0.0.1:9");
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let planned = plan
        .scenarios
        .iter()
        .find(|s| s.trial_name() == "demo::hostile::expects-ok")
        .unwrap()
        .clone();
    let resent = tokio::time::timeout(CASE_LIMIT, async {
        loop {
            let result = runner.run(&planned).await;
            if transcript(&result).resent.is_some() {
                break result;
            }
        }
    })
    .await
    .expect("a reused connection was closed within the case limit");
    assert_eq!(resent.verdict.label(), "pass");
    let evidence = build(
        &RunContext {
            plan: &plan,
            selected: std::slice::from_ref(&planned),
            results: &[resent],
            incomplete_reason: None,
            strict: false,
            waiver_problems: Vec::new(),
        },
        &RunFacts::gather(&plan, &[], SystemTime::now(), SystemTime::now()),
        runner.secrets(),
    );
    let page = authconform::report::html::render(&evidence);
    assert!(
        page.contains(" \u{b7} resent: the reused connection closed before the response arrived"),
        "the evidence page shows the resend"
    );
    let record = serde_json::to_value(evidence).unwrap();
    let exchange = &record["scenarios"][0]["steps"][0]["exchanges"][0];
    assert_eq!(exchange["outcome"], "response", "{exchange:#}");
    let why = exchange["resent"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("the reused connection closed before the response arrived")
            && why.ends_with("sent again on a fresh connection"),
        "{exchange:#}"
    );
    assert_eq!(schema_errors(&record), Vec::<String>::new());
}

fn schema_errors(value: &serde_json::Value) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs/evidence.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// A listener whose accept queue is full, so the kernel drops further SYNs; returns its address
/// and what must stay alive while it is used.
async fn syn_dropping_listener() -> (SocketAddr, socket2::Socket, Vec<TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(LOCALHOST, 0).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_millis(150), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => held.push(stream),
            Ok(Err(e)) => panic!("filling the accept queue failed: {e}"),
            Err(_) => return (addr, socket, held),
        }
    }
    panic!("64 connections completed and none stalled: the kernel does not drop SYNs");
}

/// An unanswered SYN passes `outcome: timeout` as a connect timeout, recorded no earlier than
/// the `within` it waited for (the connect timeout never fires before the step's timeout).
#[tokio::test]
async fn unanswered_syn_is_a_timeout_never_recorded_below_within() {
    let (addr, _listener, _held) = syn_dropping_listener().await;
    let result = run("expects-timeout", &format!("http://{addr}")).await;
    assert_case(
        &result,
        "pass",
        "connect-timeout",
        &["no response within 500 ms (connect timeout, after "],
    );
    let elapsed = transcript(&result).elapsed;
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(1),
        "{elapsed:?}"
    );
}
