//! Reading a request without trusting its shape: credentials from `Authorization`, form
//! parameters with their repeats kept, and the peer address the [front](crate::mock::front)
//! observed. Anything malformed reads as absent, never as a panic.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use wiremock::{Match, Request};

use crate::auth::basic;
use crate::mock::credential_eq;

/// Returns the `Authorization` header as text, if there is one that is text.
pub fn authorization(request: &Request) -> Option<&str> {
    request.headers.get("authorization")?.to_str().ok()
}

/// Returns the token of an `Authorization: Bearer …` header (scheme matched case-insensitively),
/// or `None` when there is none, it is not text, or it is empty.
pub fn bearer(request: &Request) -> Option<&str> {
    let (scheme, token) = authorization(request)?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Returns the RFC 7617 user-id and password of an `Authorization: Basic …` header, or `None`
/// when there is none or it is malformed.
pub fn basic_credentials(request: &Request) -> Option<(String, String)> {
    basic::decode(authorization(request)?)
}

/// Tells whether a presented user-id and password (or client id and secret) are the expected
/// ones, comparing both parts in constant time and always both, so timing does not tell which
/// one was wrong.
pub fn pair_eq(presented: (&str, &str), expected: (&str, &str)) -> bool {
    let first = credential_eq(presented.0.as_bytes(), expected.0.as_bytes());
    let second = credential_eq(presented.1.as_bytes(), expected.1.as_bytes());
    first & second
}

/// Tells whether the request carries `user`:`password` as Basic credentials (see [`pair_eq`]).
pub fn basic_matches(request: &Request, user: &str, password: &str) -> bool {
    let (given_user, given_password) = basic_credentials(request).unwrap_or_default();
    let matches = pair_eq((&given_user, &given_password), (user, password));
    // A missing header compares as empty parts; an empty expected pair must not match it.
    matches && basic_credentials(request).is_some()
}

/// Returns a wiremock matcher for requests whose peer (as the front observed it) is not
/// `allowed`: mounted at a high priority, it answers them before any route does (for a deviation
/// that answers sources an allowlist should drop).
pub fn peer_other_than(allowed: IpAddr) -> PeerOtherThan {
    PeerOtherThan(allowed)
}

/// See [`peer_other_than`].
#[derive(Debug, Clone, Copy)]
pub struct PeerOtherThan(IpAddr);

impl Match for PeerOtherThan {
    fn matches(&self, request: &Request) -> bool {
        peer(request) != Some(self.0)
    }
}

/// Returns the peer address the front put on the request (never one the client sent: the front
/// removes any copy of its header first).
pub fn peer(request: &Request) -> Option<IpAddr> {
    crate::mock::front::peer_of(request)
}

/// Returns the query parameters, the last value of a repeated one winning.
pub fn query(request: &Request) -> HashMap<String, String> {
    request.url.query_pairs().into_owned().collect()
}

/// An `application/x-www-form-urlencoded` body, every value of a repeated parameter kept (RFC 6749
/// §3.2 forbids repeats; the provider decides when to refuse them).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    /// In order of first appearance.
    params: Vec<(String, Vec<String>)>,
}

/// Shows parameter names only: values are credentials (`client_secret`, `password`, codes).
impl fmt::Debug for FormParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.params.iter().map(|(name, _)| name))
            .finish()
    }
}

impl FormParams {
    /// Parses a form body; bytes that are not UTF-8 are replaced, as a form decoder does.
    pub fn parse(body: &[u8]) -> Self {
        let mut params: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.push(value.into_owned()),
                None => params.push((key.into_owned(), vec![value.into_owned()])),
            }
        }
        Self { params }
    }

    /// Returns the first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// Returns the first value of `name` unless it is empty (an empty value is no value for
    /// RFC 6749 §3.1).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.first(name).filter(|v| !v.is_empty())
    }

    /// Returns the first parameter given more than once, in order of appearance.
    pub fn repeated(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(_, values)| values.len() > 1)
            .map(|(k, _)| k.as_str())
    }

    /// Returns each parameter with its first value.
    pub fn to_map(&self) -> HashMap<String, String> {
        self.params
            .iter()
            .filter_map(|(k, values)| Some((k.clone(), values.first()?.clone())))
            .collect()
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space), as RFC 6749
/// §2.3.1 asks of the client id and secret inside Basic credentials. A component that holds `&`
/// or `=` was not encoded at all and is taken as it is.
pub fn form_decode(component: &str) -> String {
    if component.contains(['&', '=']) {
        return component.to_owned();
    }
    url::form_urlencoded::parse(component.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parameters_keep_their_repeats_and_order() {
        let form = FormParams::parse(b"b=1&a=2&b=3&c=&a=4");
        assert_eq!(form.first("b"), Some("1"));
        assert_eq!(form.repeated(), Some("b"));
        assert_eq!(form.first("c"), Some(""));
        assert_eq!(form.non_empty("c"), None);
        assert_eq!(form.first("d"), None);
        assert_eq!(form.to_map().get("a").map(String::as_str), Some("2"));
        assert_eq!(FormParams::parse(b"a=1&b=2").repeated(), None);
        assert_eq!(
            FormParams::parse(b"x=%FF%FE").first("x"),
            Some("\u{fffd}\u{fffd}")
        );
    }

    #[test]
    fn basic_parts_are_form_decoded() {
        assert_eq!(form_decode("my+client%3A1"), "my client:1");
        assert_eq!(form_decode("a=b"), "a=b");
        assert_eq!(form_decode(""), "");
    }
}
