//! The Silverflow provider (card processing): API keys sent as `Basic key:secret`, agent bearer
//! tokens (JWT), CIDR `ipRanges` on both, and `<resource>:<Action>` permissions. Its requirements
//! are in `specs/silverflow.yaml`.
//!
//! One host, `api`, open to every source: Silverflow has no allowlist in front of the API, the
//! `ipRanges` of each credential are checked by the API itself, from the TCP peer address the
//! [`front`] observed (never from a header the client sends).
//!
//! ```text
//! GET    /v1/agents/current               agents:Get                 200 agent
//! POST   /v1/agents/{current|cgt-…}/bearerToken
//!                                         agents:CreateBearerToken   201 {key, token}
//! POST   /v1/apiKeys                      apiKeys:Create             201 + Location, key with secret
//! GET    /v1/apiKeys                      apiKeys:List               200 {apiKeys: [...]} (no secrets)
//! GET    /v1/apiKeys/{apk-…}              apiKeys:Get                200 key (no secret) | 404
//! PATCH  /v1/apiKeys/{apk-…}              apiKeys:Update             200 key | 400 | 409 | 412 | 415
//! DELETE /v1/apiKeys/{apk-…}              apiKeys:Archive            204 | 409 | 412
//! GET    /v1/charges, /v1/charges/{key}   charges:List, charges:Get  200 | 404
//! GET    /v1/reports, /v1/reports/{key}   reports:List, reports:Get  200 | 404
//! GET    /v1/merchants/{key}              merchants:Get              200 | 404
//! ```
//!
//! - **Credentials.** The activation key (the target's `admin_key` / `admin_secret`, holding
//!   `all:All`) exists from the start; scenarios create every other key with it. Key and secret
//!   are compared with [`credential_eq`], both always (an unknown key is compared against a dummy
//!   secret), so timing does not tell which part was wrong. Bearer tokens are HS256 JWTs signed
//!   with a key drawn per mock instance; they expire `expires` after creation (an ISO-8601
//!   duration, default `PT30M`) on the scenario's [`VirtualClock`].
//! - **Refusals.** Every failure to authenticate gets one and the same 401 problem (wrong secret,
//!   unknown key, disabled or archived key, expired or unknown token, missing or malformed
//!   header, and a source address outside the credential's `ipRanges`), so nothing tells the
//!   reason apart. Valid credentials without the operation's permission get 403 whose `detail`
//!   names the permission. Authentication comes first, then the route, then the permission.
//!   Errors are RFC 7807 problems sent as `application/json`, as Silverflow documents.
//! - **Permissions.** `<resource>:<Action>` grants that operation, `<resource>:All` every action
//!   on the resource, `all:All` everything.
//! - **ipRanges** are IPv4 CIDR blocks (RFC 4632): four decimal octets of at most 255 and a
//!   prefix of at most 32. Anything else (IPv6, no prefix, `/33`, `256.…`) is refused on create
//!   and update with 400 `validationErrors`. Host bits below the prefix are ignored (the block of
//!   `10.0.0.1/24` is `10.0.0.0/24`; Silverflow does not say). An empty list means no
//!   restriction. A peer address that is not IPv4 is outside every range.
//! - **The key lifecycle.** A key created `active` works at once (documented). A `PATCH`
//!   (merge-patch of `status`, `description`, `permissions`, `ipRanges`; optional `If-Match`
//!   version) or `DELETE` (the key becomes `archived`) shows in the key's representation at
//!   once but takes effect on authentication only [`APPLY_DELAY_SECONDS`] later on the scenario's
//!   clock: Silverflow says changes can take up to 5 minutes, so scenarios must poll. A key left
//!   without a `status` on create is `disabled` (not documented; the spec's example creates one
//!   disabled). At most [`KEY_LIMIT`] keys per agent: keys created through the API and not
//!   archived count, the activation key does not (not documented); one more gets 409.
//!
//! Nothing a request carries is logged.
//!
//! [`DEVIATIONS`] each switch one documented behaviour off, so tests can prove the scenarios catch
//! it (`tests/deviations_silverflow.rs`):
//!
//! - `ignores-ip-ranges`: `ipRanges` are stored but never checked.
//! - `leaks-ip-reason`: the 401 for a source outside the ranges says "IP not allowed".
//! - `cidr-includes-next-address`: a block also admits the address just past its end.
//! - `accepts-malformed-ranges`: any string is accepted as a range on create and update.
//! - `401-for-missing-permission`: a missing permission gets the 401 of bad credentials.
//! - `403-for-bad-credentials`: a wrong secret for a known key gets 403 instead of 401.
//! - `generic-403-detail`: the 403 `detail` does not name the missing permission.
//! - `resource-all-grants-nothing`: `<resource>:All` is not a wildcard.
//! - `all-all-only-for-activation-key`: `all:All` grants everything only to the activation key.
//! - `returns-secret-on-get`: `GET /v1/apiKeys/{key}` and the list include the secret.
//! - `omits-location`: the 201 of a created key carries no `Location`.
//! - `no-key-limit`: any number of keys can be created.
//! - `ignores-key-updates`: a `PATCH` is answered but never takes effect on authentication.
//! - `delete-keeps-working`: a deleted key is answered 204 but keeps authenticating.
//! - `accepts-disabled-keys`: a disabled key authenticates.
//! - `bearer-never-expires`: bearer tokens work after `expires`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::RngCore;
use serde_json::{Map, Value, json};
use wiremock::matchers::any as any_request;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::http::json_response;
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::basic;
use crate::auth::jwt::{self, SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The Silverflow mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour (each described in the module documentation).
pub const DEVIATIONS: &[&str] = &[
    "ignores-ip-ranges",
    "leaks-ip-reason",
    "cidr-includes-next-address",
    "accepts-malformed-ranges",
    "401-for-missing-permission",
    "403-for-bad-credentials",
    "generic-403-detail",
    "resource-all-grants-nothing",
    "all-all-only-for-activation-key",
    "returns-secret-on-get",
    "omits-location",
    "no-key-limit",
    "ignores-key-updates",
    "delete-keeps-working",
    "accepts-disabled-keys",
    "bearer-never-expires",
];

/// How many keys an agent may have (Silverflow: "You can create up to 40 API keys").
pub const KEY_LIMIT: usize = 40;

/// How long after a `PATCH` or `DELETE` the change takes effect on authentication, in seconds
/// (Silverflow: "up to 5 minutes").
pub const APPLY_DELAY_SECONDS: u64 = 90;

/// The bearer-token lifetime when `expires` is not given (`PT30M`).
pub const DEFAULT_BEARER_SECONDS: u64 = 30 * 60;

/// The mock's agent (`agent_key` in `targets/mock.yaml`).
pub const AGENT_KEY: &str = "cgt-1wtRvFLIjDOyyUR5Q2LB";
/// The one charge the mock knows (`charge_key` in `targets/mock.yaml`).
pub const CHARGE_KEY: &str = "chg-1hPdFqhgstYTUhlphPDp";
/// The one report the mock knows (`report_key` in `targets/mock.yaml`).
pub const REPORT_KEY: &str = "rep-1e1dAHhgstYTUhlphPzZ";
/// The one merchant the mock knows (`merchant_key` in `targets/mock.yaml`).
pub const MERCHANT_KEY: &str = "mct-1hPdFhmgaBzMS191nIbJ";

/// The body of every 401: the same whatever the reason.
const UNAUTHENTICATED_DETAIL: &str = "The credentials supplied in the request are either missing, invalid, or not applicable in the current scope";

/// Starts the Silverflow provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let mut hmac = [0u8; 32];
    rand::rng().fill_bytes(&mut hmac);
    let signing = SigningKey::hs256(&hmac);
    let clock = config.clock.clone();
    let admin = ApiKey {
        key: config.secret("admin_key")?,
        secret: config.secret("admin_secret")?,
        activation: true,
        description: Some("Activation key".to_owned()),
        created: clock.now(),
        revisions: vec![Revision {
            from: clock.now(),
            status: Status::Active,
            permissions: vec!["all:All".to_owned()],
            ranges: Vec::new(),
            version: 1,
            modified: clock.now(),
        }],
    };
    let state = Arc::new(Silverflow {
        verifying: signing.verifying_key(),
        signing,
        clock,
        keys: Mutex::new(Keys {
            keys: vec![admin],
            tokens: HashMap::new(),
        }),
        flags: Flags::from(&config),
    });
    let server = MockServer::builder().start().await;
    Mock::given(any_request())
        .respond_with(Handler(state))
        .mount(&server)
        .await;
    let api = front::start(*server.address(), Arc::new(|_| SourcePolicy::Allow))
        .await
        .map_err(|e| format!("cannot start the front of host `api`: {e}"))?;
    Ok(RunningMock {
        hosts: HashMap::from([("api".to_owned(), api.url())]),
        _servers: vec![Box::new(api), Box::new(server)],
    })
}

/// The deviations asked for.
#[derive(Default)]
struct Flags {
    ignores_ranges: bool,
    leaks_ip_reason: bool,
    cidr_next_address: bool,
    accepts_malformed_ranges: bool,
    unauthorized_for_permission: bool,
    forbidden_for_credentials: bool,
    generic_forbidden_detail: bool,
    resource_all_nothing: bool,
    all_all_activation_only: bool,
    secret_on_get: bool,
    omits_location: bool,
    no_key_limit: bool,
    ignores_updates: bool,
    delete_keeps_working: bool,
    accepts_disabled: bool,
    bearer_never_expires: bool,
}

impl From<&MockConfig> for Flags {
    fn from(config: &MockConfig) -> Self {
        Self {
            ignores_ranges: config.deviates("ignores-ip-ranges"),
            leaks_ip_reason: config.deviates("leaks-ip-reason"),
            cidr_next_address: config.deviates("cidr-includes-next-address"),
            accepts_malformed_ranges: config.deviates("accepts-malformed-ranges"),
            unauthorized_for_permission: config.deviates("401-for-missing-permission"),
            forbidden_for_credentials: config.deviates("403-for-bad-credentials"),
            generic_forbidden_detail: config.deviates("generic-403-detail"),
            resource_all_nothing: config.deviates("resource-all-grants-nothing"),
            all_all_activation_only: config.deviates("all-all-only-for-activation-key"),
            secret_on_get: config.deviates("returns-secret-on-get"),
            omits_location: config.deviates("omits-location"),
            no_key_limit: config.deviates("no-key-limit"),
            ignores_updates: config.deviates("ignores-key-updates"),
            delete_keeps_working: config.deviates("delete-keeps-working"),
            accepts_disabled: config.deviates("accepts-disabled-keys"),
            bearer_never_expires: config.deviates("bearer-never-expires"),
        }
    }
}

struct Silverflow {
    signing: SigningKey,
    verifying: VerifyingKey,
    clock: Arc<VirtualClock>,
    keys: Mutex<Keys>,
    flags: Flags,
}

/// Every credential the agent has.
struct Keys {
    /// In creation order; archived keys stay.
    keys: Vec<ApiKey>,
    /// Bearer tokens by their `jti`.
    tokens: HashMap<String, TokenGrant>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Active,
    Disabled,
    Archived,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Archived => "archived",
        }
    }
}

struct ApiKey {
    key: String,
    secret: String,
    /// The activation key: outside the key limit.
    activation: bool,
    description: Option<String>,
    created: SystemTime,
    /// What the key is, from each point in time on: the last one is what the API shows, the
    /// last one whose `from` has passed is what authentication applies.
    revisions: Vec<Revision>,
}

#[derive(Clone)]
struct Revision {
    from: SystemTime,
    status: Status,
    permissions: Vec<String>,
    ranges: Vec<Cidr>,
    version: u64,
    modified: SystemTime,
}

impl ApiKey {
    /// Returns the latest revision (what the API shows).
    fn shown(&self) -> &Revision {
        // A key is created with one revision and revisions are only ever added.
        &self.revisions[self.revisions.len() - 1]
    }

    /// Returns the revision in effect at `now`.
    fn effective(&self, now: SystemTime) -> &Revision {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.from <= now)
            .unwrap_or(&self.revisions[0])
    }

    fn representation(&self, with_secret: bool) -> Value {
        let revision = self.shown();
        let mut body = json!({
            "key": self.key,
            "status": revision.status.as_str(),
            "agentKey": AGENT_KEY,
            "permissions": revision.permissions,
            "ipRanges": revision.ranges.iter().map(|r| r.text.clone()).collect::<Vec<_>>(),
            "created": rfc3339(self.created),
            "lastModified": rfc3339(revision.modified),
            "version": revision.version,
        });
        if let Some(object) = body.as_object_mut() {
            if let Some(description) = &self.description {
                object.insert("description".into(), description.clone().into());
            }
            if with_secret {
                object.insert("secret".into(), self.secret.clone().into());
            }
        }
        body
    }
}

/// What a bearer token was issued with.
struct TokenGrant {
    permissions: Vec<String>,
    ranges: Vec<Cidr>,
    expires: SystemTime,
}

/// An IPv4 CIDR block (RFC 4632), as given and as network/prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cidr {
    text: String,
    network: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `n.n.n.n/n` strictly: four decimal octets (1–3 digits, at most 255) and a prefix of
    /// 1–2 digits, at most 32.
    fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.split_once('/')?;
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(prefix, 2) {
            return None;
        }
        let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
        let mut octets = [0u8; 4];
        let mut parts = address.split('.');
        for octet in &mut octets {
            let part = parts.next().filter(|p| digits(p, 3))?;
            *octet = part.parse().ok()?;
        }
        if parts.next().is_some() {
            return None;
        }
        let network = u32::from(Ipv4Addr::from(octets)) & mask(prefix);
        Some(Cidr {
            text: text.to_owned(),
            network,
            prefix,
        })
    }

    /// Tells whether `ip` lies in the block; with `next_too`, also the address just past it.
    fn contains(&self, ip: Ipv4Addr, next_too: bool) -> bool {
        let ip = u32::from(ip);
        if ip & mask(self.prefix) == self.network {
            return true;
        }
        next_too
            && self
                .network
                .checked_add(!mask(self.prefix))
                .and_then(|last| last.checked_add(1))
                == Some(ip)
    }
}

fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// Tells whether `held` grants `needed` (`resource:Action`): exactly, by `resource:All`, or by
/// `all:All`.
fn grants(held: &[String], needed: &str, resource_wildcard: bool, global_wildcard: bool) -> bool {
    let resource = needed.split_once(':').map_or(needed, |(r, _)| r);
    held.iter().any(|p| {
        p == needed
            || (resource_wildcard && p.split_once(':') == Some((resource, "All")))
            || (global_wildcard && p == "all:All")
    })
}

/// Parses an ISO-8601 duration as Silverflow's `expires` pattern allows
/// (`P(nY)(nM)(nW)(nD)(T(nH)(nM)(nS))`), into seconds; years as 365 days, months as 30.
fn iso_duration(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut any = false;
    let mut sum = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
            if number.is_empty() || number.len() > 9 {
                return None;
            }
            let n: u64 = number.parse().ok()?;
            total = total.checked_add(n.checked_mul(units[at].1)?)?;
            number.clear();
            next_unit = at + 1;
            any = true;
        }
        number.is_empty().then_some(())
    };
    sum(
        date,
        &[
            ('Y', 365 * 86_400),
            ('M', 30 * 86_400),
            ('W', 7 * 86_400),
            ('D', 86_400),
        ],
    )?;
    if let Some(time) = time {
        sum(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    any.then_some(total)
}

/// A permission as Silverflow spells them: a lower-camel resource, a PascalCase action.
fn is_permission(text: &str) -> bool {
    let Some((resource, action)) = text.split_once(':') else {
        return false;
    };
    let camel = |s: &str, first_upper: bool| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() && c.is_ascii_uppercase() == first_upper)
            && chars.all(|c| c.is_ascii_alphanumeric())
    };
    camel(resource, false) && camel(action, true)
}

/// Silverflow's FreeTextField: `^[\w +=.,:;!?$@()-]+$`, 1–160 characters.
fn is_free_text(text: &str) -> bool {
    let count = text.chars().count();
    (1..=160).contains(&count)
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || " +=.,:;!?$@()-".contains(c))
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

fn problem(
    status: u16,
    type_: &str,
    title: &str,
    detail: &str,
    instance: &str,
) -> ResponseTemplate {
    json_response(
        status,
        json!({"type": type_, "title": title, "status": status, "detail": detail, "instance": instance}),
    )
}

/// The one 401 of every authentication failure.
fn unauthenticated(detail: &str) -> ResponseTemplate {
    json_response(
        401,
        json!({
            "type": "/silverflow/problems/authentication-required",
            "title": "Authentication Required",
            "status": 401,
            "detail": detail,
        }),
    )
    .insert_header(
        "www-authenticate",
        "Basic realm=\"Silverflow API\", Bearer realm=\"Silverflow API\"",
    )
}

fn forbidden(detail: &str, instance: &str) -> ResponseTemplate {
    problem(
        403,
        "/silverflow/problems/forbidden",
        "Forbidden",
        detail,
        instance,
    )
}

fn not_found(instance: &str) -> ResponseTemplate {
    problem(
        404,
        "/silverflow/problems/not-found",
        "Not Found",
        "The entity referenced in the request could not be found",
        instance,
    )
}

fn conflict(detail: &str, instance: &str) -> ResponseTemplate {
    problem(
        409,
        "/silverflow/problems/conflict",
        "Conflict",
        detail,
        instance,
    )
}

/// A 400 with Silverflow's `validationErrors` (`{instancePath, message}`).
fn bad_request(errors: Vec<(String, String)>, instance: &str) -> ResponseTemplate {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|(path, message)| json!({"instancePath": path, "message": message}))
        .collect();
    json_response(
        400,
        json!({
            "type": "/silverflow/problems/bad-request",
            "title": "Bad Request",
            "status": 400,
            "detail": "Validation errors occurred",
            "instance": instance,
            "validationErrors": errors,
        }),
    )
}

/// Who is calling, once authenticated.
struct Principal {
    /// The API key used, or the API key a bearer token's `key` starts with.
    key: String,
    activation: bool,
    permissions: Vec<String>,
}

/// Why authentication failed: told apart only inside the mock.
enum Refusal {
    BadCredentials,
    /// A known credential tried with a wrong secret (only the `403-for-bad-credentials`
    /// deviation treats it differently).
    WrongSecret,
    OutsideRanges,
}

/// The operation a request asks for.
enum Route {
    Agent,
    CreateBearer,
    CreateKey,
    ListKeys,
    GetKey(String),
    UpdateKey(String),
    DeleteKey(String),
    ListCharges,
    GetCharge(String),
    ListReports,
    GetReport(String),
    GetMerchant(String),
    NotFound,
    MethodNotAllowed,
}

impl Route {
    fn of(method: &str, path: &str) -> Route {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
        let by_method = |get: Route| {
            if method == "GET" {
                get
            } else {
                Route::MethodNotAllowed
            }
        };
        match segments.as_slice() {
            ["v1", "agents", agent] if *agent == "current" || *agent == AGENT_KEY => {
                by_method(Route::Agent)
            }
            ["v1", "agents", agent, "bearerToken"]
                if *agent == "current" || *agent == AGENT_KEY =>
            {
                if method == "POST" {
                    Route::CreateBearer
                } else {
                    Route::MethodNotAllowed
                }
            }
            ["v1", "apiKeys"] => match method {
                "GET" => Route::ListKeys,
                "POST" => Route::CreateKey,
                _ => Route::MethodNotAllowed,
            },
            ["v1", "apiKeys", key] => match method {
                "GET" => Route::GetKey((*key).to_owned()),
                "PATCH" => Route::UpdateKey((*key).to_owned()),
                "DELETE" => Route::DeleteKey((*key).to_owned()),
                _ => Route::MethodNotAllowed,
            },
            ["v1", "charges"] => by_method(Route::ListCharges),
            ["v1", "charges", key] => by_method(Route::GetCharge((*key).to_owned())),
            ["v1", "reports"] => by_method(Route::ListReports),
            ["v1", "reports", key] => by_method(Route::GetReport((*key).to_owned())),
            ["v1", "merchants", key] => by_method(Route::GetMerchant((*key).to_owned())),
            _ => Route::NotFound,
        }
    }

    /// The permission the operation needs.
    fn permission(&self) -> Option<&'static str> {
        Some(match self {
            Route::Agent => "agents:Get",
            Route::CreateBearer => "agents:CreateBearerToken",
            Route::CreateKey => "apiKeys:Create",
            Route::ListKeys => "apiKeys:List",
            Route::GetKey(_) => "apiKeys:Get",
            Route::UpdateKey(_) => "apiKeys:Update",
            Route::DeleteKey(_) => "apiKeys:Archive",
            Route::ListCharges => "charges:List",
            Route::GetCharge(_) => "charges:Get",
            Route::ListReports => "reports:List",
            Route::GetReport(_) => "reports:Get",
            Route::GetMerchant(_) => "merchants:Get",
            Route::NotFound | Route::MethodNotAllowed => return None,
        })
    }
}

struct Handler(Arc<Silverflow>);

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

/// What the `Authorization` header carries: Basic key and secret, a bearer token, or nothing
/// usable (absent, malformed, another scheme).
enum Presented {
    Basic(String, String),
    Bearer(String),
    Nothing,
}

/// Reads the `Authorization` header; anything malformed counts as no credentials.
fn presented(request: &Request) -> Presented {
    let Some(value) = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    else {
        return Presented::Nothing;
    };
    if let Some((key, secret)) = basic::decode(value) {
        return Presented::Basic(key, secret);
    }
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Presented::Bearer(token.trim().to_owned())
        }
        _ => Presented::Nothing,
    }
}

/// Tells whether `peer` may use a credential restricted to `ranges`.
fn inside(ranges: &[Cidr], peer: Option<IpAddr>, next_too: bool) -> bool {
    if ranges.is_empty() {
        return true;
    }
    let ip = match peer {
        Some(IpAddr::V4(ip)) => ip,
        Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(ip) => ip,
            None => return false,
        },
        None => return false,
    };
    ranges.iter().any(|r| r.contains(ip, next_too))
}

impl Silverflow {
    fn keys(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().to_owned();
        let principal = match self.authenticate(request) {
            Ok(principal) => principal,
            Err(Refusal::OutsideRanges) if self.flags.leaks_ip_reason => {
                return unauthenticated("IP not allowed for these credentials");
            }
            Err(Refusal::WrongSecret) if self.flags.forbidden_for_credentials => {
                return forbidden(
                    "The server is refusing to execute the request for the current authenticated user",
                    &path,
                );
            }
            Err(_) => return unauthenticated(UNAUTHENTICATED_DETAIL),
        };
        let route = Route::of(request.method.as_str(), &path);
        if let Some(needed) = route.permission()
            && !self.holds(&principal, needed)
        {
            if self.flags.unauthorized_for_permission {
                return unauthenticated(UNAUTHENTICATED_DETAIL);
            }
            let detail = if self.flags.generic_forbidden_detail {
                "The server is refusing to execute the request for the current authenticated user"
                    .to_owned()
            } else {
                format!(
                    "This operation requires the `{needed}` permission, which the credentials do not have"
                )
            };
            return forbidden(&detail, &path);
        }
        match route {
            Route::Agent => json_response(
                200,
                json!({"key": AGENT_KEY, "name": "Test agent", "status": "active", "version": 1}),
            ),
            Route::CreateBearer => self.create_bearer(request, &principal, &path),
            Route::CreateKey => self.create_key(request, &path),
            Route::ListKeys => {
                let keys = self.keys();
                let items: Vec<Value> = keys
                    .keys
                    .iter()
                    .map(|k| k.representation(self.flags.secret_on_get))
                    .collect();
                json_response(200, json!({"apiKeys": items, "moreItems": false}))
            }
            Route::GetKey(key) => match self.keys().keys.iter().find(|k| k.key == key) {
                Some(k) => json_response(200, k.representation(self.flags.secret_on_get)),
                None => not_found(&path),
            },
            Route::UpdateKey(key) => self.update_key(request, &key, &path),
            Route::DeleteKey(key) => self.delete_key(request, &key, &path),
            Route::ListCharges => json_response(
                200,
                json!({"items": [{"key": CHARGE_KEY, "status": "authorized", "amount": {"value": 1250, "currency": "EUR"}}], "moreItems": false}),
            ),
            Route::GetCharge(key) if key == CHARGE_KEY => json_response(
                200,
                json!({"key": CHARGE_KEY, "status": "authorized", "amount": {"value": 1250, "currency": "EUR"}}),
            ),
            Route::ListReports => json_response(
                200,
                json!({"items": [{"key": REPORT_KEY, "reportName": "SchemeFeeDetails", "status": "completed"}], "moreItems": false}),
            ),
            Route::GetReport(key) if key == REPORT_KEY => json_response(
                200,
                json!({"key": REPORT_KEY, "agentKey": AGENT_KEY, "reportName": "SchemeFeeDetails", "status": "completed"}),
            ),
            Route::GetMerchant(key) if key == MERCHANT_KEY => json_response(
                200,
                json!({"key": MERCHANT_KEY, "name": "Test merchant", "status": "active"}),
            ),
            Route::MethodNotAllowed => problem(
                405,
                "/silverflow/problems/method-not-allowed",
                "Method Not Allowed",
                "The method is not allowed on this resource",
                &path,
            ),
            _ => not_found(&path),
        }
    }

    fn holds(&self, principal: &Principal, needed: &str) -> bool {
        let global = !self.flags.all_all_activation_only || principal.activation;
        grants(
            &principal.permissions,
            needed,
            !self.flags.resource_all_nothing,
            global,
        )
    }

    fn authenticate(&self, request: &Request) -> Result<Principal, Refusal> {
        let now = self.clock.now();
        let peer = front::peer_of(request);
        let next_too = self.flags.cidr_next_address;
        match presented(request) {
            Presented::Nothing => Err(Refusal::BadCredentials),
            Presented::Basic(key, secret) => {
                let keys = self.keys();
                let found = keys
                    .keys
                    .iter()
                    .find(|k| credential_eq(k.key.as_bytes(), key.as_bytes()));
                // An unknown key is still compared against a secret, so timing does not tell.
                let expected =
                    found.map_or("authconform-no-such-key-secret", |k| k.secret.as_str());
                let secret_ok = credential_eq(secret.as_bytes(), expected.as_bytes());
                let Some(found) = found else {
                    return Err(Refusal::BadCredentials);
                };
                if !secret_ok {
                    return Err(Refusal::WrongSecret);
                }
                let revision = self.in_effect(found, now);
                let usable = match revision.status {
                    Status::Active => true,
                    Status::Disabled => self.flags.accepts_disabled,
                    Status::Archived => false,
                };
                if !usable {
                    return Err(Refusal::BadCredentials);
                }
                if !self.flags.ignores_ranges && !inside(&revision.ranges, peer, next_too) {
                    return Err(Refusal::OutsideRanges);
                }
                Ok(Principal {
                    key: found.key.clone(),
                    activation: found.activation,
                    permissions: revision.permissions.clone(),
                })
            }
            Presented::Bearer(token) => {
                let now_unix = if self.flags.bearer_never_expires {
                    0
                } else {
                    now.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                };
                let jwt = jwt::verify(&token, &self.verifying, now_unix)
                    .map_err(|_| Refusal::BadCredentials)?;
                let jti = jwt
                    .claims
                    .get("jti")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let key = jwt
                    .claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let keys = self.keys();
                let grant = keys.tokens.get(jti).ok_or(Refusal::BadCredentials)?;
                if !self.flags.bearer_never_expires && now >= grant.expires {
                    return Err(Refusal::BadCredentials);
                }
                if !self.flags.ignores_ranges && !inside(&grant.ranges, peer, next_too) {
                    return Err(Refusal::OutsideRanges);
                }
                Ok(Principal {
                    key: key.split_once(':').map_or(key, |(k, _)| k).to_owned(),
                    activation: false,
                    permissions: grant.permissions.clone(),
                })
            }
        }
    }

    /// The revision authentication applies at `now`, as the deviations bend it.
    fn in_effect<'k>(&self, key: &'k ApiKey, now: SystemTime) -> &'k Revision {
        let revision = key.effective(now);
        if self.flags.ignores_updates && revision.status != Status::Archived {
            let first = &key.revisions[0];
            if revision.version != first.version {
                // Only deletion applies; every patch is forgotten.
                return first;
            }
        }
        if self.flags.delete_keeps_working && revision.status == Status::Archived {
            return key
                .revisions
                .iter()
                .rev()
                .find(|r| r.status != Status::Archived)
                .unwrap_or(revision);
        }
        revision
    }

    /// Reads a JSON object body, or says why it is not one.
    fn object_body(
        request: &Request,
        path: &str,
    ) -> Result<Map<String, Value>, Box<ResponseTemplate>> {
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(Box::new(bad_request(
                vec![(String::new(), "must be an object".into())],
                path,
            ))),
            Err(_) => Err(Box::new(bad_request(
                vec![(String::new(), "must be a JSON document".into())],
                path,
            ))),
        }
    }

    fn permissions_field(value: &Value, errors: &mut Vec<(String, String)>) -> Vec<String> {
        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
            errors.push(("/permissions".into(), "must be a non-empty array".into()));
            return Vec::new();
        };
        let mut permissions: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str().filter(|p| is_permission(p)) {
                Some(p) if permissions.iter().any(|q| q == p) => {
                    errors.push((format!("/permissions/{i}"), "must be unique".into()))
                }
                Some(p) => permissions.push(p.to_owned()),
                None => errors.push((
                    format!("/permissions/{i}"),
                    "must be a permission `<resource>:<Action>`".into(),
                )),
            }
        }
        permissions
    }

    fn ranges_field(&self, value: &Value, errors: &mut Vec<(String, String)>) -> Vec<Cidr> {
        let Some(items) = value.as_array() else {
            errors.push(("/ipRanges".into(), "must be an array".into()));
            return Vec::new();
        };
        let mut ranges: Vec<Cidr> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(text) = item.as_str() else {
                errors.push((format!("/ipRanges/{i}"), "must be a string".into()));
                continue;
            };
            let parsed = Cidr::parse(text).or_else(|| {
                self.flags.accepts_malformed_ranges.then(|| Cidr {
                    text: text.to_owned(),
                    network: 0,
                    prefix: 32,
                })
            });
            match parsed {
                Some(r) if ranges.iter().any(|q| q.text == r.text) => {
                    errors.push((format!("/ipRanges/{i}"), "must be unique".into()));
                }
                Some(r) => ranges.push(r),
                None => errors.push((
                    format!("/ipRanges/{i}"),
                    "must be an IPv4 CIDR block n.n.n.n/n (RFC 4632)".into(),
                )),
            }
        }
        ranges
    }

    fn description_field(value: &Value, errors: &mut Vec<(String, String)>) -> Option<String> {
        match value.as_str().filter(|d| is_free_text(d)) {
            Some(d) => Some(d.to_owned()),
            None => {
                errors.push((
                    "/description".into(),
                    "must be 1 to 160 characters of letters, digits and ` +=.,:;!?$@()-_`".into(),
                ));
                None
            }
        }
    }

    /// `POST /v1/apiKeys`.
    fn create_key(&self, request: &Request, path: &str) -> ResponseTemplate {
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let mut errors = Vec::new();
        let mut permissions = Vec::new();
        let mut ranges = Vec::new();
        let mut description = None;
        let mut status = Status::Disabled;
        let mut has_permissions = false;
        for (name, value) in &body {
            match name.as_str() {
                "permissions" => {
                    has_permissions = true;
                    permissions = Self::permissions_field(value, &mut errors);
                }
                "ipRanges" => ranges = self.ranges_field(value, &mut errors),
                "description" => description = Self::description_field(value, &mut errors),
                "status" => match value.as_str() {
                    Some("active") => status = Status::Active,
                    Some("disabled") => status = Status::Disabled,
                    _ => errors.push(("/status".into(), "must be `active` or `disabled`".into())),
                },
                other => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !has_permissions {
            errors.push(("/permissions".into(), "is required".into()));
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let mut keys = self.keys();
        let counted = keys
            .keys
            .iter()
            .filter(|k| !k.activation && k.shown().status != Status::Archived)
            .count();
        if counted >= KEY_LIMIT && !self.flags.no_key_limit {
            return conflict(
                &format!("The agent already has {KEY_LIMIT} API keys, the most it may have"),
                path,
            );
        }
        let now = self.clock.now();
        let key = ApiKey {
            key: format!("apk-{}", random_alnum(20)),
            secret: random_alnum(32),
            activation: false,
            description,
            created: now,
            revisions: vec![Revision {
                from: now,
                status,
                permissions,
                ranges,
                version: 1,
                modified: now,
            }],
        };
        let body = key.representation(true);
        let location = format!("/v1/apiKeys/{}", key.key);
        keys.keys.push(key);
        let response = json_response(201, body);
        if self.flags.omits_location {
            response
        } else {
            response.insert_header("location", location.as_str())
        }
    }

    /// Checks `If-Match` against the key's version, when given.
    fn precondition(
        request: &Request,
        version: u64,
        path: &str,
    ) -> Result<(), Box<ResponseTemplate>> {
        let Some(value) = request.headers.get("if-match") else {
            return Ok(());
        };
        let given = value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_matches('"'))
            .and_then(|v| v.parse::<u64>().ok());
        match given {
            Some(given) if given == version => Ok(()),
            Some(given) => Err(Box::new(problem(
                412,
                "/silverflow/problems/precondition-failed",
                "Precondition Failed",
                &format!("The API key did not have the expected version {given}"),
                path,
            ))),
            None => Err(Box::new(bad_request(
                vec![("If-Match".into(), "must be an integer version".into())],
                path,
            ))),
        }
    }

    /// `PATCH /v1/apiKeys/{key}`: a JSON merge patch (RFC 7396).
    fn update_key(&self, request: &Request, key: &str, path: &str) -> ResponseTemplate {
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/merge-patch+json")
        }) {
            return problem(
                415,
                "/silverflow/problems/unsupported-media-type",
                "Unsupported Media Type",
                "The body must be application/merge-patch+json",
                path,
            );
        }
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let mut keys = self.keys();
        let Some(found) = keys.keys.iter_mut().find(|k| k.key == key) else {
            return not_found(path);
        };
        let mut next = found.shown().clone();
        if next.status == Status::Archived {
            return conflict("The API key is archived", path);
        }
        if let Err(response) = Self::precondition(request, next.version, path) {
            return *response;
        }
        let mut errors = Vec::new();
        let mut description = found.description.clone();
        for (name, value) in &body {
            match (name.as_str(), value) {
                ("ipRanges", Value::Null) => next.ranges.clear(),
                ("ipRanges", value) => next.ranges = self.ranges_field(value, &mut errors),
                ("permissions", value) => {
                    next.permissions = Self::permissions_field(value, &mut errors);
                }
                ("description", Value::Null) => description = None,
                ("description", value) => {
                    description = Self::description_field(value, &mut errors);
                }
                ("status", value) => match value.as_str() {
                    Some("active") => next.status = Status::Active,
                    Some("disabled") => next.status = Status::Disabled,
                    _ => errors.push(("/status".into(), "must be `active` or `disabled`".into())),
                },
                (other, _) => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let now = self.clock.now();
        next.version += 1;
        next.modified = now;
        next.from = now + Duration::from_secs(APPLY_DELAY_SECONDS);
        found.description = description;
        found.revisions.push(next);
        json_response(200, found.representation(false))
    }

    /// `DELETE /v1/apiKeys/{key}`: the key becomes `archived`.
    fn delete_key(&self, request: &Request, key: &str, path: &str) -> ResponseTemplate {
        let mut keys = self.keys();
        let Some(found) = keys.keys.iter_mut().find(|k| k.key == key) else {
            return not_found(path);
        };
        let mut next = found.shown().clone();
        if next.status == Status::Archived {
            return conflict("The API key is already archived", path);
        }
        if let Err(response) = Self::precondition(request, next.version, path) {
            return *response;
        }
        let now = self.clock.now();
        next.status = Status::Archived;
        next.version += 1;
        next.modified = now;
        next.from = now + Duration::from_secs(APPLY_DELAY_SECONDS);
        found.revisions.push(next);
        ResponseTemplate::new(204)
    }

    /// `POST /v1/agents/{agent}/bearerToken`.
    fn create_bearer(
        &self,
        request: &Request,
        principal: &Principal,
        path: &str,
    ) -> ResponseTemplate {
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let mut errors = Vec::new();
        let mut permissions = Vec::new();
        let mut ranges = Vec::new();
        let mut lifetime = DEFAULT_BEARER_SECONDS;
        let mut has_permissions = false;
        for (name, value) in &body {
            match name.as_str() {
                "permissions" => {
                    has_permissions = true;
                    permissions = Self::permissions_field(value, &mut errors);
                }
                "ipRanges" => ranges = self.ranges_field(value, &mut errors),
                "expires" => match value.as_str().and_then(iso_duration) {
                    Some(seconds) if seconds > 0 => lifetime = seconds,
                    _ => errors.push((
                        "/expires".into(),
                        "must be a positive ISO-8601 duration such as PT30M".into(),
                    )),
                },
                "scope" => {
                    let valid = value.as_object().is_some_and(|scope| {
                        scope.iter().all(|(k, v)| {
                            k == "merchantKey" && v.as_str().is_some_and(|m| m.starts_with("mct-"))
                        })
                    });
                    if !valid {
                        errors.push(("/scope".into(), "must be {merchantKey: mct-…}".into()));
                    }
                }
                other => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !has_permissions {
            errors.push(("/permissions".into(), "is required".into()));
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let now = self.clock.now();
        let expires = now + Duration::from_secs(lifetime);
        let jti = random_alnum(20);
        let token_key = format!("{}:{jti}", principal.key);
        let unix = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        let claims = json!({
            "iss": "https://api.silverflow.co",
            "sub": token_key,
            "agentKey": AGENT_KEY,
            "jti": jti,
            "iat": unix(now),
            "exp": unix(expires),
        });
        let Ok(token) = jwt::sign(&claims, &self.signing) else {
            return problem(
                500,
                "/silverflow/problems/internal",
                "Internal Server Error",
                "The token could not be signed",
                path,
            );
        };
        self.keys().tokens.insert(
            jti,
            TokenGrant {
                permissions,
                ranges,
                expires,
            },
        );
        json_response(201, json!({"key": token_key, "token": token}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{SecretSource, Target};
    use proptest::prelude::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("a valid block")
    }

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().expect("an address")
    }

    #[test]
    fn cidr_boundaries_follow_rfc_4632() {
        let block = cidr("127.0.0.8/29");
        for inside in ["127.0.0.8", "127.0.0.12", "127.0.0.15"] {
            assert!(block.contains(ip(inside), false), "{inside}");
        }
        for outside in ["127.0.0.7", "127.0.0.16", "127.0.1.8"] {
            assert!(!block.contains(ip(outside), false), "{outside}");
        }
        assert!(block.contains(ip("127.0.0.16"), true));
        let single = cidr("127.0.0.1/32");
        assert!(single.contains(ip("127.0.0.1"), false));
        assert!(!single.contains(ip("127.0.0.2"), false));
        let everything = cidr("0.0.0.0/0");
        for any in ["0.0.0.0", "127.0.0.3", "255.255.255.255"] {
            assert!(everything.contains(ip(any), false), "{any}");
        }
        // The documented examples.
        let docs = cidr("102.177.115.120/29");
        assert!(docs.contains(ip("102.177.115.126"), false));
        assert!(docs.contains(ip("102.177.115.127"), false));
        assert!(!docs.contains(ip("102.177.115.128"), false));
        // Host bits below the prefix are ignored.
        assert!(cidr("10.0.0.1/24").contains(ip("10.0.0.200"), false));
        // The address past the last block does not overflow.
        assert!(!cidr("255.255.255.255/32").contains(ip("0.0.0.0"), true));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        for text in [
            "127.0.0.1",
            "127.0.0.1/33",
            "256.0.0.1/8",
            "::1/128",
            "127.0.0/8",
            "127.0.0.1.1/8",
            "127.0.0.1/",
            "/8",
            "1234.0.0.1/8",
            "127.0.0.1/008",
            "+1.0.0.1/8",
            "a.b.c.d/8",
            "127.0.0.1/8 ",
            "",
        ] {
            assert_eq!(Cidr::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn empty_ranges_restrict_nothing_and_ipv6_peers_are_outside() {
        let peer: IpAddr = "::1".parse().expect("an address");
        assert!(inside(&[], Some(peer), false));
        assert!(!inside(&[cidr("0.0.0.0/0")], Some(peer), false));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().expect("an address");
        assert!(inside(&[cidr("127.0.0.1/32")], Some(mapped), false));
        assert!(!inside(&[cidr("0.0.0.0/0")], None, false));
    }

    #[test]
    fn wildcards_grant_as_documented() {
        let held = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let least = held(&["charges:List", "reports:All"]);
        assert!(grants(&least, "charges:List", true, true));
        assert!(!grants(&least, "charges:Get", true, true));
        assert!(grants(&least, "reports:Get", true, true));
        assert!(grants(&least, "reports:List", true, true));
        assert!(!grants(&least, "reports:List", false, true));
        assert!(!grants(&least, "merchants:Get", true, true));
        let all = held(&["all:All"]);
        assert!(grants(&all, "apiKeys:Create", true, true));
        assert!(!grants(&all, "apiKeys:Create", true, false));
        // `all:All` is global; `all:Get` or `reportsAll` grant nothing else.
        assert!(!grants(&held(&["all:Get"]), "reports:Get", true, true));
        assert!(!grants(&held(&["report:All"]), "reports:Get", true, true));
    }

    #[test]
    fn expires_durations() {
        assert_eq!(iso_duration("PT30M"), Some(1800));
        assert_eq!(iso_duration("PT2M"), Some(120));
        assert_eq!(iso_duration("P1D"), Some(86_400));
        assert_eq!(iso_duration("P1W2DT1H1M1S"), Some(9 * 86_400 + 3661));
        for bad in [
            "",
            "P",
            "PT",
            "30M",
            "PT30",
            "PT1S1M",
            "P1H",
            "PTM",
            "P-1D",
            "PT99999999999S",
        ] {
            assert_eq!(iso_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn permissions_and_descriptions() {
        for good in [
            "charges:List",
            "all:All",
            "threeDs:Create",
            "fileSubscription:All",
        ] {
            assert!(is_permission(good), "{good}");
        }
        for bad in [
            "charges",
            "Charges:List",
            "charges:list",
            ":List",
            "charges:",
            "a:B:C",
            "ch arges:List",
        ] {
            assert!(!is_permission(bad), "{bad}");
        }
        assert!(is_free_text("Data lake API key (v2)"));
        assert!(!is_free_text(""));
        assert!(!is_free_text("no <tags>"));
        assert!(!is_free_text(&"x".repeat(161)));
    }

    #[test]
    fn routes_and_their_permissions() {
        let needs = |method: &str, path: &str| Route::of(method, path).permission();
        assert_eq!(needs("GET", "/v1/agents/current"), Some("agents:Get"));
        assert_eq!(
            needs("POST", "/v1/agents/current/bearerToken"),
            Some("agents:CreateBearerToken")
        );
        assert_eq!(
            needs("POST", &format!("/v1/agents/{AGENT_KEY}/bearerToken")),
            Some("agents:CreateBearerToken")
        );
        assert_eq!(needs("POST", "/v1/agents/cgt-other/bearerToken"), None);
        assert_eq!(
            needs("DELETE", "/v1/apiKeys/apk-1"),
            Some("apiKeys:Archive")
        );
        assert_eq!(needs("PATCH", "/v1/apiKeys/apk-1"), Some("apiKeys:Update"));
        assert_eq!(needs("GET", "/v1/reports/rep-1"), Some("reports:Get"));
        assert_eq!(needs("POST", "/v1/charges"), None);
        assert_eq!(needs("GET", "/v2/charges"), None);
    }

    #[test]
    fn revisions_take_effect_late() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let revision = |from: SystemTime, status| Revision {
            from,
            status,
            permissions: Vec::new(),
            ranges: Vec::new(),
            version: 1,
            modified: from,
        };
        let key = ApiKey {
            key: "apk-1".into(),
            secret: "s".into(),
            activation: false,
            description: None,
            created: start,
            revisions: vec![
                revision(start, Status::Active),
                revision(
                    start + Duration::from_secs(APPLY_DELAY_SECONDS),
                    Status::Archived,
                ),
            ],
        };
        assert_eq!(key.shown().status, Status::Archived);
        assert_eq!(key.effective(start).status, Status::Active);
        assert_eq!(
            key.effective(start + Duration::from_secs(APPLY_DELAY_SECONDS - 1))
                .status,
            Status::Active
        );
        assert_eq!(
            key.effective(start + Duration::from_secs(APPLY_DELAY_SECONDS))
                .status,
            Status::Archived
        );
    }

    #[test]
    fn mock_constants_agree_with_the_mock_target() {
        let target = Target::mock();
        let variables = &target.providers["silverflow"].variables;
        let variable = |name: &str| variables.get(name).map(String::as_str);
        assert_eq!(variable("agent_key"), Some(AGENT_KEY));
        assert_eq!(variable("charge_key"), Some(CHARGE_KEY));
        assert_eq!(variable("report_key"), Some(REPORT_KEY));
        assert_eq!(variable("merchant_key"), Some(MERCHANT_KEY));
    }

    struct Running {
        _mock: RunningMock,
        base: String,
        clock: Arc<VirtualClock>,
        http: reqwest::Client,
        admin: (String, String),
    }

    async fn running() -> Running {
        let target = Target::mock();
        let secrets: HashMap<String, String> = target.providers["silverflow"]
            .secrets
            .iter()
            .filter_map(|(name, source)| match source {
                SecretSource::Value(v) => Some((name.clone(), v.clone())),
                SecretSource::Env(_) => None,
            })
            .collect();
        let admin = (
            secrets["admin_key"].clone(),
            secrets["admin_secret"].clone(),
        );
        let clock = Arc::new(VirtualClock::new());
        let mock = start(MockConfig {
            clock: clock.clone(),
            secrets,
            deviations: Vec::new(),
        })
        .await
        .expect("the mock starts");
        let base = mock.url("api").expect("the api host");
        Running {
            _mock: mock,
            base,
            clock,
            http: reqwest::Client::new(),
            admin,
        }
    }

    impl Running {
        async fn send(
            &self,
            method: reqwest::Method,
            path: &str,
            authorization: Option<&[u8]>,
            body: Option<(&str, Vec<u8>)>,
        ) -> (u16, Value) {
            let mut request = self.http.request(method, format!("{}{path}", self.base));
            if let Some(value) = authorization {
                let value = reqwest::header::HeaderValue::from_bytes(value).expect("a value");
                request = request.header("authorization", value);
            }
            if let Some((content_type, body)) = body {
                request = request.header("content-type", content_type).body(body);
            }
            let response = request.send().await.expect("an answer");
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }

        fn admin_basic(&self) -> String {
            basic::header_value(&self.admin.0, &self.admin.1).expect("encodable")
        }

        async fn create(&self, body: Value) -> (u16, Value) {
            let auth = self.admin_basic();
            self.send(
                reqwest::Method::POST,
                "/v1/apiKeys",
                Some(auth.as_bytes()),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
        }
    }

    #[tokio::test]
    async fn a_patch_applies_after_the_delay_and_the_secret_is_shown_once() {
        let mock = running().await;
        let (status, created) = mock
            .create(json!({"status": "active", "permissions": ["charges:List"]}))
            .await;
        assert_eq!(status, 201, "{created}");
        let key = created["key"].as_str().expect("a key").to_owned();
        let secret = created["secret"].as_str().expect("a secret").to_owned();
        let own = basic::header_value(&key, &secret).expect("encodable");
        let charges = || {
            mock.send(
                reqwest::Method::GET,
                "/v1/charges",
                Some(own.as_bytes()),
                None,
            )
        };
        assert_eq!(charges().await.0, 200);
        let admin = mock.admin_basic();
        let (status, shown) = mock
            .send(
                reqwest::Method::GET,
                &format!("/v1/apiKeys/{key}"),
                Some(admin.as_bytes()),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(shown.get("secret").is_none(), "{shown}");
        let (status, patched) = mock
            .send(
                reqwest::Method::PATCH,
                &format!("/v1/apiKeys/{key}"),
                Some(admin.as_bytes()),
                Some((
                    "application/merge-patch+json",
                    br#"{"status":"disabled"}"#.to_vec(),
                )),
            )
            .await;
        assert_eq!(
            (status, patched["status"].as_str()),
            (200, Some("disabled"))
        );
        assert_eq!(patched["version"], 2);
        assert_eq!(charges().await.0, 200, "not yet in effect");
        mock.clock.advance(Duration::from_secs(APPLY_DELAY_SECONDS));
        assert_eq!(charges().await.0, 401);
    }

    #[tokio::test]
    async fn if_match_and_media_type_are_checked() {
        let mock = running().await;
        let (_, created) = mock.create(json!({"permissions": ["charges:List"]})).await;
        assert_eq!(created["status"], "disabled");
        let key = created["key"].as_str().expect("a key").to_owned();
        let admin = mock.admin_basic();
        let path = format!("/v1/apiKeys/{key}");
        let (status, _) = mock
            .send(
                reqwest::Method::PATCH,
                &path,
                Some(admin.as_bytes()),
                Some(("application/json", b"{}".to_vec())),
            )
            .await;
        assert_eq!(status, 415);
        let response = mock
            .http
            .patch(format!("{}{path}", mock.base))
            .header("authorization", &admin)
            .header("content-type", "application/merge-patch+json")
            .header("if-match", "7")
            .body("{}")
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 412);
    }

    #[tokio::test]
    async fn malformed_requests_are_refused_without_panicking() {
        let mock = running().await;
        let authorizations: [&[u8]; 9] = [
            b"Basic",
            b"Basic !!!",
            b"Basic \xc3\x28",
            b"basic YXBrLTE6",
            b"Bearer",
            b"Bearer a.b.c",
            b"Bearer \xff\xfe",
            b"Token abc",
            b"",
        ];
        for authorization in authorizations {
            let (status, body) = mock
                .send(
                    reqwest::Method::GET,
                    "/v1/agents/current",
                    Some(authorization),
                    None,
                )
                .await;
            assert_eq!(status, 401, "{authorization:?}");
            assert_eq!(body["title"], "Authentication Required");
        }
        let admin = mock.admin_basic();
        let bodies: [&[u8]; 6] = [
            b"\xff\xfe",
            b"[]",
            b"{\"permissions\": \"all:All\"}",
            b"{\"permissions\": [\"all:All\"], \"ipRanges\": [1]}",
            b"{\"permissions\": [\"all:All\"], \"extra\": true}",
            b"",
        ];
        for body in bodies {
            let (status, problem) = mock
                .send(
                    reqwest::Method::POST,
                    "/v1/apiKeys",
                    Some(admin.as_bytes()),
                    Some(("application/json", body.to_vec())),
                )
                .await;
            assert_eq!(status, 400, "{body:?}");
            assert!(problem["validationErrors"].is_array(), "{problem}");
        }
        assert_eq!(
            mock.send(
                reqwest::Method::GET,
                "/v1/agents/current",
                Some(admin.as_bytes()),
                None
            )
            .await
            .0,
            200
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Arbitrary `Authorization` values never authenticate and never panic the parser.
        #[test]
        fn arbitrary_authorization_never_authenticates(value in any::<Vec<u8>>(), text in any::<String>()) {
            let mock = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            mock.block_on(async {
                let running = running().await;
                for candidate in [
                    value.clone(),
                    text.clone().into_bytes(),
                    format!("Basic {text}").into_bytes(),
                    format!("Bearer {text}").into_bytes(),
                ] {
                    let Ok(header) = reqwest::header::HeaderValue::from_bytes(&candidate) else {
                        continue;
                    };
                    let status = running
                        .http
                        .get(format!("{}/v1/agents/current", running.base))
                        .header("authorization", header)
                        .send()
                        .await
                        .expect("an answer")
                        .status()
                        .as_u16();
                    assert_eq!(status, 401);
                }
            });
        }

        /// Arbitrary range strings parse only as valid IPv4 blocks.
        #[test]
        fn arbitrary_ranges_parse_only_when_valid(text in any::<String>()) {
            if let Some(block) = Cidr::parse(&text) {
                prop_assert!(block.prefix <= 32);
                let (address, prefix) = text.split_once('/').expect("a slash");
                prop_assert!(address.parse::<Ipv4Addr>().is_ok() || address.split('.').any(|o| o.len() > 1 && o.starts_with('0')));
                prop_assert!(prefix.len() <= 2);
            }
        }

        #[test]
        fn arbitrary_durations_never_panic(text in "P[0-9YMWDTHS]{0,12}") {
            let _ = iso_duration(&text);
        }

        /// Arbitrary JSON bodies on create never panic and never create a key from garbage.
        #[test]
        fn arbitrary_create_bodies(body in any::<Vec<u8>>()) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let running = running().await;
                let (status, _) = running.create_raw(body.clone()).await;
                assert!(status == 400 || (status == 201 && serde_json::from_slice::<Value>(&body).is_ok()), "{status}");
            });
        }
    }

    impl Running {
        async fn create_raw(&self, body: Vec<u8>) -> (u16, Value) {
            let auth = self.admin_basic();
            self.send(
                reqwest::Method::POST,
                "/v1/apiKeys",
                Some(auth.as_bytes()),
                Some(("application/json", body)),
            )
            .await
        }
    }
}
