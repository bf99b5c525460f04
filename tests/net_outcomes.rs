//! Proves the transport's outcome classification (`authconform::net`) against real sockets on
//! loopback: every [`Outcome`] a conformance check relies on is produced by a real server
//! behaviour (an answer, a closed port, a silent peer, a full accept queue, an RST, a FIN, a
//! non-TLS peer), source binding is observed by the server, and the mock front's source policies
//! (allow, drop, reset, peer-header replacement) are seen by a client exactly as documented.
//!
//! No network beyond loopback is used; every wait is bounded to about a second.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authconform::mock::front::{self, PEER_HEADER, PolicyFn, SourcePolicy};
use authconform::net::{
    ClientPool, Clients, ConnectionUse, Exchange, Outcome, SourceAddr, classify, send, send_on,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOOPBACK_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const LOOPBACK_3: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Generous connect timeout for tests that are not about connecting.
const CONNECT: Duration = Duration::from_secs(1);
/// Generous total timeout for tests whose outcome should arrive at once.
const TOTAL: Duration = Duration::from_millis(1500);

async fn client(source: &SourceAddr, connect_timeout: Duration) -> reqwest::Client {
    ClientPool::new()
        .client(source, connect_timeout)
        .await
        .expect("the client builds")
        .pooled()
        .clone()
}

/// GETs `url` from any source with the generous timeouts.
async fn fetch(url: &str) -> Exchange {
    get(&client(&SourceAddr::Any, CONNECT).await, url, TOTAL).await
}

async fn get(client: &reqwest::Client, url: &str, timeout: Duration) -> Exchange {
    send(client, client.get(url).build().unwrap(), timeout).await
}

/// Reads until the end of the request head (or EOF, or a 1 s guard).
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
}

/// A server on 127.0.0.1 that hands every accepted connection to `handle`; stops when the
/// returned handle is aborted or the runtime ends.
async fn serve<F, Fut>(handle: F) -> (SocketAddr, JoinHandle<()>)
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            tokio::spawn(handle(stream, peer));
        }
    });
    (addr, task)
}

/// Answers every request with `reply`, then closes.
async fn fixed_reply(reply: &'static [u8]) -> SocketAddr {
    serve(move |mut stream, _| async move {
        read_head(&mut stream).await;
        let _ = stream.write_all(reply).await;
        let _ = stream.shutdown().await;
    })
    .await
    .0
}

/// Answers whatever first arrives (a TLS ClientHello, which has no HTTP head) with `reply`.
async fn reply_to_first_bytes(reply: &'static [u8]) -> SocketAddr {
    serve(move |mut stream, _| async move {
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream.write_all(reply).await;
        let _ = stream.shutdown().await;
    })
    .await
    .0
}

#[tokio::test]
async fn response_is_classified_with_its_status() {
    let addr = fixed_reply(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
    let exchange = fetch(&format!("http://{addr}/")).await;
    assert_eq!(exchange.outcome, Outcome::Response(204), "{exchange:?}");
    let response = exchange.response.expect("a response is kept");
    assert_eq!(response.status, 204);
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn closed_port_is_refused_at_once() {
    let port = {
        let listener = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let exchange = fetch(&format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(exchange.outcome, Outcome::Refused, "{exchange:?}");
    assert!(exchange.response.is_none());
    assert!(
        exchange.elapsed < Duration::from_millis(500),
        "refusal took {:?}",
        exchange.elapsed
    );
}

#[tokio::test]
async fn silent_peer_is_a_read_timeout() {
    let (addr, _server) = serve(|mut stream, _| async move {
        // Read and discard whatever comes; never answer.
        let mut sink = [0u8; 1024];
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let timeout = Duration::from_millis(500);
    let exchange = get(
        &client(&SourceAddr::Any, CONNECT).await,
        &format!("http://{addr}/"),
        timeout,
    )
    .await;
    assert_eq!(exchange.outcome, Outcome::ReadTimeout, "{exchange:?}");
    assert!(exchange.outcome.is_timeout());
    assert!(exchange.response.is_none());
    assert!(
        exchange.elapsed >= timeout,
        "gave up after {:?}",
        exchange.elapsed
    );
    assert!(
        exchange.elapsed < timeout + Duration::from_millis(500),
        "{:?}",
        exchange.elapsed
    );
}

/// A listener on 127.0.0.1 with backlog 0 that never accepts, its accept queue filled with raw
/// connections, so the kernel drops any further SYN. Returns the listener's address and what
/// must stay alive while it is used.
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
    panic!(
        "64 connections completed and none stalled: the kernel does not drop SYNs to a full accept queue"
    );
}

#[tokio::test]
async fn unanswered_syn_is_a_connect_timeout() {
    let (addr, _listener, _held) = syn_dropping_listener().await;
    let connect_timeout = Duration::from_millis(300);
    let exchange = get(
        &client(&SourceAddr::Any, connect_timeout).await,
        &format!("http://{addr}/"),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(exchange.outcome, Outcome::ConnectTimeout, "{exchange:?}");
    assert!(exchange.outcome.is_timeout());
    assert!(
        exchange.elapsed >= connect_timeout && exchange.elapsed < Duration::from_millis(900),
        "{:?}",
        exchange.elapsed
    );
}

/// The runner's default: the connect timeout equals the total timeout. Checks only rely on
/// `is_timeout()`, which holds whichever timer wins.
#[tokio::test]
async fn unanswered_syn_with_equal_timeouts_is_a_timeout() {
    let (addr, _listener, _held) = syn_dropping_listener().await;
    let timeout = Duration::from_millis(300);
    let exchange = get(
        &client(&SourceAddr::Any, timeout).await,
        &format!("http://{addr}/"),
        timeout,
    )
    .await;
    assert!(exchange.outcome.is_timeout(), "{exchange:?}");
    assert!(exchange.elapsed >= timeout, "{:?}", exchange.elapsed);
}

#[tokio::test]
async fn rst_after_the_request_is_a_reset() {
    let (addr, _server) = serve(|mut stream, _| async move {
        read_head(&mut stream).await;
        let stream = stream.into_std().unwrap();
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    })
    .await;
    let exchange = fetch(&format!("http://{addr}/")).await;
    assert_eq!(exchange.outcome, Outcome::Reset, "{exchange:?}");
    assert!(exchange.elapsed < Duration::from_millis(500));
}

#[tokio::test]
async fn fin_without_an_answer_is_a_reset() {
    let (addr, _server) = serve(|mut stream, _| async move {
        read_head(&mut stream).await;
        let _ = stream.shutdown().await;
        drop(stream);
    })
    .await;
    let exchange = fetch(&format!("http://{addr}/")).await;
    assert_eq!(exchange.outcome, Outcome::Reset, "{exchange:?}");
    assert!(exchange.elapsed < Duration::from_millis(500));
}

#[tokio::test]
async fn plain_http_peer_on_https_is_a_tls_failure() {
    let addr = reply_to_first_bytes(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
    let exchange = fetch(&format!("https://{addr}/")).await;
    assert!(matches!(exchange.outcome, Outcome::Tls(_)), "{exchange:?}");
    assert!(exchange.elapsed < Duration::from_millis(500));
}

#[tokio::test]
async fn garbage_peer_on_https_is_a_tls_failure() {
    let addr = reply_to_first_bytes(&[0x17, 0x42, 0x99, 0x00, 0x01, 0xff, 0xfe, 0x00, 0x10]).await;
    let exchange = fetch(&format!("https://{addr}/")).await;
    assert!(matches!(exchange.outcome, Outcome::Tls(_)), "{exchange:?}");
    assert!(exchange.elapsed < Duration::from_millis(500));
}

/// Where the TLS failure sits in reqwest's error chain: a `rustls::Error` inside an
/// `std::io::Error`, reachable through `io::Error::get_ref` but not through `source()` (which an
/// `io::Error` forwards to the wrapped error's own source); `classify` must look inside.
#[tokio::test]
async fn tls_failure_is_a_rustls_error_inside_an_io_error() {
    let addr = reply_to_first_bytes(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
    let client = client(&SourceAddr::Any, CONNECT).await;
    let request = client.get(format!("https://{addr}/")).build().unwrap();
    let error = client.execute(request).await.unwrap_err();
    // reqwest → hyper-util (Connect) → io::Error (Other) → io::Error (InvalidData) → rustls.
    let mut rustls_error = None;
    let mut nested_io = 0;
    let mut cause = std::error::Error::source(&error);
    while let Some(current) = cause {
        let mut inner: &(dyn std::error::Error + 'static) = current;
        while let Some(io) = inner.downcast_ref::<std::io::Error>() {
            nested_io += 1;
            match io.get_ref() {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            rustls_error = Some(tls.clone());
        }
        cause = current.source();
    }
    assert!(
        matches!(rustls_error, Some(rustls::Error::InvalidMessage(_))),
        "{rustls_error:?} in {error:?}"
    );
    assert!(nested_io >= 1, "{error:?}");
    assert!(matches!(classify(&error), Outcome::Tls(_)), "{error:?}");
}

#[tokio::test]
async fn requests_leave_from_the_bound_source() {
    let peers = Arc::new(Mutex::new(Vec::<IpAddr>::new()));
    let seen = peers.clone();
    let (addr, _server) = serve(move |mut stream, peer| {
        seen.lock().unwrap().push(peer.ip());
        async move {
            read_head(&mut stream).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    })
    .await;
    let url = format!("http://{addr}/");
    let pool = ClientPool::new();
    for source in [LOOPBACK_2, LOCALHOST] {
        let client = pool
            .client(&SourceAddr::Bind(source), CONNECT)
            .await
            .unwrap()
            .pooled()
            .clone();
        let exchange = get(&client, &url, TOTAL).await;
        assert_eq!(exchange.outcome, Outcome::Response(204), "{exchange:?}");
    }
    assert_eq!(*peers.lock().unwrap(), vec![LOOPBACK_2, LOCALHOST]);
}

/// Echoes every value of [`PEER_HEADER`] the provider received, comma-separated.
struct EchoPeer;

impl wiremock::Respond for EchoPeer {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let values: Vec<&str> = request
            .headers
            .get_all(PEER_HEADER)
            .iter()
            .map(|v| v.to_str().unwrap_or("<non-ascii>"))
            .collect();
        wiremock::ResponseTemplate::new(200).set_body_string(values.join(","))
    }
}

#[tokio::test]
async fn mock_front_applies_its_source_policy() {
    let backend = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(EchoPeer)
        .mount(&backend)
        .await;
    let policy: PolicyFn = Arc::new(|ip| match ip {
        LOCALHOST => SourcePolicy::Allow,
        LOOPBACK_2 => SourcePolicy::Drop,
        LOOPBACK_3 => SourcePolicy::Reset,
        _ => SourcePolicy::Reset,
    });
    let front = front::start(*backend.address(), policy).await.unwrap();
    let url = format!("{}/anything", front.url());
    let pool = ClientPool::new();

    // Allowed, with spoofed copies of the peer header: the provider sees only the real peer.
    let allowed = pool
        .client(&SourceAddr::Bind(LOCALHOST), CONNECT)
        .await
        .unwrap()
        .pooled()
        .clone();
    let request = allowed
        .get(&url)
        .header(PEER_HEADER, "10.9.9.9")
        .header(PEER_HEADER, "127.0.0.2")
        .build()
        .unwrap();
    let exchange = send(&allowed, request, TOTAL).await;
    assert_eq!(exchange.outcome, Outcome::Response(200), "{exchange:?}");
    assert_eq!(exchange.response.unwrap().text(), "127.0.0.1");

    // Dropped: connected by the kernel, never answered.
    let dropped = pool
        .client(&SourceAddr::Bind(LOOPBACK_2), CONNECT)
        .await
        .unwrap()
        .pooled()
        .clone();
    let timeout = Duration::from_millis(500);
    let exchange = get(&dropped, &url, timeout).await;
    assert_eq!(exchange.outcome, Outcome::ReadTimeout, "{exchange:?}");
    assert!(exchange.elapsed >= timeout, "{:?}", exchange.elapsed);

    // Reset: closed with an RST.
    let reset = pool
        .client(&SourceAddr::Bind(LOOPBACK_3), CONNECT)
        .await
        .unwrap()
        .pooled()
        .clone();
    let exchange = get(&reset, &url, TOTAL).await;
    assert_eq!(exchange.outcome, Outcome::Reset, "{exchange:?}");
    assert!(exchange.elapsed < Duration::from_millis(500));
}

/// Reads one request head byte by byte (so nothing of a following request is consumed); false
/// on EOF or error first.
async fn read_one_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// Counts connections, answers the first `answered` requests of each with keep-alive 200s, then
/// closes the connection on reading the next one without answering.
async fn answers_then_hangs_up(answered: usize) -> (SocketAddr, Arc<Mutex<usize>>, JoinHandle<()>) {
    let connections = Arc::new(Mutex::new(0usize));
    let counted = connections.clone();
    let (addr, task) = serve(move |mut stream, _| {
        *counted.lock().unwrap() += 1;
        async move {
            for _ in 0..answered {
                if !read_one_head(&mut stream).await {
                    return;
                }
                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if stream.write_all(reply).await.is_err() {
                    return;
                }
            }
            let _ = read_one_head(&mut stream).await;
            let _ = stream.shutdown().await;
        }
    })
    .await;
    (addr, connections, task)
}

async fn clients(connect_timeout: Duration) -> Clients {
    ClientPool::new()
        .client(&SourceAddr::Any, connect_timeout)
        .await
        .expect("the clients build")
}

fn request(clients: &Clients, url: &str) -> reqwest::Request {
    clients.pooled().get(url).build().unwrap()
}

/// A reused keep-alive connection the server closes on the next request (before any response
/// byte) is not the server's answer: the request goes once more on a fresh connection, and the
/// exchange says why. Sent once on the pooled client, the same request reads as a reset.
#[tokio::test]
async fn reused_connection_closed_before_the_response_is_resent() {
    let (addr, connections, _server) = answers_then_hangs_up(1).await;
    let url = format!("http://{addr}/");
    let clients = clients(CONNECT).await;

    let first = send_on(
        &clients,
        request(&clients, &url),
        TOTAL,
        ConnectionUse::Reuse,
    )
    .await;
    assert_eq!(first.outcome, Outcome::Response(200), "{first:?}");
    assert_eq!(first.resent, None);
    assert_eq!(*connections.lock().unwrap(), 1);

    let second = send_on(
        &clients,
        request(&clients, &url),
        TOTAL,
        ConnectionUse::Reuse,
    )
    .await;
    assert_eq!(second.outcome, Outcome::Response(200), "{second:?}");
    let why = second.resent.as_deref().expect("the request was resent");
    assert!(
        why.starts_with("the reused connection closed before the response arrived (")
            && why.ends_with("); sent again on a fresh connection"),
        "{why}"
    );
    assert_eq!(*connections.lock().unwrap(), 2, "one fresh connection");
    assert!(second.elapsed < TOTAL, "{:?}", second.elapsed);

    // Without the resend: a third request opens a connection on the pooled client, a fourth
    // reuses it and sees the hang-up as a reset.
    let third = send(clients.pooled(), request(&clients, &url), TOTAL).await;
    assert_eq!(third.outcome, Outcome::Response(200), "{third:?}");
    let fourth = send(clients.pooled(), request(&clients, &url), TOTAL).await;
    assert_eq!(fourth.outcome, Outcome::Reset, "{fourth:?}");
}

/// A connection opened for the request and closed before the response is the server's doing:
/// it is reported as a reset, never resent.
#[tokio::test]
async fn fresh_connection_closed_before_the_response_is_not_resent() {
    let (addr, connections, _server) = answers_then_hangs_up(0).await;
    let clients = clients(CONNECT).await;
    let url = format!("http://{addr}/");
    let exchange = send_on(
        &clients,
        request(&clients, &url),
        TOTAL,
        ConnectionUse::Reuse,
    )
    .await;
    assert_eq!(exchange.outcome, Outcome::Reset, "{exchange:?}");
    assert_eq!(exchange.resent, None);
    assert_eq!(*connections.lock().unwrap(), 1);
}

/// Transport-outcome expectations take no pooled connection: each request connects anew, even
/// to a server that would keep connections alive.
#[tokio::test]
async fn fresh_connection_use_never_reuses_a_connection() {
    let (addr, connections, _server) = answers_then_hangs_up(100).await;
    let clients = clients(CONNECT).await;
    let url = format!("http://{addr}/");
    for _ in 0..3 {
        let exchange = send_on(
            &clients,
            request(&clients, &url),
            TOTAL,
            ConnectionUse::Fresh,
        )
        .await;
        assert_eq!(exchange.outcome, Outcome::Response(200), "{exchange:?}");
    }
    assert_eq!(*connections.lock().unwrap(), 3);
    for _ in 0..3 {
        let exchange = send_on(
            &clients,
            request(&clients, &url),
            TOTAL,
            ConnectionUse::Reuse,
        )
        .await;
        assert_eq!(exchange.outcome, Outcome::Response(200), "{exchange:?}");
    }
    assert_eq!(
        *connections.lock().unwrap(),
        4,
        "the pooled client reuses one"
    );
}

/// With the connect timeout equal to the total (as the runner builds clients), an unanswered SYN
/// is still a connect timeout whichever timer fires, and never recorded below the timeout.
#[tokio::test]
async fn connect_timeout_equal_to_the_total_is_never_recorded_early() {
    let (addr, _listener, _held) = syn_dropping_listener().await;
    let timeout = Duration::from_millis(400);
    let clients = clients(timeout).await;
    let url = format!("http://{addr}/");
    for connection in [ConnectionUse::Fresh, ConnectionUse::Reuse] {
        let exchange = send_on(&clients, request(&clients, &url), timeout, connection).await;
        assert_eq!(exchange.outcome, Outcome::ConnectTimeout, "{exchange:?}");
        assert!(exchange.elapsed >= timeout, "{:?}", exchange.elapsed);
        assert!(exchange.elapsed < timeout * 2, "{:?}", exchange.elapsed);
    }
}

/// Answers that are not HTTP/1.1 are `malformed`, with the parser's reason.
#[tokio::test]
async fn invalid_responses_are_malformed_with_the_reason() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"HTTP/1.1 99999 OK\r\n\r\n",
            "invalid HTTP status-code parsed",
        ),
        (b"hello from HTTP/0.9\n", "invalid HTTP version parsed"),
        (
            b"HTTP/1.1 200 OK\r\nx: \x00\r\n\r\n",
            "invalid HTTP header parsed",
        ),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nG\r\n",
            "Invalid chunk size line",
        ),
    ];
    for (reply, reason) in cases {
        let addr = fixed_reply(reply).await;
        let exchange = fetch(&format!("http://{addr}/")).await;
        match &exchange.outcome {
            Outcome::Malformed(detail) => assert!(detail.contains(reason), "{detail}"),
            other => panic!("{reply:?}: expected malformed ({reason}), got {other:?}"),
        }
        assert_eq!(exchange.outcome.class(), "malformed");
        assert_eq!(
            exchange.outcome.detail().map(|d| d.contains(reason)),
            Some(true)
        );
        assert!(exchange.response.is_none());
    }
}
