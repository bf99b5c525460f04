//! API keys: the digests providers store instead of the keys themselves.
//!
//! [`we_platform_key_hash`] is We.Platform's `secureHash`: the node's config holds
//! `api-key-hash`, clients send the plain key in `X-API-Key`, and the node compares
//! `secureHash(header value)` with the configured hash. A mock does the same, so it never keeps
//! the key itself. Scenarios reach the same value through the generic
//! `digest: { chain: [blake2b-256, keccak-256], encoding: base58 }`; this separate implementation
//! is the mock's, so each checks the other.
//!
//! ```text
//! ridethewaves!  →  H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu
//! ```

use blake2::Blake2b;
use blake2::digest::consts::U32;
use sha3::{Digest as _, Keccak256};

/// Returns We.Platform's api-key hash of `key`: Base58 (Bitcoin alphabet) of
/// Keccak-256(Blake2b-256(UTF-8 bytes of `key`)).
///
/// Keccak-256 is the original Keccak with `0x01` padding, as in Ethereum, not SHA3-256.
pub fn we_platform_key_hash(key: &str) -> String {
    let blake = Blake2b::<U32>::digest(key.as_bytes());
    let keccak = Keccak256::digest(blake);
    bs58::encode(keccak).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_vectors() {
        for (key, hash) in [
            (
                "ridethewaves!",
                "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu",
            ),
            (
                "some string for api-key",
                "8gmoWdqSusXRndaMtQaZKJ8LT2WbiVTPRWGhv2Z6LbU9",
            ),
            ("1", "FX9aLVV4zJLjHAAuCXnTqdswEgEBSobnp2Tw7mHsDDcs"),
            ("vostok", "5M7C14rf3TAaWscd8fHvU6Kqo97iJFpvFwyQ3Q6vfztS"),
            ("", "DRtdYbxMg7YHw4acvDP6xQrvmsRAz3K7gSkH3xBJ5CTL"),
        ] {
            assert_eq!(we_platform_key_hash(key), hash, "{key:?}");
        }
    }

    #[test]
    fn keccak_is_not_sha3() {
        // keccak256("") = c5d24601…a470; SHA3-256("") starts a7ffc6f8.
        let empty = Keccak256::digest(b"");
        assert_eq!(&empty[..4], &[0xc5, 0xd2, 0x46, 0x01]);
        assert_eq!(&empty[30..], &[0xa4, 0x70]);
    }
}
