//! JSON Web Tokens (RFC 7519, JWS compact form): inspecting tokens a provider issued, signing and
//! verifying them in mocks, and forging the negative tokens scenarios send.
//!
//! - [`decode_unverified`] splits and parses a token without checking anything, for assertions
//!   on what a provider issued ([`Jwt`]).
//! - [`sign`] and [`verify`] are for the embedded mocks, with HS256 or RS256 ([`SigningKey`],
//!   [`VerifyingKey`]). `verify` is strict: the header's `alg` must be the key's, `none` is never
//!   accepted, HMACs are compared in constant time, and `exp`/`nbf` are checked against the
//!   caller's clock (the scenario's virtual clock on mock targets). A missing `exp` is accepted
//!   here; providers that require one (We.Platform) check [`Jwt::claims`] themselves.
//! - [`forge`] turns a valid token into a negative one ([`Forgery`]).
//!
//! Each way a token can fail has its own [`JwtError`] variant, so a mock can answer as its
//! provider does (We.Platform: 619 for expiry, 620 for unparseable claims, 622 for a bad
//! signature or algorithm).
//!
//! Crypto comes from aws-lc-rs, the provider rustls already links. The RS256 key pairs in
//! [`TEST_RS256_PRIVATE_PEM`] and friends are fake keys for the embedded mocks and tests.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaSubjectPublicKey,
    UnparsedPublicKey,
};
use aws_lc_rs::{hmac, rand::SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};
use serde_json::{Map, Value};

/// Private key of the RS256 test pair (PKCS#8 PEM, RSA 2048).
///
/// A fake key, generated for the embedded mocks and tests only; it protects nothing.
pub const TEST_RS256_PRIVATE_PEM: &str = include_str!("keys/test-rs256-private.pem");
/// Public key of the RS256 test pair (SubjectPublicKeyInfo PEM).
///
/// A fake key for the embedded mocks and tests only.
pub const TEST_RS256_PUBLIC_PEM: &str = include_str!("keys/test-rs256-public.pem");
/// Private key of a second, unrelated RS256 test pair, for wrong-key negatives.
///
/// A fake key for the embedded mocks and tests only.
pub const TEST_RS256_OTHER_PRIVATE_PEM: &str = include_str!("keys/test-rs256-other-private.pem");
/// Public key of the second RS256 test pair.
///
/// A fake key for the embedded mocks and tests only.
pub const TEST_RS256_OTHER_PUBLIC_PEM: &str = include_str!("keys/test-rs256-other-public.pem");

/// One of the three segments of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The JOSE header.
    Header,
    /// The claims set (payload).
    Claims,
    /// The signature.
    Signature,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Header => "header",
            Self::Claims => "claims",
            Self::Signature => "signature",
        })
    }
}

/// How a token fails to be a well-formed JWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Not three dot-separated segments.
    #[error("{0} segments, expected 3")]
    SegmentCount(usize),
    /// A segment that is not unpadded base64url.
    #[error("{0} is not base64url")]
    Base64(Part),
    /// The header or claims segment is not JSON.
    #[error("{0} is not JSON")]
    Json(Part),
    /// The header or claims segment is JSON but not an object.
    #[error("{0} is not a JSON object")]
    NotObject(Part),
}

impl Malformed {
    /// Returns the segment at fault, when one is.
    pub fn part(&self) -> Option<Part> {
        match self {
            Self::SegmentCount(_) => None,
            Self::Base64(part) | Self::Json(part) | Self::NotObject(part) => Some(*part),
        }
    }
}

/// Why a token could not be decoded, verified, signed or forged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// The token is not a well-formed JWS with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(#[from] Malformed),
    /// The header's `alg` is not the verifying key's (including `none` and a missing `alg`).
    #[error("algorithm {found} refused, expected `{expected}`")]
    WrongAlgorithm {
        /// What the header said, as JSON (`"none"`), or `missing`.
        found: String,
        /// The key's algorithm.
        expected: &'static str,
    },
    /// The signature does not match the header and claims under the key.
    #[error("signature does not verify")]
    BadSignature,
    /// `now` is at or after `exp`.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim, in seconds since the epoch (rounded down).
        exp: i64,
        /// The clock used.
        now: u64,
    },
    /// `now` is before `nbf`.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim, in seconds since the epoch (rounded down).
        nbf: i64,
        /// The clock used.
        now: u64,
    },
    /// A time claim (`exp`, `nbf`) that is not a JSON number.
    #[error("claim `{0}` is not a numeric date")]
    InvalidTimeClaim(&'static str),
    /// A claim a caller requires is absent.
    #[error("claim `{0}` is missing")]
    MissingClaim(&'static str),
    /// A key that could not be parsed or used.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// Signing failed inside the crypto library.
    #[error("signing failed")]
    Signing,
    /// The forgery cannot be applied to this token.
    #[error("cannot forge: {0}")]
    CannotForge(&'static str),
}

/// A decoded token: header and claims as JSON objects, plus what verification needs.
///
/// Debug shows the header and claims but not the signature, which with them would rebuild a
/// bearer credential.
#[derive(Clone, PartialEq)]
pub struct Jwt {
    /// The JOSE header (always a JSON object).
    pub header: Value,
    /// The claims set (always a JSON object).
    pub claims: Value,
    /// The decoded signature bytes (empty for an unsigned token).
    pub signature: Vec<u8>,
    /// `base64url(header) "." base64url(claims)` exactly as received.
    signing_input: String,
}

impl Jwt {
    /// Returns the header's `alg`, when it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// Returns a claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// Returns the signed part, `header "." claims`, exactly as it appeared in the token.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field(
                "signature",
                &format_args!("[redacted, {} bytes]", self.signature.len()),
            )
            .finish()
    }
}

/// An RS256 private key. Debug shows only the public half.
#[derive(Clone)]
pub struct RsaPrivateKey(Arc<RsaKeyPair>);

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RsaPrivateKey({} bits, [redacted])",
            self.0.public_modulus_len() * 8
        )
    }
}

/// An RS256 public key, kept as DER (PKCS#1 `RSAPublicKey` or SubjectPublicKeyInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey(Vec<u8>);

/// A key that signs tokens.
#[derive(Clone)]
pub enum SigningKey {
    /// HMAC-SHA256 with a shared secret.
    Hs256(Vec<u8>),
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(RsaPrivateKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hs256(_) => f.write_str("SigningKey::Hs256([redacted])"),
            Self::Rs256(key) => write!(f, "SigningKey::Rs256({key:?})"),
        }
    }
}

impl SigningKey {
    /// Creates an HS256 key from a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::Hs256(secret.to_vec())
    }

    /// Creates an RS256 key from a PEM private key (`PRIVATE KEY` PKCS#8 or `RSA PRIVATE KEY`
    /// PKCS#1), 2048 to 8192 bits.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] when the PEM holds no RSA private key aws-lc-rs accepts.
    pub fn rs256_pem(pem: &str) -> Result<Self, JwtError> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| JwtError::InvalidKey("no pem private key found"))?;
        let pair = match &der {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(JwtError::InvalidKey("not an rsa private key")),
        }
        .map_err(|_| JwtError::InvalidKey("rsa private key rejected"))?;
        Ok(Self::Rs256(RsaPrivateKey(Arc::new(pair))))
    }

    /// Creates an RS256 key from an RSA private JWK (RFC 7517, RFC 7518 §6.3): a JSON object with
    /// `kty: RSA` and the base64url members `n`, `e`, `d`, `p`, `q`, `dp`, `dq` and `qi`.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] saying which member is wrong; messages never quote the key.
    pub fn rs256_jwk(jwk: &str) -> Result<Self, JwtError> {
        let jwk: Value =
            serde_json::from_str(jwk).map_err(|_| JwtError::InvalidKey("the jwk is not json"))?;
        let jwk = jwk
            .as_object()
            .ok_or(JwtError::InvalidKey("the jwk is not a json object"))?;
        if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
            return Err(JwtError::InvalidKey("the jwk's `kty` is not `RSA`"));
        }
        let member = |name: &'static str, missing: &'static str| -> Result<Vec<u8>, JwtError> {
            let text = jwk
                .get(name)
                .and_then(Value::as_str)
                .ok_or(JwtError::InvalidKey(missing))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| JwtError::InvalidKey("a jwk member is not base64url"))
        };
        let components = aws_lc_rs::rsa::KeyPairComponents {
            public_key: aws_lc_rs::rsa::PublicKeyComponents {
                n: member("n", "the jwk has no string `n`")?,
                e: member("e", "the jwk has no string `e`")?,
            },
            d: member("d", "the jwk has no string `d`: not a private key")?,
            p: member("p", "the jwk has no string `p`")?,
            q: member("q", "the jwk has no string `q`")?,
            dP: member("dp", "the jwk has no string `dp`")?,
            dQ: member("dq", "the jwk has no string `dq`")?,
            qInv: member("qi", "the jwk has no string `qi`")?,
        };
        let pair = RsaKeyPair::from_components(&components)
            .map_err(|_| JwtError::InvalidKey("rsa private key rejected"))?;
        Ok(Self::Rs256(RsaPrivateKey(Arc::new(pair))))
    }

    /// Creates an RS256 key from an RSA private key in either form a target may hold: PEM (text
    /// holding a `-----BEGIN` line, which explanatory text may precede, RFC 7468 §2) or a JWK (a
    /// JSON object), so a scenario names the key it needs and the target chooses the form.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] saying which form was detected and what is wrong with it, or
    /// that the text is neither form; messages never quote the key.
    pub fn rs256_private(text: &str) -> Result<Self, JwtError> {
        let trimmed = text.trim_start();
        if text.contains("-----BEGIN") {
            Self::rs256_pem(text)
        } else if trimmed.starts_with('{') {
            Self::rs256_jwk(trimmed)
        } else {
            Err(JwtError::InvalidKey(
                "expected an rsa private key as pem (`-----BEGIN PRIVATE KEY-----`) or as a jwk (a json object with `kty: RSA`)",
            ))
        }
    }

    /// Returns the JWS `alg` this key signs with.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Rs256(_) => "RS256",
        }
    }

    /// Returns the key that verifies this key's signatures: the same secret for HS256, the
    /// public half for RS256.
    pub fn verifying_key(&self) -> VerifyingKey {
        match self {
            Self::Hs256(secret) => VerifyingKey::Hs256(secret.clone()),
            Self::Rs256(key) => {
                VerifyingKey::Rs256(RsaPublicKey(key.0.public_key().as_ref().to_vec()))
            }
        }
    }

    /// Signs `input` (the JWS signing input) and returns the raw signature.
    fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, JwtError> {
        match self {
            Self::Hs256(secret) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
                Ok(hmac::sign(&key, input).as_ref().to_vec())
            }
            Self::Rs256(key) => {
                let mut signature = vec![0; key.0.public_modulus_len()];
                key.0
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &SystemRandom::new(),
                        input,
                        &mut signature,
                    )
                    .map_err(|_| JwtError::Signing)?;
                Ok(signature)
            }
        }
    }
}

/// A key that verifies tokens.
#[derive(Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    /// HMAC-SHA256 with a shared secret.
    Hs256(Vec<u8>),
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256(RsaPublicKey),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hs256(_) => f.write_str("VerifyingKey::Hs256([redacted])"),
            Self::Rs256(key) => write!(f, "VerifyingKey::Rs256({} DER bytes)", key.0.len()),
        }
    }
}

impl VerifyingKey {
    /// Creates an HS256 key from a shared secret.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::Hs256(secret.to_vec())
    }

    /// Creates an RS256 key from a `PUBLIC KEY` (SubjectPublicKeyInfo) PEM.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] when the PEM holds no RSA public key.
    pub fn rs256_public_pem(pem: &str) -> Result<Self, JwtError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| JwtError::InvalidKey("no pem public key found"))?;
        Self::rs256_public_der(der.as_ref())
    }

    /// Creates an RS256 key from DER: SubjectPublicKeyInfo (what We.Platform's `public-key`
    /// setting holds, base64-decoded) or PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] when the bytes are not an RSA public key.
    pub fn rs256_public_der(der: &[u8]) -> Result<Self, JwtError> {
        RsaSubjectPublicKey::from_der(der)
            .map_err(|_| JwtError::InvalidKey("rsa public key rejected"))?;
        Ok(Self::Rs256(RsaPublicKey(der.to_vec())))
    }

    /// Returns the JWS `alg` this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Hs256(_) => "HS256",
            Self::Rs256(_) => "RS256",
        }
    }

    /// Checks `signature` over `input`; HMACs are compared in constant time.
    fn check(&self, input: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        let verified = match self {
            Self::Hs256(secret) => {
                hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret), input, signature)
            }
            Self::Rs256(key) => {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.0).verify(input, signature)
            }
        };
        verified.map_err(|_| JwtError::BadSignature)
    }
}

/// Returns the dot-separated segments of a token, for redaction and display. Does not validate.
pub fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

/// Decodes a token without verifying anything: three base64url segments, header and claims JSON
/// objects.
///
/// # Errors
/// [`JwtError::Malformed`] saying which segment is wrong and how.
pub fn decode_unverified(token: &str) -> Result<Jwt, JwtError> {
    let parts = segments(token);
    let [header, claims, signature] = parts[..] else {
        return Err(Malformed::SegmentCount(parts.len()).into());
    };
    Ok(Jwt {
        header: decode_object(header, Part::Header)?,
        claims: decode_object(claims, Part::Claims)?,
        signature: URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Malformed::Base64(Part::Signature))?,
        signing_input: format!("{header}.{claims}"),
    })
}

/// Signs `claims` (a JSON object) with header `{"alg": "HS256" | "RS256", "typ": "JWT"}`.
///
/// # Errors
/// [`Malformed::NotObject`] when `claims` is not an object; [`JwtError::Signing`] on a crypto
/// failure.
pub fn sign(claims: &Value, key: &SigningKey) -> Result<String, JwtError> {
    if !claims.is_object() {
        return Err(Malformed::NotObject(Part::Claims).into());
    }
    let header = serde_json::json!({ "alg": key.alg(), "typ": "JWT" });
    let input = format!("{}.{}", encode_json(&header), encode_json(claims));
    let signature = key.sign_bytes(input.as_bytes())?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// Verifies a token strictly and returns it decoded.
///
/// In order: the token must be well formed; the header's `alg` must equal the key's (`none`,
/// a missing `alg` and every other algorithm are refused before any crypto); the signature must
/// verify; then `exp`, when present, must be after `now_unix` (RFC 7519 §4.1.4: at `exp` the
/// token has expired) and `nbf`, when present, at or before it. No leeway: mocks run on the
/// scenario's clock. A missing `exp` is accepted; callers that require one check
/// `jwt.claim("exp")`.
///
/// # Errors
/// The first check that fails: [`JwtError::Malformed`], [`JwtError::WrongAlgorithm`],
/// [`JwtError::BadSignature`], [`JwtError::InvalidTimeClaim`], [`JwtError::Expired`] or
/// [`JwtError::NotYetValid`].
pub fn verify(token: &str, key: &VerifyingKey, now_unix: u64) -> Result<Jwt, JwtError> {
    let jwt = decode_unverified(token)?;
    let expected = key.alg();
    if jwt.alg() != Some(expected) {
        let found = jwt
            .header
            .get("alg")
            .map_or_else(|| "missing".to_owned(), Value::to_string);
        return Err(JwtError::WrongAlgorithm { found, expected });
    }
    key.check(jwt.signing_input.as_bytes(), &jwt.signature)?;
    let now = now_unix as f64;
    if let Some(exp) = numeric_date(&jwt.claims, "exp")?
        && now >= exp
    {
        return Err(JwtError::Expired {
            exp: exp.floor() as i64,
            now: now_unix,
        });
    }
    if let Some(nbf) = numeric_date(&jwt.claims, "nbf")?
        && now < nbf
    {
        return Err(JwtError::NotYetValid {
            nbf: nbf.floor() as i64,
            now: now_unix,
        });
    }
    Ok(jwt)
}

/// A way to turn a valid token into a negative one.
#[derive(Debug, Clone)]
pub enum Forgery {
    /// Sets `exp` to this (past) instant, keeping the original signature.
    ExpiredAt(u64),
    /// Removes `exp`, keeping the original signature.
    MissingExp,
    /// Sets the header's `alg` to `none` and empties the signature segment.
    AlgNone,
    /// Flips the lowest bit of the signature's last byte.
    AlteredSignature,
    /// Merges these claims into the claims set, keeping the original signature.
    AlteredClaims(Map<String, Value>),
    /// Re-signs header and claims with another key, setting the header's `alg` to that key's.
    /// `SigningKey::hs256(public_key_pem)` on an RS256 token is the algorithm-confusion attack.
    WrongKey(SigningKey),
}

/// Returns `token` altered by `forgery`.
///
/// Only [`Forgery::WrongKey`] re-signs. [`Forgery::ExpiredAt`], [`Forgery::MissingExp`] and
/// [`Forgery::AlteredClaims`] keep the original signature, which no longer matches: against a
/// provider that holds the key they test that the signature is checked at all, and a mock must
/// reject them whether it notices the bad signature or the claims (`verify` reports
/// [`JwtError::BadSignature`], since it checks the signature first). To test expiry itself, a
/// mock signs a token whose `exp` has passed with [`sign`]. Unchanged segments keep their exact
/// bytes; changed ones are re-encoded.
///
/// # Errors
/// [`JwtError::Malformed`] when `token` cannot be decoded; [`JwtError::CannotForge`] when it has
/// no signature to alter; [`JwtError::Signing`] when re-signing fails.
pub fn forge(token: &str, forgery: &Forgery) -> Result<String, JwtError> {
    let jwt = decode_unverified(token)?;
    let (raw_header, raw_claims) = jwt
        .signing_input
        .split_once('.')
        .ok_or(Malformed::SegmentCount(1))?;
    let raw_signature = URL_SAFE_NO_PAD.encode(&jwt.signature);
    let with_claims =
        |claims: &Value| format!("{raw_header}.{}.{raw_signature}", encode_json(claims));
    let mut claims = jwt.claims.clone();
    match forgery {
        Forgery::ExpiredAt(exp) => {
            set_claim(&mut claims, "exp", Value::from(*exp));
            Ok(with_claims(&claims))
        }
        Forgery::MissingExp => {
            if let Some(map) = claims.as_object_mut() {
                map.remove("exp");
            }
            Ok(with_claims(&claims))
        }
        Forgery::AlteredClaims(changes) => {
            for (name, value) in changes {
                set_claim(&mut claims, name, value.clone());
            }
            Ok(with_claims(&claims))
        }
        Forgery::AlgNone => {
            let mut header = jwt.header.clone();
            set_claim(&mut header, "alg", Value::from("none"));
            Ok(format!("{}.{raw_claims}.", encode_json(&header)))
        }
        Forgery::AlteredSignature => {
            let mut signature = jwt.signature;
            let last = signature
                .last_mut()
                .ok_or(JwtError::CannotForge("the token has no signature to alter"))?;
            *last ^= 0x01;
            Ok(format!(
                "{raw_header}.{raw_claims}.{}",
                URL_SAFE_NO_PAD.encode(signature)
            ))
        }
        Forgery::WrongKey(key) => {
            let mut header = jwt.header.clone();
            set_claim(&mut header, "alg", Value::from(key.alg()));
            let input = format!("{}.{raw_claims}", encode_json(&header));
            let signature = key.sign_bytes(input.as_bytes())?;
            Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
        }
    }
}

/// Decodes one segment into a JSON object.
fn decode_object(segment: &str, part: Part) -> Result<Value, Malformed> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| Malformed::Base64(part))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| Malformed::Json(part))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Malformed::NotObject(part))
    }
}

/// Returns base64url(JSON) of a value.
fn encode_json(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Sets a member of a JSON object; does nothing to other values (decoded tokens are objects).
fn set_claim(object: &mut Value, name: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert(name.to_owned(), value);
    }
}

/// Reads a NumericDate claim (RFC 7519 §2: seconds, possibly fractional).
fn numeric_date(claims: &Value, name: &'static str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_f64()
            .map(Some)
            .ok_or(JwtError::InvalidTimeClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    const PLEDG_TRANSFER_JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyZWZlcmVuY2UiOiJwdXJjaGFzZV9yZWZlcmVuY2UiLCJjcmVhdGVkIjoiMjAyMC0wOS0xNyAxNTowMDowMi4wNTIxNzciLCJ0cmFuc2Zlcl9vcmRlcl9pdGVtX3VpZCI6InRyaV9mYXNka2ZpYXNmc2QyMzRuZnM3ZjVkIiwiYW1vdW50X2NlbnRzIjoxMDAwMH0.6ZhlvdcPgjwwBfxCrRpzaBGoRxTCoqtWJzFhB8pw4Ys";

    fn rs256() -> SigningKey {
        SigningKey::rs256_pem(TEST_RS256_PRIVATE_PEM).unwrap()
    }

    fn hs256() -> SigningKey {
        SigningKey::hs256(b"mock-hs256-secret")
    }

    fn claims() -> Value {
        json!({ "sub": "client-1", "roles": ["user"], "exp": NOW + 600 })
    }

    #[test]
    fn hs256_round_trip() {
        let key = hs256();
        let token = sign(&claims(), &key).unwrap();
        let jwt = verify(&token, &key.verifying_key(), NOW).unwrap();
        assert_eq!(jwt.claims, claims());
        assert_eq!(jwt.header, json!({ "alg": "HS256", "typ": "JWT" }));
        assert_eq!(jwt.signature.len(), 32);
    }

    #[test]
    fn empty_hs256_secret_works() {
        let key = SigningKey::hs256(b"");
        let token = sign(&claims(), &key).unwrap();
        assert!(verify(&token, &key.verifying_key(), NOW).is_ok());
        assert_eq!(
            verify(&token, &VerifyingKey::hs256(b"x"), NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn rs256_jwk_is_the_same_key_as_its_pem() {
        let jwk = include_str!("keys/test-rs256-private.jwk");
        let key = SigningKey::rs256_jwk(jwk).unwrap();
        let public = VerifyingKey::rs256_public_pem(TEST_RS256_PUBLIC_PEM).unwrap();
        assert_eq!(key.verifying_key(), rs256().verifying_key());
        let token = sign(&json!({ "sub": "alice" }), &key).unwrap();
        assert_eq!(verify(&token, &public, NOW).unwrap().claims["sub"], "alice");
    }

    #[test]
    fn a_private_key_is_read_as_pem_or_jwk_whichever_it_is() {
        let jwk = include_str!("keys/test-rs256-private.jwk");
        let annotated = format!("the node's key\n{TEST_RS256_PRIVATE_PEM}");
        for text in [
            TEST_RS256_PRIVATE_PEM,
            &annotated,
            jwk,
            &format!("\n  {jwk}"),
        ] {
            let key = SigningKey::rs256_private(text).unwrap();
            assert_eq!(key.verifying_key(), rs256().verifying_key());
        }
        let neither = SigningKey::rs256_private("c2VjcmV0LWtleS1ieXRlcw==").unwrap_err();
        assert_eq!(
            neither.to_string(),
            JwtError::InvalidKey(
                "expected an rsa private key as pem (`-----BEGIN PRIVATE KEY-----`) or as a jwk (a json object with `kty: RSA`)"
            )
            .to_string()
        );
        assert!(!neither.to_string().contains("c2VjcmV0"));
        // The detected form's own error, naming what is wrong.
        let public_pem = SigningKey::rs256_private(TEST_RS256_PUBLIC_PEM).unwrap_err();
        assert!(
            public_pem.to_string().contains("no pem private key found"),
            "{public_pem}"
        );
        let symmetric = SigningKey::rs256_private(r#"{"kty":"oct","k":"c2VjcmV0"}"#).unwrap_err();
        assert!(
            symmetric.to_string().contains("`kty` is not `RSA`"),
            "{symmetric}"
        );
    }

    #[test]
    fn rs256_jwk_errors_name_the_member_not_the_key() {
        let jwk: Value = serde_json::from_str(include_str!("keys/test-rs256-private.jwk")).unwrap();
        let d = jwk["d"].as_str().unwrap().to_owned();
        let without = |member: &str| {
            let mut jwk = jwk.clone();
            jwk.as_object_mut().unwrap().remove(member);
            jwk.to_string()
        };
        let public_only = {
            let mut jwk = jwk.clone();
            for member in ["d", "p", "q", "dp", "dq", "qi"] {
                jwk.as_object_mut().unwrap().remove(member);
            }
            jwk.to_string()
        };
        let mut altered = jwk.clone();
        altered["qi"] = jwk["dp"].clone();
        for (text, expected) in [
            (public_only, "`d`: not a private key"),
            (without("qi"), "`qi`"),
            (
                json!({ "kty": "EC", "d": d }).to_string(),
                "`kty` is not `RSA`",
            ),
            (format!("{{\"kty\": \"RSA\", \"d\": {d:?}"), "not json"),
            (altered.to_string(), "rejected"),
        ] {
            let message = SigningKey::rs256_jwk(&text).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
            assert!(!message.contains(&d[..16]), "{message}");
        }
    }

    #[test]
    fn rs256_round_trip() {
        let key = rs256();
        let token = sign(&claims(), &key).unwrap();
        let jwt = verify(&token, &key.verifying_key(), NOW).unwrap();
        assert_eq!(jwt.claims, claims());
        assert_eq!(jwt.alg(), Some("RS256"));
        assert_eq!(jwt.signature.len(), 256);
        let public = VerifyingKey::rs256_public_pem(TEST_RS256_PUBLIC_PEM).unwrap();
        assert_eq!(verify(&token, &public, NOW), Ok(jwt));
    }

    #[test]
    fn test_key_pairs_match_and_differ() {
        let other = SigningKey::rs256_pem(TEST_RS256_OTHER_PRIVATE_PEM).unwrap();
        let other_public = VerifyingKey::rs256_public_pem(TEST_RS256_OTHER_PUBLIC_PEM).unwrap();
        let token = sign(&claims(), &other).unwrap();
        assert!(verify(&token, &other_public, NOW).is_ok());
        let public = VerifyingKey::rs256_public_pem(TEST_RS256_PUBLIC_PEM).unwrap();
        assert_eq!(verify(&token, &public, NOW), Err(JwtError::BadSignature));
    }

    #[test]
    fn exp_and_nbf_follow_the_clock() {
        let key = hs256();
        let verifying = key.verifying_key();
        let token = sign(&json!({ "exp": NOW, "nbf": NOW - 10 }), &key).unwrap();
        assert!(verify(&token, &verifying, NOW - 1).is_ok());
        assert_eq!(
            verify(&token, &verifying, NOW),
            Err(JwtError::Expired {
                exp: NOW as i64,
                now: NOW
            })
        );
        assert_eq!(
            verify(&token, &verifying, NOW - 11),
            Err(JwtError::NotYetValid {
                nbf: (NOW - 10) as i64,
                now: NOW - 11
            })
        );
        assert!(verify(&token, &verifying, NOW - 10).is_ok());
        let fractional = sign(&json!({ "exp": 100.5 }), &key).unwrap();
        assert!(verify(&fractional, &verifying, 100).is_ok());
        assert!(matches!(
            verify(&fractional, &verifying, 101),
            Err(JwtError::Expired { exp: 100, .. })
        ));
        let text = sign(&json!({ "exp": "tomorrow" }), &key).unwrap();
        assert_eq!(
            verify(&text, &verifying, NOW),
            Err(JwtError::InvalidTimeClaim("exp"))
        );
    }

    #[test]
    fn missing_exp_is_accepted_by_verify() {
        let key = rs256();
        let token = sign(&json!({ "roles": ["admin"] }), &key).unwrap();
        let jwt = verify(&token, &key.verifying_key(), NOW).unwrap();
        assert_eq!(jwt.claim("exp"), None);
    }

    #[test]
    fn forgeries_fail_with_the_right_error() {
        for key in [hs256(), rs256()] {
            let verifying = key.verifying_key();
            let token = sign(&claims(), &key).unwrap();
            let other = match key {
                SigningKey::Hs256(_) => SigningKey::hs256(b"another-secret"),
                SigningKey::Rs256(_) => {
                    SigningKey::rs256_pem(TEST_RS256_OTHER_PRIVATE_PEM).unwrap()
                }
            };
            let mut altered = Map::new();
            altered.insert("roles".to_owned(), json!(["admin"]));
            let cases = [
                (Forgery::ExpiredAt(NOW - 1), JwtError::BadSignature),
                (Forgery::MissingExp, JwtError::BadSignature),
                (Forgery::AlteredSignature, JwtError::BadSignature),
                (Forgery::AlteredClaims(altered), JwtError::BadSignature),
                (Forgery::WrongKey(other), JwtError::BadSignature),
                (
                    Forgery::AlgNone,
                    JwtError::WrongAlgorithm {
                        found: "\"none\"".to_owned(),
                        expected: key.alg(),
                    },
                ),
            ];
            for (forgery, expected) in cases {
                let forged = forge(&token, &forgery).unwrap();
                assert_ne!(forged, token, "{forgery:?}");
                assert_eq!(
                    verify(&forged, &verifying, NOW),
                    Err(expected),
                    "{forgery:?} with {}",
                    key.alg()
                );
            }
        }
    }

    #[test]
    fn forgeries_change_what_they_say() {
        let key = hs256();
        let token = sign(&claims(), &key).unwrap();
        let original = decode_unverified(&token).unwrap();

        let expired = decode_unverified(&forge(&token, &Forgery::ExpiredAt(5)).unwrap()).unwrap();
        assert_eq!(expired.claim("exp"), Some(&json!(5)));
        assert_eq!(expired.signature, original.signature);
        assert_eq!(
            segments(&token)[0],
            expired.signing_input().split('.').next().unwrap()
        );

        let no_exp = decode_unverified(&forge(&token, &Forgery::MissingExp).unwrap()).unwrap();
        assert_eq!(no_exp.claim("exp"), None);
        assert_eq!(no_exp.claim("sub"), Some(&json!("client-1")));

        let none = forge(&token, &Forgery::AlgNone).unwrap();
        assert!(none.ends_with('.'));
        let none = decode_unverified(&none).unwrap();
        assert_eq!(none.alg(), Some("none"));
        assert_eq!(none.header.get("typ"), Some(&json!("JWT")));
        assert!(none.signature.is_empty());
        assert_eq!(
            forge(
                &segments(&forge(&token, &Forgery::AlgNone).unwrap()).join("."),
                &Forgery::AlteredSignature
            ),
            Err(JwtError::CannotForge("the token has no signature to alter"))
        );

        let flipped =
            decode_unverified(&forge(&token, &Forgery::AlteredSignature).unwrap()).unwrap();
        assert_eq!(flipped.claims, original.claims);
        assert_ne!(flipped.signature, original.signature);
    }

    #[test]
    fn wrong_key_of_another_algorithm_is_refused_as_such() {
        // Algorithm confusion: HS256 keyed with the RS256 public key.
        let token = sign(&claims(), &rs256()).unwrap();
        let confused = forge(
            &token,
            &Forgery::WrongKey(SigningKey::hs256(TEST_RS256_PUBLIC_PEM.as_bytes())),
        )
        .unwrap();
        assert_eq!(
            verify(&confused, &rs256().verifying_key(), NOW),
            Err(JwtError::WrongAlgorithm {
                found: "\"HS256\"".to_owned(),
                expected: "RS256"
            })
        );
    }

    #[test]
    fn alg_none_and_missing_alg_are_refused() {
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
        for (header, found) in [
            (r#"{"alg":"none"}"#, "\"none\""),
            (r#"{"alg":"NONE"}"#, "\"NONE\""),
            (r#"{"typ":"JWT"}"#, "missing"),
            (r#"{"alg":null}"#, "null"),
            (r#"{"alg":"HS512"}"#, "\"HS512\""),
        ] {
            let token = format!("{}.{claims}.", URL_SAFE_NO_PAD.encode(header));
            assert_eq!(
                verify(&token, &hs256().verifying_key(), NOW),
                Err(JwtError::WrongAlgorithm {
                    found: found.to_owned(),
                    expected: "HS256"
                }),
                "{header}"
            );
        }
    }

    #[test]
    fn pledg_transfer_jwt_vector() {
        let jwt = verify(
            PLEDG_TRANSFER_JWT,
            &VerifyingKey::hs256(b"your-256-bit-secret"),
            NOW,
        )
        .unwrap();
        assert_eq!(jwt.claim("reference"), Some(&json!("purchase_reference")));
        assert_eq!(jwt.claim("amount_cents"), Some(&json!(10000)));
        assert_eq!(
            verify(PLEDG_TRANSFER_JWT, &VerifyingKey::hs256(b"another"), NOW),
            Err(JwtError::BadSignature)
        );
        let unverified = decode_unverified(PLEDG_TRANSFER_JWT).unwrap();
        assert_eq!(unverified, jwt);
        assert_eq!(
            unverified.claim("reference"),
            Some(&json!("purchase_reference"))
        );
    }

    #[test]
    fn malformed_tokens_say_what_is_wrong() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#);
        let array = URL_SAFE_NO_PAD.encode("[1]");
        let text = URL_SAFE_NO_PAD.encode("not json");
        for (token, expected) in [
            ("".to_owned(), Malformed::SegmentCount(1)),
            (header.clone(), Malformed::SegmentCount(1)),
            (format!("{header}.{claims}"), Malformed::SegmentCount(2)),
            (format!("{header}.{claims}.a.b"), Malformed::SegmentCount(4)),
            (format!("!!.{claims}."), Malformed::Base64(Part::Header)),
            (
                format!("{header}.{claims}=."),
                Malformed::Base64(Part::Claims),
            ),
            (
                format!("{header}.{claims}.a"),
                Malformed::Base64(Part::Signature),
            ),
            (format!("{header}.{text}."), Malformed::Json(Part::Claims)),
            (
                format!("{array}.{claims}."),
                Malformed::NotObject(Part::Header),
            ),
            (
                format!("{header}.{array}."),
                Malformed::NotObject(Part::Claims),
            ),
        ] {
            assert_eq!(
                decode_unverified(&token),
                Err(JwtError::Malformed(expected.clone())),
                "{token}"
            );
            assert_eq!(
                verify(&token, &hs256().verifying_key(), NOW),
                Err(JwtError::Malformed(expected)),
            );
        }
        assert_eq!(
            JwtError::from(Malformed::Json(Part::Claims)).to_string(),
            "malformed token: claims is not JSON"
        );
    }

    #[test]
    fn sign_refuses_non_object_claims() {
        assert_eq!(
            sign(&json!([1, 2]), &hs256()),
            Err(Malformed::NotObject(Part::Claims).into())
        );
    }

    #[test]
    fn bad_keys_are_errors() {
        assert!(SigningKey::rs256_pem("not a pem").is_err());
        assert!(SigningKey::rs256_pem(TEST_RS256_PUBLIC_PEM).is_err());
        assert!(VerifyingKey::rs256_public_pem(TEST_RS256_PRIVATE_PEM).is_err());
        assert!(VerifyingKey::rs256_public_der(b"\x30\x00").is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = SigningKey::hs256(b"CANARY-hs-secret");
        assert!(!format!("{key:?}").contains("CANARY"));
        assert!(!format!("{:?}", key.verifying_key()).contains("CANARY"));
        let token = sign(&claims(), &key).unwrap();
        let jwt = decode_unverified(&token).unwrap();
        let signature = segments(&token)[2];
        assert!(!format!("{jwt:?}").contains(signature));
        assert!(format!("{:?}", rs256()).contains("2048 bits"));
    }

    #[test]
    fn segments_split_on_dots() {
        assert_eq!(segments("a.b.c"), vec!["a", "b", "c"]);
        assert_eq!(segments("a.b."), vec!["a", "b", ""]);
        assert_eq!(segments(""), vec![""]);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_strings(token in any::<String>()) {
            let key = hs256().verifying_key();
            let _ = decode_unverified(&token);
            let _ = verify(&token, &key, NOW);
            let _ = forge(&token, &Forgery::AlteredSignature);
        }

        #[test]
        fn never_panics_on_token_shaped_strings(
            header in "[A-Za-z0-9_-]{0,40}",
            claims in "[A-Za-z0-9_-]{0,40}",
            signature in "[A-Za-z0-9_-]{0,40}",
        ) {
            let token = format!("{header}.{claims}.{signature}");
            let _ = verify(&token, &hs256().verifying_key(), NOW);
            let _ = verify(&token, &rs256().verifying_key(), NOW);
        }
    }
}
