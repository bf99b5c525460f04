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
//! The token endpoint is the kit's [`TokenEndpoint`] with Keycloak's order of checks and its
//! departures from RFC 6749 (its [`TokenProvider::refuse`]); an unknown realm is a lower-priority
//! mock on the realms' path pattern.
//!
//! [`DEVIATIONS`] each switch one documented behaviour off, so tests can prove the scenarios catch
//! it. Nothing a request carries is logged; secrets are compared with [`credential_eq`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use strum::VariantNames as _;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::kit::request::{self, FormParams, pair_eq, peer_other_than};
use super::kit::{
    Challenge, Check, ClientAuth, Deviations, IdFormat, NoStore, ReplyExt as _, TokenEndpoint,
    TokenPolicy, TokenProvider, TokenRefusal, TokenReply, TokenRequest, json as json_reply,
    oauth_error, random_id,
};
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::basic;
use crate::auth::jwt::{self, JwtError, SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The Electrum mock's hosts.
pub const HOSTS: &[&str] = &["auth", "api"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    /// Both hosts answer unallowlisted sources with 403 instead of dropping the connection.
    AnswersUnallowlisted,
    /// The API accepts access tokens past their `exp`.
    AcceptsExpiredTokens,
    /// The API skips the access token's signature check (tampered and foreign tokens pass).
    AcceptsForeignTokens,
    /// The API reads credentials from the misspelt `Authorisation` header when `Authorization`
    /// is absent.
    AcceptsAuthorisationSpelling,
    /// Refresh tokens and sessions never expire.
    RefreshNeverExpires,
    /// Wrong user credentials get RFC 6749's default 400 instead of Keycloak's 401.
    RfcStatusForBadUser,
    /// A missing or wrong client secret gets RFC 6749's `invalid_client` with a
    /// `WWW-Authenticate: Basic` challenge instead of Keycloak's `unauthorized_client` without
    /// one.
    RfcErrorForBadClient,
    /// Token responses carry no `Cache-Control: no-store` / `Pragma: no-cache`.
    OmitsNoStore,
    /// A refresh grant with the client id but no client secret is answered as if the client had
    /// authenticated: anyone holding a refresh token can refresh it.
    RefreshesWithoutClientSecret,
    /// The allowlist entry is applied one prefix bit short (`127.0.0.1/32` as `127.0.0.0/31`),
    /// so the address just before the allowlisted one is answered too.
    AllowlistPrefixOneShort,
    /// The token endpoint takes the first of a repeated parameter instead of refusing the
    /// request (Keycloak's `checkParameterDuplicated` answers 400 `invalid_request`).
    AcceptsRepeatedParameters,
}

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Conformant variants: other choices where Electrum's documentation is silent, which the
/// scenarios must not take for non-conformance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Conformant {
    /// The API's 401 has an empty body (Electrum: unsuccessful responses "may contain an empty
    /// response body and therefore no ErrorDetail object").
    EmptyRefusalBodies,
    /// Keycloak 17 and later: the token endpoint has no `/auth` prefix, and neither has the
    /// issuer. Conforms with a target whose `keycloak_path` is empty.
    #[strum(serialize = "keycloak-17-paths")]
    Keycloak17Paths,
}

/// The names of [`Conformant`], for the registry.
pub const CONFORMANT: &[&str] = Conformant::VARIANTS;

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

/// The one allowlisted source (`allowlist` in `targets/mock.yaml`: `127.0.0.1/32`).
const ALLOWLISTED: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The other address of the allowlisted one's /31, admitted under `allowlist-prefix-one-short`.
const ALLOWLISTED_PREFIX_NEIGHBOUR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0));

/// The wiremock priority of the unknown-realm answer: below the served realm's token endpoint
/// (the same path pattern matches both).
const UNKNOWN_REALM_PRIORITY: u8 = 10;

/// Starts the Electrum provider.
///
/// Both hosts share one wiremock server behind two fronts; each route matches only the `Host`
/// its front was reached by, so a path of one host is unknown (404) on the other, as with two
/// servers, at half the threads.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let deviations = Deviations::<Deviation>::from_config_among(&config, CONFORMANT)?;
    let conformant = Deviations::<Conformant>::from_config_among(&config, DEVIATIONS)?;
    let server = MockServer::builder().start().await;
    let answers_unallowlisted = deviations.has(Deviation::AnswersUnallowlisted);
    let prefix_one_short = deviations.has(Deviation::AllowlistPrefixOneShort);
    let policy: front::PolicyFn = if answers_unallowlisted {
        Arc::new(|_| SourcePolicy::Allow)
    } else {
        Arc::new(move |ip| {
            if ip == ALLOWLISTED || (prefix_one_short && ip == ALLOWLISTED_PREFIX_NEIGHBOUR) {
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
    let refresh_key = SigningKey::hs256(&super::kit::ids::random_bytes(32));
    let no_store = if deviations.has(Deviation::OmitsNoStore) {
        NoStore::Never
    } else {
        // Keycloak sets both before any check, so refusals carry them too.
        NoStore::Always
    };
    // Keycloak dropped the `/auth` context path in version 17.
    let keycloak_path = if conformant.has(Conformant::Keycloak17Paths) {
        ""
    } else {
        "/auth"
    };
    let electrum = Arc::new(Electrum {
        issuer: format!("{}{keycloak_path}/realms/{REALM}", auth.url()),
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
        token_policy: keycloak_token_policy(
            no_store,
            deviations.has(Deviation::AcceptsRepeatedParameters),
        ),
        deviations,
        conformant,
    });
    if answers_unallowlisted {
        // The fronts forward every source under this deviation; this answers the others before
        // any route does.
        Mock::given(peer_other_than(ALLOWLISTED))
            .respond_with(json_reply(
                403,
                json!({"errorType": "AUTHENTICATION_ERROR", "errorMessage": "source address not allowed"}),
            ))
            .with_priority(1)
            .mount(&server)
            .await;
    }
    let auth_host = auth.addr().to_string();
    Mock::given(method("POST"))
        .and(header("host", auth_host.as_str()))
        .and(path(format!(
            "{keycloak_path}/realms/{REALM}/protocol/openid-connect/token"
        )))
        .respond_with(Tokens(electrum.clone()))
        .mount(&server)
        .await;
    let unknown_realm = json_reply(404, json!({"error": "Realm does not exist"}));
    Mock::given(method("POST"))
        .and(header("host", auth_host.as_str()))
        .and(path_regex(format!(
            r"^{keycloak_path}/realms/[^/]+/protocol/openid-connect/token$"
        )))
        .respond_with(match no_store {
            NoStore::Always => unknown_realm.no_store(),
            NoStore::OnSuccess | NoStore::Never => unknown_realm,
        })
        .with_priority(UNKNOWN_REALM_PRIORITY)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("host", api.addr().to_string().as_str()))
        .and(path("/moneytransfer/v2/orders"))
        .respond_with(Orders(electrum))
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

/// Keycloak's token endpoint (`TokenEndpoint.processGrantRequest`): `grant_type` first, then the
/// client (`ClientIdAndSecretAuthenticator`: Basic with form-urlencoded parts, or the body), then
/// repeated parameters (unless `accepts_repeated`, a lenient variant taking the first of each).
fn keycloak_token_policy(no_store: NoStore, accepts_repeated: bool) -> TokenPolicy {
    let mut checks = vec![Check::GrantType, Check::Client];
    if !accepts_repeated {
        checks.push(Check::RepeatedParameters);
    }
    TokenPolicy {
        realm: REALM.to_owned(),
        client_auth: ClientAuth::BASIC_OR_POST,
        checks,
        grant_types: vec![
            "password",
            "refresh_token",
            "client_credentials",
            "authorization_code",
        ],
        no_store,
    }
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
    token_policy: TokenPolicy,
    deviations: Deviations<Deviation>,
    conformant: Deviations<Conformant>,
}

/// A user session, as Keycloak keeps one per password login.
struct Session {
    /// Ends unless refreshed before (SSO Session Idle).
    idle_until: SystemTime,
    /// Ends however often it is refreshed (SSO Session Max).
    max_until: SystemTime,
}

/// An Electrum `ErrorDetail` body.
fn error_detail(status: u16, error_type: &str, message: &str) -> ResponseTemplate {
    json_reply(
        status,
        json!({"errorType": error_type, "errorMessage": message}),
    )
}

/// A Keycloak `OAuth2ErrorRepresentation`, as a refused grant.
fn refused(status: u16, error: &str, description: &str) -> TokenReply {
    TokenReply::Refused(oauth_error(status, error, description))
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `POST /auth/realms/{realm}/protocol/openid-connect/token`.
impl TokenProvider for Electrum {
    fn policy(&self) -> &TokenPolicy {
        &self.token_policy
    }

    fn client_matches(&self, id: &str, secret: &str) -> bool {
        pair_eq((id, secret), (&self.client_id, &self.client_secret))
    }

    /// Keycloak's refusals, which depart from RFC 6749 §5.2: no client id is 400
    /// `invalid_client`; a wrong or missing secret 401 `unauthorized_client` without a challenge.
    fn refuse(&self, refusal: TokenRefusal<'_>) -> ResponseTemplate {
        let challenge = Challenge::basic(REALM);
        match refusal {
            TokenRefusal::MissingGrantType => {
                oauth_error(400, "invalid_request", "Missing form parameter: grant_type")
            }
            TokenRefusal::UnsupportedGrantType(_) => {
                oauth_error(400, "unsupported_grant_type", "Unsupported grant_type")
            }
            TokenRefusal::MalformedClientHeader => {
                ResponseTemplate::new(401).with_challenge(&challenge)
            }
            TokenRefusal::MissingClient => {
                oauth_error(400, "invalid_client", "Missing client_id parameter")
            }
            TokenRefusal::InvalidClient { .. }
                if self.deviates(Deviation::RfcErrorForBadClient) =>
            {
                oauth_error(401, "invalid_client", "Client authentication failed")
                    .with_challenge(&challenge)
            }
            TokenRefusal::InvalidClient { .. } => oauth_error(
                401,
                "unauthorized_client",
                "Invalid client or Invalid client credentials",
            ),
            TokenRefusal::RepeatedParameter(_) => {
                oauth_error(400, "invalid_request", "duplicated parameter")
            }
            TokenRefusal::SeveralClientAuthMethods => oauth_error(
                400,
                "invalid_request",
                "the client used more than one authentication method",
            ),
        }
    }

    fn grant(&self, grant_type: &str, request: &TokenRequest<'_>) -> TokenReply {
        let form = &request.form;
        match grant_type {
            "password" => self.password_grant(form),
            "refresh_token" => self.refresh_grant(form),
            "client_credentials" => refused(
                400,
                "unauthorized_client",
                "Client not enabled to retrieve service account",
            ),
            _ if form.first("code").is_none() => {
                refused(400, "invalid_request", "Missing parameter: code")
            }
            _ => refused(400, "invalid_grant", "Code not valid"),
        }
    }
}

/// The token endpoint: the kit's [`TokenEndpoint`], except that with
/// [`Deviation::RefreshesWithoutClientSecret`] a refresh grant goes through on the client id alone.
struct Tokens(Arc<Electrum>);

impl Respond for Tokens {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let electrum = &*self.0;
        if electrum.deviates(Deviation::RefreshesWithoutClientSecret) {
            let form = FormParams::parse(&request.body);
            let refresh_by_id_alone = form.first("grant_type") == Some("refresh_token")
                && form.first("client_secret").is_none()
                && !request.headers.contains_key("authorization")
                && form
                    .first("client_id")
                    .is_some_and(|id| credential_eq(id.as_bytes(), electrum.client_id.as_bytes()));
            if refresh_by_id_alone {
                return match electrum.refresh_grant(&form) {
                    TokenReply::Issued(body) => json_reply(200, body).no_store(),
                    TokenReply::Refused(refusal) => refusal,
                };
            }
        }
        TokenEndpoint::new(self.0.clone()).respond(request)
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

    fn deviates(&self, deviation: Deviation) -> bool {
        self.deviations.has(deviation)
    }

    fn now_unix(&self) -> u64 {
        unix(self.clock.now())
    }

    /// The password grant (Keycloak's direct access grant).
    fn password_grant(&self, form: &FormParams) -> TokenReply {
        let Some(username) = form.first("username") else {
            return refused(401, "invalid_request", "Missing parameter: username");
        };
        let password = form.first("password");
        let user_ok = pair_eq(
            (username, password.unwrap_or_default()),
            (&self.username, &self.password),
        );
        if !(user_ok && password.is_some()) {
            let status = if self.deviates(Deviation::RfcStatusForBadUser) {
                400
            } else {
                401
            };
            return refused(status, "invalid_grant", "Invalid user credentials");
        }
        let now = self.clock.now();
        let session_state = random_id(IdFormat::UuidV4);
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
    fn refresh_grant(&self, form: &FormParams) -> TokenReply {
        let Some(token) = form.first("refresh_token") else {
            return refused(400, "invalid_request", "No refresh token");
        };
        let never_expires = self.deviates(Deviation::RefreshNeverExpires);
        let now_unix = self.now_unix();
        let claims = match jwt::verify(token, &self.refresh_verifier, now_unix) {
            Ok(jwt) => jwt.claims,
            Err(JwtError::Expired { .. }) if never_expires => match jwt::decode_unverified(token) {
                Ok(jwt) => jwt.claims,
                Err(_) => return refused(400, "invalid_grant", "Invalid refresh token"),
            },
            Err(JwtError::Expired { .. }) => {
                return refused(400, "invalid_grant", "Token is not active");
            }
            Err(_) => return refused(400, "invalid_grant", "Invalid refresh token"),
        };
        let claim = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
        if claim("typ") != "Refresh" || claim("iss") != self.issuer {
            return refused(400, "invalid_grant", "Invalid refresh token");
        }
        // Only the mock's own client exists, and it authenticated already; still compare, so a
        // token issued to another client could never pass.
        if !credential_eq(claim("azp").as_bytes(), self.client_id.as_bytes()) {
            return refused(
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
                return refused(400, "invalid_grant", "Session not active");
            };
            let alive = now < session.idle_until && now < session.max_until;
            if !alive && !never_expires {
                sessions.remove(&session_state);
                return refused(400, "invalid_grant", "Token is not active");
            }
            let idle = now + Duration::from_secs(REFRESH_TTL_SECONDS);
            session.idle_until = if never_expires {
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
    fn issue(&self, session_state: &str, refresh_ttl: u64) -> TokenReply {
        let now = self.now_unix();
        let common = |typ: &str, exp: u64| {
            json!({
                "exp": exp,
                "iat": now,
                "jti": random_id(IdFormat::UuidV4),
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
            return refused(500, "unknown_error", "token signing failed");
        };
        TokenReply::Issued(json!({
            "access_token": access,
            "expires_in": ACCESS_TTL_SECONDS,
            "refresh_expires_in": refresh_ttl,
            "refresh_token": refresh,
            "token_type": "bearer",
            "not-before-policy": 0,
            "session_state": session_state,
            "scope": SCOPE,
        }))
    }

    /// Authenticates an API request from its `Authorization` header alone.
    fn authenticate(&self, request: &Request) -> Authenticated {
        let header = request.headers.get("authorization").or_else(|| {
            self.deviates(Deviation::AcceptsAuthorisationSpelling)
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
            Some((user, password))
                if pair_eq((&user, &password), (&self.username, &self.password)) =>
            {
                Authenticated::Yes
            }
            _ => Authenticated::No { bearer: false },
        }
    }

    /// Tells whether `token` is an unexpired access token of the realm with a valid signature.
    fn access_token_valid(&self, token: &str) -> bool {
        let now = self.now_unix();
        let accepts_expired = self.deviates(Deviation::AcceptsExpiredTokens);
        let checked = if self.deviates(Deviation::AcceptsForeignTokens) {
            jwt::decode_unverified(token).and_then(|jwt| {
                match jwt.claim("exp").and_then(Value::as_u64) {
                    Some(exp) if now >= exp && !accepts_expired => Err(JwtError::Expired {
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
            Err(JwtError::Expired { .. }) if accepts_expired => {
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

/// `GET /moneytransfer/v2/orders` (lookupOrder).
struct Orders(Arc<Electrum>);

impl Respond for Orders {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        if let Authenticated::No { bearer } = self.0.authenticate(request) {
            let challenge = if bearer {
                Challenge::bearer(REALM).error("invalid_token", "Token is not active")
            } else {
                Challenge::basic("electrum").charset_utf8()
            };
            let refusal = if self.0.conformant.has(Conformant::EmptyRefusalBodies) {
                ResponseTemplate::new(401)
            } else {
                error_detail(401, "AUTHENTICATION_ERROR", "Authentication failed")
            };
            return refusal.with_challenge(&challenge);
        }
        let query = request::query(request);
        let Some(receiver_id) = query.get("receiverId").filter(|v| !v.is_empty()) else {
            return error_detail(400, "FORMAT_ERROR", "receiverId is required");
        };
        let redeem_ref = query
            .get("orderRedeemRef")
            .or_else(|| query.get("remittanceRef"))
            .cloned()
            .unwrap_or_default();
        json_reply(
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the registry, `tests/deviations_electrum.rs` and targets use.
    #[test]
    fn deviation_names_are_the_documented_ones() {
        assert_eq!(
            DEVIATIONS,
            [
                "answers-unallowlisted",
                "accepts-expired-tokens",
                "accepts-foreign-tokens",
                "accepts-authorisation-spelling",
                "refresh-never-expires",
                "rfc-status-for-bad-user",
                "rfc-error-for-bad-client",
                "omits-no-store",
                "refreshes-without-client-secret",
                "allowlist-prefix-one-short",
                "accepts-repeated-parameters",
            ]
        );
    }

    /// The allowlist the mock enforces is the one the mock target gives its scenarios.
    #[test]
    fn the_allowlist_is_the_mock_targets() {
        let target = crate::target::Target::mock();
        let variables = &target.providers["electrum"].variables;
        assert_eq!(variables["allowlist"], format!("{ALLOWLISTED}/32"));
        let net: ipnet::Ipv4Net = "127.0.0.1/31".parse().unwrap();
        assert!(net.trunc().contains(&Ipv4Addr::new(127, 0, 0, 0)));
        assert_eq!(
            ALLOWLISTED_PREFIX_NEIGHBOUR,
            IpAddr::V4(net.trunc().network())
        );
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
            token_policy: keycloak_token_policy(NoStore::Always, false),
            deviations: Deviations::parse(deviations.iter().copied()).unwrap(),
            conformant: Deviations::none(),
        }
    }

    fn password_login(electrum: &Electrum) -> (String, String) {
        let params = FormParams::parse(b"grant_type=password&username=user&password=pass");
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

    /// An `Authorization` header that is not Basic, without a client in the body, is Keycloak's
    /// bare 401 with a challenge; the unknown-realm answer follows the no-store rule too.
    #[tokio::test]
    async fn unusable_client_headers_and_unknown_realms() {
        let token_url = |mock: &RunningMock, realm: &str| {
            format!(
                "{}/auth/realms/{realm}/protocol/openid-connect/token",
                mock.url("auth").unwrap()
            )
        };
        let client = reqwest::Client::new();
        let mock = started(&[]).await;
        let response = client
            .post(token_url(&mock, REALM))
            .header("authorization", "Bearer abc")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&username=user&password=pass")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["www-authenticate"],
            format!("Basic realm=\"{REALM}\"").as_str()
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.text().await.unwrap(), "");
        for (deviations, no_store) in [(&[][..], true), (&["omits-no-store"][..], false)] {
            let mock = started(deviations).await;
            let response = client.post(token_url(&mock, "other")).send().await.unwrap();
            assert_eq!(response.status(), 404);
            assert_eq!(
                response.headers().contains_key("cache-control"),
                no_store,
                "{deviations:?}"
            );
        }
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
        let params = |token: &str| FormParams::parse(format!("refresh_token={token}").as_bytes());
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
        let _ = electrum.refresh_grant(&FormParams::parse(
            format!("refresh_token={refresh}").as_bytes(),
        ));
        assert_eq!(
            electrum.sessions().len(),
            1,
            "an expired token is refused before the session is looked at"
        );
        let lax = mock(&["refresh-never-expires"]);
        let (_, refresh) = password_login(&lax);
        lax.clock
            .advance(Duration::from_secs(10 * SESSION_MAX_SECONDS));
        let _ = lax.refresh_grant(&FormParams::parse(
            format!("refresh_token={refresh}").as_bytes(),
        ));
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
            let params = FormParams::parse(body);
            let _ = electrum.refresh_grant(&params);
            let _ = electrum.password_grant(&params);
        }
        for token in ["", ".", "..", "a.b.c.d", "eyJhbGciOiJub25lIn0.e30."] {
            assert!(!electrum.access_token_valid(token));
        }
    }
}
