//! Proves the OAuth2 client on the wire, against token and authorization endpoints built on
//! wiremock (scenarios in `tests/fixtures/oauth2/demo/`):
//!
//! 1. **Token requests** (`request.token`): for every grant (password, client_credentials,
//!    refresh_token, authorization_code) and client authentication (`client_secret_basic`,
//!    `client_secret_post`, `none`), the exact request the endpoint received: `POST`,
//!    `Content-Type: application/x-www-form-urlencoded`, `Accept: application/json`, the form body
//!    as ordered pairs (`grant_type` first, every expected field and no other), and the
//!    `Authorization` header: exactly `Basic base64(urlencode(id) ":" urlencode(secret))`
//!    (RFC 6749 §2.3.1) for basic, absent otherwise. The secret never travels twice: not in the
//!    body with basic, not in a header with post.
//! 2. **`auth: { oauth2 }`**: a token is obtained once and reused within a scenario and across
//!    scenarios of a run; `fresh: true` obtains one per step; near expiry (virtual clock) it is
//!    renewed with the refresh_token grant; a refused token request fails (not errors) the step,
//!    naming the provider's error.
//! 3. **Headless authorization code + PKCE** against a small authorization server that checks
//!    single use, `redirect_uri` and BASE64URL(SHA256(verifier)) = challenge: the happy flow
//!    passes; a wrong verifier gets `invalid_grant` (and a scenario expecting otherwise fails); a
//!    forged `state`, a redirect elsewhere and a reused code are caught.
//! 4. **No secret leaks**: after every run, no client secret, password, token, code or verifier
//!    (in any encoding, nor the Basic pair) appears in the step summary, the verdict or any
//!    transcript.
//!

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use authconform::exec::MockOptions;
use authconform::{Plan, Runner, ScenarioResult, Target, Verdict, load_plan};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "my client";
const CLIENT_SECRET: &str = "s3cr:t&=";
const USERNAME: &str = "alice";
const PASSWORD: &str = "p:ss£w0rd";
/// A refresh token the server knows before the run (the target's `refresh_token` secret).
const SEEDED_REFRESH: &str = "rt-seeded-4f9a1c7e";
/// A code the server issued before the run for [`SEEDED_VERIFIER`] (the target's `auth_code`).
const SEEDED_CODE: &str = "ac-seeded-b71d03e5";
const SEEDED_VERIFIER: &str = "seeded-verifier-0123456789abcdefghijklmnopqrstuv";
/// The literal verifier of `wrong-verifier-*` (valid syntax, wrong value).
const WRONG_VERIFIER: &str = "wrong-verifier-ZYXWVUTSRQPONMLKJIHGFEDCBA-9876543210";
const REDIRECT_URI: &str = "https://client.example/cb";
const FORGED_STATE: &str = "forged-state-0000";
const OTHER_REDIRECT: &str = "https://attacker.example/cb";
/// The id and secret form-urlencoded, then joined (RFC 6749 §2.3.1).
const BASIC_PAIR: &str = "my+client:s3cr%3At%26%3D";
/// `Basic base64(BASIC_PAIR)`, written out so the test does not share the code under test.
const EXPECTED_BASIC: &str = "Basic bXkrY2xpZW50OnMzY3IlM0F0JTI2JTNE";
const FORM: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// A small provider on wiremock: token endpoint, authorization endpoint, orders API.
// ---------------------------------------------------------------------------------------------

/// How the provider behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As RFC 6749 and RFC 7636 say.
    Conforming,
    /// The token endpoint refuses the client: 401 `invalid_client`.
    RefuseClient,
    /// The authorization endpoint redirects with another `state` than the one sent.
    OtherState,
    /// The authorization endpoint redirects to another URI than `redirect_uri`.
    OtherRedirect,
    /// The token endpoint does not rotate refresh tokens: a refresh answers without one.
    NoRotation,
}

/// What the authorization endpoint remembers about a code.
struct CodeGrant {
    challenge: Option<String>,
    method: Option<String>,
    redirect_uri: String,
    used: bool,
}

/// Everything the provider issued.
#[derive(Default)]
struct Issued {
    access: Vec<String>,
    refresh: Vec<String>,
    codes: HashMap<String, CodeGrant>,
}

type Shared = Arc<Mutex<Issued>>;

fn random_hex() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn oauth_error(status: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("cache-control", "no-store")
        .set_body_json(serde_json::json!({ "error": error }))
}

/// Parses a form body into ordered pairs.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// `POST /token`: every grant; `authorization_code` checks the code is known and unused, the
/// `redirect_uri` and the PKCE verifier.
struct TokenEndpoint {
    issued: Shared,
    mode: Mode,
}

impl Respond for TokenEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if self.mode == Mode::RefuseClient {
            return oauth_error(401, "invalid_client")
                .insert_header("www-authenticate", "Basic realm=\"token\"");
        }
        let form: HashMap<String, String> = form_pairs(&request.body).into_iter().collect();
        let mut issued = self.issued.lock().unwrap();
        let granted = match form.get("grant_type").map(String::as_str) {
            Some("password" | "client_credentials") => true,
            Some("refresh_token") => form
                .get("refresh_token")
                .is_some_and(|r| issued.refresh.contains(r)),
            Some("authorization_code") => redeem(&mut issued, &form),
            _ => return oauth_error(400, "unsupported_grant_type"),
        };
        if !granted {
            return oauth_error(400, "invalid_grant");
        }
        let n = issued.access.len() + 1;
        let access = format!("at-{n}-{}", random_hex());
        issued.access.push(access.clone());
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": 1800,
        });
        let refreshing = form.get("grant_type").map(String::as_str) == Some("refresh_token");
        if !(refreshing && self.mode == Mode::NoRotation) {
            let refresh = format!("rt-{n}-{}", random_hex());
            issued.refresh.push(refresh.clone());
            body["refresh_token"] = refresh.into();
        }
        ResponseTemplate::new(200)
            .insert_header("cache-control", "no-store")
            .set_body_json(body)
    }
}

/// Redeems an authorization code once (RFC 6749 §4.1.3, RFC 7636 §4.6).
fn redeem(issued: &mut Issued, form: &HashMap<String, String>) -> bool {
    let Some(grant) = form.get("code").and_then(|c| issued.codes.get_mut(c)) else {
        return false;
    };
    if grant.used || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return false;
    }
    let verifier = form.get("code_verifier");
    let verified = match (grant.method.as_deref(), &grant.challenge, verifier) {
        (_, None, None) => true,
        (Some("S256"), Some(challenge), Some(v)) => s256(v) == *challenge,
        (Some("plain") | None, Some(challenge), Some(v)) => v == challenge,
        _ => false,
    };
    if verified {
        grant.used = true;
    }
    verified
}

/// `GET /authorize`: answers 302 to the redirect URI with a fresh code and the state.
struct AuthorizeEndpoint {
    issued: Shared,
    mode: Mode,
}

impl Respond for AuthorizeEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let (Some("code"), Some(_), Some(redirect_uri)) = (
            query.get("response_type").map(String::as_str),
            query.get("client_id"),
            query.get("redirect_uri"),
        ) else {
            return oauth_error(400, "invalid_request");
        };
        let code = format!("ac-{}", random_hex());
        self.issued.lock().unwrap().codes.insert(
            code.clone(),
            CodeGrant {
                challenge: query.get("code_challenge").cloned(),
                method: query.get("code_challenge_method").cloned(),
                redirect_uri: redirect_uri.clone(),
                used: false,
            },
        );
        let to = match self.mode {
            Mode::OtherRedirect => OTHER_REDIRECT,
            _ => redirect_uri,
        };
        let state = match self.mode {
            Mode::OtherState => FORGED_STATE,
            _ => query.get("state").map_or("", String::as_str),
        };
        let mut location = url::Url::parse(to).expect("an absolute redirect URI");
        location
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", state);
        ResponseTemplate::new(302).insert_header("location", location.as_str())
    }
}

/// `GET /v1/orders`: 200 with a token the provider issued, 401 otherwise.
struct OrdersApi {
    issued: Shared,
}

impl Respond for OrdersApi {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let token = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let issued = self.issued.lock().unwrap();
        match token {
            Some(t) if issued.access.iter().any(|a| a == t) => {
                ResponseTemplate::new(200).set_body_json(serde_json::json!({ "orders": [] }))
            }
            _ => ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        }
    }
}

/// The provider, a plan of the fixtures pointing at it, and one runner (one token cache).
struct Harness {
    server: MockServer,
    issued: Shared,
    plan: Plan,
    runner: Runner,
}

impl Harness {
    async fn start(mode: Mode) -> Self {
        let server = MockServer::start().await;
        let mut issued = Issued::default();
        issued.refresh.push(SEEDED_REFRESH.into());
        issued.codes.insert(
            SEEDED_CODE.into(),
            CodeGrant {
                challenge: Some(s256(SEEDED_VERIFIER)),
                method: Some("S256".into()),
                redirect_uri: REDIRECT_URI.into(),
                used: false,
            },
        );
        let issued = Arc::new(Mutex::new(issued));
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(TokenEndpoint {
                issued: issued.clone(),
                mode,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/authorize"))
            .respond_with(AuthorizeEndpoint {
                issued: issued.clone(),
                mode,
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/orders"))
            .respond_with(OrdersApi {
                issued: issued.clone(),
            })
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/echo"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let plan = plan(&server.uri());
        let runner = Runner::new(
            plan.target.clone(),
            authconform::mock::builtin(),
            MockOptions::default(),
        );
        Self {
            server,
            issued,
            plan,
            runner,
        }
    }

    /// Runs one scenario, then checks that no secret known so far leaked into its result.
    async fn run(&self, trial: &str) -> ScenarioResult {
        self.run_checked(trial).await
    }

    /// Runs `trial` and fails on any leak.
    async fn run_checked(&self, trial: &str) -> ScenarioResult {
        let planned = self
            .plan
            .scenarios
            .iter()
            .find(|s| s.trial_name() == trial)
            .unwrap_or_else(|| panic!("no scenario {trial}"));
        assert!(planned.skip.is_none(), "{trial} is skipped: {planned:?}");
        let result = self.runner.run(planned).await;
        self.assert_no_leaks(&result).await;
        result
    }

    async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.expect("recording")
    }

    async fn token_requests(&self) -> Vec<Request> {
        let all = self.requests().await;
        all.into_iter()
            .filter(|r| r.url.path() == "/token")
            .collect()
    }

    fn access_tokens(&self) -> Vec<String> {
        self.issued.lock().unwrap().access.clone()
    }

    fn refresh_tokens(&self) -> Vec<String> {
        self.issued.lock().unwrap().refresh.clone()
    }

    /// The codes the authorization endpoint issued during the run (not the seeded one).
    fn issued_codes(&self) -> Vec<String> {
        let issued = self.issued.lock().unwrap();
        issued
            .codes
            .keys()
            .filter(|c| *c != SEEDED_CODE)
            .cloned()
            .collect()
    }

    /// Every credential of the run: the target's secrets, what the provider issued, and every
    /// verifier, code and challenge-that-is-a-verifier that went over the wire.
    async fn needles(&self) -> Vec<String> {
        let mut needles: Vec<String> = [
            CLIENT_SECRET,
            PASSWORD,
            SEEDED_REFRESH,
            SEEDED_CODE,
            SEEDED_VERIFIER,
            WRONG_VERIFIER,
            BASIC_PAIR,
        ]
        .map(str::to_owned)
        .into();
        {
            let issued = self.issued.lock().unwrap();
            needles.extend(issued.access.iter().cloned());
            needles.extend(issued.refresh.iter().cloned());
            needles.extend(issued.codes.keys().cloned());
        }
        for request in self.requests().await {
            let pairs = form_pairs(&request.body)
                .into_iter()
                .chain(request.url.query_pairs().into_owned());
            for (name, value) in pairs {
                if matches!(name.as_str(), "code" | "code_verifier" | "refresh_token") {
                    needles.push(value);
                }
            }
            let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
            if query.get("code_challenge_method").map(String::as_str) == Some("plain") {
                needles.extend(query.get("code_challenge").cloned());
            }
        }
        needles.sort();
        needles.dedup();
        needles
    }

    /// Asserts no credential, in any of the encodings that could carry it, appears anywhere in
    /// what a run reports: the step summary, the verdict, and every transcript field.
    async fn assert_no_leaks(&self, result: &ScenarioResult) {
        let leaks = self.leaks(result).await;
        assert!(
            leaks.is_empty(),
            "{}: credentials shown:\n{}",
            result.trial_name,
            leaks.join("\n")
        );
    }

    /// Every place of `result` that shows a credential, and which.
    async fn leaks(&self, result: &ScenarioResult) -> Vec<String> {
        let mut texts: Vec<(String, String)> = vec![("step_summary".into(), result.step_summary())];
        match &result.verdict {
            Verdict::Fail { message, .. }
            | Verdict::Error { message, .. }
            | Verdict::DiffersFromAssumption { message } => {
                texts.push(("verdict".into(), message.clone()))
            }
            Verdict::Skipped { reason } => texts.push(("verdict".into(), reason.clone())),
            Verdict::Waived { .. } => texts.extend(
                result
                    .verdict
                    .message()
                    .map(|m| ("verdict".to_owned(), m.to_owned())),
            ),
            Verdict::Pass => {}
        }
        for step in &result.steps {
            let at = format!("step {}", step.index + 1);
            texts.push((format!("{at} name"), step.name.clone()));
            for text in step.passed.iter().chain(&step.failed).chain(&step.error) {
                texts.push((format!("{at} checks"), text.clone()));
            }
            for note in &step.assumed {
                texts.push((format!("{at} assumed"), note.check.clone()));
            }
            let transcripts = step
                .transcript
                .iter()
                .map(|t| ("transcript", t))
                .chain(step.auxiliary.iter().map(|t| ("auxiliary", t)));
            for (kind, t) in transcripts {
                let at = format!("{at} {kind}");
                texts.push((format!("{at} url"), t.url.clone()));
                for (n, v) in &t.request_headers {
                    texts.push((format!("{at} request header {n}"), v.clone()));
                }
                texts.extend(
                    t.request_body
                        .clone()
                        .map(|b| (format!("{at} request body"), b)),
                );
                for (n, v) in &t.response_headers {
                    texts.push((format!("{at} response header {n}"), v.clone()));
                }
                texts.extend(
                    t.response_body
                        .clone()
                        .map(|b| (format!("{at} response body"), b)),
                );
            }
        }
        let mut leaks = Vec::new();
        for needle in self.needles().await {
            for form in encodings(&needle) {
                for (place, text) in &texts {
                    if text.contains(&form) {
                        leaks.push(format!("{place} shows {needle:?} (as {form:?}) in: {text}"));
                    }
                }
            }
        }
        leaks
    }
}

/// The forms a credential can take on its way out: as is, form- and percent-encoded, base64.
fn encodings(value: &str) -> Vec<String> {
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    let percent: String = value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let mut forms = vec![
        value.to_owned(),
        form,
        percent,
        STANDARD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
    ];
    forms.sort();
    forms.dedup();
    forms
}

fn plan(base: &str) -> Plan {
    let yaml = r#"
name: oauth2-test
clock: virtual
limits: { request_timeout: 5s }
sources:
  default: { bind: 127.0.0.1 }
providers:
  demo:
    hosts:
      auth_base: { url: "BASE" }
      api_base: { url: "BASE" }
      as_base: { url: "BASE" }
    variables:
      redirect_uri: "https://client.example/cb"
    secrets:
      client_id: { value: "my client" }
      client_secret: { value: "s3cr:t&=" }
      username: { value: "alice" }
      password: { value: "p:ss£w0rd" }
      refresh_token: { value: "rt-seeded-4f9a1c7e" }
      auth_code: { value: "ac-seeded-b71d03e5" }
      pkce_verifier: { value: "seeded-verifier-0123456789abcdefghijklmnopqrstuv" }
"#
    .replace("BASE", base);
    let target = Target::parse(Path::new("oauth2-test.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    load_plan(
        common::runner_specs().path(),
        &root.join("tests/fixtures/oauth2"),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()))
}

// ---------------------------------------------------------------------------------------------
// Assertions on the outgoing requests.
// ---------------------------------------------------------------------------------------------

/// How the client must have authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    Basic,
    Post,
    None,
}

fn header(request: &Request, name: &str) -> Option<String> {
    let values: Vec<String> = request
        .headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    assert!(values.len() <= 1, "`{name}` sent {} times", values.len());
    values.into_iter().next()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Asserts `request` is a token request with exactly this form and client authentication.
fn assert_token_request(request: &Request, form: &[(&str, &str)], auth: ClientAuth) {
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/token");
    assert_eq!(request.url.query(), None, "nothing travels in the query");
    assert_eq!(header(request, "content-type").as_deref(), Some(FORM));
    assert_eq!(
        header(request, "accept").as_deref(),
        Some("application/json")
    );
    assert_eq!(form_pairs(&request.body), pairs(form), "the form body");
    assert_eq!(form[0].0, "grant_type", "grant_type comes first");
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let authorization = header(request, "authorization");
    match auth {
        ClientAuth::Basic => {
            assert_eq!(authorization.as_deref(), Some(EXPECTED_BASIC));
            assert_eq!(
                EXPECTED_BASIC,
                format!("Basic {}", STANDARD.encode(BASIC_PAIR))
            );
            for form in encodings(CLIENT_SECRET) {
                assert!(!body.contains(&form), "the secret is in the body: {body}");
            }
        }
        ClientAuth::Post | ClientAuth::None => {
            assert_eq!(authorization, None, "no Authorization header");
            for (name, value) in &request.headers {
                let value = String::from_utf8_lossy(value.as_bytes());
                for form in encodings(CLIENT_SECRET)
                    .into_iter()
                    .chain([BASIC_PAIR.to_owned(), STANDARD.encode(BASIC_PAIR)])
                {
                    assert!(!value.contains(&form), "the secret is in `{name}: {value}`");
                }
            }
        }
    }
    if auth == ClientAuth::None {
        assert!(!body.contains("client_secret"), "{body}");
    }
}

fn assert_pass(result: &ScenarioResult) {
    assert_eq!(
        result.verdict,
        Verdict::Pass,
        "{}:\n{}",
        result.trial_name,
        result.step_summary()
    );
}

/// Asserts the scenario failed (not errored) at `step` (0-based), with these fragments.
fn assert_fail(result: &ScenarioResult, step: usize, fragments: &[&str]) -> String {
    match &result.verdict {
        Verdict::Fail { step: at, message } => {
            assert_eq!(*at, step, "{message}");
            for fragment in fragments {
                assert!(message.contains(fragment), "{fragment:?} not in {message}");
            }
            message.clone()
        }
        other => panic!(
            "{}: expected a failure, got {other:?}\n{}",
            result.trial_name,
            result.step_summary()
        ),
    }
}

/// Runs one `grants` scenario and asserts the single request it sent.
async fn token_case(id: &str, form: &[(&str, &str)], auth: ClientAuth) -> Request {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run(&format!("demo::grants::{id}")).await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 1, "one token request");
    assert_token_request(&requests[0], form, auth);
    // The transcript shows the client authentication without the credentials.
    let transcript = result.steps[0].transcript.as_ref().expect("a transcript");
    let shown = transcript
        .request_headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.as_str());
    let expected = (auth == ClientAuth::Basic).then_some("Basic [redacted]");
    assert_eq!(shown, expected, "{transcript:?}");
    requests.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Token requests.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn password_grant_with_client_secret_basic() {
    token_case(
        "password-basic",
        &[
            ("grant_type", "password"),
            ("username", USERNAME),
            ("password", PASSWORD),
        ],
        ClientAuth::Basic,
    )
    .await;
}

#[tokio::test]
async fn password_grant_with_client_secret_post() {
    let request = token_case(
        "password-post",
        &[
            ("grant_type", "password"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("username", USERNAME),
            ("password", PASSWORD),
        ],
        ClientAuth::Post,
    )
    .await;
    // The wire encoding itself: spaces as `+`, reserved bytes and UTF-8 percent-encoded.
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        "grant_type=password&client_id=my+client&client_secret=s3cr%3At%26%3D\
         &username=alice&password=p%3Ass%C2%A3w0rd"
    );
}

#[tokio::test]
async fn client_credentials_grant_with_client_secret_basic_and_scope() {
    let request = token_case(
        "client-credentials-basic",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read orders:write"),
        ],
        ClientAuth::Basic,
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        "grant_type=client_credentials&scope=orders%3Aread+orders%3Awrite"
    );
}

#[tokio::test]
async fn client_credentials_grant_with_client_secret_post_scope_and_resource() {
    token_case(
        "client-credentials-post",
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", "orders"),
            ("resource", "https://api.example/orders"),
        ],
        ClientAuth::Post,
    )
    .await;
}

#[tokio::test]
async fn refresh_token_grant() {
    token_case(
        "refresh-token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", SEEDED_REFRESH),
        ],
        ClientAuth::Basic,
    )
    .await;
}

#[tokio::test]
async fn authorization_code_grant_with_redirect_uri_and_verifier() {
    token_case(
        "authorization-code",
        &[
            ("grant_type", "authorization_code"),
            ("code", SEEDED_CODE),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", SEEDED_VERIFIER),
        ],
        ClientAuth::Basic,
    )
    .await;
}

#[tokio::test]
async fn public_client_sends_only_its_client_id() {
    token_case(
        "public-client",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", SEEDED_REFRESH),
        ],
        ClientAuth::None,
    )
    .await;
}

#[tokio::test]
async fn extra_fields_follow_the_grant_fields_as_they_are() {
    let request = token_case(
        "extra-fields",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders"),
            ("audience", "https://api.example"),
            ("custom field", "a&b=c d"),
        ],
        ClientAuth::Basic,
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        "grant_type=client_credentials&scope=orders&audience=https%3A%2F%2Fapi.example\
         &custom+field=a%26b%3Dc+d"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. `auth: { oauth2 }` and the token cache.
// ---------------------------------------------------------------------------------------------

const CACHED_GRANT: &[(&str, &str)] = &[
    ("grant_type", "password"),
    ("username", USERNAME),
    ("password", PASSWORD),
    ("scope", "orders"),
];

fn assert_api_request(request: &Request, token: &str) {
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/v1/orders");
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {token}"))
    );
}

#[tokio::test]
async fn a_token_is_obtained_once_and_reused() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::cache::reuse").await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 3, "one token request, two API requests");
    assert_token_request(&requests[0], CACHED_GRANT, ClientAuth::Basic);
    let token = &h.access_tokens()[0];
    assert_api_request(&requests[1], token);
    assert_api_request(&requests[2], token);
    // The token fetch is reported with the step that needed it, and only there.
    assert_eq!(result.steps[0].auxiliary.len(), 1);
    assert_eq!(result.steps[0].auxiliary[0].status, Some(200));
    assert!(result.steps[1].auxiliary.is_empty());

    // The cache is the run's: another scenario of the same run reuses the token too.
    let again = h.run("demo::cache::reuse").await;
    assert_pass(&again);
    let requests = h.requests().await;
    assert_eq!(h.token_requests().await.len(), 1, "still one token request");
    assert_eq!(requests.len(), 5);
    assert_api_request(&requests[3], token);
    assert_api_request(&requests[4], token);
}

#[tokio::test]
async fn fresh_obtains_a_token_for_every_step() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::cache::fresh").await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 4, "token, API, token, API");
    let tokens = h.access_tokens();
    assert_eq!(tokens.len(), 2);
    assert_token_request(&requests[0], CACHED_GRANT, ClientAuth::Basic);
    assert_api_request(&requests[1], &tokens[0]);
    assert_token_request(&requests[2], CACHED_GRANT, ClientAuth::Basic);
    assert_api_request(&requests[3], &tokens[1]);
    assert_eq!(result.steps[1].auxiliary.len(), 1);
}

#[tokio::test]
async fn a_token_near_expiry_is_refreshed_with_its_refresh_token() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::cache::refresh-near-expiry").await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 4, "token, API, refresh, API");
    let (access, refresh) = (h.access_tokens(), h.refresh_tokens());
    // refresh[0] is the seeded one; refresh[1] came with the first access token.
    assert_token_request(&requests[0], CACHED_GRANT, ClientAuth::Basic);
    assert_api_request(&requests[1], &access[0]);
    assert_token_request(
        &requests[2],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh[1]),
        ],
        ClientAuth::Basic,
    );
    assert_api_request(&requests[3], &access[1]);
    assert_eq!(
        result.steps[2].auxiliary.len(),
        1,
        "the refresh is reported"
    );
}

#[tokio::test]
async fn a_refused_token_request_fails_the_step() {
    let h = Harness::start(Mode::RefuseClient).await;
    let result = h.run("demo::cache::refused-client").await;
    assert_fail(
        &result,
        0,
        &[
            "step 1 (call the API)",
            "obtaining the token",
            "HTTP 401",
            "invalid_client",
        ],
    );
    let requests = h.requests().await;
    assert_eq!(requests.len(), 1, "the API is never called without a token");
    assert_token_request(
        &requests[0],
        &[("grant_type", "client_credentials")],
        ClientAuth::Basic,
    );
    assert_eq!(result.steps[0].auxiliary.len(), 1);
    assert_eq!(result.steps[0].auxiliary[0].status, Some(401));
}

// ---------------------------------------------------------------------------------------------
// 3. The headless authorization code flow with PKCE.
// ---------------------------------------------------------------------------------------------

fn query(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    let found: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(found.len(), 1, "`{name}` once in {pairs:?}");
    found[0]
}

fn assert_authorize_request(request: &Request) -> Vec<(String, String)> {
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/authorize");
    assert!(request.body.is_empty());
    assert_eq!(header(request, "authorization"), None);
    query(request)
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_s256() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::authcode::pkce-s256").await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 3, "authorize, token, echo");

    let authorize = assert_authorize_request(&requests[0]);
    let names: Vec<&str> = authorize.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method"
        ]
    );
    assert_eq!(value(&authorize, "response_type"), "code");
    assert_eq!(value(&authorize, "client_id"), CLIENT_ID);
    assert_eq!(value(&authorize, "redirect_uri"), REDIRECT_URI);
    assert_eq!(value(&authorize, "scope"), "openid orders");
    assert_eq!(value(&authorize, "code_challenge_method"), "S256");
    let state = value(&authorize, "state");
    assert!(state.len() >= 16, "a random state: {state:?}");
    let challenge = value(&authorize, "code_challenge");
    assert_eq!(challenge.len(), 43, "{challenge:?}");

    let codes = h.issued_codes();
    assert_eq!(codes.len(), 1);
    let token_form = form_pairs(&requests[1].body);
    let verifier = value(&token_form, "code_verifier");
    assert!(
        (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
        "an RFC 7636 §4.1 verifier: {verifier:?}"
    );
    assert_eq!(
        s256(verifier),
        challenge,
        "challenge = BASE64URL(SHA256(verifier))"
    );
    assert_token_request(
        &requests[1],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &codes[0]),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
        ClientAuth::None,
    );
    assert_eq!(
        result.steps[1].transcript.as_ref().unwrap().status,
        Some(200)
    );

    // `{{state}}` and `{{code_challenge}}` reach later steps.
    let echo = query(&requests[2]);
    assert_eq!(requests[2].url.path(), "/echo");
    assert_eq!(value(&echo, "state"), state);
    assert_eq!(value(&echo, "challenge"), challenge);
}

#[tokio::test]
async fn authorization_code_flow_with_pkce_plain_hides_the_challenge() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::authcode::pkce-plain").await;
    assert_pass(&result);
    let requests = h.requests().await;
    assert_eq!(requests.len(), 2);
    let authorize = assert_authorize_request(&requests[0]);
    assert_eq!(value(&authorize, "code_challenge_method"), "plain");
    assert_eq!(value(&authorize, "code_challenge"), SEEDED_VERIFIER);
    let codes = h.issued_codes();
    assert_token_request(
        &requests[1],
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &codes[0]),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", SEEDED_VERIFIER),
        ],
        ClientAuth::None,
    );
    // With `plain` the challenge is the verifier: the transcript does not show it.
    let url = &result.steps[0].transcript.as_ref().unwrap().url;
    assert!(url.contains("code_challenge=[redacted"), "{url}");
}

#[tokio::test]
async fn a_wrong_verifier_gets_invalid_grant() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::authcode::wrong-verifier-refused").await;
    assert_pass(&result);
    let requests = h.token_requests().await;
    assert_eq!(requests.len(), 1);
    let form = form_pairs(&requests[0].body);
    assert_eq!(value(&form, "code_verifier"), WRONG_VERIFIER);
    assert_eq!(
        result.steps[1].transcript.as_ref().unwrap().status,
        Some(400)
    );
    assert!(h.access_tokens().is_empty(), "no token was issued");
}

#[tokio::test]
async fn a_scenario_expecting_the_wrong_verifier_to_pass_fails() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::inverted::wrong-verifier-accepted").await;
    assert_fail(
        &result,
        1,
        &[
            "step 2 (exchange with the wrong verifier)",
            "got HTTP 400, expected 200",
        ],
    );
}

#[tokio::test]
async fn a_forged_state_fails_the_authorize_step() {
    let h = Harness::start(Mode::OtherState).await;
    let result = h.run("demo::authcode::pkce-s256").await;
    let message = assert_fail(&result, 0, &["step 1 (authorize)", "state", FORGED_STATE]);
    assert!(message.contains("not the"), "{message}");
    assert!(h.token_requests().await.is_empty(), "{message}");
}

#[tokio::test]
async fn a_redirect_elsewhere_fails_the_authorize_step() {
    let h = Harness::start(Mode::OtherRedirect).await;
    let result = h.run("demo::authcode::pkce-s256").await;
    assert_fail(
        &result,
        0,
        &[
            "step 1 (authorize)",
            "redirect",
            "https://attacker.example/cb",
            REDIRECT_URI,
        ],
    );
    assert!(h.token_requests().await.is_empty());
}

#[tokio::test]
async fn a_code_is_single_use() {
    let h = Harness::start(Mode::Conforming).await;
    let result = h.run("demo::authcode::code-reuse-refused").await;
    assert_pass(&result);
    let requests = h.token_requests().await;
    assert_eq!(requests.len(), 2);
    let codes = h.issued_codes();
    for request in &requests {
        let form = form_pairs(&request.body);
        assert_eq!(value(&form, "code"), codes[0]);
    }
    let statuses: Vec<Option<u16>> = result.steps[1..]
        .iter()
        .map(|s| s.transcript.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, [Some(200), Some(400)]);
}

// ---------------------------------------------------------------------------------------------
// Regressions: a refused redirect's code, an unrotated refresh token.
// ---------------------------------------------------------------------------------------------

/// A redirect refused for a forged `state`, for going elsewhere, or by the step's own `expect`
/// still carried an authorization code: the transcript must not show it (a code is a credential,
/// RFC 6749 §10.5).
#[tokio::test]
async fn a_refused_redirect_never_shows_its_code() {
    let cases = [
        (Mode::OtherState, "demo::authcode::pkce-s256"),
        (Mode::OtherRedirect, "demo::authcode::pkce-s256"),
        (Mode::Conforming, "demo::inverted::authorize-expects-200"),
    ];
    for (mode, trial) in cases {
        // `run` fails on any leak, the `Location` header included.
        let h = Harness::start(mode).await;
        let result = h.run(trial).await;
        assert_fail(&result, 0, &["step 1 (authorize)"]);
    }
}

/// RFC 6749 §6: a refresh answered without a new refresh token leaves the old one valid; the
/// client uses it again at the next expiry instead of starting the grant over.
#[tokio::test]
async fn an_unrotated_refresh_token_is_used_again() {
    let h = Harness::start(Mode::NoRotation).await;
    let result = h.run("demo::cache::refresh-twice").await;
    assert_pass(&result);
    let tokens = h.token_requests().await;
    assert_eq!(tokens.len(), 3, "grant, refresh, refresh");
    let first_refresh = &h.refresh_tokens()[1];
    let refresh: &[(&str, &str)] = &[
        ("grant_type", "refresh_token"),
        ("refresh_token", first_refresh),
    ];
    assert_token_request(&tokens[0], CACHED_GRANT, ClientAuth::Basic);
    assert_token_request(&tokens[1], refresh, ClientAuth::Basic);
    assert_token_request(&tokens[2], refresh, ClientAuth::Basic);
}
