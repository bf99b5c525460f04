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
//!   archived count, the activation key does not (not documented; the conformant variant
//!   `creating-key-counts` counts it); one more gets 409. The key list's member is `apiKeys`
//!   (`items` under the conformant variant `keys-listed-as-items`).
//!
//! Routing is wiremock's: one mock per operation (method and path pattern; a trailing `/` is
//! tolerated), each answering through [`Operation`], which authenticates, then checks the
//! operation's permission, then runs it. A known path with another method gets 405 from a mock
//! at [`kit::WRONG_METHOD_PRIORITY`] (method matching alone would give the catch-all's 404), and
//! every other path 404 from a catch-all at [`kit::FALLBACK_PRIORITY`]; both authenticate first,
//! so an unauthenticated caller learns nothing about routes. The concerns live in submodules:
//! `access` (credentials, ranges, permissions), `keys` (the API key lifecycle), `tokens` (bearer
//! tokens) and `problems` (the error replies).
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
//! - `refused-key-still-created`: a key past the limit gets the 409 but is created all the same.
//! - `ignores-key-updates`: a `PATCH` is answered but never takes effect on authentication.
//! - `delete-keeps-working`: a deleted key is answered 204 but keeps authenticating.
//! - `accepts-disabled-keys`: a disabled key authenticates.
//! - `bearer-never-expires`: bearer tokens work after `expires`.
//! - `cidr-includes-previous-address`: a block also admits the address just before its start.
//! - `checks-first-range-only`: only the first of a credential's `ipRanges` admits; sources in
//!   the others get the 401.
//! - `unsigned-tokens-trusted`: a bearer token with an empty signature segment is taken on its
//!   claims, whatever its `alg` (the check is skipped when there is nothing to check); a
//!   signature that is present is still verified.

mod access;
mod keys;
mod problems;
mod tokens;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::json;
use strum::VariantNames as _;
use wiremock::matchers::{self, method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use self::access::{Principal, Refusal};
use self::keys::ApiKey;
use self::problems::{
    GENERIC_FORBIDDEN_DETAIL, UNAUTHENTICATED_DETAIL, forbidden, method_not_allowed, not_found,
    unauthenticated,
};
use self::tokens::TokenGrant;
use super::front::{self, SourcePolicy};
use super::kit::{self, Deviations, ids, json};
use super::{MockConfig, RunningMock};
use crate::auth::jwt::{SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The Silverflow mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour (each described in the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    IgnoresIpRanges,
    LeaksIpReason,
    CidrIncludesNextAddress,
    AcceptsMalformedRanges,
    #[strum(serialize = "401-for-missing-permission")]
    UnauthorizedForMissingPermission,
    #[strum(serialize = "403-for-bad-credentials")]
    ForbiddenForBadCredentials,
    #[strum(serialize = "generic-403-detail")]
    GenericForbiddenDetail,
    ResourceAllGrantsNothing,
    AllAllOnlyForActivationKey,
    ReturnsSecretOnGet,
    OmitsLocation,
    NoKeyLimit,
    RefusedKeyStillCreated,
    IgnoresKeyUpdates,
    DeleteKeepsWorking,
    AcceptsDisabledKeys,
    BearerNeverExpires,
    CidrIncludesPreviousAddress,
    ChecksFirstRangeOnly,
    UnsignedTokensTrusted,
}

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Conformant variants: other choices where Silverflow's documentation is silent or gives two
/// answers, which the scenarios must not take for non-conformance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Conformant {
    /// 401 problems are titled "Unauthorized" (the OpenAPI's `UnauthorizedError` example) rather
    /// than "Authentication Required".
    UnauthorizedTitle,
    /// The key that creates the others counts toward the 40 too (Silverflow does not say which
    /// keys count), so an agent holding only its activation key can create 39 more.
    CreatingKeyCounts,
    /// The key list names its member `items`, as Silverflow's other lists do, instead of
    /// `apiKeys` (the name appears only in the schema, not in the documented behaviour).
    KeysListedAsItems,
}

/// The names of [`Conformant`], for the registry.
pub const CONFORMANT: &[&str] = Conformant::VARIANTS;

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

/// A path segment naming the mock's agent: `current` or its key.
const AGENT: &str = "(current|cgt-1wtRvFLIjDOyyUR5Q2LB)";
/// A path segment naming any entity.
const ENTITY: &str = "[^/]+";

/// Every operation: its method, path pattern (without the `^/v1/` prefix and the optional
/// trailing slashes) and what it is.
const OPERATIONS: &[(&str, &str, Op)] = &[
    ("GET", "agents/AGENT", Op::Agent),
    ("POST", "agents/AGENT/bearerToken", Op::CreateBearer),
    ("GET", "apiKeys", Op::ListKeys),
    ("POST", "apiKeys", Op::CreateKey),
    ("GET", "apiKeys/ENTITY", Op::GetKey),
    ("PATCH", "apiKeys/ENTITY", Op::UpdateKey),
    ("DELETE", "apiKeys/ENTITY", Op::DeleteKey),
    ("GET", "charges", Op::ListCharges),
    ("GET", "charges/ENTITY", Op::GetCharge),
    ("GET", "reports", Op::ListReports),
    ("GET", "reports/ENTITY", Op::GetReport),
    ("GET", "merchants/ENTITY", Op::GetMerchant),
];

/// Returns the full pattern of an operation's path.
fn path_pattern(path: &str) -> String {
    let path = path.replace("AGENT", AGENT).replace("ENTITY", ENTITY);
    format!("^/v1/{path}/*$")
}

/// Starts the Silverflow provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let deviations = Deviations::<Deviation>::from_config_among(&config, CONFORMANT)?;
    let conformant = Deviations::<Conformant>::from_config_among(&config, DEVIATIONS)?;
    let signing = SigningKey::hs256(&ids::random_bytes(32));
    let clock = config.clock.clone();
    let admin = ApiKey::activation(
        config.secret("admin_key")?,
        config.secret("admin_secret")?,
        clock.now(),
    );
    let silverflow = Arc::new(Silverflow {
        verifying: signing.verifying_key(),
        signing,
        clock,
        store: Mutex::new(Store {
            keys: vec![admin],
            tokens: HashMap::new(),
        }),
        deviations,
        conformant,
    });
    let server = MockServer::builder().start().await;
    for (verb, path, op) in OPERATIONS {
        Mock::given(method(*verb))
            .and(path_regex(path_pattern(path)))
            .respond_with(Operation {
                silverflow: silverflow.clone(),
                op: *op,
            })
            .mount(&server)
            .await;
    }
    let mut known_paths: Vec<&str> = OPERATIONS.iter().map(|(_, path, _)| *path).collect();
    known_paths.sort_unstable();
    known_paths.dedup();
    for path in known_paths {
        Mock::given(path_regex(path_pattern(path)))
            .respond_with(Operation {
                silverflow: silverflow.clone(),
                op: Op::MethodNotAllowed,
            })
            .with_priority(kit::WRONG_METHOD_PRIORITY)
            .mount(&server)
            .await;
    }
    Mock::given(matchers::any())
        .respond_with(Operation {
            silverflow,
            op: Op::NotFound,
        })
        .with_priority(kit::FALLBACK_PRIORITY)
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

struct Silverflow {
    signing: SigningKey,
    verifying: VerifyingKey,
    clock: Arc<VirtualClock>,
    store: Mutex<Store>,
    deviations: Deviations<Deviation>,
    conformant: Deviations<Conformant>,
}

/// Every credential the agent has.
struct Store {
    /// In creation order; archived keys stay.
    keys: Vec<ApiKey>,
    /// Bearer tokens by their `jti`.
    tokens: HashMap<String, TokenGrant>,
}

impl Silverflow {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deviates(&self, deviation: Deviation) -> bool {
        self.deviations.has(deviation)
    }
}

/// The operation a mock answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Agent,
    CreateBearer,
    CreateKey,
    ListKeys,
    GetKey,
    UpdateKey,
    DeleteKey,
    ListCharges,
    GetCharge,
    ListReports,
    GetReport,
    GetMerchant,
    /// A known path with a method it does not take.
    MethodNotAllowed,
    /// Any other path.
    NotFound,
}

impl Op {
    /// Returns the permission the operation needs.
    fn permission(self) -> Option<&'static str> {
        Some(match self {
            Op::Agent => "agents:Get",
            Op::CreateBearer => "agents:CreateBearerToken",
            Op::CreateKey => "apiKeys:Create",
            Op::ListKeys => "apiKeys:List",
            Op::GetKey => "apiKeys:Get",
            Op::UpdateKey => "apiKeys:Update",
            Op::DeleteKey => "apiKeys:Archive",
            Op::ListCharges => "charges:List",
            Op::GetCharge => "charges:Get",
            Op::ListReports => "reports:List",
            Op::GetReport => "reports:Get",
            Op::GetMerchant => "merchants:Get",
            Op::MethodNotAllowed | Op::NotFound => return None,
        })
    }
}

/// Answers one operation: authentication first, then the permission, then the operation.
struct Operation {
    silverflow: Arc<Silverflow>,
    op: Op,
}

impl Respond for Operation {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let silverflow = &*self.silverflow;
        let path = request.url.path();
        let principal = match silverflow.authenticate(request) {
            Ok(principal) => principal,
            Err(refusal) => return silverflow.refuse(refusal, path),
        };
        if let Some(needed) = self.op.permission()
            && !silverflow.holds(&principal, needed)
        {
            return silverflow.lacks(needed, path);
        }
        silverflow.run(self.op, request, &principal, path)
    }
}

impl Silverflow {
    /// The 401 of every authentication failure, titled as this instance chose.
    fn unauthenticated(&self, detail: &str) -> ResponseTemplate {
        unauthenticated(detail, self.conformant.has(Conformant::UnauthorizedTitle))
    }

    /// Returns the reply to a failed authentication: one and the same 401, unless a deviation
    /// tells the reasons apart.
    fn refuse(&self, refusal: Refusal, path: &str) -> ResponseTemplate {
        match refusal {
            Refusal::OutsideRanges if self.deviates(Deviation::LeaksIpReason) => {
                self.unauthenticated("IP not allowed for these credentials")
            }
            Refusal::WrongSecret if self.deviates(Deviation::ForbiddenForBadCredentials) => {
                forbidden(GENERIC_FORBIDDEN_DETAIL, path)
            }
            _ => self.unauthenticated(UNAUTHENTICATED_DETAIL),
        }
    }

    /// Returns the reply to valid credentials without the permission `needed`.
    fn lacks(&self, needed: &str, path: &str) -> ResponseTemplate {
        if self.deviates(Deviation::UnauthorizedForMissingPermission) {
            return self.unauthenticated(UNAUTHENTICATED_DETAIL);
        }
        let detail = if self.deviates(Deviation::GenericForbiddenDetail) {
            GENERIC_FORBIDDEN_DETAIL.to_owned()
        } else {
            format!(
                "This operation requires the `{needed}` permission, which the credentials do not have"
            )
        };
        forbidden(&detail, path)
    }

    fn run(
        &self,
        op: Op,
        request: &Request,
        principal: &Principal,
        path: &str,
    ) -> ResponseTemplate {
        let entity = keys::last_segment(path);
        match op {
            Op::Agent => json(
                200,
                json!({"key": AGENT_KEY, "name": "Test agent", "status": "active", "version": 1}),
            ),
            Op::CreateBearer => self.create_bearer(request, principal, path),
            Op::CreateKey => self.create_key(request, path),
            Op::ListKeys => self.list_keys(),
            Op::GetKey => self.get_key(path),
            Op::UpdateKey => self.update_key(request, path),
            Op::DeleteKey => self.delete_key(request, path),
            Op::ListCharges => json(
                200,
                json!({"items": [{"key": CHARGE_KEY, "status": "authorized", "amount": {"value": 1250, "currency": "EUR"}}], "moreItems": false}),
            ),
            Op::GetCharge if entity == CHARGE_KEY => json(
                200,
                json!({"key": CHARGE_KEY, "status": "authorized", "amount": {"value": 1250, "currency": "EUR"}}),
            ),
            Op::ListReports => json(
                200,
                json!({"items": [{"key": REPORT_KEY, "reportName": "SchemeFeeDetails", "status": "completed"}], "moreItems": false}),
            ),
            Op::GetReport if entity == REPORT_KEY => json(
                200,
                json!({"key": REPORT_KEY, "agentKey": AGENT_KEY, "reportName": "SchemeFeeDetails", "status": "completed"}),
            ),
            Op::GetMerchant if entity == MERCHANT_KEY => json(
                200,
                json!({"key": MERCHANT_KEY, "name": "Test merchant", "status": "active"}),
            ),
            Op::MethodNotAllowed => method_not_allowed(path),
            Op::GetCharge | Op::GetReport | Op::GetMerchant | Op::NotFound => not_found(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use proptest::prelude::*;
    use serde_json::Value;

    use super::access::Range;
    use super::keys::{Revision, Status, is_permission};
    use super::*;
    use crate::auth::basic;
    use crate::target::{SecretSource, Target};

    /// The names the registry, `tests/deviations_silverflow.rs` and targets use.
    #[test]
    fn deviation_names_are_the_documented_ones() {
        assert_eq!(
            DEVIATIONS,
            [
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
                "refused-key-still-created",
                "ignores-key-updates",
                "delete-keeps-working",
                "accepts-disabled-keys",
                "bearer-never-expires",
                "cidr-includes-previous-address",
                "checks-first-range-only",
                "unsigned-tokens-trusted",
            ]
        );
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
    }

    #[test]
    fn revisions_take_effect_late() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let revision = |from: SystemTime, status| Revision {
            from,
            status,
            permissions: Vec::new(),
            ranges: Vec::<Range>::new(),
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

    /// Every operation is routed by method and path to the permission it needs: a key holding
    /// none of them gets a 403 naming it; a known path with another method gets 405 and an
    /// unknown path 404, both only once authenticated.
    #[tokio::test]
    async fn operations_route_to_their_permissions() {
        let mock = running().await;
        let (status, created) = mock
            .create(json!({"status": "active", "permissions": ["threeDs:Create"]}))
            .await;
        assert_eq!(status, 201, "{created}");
        let own = basic::header_value(
            created["key"].as_str().expect("a key"),
            created["secret"].as_str().expect("a secret"),
        )
        .expect("encodable");
        let post = reqwest::Method::POST;
        let get = reqwest::Method::GET;
        let json_body = || Some(("application/json", b"{}".to_vec()));
        for (method, path, needed) in [
            (get.clone(), "/v1/agents/current".to_owned(), "agents:Get"),
            (
                post.clone(),
                format!("/v1/agents/{AGENT_KEY}/bearerToken/"),
                "agents:CreateBearerToken",
            ),
            (post.clone(), "/v1/apiKeys".to_owned(), "apiKeys:Create"),
            (get.clone(), "/v1/apiKeys/".to_owned(), "apiKeys:List"),
            (get.clone(), "/v1/apiKeys/apk-1".to_owned(), "apiKeys:Get"),
            (
                reqwest::Method::PATCH,
                "/v1/apiKeys/apk-1".to_owned(),
                "apiKeys:Update",
            ),
            (
                reqwest::Method::DELETE,
                "/v1/apiKeys/apk-1".to_owned(),
                "apiKeys:Archive",
            ),
            (get.clone(), "/v1/charges".to_owned(), "charges:List"),
            (get.clone(), "/v1/charges/chg-1".to_owned(), "charges:Get"),
            (get.clone(), "/v1/reports".to_owned(), "reports:List"),
            (get.clone(), "/v1/reports/rep-1//".to_owned(), "reports:Get"),
            (
                get.clone(),
                "/v1/merchants/mct-1".to_owned(),
                "merchants:Get",
            ),
        ] {
            let (status, problem) = mock
                .send(method.clone(), &path, Some(own.as_bytes()), json_body())
                .await;
            assert_eq!(status, 403, "{method} {path}: {problem}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(
                detail.contains(&format!("`{needed}`")),
                "{method} {path}: {detail}"
            );
        }
        let admin = mock.admin_basic();
        for (method, path, expected) in [
            (post.clone(), "/v1/charges", 405),
            (reqwest::Method::PUT, "/v1/apiKeys/apk-1", 405),
            (get.clone(), "/v1/agents/current/bearerToken", 405),
            (get.clone(), "/v2/charges", 404),
            (get.clone(), "/v1/agents/cgt-other", 404),
            (post.clone(), "/v1/agents/cgt-other/bearerToken", 404),
            (get.clone(), "/v1/charges/chg-unknown", 404),
        ] {
            let (status, problem) = mock
                .send(method.clone(), path, Some(admin.as_bytes()), None)
                .await;
            assert_eq!(status, expected, "{method} {path}: {problem}");
            assert_eq!(problem["status"], expected, "{method} {path}");
            let (status, _) = mock.send(method.clone(), path, None, None).await;
            assert_eq!(status, 401, "unauthenticated {method} {path}");
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
