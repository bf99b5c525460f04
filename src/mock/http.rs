//! What every mock's handlers share: JSON replies, RFC 6749 error replies, and reading bearer
//! tokens and form or query parameters from a request without trusting its shape.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Value, json};
use wiremock::{Request, ResponseTemplate};

/// A reply with a JSON body.
pub fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// An RFC 6749 §5.2 error body, uncacheable as §5.1 asks of every token response.
pub fn oauth_error(status: u16, error: &str, description: &str) -> ResponseTemplate {
    json_response(
        status,
        json!({"error": error, "error_description": description}),
    )
    .insert_header("cache-control", "no-store")
    .insert_header("pragma", "no-cache")
}

/// Returns the token of an `Authorization: Bearer …` header (scheme matched case-insensitively),
/// or `None` when there is none, it is not text, or it is empty.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Collects parameters, refusing any given twice (RFC 6749 §3.1); `Err` names the first repeat.
pub fn single_params<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (key, value) in pairs {
        if params.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(key.into_owned());
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_named() {
        let pairs = url::form_urlencoded::parse(b"a=1&b=2&a=3");
        assert_eq!(single_params(pairs), Err("a".to_owned()));
        let pairs = url::form_urlencoded::parse(b"a=1&b=2");
        assert_eq!(single_params(pairs).map(|p| p.len()), Ok(2));
    }
}
