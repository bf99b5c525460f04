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
//!
//! The token endpoint is the kit's ([`TokenEndpoint`]): a parameter given twice or a client
//! secret both in Basic and in the body is 400 `invalid_request`, then the client authenticates
//! (Basic only), then `grant_type`; only replies carrying a token are uncacheable. Any other route gets
//! wiremock's empty 404.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::json;
use strum::VariantNames as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::front::{self, SourcePolicy};
use super::kit::request::{self, basic_matches, peer_other_than};
use super::kit::{
    Challenge, Check, ClientAuth, Deviations, NoStore, ReplyExt as _, TokenEndpoint, TokenPolicy,
    TokenProvider, TokenRefusal, TokenReply, TokenRequest, ids, json as json_reply,
};
use super::{MockConfig, RunningMock, credential_eq};
use crate::clock::VirtualClock;

/// The demo mock's hosts.
pub const HOSTS: &[&str] = &["api"];

/// Deviations from the documented behaviour, for tests that prove the scenarios catch them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum Deviation {
    /// Unallowlisted sources get 403 instead of a dropped connection.
    AnswersUnallowlisted,
    /// Unallowlisted sources get a reset instead of a dropped connection.
    ResetsUnallowlisted,
    /// Access tokens work after their lifetime.
    AcceptsExpiredTokens,
    /// Token replies carry no `Cache-Control: no-store`.
    OmitsNoStore,
    /// Basic refusals carry no `WWW-Authenticate` challenge.
    OmitsBasicChallenge,
    /// Any `X-API-Key` opens `/v1/reports`.
    AcceptsAnyApiKey,
    /// `/v1/profile` refuses the Basic scheme in any case but `Basic` (RFC 9110 §11.1 makes it
    /// case-insensitive).
    BasicSchemeCaseSensitive,
    /// `/v1/profile` accepts a password that starts with the right one or is a prefix of it.
    BasicPasswordPrefix,
    /// `/v1/profile` drops characters outside the base64 alphabet before decoding.
    BasicIgnoresBadBase64,
    /// `/v1/profile` takes the credentials with no space after the scheme, or spaces inside.
    BasicLenientSpaces,
    /// `/v1/reports` compares only the first [`API_KEY_PREFIX_CHECKED`] bytes of `X-API-Key`:
    /// any value that starts like the key opens it.
    ApiKeyPrefixOnly,
    /// `/v1/token` takes the first of a parameter given twice instead of refusing the request.
    TokenAcceptsRepeatedParameters,
    /// `/v1/token` takes the Basic client and ignores a `client_secret` also in the body.
    TokenAcceptsTwoClientAuthMethods,
    /// `/v1/token` accepts a client secret that starts with the right one or is a prefix of it.
    TokenClientSecretPrefix,
}

/// How many bytes of the key [`Deviation::ApiKeyPrefixOnly`] compares.
const API_KEY_PREFIX_CHECKED: usize = 12;

/// The names of [`Deviation`], for the registry.
pub const DEVIATIONS: &[&str] = Deviation::VARIANTS;

/// Access-token lifetime, in seconds.
pub const TOKEN_TTL_SECONDS: u64 = 300;

const ALLOWLISTED: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Starts the demo provider.
pub async fn start(config: MockConfig) -> Result<RunningMock, String> {
    let deviations = Deviations::<Deviation>::from_config(&config)?;
    let demo = Arc::new(Demo {
        username: config.secret("username")?,
        password: config.secret("password")?,
        client_id: config.secret("client_id")?,
        client_secret: config.secret("client_secret")?,
        api_key: config.secret("api_key")?,
        clock: config.clock.clone(),
        tokens: Mutex::new(HashMap::new()),
        token_policy: TokenPolicy {
            realm: "demo".to_owned(),
            client_auth: ClientAuth::BASIC,
            checks: [
                (!deviations.has(Deviation::TokenAcceptsRepeatedParameters))
                    .then_some(Check::RepeatedParameters),
                (!deviations.has(Deviation::TokenAcceptsTwoClientAuthMethods))
                    .then_some(Check::OneClientAuthMethod),
                Some(Check::Client),
                Some(Check::GrantType),
            ]
            .into_iter()
            .flatten()
            .collect(),
            grant_types: vec!["client_credentials"],
            no_store: if deviations.has(Deviation::OmitsNoStore) {
                NoStore::Never
            } else {
                NoStore::OnSuccess
            },
        },
        deviations,
    });
    let server = MockServer::builder().start().await;
    if demo.deviations.has(Deviation::AnswersUnallowlisted) {
        // The front forwards every source under this deviation; this answers the others before
        // any route does.
        Mock::given(peer_other_than(ALLOWLISTED))
            .respond_with(json_reply(
                403,
                json!({"error": "forbidden", "message": "source address not allowed"}),
            ))
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/profile"))
        .respond_with(Profile(demo.clone()))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/token"))
        .respond_with(TokenEndpoint::new(demo.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/orders"))
        .respond_with(Orders(demo.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/reports"))
        .respond_with(Reports(demo.clone()))
        .mount(&server)
        .await;
    let policy: front::PolicyFn = if demo.deviations.has(Deviation::AnswersUnallowlisted) {
        Arc::new(|_| SourcePolicy::Allow)
    } else {
        let outside = if demo.deviations.has(Deviation::ResetsUnallowlisted) {
            SourcePolicy::Reset
        } else {
            SourcePolicy::Drop
        };
        Arc::new(move |ip| {
            if ip == ALLOWLISTED {
                SourcePolicy::Allow
            } else {
                outside
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
    token_policy: TokenPolicy,
    deviations: Deviations<Deviation>,
}

impl Demo {
    /// Returns a 401 with the Basic challenge, unless the deviation omits it.
    fn basic_refusal(&self, reply: ResponseTemplate) -> ResponseTemplate {
        if self.deviations.has(Deviation::OmitsBasicChallenge) {
            reply
        } else {
            reply.with_challenge(&Challenge::basic("demo").charset_utf8())
        }
    }
}

impl Demo {
    /// Tells whether `/v1/profile` lets the request in: the right Basic credentials, read as
    /// RFC 7617 says unless a deviation reads them otherwise.
    fn profile_accepts(&self, request: &Request) -> bool {
        let lenient = [
            Deviation::BasicSchemeCaseSensitive,
            Deviation::BasicPasswordPrefix,
            Deviation::BasicIgnoresBadBase64,
            Deviation::BasicLenientSpaces,
        ];
        if !lenient.iter().any(|d| self.deviations.has(*d)) {
            return basic_matches(request, &self.username, &self.password);
        }
        let Some(value) = request
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let value = value.trim();
        let Some(scheme) = value.get(..5) else {
            return false;
        };
        let mut rest = &value[5..];
        if self.deviations.has(Deviation::BasicSchemeCaseSensitive) {
            if scheme != "Basic" {
                return false;
            }
        } else if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let mut token: String = if self.deviations.has(Deviation::BasicLenientSpaces) {
            rest.chars().filter(|c| *c != ' ').collect()
        } else {
            let Some(stripped) = rest.strip_prefix(' ') else {
                return false;
            };
            rest = stripped.trim_start_matches(' ');
            rest.to_owned()
        };
        if self.deviations.has(Deviation::BasicIgnoresBadBase64) {
            token.retain(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='));
        }
        use base64::Engine as _;
        let Some((user, password)) = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| {
                text.split_once(':')
                    .map(|(u, p)| (u.to_owned(), p.to_owned()))
            })
        else {
            return false;
        };
        let password_ok = if self.deviations.has(Deviation::BasicPasswordPrefix) {
            password.starts_with(&self.password) || self.password.starts_with(&password)
        } else {
            credential_eq(password.as_bytes(), self.password.as_bytes())
        };
        credential_eq(user.as_bytes(), self.username.as_bytes()) && password_ok
    }
}

/// `GET /v1/profile`.
struct Profile(Arc<Demo>);

impl Respond for Profile {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let demo = &self.0;
        if demo.profile_accepts(request) {
            json_reply(200, json!({"user": demo.username, "plan": "gold"}))
        } else {
            demo.basic_refusal(json_reply(401, json!({"error": "unauthorized"})))
        }
    }
}

/// `POST /v1/token`: the client_credentials grant.
impl TokenProvider for Demo {
    fn policy(&self) -> &TokenPolicy {
        &self.token_policy
    }

    fn client_matches(&self, id: &str, secret: &str) -> bool {
        if self.deviations.has(Deviation::TokenClientSecretPrefix) {
            return id == self.client_id
                && !secret.is_empty()
                && (secret.starts_with(&self.client_secret)
                    || self.client_secret.starts_with(secret));
        }
        request::pair_eq((id, secret), (&self.client_id, &self.client_secret))
    }

    fn refuse(&self, refusal: TokenRefusal<'_>) -> ResponseTemplate {
        match refusal {
            TokenRefusal::MissingClient
            | TokenRefusal::MalformedClientHeader
            | TokenRefusal::InvalidClient { .. } => self.basic_refusal(super::kit::oauth_error(
                401,
                "invalid_client",
                "Client authentication failed",
            )),
            other => other.rfc6749(&self.token_policy),
        }
    }

    fn grant(&self, _grant_type: &str, _request: &TokenRequest<'_>) -> TokenReply {
        let token = ids::random_id(ids::TOKEN);
        let expiry = self.clock.now() + Duration::from_secs(TOKEN_TTL_SECONDS);
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), expiry);
        TokenReply::Issued(
            json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}),
        )
    }
}

/// `GET /v1/orders`.
struct Orders(Arc<Demo>);

impl Respond for Orders {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let demo = &self.0;
        let Some(token) = request::bearer(request) else {
            return json_reply(401, json!({"error": "unauthorized"}))
                .with_challenge(&Challenge::bearer("demo"));
        };
        let expiry = demo
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .copied();
        let valid = expiry.is_some_and(|expiry| {
            demo.deviations.has(Deviation::AcceptsExpiredTokens) || demo.clock.now() < expiry
        });
        if valid {
            json_reply(
                200,
                json!({"orders": [{"id": "o-1", "amount": 12.5, "currency": "EUR"}]}),
            )
        } else {
            json_reply(401, json!({"error": "invalid_token"})).with_challenge(
                &Challenge::bearer("demo")
                    .error("invalid_token", "the access token is invalid or expired"),
            )
        }
    }
}

/// `GET /v1/reports`.
struct Reports(Arc<Demo>);

impl Respond for Reports {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let demo = &self.0;
        let presented = request
            .headers
            .get("x-api-key")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let key_ok = if demo.deviations.has(Deviation::ApiKeyPrefixOnly) {
            let checked = API_KEY_PREFIX_CHECKED.min(demo.api_key.len());
            presented.len() >= checked
                && credential_eq(&presented[..checked], &demo.api_key.as_bytes()[..checked])
        } else {
            credential_eq(presented, demo.api_key.as_bytes())
        } && !presented.is_empty();
        if key_ok || demo.deviations.has(Deviation::AcceptsAnyApiKey) {
            json_reply(
                200,
                json!({"reports": [{"id": "r-1", "kind": "settlement"}]}),
            )
        } else {
            json_reply(
                403,
                json!({"error": 2, "message": "Provided API key is not correct"}),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the registry and `tests/expectations.rs` use.
    #[test]
    fn deviation_names_are_the_documented_ones() {
        assert_eq!(
            DEVIATIONS,
            [
                "answers-unallowlisted",
                "resets-unallowlisted",
                "accepts-expired-tokens",
                "omits-no-store",
                "omits-basic-challenge",
                "accepts-any-api-key",
                "basic-scheme-case-sensitive",
                "basic-password-prefix",
                "basic-ignores-bad-base64",
                "basic-lenient-spaces",
                "api-key-prefix-only",
                "token-accepts-repeated-parameters",
                "token-accepts-two-client-auth-methods",
                "token-client-secret-prefix",
            ]
        );
    }
}
