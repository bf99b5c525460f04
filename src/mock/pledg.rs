//! The Pledg provider (split and deferred payments): client-credentials access tokens obtained
//! with HTTP Basic, dashboard credentials as Basic, signed purchase parameters (an HS256 JWT in a
//! single `signature` parameter) and the signed standard payment notification. Its requirements
//! are in `specs/pledg.yaml`.
//!
//! Two hosts, both open to every source (Pledg documents no allowlist):
//!
//! ```text
//! back
//! POST /api/token                          Basic base64(api_key:api_secret),   200 {access_token,
//!                                            grant_type=client_credentials       token_type: Bearer,
//!                                                                                expires_in: 600}
//!                                                                             | 401 invalid_client
//!                                                                             | 400 unsupported_grant_type
//! POST /api/purchases/{uid}/credit_by_transfer  Bearer, {"amount_cents": n}    200 | 401 + Bearer challenge
//! GET  /api/merchants/me                   Basic dashboard email:password      200 {uid, …} | 401 + Basic challenge
//! GET  /api/payment_by_transfer            signature=<HS256 JWT over           200 {purchase: {uid, reference, …}}
//!                                            {data: params, exp?}>            | 400 {type: invalid_request_error, message}
//! notifications
//! GET  /notifications/{reference}          (none)                              200 the standard notification | 404
//! both
//! anything else                                                                404, empty body
//! ```
//!
//! - **Access tokens** are HS256 JWTs signed with a key drawn at start, carrying `exp` 600 s after
//!   issue on the scenario's [`VirtualClock`]. The token endpoint (the kit's [`TokenEndpoint`],
//!   with `token_policy`) authenticates the client first (both parts of the Basic credentials
//!   compared, always), then refuses repeated parameters and requires `grant_type` to be exactly
//!   `client_credentials`; every reply is uncacheable. Error bodies follow RFC 6749 §5.2 and a
//!   failed client authentication carries a `WWW-Authenticate: Basic` challenge (§5.2 requires it
//!   when the client used the `Authorization` header); Pledg documents neither.
//! - **Bearer routes** answer 401 with `WWW-Authenticate: Bearer realm="pledg"`, plus
//!   `error="invalid_token"` when a token was presented (RFC 6750 §3.1), before looking at the
//!   purchase, so a caller without a token learns nothing about which purchases exist.
//! - **Dashboard Basic**: `GET /api/merchants/me` (the path is the mock's choice; Pledg documents
//!   that "some endpoints" take these credentials, not which) answers the merchant [`MERCHANT_UID`]
//!   to the dashboard email and password, and 401 with a Basic challenge to anything else.
//! - **Signed parameters**: the merchant runs in "signature required" mode, as the direct call
//!   of the Pledg back requires. `GET /api/payment_by_transfer` takes one parameter, `signature`,
//!   an HS256 JWT whose `data` claim holds the purchase parameters (`merchantUid`, `amountCents`,
//!   `email`, `firstName`, `lastName`, `reference`, `title`), verified with the merchant secret and
//!   its optional `exp` read on the scenario's clock. Parameters sent in the clear beside a
//!   signature are ignored: only signed values are used. Refusals are 400 with the plugin's
//!   documented error object `{type: "invalid_request_error", message}`; method, status and the
//!   success body (the documented transfer-mode result `{purchase: {uid, reference}}`) are the
//!   mock's choices.
//! - **Notifications**: Pledg signs the standard payment notification it POSTs to the merchant's
//!   `paymentNotificationUrl`. The `notifications` host stands in for the merchant's receiver
//!   and shows the one notification Pledg delivered for [`NOTIFICATION_REFERENCE`], signed with the
//!   merchant secret: uppercase hex SHA-256 of `created_at`, `error`, `id`, `reference`, `sandbox`
//!   and `status`, sorted, written `key=value` and joined with the secret (`notification_signature`,
//!   written here independently of the scenarios' `canonical_signature` op).
//!
//! [`MERCHANT_UID`], [`PURCHASE_UID`] and [`NOTIFICATION_REFERENCE`] mirror the `pledg` variables
//! of `targets/mock.yaml`, because a mock is given secrets but not variables.
//!
//! [`DEVIATIONS`] each switch one documented behaviour off, so tests can prove the scenarios catch
//! it. Nothing a request carries is logged; secrets are compared with [`credential_eq`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use aws_lc_rs::hmac;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use strum::VariantNames as _;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::kit::ids::{self, IdFormat};
use super::kit::request::{basic_credentials, bearer, pair_eq};
use super::kit::{
    Challenge, Check, ClientAuth, Deviations, FormParams, NoStore, ReplyExt as _, TokenEndpoint,
    TokenPolicy, TokenProvider, TokenRefusal, TokenReply, TokenRequest, fallback,
    json as json_reply, oauth_error,
};
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::jwt::{self, JwtError, SigningKey, VerifyingKey};
use crate::clock::VirtualClock;

/// The Pledg mock's hosts: Pledg's API, and the merchant's notification receiver.
pub const HOSTS: &[&str] = &["back", "notifications"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    /// Access tokens keep working after their 600 s.
    AcceptsExpiredTokens,
    /// `/api/token` issues a token for any `grant_type` value.
    AcceptsAnyGrantType,
    /// The dashboard Basic check compares the email only.
    AcceptsAnyDashboardPassword,
    /// `/api/payment_by_transfer` takes parameters in the clear when no `signature` is given
    /// ("signature required" switched off).
    AcceptsUnsignedParameters,
    /// A signature past its `exp` is still accepted.
    IgnoresSignatureExpiry,
    /// A `signature` JWT with `alg: none` is accepted unverified.
    AcceptsAlgNoneSignature,
    /// The notification signature is lowercase hex.
    LowercaseNotificationSignature,
    /// The notification signature is an HMAC-SHA256 keyed by the secret over the fields joined
    /// with `&`, not the documented plain SHA-256.
    HmacNotificationSignature,
    /// `additional_data` and `metadata` are signed too.
    SignsEveryNotificationField,
}

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Conformant variants: other choices where Pledg's documentation is silent, which the scenarios
/// must not take for non-conformance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Conformant {
    /// A token request without `grant_type` gets `unsupported_grant_type` (Pledg: anything but
    /// `client_credentials` is refused) rather than RFC 6749's `invalid_request`.
    UnsupportedGrantTypeWhenMissing,
    /// The signed parameters go to `POST /api/v2/purchases/signed` (still one `signature` query
    /// parameter, as Pledg documents it), whose refusals are 422 with a body of its own. Conforms
    /// with a target whose `signed_entry_method` and `signed_entry_path` say so.
    OtherSignedEntryPoint,
    /// The Basic-protected dashboard endpoint is `GET /api/v2/merchant/account`. Conforms with a
    /// target whose `dashboard_path` says so.
    OtherDashboardPath,
}

/// Where [`Conformant::OtherSignedEntryPoint`] takes the signed parameters.
pub const OTHER_SIGNED_ENTRY_PATH: &str = "/api/v2/purchases/signed";

/// Where [`Conformant::OtherDashboardPath`] serves the dashboard endpoint.
pub const OTHER_DASHBOARD_PATH: &str = "/api/v2/merchant/account";

/// The names of [`Conformant`], for the registry.
pub const CONFORMANT: &[&str] = Conformant::VARIANTS;

/// Access-token lifetime, in seconds (`expires_in`).
pub const TOKEN_TTL_SECONDS: u64 = 600;

/// The merchant the target's credentials belong to (`merchant_uid` in `targets/mock.yaml`).
pub const MERCHANT_UID: &str = "mer_7f3a9c0d";

/// The merchant's purchase paid by transfer (`purchase_uid` in `targets/mock.yaml`).
pub const PURCHASE_UID: &str = "pur_2b8e41aa";

/// The purchase whose standard notification was delivered (`notification_reference` in
/// `targets/mock.yaml`).
pub const NOTIFICATION_REFERENCE: &str = "PLEDG_1086986786391";

/// Largest documented `amountCents`.
const MAX_AMOUNT_CENTS: i64 = 1_000_000;

/// Purchase parameters the documentation lists as required (the callbacks aside).
const REQUIRED_STRINGS: &[&str] = &["email", "firstName", "lastName", "reference", "title"];

/// Notification fields covered by the signature, as documented.
const SIGNED_NOTIFICATION_FIELDS: &[&str] = &[
    "created_at",
    "error",
    "id",
    "reference",
    "sandbox",
    "status",
];

/// Starts the Pledg provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let deviations = Deviations::<Deviation>::from_config_among(&config, CONFORMANT)?;
    let conformant = Deviations::<Conformant>::from_config_among(&config, DEVIATIONS)?;
    let merchant_secret = config.secret("merchant_secret")?;
    let notification = delivered_notification(
        config.clock.now(),
        &merchant_secret,
        NotificationSigning::from_deviations(&deviations),
    );
    let pledg = Arc::new(Pledg {
        api_key: config.secret("api_key")?,
        api_secret: config.secret("api_secret")?,
        dashboard_email: config.secret("dashboard_email")?,
        dashboard_password: config.secret("dashboard_password")?,
        merchant_secret,
        token_key: ids::random_bytes(32),
        token_policy: token_policy(),
        clock: config.clock.clone(),
        notification,
        deviations,
        conformant,
    });

    let dashboard = if pledg.conformant.has(Conformant::OtherDashboardPath) {
        OTHER_DASHBOARD_PATH
    } else {
        "/api/merchants/me"
    };
    let (signed_entry_method, signed_entry) =
        if pledg.conformant.has(Conformant::OtherSignedEntryPoint) {
            ("POST", OTHER_SIGNED_ENTRY_PATH)
        } else {
            ("GET", "/api/payment_by_transfer")
        };
    let back = MockServer::builder().start().await;
    let back_routes = [
        route("POST", r"^/api/token$").respond_with(TokenEndpoint::new(pledg.clone())),
        route("POST", r"^/api/purchases/[^/]+/credit_by_transfer$")
            .respond_with(CreditByTransfer(pledg.clone())),
        route("GET", &format!("^{dashboard}$")).respond_with(Merchant(pledg.clone())),
        route(signed_entry_method, &format!("^{signed_entry}$"))
            .respond_with(PaymentByTransfer(pledg.clone())),
        // Pledg documents no answer for unknown routes, nor for a wrong method on a known one.
        fallback(ResponseTemplate::new(404)),
    ];
    for mock in back_routes {
        back.register(mock).await;
    }
    let receiver = MockServer::builder().start().await;
    let receiver_routes = [
        route("GET", r"^/notifications/[^/]+$").respond_with(Notification(pledg)),
        // Pledg documents no answer for unknown routes, nor for a wrong method on a known one.
        fallback(ResponseTemplate::new(404)),
    ];
    for mock in receiver_routes {
        receiver.register(mock).await;
    }

    let back_front = front::start(*back.address(), Arc::new(|_| SourcePolicy::Allow))
        .await
        .map_err(|e| format!("cannot start the front of host `back`: {e}"))?;
    let receiver_front = front::start(*receiver.address(), Arc::new(|_| SourcePolicy::Allow))
        .await
        .map_err(|e| format!("cannot start the front of host `notifications`: {e}"))?;
    Ok(RunningMock {
        hosts: HashMap::from([
            ("back".to_owned(), back_front.url()),
            ("notifications".to_owned(), receiver_front.url()),
        ]),
        _servers: vec![
            Box::new(back_front),
            Box::new(receiver_front),
            Box::new(back),
            Box::new(receiver),
        ],
    })
}

/// Matches `verb` requests to the paths `route_path` (a regex) matches.
fn route(verb: &str, route_path: &str) -> MockBuilder {
    Mock::given(method(verb)).and(path_regex(route_path))
}

/// The provider, shared by every route's responder of both hosts: the target's credentials, the
/// token key, the delivered notification, its token policy and its deviations.
struct Pledg {
    api_key: String,
    api_secret: String,
    dashboard_email: String,
    dashboard_password: String,
    merchant_secret: String,
    /// Signs and verifies the access tokens this mock issues (drawn at start).
    token_key: Vec<u8>,
    token_policy: TokenPolicy,
    clock: Arc<VirtualClock>,
    /// The standard notification delivered for [`NOTIFICATION_REFERENCE`].
    notification: Value,
    deviations: Deviations<Deviation>,
    conformant: Deviations<Conformant>,
}

/// What Pledg's token endpoint does (`POST /api/token`): the client authenticates by Basic
/// first (both parts compared, always), then repeated parameters, a client secret also in the
/// body, and `grant_type`, which must be
/// exactly `client_credentials`; every reply is uncacheable.
fn token_policy() -> TokenPolicy {
    TokenPolicy {
        realm: "pledg".to_owned(),
        client_auth: ClientAuth::BASIC,
        checks: vec![
            Check::Client,
            Check::RepeatedParameters,
            Check::OneClientAuthMethod,
            Check::GrantType,
        ],
        grant_types: vec!["client_credentials"],
        no_store: NoStore::Always,
    }
}

impl TokenProvider for Pledg {
    fn policy(&self) -> &TokenPolicy {
        &self.token_policy
    }

    fn client_matches(&self, id: &str, secret: &str) -> bool {
        pair_eq((id, secret), (&self.api_key, &self.api_secret))
    }

    fn supports_grant(&self, grant_type: &str) -> bool {
        grant_type == "client_credentials" || self.deviations.has(Deviation::AcceptsAnyGrantType)
    }

    fn refuse(&self, refusal: TokenRefusal<'_>) -> ResponseTemplate {
        match refusal {
            TokenRefusal::MissingGrantType
                if self
                    .conformant
                    .has(Conformant::UnsupportedGrantTypeWhenMissing) =>
            {
                oauth_error(
                    400,
                    "unsupported_grant_type",
                    "grant_type must be client_credentials",
                )
            }
            refusal => refusal.rfc6749(self.policy()),
        }
    }

    /// Issues an HS256 JWT access token carrying its `exp`.
    fn grant(&self, _grant_type: &str, _request: &TokenRequest<'_>) -> TokenReply {
        let now = self.now_unix();
        let claims = json!({
            "iss": "pledg",
            "sub": MERCHANT_UID,
            "iat": now,
            "exp": now + TOKEN_TTL_SECONDS,
            "jti": pledg_id("tok_"),
        });
        match jwt::sign(&claims, &SigningKey::hs256(&self.token_key)) {
            Ok(token) => TokenReply::Issued(
                json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}),
            ),
            Err(_) => TokenReply::Refused(json_reply(500, json!({"error": "server_error"}))),
        }
    }
}

/// `POST /api/purchases/{uid}/credit_by_transfer`: a refund by transfer, Bearer only.
struct CreditByTransfer(Arc<Pledg>);

impl Respond for CreditByTransfer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pledg = &*self.0;
        let Some(token) = bearer(request) else {
            return json_reply(401, json!({"error": "unauthorized"}))
                .with_challenge(&Challenge::bearer("pledg"));
        };
        if !pledg.bearer_valid(token) {
            let challenge = Challenge::bearer("pledg")
                .error("invalid_token", "the access token is invalid or expired");
            return json_reply(401, json!({"error": "invalid_token"})).with_challenge(&challenge);
        }
        let uid = request
            .url
            .path_segments()
            .and_then(|mut segments| segments.nth(2))
            .unwrap_or_default();
        if uid != PURCHASE_UID {
            return json_reply(
                404,
                json!({"type": "not_found", "message": "No such purchase"}),
            );
        }
        let amount = serde_json::from_slice::<Value>(&request.body)
            .ok()
            .and_then(|body| body.get("amount_cents").and_then(Value::as_i64))
            .filter(|amount| (1..=MAX_AMOUNT_CENTS).contains(amount));
        let Some(amount) = amount else {
            return invalid_request("The provided property amount_cents is invalid");
        };
        json_reply(
            200,
            json!({
                "uid": pledg_id("cre_"),
                "purchase_uid": PURCHASE_UID,
                "amount_cents": amount,
                "status": "PENDING",
            }),
        )
    }
}

/// `GET /api/merchants/me`: the dashboard credentials as Basic.
struct Merchant(Arc<Pledg>);

impl Respond for Merchant {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pledg = &*self.0;
        let (email, password) = basic_credentials(request).unwrap_or_default();
        // Both compared, always, so timing does not tell which one was wrong.
        let email_ok = credential_eq(email.as_bytes(), pledg.dashboard_email.as_bytes());
        let password_ok = credential_eq(password.as_bytes(), pledg.dashboard_password.as_bytes());
        let any_password = pledg.deviations.has(Deviation::AcceptsAnyDashboardPassword);
        if !(email_ok & (password_ok | any_password)) {
            return basic_challenge(json!({"error": "unauthorized"}));
        }
        json_reply(
            200,
            json!({"uid": MERCHANT_UID, "name": "Pledg mock merchant", "payment_type": "INSTALLMENT"}),
        )
    }
}

/// `GET /api/payment_by_transfer`: purchase parameters, signed (the signature is mandatory).
struct PaymentByTransfer(Arc<Pledg>);

impl Respond for PaymentByTransfer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pledg = &*self.0;
        let query = FormParams::parse(request.url.query().unwrap_or_default().as_bytes());
        if let Some(repeated) = query.repeated() {
            return pledg.signed_entry_refusal(&format!(
                "The provided property {repeated} is given more than once"
            ));
        }
        let params = query.to_map();
        let data = match params.get("signature") {
            Some(signature) => match pledg.verify_signature(signature) {
                Ok(data) => data,
                Err(message) => return pledg.signed_entry_refusal(message),
            },
            None if pledg.deviations.has(Deviation::AcceptsUnsignedParameters) => {
                clear_parameters(&params)
            }
            None => return pledg.signed_entry_refusal("The signature is mandatory"),
        };
        let purchase = match validate_purchase(&data) {
            Ok(purchase) => purchase,
            Err(property) => {
                return pledg
                    .signed_entry_refusal(&format!("The provided property {property} is invalid"));
            }
        };
        json_reply(
            200,
            json!({"purchase": {
                "uid": pledg_id("pur_"),
                "reference": purchase.reference,
                "amount_cents": purchase.amount_cents,
                "merchant_uid": MERCHANT_UID,
                "meta_data": {},
            }}),
        )
    }
}

/// `GET /notifications/{reference}`: what the merchant's receiver got from Pledg.
struct Notification(Arc<Pledg>);

impl Respond for Notification {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pledg = &*self.0;
        let reference = request
            .url
            .path_segments()
            .and_then(|mut segments| segments.nth(1))
            .unwrap_or_default();
        if reference == NOTIFICATION_REFERENCE {
            json_reply(200, pledg.notification.clone())
        } else {
            json_reply(
                404,
                json!({"error": "no notification was received for this reference"}),
            )
        }
    }
}

/// The plugin's documented error object, as the signed-parameters entry point answers it.
fn invalid_request(message: &str) -> ResponseTemplate {
    json_reply(
        400,
        json!({"type": "invalid_request_error", "message": message}),
    )
}

impl Pledg {
    /// Refuses signed parameters: the plugin's documented error object, or under
    /// [`Conformant::OtherSignedEntryPoint`] that entry point's own 422.
    fn signed_entry_refusal(&self, message: &str) -> ResponseTemplate {
        if self.conformant.has(Conformant::OtherSignedEntryPoint) {
            json_reply(
                422,
                json!({"error": {"code": "invalid_signed_parameters", "message": message}}),
            )
        } else {
            invalid_request(message)
        }
    }
}

/// The 401 of a Basic-protected route.
fn basic_challenge(body: Value) -> ResponseTemplate {
    json_reply(401, body).with_challenge(&Challenge::basic("pledg").charset_utf8())
}

/// Returns an identifier in Pledg's style: a type prefix and 24 hex digits.
fn pledg_id(prefix: &str) -> String {
    format!("{prefix}{}", ids::random_id(IdFormat::Hex(12)))
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Pledg {
    fn now_unix(&self) -> u64 {
        unix_seconds(self.clock.now())
    }

    /// Tells whether the request carries a token this mock issued that has not expired.
    fn bearer_valid(&self, token: &str) -> bool {
        match jwt::verify(
            token,
            &VerifyingKey::hs256(&self.token_key),
            self.now_unix(),
        ) {
            Ok(_) => true,
            Err(JwtError::Expired { .. }) => self.deviations.has(Deviation::AcceptsExpiredTokens),
            Err(_) => false,
        }
    }

    /// Verifies a `signature` parameter and returns its `data`, or says why it is refused.
    fn verify_signature(&self, signature: &str) -> Result<Map<String, Value>, &'static str> {
        let key = VerifyingKey::hs256(self.merchant_secret.as_bytes());
        let verified = match jwt::verify(signature, &key, self.now_unix()) {
            Ok(token) => token,
            Err(JwtError::Expired { .. })
                if self.deviations.has(Deviation::IgnoresSignatureExpiry) =>
            {
                // The signature is checked; only the expiry is skipped.
                jwt::verify(signature, &key, 0).map_err(|_| "The signature is invalid")?
            }
            Err(JwtError::Expired { .. }) => return Err("The signature has expired"),
            Err(_) if self.deviations.has(Deviation::AcceptsAlgNoneSignature) => {
                jwt::decode_unverified(signature)
                    .ok()
                    .filter(|token| token.alg() == Some("none"))
                    .ok_or("The signature is invalid")?
            }
            Err(_) => return Err("The signature is invalid"),
        };
        match verified.claim("data") {
            Some(Value::Object(data)) => Ok(data.clone()),
            _ => Err("The signature carries no data"),
        }
    }
}

/// Purchase parameters sent in the clear, typed as the plugin would send them (only reachable
/// with `accepts-unsigned-parameters`).
fn clear_parameters(params: &HashMap<String, String>) -> Map<String, Value> {
    params
        .iter()
        .map(|(name, value)| {
            let value = match (name.as_str(), value.parse::<i64>()) {
                ("amountCents", Ok(amount)) => Value::from(amount),
                _ => Value::from(value.as_str()),
            };
            (name.clone(), value)
        })
        .collect()
}

/// A purchase the parameters describe.
#[derive(Debug, PartialEq)]
struct Purchase {
    reference: String,
    amount_cents: i64,
}

/// Checks the required purchase parameters; `Err` names the first invalid one.
fn validate_purchase(data: &Map<String, Value>) -> Result<Purchase, &'static str> {
    if data.get("merchantUid").and_then(Value::as_str) != Some(MERCHANT_UID) {
        return Err("merchantUid");
    }
    let amount_cents = data
        .get("amountCents")
        .and_then(Value::as_i64)
        .filter(|amount| (1..=MAX_AMOUNT_CENTS).contains(amount))
        .ok_or("amountCents")?;
    for name in REQUIRED_STRINGS {
        if data
            .get(*name)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(name);
        }
    }
    let reference = data
        .get("reference")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Purchase {
        reference,
        amount_cents,
    })
}

/// How the mock signs its notification: as documented, or one of the deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotificationSigning {
    Documented,
    Lowercase,
    Hmac,
    EveryField,
}

impl NotificationSigning {
    fn from_deviations(deviations: &Deviations<Deviation>) -> Self {
        if deviations.has(Deviation::LowercaseNotificationSignature) {
            Self::Lowercase
        } else if deviations.has(Deviation::HmacNotificationSignature) {
            Self::Hmac
        } else if deviations.has(Deviation::SignsEveryNotificationField) {
            Self::EveryField
        } else {
            Self::Documented
        }
    }
}

/// Builds the standard notification Pledg delivered for [`NOTIFICATION_REFERENCE`] at `at`.
fn delivered_notification(at: SystemTime, secret: &str, signing: NotificationSigning) -> Value {
    let created_at = time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2019-04-04T12:20:34.97138Z".to_owned());
    let mut notification = json!({
        "created_at": created_at,
        "error": "",
        "id": pledg_id("psp_"),
        "reference": NOTIFICATION_REFERENCE,
        "sandbox": true,
        "status": "completed",
        "additional_data": {"refund_id": "re_0001"},
        "metadata": {"departure_date": "2019-06-14"},
    });
    if let Some(fields) = notification.as_object_mut() {
        let signature = notification_signature(fields, secret, signing);
        fields.insert("signature".to_owned(), Value::from(signature));
    }
    notification
}

/// Signs a standard notification: the documented fields sorted by name, each `name=value`
/// (strings raw, other values as JSON), joined with the secret, hashed with SHA-256, written in
/// uppercase hex. The deviations change exactly one of these steps.
fn notification_signature(
    notification: &Map<String, Value>,
    secret: &str,
    signing: NotificationSigning,
) -> String {
    let mut names: Vec<&String> = notification
        .keys()
        .filter(|name| {
            SIGNED_NOTIFICATION_FIELDS.contains(&name.as_str())
                || (signing == NotificationSigning::EveryField && name.as_str() != "signature")
        })
        .collect();
    names.sort();
    let parts: Vec<String> = names
        .into_iter()
        .map(|name| {
            let value = match &notification[name] {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            format!("{name}={value}")
        })
        .collect();
    let digest: Vec<u8> = if signing == NotificationSigning::Hmac {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        hmac::sign(&key, parts.join("&").as_bytes())
            .as_ref()
            .to_vec()
    } else {
        Sha256::digest(parts.join(secret).as_bytes()).to_vec()
    };
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    if signing == NotificationSigning::Lowercase {
        hex.to_lowercase()
    } else {
        hex
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::auth::basic;

    fn encode_segment(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    const VECTOR: &str = "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359";

    /// The documentation's example notification.
    fn documented_notification() -> Map<String, Value> {
        json!({
            "created_at": "2019-04-04T12:20:34.97138Z",
            "id": "test-valid",
            "additional_data": {"xx": "yy"},
            "metadata": {"foo": "bar"},
            "status": "completed",
            "sandbox": "true",
            "error": "",
            "reference": "PLEDG_1086986786391",
            "signature": VECTOR,
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn constants_mirror_the_mock_target() {
        let target = crate::Target::mock();
        let variables = target
            .providers
            .get("pledg")
            .map(|p| p.variables.clone())
            .unwrap_or_default();
        for (name, value) in [
            ("merchant_uid", MERCHANT_UID),
            ("purchase_uid", PURCHASE_UID),
            ("notification_reference", NOTIFICATION_REFERENCE),
        ] {
            assert_eq!(
                variables.get(name).map(String::as_str),
                Some(value),
                "{name}"
            );
        }
    }

    #[test]
    fn documented_vector() {
        let signed = notification_signature(
            &documented_notification(),
            "SECRET",
            NotificationSigning::Documented,
        );
        assert_eq!(signed, VECTOR);
    }

    #[test]
    fn boolean_sandbox_signs_as_the_documented_string() {
        let mut notification = documented_notification();
        notification.insert("sandbox".to_owned(), Value::Bool(true));
        let signed =
            notification_signature(&notification, "SECRET", NotificationSigning::Documented);
        assert_eq!(signed, VECTOR);
    }

    #[test]
    fn each_deviation_changes_the_signature() {
        let notification = documented_notification();
        let lower = notification_signature(&notification, "SECRET", NotificationSigning::Lowercase);
        assert_eq!(lower, VECTOR.to_lowercase());
        for signing in [NotificationSigning::Hmac, NotificationSigning::EveryField] {
            let signed = notification_signature(&notification, "SECRET", signing);
            assert_ne!(signed, VECTOR, "{signing:?}");
            assert_eq!(signed.len(), 64);
            assert!(
                signed
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn delivered_notification_verifies_with_the_runner() {
        let notification = delivered_notification(
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            "merchant-secret",
            NotificationSigning::Documented,
        );
        let fields = notification.as_object().cloned().unwrap_or_default();
        assert_eq!(
            fields.get("signature").and_then(Value::as_str),
            Some(crate::auth::pledg::notification_signature(&fields, "merchant-secret").as_str())
        );
        assert_eq!(
            fields.get("created_at").and_then(Value::as_str),
            Some("2023-11-14T22:13:20Z")
        );
    }

    fn params() -> Map<String, Value> {
        json!({
            "merchantUid": MERCHANT_UID,
            "amountCents": 30550,
            "email": "buyer@example.test",
            "firstName": "Gaëlle",
            "lastName": "Guéguen",
            "reference": "order_123",
            "title": "STAY IN LONDON",
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn purchase_parameters_are_checked() {
        assert_eq!(
            validate_purchase(&params()),
            Ok(Purchase {
                reference: "order_123".to_owned(),
                amount_cents: 30550
            })
        );
        let broken: [(&str, Value, &str); 5] = [
            ("merchantUid", json!("mer_other"), "merchantUid"),
            ("amountCents", json!(0), "amountCents"),
            ("amountCents", json!(1_000_001), "amountCents"),
            ("amountCents", json!("30550"), "amountCents"),
            ("email", json!(""), "email"),
        ];
        for (name, value, refused) in broken {
            let mut data = params();
            data.insert(name.to_owned(), value);
            assert_eq!(validate_purchase(&data), Err(refused));
        }
        let mut data = params();
        data.remove("title");
        assert_eq!(validate_purchase(&data), Err("title"));
    }

    #[test]
    fn clear_amount_is_a_number() {
        let params = HashMap::from([
            ("amountCents".to_owned(), "30550".to_owned()),
            ("reference".to_owned(), "12".to_owned()),
        ]);
        let data = clear_parameters(&params);
        assert_eq!(data.get("amountCents"), Some(&json!(30550)));
        assert_eq!(data.get("reference"), Some(&json!("12")));
    }

    #[tokio::test]
    async fn the_token_endpoint_authenticates_the_client_before_reading_the_form() {
        let target = crate::Target::mock();
        let secrets = target.inline_secrets("pledg");
        let mock = start(MockConfig {
            clock: Arc::new(VirtualClock::new()),
            secrets: secrets.clone(),
            deviations: Vec::new(),
        })
        .await
        .expect("the mock starts");
        let url = format!("{}/api/token", mock.url("back").expect("the back host"));
        let client = basic::header_value(&secrets["api_key"], &secrets["api_secret"]).unwrap();
        let stranger = basic::header_value(&secrets["api_key"], "not-the-secret").unwrap();
        let http = reqwest::Client::new();
        for (authorization, body, status, error) in [
            (
                &stranger,
                "grant_type=password&grant_type=x",
                401,
                "invalid_client",
            ),
            (
                &client,
                "grant_type=password&grant_type=x",
                400,
                "invalid_request",
            ),
            (
                &client,
                "grant_type=password",
                400,
                "unsupported_grant_type",
            ),
            (&client, "grant_type=client_credentials", 200, ""),
        ] {
            let response = http
                .post(&url)
                .header("authorization", authorization.as_str())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status().as_u16(), status, "{body}");
            let header = |name: &str| response.headers().get(name).cloned();
            assert_eq!(header("cache-control").unwrap(), "no-store", "{body}");
            let challenge = header("www-authenticate");
            assert_eq!(
                challenge.is_some_and(|c| c == "Basic realm=\"pledg\""),
                status == 401,
                "{body}"
            );
            let reply: Value = response.json().await.expect("a JSON body");
            assert_eq!(reply["error"].as_str().unwrap_or_default(), error, "{body}");
        }
    }

    #[tokio::test]
    async fn each_host_answers_its_own_routes_and_an_empty_404_to_anything_else() {
        let target = crate::Target::mock();
        let mock = start(MockConfig {
            clock: Arc::new(VirtualClock::new()),
            secrets: target.inline_secrets("pledg"),
            deviations: Vec::new(),
        })
        .await
        .expect("the mock starts");
        let back = mock.url("back").expect("the back host");
        let notifications = mock.url("notifications").expect("the notifications host");
        let http = reqwest::Client::new();
        let delivered = format!("{notifications}/notifications/{NOTIFICATION_REFERENCE}");
        let response = http.get(&delivered).send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), 200);
        // An unknown reference is the route's own 404, with a body.
        let other = format!("{notifications}/notifications/PLEDG_0");
        let response = http.get(other).send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), 404);
        assert!(!response.bytes().await.expect("a body").is_empty());
        for request in [
            http.get(format!("{back}/api/token")),
            http.post(format!("{back}/api/merchants/me")),
            http.get(format!("{back}/notifications/{NOTIFICATION_REFERENCE}")),
            http.post(&delivered),
            http.get(format!("{delivered}/extra")),
            http.get(format!("{notifications}/api/merchants/me")),
        ] {
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status().as_u16(), 404);
            assert!(response.bytes().await.expect("a body").is_empty());
        }
    }

    #[test]
    fn alg_none_is_only_accepted_by_the_deviation() {
        let header = encode_segment(&json!({"alg": "none", "typ": "JWT"}));
        let claims = encode_segment(&json!({"data": params()}));
        let unsigned = format!("{header}.{claims}.");
        let mock = |deviations: &[&str]| Pledg {
            api_key: String::new(),
            api_secret: String::new(),
            dashboard_email: String::new(),
            dashboard_password: String::new(),
            merchant_secret: "merchant-secret".to_owned(),
            token_key: vec![7; 32],
            token_policy: token_policy(),
            clock: Arc::new(VirtualClock::new()),
            notification: Value::Null,
            deviations: Deviations::parse(deviations.iter().copied()).expect("known deviations"),
            conformant: Deviations::none(),
        };
        assert_eq!(
            mock(&[]).verify_signature(&unsigned),
            Err("The signature is invalid")
        );
        assert_eq!(
            mock(&["accepts-alg-none-signature"]).verify_signature(&unsigned),
            Ok(params())
        );
        assert_eq!(
            mock(&["accepts-alg-none-signature"]).verify_signature("not.a.jwt"),
            Err("The signature is invalid")
        );
    }
}
