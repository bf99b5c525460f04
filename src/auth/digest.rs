//! Generic derivations providers build their credentials from: digest chains, HMACs, output
//! encodings and canonical `key=value` strings. Scenarios combine them in `compute` steps, so the
//! scenario language names algorithms, never providers.
//!
//! ```text
//! digest chain [blake2b-256, keccak-256], base58:  ridethewaves!  →  H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu
//! hmac sha-256, hex:  key "Jefe", "what do ya want for nothing?"  →  5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
//! ```

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use blake2::Blake2b;
use blake2::digest::consts::U32;
use sha2::{Digest as _, Sha256};
use sha3::{Keccak256, Sha3_256};

/// A hash function of a digest chain; every one has a 32-byte output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// BLAKE2b with a 256-bit output (RFC 7693), unkeyed.
    Blake2b256,
    /// The original Keccak-256 with `0x01` padding, as in Ethereum: not SHA3-256.
    Keccak256,
    /// SHA-256 (FIPS 180-4).
    Sha256,
    /// SHA3-256 (FIPS 202, `0x06` padding).
    Sha3_256,
}

impl DigestAlgorithm {
    /// Returns the digest of `input`.
    pub fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Blake2b256 => Blake2b::<U32>::digest(input).to_vec(),
            Self::Keccak256 => Keccak256::digest(input).to_vec(),
            Self::Sha256 => Sha256::digest(input).to_vec(),
            Self::Sha3_256 => Sha3_256::digest(input).to_vec(),
        }
    }
}

/// Applies each algorithm of `chain` in order, each to the previous one's raw output.
pub fn digest_chain(chain: &[DigestAlgorithm], input: &[u8]) -> Vec<u8> {
    chain
        .iter()
        .fold(input.to_vec(), |bytes, algorithm| algorithm.digest(&bytes))
}

/// The hash function of an HMAC (RFC 2104).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// Returns the HMAC of `message` under `key`.
pub fn hmac(algorithm: HmacAlgorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    let algorithm = match algorithm {
        HmacAlgorithm::Sha256 => hmac::HMAC_SHA256,
        HmacAlgorithm::Sha512 => hmac::HMAC_SHA512,
    };
    hmac::sign(&hmac::Key::new(algorithm, key), message)
        .as_ref()
        .to_vec()
}

/// How raw bytes are written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Base58 with the Bitcoin alphabet.
    Base58,
    /// Lowercase hexadecimal.
    Hex,
    /// Uppercase hexadecimal.
    HexUpper,
    /// Standard base64 with padding (RFC 4648 §4).
    Base64,
    /// URL-safe base64 without padding (RFC 4648 §5).
    Base64Url,
}

impl Encoding {
    /// Writes `bytes` in this encoding.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::Base58 => bs58::encode(bytes).into_string(),
            Self::Hex => data_encoding::HEXLOWER.encode(bytes),
            Self::HexUpper => data_encoding::HEXUPPER.encode(bytes),
            Self::Base64 => STANDARD.encode(bytes),
            Self::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// How a key given as text becomes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyEncoding {
    /// The text's UTF-8 bytes.
    #[default]
    Utf8,
    /// Hexadecimal, either case.
    Hex,
    /// Standard base64, padding optional.
    Base64,
}

/// Why a key's text could not be decoded. The message never quotes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the key is not valid {0}")]
pub struct KeyDecodeError(&'static str);

impl KeyEncoding {
    /// Decodes a key's text.
    ///
    /// # Errors
    /// [`KeyDecodeError`] naming the encoding, never the key.
    pub fn decode(self, text: &str) -> Result<Vec<u8>, KeyDecodeError> {
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Hex => data_encoding::HEXLOWER_PERMISSIVE
                .decode(text.trim().as_bytes())
                .map_err(|_| KeyDecodeError("hexadecimal")),
            Self::Base64 => STANDARD
                .decode(text.trim())
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim()))
                .map_err(|_| KeyDecodeError("base64")),
        }
    }
}

/// Writes `pairs` sorted by key (byte order), each as `key`, `key_value_separator`, `value`,
/// joined by `separator`.
///
/// ```text
/// {b: 2, a: 1}, separator "&", key_value_separator "="  →  a=1&b=2
/// ```
pub fn canonical_string<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    key_value_separator: &str,
    separator: &str,
) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
        .into_iter()
        .map(|(key, value)| format!("{key}{key_value_separator}{value}"))
        .collect::<Vec<_>>()
        .join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        Encoding::Hex.encode(bytes)
    }

    #[test]
    fn digests_of_abc() {
        for (algorithm, expected) in [
            (
                DigestAlgorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                DigestAlgorithm::Sha3_256,
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
            (
                DigestAlgorithm::Keccak256,
                "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
            ),
            (
                DigestAlgorithm::Blake2b256,
                "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
            ),
        ] {
            assert_eq!(hex(&algorithm.digest(b"abc")), expected, "{algorithm:?}");
        }
    }

    #[test]
    fn chain_applies_in_order() {
        let forward = digest_chain(
            &[DigestAlgorithm::Blake2b256, DigestAlgorithm::Keccak256],
            b"ridethewaves!",
        );
        assert_eq!(
            Encoding::Base58.encode(&forward),
            "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
        );
        let backward = digest_chain(
            &[DigestAlgorithm::Keccak256, DigestAlgorithm::Blake2b256],
            b"ridethewaves!",
        );
        assert_ne!(forward, backward);
    }

    #[test]
    fn encodings() {
        let bytes = [0x00, 0x01, 0xfb, 0xff];
        assert_eq!(Encoding::Hex.encode(&bytes), "0001fbff");
        assert_eq!(Encoding::HexUpper.encode(&bytes), "0001FBFF");
        assert_eq!(Encoding::Base64.encode(&bytes), "AAH7/w==");
        assert_eq!(Encoding::Base64Url.encode(&bytes), "AAH7_w");
        // Leading zero bytes are leading `1`s in Base58.
        assert_eq!(Encoding::Base58.encode(&bytes), "1ffC");
    }

    #[test]
    fn key_encodings() {
        assert_eq!(KeyEncoding::Hex.decode("0bFF"), Ok(vec![0x0b, 0xff]));
        assert!(KeyEncoding::Hex.decode("0b0").is_err());
        assert!(KeyEncoding::Hex.decode("zz").is_err());
        assert_eq!(
            KeyEncoding::Base64.decode("AAH7/w=="),
            Ok(vec![0, 1, 0xfb, 0xff])
        );
        assert_eq!(
            KeyEncoding::Base64.decode("AAH7/w"),
            Ok(vec![0, 1, 0xfb, 0xff])
        );
        assert_eq!(KeyEncoding::Utf8.decode("é"), Ok("é".as_bytes().to_vec()));
        let message = KeyEncoding::Base64
            .decode("s3cr3t!!")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("s3cr3t"), "{message}");
    }

    #[test]
    fn rfc_4231_hmac_sha256() {
        // Test cases 1, 2 and 6.
        assert_eq!(
            hex(&hmac(HmacAlgorithm::Sha256, &[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac(
                HmacAlgorithm::Sha256,
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac(
                HmacAlgorithm::Sha256,
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn rfc_4231_hmac_sha512() {
        assert_eq!(
            hex(&hmac(
                HmacAlgorithm::Sha512,
                b"Jefe",
                b"what do ya want for nothing?"
            )),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }

    #[test]
    fn canonical_string_sorts_by_key() {
        assert_eq!(
            canonical_string([("b", "2"), ("a", "1"), ("B", "3")], "=", "&"),
            "B=3&a=1&b=2"
        );
        assert_eq!(canonical_string([], "=", "&"), "");
    }
}
