//! Proof Key for Code Exchange (RFC 7636): verifiers, challenges and their methods.
//!
//! A client makes a [`generate_verifier`], sends [`challenge`]`(verifier, S256)` with the
//! authorization request and the verifier with the token request; a mock recomputes the
//! challenge and compares. [`is_valid_verifier`] applies the ABNF `43*128unreserved` (§4.1).
//!
//! ```text
//! dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk  --S256-->  E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
//! ```

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// Allowed verifier lengths, in characters (RFC 7636 §4.1).
pub const VERIFIER_LEN: RangeInclusive<usize> = 43..=128;

/// The unreserved characters a verifier is made of (RFC 3986 §2.3).
const UNRESERVED: &[u8; 66] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// What went wrong with a PKCE value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    /// A verifier length outside 43..=128.
    #[error("code verifier length {0} is outside 43..=128")]
    VerifierLength(usize),
    /// A `code_challenge_method` other than `S256` or `plain`.
    #[error("unknown code challenge method `{0}`, expected `S256` or `plain`")]
    UnknownMethod(String),
}

/// A `code_challenge_method` (RFC 7636 §4.2). The names are case-sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PkceMethod {
    /// `S256`: the challenge is BASE64URL(SHA256(verifier)).
    S256,
    /// `plain`: the challenge is the verifier; RFC 7636's default when the method is omitted.
    Plain,
}

impl PkceMethod {
    /// Returns the method's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

impl FromStr for PkceMethod {
    type Err = PkceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "S256" => Ok(Self::S256),
            "plain" => Ok(Self::Plain),
            other => Err(PkceError::UnknownMethod(other.to_owned())),
        }
    }
}

impl fmt::Display for PkceMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generates a code verifier of `len` unreserved characters from the thread's CSPRNG
/// (`rand::rng()`, ChaCha seeded from the operating system), each drawn uniformly from the 66
/// allowed characters, so a 43-character verifier carries about 260 bits.
///
/// # Errors
/// [`PkceError::VerifierLength`] when `len` is outside 43..=128.
pub fn generate_verifier(len: usize) -> Result<String, PkceError> {
    if !VERIFIER_LEN.contains(&len) {
        return Err(PkceError::VerifierLength(len));
    }
    let mut rng = rand::rng();
    Ok((0..len)
        .map(|_| char::from(UNRESERVED[rng.random_range(0..UNRESERVED.len())]))
        .collect())
}

/// Returns the `code_challenge` for `verifier`: BASE64URL-NOPAD(SHA256(ASCII(verifier))) for
/// `S256`, the verifier itself for `plain`.
///
/// The verifier is not validated here, so a scenario can derive the challenge of a deliberately
/// invalid verifier; its bytes are hashed as they are.
pub fn challenge(verifier: &str, method: PkceMethod) -> String {
    match method {
        PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        PkceMethod::Plain => verifier.to_owned(),
    }
}

/// Returns true when `s` is a valid verifier: 43 to 128 unreserved characters.
pub fn is_valid_verifier(s: &str) -> bool {
    VERIFIER_LEN.contains(&s.len()) && s.bytes().all(|b| UNRESERVED.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_B_OCTETS: [u8; 32] = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    const APPENDIX_B_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc_7636_appendix_b() {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(APPENDIX_B_OCTETS),
            APPENDIX_B_VERIFIER
        );
        assert!(is_valid_verifier(APPENDIX_B_VERIFIER));
        assert_eq!(
            challenge(APPENDIX_B_VERIFIER, PkceMethod::S256),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn plain_is_identity() {
        assert_eq!(
            challenge(APPENDIX_B_VERIFIER, PkceMethod::Plain),
            APPENDIX_B_VERIFIER
        );
    }

    #[test]
    fn method_names() {
        assert_eq!("S256".parse(), Ok(PkceMethod::S256));
        assert_eq!("plain".parse(), Ok(PkceMethod::Plain));
        assert_eq!(
            "s256".parse::<PkceMethod>(),
            Err(PkceError::UnknownMethod("s256".to_owned()))
        );
        assert_eq!(PkceMethod::S256.to_string(), "S256");
        assert_eq!(PkceMethod::Plain.to_string(), "plain");
    }

    #[test]
    fn generated_verifiers_are_valid_at_both_ends() {
        for len in [43, 64, 128] {
            let verifier = generate_verifier(len).unwrap();
            assert_eq!(verifier.len(), len);
            assert!(is_valid_verifier(&verifier), "{verifier}");
        }
    }

    #[test]
    fn lengths_outside_the_range_are_refused() {
        assert_eq!(generate_verifier(42), Err(PkceError::VerifierLength(42)));
        assert_eq!(generate_verifier(129), Err(PkceError::VerifierLength(129)));
        assert_eq!(generate_verifier(0), Err(PkceError::VerifierLength(0)));
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"~".repeat(128)));
    }

    #[test]
    fn characters_outside_unreserved_are_refused() {
        let base = "a".repeat(42);
        for bad in ["+", "/", "=", " ", "é", "%"] {
            assert!(!is_valid_verifier(&format!("{base}{bad}")), "{bad}");
        }
    }

    #[test]
    fn verifiers_are_random() {
        assert_ne!(
            generate_verifier(43).unwrap(),
            generate_verifier(43).unwrap()
        );
    }
}
