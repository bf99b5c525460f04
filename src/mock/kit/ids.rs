//! Random identifiers and opaque tokens, in the formats providers document or show, all drawn
//! from the thread's cryptographically secure generator (a mock's tokens must not be guessable
//! either: a scenario proves that a made-up token is refused).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng as _, RngCore as _};

/// The shape of a random identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFormat {
    /// That many random bytes in unpadded base64url (an opaque token: 32 bytes, 43 characters).
    Base64Url(usize),
    /// That many random bytes in lowercase hexadecimal.
    Hex(usize),
    /// That many characters drawn uniformly from `A-Z`, `a-z` and `0-9`.
    Alphanumeric(usize),
    /// A version 4 UUID, `xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx`.
    UuidV4,
}

/// The opaque token most mocks hand out: 256 random bits.
pub const TOKEN: IdFormat = IdFormat::Base64Url(32);

/// Returns a fresh random identifier of `format`.
pub fn random_id(format: IdFormat) -> String {
    let mut rng = rand::rng();
    match format {
        IdFormat::Base64Url(len) => URL_SAFE_NO_PAD.encode(random_bytes(len)),
        IdFormat::Hex(len) => hex(&random_bytes(len)),
        IdFormat::Alphanumeric(len) => (&mut rng)
            .sample_iter(rand::distr::Alphanumeric)
            .take(len)
            .map(char::from)
            .collect(),
        IdFormat::UuidV4 => {
            let mut b = [0u8; 16];
            rng.fill_bytes(&mut b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let hex = hex(&b);
            format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            )
        }
    }
}

/// Returns `len` random bytes, for keys a mock draws when it starts.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_their_documented_shape() {
        let token = random_id(TOKEN);
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let hex = random_id(IdFormat::Hex(12));
        assert_eq!(hex.len(), 24);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let alnum = random_id(IdFormat::Alphanumeric(20));
        assert_eq!(alnum.len(), 20);
        assert!(alnum.bytes().all(|b| b.is_ascii_alphanumeric()));
        let uuid = random_id(IdFormat::UuidV4);
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&uuid[14..15], "4");
        assert!(matches!(&uuid[19..20], "8" | "9" | "a" | "b"), "{uuid}");
    }

    #[test]
    fn ids_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(random_id(IdFormat::Alphanumeric(12))));
        }
    }
}
