//! The Electrum provider (payments switch): a source-IP allowlist in front of everything, then
//! HTTP Basic or OAuth2 bearer tokens from Electrum's Keycloak (password grant, refresh). Its
//! requirements are in `specs/electrum.yaml`.
//!
//! Two hosts, `auth` (Keycloak) and `api` (money transfer), both behind an allowlist that drops
//! every source but `127.0.0.1`: from anywhere else the TCP connection is never answered, so the
//! client times out ("all requests to Electrum will time out"), whatever credentials it carries.
//!
//! ```text
//! auth  POST /auth/realms/{realm}/protocol/openid-connect/token   (form-encoded)
//!         grant_type=password, username, password,      200 {access_token, expires_in: 1800,
//!           client_id, client_secret                          refresh_expires_in: 5400, refresh_token,
//!         grant_type=refresh_token, refresh_token,            token_type: bearer, not-before-policy,
//!           client_id, client_secret                          session_state, scope}
//!                                                         | 400/401 {error, error_description}
//! api   GET /moneytransfer/v2/orders?receiverId=..&orderRedeemRef=..
//!         Authorization: Basic base64(user:pass)        200 lookup response | 401 | 400 FORMAT_ERROR
//!         Authorization: Bearer <access_token>
//! ```
//!
//! - **Realm.** The mock serves one realm, [`REALM`], mirroring the `realm` variable of
//!   `targets/mock.yaml` (a mock is given secrets, not variables). Any other realm gets Keycloak's
//!   404 `{"error": "Realm does not exist"}` (the body is the mock's choice: not in the sources).
//! - **Token endpoint**, in Keycloak's order (`TokenEndpoint.processGrantRequest`): every answer,
//!   error or not, carries `Cache-Control: no-store` and `Pragma: no-cache`; a missing
//!   `grant_type` is 400 `invalid_request`, an unknown one 400 `unsupported_grant_type`, both before
//!   the client is authenticated. Then the client (the target's `client_id` / `client_secret`),
//!   in the body as Electrum documents, or by Basic (form-urlencoded parts, RFC 6749 §2.3.1),
//!   which Keycloak's `ClientIdAndSecretAuthenticator` also accepts: no client_id is 400
//!   `invalid_client`; a missing or wrong secret, or an unknown client, is 401
//!   `unauthorized_client` "Invalid client or Invalid client credentials" with no
//!   `WWW-Authenticate` (Keycloak's departures from RFC 6749 §5.2). A repeated parameter is then 400
//!   `invalid_request` "duplicated parameter".
//! - **Password grant.** A wrong or unknown user or a missing password is 401 `invalid_grant`
//!   "Invalid user credentials" (Keycloak; the RFC default would be 400); no username is 401
//!   `invalid_request` "Missing parameter: username". Success opens a session (`session_state`).
//! - **Tokens** are JWTs as Keycloak issues them: access tokens RS256-signed with the built-in test
//!   key ([`jwt::TEST_RS256_PRIVATE_PEM`]), `typ: Bearer`, `iss` the realm URL, `exp` 1800 s after
//!   issue; refresh tokens HS256-signed with a key drawn when the mock starts, `typ: Refresh`,
//!   `exp` 5400 s after issue (the session's idle timeout), bound to the client (`azp`) and the
//!   session. Every time is read from the scenario's [`VirtualClock`].
//! - **Refresh grant**, as Keycloak does by default: a valid refresh token gets a new access token
//!   and a new refresh token, and resets the session's idle timeout (capped by a 10 h session
//!   maximum, Keycloak's default); the used refresh token is not revoked ("Revoke Refresh Token" is
//!   off by default) and stays valid until its own `exp`. No refresh token is 400
//!   `invalid_request` "No refresh token"; a tampered, foreign or other client's token is 400
//!   `invalid_grant`; one past its `exp`, or whose session went idle, is 400 `invalid_grant`
//!   "Token is not active".
//! - **Other grants.** `client_credentials` is 400 `unauthorized_client` (the client has no
//!   service account) and `authorization_code` 400 `invalid_grant` "Code not valid" (the mock
//!   issues no codes); both after client authentication.
//! - **API.** Only the `Authorization` header authenticates: `Basic` with the target's
//!   `username` / `password` (both compared, always), or `Bearer` with an access token of the
//!   realm whose signature verifies and whose `exp` has not passed. The docs' misspelling
//!   `Authorisation` is just another header. A refusal is 401 with an `ErrorDetail` body of
//!   `errorType: AUTHENTICATION_ERROR` and a `WWW-Authenticate` challenge (`Basic`, or `Bearer` with
//!   `error="invalid_token"` for a refused token): Electrum documents neither, so both are the
//!   mock's choice, and the scenarios check only the status. An authenticated lookup without
//!   `receiverId` is 400 `FORMAT_ERROR`; otherwise the lookup response echoes the references.
//!
//! [`DEVIATIONS`] each switch one documented behaviour off, so tests can prove the scenarios catch
//! it. Nothing a request carries is logged; secrets are compared with [`credential_eq`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use rand::RngCore;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::http::json_response;
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::basic;
use crate::auth::jwt::{self, JwtError, SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The Electrum mock's hosts.
pub const HOSTS: &[&str] = &["auth", "api"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
///
/// - `answers-unallowlisted`: both hosts answer unallowlisted sources with 403 instead of
///   dropping the connection.
/// - `accepts-expired-tokens`: the API accepts access tokens past their `exp`.
/// - `accepts-foreign-tokens`: the API skips the access token's signature check (tampered and
///   foreign tokens pass).
/// - `accepts-authorisation-spelling`: the API reads credentials from the misspelt
///   `Authorisation` header when `Authorization` is absent.
/// - `refresh-never-expires`: refresh tokens and sessions never expire.
/// - `rfc-status-for-bad-user`: wrong user credentials get RFC 6749's default 400 instead of
///   Keycloak's 401.
/// - `rfc-error-for-bad-client`: a missing or wrong client secret gets RFC 6749's
///   `invalid_client` with a `WWW-Authenticate: Basic` challenge instead of Keycloak's
///   `unauthorized_client` without one.
/// - `omits-no-store`: token responses carry no `Cache-Control: no-store` / `Pragma: no-cache`.
pub const DEVIATIONS: &[&str] = &[
    "answers-unallowlisted",
    "accepts-expired-tokens",
    "accepts-foreign-tokens",
    "accepts-authorisation-spelling",
    "refresh-never-expires",
    "rfc-status-for-bad-user",
    "rfc-error-for-bad-client",
    "omits-no-store",
];

/// The realm the mock serves (`realm` in `targets/mock.yaml`).
pub const REALM: &str = "electrum-test";

/// Access-token lifetime, in seconds (`expires_in`).
pub const ACCESS_TTL_SECONDS: u64 = 1800;

/// Refresh-token lifetime and session idle timeout, in seconds (`refresh_expires_in`).
pub const REFRESH_TTL_SECONDS: u64 = 5400;

/// Longest life of a session however often it is refreshed (Keycloak's default SSO Session Max,
/// 10 h; Electrum documents none).
pub const SESSION_MAX_SECONDS: u64 = 36_000;

/// The scopes Electrum's example response shows.
const SCOPE: &str = "profile email";

/// The test user's id in the realm (a fixed fake).
const USER_ID: &str = "5b3c8e2a-7d41-4f0a-9c6e-1a2b3c4d5e6f";

const ALLOWLISTED: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Starts the Electrum provider.
///
/// Both hosts share one wiremock server behind two fronts; each route matches only the `Host`
/// its front was reached by, so a path of one host is unknown (404) on the other, as with two
/// servers, at half the threads.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let server = MockServer::builder().start().await;
    let answers_unallowlisted = config.deviates("answers-unallowlisted");
    let policy: front::PolicyFn = if answers_unallowlisted {
        Arc::new(|_| SourcePolicy::Allow)
    } else {
        Arc::new(|ip| {
            if ip == ALLOWLISTED {
                SourcePolicy::Allow
            } else {
                SourcePolicy::Drop
            }
        })
    };
    let auth = front::start(*server.address(), policy.clone())
        .await
        .map_err(|e| format!("cannot start the front of host `auth`: {e}"))?;
    let api = front::start(*server.address(), policy)
        .await
        .map_err(|e| format!("cannot start the front of host `api`: {e}"))?;

    let access_key = realm_key()?;
    let mut refresh_secret = [0u8; 32];
    rand::rng().fill_bytes(&mut refresh_secret);
    let refresh_key = SigningKey::hs256(&refresh_secret);
    let state = Arc::new(Electrum {
        issuer: format!("{}/auth/realms/{REALM}", auth.url()),
        username: config.secret("username")?,
        password: config.secret("password")?,
        client_id: config.secret("client_id")?,
        client_secret: config.secret("client_secret")?,
        clock: config.clock.clone(),
        access_verifier: access_key.verifying_key(),
        access_key,
        refresh_verifier: refresh_key.verifying_key(),
        refresh_key,
        sessions: Mutex::new(HashMap::new()),
        answers_unallowlisted,
        accepts_expired: config.deviates("accepts-expired-tokens"),
        accepts_foreign: config.deviates("accepts-foreign-tokens"),
        accepts_authorisation: config.deviates("accepts-authorisation-spelling"),
        refresh_never_expires: config.deviates("refresh-never-expires"),
        rfc_status_for_bad_user: config.deviates("rfc-status-for-bad-user"),
        rfc_error_for_bad_client: config.deviates("rfc-error-for-bad-client"),
        omits_no_store: config.deviates("omits-no-store"),
    });
    Mock::given(method("POST"))
        .and(header("host", auth.addr().to_string().as_str()))
        .and(path_regex(
            r"^/auth/realms/[^/]+/protocol/openid-connect/token$",
        ))
        .respond_with(Handler {
            electrum: state.clone(),
            route: Route::Token,
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("host", api.addr().to_string().as_str()))
        .and(path("/moneytransfer/v2/orders"))
        .respond_with(Handler {
            electrum: state,
            route: Route::Orders,
        })
        .mount(&server)
        .await;
    Ok(RunningMock {
        hosts: HashMap::from([
            ("auth".to_owned(), auth.url()),
            ("api".to_owned(), api.url()),
        ]),
        _servers: vec![Box::new(auth), Box::new(api), Box::new(server)],
    })
}

/// Returns the realm's RS256 signing key (the built-in test key), parsed once per process.
fn realm_key() -> Result<SigningKey, String> {
    static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM)
            .map_err(|e| format!("cannot load the realm signing key: {e}"))
    })
    .clone()
}

struct Electrum {
    /// `iss` of every token: the realm's URL on the `auth` host.
    issuer: String,
    username: String,
    password: String,
    client_id: String,
    client_secret: String,
    clock: Arc<VirtualClock>,
    access_key: SigningKey,
    access_verifier: VerifyingKey,
    refresh_key: SigningKey,
    refresh_verifier: VerifyingKey,
    /// Open sessions by `session_state`.
    sessions: Mutex<HashMap<String, Session>>,
    answers_unallowlisted: bool,
    accepts_expired: bool,
    accepts_foreign: bool,
    accepts_authorisation: bool,
    refresh_never_expires: bool,
    rfc_status_for_bad_user: bool,
    rfc_error_for_bad_client: bool,
    omits_no_store: bool,
}

/// A user session, as Keycloak keeps one per password login.
struct Session {
    /// Ends unless refreshed before (SSO Session Idle).
    idle_until: SystemTime,
    /// Ends however often it is refreshed (SSO Session Max).
    max_until: SystemTime,
}

#[derive(Clone, Copy)]
enum Route {
    Token,
    Orders,
}

struct Handler {
    electrum: Arc<Electrum>,
    route: Route,
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let electrum = &self.electrum;
        // The front only forwards allowlisted peers; the deviation answers the others instead.
        if electrum.answers_unallowlisted && front::peer_of(request) != Some(ALLOWLISTED) {
            return json_response(
                403,
                json!({"errorType": "AUTHENTICATION_ERROR", "errorMessage": "source address not allowed"}),
            );
        }
        match self.route {
            Route::Token => electrum.token(request),
            Route::Orders => electrum.orders(request),
        }
    }
}

/// A Keycloak `OAuth2ErrorRepresentation`.
fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// An Electrum `ErrorDetail` body.
fn error_detail(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    json_response(
        status,
        json!({"errorType": error_type, "errorMessage": message}),
    )
}

/// Returns 16 random bytes formatted as a UUID (version 4), as Keycloak's ids look.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn form_decode(component: &str) -> String {
    if component.contains(['&', '=']) {
        // Not encoded as RFC 6749 §2.3.1 asks; taken as it is.
        return component.to_owned();
    }
    url::form_urlencoded::parse(component.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}

/// Parses a form body into its parameters, keeping repeats (Keycloak refuses them later).
fn form_params(body: &[u8]) -> HashMap<String, Vec<String>> {
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        params
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    params
}

/// Returns the first value of a form parameter (Keycloak's `formParams.getFirst`).
fn first<'a>(params: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    params.get(name)?.first().map(String::as_str)
}

/// How the client presented itself at the token endpoint.
enum ClientCredentials {
    /// `client_id` (and maybe `client_secret`), from Basic or the body.
    Given { id: String, secret: Option<String> },
    /// An `Authorization` header that is not Basic, and no `client_id` in the body.
    UnparseableHeader,
    /// No client id anywhere.
    Missing,
}

/// Reads the client credentials as `ClientIdAndSecretAuthenticator` does: a Basic header first
/// (its parts form-urlencoded), then the body.
fn client_credentials(
    request: &Request,
    params: &HashMap<String, Vec<String>>,
) -> ClientCredentials {
    if let Some(header) = request.headers.get("authorization") {
        match header.to_str().ok().and_then(basic::decode) {
            Some((id, secret)) => {
                return ClientCredentials::Given {
                    id: form_decode(&id),
                    secret: Some(form_decode(&secret)),
                };
            }
            None if first(params, "client_id").is_none() => {
                return ClientCredentials::UnparseableHeader;
            }
            None => {}
        }
    }
    match first(params, "client_id") {
        Some(id) => ClientCredentials::Given {
            id: id.to_owned(),
            secret: first(params, "client_secret").map(str::to_owned),
        },
        None => ClientCredentials::Missing,
    }
}

/// What the API accepted a request for.
enum Authenticated {
    Yes,
    /// Refused; `bearer` when it was a refused token (for the challenge).
    No {
        bearer: bool,
    },
}

impl Electrum {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_unix(&self) -> u64 {
        unix(self.clock.now())
    }

    /// `POST /auth/realms/{realm}/protocol/openid-connect/token`.
    fn token(&self, request: &Request) -> ResponseTemplate {
        let response = self.token_response(request);
        if self.omits_no_store {
            response
        } else {
            // Keycloak sets both before any check, so errors carry them too.
            response
                .insert_header("cache-control", "no-store")
                .insert_header("pragma", "no-cache")
        }
    }

    fn token_response(&self, request: &Request) -> ResponseTemplate {
        let realm = request
            .url
            .path_segments()
            .and_then(|mut segments| segments.nth(2))
            .unwrap_or_default();
        if realm != REALM {
            return json_response(404, json!({"error": "Realm does not exist"}));
        }
        let params = form_params(&request.body);
        let grant = match first(&params, "grant_type") {
            None => {
                return oauth_error(400, "invalid_request", "Missing form parameter: grant_type");
            }
            Some(
                g @ ("password" | "refresh_token" | "client_credentials" | "authorization_code"),
            ) => g,
            Some(_) => return oauth_error(400, "unsupported_grant_type", "Unsupported grant_type"),
        };
        if let Some(refusal) = self.authenticate_client(request, &params) {
            return refusal;
        }
        if params.values().any(|values| values.len() != 1) {
            return oauth_error(400, "invalid_request", "duplicated parameter");
        }
        match grant {
            "password" => self.password_grant(&params),
            "refresh_token" => self.refresh_grant(&params),
            "client_credentials" => oauth_error(
                400,
                "unauthorized_client",
                "Client not enabled to retrieve service account",
            ),
            _ if first(&params, "code").is_none() => {
                oauth_error(400, "invalid_request", "Missing parameter: code")
            }
            _ => oauth_error(400, "invalid_grant", "Code not valid"),
        }
    }

    /// Authenticates the confidential client; `Some` is the refusal.
    fn authenticate_client(
        &self,
        request: &Request,
        params: &HashMap<String, Vec<String>>,
    ) -> Option<ResponseTemplate> {
        let (id, secret) = match client_credentials(request, params) {
            ClientCredentials::Given { id, secret } => (id, secret),
            ClientCredentials::UnparseableHeader => {
                return Some(ResponseTemplate::new(401).insert_header(
                    "www-authenticate",
                    format!("Basic realm=\"{REALM}\"").as_str(),
                ));
            }
            ClientCredentials::Missing => {
                return Some(oauth_error(
                    400,
                    "invalid_client",
                    "Missing client_id parameter",
                ));
            }
        };
        // Both compared, always, so timing does not tell which one was wrong.
        let id_ok = credential_eq(id.as_bytes(), self.client_id.as_bytes());
        let secret_ok = credential_eq(
            secret.as_deref().unwrap_or_default().as_bytes(),
            self.client_secret.as_bytes(),
        );
        if id_ok & secret_ok & secret.is_some() {
            return None;
        }
        Some(if self.rfc_error_for_bad_client {
            oauth_error(401, "invalid_client", "Client authentication failed").insert_header(
                "www-authenticate",
                format!("Basic realm=\"{REALM}\"").as_str(),
            )
        } else {
            oauth_error(
                401,
                "unauthorized_client",
                "Invalid client or Invalid client credentials",
            )
        })
    }

    /// The password grant (Keycloak's direct access grant).
    fn password_grant(&self, params: &HashMap<String, Vec<String>>) -> ResponseTemplate {
        let Some(username) = first(params, "username") else {
            return oauth_error(401, "invalid_request", "Missing parameter: username");
        };
        let password = first(params, "password");
        // Both compared, always, so timing does not tell which one was wrong.
        let user_ok = credential_eq(username.as_bytes(), self.username.as_bytes());
        let password_ok = credential_eq(
            password.unwrap_or_default().as_bytes(),
            self.password.as_bytes(),
        );
        if !(user_ok & password_ok & password.is_some()) {
            let status = if self.rfc_status_for_bad_user {
                400
            } else {
                401
            };
            return oauth_error(status, "invalid_grant", "Invalid user credentials");
        }
        let now = self.clock.now();
        let session_state = random_uuid();
        self.sessions().insert(
            session_state.clone(),
            Session {
                idle_until: now + Duration::from_secs(REFRESH_TTL_SECONDS),
                max_until: now + Duration::from_secs(SESSION_MAX_SECONDS),
            },
        );
        self.issue(&session_state, REFRESH_TTL_SECONDS)
    }

    /// The refresh grant: new access and refresh tokens; the session's idle timeout restarts.
    fn refresh_grant(&self, params: &HashMap<String, Vec<String>>) -> ResponseTemplate {
        let Some(token) = first(params, "refresh_token") else {
            return oauth_error(400, "invalid_request", "No refresh token");
        };
        let now_unix = self.now_unix();
        let claims = match jwt::verify(token, &self.refresh_verifier, now_unix) {
            Ok(jwt) => jwt.claims,
            Err(JwtError::Expired { .. }) if self.refresh_never_expires => {
                match jwt::decode_unverified(token) {
                    Ok(jwt) => jwt.claims,
                    Err(_) => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
                }
            }
            Err(JwtError::Expired { .. }) => {
                return oauth_error(400, "invalid_grant", "Token is not active");
            }
            Err(_) => return oauth_error(400, "invalid_grant", "Invalid refresh token"),
        };
        let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
        if claim("typ") != "Refresh" || claim("iss") != self.issuer {
            return oauth_error(400, "invalid_grant", "Invalid refresh token");
        }
        // Only the mock's own client exists, and it authenticated already; still compare, so a
        // token issued to another client could never pass.
        if !credential_eq(claim("azp").as_bytes(), self.client_id.as_bytes()) {
            return oauth_error(
                400,
                "invalid_grant",
                "Invalid refresh token. Token client and authorized client don't match",
            );
        }
        let session_state = claim("session_state").to_owned();
        let now = self.clock.now();
        let remaining = {
            let mut sessions = self.sessions();
            let Some(session) = sessions.get_mut(&session_state) else {
                return oauth_error(400, "invalid_grant", "Session not active");
            };
            let alive = now < session.idle_until && now < session.max_until;
            if !alive && !self.refresh_never_expires {
                sessions.remove(&session_state);
                return oauth_error(400, "invalid_grant", "Token is not active");
            }
            let idle = now + Duration::from_secs(REFRESH_TTL_SECONDS);
            session.idle_until = if self.refresh_never_expires {
                idle
            } else {
                idle.min(session.max_until)
            };
            session
                .idle_until
                .duration_since(now)
                .map_or(0, |d| d.as_secs())
        };
        self.issue(&session_state, remaining)
    }

    /// Issues an access token and a refresh token for a session.
    fn issue(&self, session_state: &str, refresh_ttl: u64) -> ResponseTemplate {
        let now = self.now_unix();
        let common = |typ: &str, exp: u64| {
            json!({
                "exp": exp,
                "iat": now,
                "jti": random_uuid(),
                "iss": self.issuer,
                "sub": USER_ID,
                "typ": typ,
                "azp": self.client_id,
                "session_state": session_state,
                "sid": session_state,
                "scope": SCOPE,
            })
        };
        let mut access_claims = common("Bearer", now + ACCESS_TTL_SECONDS);
        if let Some(object) = access_claims.as_object_mut() {
            object.insert("aud".into(), "account".into());
            object.insert("preferred_username".into(), self.username.clone().into());
            object.insert("email_verified".into(), false.into());
        }
        let mut refresh_claims = common("Refresh", now + refresh_ttl);
        if let Some(object) = refresh_claims.as_object_mut() {
            object.insert("aud".into(), self.issuer.clone().into());
        }
        let (Ok(access), Ok(refresh)) = (
            jwt::sign(&access_claims, &self.access_key),
            jwt::sign(&refresh_claims, &self.refresh_key),
        ) else {
            return oauth_error(500, "unknown_error", "token signing failed");
        };
        json_response(
            200,
            json!({
                "access_token": access,
                "expires_in": ACCESS_TTL_SECONDS,
                "refresh_expires_in": refresh_ttl,
                "refresh_token": refresh,
                "token_type": "bearer",
                "not-before-policy": 0,
                "session_state": session_state,
                "scope": SCOPE,
            }),
        )
    }

    /// `GET /moneytransfer/v2/orders` (lookupOrder).
    fn orders(&self, request: &Request) -> ResponseTemplate {
        if let Authenticated::No { bearer } = self.authenticate(request) {
            let challenge = if bearer {
                format!(
                    "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"Token is not active\""
                )
            } else {
                "Basic realm=\"electrum\", charset=\"UTF-8\"".to_owned()
            };
            return error_detail(401, "AUTHENTICATION_ERROR", "Authentication failed")
                .insert_header("www-authenticate", challenge.as_str());
        }
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let Some(receiver_id) = query.get("receiverId").filter(|v| !v.is_empty()) else {
            return error_detail(400, "FORMAT_ERROR", "receiverId is required");
        };
        let redeem_ref = query
            .get("orderRedeemRef")
            .or_else(|| query.get("remittanceRef"))
            .cloned()
            .unwrap_or_default();
        json_response(
            200,
            json!({
                "amount": {"amount": 50000, "currency": "710"},
                "status": "UNREDEEMED",
                "statusDescription": "The order can be redeemed",
                "originator": {
                    "institution": {"id": "0001", "name": "Mock Retailer"},
                    "terminalId": "00000001",
                    "merchant": {"merchantId": "000000000000001", "merchantName": {"name": "Mock Store"}}
                },
                "receiver": {"id": receiver_id, "name": "Mock Money Transfer Provider"},
                "orderRedeemRef": redeem_ref,
                "orderId": "mt-order-0001",
            }),
        )
    }

    /// Authenticates an API request from its `Authorization` header alone.
    fn authenticate(&self, request: &Request) -> Authenticated {
        let header = request.headers.get("authorization").or_else(|| {
            self.accepts_authorisation
                .then(|| request.headers.get("authorisation"))
                .flatten()
        });
        let Some(value) = header.and_then(|v| v.to_str().ok()) else {
            return Authenticated::No { bearer: false };
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return if self.access_token_valid(credentials.trim()) {
                Authenticated::Yes
            } else {
                Authenticated::No { bearer: true }
            };
        }
        match basic::decode(value) {
            Some((user, password)) => {
                // Both compared, always, so timing does not tell which one was wrong.
                let user_ok = credential_eq(user.as_bytes(), self.username.as_bytes());
                let password_ok = credential_eq(password.as_bytes(), self.password.as_bytes());
                if user_ok & password_ok {
                    Authenticated::Yes
                } else {
                    Authenticated::No { bearer: false }
                }
            }
            None => Authenticated::No { bearer: false },
        }
    }

    /// Tells whether `token` is an unexpired access token of the realm with a valid signature.
    fn access_token_valid(&self, token: &str) -> bool {
        let now = self.now_unix();
        let checked = if self.accepts_foreign {
            jwt::decode_unverified(token).and_then(|jwt| {
                match jwt.claim("exp").and_then(Value::as_u64) {
                    Some(exp) if now >= exp && !self.accepts_expired => Err(JwtError::Expired {
                        exp: exp as i64,
                        now,
                    }),
                    _ => Ok(jwt),
                }
            })
        } else {
            jwt::verify(token, &self.access_verifier, now)
        };
        let claims = match checked {
            Ok(jwt) => jwt.claims,
            Err(JwtError::Expired { .. }) if self.accepts_expired => {
                match jwt::decode_unverified(token) {
                    Ok(jwt) => jwt.claims,
                    Err(_) => return false,
                }
            }
            Err(_) => return false,
        };
        let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
        claims.get("exp").is_some() && claim("typ") == "Bearer" && claim("iss") == self.issuer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_keycloak_ids() {
        let id = random_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(&id[14..15], "4");
        assert_ne!(random_uuid(), id);
    }

    #[test]
    fn basic_client_parts_are_form_decoded() {
        assert_eq!(form_decode("electrum%2Bclient"), "electrum+client");
        assert_eq!(form_decode("secret+with+spaces"), "secret with spaces");
        assert_eq!(form_decode("plain"), "plain");
        // Not form-encoded at all: taken as it is rather than split.
        assert_eq!(form_decode("a=b&c"), "a=b&c");
        assert_eq!(form_decode(""), "");
    }

    #[test]
    fn form_params_keep_repeats() {
        let params = form_params(b"grant_type=password&scope=a&scope=b&x");
        assert_eq!(first(&params, "grant_type"), Some("password"));
        assert_eq!(params["scope"].len(), 2);
        assert_eq!(first(&params, "x"), Some(""));
        assert_eq!(first(&params, "missing"), None);
        // Invalid UTF-8 and stray percent signs never panic.
        let params = form_params(b"a=%ff%fe&b=%&c=%zz");
        assert_eq!(params.len(), 3);
    }

    fn mock(deviations: &[&str]) -> Electrum {
        let access_key = SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM).unwrap();
        let refresh_key = SigningKey::hs256(b"refresh-key-for-unit-tests-000000");
        Electrum {
            issuer: format!("http://127.0.0.1:1/auth/realms/{REALM}"),
            username: "user".into(),
            password: "pass".into(),
            client_id: "client".into(),
            client_secret: "secret".into(),
            clock: Arc::new(VirtualClock::new()),
            access_verifier: access_key.verifying_key(),
            access_key,
            refresh_verifier: refresh_key.verifying_key(),
            refresh_key,
            sessions: Mutex::new(HashMap::new()),
            answers_unallowlisted: false,
            accepts_expired: deviations.contains(&"accepts-expired-tokens"),
            accepts_foreign: deviations.contains(&"accepts-foreign-tokens"),
            accepts_authorisation: false,
            refresh_never_expires: deviations.contains(&"refresh-never-expires"),
            rfc_status_for_bad_user: false,
            rfc_error_for_bad_client: false,
            omits_no_store: false,
        }
    }

    fn password_login(electrum: &Electrum) -> (String, String) {
        let params = form_params(b"grant_type=password&username=user&password=pass");
        let _ = electrum.password_grant(&params);
        let session = electrum.sessions().keys().next().cloned().unwrap();
        let now = electrum.now_unix();
        let claims = |typ: &str, exp: u64| {
            json!({"exp": exp, "iat": now, "iss": electrum.issuer, "typ": typ,
                   "azp": "client", "session_state": session})
        };
        let access = jwt::sign(
            &claims("Bearer", now + ACCESS_TTL_SECONDS),
            &electrum.access_key,
        )
        .unwrap();
        let refresh = jwt::sign(
            &claims("Refresh", now + REFRESH_TTL_SECONDS),
            &electrum.refresh_key,
        )
        .unwrap();
        (access, refresh)
    }

    async fn started(deviations: &[&str]) -> RunningMock {
        let secrets = [
            ("username", "user"),
            ("password", "pass"),
            ("client_id", "client"),
            ("client_secret", "secret"),
        ];
        start(MockConfig {
            clock: Arc::new(VirtualClock::new()),
            secrets: secrets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn hosts_keep_their_own_paths_and_unknown_realms_are_404() {
        let mock = started(&[]).await;
        let (auth, api) = (mock.url("auth").unwrap(), mock.url("api").unwrap());
        let client = reqwest::Client::new();
        let token_path = format!("/auth/realms/{REALM}/protocol/openid-connect/token");
        let form =
            "grant_type=password&username=user&password=pass&client_id=client&client_secret=secret";
        let post = |url: String| {
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
        };
        let ok = post(format!("{auth}{token_path}")).await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["cache-control"], "no-store");
        // The token endpoint is not on the API host, nor the API on the token host.
        assert_eq!(
            post(format!("{api}{token_path}")).await.unwrap().status(),
            404
        );
        let lookup = client
            .get(format!("{auth}/moneytransfer/v2/orders?receiverId=1"))
            .basic_auth("user", Some("pass"))
            .send()
            .await
            .unwrap();
        assert_eq!(lookup.status(), 404);
        let unknown = post(format!(
            "{auth}/auth/realms/Other-Realm/protocol/openid-connect/token"
        ))
        .await
        .unwrap();
        assert_eq!(unknown.status(), 404);
        assert_eq!(
            unknown.text().await.unwrap(),
            r#"{"error":"Realm does not exist"}"#
        );
    }

    #[tokio::test]
    async fn keycloak_client_and_request_errors() {
        let mock = started(&[]).await;
        let url = format!(
            "{}/auth/realms/{REALM}/protocol/openid-connect/token",
            mock.url("auth").unwrap()
        );
        let client = reqwest::Client::new();
        let send = |body: &'static str, basic: Option<(&'static str, &'static str)>| {
            let mut request = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some((id, secret)) = basic {
                request = request.basic_auth(id, Some(secret));
            }
            async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let no_store = response.headers().get("cache-control").is_some();
                let challenge = response.headers().get("www-authenticate").is_some();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (
                    status,
                    body["error"].as_str().unwrap_or("").to_owned(),
                    no_store,
                    challenge,
                )
            }
        };
        let user = "grant_type=password&username=user&password=pass";
        // Basic client authentication is accepted too.
        assert_eq!(send(user, Some(("client", "secret"))).await.0, 200);
        assert_eq!(
            send(user, Some(("client", "wrong"))).await,
            (401, "unauthorized_client".into(), true, false)
        );
        assert_eq!(
            send("grant_type=password&username=user&password=pass&client_id=client&client_secret=secret&scope=a&scope=b", None).await.1,
            "invalid_request"
        );
        assert_eq!(
            send(
                "grant_type=password&password=pass&client_id=client&client_secret=secret",
                None
            )
            .await,
            (401, "invalid_request".into(), true, false)
        );
        assert_eq!(
            send(
                "grant_type=refresh_token&client_id=client&client_secret=secret",
                None
            )
            .await,
            (400, "invalid_request".into(), true, false)
        );
        assert_eq!(
            send(
                "grant_type=client_credentials&client_id=client&client_secret=secret",
                None
            )
            .await
            .1,
            "unauthorized_client"
        );
        // Unknown grant types are refused before the client is even looked at.
        assert_eq!(
            send("grant_type=urn:x", None).await,
            (400, "unsupported_grant_type".into(), true, false)
        );
    }

    #[test]
    fn access_tokens_expire_on_the_virtual_clock() {
        let electrum = mock(&[]);
        let (access, _) = password_login(&electrum);
        assert!(electrum.access_token_valid(&access));
        electrum
            .clock
            .advance(Duration::from_secs(ACCESS_TTL_SECONDS - 2));
        assert!(electrum.access_token_valid(&access));
        electrum.clock.advance(Duration::from_secs(3));
        assert!(!electrum.access_token_valid(&access));
        assert!(mock(&["accepts-expired-tokens"]).access_token_valid(&access));
    }

    #[test]
    fn tokens_of_other_keys_or_types_are_refused() {
        let electrum = mock(&[]);
        let (access, refresh) = password_login(&electrum);
        let foreign = jwt::forge(
            &access,
            &jwt::Forgery::WrongKey(
                SigningKey::rs256_pem(jwt::TEST_RS256_OTHER_PRIVATE_PEM).unwrap(),
            ),
        )
        .unwrap();
        let tampered = jwt::forge(&access, &jwt::Forgery::AlteredSignature).unwrap();
        let unsigned = jwt::forge(&access, &jwt::Forgery::AlgNone).unwrap();
        for token in [
            &foreign,
            &tampered,
            &unsigned,
            &refresh,
            "",
            "a.b.c",
            "not a token",
        ] {
            assert!(!electrum.access_token_valid(token), "{token}");
        }
        let lax = mock(&["accepts-foreign-tokens"]);
        assert!(lax.access_token_valid(&foreign));
        assert!(
            !lax.access_token_valid(&refresh),
            "a refresh token is never an access token"
        );
    }

    #[test]
    fn refresh_restarts_the_idle_timeout_until_the_session_maximum() {
        let electrum = mock(&[]);
        let (_, refresh) = password_login(&electrum);
        let params = |token: &str| form_params(format!("refresh_token={token}").as_bytes());
        let mut token = refresh;
        // Refreshing every 5000 s keeps the session alive, each time for another 5400 s, until
        // SSO Session Max caps it: at 35 000 s only 1000 s are left.
        let mut remaining_after_each = Vec::new();
        for _ in 0..7 {
            electrum.clock.advance(Duration::from_secs(5000));
            let session = electrum.sessions().keys().next().cloned().unwrap();
            let _ = electrum.refresh_grant(&params(&token));
            let now = electrum.now_unix();
            let remaining = electrum.sessions()[&session]
                .idle_until
                .duration_since(electrum.clock.now())
                .map_or(0, |d| d.as_secs());
            remaining_after_each.push(remaining);
            token = jwt::sign(
                &json!({"exp": now + remaining, "iat": now, "iss": electrum.issuer,
                        "typ": "Refresh", "azp": "client", "session_state": session}),
                &electrum.refresh_key,
            )
            .unwrap();
        }
        assert_eq!(
            remaining_after_each,
            [5400, 5400, 5400, 5400, 5400, 5400, 1000]
        );
    }

    #[test]
    fn refresh_expiry_and_its_deviation() {
        let electrum = mock(&[]);
        let (_, refresh) = password_login(&electrum);
        electrum
            .clock
            .advance(Duration::from_secs(REFRESH_TTL_SECONDS + 1));
        let _ = electrum.refresh_grant(&form_params(format!("refresh_token={refresh}").as_bytes()));
        assert_eq!(
            electrum.sessions().len(),
            1,
            "an expired token is refused before the session is looked at"
        );
        let lax = mock(&["refresh-never-expires"]);
        let (_, refresh) = password_login(&lax);
        lax.clock
            .advance(Duration::from_secs(10 * SESSION_MAX_SECONDS));
        let _ = lax.refresh_grant(&form_params(format!("refresh_token={refresh}").as_bytes()));
        let session = lax
            .sessions()
            .values()
            .next()
            .map(|s| s.idle_until)
            .unwrap();
        assert!(
            session > lax.clock.now(),
            "the deviation kept the session alive"
        );
    }

    #[test]
    fn malformed_requests_never_panic() {
        let electrum = mock(&[]);
        for body in [
            &b""[..],
            b"grant_type=refresh_token",
            b"grant_type=refresh_token&refresh_token=%ff",
            b"grant_type=refresh_token&refresh_token=a.b.c",
            b"grant_type=password&username=%ff&password",
        ] {
            let params = form_params(body);
            let _ = electrum.refresh_grant(&params);
            let _ = electrum.password_grant(&params);
        }
        for token in ["", ".", "..", "a.b.c.d", "eyJhbGciOiJub25lIn0.e30."] {
            assert!(!electrum.access_token_valid(token));
        }
    }
}
