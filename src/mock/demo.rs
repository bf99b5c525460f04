//! The demo provider: a small API showing every mechanism the foundation supports, used to prove
//! the runner, the mock infrastructure and every expectation kind end to end. Its requirements are
//! in `specs/demo.yaml`.
//!
//! One host, `api`, behind an allowlist that drops every source but `127.0.0.1`:
//!
//! ```text
//! GET  /v1/profile   Basic username:password     200 {user, plan} | 401 + Basic challenge
//! POST /v1/token     Basic client_id:secret,     200 {access_token, token_type, expires_in: 300},
//!                    grant_type=client_credentials   Cache-Control: no-store | 401 | 400
//! GET  /v1/orders    Bearer <access_token>       200 | 401 + Bearer challenge (invalid_token)
//! GET  /v1/reports   X-API-Key                   200 | 403 {"error": 2, …}
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::http::json_response;
use super::{MockConfig, RunningMock, credential_eq};
use crate::clock::VirtualClock;

/// The demo mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour, for tests that prove the scenarios catch them.
pub const DEVIATIONS: &[&str] = &[
    "answers-unallowlisted",
    "resets-unallowlisted",
    "accepts-expired-tokens",
    "omits-no-store",
    "omits-basic-challenge",
    "accepts-any-api-key",
];

/// Access-token lifetime, in seconds.
pub const TOKEN_TTL_SECONDS: u64 = 300;

const ALLOWLISTED: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Starts the demo provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let state = Arc::new(Demo {
        username: config.secret("username")?,
        password: config.secret("password")?,
        client_id: config.secret("client_id")?,
        client_secret: config.secret("client_secret")?,
        api_key: config.secret("api_key")?,
        clock: config.clock.clone(),
        tokens: Mutex::new(HashMap::new()),
        accepts_expired: config.deviates("accepts-expired-tokens"),
        omits_no_store: config.deviates("omits-no-store"),
        omits_challenge: config.deviates("omits-basic-challenge"),
        accepts_any_key: config.deviates("accepts-any-api-key"),
        answers_unallowlisted: config.deviates("answers-unallowlisted"),
    });
    let server = MockServer::builder().start().await;
    let routes: [(&str, &str, Route); 4] = [
        ("GET", "/v1/profile", Route::Profile),
        ("POST", "/v1/token", Route::Token),
        ("GET", "/v1/orders", Route::Orders),
        ("GET", "/v1/reports", Route::Reports),
    ];
    for (verb, route_path, route) in routes {
        Mock::given(method(verb))
            .and(path(route_path))
            .respond_with(Handler {
                demo: state.clone(),
                route,
            })
            .mount(&server)
            .await;
    }
    let policy: front::PolicyFn = if config.deviates("answers-unallowlisted") {
        Arc::new(|_| SourcePolicy::Allow)
    } else if config.deviates("resets-unallowlisted") {
        Arc::new(|ip| {
            if ip == ALLOWLISTED {
                SourcePolicy::Allow
            } else {
                SourcePolicy::Reset
            }
        })
    } else {
        Arc::new(|ip| {
            if ip == ALLOWLISTED {
                SourcePolicy::Allow
            } else {
                SourcePolicy::Drop
            }
        })
    };
    let api = front::start(*server.address(), policy)
        .await
        .map_err(|e| format!("cannot start the front of host `api`: {e}"))?;
    Ok(RunningMock {
        hosts: HashMap::from([("api".to_owned(), api.url())]),
        _servers: vec![Box::new(api), Box::new(server)],
    })
}

struct Demo {
    username: String,
    password: String,
    client_id: String,
    client_secret: String,
    api_key: String,
    clock: Arc<VirtualClock>,
    /// Issued access tokens → expiry on the virtual clock.
    tokens: Mutex<HashMap<String, SystemTime>>,
    accepts_expired: bool,
    omits_no_store: bool,
    omits_challenge: bool,
    accepts_any_key: bool,
    answers_unallowlisted: bool,
}

#[derive(Clone, Copy)]
enum Route {
    Profile,
    Token,
    Orders,
    Reports,
}

struct Handler {
    demo: Arc<Demo>,
    route: Route,
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let demo = &self.demo;
        // The front only forwards allowlisted peers; the deviation answers the others instead.
        if demo.answers_unallowlisted && front::peer_of(request) != Some(ALLOWLISTED) {
            return json_response(
                403,
                json!({"error": "forbidden", "message": "source address not allowed"}),
            );
        }
        match self.route {
            Route::Profile => demo.profile(request),
            Route::Token => demo.token(request),
            Route::Orders => demo.orders(request),
            Route::Reports => demo.reports(request),
        }
    }
}

fn authorization(request: &Request) -> Option<&str> {
    request.headers.get("authorization")?.to_str().ok()
}

/// Splits `Authorization` into (scheme, credentials); the scheme is matched case-insensitively.
fn credentials<'a>(request: &'a Request, scheme: &str) -> Option<&'a str> {
    let (given, rest) = authorization(request)?.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Decodes RFC 7617 credentials into (user-id, password); `None` for anything malformed.
fn basic(request: &Request) -> Option<(String, String)> {
    let decoded = STANDARD.decode(credentials(request, "Basic")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

impl Demo {
    fn basic_matches(&self, request: &Request, user: &str, password: &str) -> bool {
        match basic(request) {
            // Both compared, always, so timing does not tell which one was wrong.
            Some((u, p)) => {
                let user_ok = credential_eq(u.as_bytes(), user.as_bytes());
                let password_ok = credential_eq(p.as_bytes(), password.as_bytes());
                user_ok & password_ok
            }
            None => false,
        }
    }

    fn basic_challenge(&self, status: u16, body: serde_json::Value) -> ResponseTemplate {
        let response = json_response(status, body);
        if self.omits_challenge {
            response
        } else {
            response.insert_header(
                "www-authenticate",
                "Basic realm=\"demo\", charset=\"UTF-8\"",
            )
        }
    }

    fn profile(&self, request: &Request) -> ResponseTemplate {
        if self.basic_matches(request, &self.username, &self.password) {
            json_response(200, json!({"user": self.username, "plan": "gold"}))
        } else {
            self.basic_challenge(401, json!({"error": "unauthorized"}))
        }
    }

    fn token(&self, request: &Request) -> ResponseTemplate {
        if !self.basic_matches(request, &self.client_id, &self.client_secret) {
            return self.basic_challenge(401, json!({"error": "invalid_client"}));
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {}
            Some(_) => return json_response(400, json!({"error": "unsupported_grant_type"})),
            None => {
                return json_response(
                    400,
                    json!({"error": "invalid_request", "error_description": "missing grant_type"}),
                );
            }
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let expiry = self.clock.now() + Duration::from_secs(TOKEN_TTL_SECONDS);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), expiry);
        let response = json_response(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}),
        );
        if self.omits_no_store {
            response
        } else {
            response
                .insert_header("cache-control", "no-store")
                .insert_header("pragma", "no-cache")
        }
    }

    fn orders(&self, request: &Request) -> ResponseTemplate {
        let Some(token) = credentials(request, "Bearer") else {
            return json_response(401, json!({"error": "unauthorized"}))
                .insert_header("www-authenticate", "Bearer realm=\"demo\"");
        };
        let expiry = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .copied();
        let valid = match expiry {
            Some(expiry) => self.accepts_expired || self.clock.now() < expiry,
            None => false,
        };
        if valid {
            json_response(
                200,
                json!({"orders": [{"id": "o-1", "amount": 12.5, "currency": "EUR"}]}),
            )
        } else {
            json_response(401, json!({"error": "invalid_token"})).insert_header(
                "www-authenticate",
                "Bearer realm=\"demo\", error=\"invalid_token\", error_description=\"the access token is invalid or expired\"",
            )
        }
    }

    fn reports(&self, request: &Request) -> ResponseTemplate {
        let presented = request
            .headers
            .get("x-api-key")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if self.accepts_any_key
            || credential_eq(presented, self.api_key.as_bytes()) && !presented.is_empty()
        {
            json_response(
                200,
                json!({"reports": [{"id": "r-1", "kind": "settlement"}]}),
            )
        } else {
            json_response(
                403,
                json!({"error": 2, "message": "Provided API key is not correct"}),
            )
        }
    }
}
