//! An OAuth 2.0 token endpoint (RFC 6749 §3.2) as a wiremock responder, parameterised by what a
//! provider documents: how clients authenticate, which grant types exist, in which order the
//! checks run, when replies carry `Cache-Control: no-store`, and the error replies where the
//! provider departs from RFC 6749 §5.2.
//!
//! [`TokenEndpoint`] reads the form body, runs the checks of the provider's [`TokenPolicy`] in its
//! order ([`Check`]), then hands the grant to the provider ([`TokenProvider::grant`]), which
//! returns the success body or its own refusal:
//!
//! ```text
//! struct Demo { policy: TokenPolicy, client_id: String, client_secret: String, … }
//! impl TokenProvider for Demo {
//!     fn policy(&self) -> &TokenPolicy { &self.policy }
//!     fn client_matches(&self, id: &str, secret: &str) -> bool {
//!         pair_eq((id, secret), (&self.client_id, &self.client_secret))
//!     }
//!     fn grant(&self, _grant: &str, _request: &TokenRequest<'_>) -> TokenReply {
//!         TokenReply::Issued(json!({"access_token": …, "token_type": "Bearer", "expires_in": 300}))
//!     }
//! }
//! Mock::given(method("POST")).and(path("/v1/token"))
//!     .respond_with(TokenEndpoint::new(demo.clone())).mount(&server).await;
//! ```

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use wiremock::{Request, Respond, ResponseTemplate};

use super::reply::{Challenge, ReplyExt, json, oauth_error};
use super::request::{FormParams, authorization, form_decode};
use crate::auth::basic;

/// One check of a token request, run in the order the provider's policy lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A parameter given more than once is refused (RFC 6749 §3.2).
    RepeatedParameters,
    /// `grant_type` must be present and one the provider supports. Run last when not listed.
    GrantType,
    /// A client authenticating both with `Authorization` and with `client_secret` in the body
    /// is refused (RFC 6749 §2.3.1: "MUST NOT use more than one authentication method").
    OneClientAuthMethod,
    /// The client authenticates as [`TokenPolicy::client_auth`] allows. When not listed the
    /// endpoint authenticates no client; a grant can still read one ([`presented_client`]).
    Client,
}

/// How clients may authenticate at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAuth {
    /// `client_secret_basic`: `Authorization: Basic`, read first when present.
    pub basic: bool,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    pub post: bool,
    /// The Basic parts are form-urlencoded first, as RFC 6749 §2.3.1 asks (some providers take
    /// them as they are).
    pub form_encoded_basic: bool,
}

impl ClientAuth {
    /// Basic only, the parts taken as they are.
    pub const BASIC: Self = Self {
        basic: true,
        post: false,
        form_encoded_basic: false,
    };
    /// The form body only.
    pub const POST: Self = Self {
        basic: false,
        post: true,
        form_encoded_basic: false,
    };
    /// Basic (form-urlencoded parts) or, without a usable Basic header, the body.
    pub const BASIC_OR_POST: Self = Self {
        basic: true,
        post: true,
        form_encoded_basic: true,
    };
}

/// Which replies of the token endpoint carry `Cache-Control: no-store` and `Pragma: no-cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStore {
    /// Every reply, refusals included.
    Always,
    /// Only replies carrying tokens (RFC 6749 §5.1's minimum).
    OnSuccess,
    /// None (a deviation).
    Never,
}

/// What a provider documents about its token endpoint.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The realm of the `WWW-Authenticate: Basic` challenge on a client refusal.
    pub realm: String,
    /// How clients authenticate (used by [`Check::Client`] and [`presented_client`]).
    pub client_auth: ClientAuth,
    /// The checks before the grant, in order.
    pub checks: Vec<Check>,
    /// The grant types the endpoint knows; any other is `unsupported_grant_type`.
    pub grant_types: Vec<&'static str>,
    /// Which replies are uncacheable.
    pub no_store: NoStore,
}

/// How the client presented itself at the token endpoint. Debug hides the secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum PresentedClient {
    /// `Authorization: Basic` (client id and secret).
    Basic {
        /// The client id.
        id: String,
        /// The client secret.
        secret: String,
    },
    /// `client_id` (and maybe `client_secret`) in the form body.
    Post {
        /// The client id.
        id: String,
        /// The client secret, when given.
        secret: Option<String>,
    },
    /// An `Authorization` header the endpoint cannot use, and no client in the body.
    MalformedHeader,
    /// No client at all.
    Missing,
}

impl fmt::Debug for PresentedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresentedClient::Basic { id, .. } => write!(f, "Basic({id:?}, [redacted])"),
            PresentedClient::Post { id, secret } => match secret {
                Some(_) => write!(f, "Post({id:?}, [redacted])"),
                None => write!(f, "Post({id:?}, no secret)"),
            },
            PresentedClient::MalformedHeader => f.write_str("MalformedHeader"),
            PresentedClient::Missing => f.write_str("Missing"),
        }
    }
}

/// Reads the client's credentials as `auth` allows: a Basic header first, then the body.
pub fn presented_client(request: &Request, form: &FormParams, auth: ClientAuth) -> PresentedClient {
    let header = authorization(request);
    if auth.basic
        && let Some((id, secret)) = header.and_then(basic::decode)
    {
        return if auth.form_encoded_basic {
            PresentedClient::Basic {
                id: form_decode(&id),
                secret: form_decode(&secret),
            }
        } else {
            PresentedClient::Basic { id, secret }
        };
    }
    if auth.post
        && let Some(id) = form.first("client_id")
    {
        return PresentedClient::Post {
            id: id.to_owned(),
            secret: form.first("client_secret").map(str::to_owned),
        };
    }
    if request.headers.contains_key("authorization") {
        PresentedClient::MalformedHeader
    } else {
        PresentedClient::Missing
    }
}

/// Why the endpoint refused a request before the grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal<'a> {
    /// A parameter given more than once (named).
    RepeatedParameter(&'a str),
    /// No `grant_type`.
    MissingGrantType,
    /// Client credentials both in the `Authorization` header and in the body.
    SeveralClientAuthMethods,
    /// A `grant_type` the provider does not support (given).
    UnsupportedGrantType(&'a str),
    /// No client credentials.
    MissingClient,
    /// An `Authorization` header that is not usable Basic, and no client in the body.
    MalformedClientHeader,
    /// Client credentials that do not match; `by_basic` when sent with Basic.
    InvalidClient {
        /// The client used `Authorization: Basic`.
        by_basic: bool,
    },
}

impl TokenRefusal<'_> {
    /// Returns RFC 6749 §5.2's reply: 400 `invalid_request` or `unsupported_grant_type`, and 401
    /// `invalid_client` with a `Basic` challenge when the policy accepts Basic (RFC 7235 §3.1:
    /// a 401 carries a challenge).
    pub fn rfc6749(&self, policy: &TokenPolicy) -> ResponseTemplate {
        let client_refusal = || {
            let reply = oauth_error(401, "invalid_client", "Client authentication failed");
            if policy.client_auth.basic {
                reply.with_challenge(&Challenge::basic(&policy.realm))
            } else {
                reply
            }
        };
        match *self {
            TokenRefusal::RepeatedParameter(name) => oauth_error(
                400,
                "invalid_request",
                &format!("parameter `{name}` is given more than once"),
            ),
            TokenRefusal::MissingGrantType => {
                oauth_error(400, "invalid_request", "grant_type is required")
            }
            TokenRefusal::SeveralClientAuthMethods => oauth_error(
                400,
                "invalid_request",
                "the client used more than one authentication method",
            ),
            TokenRefusal::UnsupportedGrantType(_) => oauth_error(
                400,
                "unsupported_grant_type",
                &format!("grant_type must be {}", one_of(&policy.grant_types)),
            ),
            TokenRefusal::MissingClient
            | TokenRefusal::MalformedClientHeader
            | TokenRefusal::InvalidClient { .. } => client_refusal(),
        }
    }
}

/// Writes `a`, `a or b`, `a, b or c`.
fn one_of(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_owned(),
        [only] => (*only).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A token request that passed the policy's checks. Debug shows no request and no values.
pub struct TokenRequest<'r> {
    /// The request as received.
    pub request: &'r Request,
    /// Its form parameters.
    pub form: FormParams,
    /// The client id, when [`Check::Client`] authenticated one.
    pub client_id: Option<String>,
}

/// What a grant answers. Debug shows neither the tokens nor the reply.
pub enum TokenReply {
    /// The 200 body: the access token and the rest (RFC 6749 §5.1).
    Issued(Value),
    /// The provider's refusal.
    Refused(ResponseTemplate),
}

impl fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenReply::Issued(_) => f.write_str("Issued([redacted])"),
            TokenReply::Refused(_) => f.write_str("Refused"),
        }
    }
}

impl fmt::Debug for TokenRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("form", &self.form)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A provider's side of the token endpoint.
pub trait TokenProvider: Send + Sync + 'static {
    /// Returns what the provider documents about its endpoint.
    fn policy(&self) -> &TokenPolicy;

    /// Tells whether `id` and `secret` are a client's credentials. Compare in constant time,
    /// both parts always ([`pair_eq`](super::request::pair_eq)).
    fn client_matches(&self, id: &str, secret: &str) -> bool;

    /// Tells whether the endpoint knows `grant_type` (by default: the policy lists it).
    fn supports_grant(&self, grant_type: &str) -> bool {
        self.policy().grant_types.contains(&grant_type)
    }

    /// Returns the reply to a refusal (by default RFC 6749's, [`TokenRefusal::rfc6749`]).
    fn refuse(&self, refusal: TokenRefusal<'_>) -> ResponseTemplate {
        refusal.rfc6749(self.policy())
    }

    /// Runs a supported grant.
    fn grant(&self, grant_type: &str, request: &TokenRequest<'_>) -> TokenReply;
}

/// The token endpoint of a provider, as a wiremock responder.
pub struct TokenEndpoint<P: ?Sized>(Arc<P>);

impl<P: TokenProvider + ?Sized> TokenEndpoint<P> {
    /// Serves `provider`'s token endpoint.
    pub fn new(provider: Arc<P>) -> Self {
        Self(provider)
    }
}

impl<P: TokenProvider + ?Sized> Respond for TokenEndpoint<P> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        answer(&*self.0, request)
    }
}

/// Answers a token request for `provider` (what [`TokenEndpoint`] does, for a responder that
/// does more around it).
pub fn answer<P: TokenProvider + ?Sized>(provider: &P, request: &Request) -> ResponseTemplate {
    let policy = provider.policy();
    let (reply, issued) = match run(provider, request) {
        TokenReply::Issued(body) => (json(200, body), true),
        TokenReply::Refused(refusal) => (refusal, false),
    };
    match policy.no_store {
        NoStore::Always => reply.no_store(),
        NoStore::OnSuccess if issued => reply.no_store(),
        NoStore::OnSuccess | NoStore::Never => reply,
    }
}

fn run<P: TokenProvider + ?Sized>(provider: &P, request: &Request) -> TokenReply {
    let policy = provider.policy();
    let form = FormParams::parse(&request.body);
    let mut client_id = None;
    let checks = policy
        .checks
        .iter()
        .copied()
        .chain((!policy.checks.contains(&Check::GrantType)).then_some(Check::GrantType));
    for check in checks {
        match check {
            Check::RepeatedParameters => {
                if let Some(name) = form.repeated() {
                    return TokenReply::Refused(
                        provider.refuse(TokenRefusal::RepeatedParameter(name)),
                    );
                }
            }
            Check::GrantType => match form.first("grant_type") {
                None => {
                    return TokenReply::Refused(provider.refuse(TokenRefusal::MissingGrantType));
                }
                Some(grant) if !provider.supports_grant(grant) => {
                    return TokenReply::Refused(
                        provider.refuse(TokenRefusal::UnsupportedGrantType(grant)),
                    );
                }
                Some(_) => {}
            },
            Check::OneClientAuthMethod => {
                if request.headers.contains_key("authorization")
                    && form.first("client_secret").is_some()
                {
                    return TokenReply::Refused(
                        provider.refuse(TokenRefusal::SeveralClientAuthMethods),
                    );
                }
            }
            Check::Client => match authenticate(provider, request, &form) {
                Ok(id) => client_id = Some(id),
                Err(refusal) => return TokenReply::Refused(refusal),
            },
        }
    }
    let grant = form.first("grant_type").unwrap_or_default().to_owned();
    let request = TokenRequest {
        request,
        form,
        client_id,
    };
    provider.grant(&grant, &request)
}

/// Authenticates the client: its id, or the provider's refusal.
#[allow(
    clippy::result_large_err,
    reason = "built once per request, never propagated far"
)]
fn authenticate<P: TokenProvider + ?Sized>(
    provider: &P,
    request: &Request,
    form: &FormParams,
) -> Result<String, ResponseTemplate> {
    let (id, secret, by_basic) =
        match presented_client(request, form, provider.policy().client_auth) {
            PresentedClient::Basic { id, secret } => (id, Some(secret), true),
            PresentedClient::Post { id, secret } => (id, secret, false),
            PresentedClient::MalformedHeader => {
                return Err(provider.refuse(TokenRefusal::MalformedClientHeader));
            }
            PresentedClient::Missing => return Err(provider.refuse(TokenRefusal::MissingClient)),
        };
    // Compared even without a secret, so timing does not tell a missing secret from a wrong one.
    let matches = provider.client_matches(&id, secret.as_deref().unwrap_or_default());
    if matches && secret.is_some() {
        Ok(id)
    } else {
        Err(provider.refuse(TokenRefusal::InvalidClient { by_basic }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json as json_value;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer};

    use super::super::request::pair_eq;
    use super::*;

    /// A provider with one client and one grant, whose grant echoes what the endpoint passed on.
    struct Echo {
        policy: TokenPolicy,
    }

    impl TokenProvider for Echo {
        fn policy(&self) -> &TokenPolicy {
            &self.policy
        }

        fn client_matches(&self, id: &str, secret: &str) -> bool {
            pair_eq((id, secret), ("my client", "s3cret"))
        }

        fn grant(&self, grant_type: &str, request: &TokenRequest<'_>) -> TokenReply {
            if request.form.first("fail").is_some() {
                return TokenReply::Refused(oauth_error(400, "invalid_grant", "asked to fail"));
            }
            TokenReply::Issued(json_value!({
                "access_token": "t",
                "grant": grant_type,
                "client": request.client_id,
            }))
        }
    }

    fn policy(checks: Vec<Check>, client_auth: ClientAuth, no_store: NoStore) -> TokenPolicy {
        TokenPolicy {
            realm: "test".to_owned(),
            client_auth,
            checks,
            grant_types: vec!["client_credentials", "password"],
            no_store,
        }
    }

    struct Answer {
        status: u16,
        body: Value,
        cache_control: Option<String>,
        challenge: Option<String>,
    }

    async fn post(policy: TokenPolicy, authorization: Option<&str>, body: &str) -> Answer {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(TokenEndpoint::new(Arc::new(Echo { policy })))
            .mount(&server)
            .await;
        let mut request = reqwest::Client::new()
            .post(format!("{}/token", server.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("an answer");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (cache_control, challenge) = (header("cache-control"), header("www-authenticate"));
        Answer {
            status: response.status().as_u16(),
            cache_control,
            challenge,
            body: response.json().await.unwrap_or(Value::Null),
        }
    }

    fn basic(id: &str, secret: &str) -> String {
        basic::header_value(id, secret).expect("encodable")
    }

    #[tokio::test]
    async fn basic_or_post_clients_reach_the_grant() {
        let rfc = || {
            policy(
                vec![Check::Client],
                ClientAuth::BASIC_OR_POST,
                NoStore::Always,
            )
        };
        // Basic parts are form-urlencoded (RFC 6749 §2.3.1): `my+client` is `my client`.
        let by_basic = post(
            rfc(),
            Some(&basic("my+client", "s3cret")),
            "grant_type=password",
        )
        .await;
        assert_eq!(by_basic.status, 200, "{}", by_basic.body);
        assert_eq!(by_basic.body["client"], "my client");
        assert_eq!(by_basic.body["grant"], "password");
        assert_eq!(by_basic.cache_control.as_deref(), Some("no-store"));
        let by_post = post(
            rfc(),
            None,
            "grant_type=client_credentials&client_id=my+client&client_secret=s3cret",
        )
        .await;
        assert_eq!(by_post.status, 200, "{}", by_post.body);
        let basic_only = policy(vec![Check::Client], ClientAuth::BASIC, NoStore::Always);
        let refused = post(
            basic_only,
            None,
            "grant_type=client_credentials&client_id=my+client&client_secret=s3cret",
        )
        .await;
        assert_eq!(refused.status, 401);
    }

    #[tokio::test]
    async fn client_refusals_are_rfc_6749_invalid_client() {
        let rfc = || {
            policy(
                vec![Check::Client],
                ClientAuth::BASIC_OR_POST,
                NoStore::Always,
            )
        };
        for (authorization, body) in [
            (Some(basic("my client", "wrong")), "grant_type=password"),
            (None, "grant_type=password&client_id=my+client"),
            (
                None,
                "grant_type=password&client_id=my+client&client_secret=wrong",
            ),
            (None, "grant_type=password"),
            (Some("Bearer abc".to_owned()), "grant_type=password"),
        ] {
            let answer = post(rfc(), authorization.as_deref(), body).await;
            assert_eq!(answer.status, 401, "{body}");
            assert_eq!(answer.body["error"], "invalid_client", "{body}");
            assert_eq!(
                answer.challenge.as_deref(),
                Some("Basic realm=\"test\""),
                "{body}"
            );
            assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
        }
        let post_only = policy(vec![Check::Client], ClientAuth::POST, NoStore::Always);
        let answer = post(
            post_only,
            None,
            "grant_type=password&client_id=x&client_secret=y",
        )
        .await;
        assert_eq!((answer.status, answer.challenge), (401, None));
    }

    #[test]
    fn presented_secrets_never_print() {
        let basic = PresentedClient::Basic {
            id: "my client".into(),
            secret: "s3cret".into(),
        };
        let post = PresentedClient::Post {
            id: "my client".into(),
            secret: Some("s3cret".into()),
        };
        for client in [basic, post] {
            let debug = format!("{client:?}");
            assert!(
                !debug.contains("s3cret") && debug.contains("[redacted]"),
                "{debug}"
            );
        }
    }

    #[tokio::test]
    async fn checks_run_in_the_policy_order() {
        let body = "grant_type=implicit&grant_type=implicit";
        let client_first = policy(
            vec![Check::Client, Check::RepeatedParameters],
            ClientAuth::BASIC,
            NoStore::Always,
        );
        assert_eq!(
            post(client_first, None, body).await.body["error"],
            "invalid_client"
        );
        let repeats_first = policy(
            vec![Check::RepeatedParameters, Check::Client],
            ClientAuth::BASIC,
            NoStore::Always,
        );
        let answer = post(repeats_first, None, body).await;
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.body["error_description"],
            "parameter `grant_type` is given more than once"
        );
        let grant_first = policy(
            vec![Check::GrantType, Check::Client],
            ClientAuth::BASIC,
            NoStore::Always,
        );
        let answer = post(grant_first, None, "grant_type=implicit").await;
        assert_eq!(answer.body["error"], "unsupported_grant_type");
        assert_eq!(
            answer.body["error_description"],
            "grant_type must be client_credentials or password"
        );
        let missing = post(
            policy(vec![], ClientAuth::BASIC, NoStore::Always),
            None,
            "scope=x",
        )
        .await;
        assert_eq!(
            (missing.status, missing.body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        // Without a client check no client is authenticated, and the grant still runs.
        let open = post(
            policy(vec![], ClientAuth::BASIC, NoStore::Always),
            None,
            "grant_type=password",
        )
        .await;
        assert_eq!((open.status, &open.body["client"]), (200, &Value::Null));
    }

    #[tokio::test]
    async fn no_store_follows_the_policy() {
        let ok = "grant_type=password";
        let failing = "grant_type=password&fail=1";
        let on_success = || policy(vec![], ClientAuth::BASIC, NoStore::OnSuccess);
        assert_eq!(
            post(on_success(), None, ok).await.cache_control.as_deref(),
            Some("no-store")
        );
        let refused = post(on_success(), None, failing).await;
        assert_eq!((refused.status, refused.cache_control), (400, None));
        let always = policy(vec![], ClientAuth::BASIC, NoStore::Always);
        assert_eq!(
            post(always, None, failing).await.cache_control.as_deref(),
            Some("no-store")
        );
        let never = policy(vec![], ClientAuth::BASIC, NoStore::Never);
        assert_eq!(post(never, None, ok).await.cache_control, None);
    }
}
