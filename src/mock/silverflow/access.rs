//! Who is calling and what they may do: the `Authorization` header (Basic API key or bearer
//! token), the credential's `ipRanges` against the peer address the front observed, and
//! `<resource>:<Action>` permissions with their wildcards.

use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::Value;
use wiremock::Request;

use super::keys::{ApiKey, Revision, Status};
use super::{Deviation, Silverflow};
use crate::auth::{basic, jwt};
use crate::mock::credential_eq;
use crate::mock::kit::{Cidr, cidr, request};

/// One entry of a credential's `ipRanges`, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Range {
    /// An IPv4 CIDR block.
    Block(Cidr),
    /// Text that is no block, kept only under `accepts-malformed-ranges`: it admits no address.
    Malformed(String),
}

impl Range {
    /// Returns the block's network, when the range is a block.
    fn as_block_net(&self) -> Option<ipnet::IpNet> {
        match self {
            Range::Block(block) => Some(block.net()),
            Range::Malformed(_) => None,
        }
    }

    /// Returns the range as it was given.
    pub(super) fn as_str(&self) -> &str {
        match self {
            Range::Block(block) => block.as_str(),
            Range::Malformed(text) => text,
        }
    }
}

/// Tells whether `peer` may use a credential restricted to `ranges`; with `next_too`, each block
/// also admits the address just past its end (a deviation).
pub(super) fn admits(ranges: &[Range], peer: Option<IpAddr>, next_too: bool) -> bool {
    if ranges.is_empty() {
        return true;
    }
    let blocks: Vec<Cidr> = ranges
        .iter()
        .filter_map(|r| match r {
            Range::Block(block) => Some(block.clone()),
            Range::Malformed(_) => None,
        })
        .collect();
    if !blocks.is_empty() && cidr::allows(&blocks, peer) {
        return true;
    }
    let peer_v4 = match peer {
        Some(IpAddr::V4(ip)) => Some(ip),
        Some(IpAddr::V6(ip)) => ip.to_ipv4_mapped(),
        None => None,
    };
    next_too && peer_v4.is_some_and(|ip| blocks.iter().any(|b| b.next_v4_after() == Some(ip)))
}

/// How the deviations bend the range check.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RangeCheck {
    /// Each block also admits the address just past its end.
    pub(super) next_too: bool,
    /// Each block also admits the address just before its start.
    pub(super) previous_too: bool,
    /// Only the first of the ranges counts.
    pub(super) first_only: bool,
}

/// Tells whether `peer` may use a credential restricted to `ranges`, as `check` bends it.
pub(super) fn admits_as(ranges: &[Range], peer: Option<IpAddr>, check: RangeCheck) -> bool {
    let ranges = if check.first_only {
        &ranges[..ranges.len().min(1)]
    } else {
        ranges
    };
    if admits(ranges, peer, check.next_too) {
        return true;
    }
    let peer_v4 = match peer {
        Some(IpAddr::V4(ip)) => Some(ip),
        Some(IpAddr::V6(ip)) => ip.to_ipv4_mapped(),
        None => None,
    };
    check.previous_too
        && peer_v4.is_some_and(|ip| {
            ranges.iter().any(|r| match (r, r.as_block_net()) {
                (Range::Block(_), Some(ipnet::IpNet::V4(net))) => {
                    u32::from(net.network()).checked_sub(1) == Some(u32::from(ip))
                }
                _ => false,
            })
        })
}

/// Who is calling, once authenticated.
pub(super) struct Principal {
    /// The API key used, or the API key a bearer token's `key` starts with.
    pub(super) key: String,
    pub(super) activation: bool,
    pub(super) permissions: Vec<String>,
}

/// Why authentication failed: told apart only inside the mock.
pub(super) enum Refusal {
    BadCredentials,
    /// A known credential tried with a wrong secret (only the `403-for-bad-credentials`
    /// deviation treats it differently).
    WrongSecret,
    OutsideRanges,
}

/// What the `Authorization` header carries: Basic key and secret, a bearer token, or nothing
/// usable (absent, malformed, another scheme).
enum Presented {
    Basic(String, String),
    Bearer(String),
    Nothing,
}

/// Reads the `Authorization` header; anything malformed counts as no credentials.
fn presented(request: &Request) -> Presented {
    let Some(value) = request::authorization(request) else {
        return Presented::Nothing;
    };
    if let Some((key, secret)) = basic::decode(value) {
        return Presented::Basic(key, secret);
    }
    match request::bearer(request) {
        Some(token) => Presented::Bearer(token.to_owned()),
        None => Presented::Nothing,
    }
}

/// Tells whether `held` grants `needed` (`resource:Action`): exactly, by `resource:All`, or by
/// `all:All`.
pub(super) fn grants(
    held: &[String],
    needed: &str,
    resource_wildcard: bool,
    global_wildcard: bool,
) -> bool {
    let resource = needed.split_once(':').map_or(needed, |(r, _)| r);
    held.iter().any(|p| {
        p == needed
            || (resource_wildcard && p.split_once(':') == Some((resource, "All")))
            || (global_wildcard && p == "all:All")
    })
}

impl Silverflow {
    /// Tells whether `principal` holds `needed`, as the deviations bend the wildcards.
    pub(super) fn holds(&self, principal: &Principal, needed: &str) -> bool {
        let global = !self.deviates(Deviation::AllAllOnlyForActivationKey) || principal.activation;
        grants(
            &principal.permissions,
            needed,
            !self.deviates(Deviation::ResourceAllGrantsNothing),
            global,
        )
    }

    /// Authenticates a request from its `Authorization` header and the peer address.
    pub(super) fn authenticate(&self, request: &Request) -> Result<Principal, Refusal> {
        let now = self.clock.now();
        let peer = request::peer(request);
        let range_check = RangeCheck {
            next_too: self.deviates(Deviation::CidrIncludesNextAddress),
            previous_too: self.deviates(Deviation::CidrIncludesPreviousAddress),
            first_only: self.deviates(Deviation::ChecksFirstRangeOnly),
        };
        let ranges_checked = !self.deviates(Deviation::IgnoresIpRanges);
        match presented(request) {
            Presented::Nothing => Err(Refusal::BadCredentials),
            Presented::Basic(key, secret) => {
                let store = self.store();
                let found = store
                    .keys
                    .iter()
                    .find(|k| credential_eq(k.key.as_bytes(), key.as_bytes()));
                // An unknown key is still compared against a secret, so timing does not tell.
                let expected =
                    found.map_or("authconform-no-such-key-secret", |k| k.secret.as_str());
                let secret_ok = credential_eq(secret.as_bytes(), expected.as_bytes());
                let Some(found) = found else {
                    return Err(Refusal::BadCredentials);
                };
                if !secret_ok {
                    return Err(Refusal::WrongSecret);
                }
                let revision = self.in_effect(found, now);
                let usable = match revision.status {
                    Status::Active => true,
                    Status::Disabled => self.deviates(Deviation::AcceptsDisabledKeys),
                    Status::Archived => false,
                };
                if !usable {
                    return Err(Refusal::BadCredentials);
                }
                if ranges_checked && !admits_as(&revision.ranges, peer, range_check) {
                    return Err(Refusal::OutsideRanges);
                }
                Ok(Principal {
                    key: found.key.clone(),
                    activation: found.activation,
                    permissions: revision.permissions.clone(),
                })
            }
            Presented::Bearer(token) => {
                let never_expires = self.deviates(Deviation::BearerNeverExpires);
                let now_unix = if never_expires {
                    0
                } else {
                    now.duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                };
                let unsigned = token.splitn(3, '.').nth(2) == Some("");
                let jwt = if unsigned && self.deviates(Deviation::UnsignedTokensTrusted) {
                    jwt::decode_unverified(&token)
                } else {
                    jwt::verify(&token, &self.verifying, now_unix)
                }
                .map_err(|_| Refusal::BadCredentials)?;
                let claim = |name: &str| {
                    jwt.claims
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let (jti, key) = (claim("jti"), claim("sub"));
                let store = self.store();
                let grant = store.tokens.get(&jti).ok_or(Refusal::BadCredentials)?;
                if !never_expires && now >= grant.expires {
                    return Err(Refusal::BadCredentials);
                }
                if ranges_checked && !admits_as(&grant.ranges, peer, range_check) {
                    return Err(Refusal::OutsideRanges);
                }
                Ok(Principal {
                    key: key
                        .split_once(':')
                        .map_or(key.as_str(), |(k, _)| k)
                        .to_owned(),
                    activation: false,
                    permissions: grant.permissions.clone(),
                })
            }
        }
    }

    /// Returns the revision authentication applies at `now`, as the deviations bend it.
    fn in_effect<'k>(&self, key: &'k ApiKey, now: SystemTime) -> &'k Revision {
        let revision = key.effective(now);
        if self.deviates(Deviation::IgnoresKeyUpdates) && revision.status != Status::Archived {
            let first = &key.revisions[0];
            if revision.version != first.version {
                // Only deletion applies; every patch is forgotten.
                return first;
            }
        }
        if self.deviates(Deviation::DeleteKeepsWorking) && revision.status == Status::Archived {
            return key
                .revisions
                .iter()
                .rev()
                .find(|r| r.status != Status::Archived)
                .unwrap_or(revision);
        }
        revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(text: &str) -> Range {
        Range::Block(Cidr::parse_v4(text).expect("a valid block"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn ranges_admit_their_blocks_and_the_deviation_one_more() {
        let ranges = [block("127.0.0.8/29")];
        assert!(admits(&ranges, Some(ip("127.0.0.15")), false));
        assert!(!admits(&ranges, Some(ip("127.0.0.16")), false));
        assert!(admits(&ranges, Some(ip("127.0.0.16")), true));
        assert!(!admits(&ranges, Some(ip("127.0.0.17")), true));
        assert!(admits(&ranges, Some(ip("::ffff:127.0.0.16")), true));
        assert!(!admits(
            &[block("255.255.255.255/32")],
            Some(ip("0.0.0.0")),
            true
        ));
        let malformed = [Range::Malformed("not a block".into())];
        assert!(!admits(&malformed, Some(ip("127.0.0.1")), true));
    }

    #[test]
    fn the_lenient_checks_admit_the_previous_address_or_read_the_first_range_only() {
        let ranges = [block("127.0.2.8/29"), block("127.0.2.16/30")];
        let exact = RangeCheck::default();
        let previous = RangeCheck {
            previous_too: true,
            ..exact
        };
        let first_only = RangeCheck {
            first_only: true,
            ..exact
        };
        assert!(!admits_as(&ranges, Some(ip("127.0.2.7")), exact));
        assert!(admits_as(&ranges, Some(ip("127.0.2.7")), previous));
        assert!(admits_as(&ranges, Some(ip("::ffff:127.0.2.7")), previous));
        assert!(!admits_as(&ranges, Some(ip("127.0.2.6")), previous));
        assert!(!admits_as(&ranges, Some(ip("127.0.2.20")), previous));
        assert!(admits_as(&ranges, Some(ip("127.0.2.17")), exact));
        assert!(!admits_as(&ranges, Some(ip("127.0.2.17")), first_only));
        assert!(admits_as(&ranges, Some(ip("127.0.2.9")), first_only));
        assert!(admits_as(&[], Some(ip("127.0.2.17")), first_only));
        assert!(!admits_as(
            &[block("0.0.0.0/32")],
            Some(ip("255.255.255.255")),
            previous
        ));
    }

    #[test]
    fn empty_ranges_restrict_nothing_and_ipv6_peers_are_outside() {
        let peer = ip("::1");
        assert!(admits(&[], Some(peer), false));
        assert!(!admits(&[block("0.0.0.0/0")], Some(peer), false));
        assert!(admits(
            &[block("127.0.0.1/32")],
            Some(ip("::ffff:127.0.0.1")),
            false
        ));
        assert!(!admits(&[block("0.0.0.0/0")], None, false));
    }

    #[test]
    fn wildcards_grant_as_documented() {
        let held = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let least = held(&["charges:List", "reports:All"]);
        assert!(grants(&least, "charges:List", true, true));
        assert!(!grants(&least, "charges:Get", true, true));
        assert!(grants(&least, "reports:Get", true, true));
        assert!(grants(&least, "reports:List", true, true));
        assert!(!grants(&least, "reports:List", false, true));
        assert!(!grants(&least, "merchants:Get", true, true));
        let all = held(&["all:All"]);
        assert!(grants(&all, "apiKeys:Create", true, true));
        assert!(!grants(&all, "apiKeys:Create", true, false));
        // `all:All` is global; `all:Get` or `reportsAll` grant nothing else.
        assert!(!grants(&held(&["all:Get"]), "reports:Get", true, true));
        assert!(!grants(&held(&["report:All"]), "reports:Get", true, true));
    }
}
