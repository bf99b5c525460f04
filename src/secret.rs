//! Secrets: the [`Secret`] type that never prints, and the [`SecretRegistry`] that every output
//! sink redacts through.
//!
//! A secret enters the registry when the target's secrets are resolved and whenever a scenario
//! captures a value marked `secret: true`. Sinks call [`SecretRegistry::redact`] on everything they
//! write, so a value (or a derived form of it: base64, URL-encoding) is replaced by
//! `[redacted:NAME]` wherever it appears.

use std::fmt;
use std::str::FromStr;
use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The name of a secret, as scenarios refer to it in `{{secret.NAME}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "invalid secret name `{s}`: use letters, digits, `_` and `-`"
            ))
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential or token. Debug prints `Secret(client_secret, [redacted])`.
///
/// Deliberately no `Display`, `Serialize` or `Clone`: a derive can never write one to a report.
pub struct Secret {
    name: SecretName,
    value: Box<str>,
}

impl Secret {
    /// Wraps a value under a name.
    pub fn new(name: SecretName, value: impl Into<Box<str>>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }

    /// Returns the name the value is redacted as.
    pub fn name(&self) -> &SecretName {
        &self.name
    }

    /// Returns the raw value, for the wire only.
    ///
    /// # Security warning
    /// Anything logged, formatted or stored from this must go through [`SecretRegistry::redact`].
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, [redacted])", self.name)
    }
}

/// Values shorter than this are not redacted by value: replacing every `a` in a report would
/// destroy it and hide nothing. Mock and live credentials are far longer.
const MIN_REDACTABLE_LEN: usize = 4;

/// Every secret value known to a run, with the derived forms that could carry it.
///
/// Shared by all scenarios of a run (behind `Arc`); captures add to it while scenarios run.
#[derive(Default)]
pub struct SecretRegistry {
    needles: RwLock<Vec<(String, String)>>,
}

impl fmt::Debug for SecretRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.needles.read().map(|n| n.len()).unwrap_or(0);
        write!(f, "SecretRegistry({count} needles, [redacted])")
    }
}

impl SecretRegistry {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret's value and its derived forms under the secret's name.
    pub fn register(&self, secret: &Secret) {
        self.register_value(secret.name().as_str(), secret.expose());
    }

    /// Registers a raw value (and its derived forms) under `name`.
    pub fn register_value(&self, name: &str, value: &str) {
        if value.len() < MIN_REDACTABLE_LEN {
            return;
        }
        let mut forms = vec![value.to_owned()];
        // A JWT's payload and signature can travel alone (a decoded token shown elsewhere, a
        // detached signature); its header is the same for every token and hides nothing.
        if let [_, payload, signature] = value.split('.').collect::<Vec<_>>().as_slice()
            && [payload, signature].iter().all(|p| {
                p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
        {
            forms.extend([payload.to_string(), signature.to_string()]);
        }
        // Inside a JSON string (a response body quoting the value) `"` and `\` are escaped.
        if let Ok(quoted) = serde_json::to_string(value) {
            forms.push(quoted[1..quoted.len() - 1].to_owned());
        }
        forms.push(STANDARD.encode(value));
        forms.push(URL_SAFE_NO_PAD.encode(value));
        let url_encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        forms.push(url_encoded);
        forms.push(percent_encode_all(value));
        let Ok(mut needles) = self.needles.write() else {
            return;
        };
        for form in forms {
            if form.len() >= MIN_REDACTABLE_LEN && !needles.iter().any(|(_, n)| *n == form) {
                needles.push((name.to_owned(), form));
            }
        }
        // Longest first, so a value that contains another is replaced whole.
        needles.sort_by_key(|(_, needle)| std::cmp::Reverse(needle.len()));
    }

    /// Returns `text` with every registered value and derived form replaced by `[redacted:NAME]`.
    pub fn redact(&self, text: &str) -> String {
        let Ok(needles) = self.needles.read() else {
            return "[redacted: registry unavailable]".to_owned();
        };
        let mut out = text.to_owned();
        for (name, needle) in needles.iter() {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), &format!("[redacted:{name}]"));
            }
        }
        out
    }

    /// Returns true when `text` contains no registered value or derived form.
    pub fn is_clean(&self, text: &str) -> bool {
        self.needles
            .read()
            .map(|n| n.iter().all(|(_, needle)| !text.contains(needle.as_str())))
            .unwrap_or(false)
    }
}

/// Header names whose values are credentials: shown as `[redacted]` (keeping the scheme).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Form and JSON field names whose values are credentials: shown as `[redacted]` wherever a body
/// is shown, whether or not the value is a known secret (a token the run never captured is one).
pub const CREDENTIAL_FIELDS: &[&str] = &[
    "password",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "access_token",
    "id_token",
    "assertion",
    "code",
    "token",
    "secret",
];

/// Returns true when a form or JSON field of this name holds a credential.
pub fn is_credential_field(name: &str) -> bool {
    CREDENTIAL_FIELDS.contains(&name)
}

/// Replaces the values of credential fields, at any depth, by `"[redacted]"`.
pub fn redact_credential_fields(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_credential_field(k) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_credential_fields(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_credential_fields),
        _ => {}
    }
}

/// Returns a body with its credential fields redacted when it is JSON or a form; as it is
/// otherwise.
pub fn redact_credential_text(body: &str) -> String {
    let trimmed = body.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body)
    {
        redact_credential_fields(&mut value);
        return value.to_string();
    }
    let looks_like_form = !body.is_empty()
        && !body.contains(char::is_whitespace)
        && body.split('&').all(|pair| pair.contains('='));
    if looks_like_form {
        let pairs = url::form_urlencoded::parse(body.as_bytes());
        if pairs.clone().any(|(k, _)| is_credential_field(&k)) {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                out.append_pair(
                    &k,
                    if is_credential_field(&k) {
                        "[redacted]"
                    } else {
                        &v
                    },
                );
            }
            return out.finish();
        }
    }
    body.to_owned()
}

/// Percent-encodes every byte outside the RFC 3986 unreserved set (path/query style, `%20` for space).
fn percent_encode_all(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with(name: &str, value: &str) -> SecretRegistry {
        let registry = SecretRegistry::new();
        registry.register(&Secret::new(name.parse().unwrap(), value));
        registry
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("client_secret".parse().unwrap(), "CANARY-debug");
        assert_eq!(format!("{secret:?}"), "Secret(client_secret, [redacted])");
    }

    #[test]
    fn redacts_the_value_and_its_derived_forms() {
        let registry = registry_with("password", "p@ss word/£");
        let encoded = STANDARD.encode("p@ss word/£");
        let text =
            format!("a p@ss word/£ b {encoded} c p%40ss+word%2F%C2%A3 d p%40ss%20word%2F%C2%A3");
        let redacted = registry.redact(&text);
        assert_eq!(
            redacted,
            "a [redacted:password] b [redacted:password] c [redacted:password] d [redacted:password]"
        );
        assert!(registry.is_clean(&redacted));
        assert!(!registry.is_clean(&text));
    }

    #[test]
    fn a_value_escaped_inside_json_is_redacted() {
        let registry = registry_with("username", "a\"quoted\"\\user");
        assert_eq!(
            registry.redact(r#"{"user":"a\"quoted\"\\user"}"#),
            r#"{"user":"[redacted:username]"}"#
        );
    }

    #[test]
    fn jwt_payload_and_signature_are_redacted_alone() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        let registry = registry_with("access_token", token);
        assert_eq!(
            registry.redact("claims eyJzdWIiOiJhbGljZSJ9 sig c2lnbmF0dXJlLWJ5dGVz"),
            "claims [redacted:access_token] sig [redacted:access_token]"
        );
    }

    #[test]
    fn short_values_are_not_redacted_by_value() {
        let registry = registry_with("pin", "abc");
        assert_eq!(registry.redact("abc"), "abc");
    }

    #[test]
    fn credential_fields_are_redacted_in_json_and_forms() {
        let json = redact_credential_text(
            r#"{"access_token":"abc","nested":[{"refresh_token":"x","n":1}]}"#,
        );
        assert_eq!(
            json,
            r#"{"access_token":"[redacted]","nested":[{"n":1,"refresh_token":"[redacted]"}]}"#
        );
        let form = redact_credential_text("grant_type=password&password=hunter2&username=bob");
        assert_eq!(
            form,
            "grant_type=password&password=%5Bredacted%5D&username=bob"
        );
        assert_eq!(redact_credential_text("plain text"), "plain text");
    }

    #[test]
    fn rejects_names_with_spaces() {
        assert!("client secret".parse::<SecretName>().is_err());
    }
}
