//! Driving a login headlessly, through the real binary against loopback servers: an
//! authorization server that behaves as oidc-provider's development interactions (redirect to an
//! interaction, login form, consent form, back to the authorization endpoint, redirect with a
//! code) and a Keycloak login form (`tests/fixtures/keycloak-login.html`). The flow passes and
//! its code is exchanged; a wrong password fails naming the page; redirects and forms that leave
//! the server's origin are not followed; the redirect URI is never fetched; cookies and `auth:`
//! credentials never reach another origin; the password, cookie values, the code and hidden
//! field values appear in no output; a `session` carries cookies between plain steps; the new
//! keys are checked when loading.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Run, authconform_with_env, blocking};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};

/// The user's password: UTF-8 on purpose, as the lab's.
const PASSWORD: &str = "CANARY-login-pässword-5e1c";
const COOKIE_VALUE: &str = "CANARY-cookie-value-81d2";
const CODE: &str = "CANARY-code-2b7f";
const HIDDEN: &str = "CANARY-hidden-credential-40aa";
const ACCESS_TOKEN: &str = "CANARY-access-token-c3d9";

/// One request a fixture server received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    headers: HashMap<String, String>,
    body: String,
}

type Handler = dyn Fn(&Seen, &Fixture) -> Response<Full<Bytes>> + Send + Sync;

/// A loopback HTTP server answering with `handler` and recording every request.
#[derive(Clone)]
struct Fixture {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Other servers' URLs, for handlers that point elsewhere.
    other: Arc<Mutex<String>>,
}

impl Fixture {
    async fn start(handler: Arc<Handler>) -> Fixture {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fixture = Fixture {
            addr: listener.local_addr().unwrap(),
            seen: Arc::default(),
            other: Arc::default(),
        };
        let serving = fixture.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (fixture, handler) = (serving.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let (fixture, handler) = (fixture.clone(), handler.clone());
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await?.to_bytes();
                                let seen = Seen {
                                    method: parts.method.to_string(),
                                    target: parts.uri.to_string(),
                                    headers: parts
                                        .headers
                                        .iter()
                                        .map(|(n, v)| {
                                            (
                                                n.to_string(),
                                                v.to_str().unwrap_or_default().to_owned(),
                                            )
                                        })
                                        .collect(),
                                    body: String::from_utf8_lossy(&body).into_owned(),
                                };
                                fixture.seen.lock().unwrap().push(seen.clone());
                                Ok::<_, hyper::Error>(handler(&seen, &fixture))
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        fixture
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

fn html(body: &str, headers: &[(&str, &str)]) -> Response<Full<Bytes>> {
    let mut all = vec![("content-type", "text/html; charset=utf-8")];
    all.extend_from_slice(headers);
    reply(
        200,
        &all,
        &format!(
            "<!DOCTYPE html><html><head><title>Sign-in</title></head><body><div>{body}</div></body></html>"
        ),
    )
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn form_param(body: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn has_cookie(seen: &Seen, pair: &str) -> bool {
    seen.headers
        .get("cookie")
        .is_some_and(|c| c.split("; ").any(|p| p == pair))
}

/// oidc-provider's development interactions (lib/actions/interaction.js and the eta views
/// lib/views/login.js, interaction.js): `/auth` redirects (303) to `/interaction/<uid>` setting
/// the `_interaction` cookie scoped to that path and `_interaction_resume` scoped to
/// `/auth/<uid>`; the page posts to `/interaction/<uid>` with a hidden `prompt`; a finished
/// interaction redirects to `/auth/<uid>`, which redirects to the next interaction or to the
/// redirect URI with `code`, `state` and `iss`.
fn oidc_provider(seen: &Seen, fixture: &Fixture) -> Response<Full<Bytes>> {
    let path = seen.target.split('?').next().unwrap_or_default();
    let issuer = fixture.url();
    let authorize = fixture
        .seen()
        .into_iter()
        .find(|s| s.target.starts_with("/auth?"));
    let param = |name: &str| {
        authorize
            .as_ref()
            .and_then(|a| query_param(&a.target, name))
            .unwrap_or_default()
    };
    match (seen.method.as_str(), path) {
        ("GET", "/auth") => {
            let interaction = "/interaction/uid-login-7Yd";
            reply(
                303,
                &[
                    ("location", interaction),
                    (
                        "set-cookie",
                        &format!(
                            "_interaction={COOKIE_VALUE}; path={interaction}; httponly; samesite=lax"
                        ),
                    ),
                    (
                        "set-cookie",
                        "_interaction_resume=resume-login-sig; path=/auth/uid-login-7Yd; httponly; samesite=lax",
                    ),
                ],
                "",
            )
        }
        ("GET", "/interaction/uid-login-7Yd")
            if has_cookie(seen, &format!("_interaction={COOKIE_VALUE}")) =>
        {
            html(
                "<h1>Sign-in</h1><form autocomplete=\"off\" action=\"/interaction/uid-login-7Yd\" method=\"post\">\n  \
             <input type=\"hidden\" name=\"prompt\" value=\"login\"/>\n  \
             <input required type=\"text\" name=\"login\" placeholder=\"Enter any login\" autofocus=\"on\">\n  \
             <input required type=\"password\" name=\"password\" placeholder=\"and password\" >\n\n  \
             <button type=\"submit\" class=\"login login-submit\">Sign-in</button>\n</form>",
                &[],
            )
        }
        ("POST", "/interaction/uid-login-7Yd") => {
            let good = form_param(&seen.body, "prompt").as_deref() == Some("login")
                && form_param(&seen.body, "login").as_deref() == Some("alice")
                && form_param(&seen.body, "password").as_deref() == Some(PASSWORD)
                && has_cookie(seen, &format!("_interaction={COOKIE_VALUE}"));
            if good {
                reply(
                    303,
                    &[
                        ("location", "/auth/uid-login-7Yd"),
                        ("set-cookie", "_session=session-3f; path=/; httponly"),
                    ],
                    "",
                )
            } else {
                // devInteractions render the login page again.
                html(
                    "<h1>Sign-in</h1><p>Invalid login or password.</p><form autocomplete=\"off\" action=\"/interaction/uid-login-7Yd\" method=\"post\">\
                     <input type=\"hidden\" name=\"prompt\" value=\"login\"/>\
                     <input required type=\"text\" name=\"login\"><input required type=\"password\" name=\"password\">\
                     <button type=\"submit\" class=\"login login-submit\">Sign-in</button></form>",
                    &[],
                )
            }
        }
        ("GET", "/auth/uid-login-7Yd")
            if has_cookie(seen, "_interaction_resume=resume-login-sig")
                && has_cookie(seen, "_session=session-3f") =>
        {
            reply(
                303,
                &[
                    ("location", "/interaction/uid-consent-Qm2"),
                    (
                        "set-cookie",
                        "_interaction=consent-cookie; path=/interaction/uid-consent-Qm2; httponly",
                    ),
                    (
                        "set-cookie",
                        "_interaction_resume=resume-consent-sig; path=/auth/uid-consent-Qm2; httponly",
                    ),
                ],
                "",
            )
        }
        ("GET", "/interaction/uid-consent-Qm2")
            if has_cookie(seen, "_interaction=consent-cookie") =>
        {
            html(
                "<ul><li>scopes:</li><ul><li>read</li></ul></ul>\n\n<form autocomplete=\"off\" action=\"/interaction/uid-consent-Qm2\" method=\"post\">\n  \
             <input type=\"hidden\" name=\"prompt\" value=\"consent\"/>\n  \
             <button autofocus type=\"submit\" class=\"login login-submit\">Continue</button>\n</form>\n",
                &[],
            )
        }
        ("POST", "/interaction/uid-consent-Qm2")
            if form_param(&seen.body, "prompt").as_deref() == Some("consent") =>
        {
            reply(303, &[("location", "/auth/uid-consent-Qm2")], "")
        }
        ("GET", "/auth/uid-consent-Qm2")
            if has_cookie(seen, "_interaction_resume=resume-consent-sig")
                && has_cookie(seen, "_session=session-3f") =>
        {
            let location = format!(
                "{}?code={CODE}&state={}&iss={}",
                param("redirect_uri"),
                param("state"),
                url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>()
            );
            reply(303, &[("location", &location)], "")
        }
        ("POST", "/token")
            if form_param(&seen.body, "code").as_deref() == Some(CODE)
                && form_param(&seen.body, "code_verifier").is_some_and(|v| {
                    authconform::auth::pkce::challenge(
                        &v,
                        authconform::auth::pkce::PkceMethod::S256,
                    ) == param("code_challenge")
                }) =>
        {
            reply(
                200,
                &[
                    ("content-type", "application/json"),
                    ("cache-control", "no-store"),
                ],
                &format!(
                    "{{\"access_token\":\"{ACCESS_TOKEN}\",\"token_type\":\"Bearer\",\"expires_in\":3600}}"
                ),
            )
        }
        ("POST", "/token") => reply(
            400,
            &[("content-type", "application/json")],
            "{\"error\":\"invalid_grant\"}",
        ),
        // Hops that leave the origin, for the safety checks.
        ("GET", "/auth-elsewhere") => {
            let other = fixture.other.lock().unwrap().clone();
            reply(302, &[("location", &format!("{other}/phish"))], "")
        }
        ("GET", "/auth-foreign-form") => {
            let other = fixture.other.lock().unwrap().clone();
            html(
                &format!(
                    "<form action=\"{other}/collect\" method=\"post\"><input name=\"login\"><input type=\"password\" name=\"password\"><button>Sign-in</button></form>"
                ),
                &[(
                    "set-cookie",
                    &format!("_interaction={COOKIE_VALUE}; path=/"),
                )],
            )
        }
        ("GET", "/loop") => reply(302, &[("location", "/loop")], ""),
        ("GET", "/set-cookies") => reply(
            200,
            &[
                ("set-cookie", &format!("first={COOKIE_VALUE}; path=/")),
                ("set-cookie", "second=two; path=/"),
            ],
            "",
        ),
        ("GET", "/echo") => reply(200, &[], ""),
        _ => reply(400, &[("content-type", "text/plain")], "unexpected request"),
    }
}

/// The Keycloak login page (login.ftl in template.ftl) and its authenticate endpoint, which
/// takes the form only with the hidden `credentialId`, the pressed `login=Sign In` and the
/// `AUTH_SESSION_ID` and `KC_RESTART` cookies.
fn keycloak(seen: &Seen, fixture: &Fixture) -> Response<Full<Bytes>> {
    let path = seen.target.split('?').next().unwrap_or_default();
    let authorize = fixture.seen().into_iter().find(|s| {
        s.target
            .starts_with("/realms/lab/protocol/openid-connect/auth?")
    });
    let param = |name: &str| {
        authorize
            .as_ref()
            .and_then(|a| query_param(&a.target, name))
            .unwrap_or_default()
    };
    match (seen.method.as_str(), path) {
        ("GET", "/realms/lab/protocol/openid-connect/auth") => {
            let page = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/keycloak-login.html"
            ))
            .unwrap()
            .replace("CREDENTIAL_ID", HIDDEN)
            .replace("AS_BASE", &fixture.url());
            reply(
                200,
                &[
                    ("content-type", "text/html;charset=utf-8"),
                    (
                        "set-cookie",
                        &format!(
                            "AUTH_SESSION_ID={COOKIE_VALUE}; Version=1; Path=/realms/lab/; SameSite=None; HttpOnly"
                        ),
                    ),
                    (
                        "set-cookie",
                        "KC_RESTART=eyJhbGciOiJIUzI1NiJ9.restart; Version=1; Path=/realms/lab/; HttpOnly",
                    ),
                ],
                &page,
            )
        }
        ("POST", "/realms/lab/login-actions/authenticate")
            if query_param(&seen.target, "session_code").as_deref() == Some("sc-91")
                && query_param(&seen.target, "execution").as_deref() == Some("ex-5a")
                && form_param(&seen.body, "username").as_deref() == Some("alice")
                && form_param(&seen.body, "password").as_deref() == Some(PASSWORD)
                && form_param(&seen.body, "credentialId").as_deref() == Some(HIDDEN)
                && form_param(&seen.body, "login").as_deref() == Some("Sign In")
                && has_cookie(seen, &format!("AUTH_SESSION_ID={COOKIE_VALUE}"))
                && has_cookie(seen, "KC_RESTART=eyJhbGciOiJIUzI1NiJ9.restart") =>
        {
            let location = format!(
                "{}?state={}&session_state=ss-1&code={CODE}",
                param("redirect_uri"),
                param("state")
            );
            reply(302, &[("location", &location)], "")
        }
        _ => reply(400, &[("content-type", "text/plain")], "unexpected request"),
    }
}

/// Answers everything with 200 and records it: the redirect URI's server and "another origin".
fn bystander(_: &Seen, _: &Fixture) -> Response<Full<Bytes>> {
    reply(200, &[], "")
}

const SPEC: &str = "\
provider: op
title: An authorization server (test fixture)
requirements:
  - id: OP-LOGIN-01
    statement: A user signs in and consents, and the client gets a code it exchanges for a token.
    source: RFC 6749 §4.1
    kind: RFC
inputs:
  hosts:
    as_base: The authorization server
    elsewhere: Another origin
  variables:
    username_field: { description: The login form's user-name control, default: username }
  secrets:
    username: The user
    password: The user's password
";

const FLOW: &str = r#"
      - name: sign in and consent
        request:
          url: "{{as_base}}/auth"
          authorize:
            client_id: lab-public
            redirect_uri: "{{elsewhere}}/callback"
            scope: openid read
            pkce: { method: S256 }
            login:
              form:
                fields: { login: "{{secret.username}}", password: "{{secret.password}}" }
                submit: Sign-in
            consent:
              form: { submit: Continue }
      - name: exchange the code
        request:
          method: POST
          url: "{{as_base}}/token"
          token:
            grant: authorization_code
            client_id: lab-public
            client_auth: none
            code: "{{secret.code}}"
            redirect_uri: "{{elsewhere}}/callback"
            code_verifier: "{{secret.code_verifier}}"
        expect:
          status: 200
          json: { $.access_token: exists }
"#;

/// Writes a tree (spec, scenarios, target) with the servers as hosts and runs it.
fn run_tree(scenarios: &str, as_base: &str, elsewhere: &str, password: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("specs")).unwrap();
    std::fs::create_dir_all(root.join("scenarios/op")).unwrap();
    std::fs::write(root.join("specs/op.yaml"), SPEC).unwrap();
    std::fs::write(root.join("scenarios/op/login.yaml"), scenarios).unwrap();
    std::fs::write(
        root.join("target.yaml"),
        format!(
            "name: op-loopback\nclock: real\nlimits:\n  request_timeout: 5s\n  max_wait: 5s\n\
             sources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n  op:\n    hosts:\n      \
             as_base: {{ url: \"{as_base}\" }}\n      elsewhere: {{ url: \"{elsewhere}\" }}\n    \
             secrets:\n      username: {{ env: LOGIN_TEST_USERNAME }}\n      \
             password: {{ env: LOGIN_TEST_PASSWORD }}\n"
        ),
    )
    .unwrap();
    let path = |p: &str| root.join(p).display().to_string();
    authconform_with_env(
        &[
            "run",
            "--specs",
            &path("specs"),
            "--scenarios",
            &path("scenarios"),
            "--target",
            &path("target.yaml"),
        ],
        &[
            ("LOGIN_TEST_USERNAME", "alice"),
            ("LOGIN_TEST_PASSWORD", password),
        ],
    )
}

/// Starts the authorization server with `handler` and a bystander as `elsewhere`.
async fn servers(handler: Arc<Handler>) -> (Fixture, Fixture) {
    let server = Fixture::start(handler).await;
    let other = Fixture::start(Arc::new(bystander)).await;
    *server.other.lock().unwrap() = other.url();
    (server, other)
}

async fn run_bounded(scenarios: String, server: &Fixture, other: &Fixture, password: &str) -> Run {
    let (as_base, elsewhere, password) = (server.url(), other.url(), password.to_owned());
    tokio::time::timeout(
        Duration::from_secs(60),
        blocking(move || run_tree(&scenarios, &as_base, &elsewhere, &password)),
    )
    .await
    .expect("the run ended within 60 s")
}

fn scenario(id: &str, steps: &str) -> String {
    format!(
        "scenarios:\n  - id: {id}\n    title: A login flow\n    requirements: [OP-LOGIN-01]\n    steps:{steps}"
    )
}

fn evidence(run: &Run) -> serde_json::Value {
    serde_json::from_str(&common::evidence_text(run)).unwrap()
}

/// Every file a run wrote, and what it printed.
fn all_output(run: &Run) -> String {
    let mut text = format!("{}\n{}\n{}\n", run.stdout, run.stderr, run.junit);
    let mut folders = vec![run.dir.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            }
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oidc_provider_login_and_consent_give_a_code_that_is_exchanged() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let run = run_bounded(
        scenario("code-flow-through-login", FLOW),
        &server,
        &other,
        PASSWORD,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let seen = server.seen();
    let paths: Vec<(&str, &str)> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.target.split('?').next().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [
            ("GET", "/auth"),
            ("GET", "/interaction/uid-login-7Yd"),
            ("POST", "/interaction/uid-login-7Yd"),
            ("GET", "/auth/uid-login-7Yd"),
            ("GET", "/interaction/uid-consent-Qm2"),
            ("POST", "/interaction/uid-consent-Qm2"),
            ("GET", "/auth/uid-consent-Qm2"),
            ("POST", "/token"),
        ]
    );
    // The redirect URI is never fetched.
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    // Path-scoped cookies go only where their path matches.
    assert!(!has_cookie(
        &seen[3],
        &format!("_interaction={COOKIE_VALUE}")
    ));
    // Every hop is in the evidence, in order, cookies and values by name only.
    let report = evidence(&run);
    let exchanges = &report["scenarios"][0]["steps"][0]["exchanges"];
    let urls: Vec<&str> = exchanges
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 7, "{urls:?}");
    assert!(urls[2].ends_with("/interaction/uid-login-7Yd"), "{urls:?}");
    let login_post = &exchanges[2];
    assert_eq!(login_post["method"], "POST");
    assert_eq!(
        login_post["request_body"],
        "prompt=[redacted]&login=[redacted]&password=[redacted]"
    );
    let headers = login_post["request_headers"].to_string();
    assert!(headers.contains("_interaction=[redacted]"), "{headers}");
    let first_headers = exchanges[0]["response_headers"].to_string();
    assert!(
        first_headers.contains("_interaction=[redacted]; path=/interaction/uid-login-7Yd"),
        "{first_headers}"
    );
    assert!(common::evidence_schema_errors(&report).is_empty());
    // The page shows every hop, the token request after them.
    let page = common::read(&run.reports.join("evidence.html"));
    assert_eq!(page.matches("<details class=\"exchange\"").count(), 8);
    assert!(page.contains("/interaction/uid-consent-Qm2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_naming_the_page_the_flow_stopped_on() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let run = run_bounded(
        scenario("code-flow-through-login", FLOW),
        &server,
        &other,
        "not-the-password",
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let report = evidence(&run);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["verdict"], "fail", "{scenario:#}");
    let failed = scenario["steps"][0]["failed"].to_string();
    assert!(
        failed.contains("the login form is shown again after it was submitted (HTTP 200 at /interaction/uid-login-7Yd): the server did not accept the login"),
        "{failed}"
    );
    // The code exchange never ran.
    assert!(!server.seen().iter().any(|s| s.target == "/token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_field_that_cannot_be_rendered_is_an_error_not_a_failure() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    // An empty environment variable leaves the password secret unset: the scenario could not
    // fill the form, which says nothing about the server.
    let run = run_bounded(
        scenario("code-flow-through-login", FLOW),
        &server,
        &other,
        "",
    )
    .await;
    let report = evidence(&run);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["verdict"], "error", "{scenario:#}");
    let text = scenario.to_string();
    assert!(
        text.contains("cannot fill the form on the page HTTP 200 at /interaction/uid-login-7Yd")
            && text.contains("secret `password` is not set"),
        "{text}"
    );
    // The form was never submitted.
    assert!(
        !server.seen().iter().any(|s| s.method == "POST"),
        "{:?}",
        server.seen()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_a_form_and_nothing_left_to_fill_it_fails() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let steps = FLOW.replace(
        "            consent:\n              form: { submit: Continue }\n",
        "",
    );
    let run = run_bounded(
        scenario("no-consent-given", &steps),
        &server,
        &other,
        PASSWORD,
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let failed = evidence(&run)["scenarios"][0]["steps"][0]["failed"].to_string();
    assert!(
        failed.contains("the flow stops at a page with a form (HTTP 200 at /interaction/uid-consent-Qm2, form action /interaction/uid-consent-Qm2): no `login` or `consent` is left to fill it"),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keycloak_login_form_keeps_hidden_inputs_presses_its_submit_and_sends_cookies() {
    let (server, other) = servers(Arc::new(keycloak)).await;
    let steps = r#"
      - name: sign in
        request:
          url: "{{as_base}}/realms/lab/protocol/openid-connect/auth"
          authorize:
            client_id: lab-code
            redirect_uri: "{{elsewhere}}/callback"
            scope: openid
            login:
              form:
                selector: "form#kc-form-login"
                fields: { "{{username_field}}": "{{secret.username}}", password: "{{secret.password}}" }
"#;
    let run = run_bounded(scenario("keycloak-login", steps), &server, &other, PASSWORD).await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_eq!(server.seen().len(), 2, "{:?}", server.seen());
    assert!(other.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_is_not_followed_and_fails_the_step() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let steps = r#"
      - name: authorize
        request:
          url: "{{as_base}}/auth-elsewhere"
          auth: { basic: { username: "{{secret.username}}", password: "{{secret.password}}" } }
          authorize: { client_id: lab-public, redirect_uri: "http://127.0.0.1:9/callback" }
"#;
    let run = run_bounded(
        scenario("redirect-elsewhere", steps),
        &server,
        &other,
        PASSWORD,
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    let failed = evidence(&run)["scenarios"][0]["steps"][0]["failed"].to_string();
    assert!(
        failed.contains(&format!(
            "the flow leaves the authorization server's origin for {}",
            other.url()
        )),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_on_the_origin_stops_after_ten_hops() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let steps = r#"
      - name: authorize
        request:
          url: "{{as_base}}/loop"
          authorize: { client_id: lab-public, redirect_uri: "{{elsewhere}}/callback" }
"#;
    let run = run_bounded(scenario("redirect-loop", steps), &server, &other, PASSWORD).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_eq!(server.seen().len(), 11);
    let failed = evidence(&run)["scenarios"][0]["steps"][0]["failed"].to_string();
    assert!(
        failed.contains("the flow takes more than 10 requests"),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_posting_to_another_origin_is_not_submitted() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let steps = r#"
      - name: authorize
        request:
          url: "{{as_base}}/auth-foreign-form"
          authorize:
            client_id: lab-public
            redirect_uri: "{{as_base}}/callback"
            login: { form: { fields: { login: "{{secret.username}}", password: "{{secret.password}}" } } }
"#;
    let run = run_bounded(scenario("foreign-form", steps), &server, &other, PASSWORD).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(other.seen().is_empty(), "{:?}", other.seen());
    let failed = evidence(&run)["scenarios"][0]["steps"][0]["failed"].to_string();
    assert!(failed.contains("posts to another origin"), "{failed}");
    assert!(!all_output(&run).contains(PASSWORD));
}

/// `auth:` credentials go on the step's own request only, never on a hop; cookies go to their
/// origin only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_stay_on_the_first_request_and_cookies_on_their_origin() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    let steps = FLOW.replacen(
        "          url: \"{{as_base}}/auth\"\n",
        "          url: \"{{as_base}}/auth\"\n          auth: { bearer: \"{{secret.password}}\" }\n",
        1,
    ) + r#"
      - name: a request to another origin
        request: { url: "{{elsewhere}}/api" }
        expect: { status: 200 }
"#;
    let run = run_bounded(
        scenario("credentials-stay", &steps),
        &server,
        &other,
        PASSWORD,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.dump());
    let seen = server.seen();
    assert!(seen[0].headers.contains_key("authorization"));
    for hop in &seen[1..] {
        assert!(!hop.headers.contains_key("authorization"), "{hop:?}");
    }
    let elsewhere = other.seen();
    assert_eq!(elsewhere.len(), 1);
    assert!(
        !elsewhere[0].headers.contains_key("cookie"),
        "{elsewhere:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_cookies_code_and_hidden_values_appear_in_no_output() {
    let (server, other) = servers(Arc::new(oidc_provider)).await;
    // A failing check after the flow, so every sink shows the step in detail.
    let steps = FLOW.replace(
        "json: { $.access_token: exists }",
        "json: { $.access_token: exists, $.absent: exists }",
    );
    let run = run_bounded(scenario("canaries", &steps), &server, &other, PASSWORD).await;
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let (keycloak_server, keycloak_other) = servers(Arc::new(keycloak)).await;
    let keycloak_steps = r#"
      - name: sign in
        request:
          url: "{{as_base}}/realms/lab/protocol/openid-connect/auth"
          authorize:
            client_id: lab-code
            redirect_uri: "{{elsewhere}}/callback"
            login: { form: { fields: { username: "{{secret.username}}", password: "{{secret.password}}" } } }
        expect: { status: 201 }
"#;
    let keycloak_run = run_bounded(
        scenario("keycloak-canaries", keycloak_steps),
        &keycloak_server,
        &keycloak_other,
        PASSWORD,
    )
    .await;
    assert_eq!(keycloak_run.code, Some(1), "{}", keycloak_run.dump());
    for run in [&run, &keycloak_run] {
        let output = all_output(run);
        assert!(output.contains("[redacted"), "{}", run.dump());
        let encoded =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        for canary in [PASSWORD, COOKIE_VALUE, CODE, HIDDEN, ACCESS_TOKEN] {
            for form in [canary.to_owned(), encoded(canary)] {
                assert!(!output.contains(&form), "`{form}` leaked:\n{}", run.dump());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_carries_every_cookie_to_the_next_step_and_none_without_it() {
    for (session, carried) in [("\n    session: true", true), ("", false)] {
        let (server, other) = servers(Arc::new(oidc_provider)).await;
        let scenarios = format!(
            "scenarios:\n  - id: cookies\n    title: Cookies between steps\n    requirements: [OP-LOGIN-01]{session}\n    steps:\n      \
             - request: {{ url: \"{{{{as_base}}}}/set-cookies\" }}\n        expect: {{ status: 200 }}\n      \
             - request: {{ url: \"{{{{as_base}}}}/echo\" }}\n        expect: {{ status: 200 }}\n"
        );
        let run = run_bounded(scenarios, &server, &other, PASSWORD).await;
        assert_eq!(run.code, Some(0), "{}", run.dump());
        let seen = server.seen();
        let cookie = seen[1].headers.get("cookie");
        if carried {
            // Cookies of one path carry no order of their own (RFC 6265 §5.4).
            let mut pairs: Vec<&str> = cookie.expect("cookies sent").split("; ").collect();
            pairs.sort();
            assert_eq!(
                pairs,
                [format!("first={COOKIE_VALUE}").as_str(), "second=two"]
            );
            let output = all_output(&run);
            assert!(!output.contains(COOKIE_VALUE), "{}", run.dump());
        } else {
            assert_eq!(cookie, None);
        }
    }
}

/// Runs `authconform validate` on a scenario file in a fresh tree.
fn validate(scenarios: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("specs")).unwrap();
    std::fs::create_dir_all(root.join("scenarios/op")).unwrap();
    std::fs::write(root.join("specs/op.yaml"), SPEC).unwrap();
    std::fs::write(root.join("scenarios/op/login.yaml"), scenarios).unwrap();
    let path = |p: &str| root.join(p).display().to_string();
    authconform_with_env(
        &[
            "validate",
            "--specs",
            &path("specs"),
            "--scenarios",
            &path("scenarios"),
        ],
        &[],
    )
}

#[test]
fn the_login_keys_are_checked_at_their_position() {
    let authorize = |login: &str| {
        scenario(
            "bad",
            &format!(
                r#"
      - request:
          url: "{{{{as_base}}}}/auth"
          authorize:
            client_id: c
            redirect_uri: "{{{{elsewhere}}}}/callback"
{login}"#
            ),
        )
    };
    let cases = [
        (
            authorize("            login: { form: { fields: {} } }\n"),
            "login.yaml:11:28",
            "an empty `fields`",
        ),
        (
            authorize("            login: { form: { selector: \"form[\" } }\n"),
            "login.yaml:11:40",
            "invalid CSS selector `form[`",
        ),
        (
            authorize("            consent: { form: { sumbit: Continue } }\n"),
            "login.yaml:11:32",
            "unknown field `sumbit`",
        ),
        (
            authorize("            login: { form: { fields: { login: \"{{secret.nobody}}\" } } }\n"),
            "login.yaml:11:47",
            "undefined secret `nobody`",
        ),
        (
            authorize("            login: { form: { fields: { \"{{nobody}}\": x } } }\n"),
            // The entry's value is where an entry's problems point.
            "login.yaml:11:54",
            "undefined variable `nobody`",
        ),
        (
            authorize("            login: { form: { fields: { \"{{secret.password}}\": x } } }\n"),
            "login.yaml:11:40",
            "the field name `{{secret.password}}` uses a secret",
        ),
        (
            scenario(
                "bad",
                "\n      - request:\n          url: \"{{as_base}}/auth\"\n          login: { form: { submit: Go } }\n",
            ),
            "login.yaml:8:11",
            "unknown field `login`",
        ),
        (
            "scenarios:\n  - id: bad\n    title: t\n    requirements: [OP-LOGIN-01]\n    session: yes-please\n    steps:\n      - request: { url: \"{{as_base}}/x\" }\n"
                .to_owned(),
            "login.yaml:5:14",
            "expected a boolean",
        ),
    ];
    for (text, location, message) in cases {
        let run = validate(&text);
        assert_eq!(run.code, Some(2), "{text}\n{}", run.dump());
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(output.contains(location), "{location} in {text}\n{output}");
        assert!(output.contains(message), "{message} in {text}\n{output}");
        assert!(!output.contains("panicked"));
    }
}
