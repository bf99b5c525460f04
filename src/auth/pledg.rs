//! Pledg's "signature" authentication, which is two things keyed by the merchant's shared secret:
//!
//! - signed purchase parameters: an HS256 JWT over `{"data": params}`, optionally with `exp`
//!   ([`sign_parameters`], [`verify_parameters`]);
//! - the standard payment notification's `signature` field: plain SHA-256 (not an HMAC) of the
//!   notification's fields, with the secret as separator ([`notification_signature`]).
//!
//! These are the mock's checks. Scenarios produce the same values with the generic `jwt_sign`
//! (claims `{data: …}`) and `canonical_signature` (`then: { digest: [sha-256] }`, `HEX`), so each
//! implementation checks the other.
//!
//! ```text
//! created_at=2019-04-04T12:20:34.97138ZSECRETerror=SECRETid=test-validSECRETreference=…SECRETsandbox=trueSECRETstatus=completed
//!   → B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359
//! ```

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::jwt::{self, JwtError, SigningKey, VerifyingKey};

/// Notification fields that are not signed.
const UNSIGNED_FIELDS: &[&str] = &["additional_data", "metadata", "signature"];

/// Signs purchase parameters as Pledg's plugin expects: HS256 JWT over `{"data": params}`, plus
/// `exp` when given.
///
/// # Errors
/// [`JwtError::Signing`] on a crypto failure.
pub fn sign_parameters(
    params: &Value,
    secret: &[u8],
    exp_unix: Option<u64>,
) -> Result<String, JwtError> {
    let mut claims = json!({ "data": params });
    if let (Some(exp), Some(map)) = (exp_unix, claims.as_object_mut()) {
        map.insert("exp".to_owned(), Value::from(exp));
    }
    jwt::sign(&claims, &SigningKey::hs256(secret))
}

/// Verifies signed purchase parameters (HS256 only, `exp` checked against `now_unix` when
/// present) and returns their `data`.
///
/// # Errors
/// Any [`jwt::verify`] error, or [`JwtError::MissingClaim`] when the token has no `data`.
pub fn verify_parameters(token: &str, secret: &[u8], now_unix: u64) -> Result<Value, JwtError> {
    let mut token = jwt::verify(token, &VerifyingKey::hs256(secret), now_unix)?;
    token
        .claims
        .as_object_mut()
        .and_then(|claims| claims.remove("data"))
        .ok_or(JwtError::MissingClaim("data"))
}

/// Returns the `signature` of a standard payment notification: uppercase hex SHA-256 of its
/// fields other than `additional_data`, `metadata` and `signature`, sorted by name, each written
/// `name=value`, joined with `secret` as the separator.
///
/// Values are written as Pledg's plugins do: strings raw, booleans `true`/`false`, numbers as
/// JSON, `null` as nothing; arrays and objects (not expected among signed fields) as compact
/// JSON.
pub fn notification_signature(notification: &Map<String, Value>, secret: &str) -> String {
    let mut fields: Vec<(&String, &Value)> = notification
        .iter()
        .filter(|(name, _)| !UNSIGNED_FIELDS.contains(&name.as_str()))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let text = fields
        .into_iter()
        .map(|(name, value)| format!("{name}={}", field_text(value)))
        .collect::<Vec<_>>()
        .join(secret);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

/// Writes one notification value as it is signed.
fn field_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"pledg-mock-secret";
    const NOW: u64 = 1_700_000_000;

    fn params() -> Value {
        json!({ "merchantUid": "mer_1", "amountCents": 12000, "reference": "order-1" })
    }

    fn facts_notification() -> Map<String, Value> {
        let value = json!({
            "created_at": "2019-04-04T12:20:34.97138Z",
            "error": "",
            "id": "test-valid",
            "reference": "PLEDG_1086986786391",
            "sandbox": true,
            "status": "completed",
            "additional_data": { "x": 1 },
            "metadata": { "y": 2 },
            "signature": "ignored"
        });
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn facts_notification_vector() {
        assert_eq!(
            notification_signature(&facts_notification(), "SECRET"),
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
        );
    }

    #[test]
    fn unsigned_fields_are_ignored() {
        let mut notification = facts_notification();
        notification.remove("additional_data");
        notification.remove("metadata");
        notification.remove("signature");
        assert_eq!(
            notification_signature(&notification, "SECRET"),
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
        );
    }

    #[test]
    fn null_is_empty_and_signed_fields_matter() {
        let mut notification = facts_notification();
        notification.insert("error".to_owned(), Value::Null);
        assert_eq!(
            notification_signature(&notification, "SECRET"),
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
        );
        notification.insert("sandbox".to_owned(), json!("true"));
        assert_eq!(
            notification_signature(&notification, "SECRET"),
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
        );
        notification.insert("status".to_owned(), json!("failed"));
        assert_ne!(
            notification_signature(&notification, "SECRET"),
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
        );
        assert_ne!(
            notification_signature(&facts_notification(), "OTHER"),
            notification_signature(&facts_notification(), "SECRET")
        );
    }

    #[test]
    fn parameters_round_trip() {
        let token = sign_parameters(&params(), SECRET, Some(NOW + 86_400)).unwrap();
        assert_eq!(verify_parameters(&token, SECRET, NOW), Ok(params()));
        let claims = jwt::decode_unverified(&token).unwrap().claims;
        assert_eq!(claims.get("exp"), Some(&json!(NOW + 86_400)));
        assert_eq!(claims.get("data"), Some(&params()));

        let without_exp = sign_parameters(&params(), SECRET, None).unwrap();
        assert_eq!(verify_parameters(&without_exp, SECRET, NOW), Ok(params()));
    }

    #[test]
    fn wrong_secret_is_refused() {
        let token = sign_parameters(&params(), SECRET, None).unwrap();
        assert_eq!(
            verify_parameters(&token, b"other-secret", NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn altered_payload_is_refused() {
        let token = sign_parameters(&params(), SECRET, None).unwrap();
        let mut changes = Map::new();
        changes.insert("data".to_owned(), json!({ "amountCents": 1 }));
        let forged = jwt::forge(&token, &jwt::Forgery::AlteredClaims(changes)).unwrap();
        assert_eq!(
            verify_parameters(&forged, SECRET, NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn expired_parameters_are_refused() {
        let token = sign_parameters(&params(), SECRET, Some(NOW - 1)).unwrap();
        assert_eq!(
            verify_parameters(&token, SECRET, NOW),
            Err(JwtError::Expired {
                exp: (NOW - 1) as i64,
                now: NOW
            })
        );
    }

    #[test]
    fn token_without_data_is_refused() {
        let token = jwt::sign(&json!({ "sub": "x" }), &SigningKey::hs256(SECRET)).unwrap();
        assert_eq!(
            verify_parameters(&token, SECRET, NOW),
            Err(JwtError::MissingClaim("data"))
        );
    }
}
