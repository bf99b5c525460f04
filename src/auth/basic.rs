//! HTTP Basic authentication (RFC 7617): building the `Authorization` value a client sends, and
//! decoding it on the mock side.
//!
//! [`header_value`] encodes `user-id ":" password` as UTF-8 and then base64, which is what
//! RFC 7617 §2.1 asks for when the server announces `charset="UTF-8"` and what every modern
//! client does. It refuses credentials that RFC 7617 §2 forbids (a `:` in the user-id, control
//! characters anywhere), so a scenario cannot send something no compliant client would.
//! [`decode`] is lenient only where the RFC is (the scheme's case) and answers `None` for
//! anything else.
//!
//! ```text
//! Aladdin / open sesame  →  Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==
//! test / 123£            →  Basic dGVzdDoxMjPCow==
//! ```
//!
//! Errors never contain the credentials themselves: they end up in reports.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a user-id or password cannot be sent with Basic authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    /// RFC 7617 §2: "a user-id containing a colon character is invalid".
    #[error("user-id contains `:`, which basic authentication cannot carry")]
    UserIdContainsColon,
    /// RFC 7617 §2: neither part may contain control characters.
    #[error("{part} contains a control character")]
    ControlCharacter {
        /// `user-id` or `password`.
        part: &'static str,
    },
}

/// Returns the `Authorization` header value for Basic authentication:
/// `Basic <base64(UTF-8(user_id ":" password))>`.
///
/// # Errors
/// [`BasicError`] when the user-id contains `:` or either part contains a control character.
pub fn header_value(user_id: &str, password: &str) -> Result<String, BasicError> {
    check_user_id(user_id)?;
    check_no_control(password, "password")?;
    Ok(format!(
        "Basic {}",
        STANDARD.encode(format!("{user_id}:{password}"))
    ))
}

/// Checks that a user-id can be sent with Basic authentication: no `:` and no control
/// characters.
///
/// # Errors
/// [`BasicError`] naming the first rule broken.
pub fn check_user_id(user_id: &str) -> Result<(), BasicError> {
    if user_id.contains(':') {
        return Err(BasicError::UserIdContainsColon);
    }
    check_no_control(user_id, "user-id")
}

/// Decodes a Basic `Authorization` header value into `(user_id, password)`, for mocks.
///
/// The scheme is matched case-insensitively (RFC 7617 §2), the credentials must be padded
/// standard base64 of UTF-8 text, and they are split at the first `:`, so the password may
/// itself contain `:`. Returns `None` for any other scheme, bad base64, invalid UTF-8, a missing
/// `:`, or control characters.
pub fn decode(header_value: &str) -> Option<(String, String)> {
    let (scheme, credentials) = header_value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bytes = STANDARD.decode(credentials.trim_start_matches(' ')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user_id, password) = text.split_once(':')?;
    if user_id.chars().any(char::is_control) || password.chars().any(char::is_control) {
        return None;
    }
    Some((user_id.to_owned(), password.to_owned()))
}

/// Refuses control characters: RFC 5234's CTL (`%x00-1F`, `%x7F`) and the C1 range, which are
/// all Unicode `Cc`.
fn check_no_control(value: &str, part: &'static str) -> Result<(), BasicError> {
    if value.chars().any(char::is_control) {
        Err(BasicError::ControlCharacter { part })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7617_example() {
        assert_eq!(
            header_value("Aladdin", "open sesame").unwrap(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn encodes_utf8_not_latin1() {
        let value = header_value("test", "123£").unwrap();
        assert_eq!(value, "Basic dGVzdDoxMjPCow==");
        assert_ne!(value, "Basic dGVzdDoxMjOj");
    }

    #[test]
    fn password_with_colon_round_trips() {
        let value = header_value("user", "pa:ss:word").unwrap();
        assert_eq!(
            decode(&value),
            Some(("user".to_owned(), "pa:ss:word".to_owned()))
        );
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
            assert_eq!(
                decode(&format!("{scheme} QWxhZGRpbjpvcGVuIHNlc2FtZQ==")),
                Some(("Aladdin".to_owned(), "open sesame".to_owned())),
                "{scheme}"
            );
        }
    }

    #[test]
    fn refuses_colon_in_user_id() {
        assert_eq!(
            header_value("a:b", "pw"),
            Err(BasicError::UserIdContainsColon)
        );
        assert_eq!(check_user_id("a:b"), Err(BasicError::UserIdContainsColon));
        assert_eq!(check_user_id("ab"), Ok(()));
    }

    #[test]
    fn refuses_control_characters() {
        assert_eq!(
            header_value("a\nb", "pw"),
            Err(BasicError::ControlCharacter { part: "user-id" })
        );
        assert_eq!(
            header_value("ab", "p\u{7f}w"),
            Err(BasicError::ControlCharacter { part: "password" })
        );
        assert_eq!(
            header_value("ab", "p\u{85}w"),
            Err(BasicError::ControlCharacter { part: "password" })
        );
    }

    #[test]
    fn errors_do_not_show_the_credentials() {
        let message = header_value("secret-user:x", "pw").unwrap_err().to_string();
        assert!(!message.contains("secret-user"), "{message}");
    }

    #[test]
    fn decode_refuses_malformed_values() {
        for value in [
            "",
            "Basic",
            "Basic ",
            "Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",
            "Basic !!!!",
            "Basic QWxhZGRpbg==",
            "Basic //79",
            "Basic YQpiOmM=",
            "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        ] {
            assert_eq!(decode(value), None, "{value:?}");
        }
    }

    #[test]
    fn empty_parts_decode() {
        assert_eq!(
            decode(&header_value("", "").unwrap()),
            Some((String::new(), String::new()))
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(value in any::<String>()) {
            let _ = decode(&value);
            let _ = decode(&format!("Basic {value}"));
        }

        #[test]
        fn valid_credentials_round_trip(
            user_id in "[^:\\p{Cc}]*",
            password in "[^\\p{Cc}]*",
        ) {
            let value = header_value(&user_id, &password).unwrap();
            prop_assert_eq!(decode(&value), Some((user_id, password)));
        }
    }
}
