//! The Monerium provider (e-money institution): v1 HTTP Basic, the authorization-code flow with
//! PKCE (S256 only) for a headless test user who approves at once, refresh tokens that rotate,
//! and client credentials in the form body. Its requirements are in `specs/monerium.yaml`.
//!
//! One host, `api`, open to every source (Monerium documents no allowlist):
//!
//! ```text
//! GET  /balances      Basic base64(email:password), or Bearer   200 [...] | 401 Not authenticated
//! GET  /auth          client_id, redirect_uri, code_challenge,    302 redirect_uri?code=…&state=…
//! POST /auth            code_challenge_method=S256, state         | 302 redirect_uri?error=…&state=…
//!                                                                 | 400 {code, status, message}
//! POST /auth/token    grant_type=authorization_code (code,        200 {access_token, refresh_token,
//!                       client_id, code_verifier, redirect_uri)        expires_in: 3600, token_type}
//!                     grant_type=refresh_token (client_id,        200 new pair; the used one dies
//!                       refresh_token)                            | 400 "Client id must be the same…"
//!                     grant_type=client_credentials (client_id,   200 {access_token, …}
//!                       client_secret in the body)                | 401 invalid_client
//! GET  /auth/context  Bearer                                      200 context | 401 Not authenticated
//! anything else                                                   404, empty body
//! ```
//!
//! - **Registered clients.** The public PKCE clients are [`CLIENT_ID`] (redirect URI
//!   [`REDIRECT_URI`]) and [`OTHER_CLIENT_ID`] (redirect URI [`OTHER_REDIRECT_URI`]); they mirror
//!   the `monerium` variables of `targets/mock.yaml`, because a mock is given secrets but not
//!   variables. The client-credentials client is the target's `cc_client_id` / `cc_client_secret`.
//! - **Authorization.** `GET /auth` checks the client, then the redirect URI (exact match against
//!   the client's registered ones; optional when only one is registered). Either refused gets 400
//!   with Monerium's error shape and never a `Location`: an unregistered redirect URI is never
//!   redirected to (RFC 6749 §4.1.2.1). Once both are known, the request is checked for
//!   `response_type=code` and PKCE (a challenge of 43–128 unreserved characters and
//!   `code_challenge_method=S256`); a failure there is the authorization error response of RFC
//!   6749 §4.1.2.1 that RFC 7636 §4.4.1 asks for: a 302 to the redirect URI with
//!   `error=invalid_request` (or `unsupported_response_type`), `error_description` and `state`,
//!   and no code. A code lives 600 s on the scenario's clock.
//! - **Token endpoint** (the kit's [`TokenEndpoint`], with `token_policy`: repeated parameters
//!   are refused, then an unknown `grant_type`; every reply is uncacheable). Codes are single use
//!   (any exchange attempt consumes the code), bound to the client and redirect URI, and need the
//!   verifier whose `BASE64URL(SHA256(verifier))` is the challenge; failures are 400
//!   `invalid_grant`. A refresh token is invalidated when it is used (rotation); reuse is 400
//!   `invalid_grant`, another client's id is 400 with the documented message and does not consume
//!   the token. A wrong client secret is 401 `invalid_client` (the guide's shape; the OpenAPI
//!   shape is a 400 `{code, status, message}`, and scenarios accept both). Client authentication
//!   by Basic is not documented and not accepted.
//! - **Bearer tokens** expire 3600 s after issue on the scenario's [`VirtualClock`]. Missing,
//!   unknown and expired tokens all get the documented 401
//!   `{"code":401,"status":"Unauthorized","message":"Not authenticated"}`, with no
//!   `WWW-Authenticate` (none is documented).
//!
//! Nothing a request carries is logged; secrets are compared with [`credential_eq`].
//!
//! [`Deviation`]s each switch one documented behaviour off, so tests can prove the scenarios catch
//! it (`tests/deviations_monerium.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use strum::VariantNames as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::kit::request::{basic_credentials, bearer, pair_eq};
use super::kit::token::{PresentedClient, presented_client};
use super::kit::{
    Check, ClientAuth, Deviations, FormParams, NoStore, TokenEndpoint, TokenPolicy, TokenProvider,
    TokenRefusal, TokenReply, TokenRequest, fallback, ids, json as json_reply, oauth_error,
};
use super::{MockConfig, RunningMock, credential_eq};
use crate::auth::pkce;
use crate::clock::VirtualClock;

/// The Monerium mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour, for tests proving the scenarios catch them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    /// The token endpoint skips the PKCE verifier check.
    AcceptsWrongVerifier,
    /// `/auth` accepts `code_challenge_method=plain` (or none, RFC 7636's default of plain) and
    /// verifies the code with it.
    AcceptsPlainPkce,
    /// `/auth` redirects to whatever `redirect_uri` it is given.
    RedirectsUnregisteredUri,
    /// A used refresh token keeps working (no rotation).
    ReusableRefreshTokens,
    /// An authorization code can be exchanged more than once.
    ReusableCodes,
    /// Access tokens never expire.
    AcceptsExpiredTokens,
    /// v1 Basic checks the email only.
    AcceptsWrongBasicPassword,
    /// Redirects from `/auth` do not carry `state` back.
    DropsState,
    /// The code exchange answers without a `refresh_token`.
    OmitsRefreshToken,
    /// A refresh token works for any registered client.
    RefreshesForOtherClient,
    /// Client credentials are read from an `Authorization: Basic` header only, not from the form
    /// body as documented.
    RequiresBasicClientAuth,
    /// The client-credentials grant checks the client id only.
    AcceptsWrongClientSecret,
    /// The token endpoint takes the first of a parameter given twice instead of refusing it.
    AcceptsRepeatedParameters,
    /// The token endpoint checks that the verifier hashes to the challenge and holds only
    /// unreserved characters, but not its length (43 to 128).
    AcceptsVerifierOfAnyLength,
    /// The token endpoint checks the verifier's length and that it hashes to the challenge, but
    /// not that it holds only unreserved characters.
    AcceptsVerifierOfAnyCharacter,
    /// A code exchange without `code_verifier` skips the PKCE check.
    AcceptsMissingVerifier,
    /// The code exchange takes a `redirect_uri` that starts with the authorization request's,
    /// or that the authorization request's starts with, for the same (RFC 6749 §4.1.3 requires
    /// them identical).
    RedirectUriPrefixMatch,
}

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Conformant variants: other choices where Monerium's documentation is silent, which the
/// scenarios must not take for non-conformance.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Conformant {
    /// `/auth` shows its refusals before any redirect (unknown client, a redirect URI not
    /// registered for it) as an HTML error page: the docs give only the status.
    HtmlAuthorizeErrors,
    /// A wrong client secret gets the OpenAPI's `{code: 400, status, message}` instead of the
    /// guide's `invalid_client`: the docs show both.
    ApiShapeForBadClient,
}

/// The names of [`Conformant`], for the registry.
pub const CONFORMANT: &[&str] = Conformant::VARIANTS;

/// Access-token lifetime, in seconds (`expires_in`).
pub const TOKEN_TTL_SECONDS: u64 = 3600;

/// Authorization-code lifetime, in seconds (not documented; RFC 6749 §4.1.2 recommends at most
/// ten minutes).
pub const CODE_TTL_SECONDS: u64 = 600;

/// The registered public PKCE client (`client_id` in `targets/mock.yaml`).
pub const CLIENT_ID: &str = "mo-pkce-client-0001";

/// The redirect URI registered for [`CLIENT_ID`] (`redirect_uri` in `targets/mock.yaml`).
pub const REDIRECT_URI: &str = "https://app.monerium.test/callback";

/// A second registered public client (`other_client_id` in `targets/mock.yaml`).
pub const OTHER_CLIENT_ID: &str = "mo-pkce-client-0002";

/// The redirect URI registered for [`OTHER_CLIENT_ID`]; not [`REDIRECT_URI`].
pub const OTHER_REDIRECT_URI: &str = "https://other.monerium.test/callback";

/// The registered public clients and their redirect URIs, matched exactly.
const PUBLIC_CLIENTS: &[(&str, &[&str])] = &[
    (CLIENT_ID, &[REDIRECT_URI]),
    (OTHER_CLIENT_ID, &[OTHER_REDIRECT_URI]),
];

/// The test user's profile and user ids (fixed fakes).
const PROFILE_ID: &str = "9f6b1c2e-4a0d-11ef-8c1a-0242ac120002";
const USER_ID: &str = "a3d5e7f9-4a0d-11ef-8c1a-0242ac120002";
/// The partner whose client-credentials client the target names.
const PARTNER_ID: &str = "c4e6a8b0-4a0d-11ef-8c1a-0242ac120002";

/// Starts the Monerium provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let deviations = Deviations::from_config_among(&config, CONFORMANT)?;
    let mut token_policy = token_policy();
    if deviations.has(Deviation::AcceptsRepeatedParameters) {
        token_policy
            .checks
            .retain(|c| *c != Check::RepeatedParameters);
    }
    let monerium = Arc::new(Monerium {
        email: config.secret("email")?,
        password: config.secret("password")?,
        cc_client_id: config.secret("cc_client_id")?,
        cc_client_secret: config.secret("cc_client_secret")?,
        clock: config.clock.clone(),
        issued: Mutex::new(Issued::default()),
        token_policy,
        deviations,
        conformant: Deviations::from_config_among(&config, DEVIATIONS)?,
    });
    let server = MockServer::builder().start().await;
    let routes = [
        route("GET", "/balances").respond_with(Balances(monerium.clone())),
        route("GET", "/auth").respond_with(Authorize(monerium.clone())),
        route("POST", "/auth").respond_with(Authorize(monerium.clone())),
        route("POST", "/auth/token").respond_with(TokenEndpoint::new(monerium.clone())),
        route("GET", "/auth/context").respond_with(Context(monerium)),
        // Monerium documents no answer for unknown routes, nor for a wrong method on a known one.
        fallback(ResponseTemplate::new(404)),
    ];
    for mock in routes {
        server.register(mock).await;
    }
    let api = front::start(*server.address(), Arc::new(|_| SourcePolicy::Allow))
        .await
        .map_err(|e| format!("cannot start the front of host `api`: {e}"))?;
    Ok(RunningMock {
        hosts: HashMap::from([("api".to_owned(), api.url())]),
        _servers: vec![Box::new(api), Box::new(server)],
    })
}

/// Matches `verb` requests to exactly `route_path`.
fn route(verb: &str, route_path: &str) -> MockBuilder {
    Mock::given(method(verb)).and(path(route_path))
}

/// The provider, shared by every route's responder: the target's credentials, what it issued
/// (behind a mutex, since a responder gets only `&self`), its token policy and its deviations.
struct Monerium {
    email: String,
    password: String,
    cc_client_id: String,
    cc_client_secret: String,
    clock: Arc<VirtualClock>,
    issued: Mutex<Issued>,
    token_policy: TokenPolicy,
    deviations: Deviations<Deviation>,
    conformant: Deviations<Conformant>,
}

/// Everything the mock issued, by value.
#[derive(Default)]
struct Issued {
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
}

/// What an authorization code was issued for.
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    method: pkce::PkceMethod,
    expires: SystemTime,
    used: bool,
}

/// Whom an access token speaks for, and until when.
struct AccessGrant {
    subject: Subject,
    expires: SystemTime,
}

/// The client a refresh token was issued to.
struct RefreshGrant {
    client_id: String,
}

/// Who a token speaks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// The test user, through a PKCE client.
    User,
    /// The partner, through client credentials.
    Partner,
}

/// `GET /balances`: v1 Basic, or any valid bearer token.
struct Balances(Arc<Monerium>);

impl Respond for Balances {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let monerium = &*self.0;
        if !monerium.basic_user(request) && monerium.bearer_subject(request).is_none() {
            return not_authenticated();
        }
        json_reply(
            200,
            json!([{
                "id": PROFILE_ID,
                "chain": "ethereum",
                "network": "sepolia",
                "address": "0x59cffebb5a5a3ac0a1b1b0d8e2e0b6b8f4b1c2d3",
                "balances": [{"currency": "eur", "amount": "1000.00"}]
            }]),
        )
    }
}

/// `GET /auth/context`: bearer only.
struct Context(Arc<Monerium>);

impl Respond for Context {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let monerium = &*self.0;
        match monerium.bearer_subject(request) {
            None => not_authenticated(),
            Some(Subject::User) => json_reply(
                200,
                json!({
                    "userId": USER_ID,
                    "email": monerium.email,
                    "name": "Test User",
                    "roles": [],
                    "auth": {"method": "password", "subject": monerium.email, "verified": true},
                    "defaultProfile": PROFILE_ID,
                    "profiles": [{
                        "id": PROFILE_ID, "kind": "personal", "name": "Test User",
                        "perms": ["read", "write"]
                    }]
                }),
            ),
            Some(Subject::Partner) => json_reply(
                200,
                json!({
                    "userId": PARTNER_ID,
                    "name": "Test Partner",
                    "roles": [],
                    "auth": {"method": "bearer", "subject": PARTNER_ID, "verified": true},
                    "defaultProfile": PROFILE_ID,
                    "profiles": [{
                        "id": PROFILE_ID, "kind": "corporate", "name": "Test Partner",
                        "perms": ["read", "write"]
                    }]
                }),
            ),
        }
    }
}

/// `GET|POST /auth`: the headless test user approves at once, so a valid request is answered
/// with the redirect carrying the code.
struct Authorize(Arc<Monerium>);

impl Respond for Authorize {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let monerium = &*self.0;
        // The query and a POSTed form are one list of parameters: joined with `&`, they parse
        // as the one followed by the other.
        let mut encoded = request.url.query().unwrap_or_default().as_bytes().to_vec();
        if request.method.as_str() == "POST" {
            encoded.push(b'&');
            encoded.extend_from_slice(&request.body);
        }
        let params = FormParams::parse(&encoded);
        if let Some(repeated) = params.repeated() {
            return monerium.refuse_before_redirect(
                "Validation errors",
                Some(json!({ repeated: "must not be given more than once" })),
            );
        }
        let get = |name: &str| params.non_empty(name);

        // The client and its redirect URI come first: nothing is redirected before both are known.
        let Some(client_id) = get("client_id") else {
            return monerium.refuse_before_redirect(
                "Validation errors",
                Some(json!({"client_id": "client_id is required"})),
            );
        };
        let Some(registered) = registered_uris(client_id) else {
            return monerium.refuse_before_redirect("No such client ID", None);
        };
        let redirect_uri = match (get("redirect_uri"), registered) {
            (Some(given), _)
                if monerium.deviations.has(Deviation::RedirectsUnregisteredUri)
                    || registered.contains(&given) =>
            {
                given
            }
            (Some(_), _) => {
                return monerium.refuse_before_redirect(
                    "Validation errors",
                    Some(
                        json!({"redirect_uri": "redirect_uri must match a registered redirect URL exactly"}),
                    ),
                );
            }
            (None, [only]) => *only,
            (None, _) => {
                return monerium.refuse_before_redirect(
                    "Validation errors",
                    Some(
                        json!({"redirect_uri": "redirect_uri is required when several are registered"}),
                    ),
                );
            }
        };
        // From here on the redirect URI is trusted: refusals go back to it (RFC 6749 §4.1.2.1).
        let state = params.first("state");
        let refuse = |error: &str, description: &str| {
            monerium.redirect(
                redirect_uri,
                &[("error", error), ("error_description", description)],
                state,
            )
        };
        if get("response_type").is_some_and(|t| t != "code") {
            return refuse("unsupported_response_type", "only `code` is supported");
        }
        let Some(challenge) = get("code_challenge") else {
            return refuse("invalid_request", "code_challenge is required");
        };
        if !pkce::is_valid_verifier(challenge) {
            return refuse(
                "invalid_request",
                "code_challenge must be 43 to 128 unreserved characters",
            );
        }
        let method = match get("code_challenge_method") {
            Some("S256") => pkce::PkceMethod::S256,
            Some("plain") | None if monerium.deviations.has(Deviation::AcceptsPlainPkce) => {
                pkce::PkceMethod::Plain
            }
            _ => return refuse("invalid_request", "Monerium only supports S256"),
        };

        let code = ids::random_id(ids::TOKEN);
        monerium.issued().codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                challenge: challenge.to_owned(),
                method,
                expires: monerium.clock.now() + Duration::from_secs(CODE_TTL_SECONDS),
                used: false,
            },
        );
        monerium.redirect(redirect_uri, &[("code", &code)], state)
    }
}

/// What Monerium's token endpoint does (`POST /auth/token`): repeated parameters and a client
/// secret sent both in the body and with `Authorization` are refused (RFC 6749 §5.2), then `grant_type` must be one of the three documented grants; the public PKCE clients
/// authenticate no further, the client-credentials client with its secret in the form body (its
/// grant checks it); every reply is uncacheable.
fn token_policy() -> TokenPolicy {
    TokenPolicy {
        realm: "monerium".to_owned(),
        client_auth: ClientAuth::POST,
        checks: vec![
            Check::RepeatedParameters,
            Check::OneClientAuthMethod,
            Check::GrantType,
        ],
        grant_types: vec!["authorization_code", "refresh_token", "client_credentials"],
        no_store: NoStore::Always,
    }
}

impl TokenProvider for Monerium {
    fn policy(&self) -> &TokenPolicy {
        &self.token_policy
    }

    fn refuse(&self, refusal: TokenRefusal<'_>) -> ResponseTemplate {
        match refusal {
            TokenRefusal::InvalidClient { .. }
                if self.conformant.has(Conformant::ApiShapeForBadClient) =>
            {
                api_error("Invalid client credentials", None)
            }
            refusal => refusal.rfc6749(self.policy()),
        }
    }

    fn client_matches(&self, id: &str, secret: &str) -> bool {
        pair_eq((id, secret), (&self.cc_client_id, &self.cc_client_secret))
    }

    fn grant(&self, grant_type: &str, request: &TokenRequest<'_>) -> TokenReply {
        match grant_type {
            "authorization_code" => self.exchange_code(&request.form),
            "refresh_token" => self.refresh(&request.form),
            _ => self.client_credentials(request),
        }
    }
}

/// Refuses a token request with an RFC 6749 §5.2 error of status 400.
fn refused(error: &str, description: &str) -> TokenReply {
    TokenReply::Refused(oauth_error(400, error, description))
}

/// The documented 401 of every authenticated route.
fn not_authenticated() -> ResponseTemplate {
    json_reply(
        401,
        json!({"code": 401, "status": "Unauthorized", "message": "Not authenticated"}),
    )
}

/// Monerium's own error shape: `{code, status, message, errors?}`.
fn api_error(message: &str, errors: Option<Value>) -> ResponseTemplate {
    let mut body = json!({"code": 400, "status": "Bad Request", "message": message});
    if let (Some(errors), Some(object)) = (errors, body.as_object_mut()) {
        object.insert("errors".into(), errors);
    }
    json_reply(400, body).insert_header("cache-control", "no-store")
}

/// Returns the registered redirect URIs of a public client.
fn registered_uris(client_id: &str) -> Option<&'static [&'static str]> {
    PUBLIC_CLIENTS
        .iter()
        .find(|(id, _)| *id == client_id)
        .map(|(_, uris)| *uris)
}

impl Monerium {
    /// A refusal of `/auth` before its redirect URI is trusted: Monerium's error shape, or with
    /// [`Conformant::HtmlAuthorizeErrors`] an HTML page saying the same (the messages are the
    /// mock's own plain text, nothing the request sent).
    fn refuse_before_redirect(&self, message: &str, errors: Option<Value>) -> ResponseTemplate {
        if !self.conformant.has(Conformant::HtmlAuthorizeErrors) {
            return api_error(message, errors);
        }
        let page = format!(
            "<!doctype html>\n<html lang=\"en\"><head><title>Monerium</title></head>\n<body><h1>Something went wrong</h1><p>{}</p></body></html>\n",
            message
        );
        ResponseTemplate::new(400).set_body_raw(page, "text/html; charset=utf-8")
    }

    fn issued(&self) -> MutexGuard<'_, Issued> {
        self.issued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns whom a valid (known, unexpired) bearer token speaks for.
    fn bearer_subject(&self, request: &Request) -> Option<Subject> {
        let token = bearer(request)?;
        let issued = self.issued();
        let grant = issued.access.get(token)?;
        let expired = self.clock.now() >= grant.expires;
        (!expired || self.deviations.has(Deviation::AcceptsExpiredTokens)).then_some(grant.subject)
    }

    /// Tells whether the request carries the user's email and password as Basic credentials.
    fn basic_user(&self, request: &Request) -> bool {
        let Some((email, password)) = basic_credentials(request) else {
            return false;
        };
        // Both compared, always, so timing does not tell which one was wrong.
        let email_ok = credential_eq(email.as_bytes(), self.email.as_bytes());
        let password_ok = credential_eq(password.as_bytes(), self.password.as_bytes());
        email_ok & (password_ok | self.deviations.has(Deviation::AcceptsWrongBasicPassword))
    }

    /// A 302 to `redirect_uri` with `pairs` and the request's `state` added to its query.
    fn redirect(
        &self,
        redirect_uri: &str,
        pairs: &[(&str, &str)],
        state: Option<&str>,
    ) -> ResponseTemplate {
        let mut reply = pairs.to_vec();
        if let Some(state) = state.filter(|_| !self.deviations.has(Deviation::DropsState)) {
            reply.push(("state", state));
        }
        let location = match url::Url::parse(redirect_uri) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(reply);
                url.to_string()
            }
            // Only reachable with `redirects-unregistered-uri`: the registered URIs are URLs.
            Err(_) => {
                let query: String = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(reply)
                    .finish();
                format!("{redirect_uri}?{query}")
            }
        };
        ResponseTemplate::new(302)
            .insert_header("location", location.as_str())
            .insert_header("cache-control", "no-store")
    }

    /// The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636 §4.6).
    fn exchange_code(&self, form: &FormParams) -> TokenReply {
        let mut fields = [""; 4];
        let optional_verifier = self.deviations.has(Deviation::AcceptsMissingVerifier);
        for (slot, name) in
            fields
                .iter_mut()
                .zip(["code", "client_id", "code_verifier", "redirect_uri"])
        {
            match form.non_empty(name) {
                Some(value) => *slot = value,
                None if optional_verifier && name == "code_verifier" => {}
                None => return refused("invalid_request", &format!("{name} is required")),
            }
        }
        let [code, client_id, verifier, redirect_uri] = fields;
        if registered_uris(client_id).is_none() {
            return TokenReply::Refused(api_error(
                "The client is not authorized to request a token using this method.",
                None,
            ));
        }
        let mut issued = self.issued();
        let Some(grant) = issued.codes.get_mut(code) else {
            return refused("invalid_grant", "the authorization code is not valid");
        };
        if grant.used && !self.deviations.has(Deviation::ReusableCodes) {
            return refused("invalid_grant", "the authorization code was already used");
        }
        // Consumed by any attempt, so a stolen code cannot be tried against many verifiers.
        grant.used = true;
        let any_verifier = self.deviations.has(Deviation::AcceptsWrongVerifier);
        let problem = if self.clock.now() >= grant.expires {
            Some("the authorization code expired")
        } else if grant.client_id != client_id {
            Some("the authorization code was issued to another client")
        } else if !self.same_redirect_uri(&grant.redirect_uri, redirect_uri) {
            Some("redirect_uri does not match the authorization request")
        } else if !(any_verifier
            || (optional_verifier && verifier.is_empty())
            || self.verifier_matches(verifier, grant))
        {
            Some("code_verifier does not match the code_challenge")
        } else {
            None
        };
        if let Some(problem) = problem {
            return refused("invalid_grant", problem);
        }
        let refresh_client =
            (!self.deviations.has(Deviation::OmitsRefreshToken)).then_some(client_id);
        TokenReply::Issued(self.issue(&mut issued, Subject::User, refresh_client))
    }

    /// Tells whether a code exchange's `redirect_uri` is the authorization request's: the same
    /// string (RFC 6749 §4.1.3), or a prefix either way under [`Deviation::RedirectUriPrefixMatch`].
    fn same_redirect_uri(&self, authorized: &str, given: &str) -> bool {
        authorized == given
            || (self.deviations.has(Deviation::RedirectUriPrefixMatch)
                && (given.starts_with(authorized) || authorized.starts_with(given)))
    }

    /// Tells whether `verifier` is well formed and hashes to the code's challenge.
    fn verifier_matches(&self, verifier: &str, grant: &CodeGrant) -> bool {
        let unreserved = || {
            verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        };
        let well_formed = if self.deviations.has(Deviation::AcceptsVerifierOfAnyLength) {
            unreserved()
        } else if self
            .deviations
            .has(Deviation::AcceptsVerifierOfAnyCharacter)
        {
            (43..=128).contains(&verifier.len())
        } else {
            pkce::is_valid_verifier(verifier)
        };
        well_formed
            && credential_eq(
                pkce::challenge(verifier, grant.method).as_bytes(),
                grant.challenge.as_bytes(),
            )
    }

    /// The `refresh_token` grant: a used refresh token is invalidated (rotation).
    fn refresh(&self, form: &FormParams) -> TokenReply {
        let Some(client_id) = form.non_empty("client_id") else {
            return refused("invalid_request", "client_id is required");
        };
        let Some(token) = form.non_empty("refresh_token") else {
            return refused("invalid_request", "refresh_token is required");
        };
        let mut issued = self.issued();
        let Some(grant) = issued.refresh.get(token) else {
            return refused(
                "invalid_grant",
                "the refresh token is not valid or was already used",
            );
        };
        let other_client_allowed = self.deviations.has(Deviation::RefreshesForOtherClient)
            && registered_uris(client_id).is_some();
        if grant.client_id != client_id && !other_client_allowed {
            return TokenReply::Refused(api_error(
                "Client id must be the same from previous token.",
                None,
            ));
        }
        if !self.deviations.has(Deviation::ReusableRefreshTokens) {
            issued.refresh.remove(token);
        }
        TokenReply::Issued(self.issue(&mut issued, Subject::User, Some(client_id)))
    }

    /// The `client_credentials` grant, the client authenticated in the form body only.
    fn client_credentials(&self, request: &TokenRequest<'_>) -> TokenReply {
        let auth = if self.deviations.has(Deviation::RequiresBasicClientAuth) {
            ClientAuth::BASIC
        } else {
            self.token_policy.client_auth
        };
        let (id, secret, by_basic) = match presented_client(request.request, &request.form, auth) {
            PresentedClient::Basic { id, secret } => (id, secret, true),
            PresentedClient::Post { id, secret } => (id, secret.unwrap_or_default(), false),
            PresentedClient::MalformedHeader | PresentedClient::Missing => {
                (String::new(), String::new(), false)
            }
        };
        let accepted = if self.deviations.has(Deviation::AcceptsWrongClientSecret) {
            credential_eq(id.as_bytes(), self.cc_client_id.as_bytes())
        } else {
            self.client_matches(&id, &secret)
        };
        if !accepted || secret.is_empty() {
            return TokenReply::Refused(self.refuse(TokenRefusal::InvalidClient { by_basic }));
        }
        TokenReply::Issued(self.issue(&mut self.issued(), Subject::Partner, None))
    }

    /// Issues an access token (and, when given a client, a refresh token bound to it).
    fn issue(&self, issued: &mut Issued, subject: Subject, refresh_client: Option<&str>) -> Value {
        let access = ids::random_id(ids::TOKEN);
        issued.access.insert(
            access.clone(),
            AccessGrant {
                subject,
                expires: self.clock.now() + Duration::from_secs(TOKEN_TTL_SECONDS),
            },
        );
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS,
        });
        if let Some(object) = body.as_object_mut() {
            if let Some(client_id) = refresh_client {
                let refresh = ids::random_id(ids::TOKEN);
                issued.refresh.insert(
                    refresh.clone(),
                    RefreshGrant {
                        client_id: client_id.to_owned(),
                    },
                );
                object.insert("refresh_token".into(), refresh.into());
            }
            // The SDK's `BearerProfile` leftovers of v1, for the user's tokens.
            if subject == Subject::User {
                object.insert("profile".into(), PROFILE_ID.into());
                object.insert("userId".into(), USER_ID.into());
            }
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    struct Running {
        _mock: RunningMock,
        base: String,
        clock: Arc<VirtualClock>,
        http: reqwest::Client,
    }

    async fn running(deviations: &[&str]) -> Running {
        let target = Target::mock();
        let secrets = target.inline_secrets("monerium");
        let clock = Arc::new(VirtualClock::new());
        let mock = start(MockConfig {
            clock: clock.clone(),
            secrets,
            deviations: deviations.iter().map(|d| (*d).to_owned()).collect(),
        })
        .await
        .expect("the mock starts");
        let base = mock.url("api").expect("the api host");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Running {
            _mock: mock,
            base,
            clock,
            http,
        }
    }

    impl Running {
        /// Sends `GET /auth` with `query`; returns the status and the `Location`.
        async fn authorize(&self, query: &[(&str, &str)]) -> (u16, Option<url::Url>) {
            let response = self
                .http
                .get(format!("{}/auth", self.base))
                .query(query)
                .send()
                .await
                .expect("an answer");
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url::Url::parse(l).ok());
            (response.status().as_u16(), location)
        }

        /// Authorizes [`CLIENT_ID`] with the RFC 7636 Appendix B challenge; returns the code.
        async fn code(&self) -> String {
            let (status, location) = self
                .authorize(&[
                    ("client_id", CLIENT_ID),
                    ("redirect_uri", REDIRECT_URI),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S256"),
                    ("state", "s"),
                ])
                .await;
            assert_eq!(status, 302);
            param(&location.expect("a redirect"), "code").expect("a code")
        }

        async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
            let body: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            self.post_token(body.into_bytes()).await
        }

        async fn post_token(&self, body: Vec<u8>) -> (u16, Value) {
            let response = self
                .http
                .post(format!("{}/auth/token", self.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("an answer");
            let status = response.status().as_u16();
            let body = response.json().await.unwrap_or(Value::Null);
            (status, body)
        }

        async fn exchange(&self, code: &str, verifier: &str) -> (u16, Value) {
            self.token(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", CLIENT_ID),
                ("code_verifier", verifier),
                ("redirect_uri", REDIRECT_URI),
            ])
            .await
        }

        async fn context(&self, authorization: &[u8]) -> u16 {
            let value = reqwest::header::HeaderValue::from_bytes(authorization).expect("a value");
            self.http
                .get(format!("{}/auth/context", self.base))
                .header("authorization", value)
                .send()
                .await
                .expect("an answer")
                .status()
                .as_u16()
        }
    }

    fn param(url: &url::Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn text<'a>(body: &'a Value, field: &str) -> &'a str {
        body.get(field).and_then(Value::as_str).unwrap_or_default()
    }

    #[test]
    fn registered_clients_agree_with_the_mock_target() {
        let target = Target::mock();
        let variables = &target.providers["monerium"].variables;
        let variable = |name: &str| variables.get(name).map(String::as_str);
        assert_eq!(variable("client_id"), Some(CLIENT_ID));
        assert_eq!(variable("other_client_id"), Some(OTHER_CLIENT_ID));
        assert_eq!(variable("redirect_uri"), Some(REDIRECT_URI));
        assert_eq!(variable("other_redirect_uri"), Some(OTHER_REDIRECT_URI));
        let unregistered = variable("unregistered_redirect_uri").expect("the variable");
        assert!(
            PUBLIC_CLIENTS
                .iter()
                .all(|(_, uris)| !uris.contains(&unregistered)),
            "`unregistered_redirect_uri` must be registered for no client"
        );
    }

    #[tokio::test]
    async fn rfc_7636_vector_exchanges_and_the_token_lives_3600_seconds() {
        let mock = running(&[]).await;
        let code = mock.code().await;
        let (status, body) = mock.exchange(&code, VERIFIER).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], TOKEN_TTL_SECONDS);
        let bearer = format!("Bearer {}", text(&body, "access_token"));
        assert_eq!(mock.context(bearer.as_bytes()).await, 200);
        mock.clock
            .advance(Duration::from_secs(TOKEN_TTL_SECONDS - 1));
        assert_eq!(mock.context(bearer.as_bytes()).await, 200);
        mock.clock.advance(Duration::from_secs(1));
        assert_eq!(mock.context(bearer.as_bytes()).await, 401);
    }

    #[tokio::test]
    async fn refusals_after_the_redirect_uri_is_known_go_back_to_it_with_state() {
        let mock = running(&[]).await;
        let registered = url::Url::parse(REDIRECT_URI).expect("a URL");
        for method in [None, Some("plain"), Some("s256")] {
            let mut query = vec![
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", CHALLENGE),
                ("state", "kept"),
            ];
            query.extend(method.map(|m| ("code_challenge_method", m)));
            let (status, location) = mock.authorize(&query).await;
            let location = location.expect("an error redirect");
            assert_eq!(status, 302, "{method:?}");
            assert_eq!(location.path(), registered.path());
            assert_eq!(
                param(&location, "error").as_deref(),
                Some("invalid_request")
            );
            assert_eq!(param(&location, "state").as_deref(), Some("kept"));
            assert_eq!(param(&location, "code"), None);
        }
        // A challenge that is not 43–128 unreserved characters is refused as well.
        let (_, location) = mock
            .authorize(&[
                ("client_id", CLIENT_ID),
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ])
            .await;
        let location = location.expect("an error redirect");
        assert_eq!(
            param(&location, "error").as_deref(),
            Some("invalid_request")
        );
    }

    #[tokio::test]
    async fn unknown_clients_and_unregistered_uris_are_never_redirected() {
        let mock = running(&[]).await;
        let cases: [&[(&str, &str)]; 4] = [
            &[
                ("client_id", "no-such-client"),
                ("redirect_uri", REDIRECT_URI),
            ],
            &[("redirect_uri", REDIRECT_URI)],
            &[
                ("client_id", CLIENT_ID),
                ("redirect_uri", OTHER_REDIRECT_URI),
            ],
            &[
                ("client_id", CLIENT_ID),
                ("redirect_uri", "https://app.monerium.test/callback/"),
            ],
        ];
        for query in cases {
            let mut query = query.to_vec();
            query.extend([
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]);
            assert_eq!(mock.authorize(&query).await, (400, None), "{query:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_exchange_consumes_the_code() {
        let mock = running(&[]).await;
        let code = mock.code().await;
        let (status, body) = mock.exchange(&code, CHALLENGE).await;
        assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
        let (status, body) = mock.exchange(&code, VERIFIER).await;
        assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    }

    #[tokio::test]
    async fn codes_expire_after_ten_minutes() {
        let mock = running(&[]).await;
        let code = mock.code().await;
        mock.clock.advance(Duration::from_secs(CODE_TTL_SECONDS));
        let (status, body) = mock.exchange(&code, VERIFIER).await;
        assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    }

    #[tokio::test]
    async fn another_clients_refresh_is_refused_without_consuming_the_token() {
        let mock = running(&[]).await;
        let code = mock.code().await;
        let (_, body) = mock.exchange(&code, VERIFIER).await;
        let refresh = text(&body, "refresh_token").to_owned();
        let form = |client| {
            [
                ("grant_type", "refresh_token"),
                ("client_id", client),
                ("refresh_token", refresh.as_str()),
            ]
        };
        let (status, body) = mock.token(&form(OTHER_CLIENT_ID)).await;
        assert_eq!(status, 400);
        assert_eq!(
            text(&body, "message"),
            "Client id must be the same from previous token."
        );
        let (status, _) = mock.token(&form(CLIENT_ID)).await;
        assert_eq!(status, 200);
        let (status, body) = mock.token(&form(CLIENT_ID)).await;
        assert_eq!((status, text(&body, "error")), (400, "invalid_grant"));
    }

    #[tokio::test]
    async fn malformed_requests_are_refused_without_panicking() {
        let mock = running(&[]).await;
        let authorizations: [&[u8]; 7] = [
            b"Bearer",
            b"Bearer ",
            b"bearer \xff\xfe",
            b"Basic !!!",
            b"Basic \xc3\x28",
            b"Token abc",
            b"",
        ];
        for authorization in authorizations {
            assert_eq!(mock.context(authorization).await, 401);
        }
        let bodies: [&[u8]; 5] = [
            b"\xff\xfe\xfd",
            b"grant_type=client_credentials&grant_type=client_credentials",
            b"grant_type=%FF%FE",
            b"===&&&",
            b"",
        ];
        for body in bodies {
            let (status, _) = mock.post_token(body.to_vec()).await;
            assert_eq!(status, 400, "{body:?}");
        }
        let (status, _) = mock
            .authorize(&[("client_id", CLIENT_ID), ("client_id", CLIENT_ID)])
            .await;
        assert_eq!(status, 400);
        // Still serving after all of that.
        assert_eq!(mock.context(b"Bearer unknown").await, 401);
    }

    #[tokio::test]
    async fn every_token_endpoint_reply_is_uncacheable() {
        let mock = running(&[]).await;
        let code = mock.code().await;
        let (_, tokens) = mock.exchange(&code, VERIFIER).await;
        let refresh = text(&tokens, "refresh_token").to_owned();
        let forms: [&[(&str, &str)]; 5] = [
            // Issued.
            &[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("refresh_token", &refresh),
            ],
            // Refused by the endpoint, by a grant, and in Monerium's own error shape.
            &[("grant_type", "refresh_token"), ("grant_type", "password")],
            &[("grant_type", "password")],
            &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID)],
            &[
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("client_id", "no-such-client"),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT_URI),
            ],
        ];
        for form in forms {
            let response = mock
                .http
                .post(format!("{}/auth/token", mock.base))
                .form(form)
                .send()
                .await
                .expect("an answer");
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            assert_eq!(
                header("cache-control").as_deref(),
                Some("no-store"),
                "{form:?}"
            );
            assert_eq!(header("pragma").as_deref(), Some("no-cache"), "{form:?}");
        }
    }

    #[tokio::test]
    async fn unknown_routes_and_wrong_methods_get_an_empty_404() {
        let mock = running(&[]).await;
        let token = mock.http.get(format!("{}/auth/token", mock.base));
        let balances = mock.http.delete(format!("{}/balances", mock.base));
        let unknown = mock.http.get(format!("{}/no/such/route", mock.base));
        // A path a route matches only as a prefix is unknown too.
        let longer = mock.http.get(format!("{}/auth/context/extra", mock.base));
        for request in [token, balances, unknown, longer] {
            let response = request.send().await.expect("an answer");
            assert_eq!(response.status().as_u16(), 404);
            assert_eq!(response.bytes().await.expect("a body").len(), 0);
        }
    }

    #[tokio::test]
    async fn client_credentials_are_read_from_the_body_only() {
        let mock = running(&[]).await;
        let target = Target::mock();
        let secret = |name: &str| match &target.providers["monerium"].secrets[name] {
            crate::target::SecretSource::Value(v) => v.clone(),
            crate::target::SecretSource::Env(_) => unreachable!("the mock target is inline"),
        };
        let (id, secret) = (secret("cc_client_id"), secret("cc_client_secret"));
        let (status, body) = mock
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        let basic = crate::auth::basic::header_value(&id, &secret).expect("encodable");
        let response = mock
            .http
            .post(format!("{}/auth/token", mock.base))
            .header("authorization", basic)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 401);
    }
}
