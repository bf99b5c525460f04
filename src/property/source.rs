//! The source-address families: `source_inside`, addresses inside the CIDR ranges a server
//! admits (each case must be accepted), and `source_outside`, the addresses just outside them
//! (each must be refused). Every case only moves the request to another local address
//! ([`Change::Source`]); the step's request keeps its own credentials.
//!
//! For each range (IPv4 or IPv6, RFC 4632 / RFC 4291 prefixes):
//!
//! ```text
//! 127.0.2.8/29    inside: first 127.0.2.8, last 127.0.2.15, random 127.0.2.8..=127.0.2.15
//!                 outside: before 127.0.2.7, after 127.0.2.16
//! ```
//!
//! A /32 (/128) has one inside address; /0 has no outside. An address just outside one range
//! that lies inside another is no outside case. The families are two because a step judges every
//! case against one `expect`: admitted sources get the success, the others the refusal.
//!
//! The engine sends each address once however often it is drawn ([`super::run_cases`]): the
//! boundary addresses are few, and sending one again proves nothing. Among the default 256 draws,
//! half pick a boundary address (for `source_outside`, all of them do), so every boundary address
//! of a handful of ranges is drawn with overwhelming probability whatever the seed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use proptest::prelude::*;
use proptest::sample::select;

use super::{Arms, Case, CaseStrategy, Change};

use crate::scenario::model::parse_ranges;

/// An address as a number, with the width of its family.
fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of `like`'s family numbered `n` (`n` fits that family).
fn address(like: IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// The largest address number of `like`'s family.
fn family_max(like: IpAddr) -> u128 {
    match like {
        IpAddr::V4(_) => u128::from(u32::MAX),
        IpAddr::V6(_) => u128::MAX,
    }
}

/// A labelled address: `first: 127.0.2.8 of 127.0.2.8/29`.
type Labelled = (IpAddr, String);

/// Returns each range's first and last address (one for a single-address range), in order.
fn boundaries(ranges: &[IpNet]) -> Vec<Labelled> {
    let mut out: Vec<Labelled> = Vec::new();
    for net in ranges {
        let (first, last) = (net.network(), net.broadcast());
        if first == last {
            out.push((first, format!("only: {first}, the one address of {net}")));
        } else {
            out.push((first, format!("first: {first} of {net}")));
            out.push((last, format!("last: {last} of {net}")));
        }
    }
    out
}

/// Returns the address just before and just after each range that no range contains, once
/// each, in order.
fn just_outside(ranges: &[IpNet]) -> Vec<Labelled> {
    let mut out: Vec<Labelled> = Vec::new();
    for net in ranges {
        let (first, last) = (number(net.network()), number(net.broadcast()));
        let before = first
            .checked_sub(1)
            .map(|n| (address(net.network(), n), "before"));
        let after =
            (last < family_max(net.network())).then(|| (address(net.network(), last + 1), "after"));
        for (ip, side) in before.into_iter().chain(after) {
            if ranges.iter().any(|r| r.contains(&ip)) || out.iter().any(|(o, _)| *o == ip) {
                continue;
            }
            out.push((ip, format!("{side}: {ip}, just {side} {net}")));
        }
    }
    out
}

/// Returns the `source_inside` family: each case sends from an address inside a range.
pub(super) fn inside(ranges_text: &str, except: &[&str]) -> Result<CaseStrategy, String> {
    let ranges = parse_ranges(ranges_text).map_err(|e| format!("`from.ranges`: {e}"))?;
    let bounds = boundaries(&ranges);
    let random = (select(ranges), any::<u128>()).prop_map(|(net, draw)| {
        let first = number(net.network());
        let span = number(net.broadcast()) - first;
        let offset = if span == u128::MAX {
            draw
        } else {
            draw % (span + 1)
        };
        let ip = address(net.network(), first + offset);
        case(ip, format!("inside: {ip} of {net}"))
    });
    // Boundaries first: shrinking moves towards earlier arms, and a failing random address
    // shrinks to a range's first or last one when that fails too.
    let mut arms = Arms::new(except);
    for kind in ["only", "first", "last"] {
        arms.list(1, kind, labelled_cases(&bounds, kind));
    }
    arms.kind(2, "inside", random);
    arms.finish()
}

/// The cases of the addresses whose label starts with `kind`.
fn labelled_cases(addresses: &[Labelled], kind: &str) -> Vec<Case> {
    addresses
        .iter()
        .filter(|(_, label)| label.split(':').next() == Some(kind))
        .map(|(ip, label)| case(*ip, label.clone()))
        .collect()
}

/// Returns the `source_outside` family: each case sends from an address just outside a range.
pub(super) fn outside(ranges_text: &str, except: &[&str]) -> Result<CaseStrategy, String> {
    let ranges = parse_ranges(ranges_text).map_err(|e| format!("`from.ranges`: {e}"))?;
    let addresses = just_outside(&ranges);
    if addresses.is_empty() {
        return Err(format!(
            "`from.ranges`: no address lies just outside {} (a /0 has no outside)",
            ranges
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut arms = Arms::new(except);
    for kind in ["before", "after"] {
        arms.list(1, kind, labelled_cases(&addresses, kind));
    }
    arms.finish()
}

fn case(ip: IpAddr, label: String) -> Case {
    Case::new(label, Change::Source(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::property::sample_cases as draw;

    fn ip(case: &Case) -> IpAddr {
        let Change::Source(ip) = case.change else {
            panic!("{}: a source case only moves the source", case.label);
        };
        ip
    }

    fn ips(text: &str) -> BTreeSet<IpAddr> {
        text.split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect()
    }

    #[test]
    fn ranges_parse_from_commas_and_spaces_and_bad_text_is_named() {
        let ranges = parse_ranges(" 127.0.0.1/32,127.0.2.9/29\n2001:db8::/126 ,").unwrap();
        let shown: Vec<String> = ranges.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "127.0.2.8/29", "2001:db8::/126"]);
        for bad in ["", " , ", "127.0.0.1", "127.0.0.1/33", "10.0.0.0/8 nope"] {
            assert!(parse_ranges(bad).is_err(), "{bad:?}");
        }
        assert!(
            parse_ranges("10.0.0.0/8 nope")
                .unwrap_err()
                .contains("found `nope`")
        );
    }

    #[test]
    fn outside_is_just_before_and_after_each_range_and_never_inside_another() {
        let ranges = parse_ranges("127.0.2.8/29 127.0.2.16/30").unwrap();
        let found: BTreeSet<IpAddr> = just_outside(&ranges)
            .into_iter()
            .map(|(ip, _)| ip)
            .collect();
        // 127.0.2.16 is just after the first range but inside the second; .15 the reverse.
        assert_eq!(found, ips("127.0.2.7 127.0.2.20"));
        let single = parse_ranges("127.0.0.1/32").unwrap();
        let found: BTreeSet<IpAddr> = just_outside(&single)
            .into_iter()
            .map(|(ip, _)| ip)
            .collect();
        assert_eq!(found, ips("127.0.0.0 127.0.0.2"));
        let v6 = parse_ranges("2001:db8::4/126").unwrap();
        let found: BTreeSet<IpAddr> = just_outside(&v6).into_iter().map(|(ip, _)| ip).collect();
        assert_eq!(found, ips("2001:db8::3 2001:db8::8"));
        // The ends of the address space have no neighbour beyond them.
        let ends = parse_ranges("0.0.0.0/32 255.255.255.255/32 ::/128").unwrap();
        let found: BTreeSet<IpAddr> = just_outside(&ends).into_iter().map(|(ip, _)| ip).collect();
        assert_eq!(found, ips("0.0.0.1 255.255.255.254 ::1"));
        assert!(just_outside(&parse_ranges("0.0.0.0/0").unwrap()).is_empty());
        assert!(outside("0.0.0.0/0 ::/0", &[]).is_err());
    }

    /// Every boundary address is drawn among the default 256 cases whatever the seed, every
    /// outside case lies outside every range and every inside case inside one.
    #[test]
    fn the_default_count_draws_every_boundary_and_stays_on_its_side() {
        let text = "127.0.2.8/29, 127.0.2.16/30 127.0.0.1/32 2001:db8::/126";
        let ranges = parse_ranges(text).unwrap();
        let want_outside = ips(
            "127.0.2.7 127.0.2.20 127.0.0.0 127.0.0.2 2001:db7:ffff:ffff:ffff:ffff:ffff:ffff 2001:db8::4",
        );
        let want_bounds =
            ips("127.0.2.8 127.0.2.15 127.0.2.16 127.0.2.19 127.0.0.1 2001:db8:: 2001:db8::3");
        for seed in 1..=8 {
            let out = draw(&outside(text, &[]).unwrap(), 256, seed);
            let drawn: BTreeSet<IpAddr> = out.iter().map(ip).collect();
            assert_eq!(drawn, want_outside, "seed {seed}");
            let inside_cases = draw(&inside(text, &[]).unwrap(), 256, seed);
            let drawn: BTreeSet<IpAddr> = inside_cases.iter().map(ip).collect();
            assert!(drawn.is_superset(&want_bounds), "seed {seed}: {drawn:?}");
            for case in &inside_cases {
                assert!(
                    ranges.iter().any(|r| r.contains(&ip(case))),
                    "{}",
                    case.label
                );
            }
            // Random inside addresses reach past the boundaries.
            assert!(
                inside_cases
                    .iter()
                    .any(|c| c.label.starts_with("inside:") && !want_bounds.contains(&ip(c))),
                "seed {seed}"
            );
        }
    }

    /// The engine sends each address once: 256 draws over a /30 are its four addresses inside,
    /// and the two just outside it.
    #[tokio::test]
    async fn each_address_is_sent_once_however_often_it_is_drawn() {
        use crate::property::{Judged, Seed, run_cases};
        let sent = std::sync::Mutex::new(Vec::new());
        let judge = |case: Case| {
            sent.lock().unwrap().push(ip(&case));
            async { Judged::<()>::Held(()) }
        };
        let within = run_cases(
            &inside("127.0.0.8/30", &[]).unwrap(),
            Seed([4; 32]),
            256,
            4,
            None,
            judge,
        )
        .await;
        assert_eq!((within.sent, within.held), (4, 4));
        let beyond = run_cases(
            &outside("127.0.0.8/30", &[]).unwrap(),
            Seed([4; 32]),
            256,
            4,
            None,
            judge,
        )
        .await;
        assert_eq!((beyond.sent, beyond.held), (2, 2));
        let sent: BTreeSet<IpAddr> = sent.into_inner().unwrap().into_iter().collect();
        assert_eq!(
            sent,
            ips("127.0.0.7 127.0.0.8 127.0.0.9 127.0.0.10 127.0.0.11 127.0.0.12")
        );
    }

    #[test]
    fn a_single_address_has_one_inside_case_and_the_whole_space_random_ones() {
        let cases = draw(&inside("198.51.100.7/32", &[]).unwrap(), 64, 3);
        let drawn: BTreeSet<IpAddr> = cases.iter().map(ip).collect();
        assert_eq!(drawn, ips("198.51.100.7"));
        let cases = draw(&inside("0.0.0.0/0", &[]).unwrap(), 64, 3);
        let drawn: BTreeSet<IpAddr> = cases.iter().map(ip).collect();
        assert!(drawn.contains(&"0.0.0.0".parse::<IpAddr>().unwrap()));
        assert!(drawn.contains(&"255.255.255.255".parse::<IpAddr>().unwrap()));
        assert!(drawn.len() > 10, "{drawn:?}");
        let cases = draw(&inside("::/0", &[]).unwrap(), 16, 3);
        assert!(cases.iter().all(|c| ip(c).is_ipv6()));
    }
}
