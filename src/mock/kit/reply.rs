//! Response builders every mock uses: JSON bodies, RFC 7807 problems, RFC 6749 §5.2 error
//! bodies, the uncacheable headers of RFC 6749 §5.1, and `WWW-Authenticate` challenges
//! (RFC 7235 §4.1), so each provider states only its documented choices.
//!
//! ```text
//! json(401, body).with_challenge(&Challenge::basic("demo").charset_utf8())
//!   → 401, Content-Type: application/json, WWW-Authenticate: Basic realm="demo", charset="UTF-8"
//! ```

use std::fmt;

use serde_json::{Map, Value, json as json_value};
use wiremock::ResponseTemplate;

/// Returns a reply with a JSON body (`application/json`).
pub fn json(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// Returns an RFC 6749 §5.2 error body (`{error, error_description}`), without cache headers:
/// the token endpoint adds them as its provider's [`NoStore`](super::NoStore) says.
pub fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    json(
        status,
        json_value!({"error": error, "error_description": description}),
    )
}

/// Builds an RFC 7807 problem: `type`, `title`, `status`, then the optional `detail`,
/// `instance` and extension members.
#[derive(Debug, Clone)]
pub struct Problem {
    status: u16,
    body: Map<String, Value>,
}

impl Problem {
    /// Starts a problem of `status` with its `type` URI reference and `title`.
    pub fn new(status: u16, type_: &str, title: &str) -> Self {
        let mut body = Map::new();
        body.insert("type".into(), type_.into());
        body.insert("title".into(), title.into());
        body.insert("status".into(), status.into());
        Self { status, body }
    }

    /// Sets `detail`, the explanation of this occurrence.
    pub fn detail(self, detail: &str) -> Self {
        self.field("detail", detail.into())
    }

    /// Sets `instance`, the URI reference of this occurrence (often the request path).
    pub fn instance(self, instance: &str) -> Self {
        self.field("instance", instance.into())
    }

    /// Sets an extension member (RFC 7807 §3.2), replacing one of the same name.
    pub fn field(mut self, name: &str, value: Value) -> Self {
        self.body.insert(name.to_owned(), value);
        self
    }

    /// Returns the problem as `application/problem+json`, the RFC's media type.
    pub fn problem_json(self) -> ResponseTemplate {
        ResponseTemplate::new(self.status).set_body_raw(
            Value::Object(self.body).to_string(),
            "application/problem+json",
        )
    }

    /// Returns the problem as `application/json`, for providers that document that type.
    pub fn json(self) -> ResponseTemplate {
        json(self.status, Value::Object(self.body))
    }
}

/// One `WWW-Authenticate` challenge: a scheme and its auth-params, written as RFC 7235 §2.1
/// quoted strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Challenge {
    /// Returns `Basic realm="…"` (RFC 7617 §2).
    pub fn basic(realm: &str) -> Self {
        Self {
            scheme: "Basic",
            params: vec![("realm", realm.to_owned())],
        }
    }

    /// Returns `Bearer realm="…"` (RFC 6750 §3).
    pub fn bearer(realm: &str) -> Self {
        Self {
            scheme: "Bearer",
            params: vec![("realm", realm.to_owned())],
        }
    }

    /// Adds `charset="UTF-8"`, which RFC 7617 §2.1 lets a Basic challenge announce.
    pub fn charset_utf8(self) -> Self {
        self.param("charset", "UTF-8")
    }

    /// Adds RFC 6750 §3's `error` and `error_description`.
    pub fn error(self, error: &str, description: &str) -> Self {
        self.param("error", error)
            .param("error_description", description)
    }

    /// Adds an auth-param.
    pub fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_owned()));
        self
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme)?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            let separator = if i == 0 { " " } else { ", " };
            let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
            write!(f, "{separator}{name}=\"{quoted}\"")?;
        }
        Ok(())
    }
}

/// What every mock adds to a reply.
pub trait ReplyExt {
    /// Adds `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 asks of every
    /// reply carrying tokens or credentials.
    fn no_store(self) -> Self;

    /// Sets `WWW-Authenticate` to one challenge.
    fn with_challenge(self, challenge: &Challenge) -> Self;

    /// Sets `WWW-Authenticate` to several challenges in one value, in order.
    fn with_challenges(self, challenges: &[Challenge]) -> Self;
}

impl ReplyExt for ResponseTemplate {
    fn no_store(self) -> Self {
        self.insert_header("cache-control", "no-store")
            .insert_header("pragma", "no-cache")
    }

    fn with_challenge(self, challenge: &Challenge) -> Self {
        self.insert_header("www-authenticate", challenge.to_string().as_str())
    }

    fn with_challenges(self, challenges: &[Challenge]) -> Self {
        let value = challenges
            .iter()
            .map(Challenge::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        self.insert_header("www-authenticate", value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_written_as_rfc_7235_quoted_strings() {
        assert_eq!(
            Challenge::basic("demo").charset_utf8().to_string(),
            r#"Basic realm="demo", charset="UTF-8""#
        );
        assert_eq!(
            Challenge::bearer("api")
                .error("invalid_token", "expired")
                .to_string(),
            r#"Bearer realm="api", error="invalid_token", error_description="expired""#
        );
        assert_eq!(
            Challenge::basic(r#"a "quoted" \ realm"#).to_string(),
            r#"Basic realm="a \"quoted\" \\ realm""#
        );
    }

    #[test]
    fn problems_keep_the_rfc_members_and_extensions() {
        let problem = Problem::new(404, "/problems/not-found", "Not Found")
            .detail("no such key")
            .instance("/v1/keys/k")
            .field("code", 7.into());
        assert_eq!(
            Value::Object(problem.body.clone()),
            json_value!({"type": "/problems/not-found", "title": "Not Found", "status": 404,
                         "detail": "no such key", "instance": "/v1/keys/k", "code": 7})
        );
        assert_eq!(problem.status, 404);
    }
}
