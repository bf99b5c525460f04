//! The OAuth2 client (RFC 6749): what a token request sends for each grant and client
//! authentication method, token response parsing, the state check of a headless authorization
//! code flow, and the run's [`TokenCache`].
//!
//! Token requests are always `application/x-www-form-urlencoded` (§3.2), never JSON, and the
//! client authenticates one way only: `client_secret_basic` (the id and secret form-urlencoded,
//! then Basic, §2.3.1) or `client_secret_post` (both in the body), never both.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::secret::{Secret, SecretName};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// `client_id` in the body (when given), no secret.
    None,
}

/// A token request's inputs, rendered.
#[derive(Debug, Clone)]
pub struct TokenParams {
    /// `grant_type`.
    pub grant_type: String,
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<String>,
    /// How the client authenticates.
    pub client_auth: ClientAuthMethod,
    /// The grant's own fields (`username`, `password`, `code`, `scope`, …), in order.
    pub fields: Vec<(String, String)>,
}

/// What a token request sends: the form fields and the `Authorization` header, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequestParts {
    /// The form body fields, in order, `grant_type` first.
    pub form: Vec<(String, String)>,
    /// The `Authorization` header value for `client_secret_basic`.
    pub authorization: Option<String>,
}

/// Builds the form and client authentication of a token request.
pub fn token_request_parts(params: &TokenParams) -> Result<TokenRequestParts, String> {
    let mut form = vec![("grant_type".to_owned(), params.grant_type.clone())];
    let mut authorization = None;
    match params.client_auth {
        ClientAuthMethod::ClientSecretBasic => {
            let (Some(id), Some(secret)) = (&params.client_id, &params.client_secret) else {
                return Err("client_secret_basic needs `client_id` and `client_secret`".into());
            };
            // RFC 6749 §2.3.1: each is form-urlencoded before Basic encodes the pair.
            let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            let secret: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            authorization = Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{id}:{secret}"))
            ));
        }
        ClientAuthMethod::ClientSecretPost => {
            let Some(id) = &params.client_id else {
                return Err("client_secret_post needs `client_id`".into());
            };
            form.push(("client_id".into(), id.clone()));
            if let Some(secret) = &params.client_secret {
                form.push(("client_secret".into(), secret.clone()));
            }
        }
        ClientAuthMethod::None => {
            if params.client_secret.is_some() {
                return Err("`client_auth: none` sends no secret: remove `client_secret`".into());
            }
            if let Some(id) = &params.client_id {
                form.push(("client_id".into(), id.clone()));
            }
        }
    }
    form.extend(params.fields.iter().cloned());
    Ok(TokenRequestParts {
        form,
        authorization,
    })
}

/// A successful token response (RFC 6749 §5.1), with the provider's extra members kept.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    /// `access_token`.
    pub access_token: String,
    /// `token_type` (`Bearer`, case-insensitive).
    pub token_type: Option<String>,
    /// `expires_in`, in seconds.
    pub expires_in: Option<u64>,
    /// `refresh_token`.
    pub refresh_token: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `id_token` (OpenID Connect).
    pub id_token: Option<String>,
    /// Every other member (`refresh_expires_in`, `session_state`, `profile`, `userId`, …).
    pub extras: serde_json::Map<String, serde_json::Value>,
}

/// Parses a token response body.
pub fn parse_token_response(body: &[u8]) -> Result<TokenResponse, String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the token response is not JSON ({e})"))?;
    let serde_json::Value::Object(mut map) = value else {
        return Err("the token response is not a JSON object".into());
    };
    let mut text = |name: &str| match map.remove(name) {
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(_) => Err(format!("`{name}` in the token response is not a string")),
    };
    let access_token = text("access_token")?
        .ok_or_else(|| "the token response has no `access_token`".to_owned())?;
    let token_type = text("token_type")?;
    let refresh_token = text("refresh_token")?;
    let scope = text("scope")?;
    let id_token = text("id_token")?;
    let expires_in = match map.remove("expires_in") {
        None | Some(serde_json::Value::Null) => None,
        // Some servers send a numeric string.
        Some(serde_json::Value::String(s)) => Some(
            s.parse()
                .map_err(|_| format!("`expires_in` is not a number: {s:?}"))?,
        ),
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| format!("`expires_in` is not a whole number of seconds: {v}"))?,
        ),
    };
    Ok(TokenResponse {
        access_token,
        token_type,
        expires_in,
        refresh_token,
        scope,
        id_token,
        extras: map,
    })
}

/// Reads `code`, `state` and `error` from an authorization response's `Location`
/// (RFC 6749 §4.1.2, §4.1.2.1), checking the redirect goes to `redirect_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRedirect {
    /// The authorization code.
    pub code: Option<String>,
    /// The state carried back.
    pub state: Option<String>,
    /// The error code, when the server redirected an error.
    pub error: Option<String>,
    /// The error description.
    pub error_description: Option<String>,
}

/// Parses the `Location` of an authorization response, resolving it against `base`.
pub fn parse_redirect(
    location: &str,
    base: &url::Url,
    redirect_uri: &str,
) -> Result<AuthorizationRedirect, String> {
    let target = base
        .join(location)
        .map_err(|e| format!("`Location` is not a URL ({e})"))?;
    let expected =
        url::Url::parse(redirect_uri).map_err(|e| format!("`redirect_uri` is not a URL ({e})"))?;
    let same_endpoint = target.scheme() == expected.scheme()
        && target.host_str() == expected.host_str()
        && target.port_or_known_default() == expected.port_or_known_default()
        && target.path() == expected.path();
    if !same_endpoint {
        let mut shown = target.clone();
        shown.set_query(None);
        return Err(format!(
            "the redirect goes to `{shown}`, not to the registered redirect_uri `{redirect_uri}`"
        ));
    }
    let mut redirect = AuthorizationRedirect {
        code: None,
        state: None,
        error: None,
        error_description: None,
    };
    for (key, value) in target.query_pairs() {
        let slot = match key.as_ref() {
            "code" => &mut redirect.code,
            "state" => &mut redirect.state,
            "error" => &mut redirect.error,
            "error_description" => &mut redirect.error_description,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("the redirect carries `{key}` twice"));
        }
        *slot = Some(value.into_owned());
    }
    Ok(redirect)
}

/// What identifies a cached token: the same grant for the same client, user and audience.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: Option<String>,
    /// The grant type.
    pub grant_type: String,
    /// The resource owner, for the password grant.
    pub username: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
    /// Requested resource.
    pub resource: Option<String>,
    /// A digest of the client secret and every form field (password, an extension grant's own
    /// fields): different credentials never share a token.
    pub credentials: [u8; 32],
}

/// A cached token.
struct CachedToken {
    access_token: Secret,
    refresh_token: Option<Secret>,
    /// From then on the token is renewed instead of served.
    renew_at: Option<SystemTime>,
}

/// Tokens shared by the scenarios of a run, so a suite does not log in once per scenario.
///
/// A token is served while it has more than [`REFRESH_MARGIN`] (or a tenth of its lifetime, if
/// that is less) left; past that, the caller refreshes it or fetches a new one.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<CacheKey, CachedToken>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.lock().len();
        write!(f, "TokenCache({n} tokens, [redacted])")
    }
}

/// How long before expiry a cached token is renewed.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// What the cache says about a key.
#[derive(Debug, PartialEq, Eq)]
pub enum CacheLookup {
    /// A token with time left.
    Fresh(String),
    /// Near or past expiry, with a refresh token to renew it.
    Refresh(String),
    /// Nothing usable.
    Missing,
}

impl TokenCache {
    /// Creates an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, CachedToken>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks `key` up at `now`.
    pub fn get(&self, key: &CacheKey, now: SystemTime) -> CacheLookup {
        let tokens = self.lock();
        let Some(token) = tokens.get(key) else {
            return CacheLookup::Missing;
        };
        let fresh = token.renew_at.is_none_or(|renew_at| now < renew_at);
        if fresh {
            CacheLookup::Fresh(token.access_token.expose().to_owned())
        } else if let Some(refresh) = &token.refresh_token {
            CacheLookup::Refresh(refresh.expose().to_owned())
        } else {
            CacheLookup::Missing
        }
    }

    /// Stores a token obtained at `now`.
    pub fn put(&self, key: CacheKey, response: &TokenResponse, now: SystemTime) {
        let name = |n: &str| n.parse::<SecretName>().expect("a valid secret name");
        let lifetime = response.expires_in.map(Duration::from_secs);
        // A short-lived token is renewed in its last tenth rather than its last 30 seconds.
        let renew_at = lifetime.map(|l| now + l - REFRESH_MARGIN.min(l / 10));
        self.lock().insert(
            key,
            CachedToken {
                access_token: Secret::new(name("access_token"), response.access_token.as_str()),
                refresh_token: response
                    .refresh_token
                    .as_deref()
                    .map(|r| Secret::new(name("refresh_token"), r)),
                renew_at,
            },
        );
    }

    /// Forgets `key` (after the provider refused a cached token's refresh).
    pub fn remove(&self, key: &CacheKey) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(auth: ClientAuthMethod) -> TokenParams {
        TokenParams {
            grant_type: "password".into(),
            client_id: Some("my client".into()),
            client_secret: Some("s3cr:t&=".into()),
            client_auth: auth,
            fields: vec![
                ("username".into(), "bob".into()),
                ("password".into(), "pw".into()),
            ],
        }
    }

    #[test]
    fn client_secret_basic_form_encodes_before_basic() {
        let parts = token_request_parts(&params(ClientAuthMethod::ClientSecretBasic)).unwrap();
        let expected = STANDARD.encode("my+client:s3cr%3At%26%3D");
        assert_eq!(parts.authorization, Some(format!("Basic {expected}")));
        let names: Vec<&str> = parts.form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["grant_type", "username", "password"]);
    }

    #[test]
    fn client_secret_post_puts_both_in_the_body_and_no_header() {
        let parts = token_request_parts(&params(ClientAuthMethod::ClientSecretPost)).unwrap();
        assert_eq!(parts.authorization, None);
        assert!(
            parts
                .form
                .contains(&("client_id".into(), "my client".into()))
        );
        assert!(
            parts
                .form
                .contains(&("client_secret".into(), "s3cr:t&=".into()))
        );
    }

    #[test]
    fn public_clients_send_no_secret() {
        assert!(token_request_parts(&params(ClientAuthMethod::None)).is_err());
        let mut p = params(ClientAuthMethod::None);
        p.client_secret = None;
        let parts = token_request_parts(&p).unwrap();
        assert_eq!(parts.form[1], ("client_id".into(), "my client".into()));
    }

    #[test]
    fn token_responses_keep_extras() {
        let body = br#"{"access_token":"a","expires_in":1800,"refresh_expires_in":5400,"token_type":"bearer","session_state":"x"}"#;
        let t = parse_token_response(body).unwrap();
        assert_eq!(t.expires_in, Some(1800));
        assert_eq!(t.extras["refresh_expires_in"], 5400);
        assert!(t.extras.contains_key("session_state"));
        assert!(parse_token_response(br#"{"token_type":"bearer"}"#).is_err());
        assert!(parse_token_response(br#"{"access_token":"a","expires_in":"soon"}"#).is_err());
        assert_eq!(
            parse_token_response(br#"{"access_token":"a","expires_in":"60"}"#)
                .unwrap()
                .expires_in,
            Some(60)
        );
    }

    #[test]
    fn redirects_are_read_and_checked() {
        let base = url::Url::parse("https://as.example/auth?x=1").unwrap();
        let r = parse_redirect(
            "https://app.example/cb?code=abc&state=s1",
            &base,
            "https://app.example/cb",
        )
        .unwrap();
        assert_eq!(
            (r.code.as_deref(), r.state.as_deref()),
            (Some("abc"), Some("s1"))
        );
        let r = parse_redirect(
            "https://app.example/cb?error=access_denied&state=s1",
            &base,
            "https://app.example/cb",
        )
        .unwrap();
        assert_eq!(r.error.as_deref(), Some("access_denied"));
        assert!(
            parse_redirect(
                "https://evil.example/cb?code=abc",
                &base,
                "https://app.example/cb"
            )
            .is_err()
        );
        assert!(
            parse_redirect(
                "https://app.example/cb?code=a&code=b",
                &base,
                "https://app.example/cb"
            )
            .is_err()
        );
    }

    #[test]
    fn cache_serves_fresh_tokens_and_asks_for_refresh_near_expiry() {
        let cache = TokenCache::new();
        let key = CacheKey {
            token_url: "u".into(),
            client_id: None,
            grant_type: "password".into(),
            username: None,
            scope: None,
            resource: None,
            credentials: [0; 32],
        };
        let t0 = SystemTime::UNIX_EPOCH;
        assert_eq!(cache.get(&key, t0), CacheLookup::Missing);
        let response = parse_token_response(
            br#"{"access_token":"a1","refresh_token":"r1","expires_in":1800}"#,
        )
        .unwrap();
        cache.put(key.clone(), &response, t0);
        assert_eq!(
            cache.get(&key, t0 + Duration::from_secs(60)),
            CacheLookup::Fresh("a1".into())
        );
        assert_eq!(
            cache.get(&key, t0 + Duration::from_secs(1790)),
            CacheLookup::Refresh("r1".into())
        );
        assert_eq!(
            cache.get(&key, t0 + Duration::from_secs(4000)),
            CacheLookup::Refresh("r1".into())
        );
    }
}
