//! The We.Platform provider (Waves Enterprise): a node in each of its two authorization modes and
//! the separate authorization service that issues the JWTs the oauth2-mode node accepts. Its
//! requirements are in `specs/we-platform.yaml`.
//!
//! Three hosts, open to every source (We.Platform documents no allowlist), served by one wiremock
//! server behind three fronts; each route matches only the `Host` of its front:
//!
//! ```text
//! node (api-key)  POST /utils/hash/secure         raw body      200 {message, hash}   (no auth)
//!                 POST /utils/reload-wallet       X-API-Key     200 | 403 {"error": 2, …}
//!                 GET  /consensus/settings        X-API-Key     200 | 403 {"error": 2, …}
//!                 GET  /privacy/{policyId}/hashes X-API-Key     200 | 403 {"error": 614, …}
//!                                                 (privacy key)
//! oauth_node      the same routes, `Authorization: Bearer <RS256 JWT>`, roles user / admin /
//!                 admin / privacy:                 401 618 | 401 619 | 400 620 | 403 621 |
//!                                                  401 622 | 403 636
//! auth            POST /v1/user          {login, password, locale, source}   201
//!                 POST /v1/auth/login    {login, password}          200 {access_token,
//!                                                                        refresh_token} | 401
//!                 POST /v1/auth/refresh  {refresh_token}            200 new pair | 401
//!                 POST /v1/auth/token    Bearer (administrator)     200 service pair | 403
//!                 GET  /status                                      200
//! any             anything else                                     404, empty body
//! ```
//!
//! - **api-key mode** (WE-NODE `ApiRoute.checkApiKeyHeader`). The node is configured with
//!   `api-key-hash` and `privacy-api-key-hash` only: the mock hashes the target's `api_key` and
//!   `privacy_api_key` with [`we_platform_key_hash`] when it starts and keeps nothing but the two
//!   hashes. A request's `X-API-Key` value (the header name is matched case-insensitively, as
//!   Akka does) is hashed the same way and compared with the expected hash in constant time. A
//!   wrong or missing key is 403 `{"error": 2, "message": "Provided API key is not correct"}`
//!   on admin routes and 403 error 614 on privacy routes, which take the privacy key only.
//!   `POST /utils/hash/secure` needs no key and answers `{message, hash}` for the raw body.
//! - **oauth2 mode** (WE-NODE `Oauth2Authorization`), in the node's order: no `Bearer`
//!   credentials is 401 error 618; a token that is not an RS256 JWS verifying under the
//!   configured `public-key` (the built-in test key, [`jwt::TEST_RS256_PUBLIC_PEM`], held as the
//!   Base64 SubjectPublicKeyInfo the setting takes) is 401 error 622; an `exp` that is absent or
//!   before now (milliseconds, so the token is still good during its `exp` second) is 401 error
//!   619 (`nbf` is not checked); claims without a `roles` array, or with an `addresses` member
//!   that is not an array, are 400 error 620 (unknown roles and malformed address entries are
//!   dropped). Then the role: a route needing `user` takes any known role, others their own,
//!   else 403 error 621 naming the role as the node's Scala object prints it; `admin` and
//!   `privacy` also need an `addresses` entry of `type: node` (the default) equal to the node
//!   owner's address ([`NODE_OWNER_ADDRESS`]), else 403 error 636.
//! - Node errors are `{"error": <int>, "message": <text>}` and never carry `WWW-Authenticate`.
//! - **Authorization service.** Its request bodies, statuses for refusals, token lifetimes and
//!   refresh semantics are not documented: everything here beyond the paths, the 201 of
//!   registration, the `{access_token, refresh_token}` shape and "administrator only" is the
//!   mock's choice. Bodies are JSON; `login`/`password` as in registration. Registration needs a
//!   login with `@`, a non-empty password, `locale` `en` or `ru` and `source` `license` or
//!   `voting` (else 400), and a login not yet taken (else 409). Two accounts exist from the
//!   start: the service administrator (`admin_login` / `admin_password`) and a user
//!   (`user_login` / `user_password`). A wrong login or password is 401. Access tokens are RS256
//!   JWTs signed with the built-in test key (so the oauth2-mode node accepts them), carrying
//!   `sub`, `roles` (`user`; the administrator also `admin`), empty `addresses`, `iat`, `jti` and
//!   `exp` [`ACCESS_TTL_SECONDS`] after issue on the scenario's clock. Refresh tokens are opaque
//!   and single use: a refresh answers a new pair and the used token stops working (401).
//!   `POST /v1/auth/token` takes the bearer access token of a login (an unknown, forged or
//!   expired one is 401) and answers a service pair to the administrator only; anyone else gets
//!   403.
//!
//! Nothing a request carries is logged; secrets are compared with [`credential_eq`].
//!
//! [`Deviation`]s each switch one documented behaviour off, so tests can prove the scenarios
//! catch it (`tests/deviations_we_platform.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha3::Digest as _;
use strum::VariantNames as _;
use wiremock::matchers::{header, method, path_regex};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::kit::{Deviations, fallback, ids, json as json_reply};
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::api_key::we_platform_key_hash;
use crate::auth::jwt::{self, JwtError, SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The We.Platform mock's hosts.
pub const HOSTS: &[&str] = &["node", "oauth_node", "auth"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    /// The node's secure hash uses SHA3-256 where Keccak-256 belongs (configured hashes and
    /// `/utils/hash/secure` alike, so keys still work).
    WrongHashAlgorithm,
    /// `X-API-Key` also accepts the configured hash itself, as if the docs' "hash value" were the
    /// credential.
    AcceptsKeyHashAsKey,
    /// The node looks the key up under the exact spelling `X-API-Key` only. HTTP/1.1 clients
    /// such as ours send field names in lowercase, so to it every key is missing.
    HeaderNameCaseSensitive,
    /// Privacy routes also take the admin key.
    AdminKeyOnPrivacyRoutes,
    /// Node refusals carry a `WWW-Authenticate` challenge.
    AddsWwwAuthenticate,
    /// A JWT without `exp` is accepted.
    AcceptsTokenWithoutExp,
    /// A JWT past its `exp` is accepted.
    IgnoresExpiry,
    /// HS256 tokens are accepted when their HMAC key is the configured `public-key` text (the
    /// algorithm-confusion attack).
    AcceptsHs256,
    /// `admin` and `privacy` need no node owner's address.
    IgnoresOwnerAddress,
    /// A used refresh token keeps working.
    RefreshNotRotated,
    /// `POST /v1/auth/token` serves any valid access token.
    UserTokenGetsServiceToken,
    /// A login's password is compared over the characters presented only: any leading part of
    /// it (the empty one too) logs in.
    PasswordPrefixAccepted,
    /// Refresh tokens are compared on their first 32 characters only, as if kept in a column of
    /// that width: a live token changed, cut or extended after them still refreshes.
    #[strum(serialize = "refresh-token-cut-to-32")]
    RefreshTokenCutTo32,
}

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Conformant variants: other choices where We.Platform's documentation is silent, which the
/// scenarios must not take for non-conformance (at most for a difference from an assumption).
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Conformant {
    /// The authorization service refuses a wrong login or password with 400 rather than 401:
    /// its documentation gives no status.
    #[strum(serialize = "login-refusal-as-400")]
    LoginRefusalAs400,
    /// The node trusts the key pair the target holds (its `signing_key` secret) rather than the
    /// suite's built-in test key, and the authorization service signs with it: operators generate
    /// their own key pair. Conforms with a target whose `signing_key` and `node_public_key` are
    /// that pair's halves.
    TargetSigningKey,
}

/// The names of [`Conformant`], for the registry.
pub const CONFORMANT: &[&str] = Conformant::VARIANTS;

/// The node owner's address (`node_owner_address` in `targets/mock.yaml`): a fake Base58 address.
pub const NODE_OWNER_ADDRESS: &str = "3NBVqYXrapgJP9atQccdBPAgJPwHDKkh6A8";

/// Lifetime of the authorization service's access tokens, in seconds (not documented).
pub const ACCESS_TTL_SECONDS: u64 = 3600;

/// The login the service tokens of `POST /v1/auth/token` are issued to.
const SERVICE_SUBJECT: &str = "service";

/// Starts the We.Platform provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let server = MockServer::builder().start().await;
    let open: front::PolicyFn = Arc::new(|_| SourcePolicy::Allow);
    let mut fronts = Vec::new();
    for host in HOSTS {
        let started = front::start(*server.address(), open.clone())
            .await
            .map_err(|e| format!("cannot start the front of host `{host}`: {e}"))?;
        fronts.push(started);
    }
    let platform = Arc::new(WePlatform::new(&config)?);
    let node_routes: [(&str, &str, Protection, NodeAnswer); 4] = [
        (
            "POST",
            "^/utils/hash/secure$",
            Protection::None,
            secure_hash_answer,
        ),
        (
            "POST",
            "^/utils/reload-wallet$",
            Protection::Admin,
            wallet_reloaded,
        ),
        (
            "GET",
            "^/consensus/settings$",
            Protection::Admin,
            consensus_settings,
        ),
        (
            "GET",
            "^/privacy/[^/]+/hashes$",
            Protection::Privacy,
            privacy_hashes,
        ),
    ];
    for (node, mode) in [(&fronts[0], Mode::ApiKey), (&fronts[1], Mode::OAuth2)] {
        for (verb, pattern, protection, answer) in node_routes {
            let responder = NodeRoute {
                platform: platform.clone(),
                mode,
                protection,
                answer,
            };
            server
                .register(route(node, verb, pattern).respond_with(responder))
                .await;
        }
    }
    let auth = &fronts[2];
    let auth_routes = [
        route(auth, "POST", "^/v1/user$").respond_with(Register(platform.clone())),
        route(auth, "POST", "^/v1/auth/login$").respond_with(Login(platform.clone())),
        route(auth, "POST", "^/v1/auth/refresh$").respond_with(Refresh(platform.clone())),
        route(auth, "POST", "^/v1/auth/token$").respond_with(ServiceToken(platform)),
        route(auth, "GET", "^/status$").respond_with(json_reply(200, json!({"status": "ok"}))),
        // We.Platform documents no answer for unknown routes, nor for a wrong method on a known one.
        fallback(ResponseTemplate::new(404)),
    ];
    for mock in auth_routes {
        server.register(mock).await;
    }
    let mut urls = HashMap::new();
    for (host, started) in HOSTS.iter().zip(&fronts) {
        urls.insert((*host).to_owned(), started.url());
    }
    let mut servers: Vec<Box<dyn std::any::Any + Send + Sync>> = Vec::new();
    for started in fronts {
        servers.push(Box::new(started));
    }
    servers.push(Box::new(server));
    Ok(RunningMock {
        hosts: urls,
        _servers: servers,
    })
}

/// Matches `verb` requests to the paths `pattern` (a regex) matches, on `host` only: the three
/// hosts share one server, and a request keeps the `Host` its client sent: its front's address.
fn route(host: &front::Front, verb: &str, pattern: &str) -> MockBuilder {
    Mock::given(method(verb))
        .and(header("host", host.addr().to_string().as_str()))
        .and(path_regex(pattern))
}

/// How a node host authorizes: the mode of its `node.api.auth` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    ApiKey,
    OAuth2,
}

/// A JWT role of the node (`AuthRole`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Role {
    User,
    Privacy,
    Admin,
    ConfidentialContracts,
}

impl Role {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "privacy" => Some(Self::Privacy),
            "admin" => Some(Self::Admin),
            "confidential_contracts" => Some(Self::ConfidentialContracts),
            _ => None,
        }
    }

    /// The role as `NoRequiredAuthRole` prints it: the Scala case object's name.
    fn object_name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Privacy => "PrivacyUser",
            Self::Admin => "Administrator",
            Self::ConfidentialContracts => "ConfidentialContractsUser",
        }
    }
}

/// A node authorization error (`ApiError`): status, `error` code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeError {
    ApiKeyNotValid,
    PrivacyApiKeyNotValid,
    MissingAuthorization,
    TokenExpired,
    CantParseClaims,
    NoRequiredRole(Role),
    InvalidToken,
    InvalidNodeOwner,
}

impl NodeError {
    fn status(self) -> u16 {
        match self {
            Self::ApiKeyNotValid
            | Self::PrivacyApiKeyNotValid
            | Self::NoRequiredRole(_)
            | Self::InvalidNodeOwner => 403,
            Self::MissingAuthorization | Self::TokenExpired | Self::InvalidToken => 401,
            Self::CantParseClaims => 400,
        }
    }

    fn code(self) -> u16 {
        match self {
            Self::ApiKeyNotValid => 2,
            Self::PrivacyApiKeyNotValid => 614,
            Self::MissingAuthorization => 618,
            Self::TokenExpired => 619,
            Self::CantParseClaims => 620,
            Self::NoRequiredRole(_) => 621,
            Self::InvalidToken => 622,
            Self::InvalidNodeOwner => 636,
        }
    }

    fn message(self) -> String {
        match self {
            Self::ApiKeyNotValid => "Provided API key is not correct".into(),
            Self::PrivacyApiKeyNotValid => "Provided privacy API key is not correct".into(),
            Self::MissingAuthorization => {
                "Authorization error. Missing authorization metadata".into()
            }
            Self::TokenExpired => "Authorization error. Token expired".into(),
            Self::CantParseClaims => "Authorization error. Can't parse JWT token claims".into(),
            // The trailing space is the node's.
            Self::NoRequiredRole(role) => format!(
                "Authorization error. No expected role '{}' ",
                role.object_name()
            ),
            Self::InvalidToken => "Authorization error. Invalid token".into(),
            Self::InvalidNodeOwner => "Authorization error. Invalid node owner address".into(),
        }
    }
}

/// The node's secure hash, or the deviation's SHA3-256 stand-in.
fn secure_hash(input: &str, wrong_algorithm: bool) -> String {
    if wrong_algorithm {
        let blake = blake2::Blake2b::<blake2::digest::consts::U32>::digest(input.as_bytes());
        bs58::encode(sha3::Sha3_256::digest(blake)).into_string()
    } else {
        we_platform_key_hash(input)
    }
}

/// Returns the node's `public-key` setting and the authorization service's signing key: the
/// built-in test pair, or under [`Conformant::TargetSigningKey`] the pair of the target's `signing_key` (PKCS#8
/// PEM), whose public half is the target's `node_public_key`.
fn node_key_pair(
    config: &MockConfig,
    conformant: &Deviations<Conformant>,
) -> Result<(String, SigningKey), String> {
    use aws_lc_rs::encoding::AsDer as _;
    use aws_lc_rs::signature::KeyPair as _;
    use rustls_pki_types::pem::PemObject as _;

    if !conformant.has(Conformant::TargetSigningKey) {
        return Ok((configured_public_key(), service_key()?));
    }
    let pem = config.secret("signing_key")?;
    let unreadable =
        || "the target's `signing_key` is not an RSA private key (PKCS#8 PEM)".to_owned();
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| unreadable())?;
    let pair =
        aws_lc_rs::rsa::KeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(|_| unreadable())?;
    let spki = pair.public_key().as_der().map_err(|_| unreadable())?;
    let signing = SigningKey::rs256_pem(&pem).map_err(|_| unreadable())?;
    Ok((STANDARD.encode(spki.as_ref()), signing))
}

/// The node's `public-key` setting: Base64 of the test key's SubjectPublicKeyInfo, the PEM body.
fn configured_public_key() -> String {
    jwt::TEST_RS256_PUBLIC_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// Returns the authorization service's RS256 signing key (the built-in test key), parsed once.
fn service_key() -> Result<SigningKey, String> {
    static KEY: OnceLock<Result<SigningKey, String>> = OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM)
            .map_err(|e| format!("cannot load the authorization service's signing key: {e}"))
    })
    .clone()
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unix_millis(time: SystemTime) -> u128 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// An authorization service refusal (its error shape is not documented).
fn service_error(status: u16, message: &str) -> ResponseTemplate {
    json_reply(status, json!({"message": message}))
}

/// Returns the token of `Authorization: Bearer <token>`, as Akka's `OAuth2BearerToken` would
/// yield it: scheme matched case-insensitively, token non-empty.
fn bearer_token(authorization: Option<&[u8]>) -> Option<&str> {
    let value = std::str::from_utf8(authorization?).ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the node reads from verified claims (its `JwtContent`).
#[derive(Debug)]
struct JwtContent {
    roles: HashSet<Role>,
    /// `(address, type)` of each well-formed `addresses` entry.
    addresses: Vec<(String, String)>,
}

impl JwtContent {
    /// Reads claims as the node's `Reads` do: `roles` must be an array (unknown entries
    /// dropped); `addresses`, when present, an array (malformed entries dropped, `type` defaulting
    /// to `node`).
    fn read(claims: &Value) -> Result<Self, NodeError> {
        let roles = claims
            .get("roles")
            .and_then(Value::as_array)
            .ok_or(NodeError::CantParseClaims)?
            .iter()
            .filter_map(|r| r.as_str().and_then(Role::parse))
            .collect();
        let addresses = match claims.get("addresses") {
            None => Vec::new(),
            Some(Value::Array(entries)) => entries
                .iter()
                .filter_map(|entry| {
                    let address = entry.get("address")?.as_str()?;
                    let kind = match entry.get("type") {
                        None => "node",
                        Some(t) => t.as_str()?,
                    };
                    Some((address.to_owned(), kind.to_owned()))
                })
                .collect(),
            Some(_) => return Err(NodeError::CantParseClaims),
        };
        Ok(Self { roles, addresses })
    }
}

/// The provider, shared by the responders of all three hosts: the node's configuration, the
/// authorization service's accounts and tokens (behind a mutex, since a responder gets only
/// `&self`) and the deviations.
struct WePlatform {
    /// `api-key-hash`: the only trace of the admin key.
    admin_key_hash: String,
    /// `privacy-api-key-hash`: the only trace of the privacy key.
    privacy_key_hash: String,
    /// The oauth2-mode node's `public-key`.
    node_key: VerifyingKey,
    /// The HMAC key a confused verifier would use (`accepts-hs256`).
    confused_key: VerifyingKey,
    service_key: SigningKey,
    clock: Arc<VirtualClock>,
    admin_login: String,
    accounts: Mutex<Accounts>,
    deviations: Deviations<Deviation>,
    conformant: Deviations<Conformant>,
}

/// The authorization service's state.
#[derive(Default)]
struct Accounts {
    /// login → password.
    users: HashMap<String, String>,
    /// Issued access tokens → (login, expiry).
    access: HashMap<String, (String, SystemTime)>,
    /// Live refresh tokens → login.
    refresh: HashMap<String, String>,
}

/// A node route on one node host: the host's authorization (its mode), then the route's answer.
struct NodeRoute {
    platform: Arc<WePlatform>,
    mode: Mode,
    protection: Protection,
    answer: NodeAnswer,
}

/// The body of a node route's 200.
type NodeAnswer = fn(&WePlatform, &Request) -> Value;

impl Respond for NodeRoute {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let platform = &*self.platform;
        let authorized = match self.mode {
            Mode::ApiKey => {
                platform.check_api_key(platform.api_key_header(request), self.protection)
            }
            Mode::OAuth2 => {
                let authorization = request.headers.get("authorization").map(|v| v.as_bytes());
                let role = match self.protection {
                    Protection::None => Role::User,
                    Protection::Admin => Role::Admin,
                    Protection::Privacy => Role::Privacy,
                };
                platform.check_bearer(authorization, role)
            }
        };
        match authorized {
            Ok(()) => json_reply(200, (self.answer)(platform, request)),
            Err(error) => platform.node_error(error, self.mode),
        }
    }
}

/// `POST /utils/hash/secure`: the node's secure hash of the raw body.
fn secure_hash_answer(platform: &WePlatform, request: &Request) -> Value {
    let message = String::from_utf8_lossy(&request.body).into_owned();
    let hash = secure_hash(
        &message,
        platform.deviations.has(Deviation::WrongHashAlgorithm),
    );
    json!({"message": message, "hash": hash})
}

/// `POST /utils/reload-wallet`.
fn wallet_reloaded(_: &WePlatform, _: &Request) -> Value {
    json!({"message": "Wallet reloaded successfully"})
}

/// `GET /consensus/settings`.
fn consensus_settings(_: &WePlatform, _: &Request) -> Value {
    json!({
        "consensusType": "PoA",
        "roundDuration": "60 seconds",
        "syncDuration": "15 seconds",
        "banDurationBlocks": 100,
        "warningsForBan": 3,
        "maxBansPercentage": 50
    })
}

/// `GET /privacy/{policyId}/hashes`.
fn privacy_hashes(_: &WePlatform, _: &Request) -> Value {
    json!(["FfBaQ8cRu6sJg9hJ3B7UgqAt2Mv9JPzY7m6Kzc2CUpDM"])
}

/// `POST /v1/user`.
struct Register(Arc<WePlatform>);

impl Respond for Register {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let platform = &*self.0;
        let Some(body) = WePlatform::json_body(request) else {
            return service_error(400, "a JSON object body is required");
        };
        let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
        let (login, password) = (field("login"), field("password"));
        if !login.contains('@') || password.is_empty() {
            return service_error(400, "login (an e-mail address) and password are required");
        }
        if !matches!(field("locale"), "en" | "ru") {
            return service_error(400, "locale must be en or ru");
        }
        if !matches!(field("source"), "license" | "voting") {
            return service_error(400, "source must be license or voting");
        }
        let mut accounts = platform.accounts();
        if accounts.users.contains_key(login) {
            return service_error(409, "this login is already registered");
        }
        accounts.users.insert(login.to_owned(), password.to_owned());
        ResponseTemplate::new(201)
    }
}

/// `POST /v1/auth/login`.
struct Login(Arc<WePlatform>);

impl Respond for Login {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let platform = &*self.0;
        let Some(body) = WePlatform::json_body(request) else {
            return service_error(400, "a JSON object body is required");
        };
        let (Some(login), Some(password)) = (
            body.get("login").and_then(Value::as_str),
            body.get("password").and_then(Value::as_str),
        ) else {
            return service_error(400, "login and password are required");
        };
        let mut accounts = platform.accounts();
        let stored = accounts.users.get(login).cloned();
        // The password is compared even for an unknown login, so timing does not tell which.
        let password_ok = if platform.deviations.has(Deviation::PasswordPrefixAccepted) {
            let stored = stored.as_deref().unwrap_or_default().as_bytes();
            stored.len() >= password.len()
                && credential_eq(password.as_bytes(), &stored[..password.len()])
        } else {
            credential_eq(
                password.as_bytes(),
                stored.as_deref().unwrap_or_default().as_bytes(),
            )
        };
        if !(password_ok & stored.is_some()) {
            let status = if platform.conformant.has(Conformant::LoginRefusalAs400) {
                400
            } else {
                401
            };
            return service_error(status, "invalid login or password");
        }
        platform.issue(&mut accounts, login)
    }
}

/// `POST /v1/auth/refresh`: a new pair; the used refresh token dies.
struct Refresh(Arc<WePlatform>);

impl Respond for Refresh {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let platform = &*self.0;
        let Some(token) = WePlatform::json_body(request).and_then(|body| {
            body.get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) else {
            return service_error(400, "refresh_token is required");
        };
        let mut accounts = platform.accounts();
        let token = match token.get(..32) {
            Some(kept) if platform.deviations.has(Deviation::RefreshTokenCutTo32) => accounts
                .refresh
                .keys()
                .find(|live| live.get(..32) == Some(kept))
                .cloned()
                .unwrap_or(token),
            _ => token,
        };
        let login = if platform.deviations.has(Deviation::RefreshNotRotated) {
            accounts.refresh.get(&token).cloned()
        } else {
            accounts.refresh.remove(&token)
        };
        match login {
            Some(login) => platform.issue(&mut accounts, &login),
            None => service_error(401, "invalid refresh token"),
        }
    }
}

/// `POST /v1/auth/token`: service tokens, for the administrator's bearer token only.
struct ServiceToken(Arc<WePlatform>);

impl Respond for ServiceToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let platform = &*self.0;
        let authorization = request.headers.get("authorization").map(|v| v.as_bytes());
        let mut accounts = platform.accounts();
        let caller = bearer_token(authorization)
            .and_then(|token| accounts.access.get(token))
            .filter(|(_, expires)| platform.clock.now() < *expires)
            .map(|(login, _)| login.clone());
        let Some(caller) = caller else {
            return service_error(401, "a valid access token is required");
        };
        let is_admin = credential_eq(caller.as_bytes(), platform.admin_login.as_bytes());
        if !is_admin
            && !platform
                .deviations
                .has(Deviation::UserTokenGetsServiceToken)
        {
            return service_error(
                403,
                "only the service administrator may obtain service tokens",
            );
        }
        platform.issue(&mut accounts, SERVICE_SUBJECT)
    }
}

/// What a node route requires: `withAuth(protection, role)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// `WithoutProtection` / role `user`.
    None,
    /// `ApiKeyProtection` / role `admin`.
    Admin,
    /// `PrivacyApiKeyProtection` / role `privacy`.
    Privacy,
}

impl WePlatform {
    fn new(config: &MockConfig) -> Result<Self, String> {
        let deviations = Deviations::<Deviation>::from_config_among(config, CONFORMANT)?;
        let conformant = Deviations::<Conformant>::from_config_among(config, DEVIATIONS)?;
        let wrong_hash = deviations.has(Deviation::WrongHashAlgorithm);
        // Only the hashes are kept: the plain keys go out of scope here.
        let admin_key_hash = secure_hash(&config.secret("api_key")?, wrong_hash);
        let privacy_key_hash = secure_hash(&config.secret("privacy_api_key")?, wrong_hash);
        let (public_key, service_key) = node_key_pair(config, &conformant)?;
        let der = STANDARD
            .decode(&public_key)
            .map_err(|_| "the node's public-key is not Base64".to_owned())?;
        let node_key = VerifyingKey::rs256_public_der(&der)
            .map_err(|e| format!("cannot load the node's public-key: {e}"))?;
        let admin_login = config.secret("admin_login")?;
        let mut accounts = Accounts::default();
        accounts
            .users
            .insert(admin_login.clone(), config.secret("admin_password")?);
        accounts.users.insert(
            config.secret("user_login")?,
            config.secret("user_password")?,
        );
        Ok(Self {
            admin_key_hash,
            privacy_key_hash,
            node_key,
            confused_key: VerifyingKey::hs256(public_key.as_bytes()),
            service_key,
            clock: config.clock.clone(),
            admin_login,
            accounts: Mutex::new(accounts),
            deviations,
            conformant,
        })
    }

    fn accounts(&self) -> MutexGuard<'_, Accounts> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn node_error(&self, error: NodeError, mode: Mode) -> ResponseTemplate {
        let response = json_reply(
            error.status(),
            json!({"error": error.code(), "message": error.message()}),
        );
        if !self.deviations.has(Deviation::AddsWwwAuthenticate) {
            return response;
        }
        let challenge = match mode {
            Mode::ApiKey => "ApiKey realm=\"we-node\"",
            Mode::OAuth2 => "Bearer realm=\"we-node\"",
        };
        response.insert_header("www-authenticate", challenge)
    }

    /// Returns the `X-API-Key` value. Header names arrive lowercased by HTTP parsing, so the
    /// case-sensitive deviation, which wants the exact bytes `X-API-Key`, never finds one.
    fn api_key_header<'a>(&self, request: &'a Request) -> Option<&'a [u8]> {
        if self.deviations.has(Deviation::HeaderNameCaseSensitive) {
            return None;
        }
        request.headers.get("x-api-key").map(|v| v.as_bytes())
    }

    /// `checkApiKeyHeader`: `secureHash(value)` against the configured hash.
    fn check_api_key(
        &self,
        presented: Option<&[u8]>,
        protection: Protection,
    ) -> Result<(), NodeError> {
        let (expected, error) = match protection {
            Protection::None => return Ok(()),
            Protection::Admin => (&self.admin_key_hash, NodeError::ApiKeyNotValid),
            Protection::Privacy => (&self.privacy_key_hash, NodeError::PrivacyApiKeyNotValid),
        };
        let value = String::from_utf8_lossy(presented.unwrap_or_default());
        let hashed = secure_hash(&value, self.deviations.has(Deviation::WrongHashAlgorithm));
        // Every comparison is made, always, so timing tells nothing.
        let key_ok = credential_eq(hashed.as_bytes(), expected.as_bytes());
        let hash_ok = credential_eq(value.as_bytes(), expected.as_bytes());
        let admin_ok = credential_eq(hashed.as_bytes(), self.admin_key_hash.as_bytes());
        let accepted = key_ok
            | (self.deviations.has(Deviation::AcceptsKeyHashAsKey) & hash_ok)
            | (self.deviations.has(Deviation::AdminKeyOnPrivacyRoutes)
                & (protection == Protection::Privacy)
                & admin_ok);
        if presented.is_some() && accepted {
            Ok(())
        } else {
            Err(error)
        }
    }

    /// `withOAuth(role, nodeOwner)` on the `Authorization` header's raw bytes.
    fn check_bearer(&self, authorization: Option<&[u8]>, required: Role) -> Result<(), NodeError> {
        let token = bearer_token(authorization).ok_or(NodeError::MissingAuthorization)?;
        let claims = self.verified_claims(token)?;
        let exp = claims.get("exp").and_then(Value::as_i64);
        let expired = match exp {
            None => !self.deviations.has(Deviation::AcceptsTokenWithoutExp),
            Some(exp) => {
                let exp_ms = i128::from(exp) * 1000;
                !self.deviations.has(Deviation::IgnoresExpiry)
                    && unix_millis(self.clock.now()) as i128 > exp_ms
            }
        };
        if expired {
            return Err(NodeError::TokenExpired);
        }
        let JwtContent { roles, addresses } = JwtContent::read(&claims)?;
        let allowed = if required == Role::User {
            !roles.is_empty()
        } else {
            roles.contains(&required)
        };
        if !allowed {
            return Err(NodeError::NoRequiredRole(required));
        }
        if matches!(required, Role::Admin | Role::Privacy)
            && !self.deviations.has(Deviation::IgnoresOwnerAddress)
        {
            let owner = addresses
                .iter()
                .any(|(address, kind)| kind == "node" && address == NODE_OWNER_ADDRESS);
            if !owner {
                return Err(NodeError::InvalidNodeOwner);
            }
        }
        Ok(())
    }

    /// Verifies the signature (RS256 under the configured key only) and returns the claims;
    /// times are the caller's, so time errors, which come after the signature, are not refusals.
    fn verified_claims(&self, token: &str) -> Result<Value, NodeError> {
        let now = unix_seconds(self.clock.now());
        let mut result = jwt::verify(token, &self.node_key, now);
        if self.deviations.has(Deviation::AcceptsHs256)
            && matches!(result, Err(JwtError::WrongAlgorithm { .. }))
        {
            result = jwt::verify(token, &self.confused_key, now);
        }
        match result {
            Ok(verified) => Ok(verified.claims),
            Err(
                JwtError::Expired { .. }
                | JwtError::NotYetValid { .. }
                | JwtError::InvalidTimeClaim(_),
            ) => jwt::decode_unverified(token)
                .map(|decoded| decoded.claims)
                .map_err(|_| NodeError::InvalidToken),
            Err(_) => Err(NodeError::InvalidToken),
        }
    }

    /// Reads a JSON object body; `None` for anything else.
    fn json_body(request: &Request) -> Option<serde_json::Map<String, Value>> {
        match serde_json::from_slice(&request.body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// Issues an access token (RS256 JWT) and a refresh token for `login`.
    fn issue(&self, accounts: &mut Accounts, login: &str) -> ResponseTemplate {
        let now = self.clock.now();
        let iat = unix_seconds(self.clock.now());
        let roles = if credential_eq(login.as_bytes(), self.admin_login.as_bytes()) {
            json!(["user", "admin"])
        } else {
            json!(["user"])
        };
        let claims = json!({
            "sub": login,
            "roles": roles,
            "addresses": [],
            "iat": iat,
            "exp": iat + ACCESS_TTL_SECONDS,
            "jti": ids::random_id(ids::TOKEN),
        });
        let Ok(access) = jwt::sign(&claims, &self.service_key) else {
            return service_error(500, "token signing failed");
        };
        let refresh = ids::random_id(ids::TOKEN);
        accounts.access.insert(
            access.clone(),
            (
                login.to_owned(),
                now + Duration::from_secs(ACCESS_TTL_SECONDS),
            ),
        );
        accounts.refresh.insert(refresh.clone(), login.to_owned());
        json_reply(
            200,
            json!({"access_token": access, "refresh_token": refresh}),
        )
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::target::{SecretSource, Target};
    use proptest::prelude::*;

    const ADMIN_KEY: &str = "admin-key";
    const PRIVACY_KEY: &str = "privacy-key";

    fn config(deviations: &[&str], clock: Arc<VirtualClock>) -> MockConfig {
        let secrets = [
            ("api_key", ADMIN_KEY),
            ("privacy_api_key", PRIVACY_KEY),
            ("admin_login", "admin@we.test"),
            ("admin_password", "admin-pass"),
            ("user_login", "user@we.test"),
            ("user_password", "user-pass"),
        ];
        MockConfig {
            clock,
            secrets: secrets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn node(deviations: &[&str]) -> WePlatform {
        WePlatform::new(&config(deviations, Arc::new(VirtualClock::new()))).unwrap()
    }

    #[test]
    fn the_target_key_variant_takes_the_targets_pair_and_says_when_it_cannot() {
        let clock = Arc::new(VirtualClock::new());
        let mut with_other_key = config(&["target-signing-key"], clock.clone());
        with_other_key.secrets.insert(
            "signing_key".into(),
            jwt::TEST_RS256_OTHER_PRIVATE_PEM.into(),
        );
        let node = WePlatform::new(&with_other_key).unwrap();
        let exp = now(&node) + 600;
        let claims = json!({"roles": ["user"], "exp": exp});
        let other = SigningKey::rs256_pem(jwt::TEST_RS256_OTHER_PRIVATE_PEM).unwrap();
        let by_other = jwt::sign(&claims, &other).unwrap();
        let by_builtin = sign(claims);
        assert_eq!(
            node.check_bearer(Some(&bearer(&by_other)), Role::User),
            Ok(())
        );
        assert_eq!(
            node.check_bearer(Some(&bearer(&by_builtin)), Role::User),
            Err(NodeError::InvalidToken)
        );

        let mut garbled = config(&["target-signing-key"], clock);
        garbled
            .secrets
            .insert("signing_key".into(), "CANARY-not-a-key".into());
        let Err(message) = WePlatform::new(&garbled) else {
            panic!("a node started with a signing_key that is no key");
        };
        assert!(
            message.contains("`signing_key` is not an RSA private key"),
            "{message}"
        );
        assert!(!message.contains("CANARY"), "{message}");
    }

    fn node_at(unix: u64) -> WePlatform {
        let clock = Arc::new(VirtualClock::starting_at(
            SystemTime::UNIX_EPOCH + Duration::from_secs(unix),
        ));
        WePlatform::new(&config(&[], clock)).unwrap()
    }

    fn now(node: &WePlatform) -> u64 {
        unix_seconds(node.clock.now())
    }

    fn sign(claims: Value) -> String {
        jwt::sign(&claims, &service_key().unwrap()).unwrap()
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("Bearer {token}").into_bytes()
    }

    fn owner() -> Value {
        json!([{"address": NODE_OWNER_ADDRESS, "type": "node"}])
    }

    #[test]
    fn the_mock_target_agrees_with_the_mock() {
        let target = Target::mock();
        let section = &target.providers["we-platform"];
        let variable = |name: &str| section.variables.get(name).map(String::as_str);
        assert_eq!(variable("node_owner_address"), Some(NODE_OWNER_ADDRESS));
        assert_eq!(
            variable("node_public_key"),
            Some(configured_public_key().as_str())
        );
        assert_ne!(variable("other_address"), Some(NODE_OWNER_ADDRESS));
        let secrets: HashMap<String, String> = section
            .secrets
            .iter()
            .filter_map(|(name, source)| match source {
                SecretSource::Value(v) => Some((name.clone(), v.clone())),
                SecretSource::Env(_) => None,
            })
            .collect();
        assert_ne!(
            secrets["api_key"], secrets["privacy_api_key"],
            "the scenarios prove the admin key does not open privacy routes"
        );
    }

    #[test]
    fn secure_hash_is_the_published_one_unless_deviating() {
        assert_eq!(
            secure_hash("ridethewaves!", false),
            "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
        );
        assert_eq!(
            secure_hash("", false),
            "DRtdYbxMg7YHw4acvDP6xQrvmsRAz3K7gSkH3xBJ5CTL"
        );
        assert_ne!(
            secure_hash("ridethewaves!", true),
            secure_hash("ridethewaves!", false)
        );
    }

    #[test]
    fn only_the_hashes_of_the_keys_are_kept() {
        let node = node(&[]);
        assert_eq!(node.admin_key_hash, we_platform_key_hash(ADMIN_KEY));
        assert_eq!(node.privacy_key_hash, we_platform_key_hash(PRIVACY_KEY));
    }

    #[test]
    fn api_keys_by_protection_level() {
        let node = node(&[]);
        let admin = Some(ADMIN_KEY.as_bytes());
        let privacy = Some(PRIVACY_KEY.as_bytes());
        let admin_hash = we_platform_key_hash(ADMIN_KEY);
        assert_eq!(node.check_api_key(admin, Protection::Admin), Ok(()));
        assert_eq!(node.check_api_key(privacy, Protection::Privacy), Ok(()));
        assert_eq!(node.check_api_key(None, Protection::None), Ok(()));
        for (presented, protection, error) in [
            (privacy, Protection::Admin, NodeError::ApiKeyNotValid),
            (None, Protection::Admin, NodeError::ApiKeyNotValid),
            (Some(&b""[..]), Protection::Admin, NodeError::ApiKeyNotValid),
            (
                Some(admin_hash.as_bytes()),
                Protection::Admin,
                NodeError::ApiKeyNotValid,
            ),
            (admin, Protection::Privacy, NodeError::PrivacyApiKeyNotValid),
            (None, Protection::Privacy, NodeError::PrivacyApiKeyNotValid),
        ] {
            assert_eq!(node.check_api_key(presented, protection), Err(error));
        }
        let lax = super::tests::node(&["accepts-key-hash-as-key", "admin-key-on-privacy-routes"]);
        assert_eq!(
            lax.check_api_key(Some(admin_hash.as_bytes()), Protection::Admin),
            Ok(())
        );
        assert_eq!(lax.check_api_key(admin, Protection::Privacy), Ok(()));
    }

    #[test]
    fn node_errors_have_the_documented_codes_and_statuses() {
        let table = [
            (NodeError::ApiKeyNotValid, 403, 2),
            (NodeError::PrivacyApiKeyNotValid, 403, 614),
            (NodeError::MissingAuthorization, 401, 618),
            (NodeError::TokenExpired, 401, 619),
            (NodeError::CantParseClaims, 400, 620),
            (NodeError::NoRequiredRole(Role::Admin), 403, 621),
            (NodeError::InvalidToken, 401, 622),
            (NodeError::InvalidNodeOwner, 403, 636),
        ];
        for (error, status, code) in table {
            assert_eq!((error.status(), error.code()), (status, code), "{error:?}");
        }
        assert_eq!(
            NodeError::NoRequiredRole(Role::Privacy).message(),
            "Authorization error. No expected role 'PrivacyUser' "
        );
    }

    #[test]
    fn bearer_checks_come_in_the_nodes_order() {
        let node = node(&[]);
        let exp = now(&node) + 600;
        let check = |token: &str, role| node.check_bearer(Some(&bearer(token)), role);
        // Signature before expiry: an expired token signed by another key is 622.
        let other = SigningKey::rs256_pem(jwt::TEST_RS256_OTHER_PRIVATE_PEM).unwrap();
        let foreign = jwt::sign(&json!({"roles": ["user"], "exp": 1}), &other).unwrap();
        assert_eq!(check(&foreign, Role::User), Err(NodeError::InvalidToken));
        // Expiry before claims: no roles and no exp is 619.
        let bare = sign(json!({"foo": ["bar"]}));
        assert_eq!(check(&bare, Role::User), Err(NodeError::TokenExpired));
        let no_roles = sign(json!({"foo": ["bar"], "exp": exp}));
        assert_eq!(
            check(&no_roles, Role::User),
            Err(NodeError::CantParseClaims)
        );
        let bad_addresses = sign(json!({"roles": ["admin"], "addresses": "x", "exp": exp}));
        assert_eq!(
            check(&bad_addresses, Role::User),
            Err(NodeError::CantParseClaims)
        );
        // Role before owner: a user token on an admin route is 621 even with the address.
        let user = sign(json!({"roles": ["user"], "addresses": owner(), "exp": exp}));
        assert_eq!(check(&user, Role::User), Ok(()));
        assert_eq!(
            check(&user, Role::Admin),
            Err(NodeError::NoRequiredRole(Role::Admin))
        );
        let admin = sign(json!({"roles": ["admin"], "exp": exp}));
        assert_eq!(check(&admin, Role::User), Ok(()));
        assert_eq!(check(&admin, Role::Admin), Err(NodeError::InvalidNodeOwner));
        // Unknown roles and malformed address entries are dropped, not refused.
        let mixed = sign(json!({
            "roles": ["nobody", 7, "admin"],
            "addresses": [{"type": "node"}, 3, {"address": NODE_OWNER_ADDRESS}],
            "exp": exp
        }));
        assert_eq!(check(&mixed, Role::Admin), Ok(()));
        let unknown_only = sign(json!({"roles": ["nobody"], "exp": exp}));
        assert_eq!(
            check(&unknown_only, Role::User),
            Err(NodeError::NoRequiredRole(Role::User))
        );
        // nbf is not checked.
        let later = sign(json!({"roles": ["user"], "exp": exp, "nbf": exp}));
        assert_eq!(check(&later, Role::User), Ok(()));
        assert_eq!(
            node.check_bearer(None, Role::User),
            Err(NodeError::MissingAuthorization)
        );
        assert_eq!(
            node.check_bearer(Some(b"Basic dXNlcjpwYXNz"), Role::User),
            Err(NodeError::MissingAuthorization)
        );
    }

    #[test]
    fn a_token_is_good_through_its_exp_second() {
        let exp = 2_000_000_000;
        let token = sign(json!({"roles": ["user"], "exp": exp}));
        let node = node_at(exp);
        assert_eq!(node.check_bearer(Some(&bearer(&token)), Role::User), Ok(()));
        node.clock.advance(Duration::from_millis(1));
        assert_eq!(
            node.check_bearer(Some(&bearer(&token)), Role::User),
            Err(NodeError::TokenExpired)
        );
    }

    #[test]
    fn hs256_is_refused_unless_confused() {
        let key = SigningKey::hs256(configured_public_key().as_bytes());
        let exp = now(&node(&[])) + 600;
        let token = jwt::sign(&json!({"roles": ["user"], "exp": exp}), &key).unwrap();
        assert_eq!(
            node(&[]).check_bearer(Some(&bearer(&token)), Role::User),
            Err(NodeError::InvalidToken)
        );
        assert_eq!(
            node(&["accepts-hs256"]).check_bearer(Some(&bearer(&token)), Role::User),
            Ok(())
        );
    }

    /// Starts the mock and returns it with its host URLs.
    async fn started(deviations: &[&str]) -> (RunningMock, reqwest::Client) {
        let mock = start(config(deviations, Arc::new(VirtualClock::new())))
            .await
            .unwrap();
        (mock, reqwest::Client::new())
    }

    async fn post(client: &reqwest::Client, url: String, body: &[u8]) -> (u16, Value) {
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn registration_validates_and_refuses_a_taken_login() {
        let (mock, client) = started(&[]).await;
        let url = format!("{}/v1/user", mock.url("auth").unwrap());
        let good = br#"{"login":"new@we.test","password":"p","locale":"ru","source":"voting"}"#;
        assert_eq!(post(&client, url.clone(), good).await.0, 201);
        assert_eq!(post(&client, url.clone(), good).await.0, 409);
        for body in [
            &br#"{"login":"x@we.test","password":"p","locale":"de","source":"license"}"#[..],
            br#"{"login":"x@we.test","password":"p","locale":"en","source":"other"}"#,
            br#"{"login":"no-at","password":"p","locale":"en","source":"license"}"#,
            br#"{"login":"x@we.test","password":"","locale":"en","source":"license"}"#,
            br#"["not", "an", "object"]"#,
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(post(&client, url.clone(), body).await.0, 400, "{body:?}");
        }
        let login = format!("{}/v1/auth/login", mock.url("auth").unwrap());
        let (status, tokens) =
            post(&client, login, br#"{"login":"new@we.test","password":"p"}"#).await;
        assert_eq!(status, 200);
        assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    }

    #[tokio::test]
    async fn service_tokens_need_a_live_administrator_token() {
        let (mock, client) = started(&[]).await;
        let auth = mock.url("auth").unwrap();
        let (_, admin) = post(
            &client,
            format!("{auth}/v1/auth/login"),
            br#"{"login":"admin@we.test","password":"admin-pass"}"#,
        )
        .await;
        let access = admin["access_token"].as_str().unwrap().to_owned();
        let claims = jwt::decode_unverified(&access).unwrap().claims;
        assert_eq!(claims["roles"], json!(["user", "admin"]));
        let service = |token: String| {
            let request = client
                .post(format!("{auth}/v1/auth/token"))
                .bearer_auth(token);
            async move { request.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(service(access.clone()).await, 200);
        // A token the service did not issue, though signed with its key, is no login.
        let forged = sign(json!({"sub": "admin@we.test", "roles": ["admin"], "exp": u32::MAX}));
        assert_eq!(service(forged).await, 401);
        // Nor is one past its lifetime.
        let clock = Arc::new(VirtualClock::new());
        let mock = start(config(&[], clock.clone())).await.unwrap();
        let auth = mock.url("auth").unwrap();
        let (_, admin) = post(
            &client,
            format!("{auth}/v1/auth/login"),
            br#"{"login":"admin@we.test","password":"admin-pass"}"#,
        )
        .await;
        clock.advance(Duration::from_secs(ACCESS_TTL_SECONDS));
        let status = client
            .post(format!("{auth}/v1/auth/token"))
            .bearer_auth(admin["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }

    #[tokio::test]
    async fn hosts_keep_their_own_routes_and_answer_an_empty_404_to_anything_else() {
        let (mock, client) = started(&[]).await;
        for (host, verb, path, status) in [
            ("node", "POST", "/utils/hash/secure", 200),
            ("oauth_node", "POST", "/utils/hash/secure", 401),
            ("auth", "GET", "/status", 200),
            ("auth", "POST", "/utils/hash/secure", 404),
            ("node", "POST", "/v1/auth/login", 404),
            ("node", "GET", "/utils/hash/secure", 404),
            ("oauth_node", "GET", "/privacy/p1/hashes/extra", 404),
            ("auth", "POST", "/status", 404),
        ] {
            let method = reqwest::Method::from_bytes(verb.as_bytes()).unwrap();
            let response = client
                .request(method, format!("{}{path}", mock.url(host).unwrap()))
                .body("1")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{host} {verb} {path}");
            let body = response.bytes().await.unwrap();
            assert_eq!(body.is_empty(), status == 404, "{host} {verb} {path}");
        }
    }

    /// Header values: arbitrary bytes, sometimes behind a `Bearer ` prefix.
    fn header_value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..80),
            ".{0,80}".prop_map(|s| format!("Bearer {s}").into_bytes()),
            "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}"
                .prop_map(|s| format!("bearer {s}").into_bytes()),
        ]
    }

    /// Well-formed JWS with arbitrary header and claims JSON and an arbitrary signature.
    fn forged_jws() -> impl Strategy<Value = String> {
        let json = prop_oneof![
            Just(json!({"alg": "RS256"})),
            Just(json!({"alg": "none"})),
            Just(json!({"alg": "HS256", "typ": "JWT"})),
            Just(json!({"roles": ["admin", "user"], "addresses": owner(), "exp": u32::MAX})),
            any::<String>().prop_map(|s| json!({"roles": [s], "exp": 1})),
            any::<i64>().prop_map(|n| json!({"exp": n, "roles": "user"})),
        ];
        (
            json.clone(),
            json,
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(header, claims, signature)| {
                format!(
                    "{}.{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string()),
                    URL_SAFE_NO_PAD.encode(signature)
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn garbage_keys_never_open_a_route(value in header_value()) {
            let node = node(&[]);
            prop_assume!(value != ADMIN_KEY.as_bytes() && value != PRIVACY_KEY.as_bytes());
            prop_assert!(node.check_api_key(Some(&value), Protection::Admin).is_err());
            prop_assert!(node.check_api_key(Some(&value), Protection::Privacy).is_err());
        }

        #[test]
        fn garbage_authorization_never_opens_a_route(value in header_value()) {
            let node = node(&[]);
            for role in [Role::User, Role::Admin, Role::Privacy] {
                prop_assert!(node.check_bearer(Some(&value), role).is_err());
            }
        }

        #[test]
        fn forged_tokens_never_open_a_route(token in forged_jws()) {
            let node = node(&[]);
            for role in [Role::User, Role::Admin, Role::Privacy] {
                prop_assert_eq!(
                    node.check_bearer(Some(&bearer(&token)), role),
                    Err(NodeError::InvalidToken)
                );
            }
        }
    }
}
