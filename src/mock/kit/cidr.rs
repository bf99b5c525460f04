//! CIDR blocks (RFC 4632) on the `ipnet` crate, for providers that restrict a credential to
//! source ranges. A block keeps the text it was given, since providers show ranges back as
//! written.
//!
//! Parsing is `ipnet`'s: decimal octets of at most three digits and 255, a prefix of at most two
//! digits and 32 (128 for IPv6). Host bits below the prefix are ignored: `10.0.0.1/24` is the
//! block `10.0.0.0/24`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

/// A CIDR block as given, and the network it denotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    text: String,
    net: IpNet,
}

impl Cidr {
    /// Parses an IPv4 or IPv6 block `address/prefix`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let net: IpNet = text.parse().ok()?;
        Some(Self {
            text: text.to_owned(),
            net: net.trunc(),
        })
    }

    /// Parses an IPv4 block `n.n.n.n/n` only.
    pub fn parse_v4(text: &str) -> Option<Self> {
        let net: Ipv4Net = text.parse().ok()?;
        Some(Self {
            text: text.to_owned(),
            net: IpNet::V4(net.trunc()),
        })
    }

    /// Returns the block as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Returns the network (host bits cleared).
    pub fn net(&self) -> IpNet {
        self.net
    }

    /// Tells whether `ip` lies in the block; an IPv4-mapped IPv6 address counts as its IPv4
    /// address, as a dual-stack socket reports an IPv4 peer.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.net.contains(&canonical(ip))
    }

    /// Returns the IPv4 address just past the block's last one (`None` past `255.255.255.255`,
    /// or for an IPv6 block), for deviations that get the boundary wrong.
    pub fn next_v4_after(&self) -> Option<Ipv4Addr> {
        match self.net {
            IpNet::V4(net) => u32::from(net.broadcast())
                .checked_add(1)
                .map(Ipv4Addr::from),
            IpNet::V6(_) => None,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Tells whether `peer` may use a credential restricted to `ranges`: an empty list restricts
/// nothing; an unknown peer is outside every block.
pub fn allows(ranges: &[Cidr], peer: Option<IpAddr>) -> bool {
    ranges.is_empty() || peer.is_some_and(|ip| ranges.iter().any(|r| r.contains(ip)))
}

/// Returns an IPv4-mapped IPv6 address as IPv4, any other address as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn block(text: &str) -> Cidr {
        Cidr::parse_v4(text).expect("a valid block")
    }

    #[test]
    fn boundaries_follow_rfc_4632() {
        let b = block("127.0.0.8/29");
        for inside in ["127.0.0.8", "127.0.0.12", "127.0.0.15"] {
            assert!(b.contains(ip(inside)), "{inside}");
        }
        for outside in ["127.0.0.7", "127.0.0.16", "127.0.1.8"] {
            assert!(!b.contains(ip(outside)), "{outside}");
        }
        assert_eq!(b.next_v4_after(), Some(Ipv4Addr::new(127, 0, 0, 16)));
        assert!(block("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(block("10.0.0.1/24").contains(ip("10.0.0.200")));
        assert_eq!(block("10.0.0.1/24").as_str(), "10.0.0.1/24");
        assert_eq!(block("255.255.255.255/32").next_v4_after(), None);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        for text in [
            "127.0.0.1",
            "127.0.0.1/33",
            "256.0.0.1/8",
            "127.0.0/8",
            "127.0.0.1.1/8",
            "127.0.0.1/",
            "/8",
            "1234.0.0.1/8",
            "127.0.0.1/008",
            "+1.0.0.1/8",
            "a.b.c.d/8",
            "127.0.0.1/8 ",
            "",
        ] {
            assert_eq!(Cidr::parse_v4(text), None, "{text:?}");
        }
        assert_eq!(Cidr::parse_v4("::1/128"), None);
        assert!(Cidr::parse("::1/128").is_some());
    }

    #[test]
    fn mapped_peers_count_as_ipv4_and_empty_lists_allow_all() {
        let loopback = [block("127.0.0.1/32")];
        assert!(allows(&loopback, Some(ip("::ffff:127.0.0.1"))));
        assert!(!allows(&[block("0.0.0.0/0")], Some(ip("::1"))));
        assert!(!allows(&loopback, None));
        assert!(allows(&[], Some(ip("::1"))));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Arbitrary strings parse only as valid IPv4 blocks, keeping their text.
        #[test]
        fn arbitrary_text_parses_only_as_valid_blocks(text in proptest::prelude::any::<String>()) {
            if let Some(block) = Cidr::parse_v4(&text) {
                let (address, prefix) = text.split_once('/').expect("a slash");
                proptest::prop_assert!(address.parse::<Ipv4Addr>().is_ok());
                proptest::prop_assert!(prefix.len() <= 2 && prefix.parse::<u8>().is_ok_and(|p| p <= 32));
                proptest::prop_assert_eq!(block.as_str(), text.as_str());
            }
        }
    }
}
