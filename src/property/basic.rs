//! The Basic families (RFC 7617): `basic`, variants a server must refuse, and `basic_accepted`,
//! forms of the valid credentials it must accept.
//!
//! Refused: malformed base64, no `:`, an empty user-id, a missing space or a space inside the
//! credentials, another scheme, bytes that are not UTF-8 in the decoded credentials, over-long
//! values, a wrong password (one character changed, truncated, extended) or user-id, and a
//! neighbouring user's password. Accepted: the scheme in any letter case (RFC 9110 §11.1), and
//! the credentials re-encoded from the `from` values.
//!
//! Several spaces between the scheme and the credentials are in neither family: RFC 9110 §11.4
//! allows `1*SP` there, but RFC 7617 does not say a server must accept them. Nor are characters
//! after the base64 padding (`dXNlcjpwYXNz==!`): RFC 7617 does not say how a server treats them,
//! and a decoder that stops at the padding (nginx's) reads the valid pair. A character outside
//! the alphabet, or a space, goes before the last character of the encoded data, where no
//! lenient decoder reads the valid pair.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::{Arms, Case, CaseStrategy, Change};

/// Characters outside the base64 alphabet (space is the `space-inside` kind's).
const NOT_BASE64: &[char] = &['!', '*', '.', '%', '~', '@', '$', '#', ',', ';'];

/// Schemes that are not `Basic`, or almost.
const OTHER_SCHEMES: &[&str] = &["Bearer", "Digest", "Basi", "Basicc", "NTLM", "Negotiate"];

/// Returns the `basic` family: each case must be refused.
pub(super) fn refused(
    username: &str,
    password: &str,
    other_password: Option<&str>,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    crate::auth::basic::check_user_id(username).map_err(|e| format!("`from.username`: {e}"))?;
    let user = username.as_bytes().to_vec();
    let pass = password.as_bytes().to_vec();
    let token = STANDARD.encode(pair(&user, &pass));
    let p_len = password.chars().count();

    // Where a character may go so that no lenient decoder gets the valid pair back: before the
    // last character of the encoded data (the padding excluded). One appended after the data
    // or inside the padding (`dXNlcjpwYXNz==!`) leaves a decoder that stops at the padding, as
    // nginx's does, with the valid pair: RFC 7617 does not say such trailing characters must be
    // refused, so no case puts one there.
    let data_len = token.trim_end_matches('=').len();
    let bad_base64 = {
        let token = token.clone();
        (any::<Index>(), select(NOT_BASE64)).prop_map(move |(at, c)| {
            let at = at.index(data_len);
            let mut t = token.clone();
            t.insert(at, c);
            case(
                format!("bad-base64: `{c}` inserted at {at} of {}", token.len()),
                format!("Basic {t}"),
            )
        })
    };
    let no_colon = {
        let (user, pass) = (user.clone(), pass.clone());
        Just(()).prop_map(move |()| {
            let joined = [user.as_slice(), pass.as_slice()].concat();
            case(
                "no-colon: the `:` between user-id and password removed".into(),
                format!("Basic {}", STANDARD.encode(joined)),
            )
        })
    };
    let empty_user_id = {
        let pass = pass.clone();
        Just(()).prop_map(move |()| {
            case(
                "empty-user-id: nothing before the `:`".into(),
                format!("Basic {}", STANDARD.encode(pair(b"", &pass))),
            )
        })
    };
    let missing_space = {
        let token = token.clone();
        Just(()).prop_map(move |()| {
            case(
                "missing-space: `Basic<credentials>`".into(),
                format!("Basic{token}"),
            )
        })
    };
    let space_inside = {
        let token = token.clone();
        any::<Index>().prop_map(move |at| {
            // Inside the encoded data: after its first character, before its last (never in
            // the padding, which a lenient decoder ignores with all that follows it).
            let at = 1 + at.index(data_len.saturating_sub(1).max(1));
            let mut t = token.clone();
            t.insert(at.min(t.len()), ' ');
            case(
                format!("space-inside: a space at {at} of the credentials"),
                format!("Basic {t}"),
            )
        })
    };
    let wrong_scheme = {
        let token = token.clone();
        select(OTHER_SCHEMES).prop_map(move |scheme| {
            case(
                format!("wrong-scheme: `{scheme}`"),
                format!("{scheme} {token}"),
            )
        })
    };
    let not_utf8 = {
        let (user, pass) = (user.clone(), pass.clone());
        (any::<bool>(), any::<Index>(), 0x80u8..=0xFF).prop_map(move |(in_user, at, byte)| {
            let (mut u, mut p) = (user.clone(), pass.clone());
            let (part, name) = if in_user {
                (&mut u, "user-id")
            } else {
                (&mut p, "password")
            };
            let at = at.index(part.len() + 1);
            part.insert(at, byte);
            case(
                format!("not-utf-8: byte 0x{byte:02X} inserted at {at} of the {name}"),
                format!("Basic {}", STANDARD.encode(pair(&u, &p))),
            )
        })
    };
    let over_long = {
        let (user, pass) = (user.clone(), pass.clone());
        (
            any::<bool>(),
            256usize..=1024,
            select(&['a', 'Z', '0', '~'][..]),
        )
            .prop_map(move |(in_user, extra, c)| {
                let (mut u, mut p) = (user.clone(), pass.clone());
                let (part, name) = if in_user {
                    (&mut u, "user-id")
                } else {
                    (&mut p, "password")
                };
                part.extend(std::iter::repeat_n(c as u8, extra));
                case(
                    format!("over-long: the {name} extended by {extra} × `{c}`"),
                    format!("Basic {}", STANDARD.encode(pair(&u, &p))),
                )
            })
    };
    let changed = {
        let (user, password) = (user.clone(), password.to_owned());
        (
            any::<Index>(),
            select(&['a', 'b', 'Z', '0', '9', '-', '_', 'é'][..]),
        )
            .prop_map(move |(at, c)| {
                let mut chars: Vec<char> = password.chars().collect();
                let at = at.index(chars.len().max(1));
                let label = if chars.is_empty() {
                    chars.push(c);
                    "wrong-password: one character added to the empty password".to_owned()
                } else {
                    // Never the character already there: the case must differ.
                    chars[at] = if chars[at] == c {
                        if c == 'a' { 'b' } else { 'a' }
                    } else {
                        c
                    };
                    format!(
                        "wrong-password: character {} of {} changed",
                        at + 1,
                        chars.len()
                    )
                };
                let p: String = chars.into_iter().collect();
                case(
                    label,
                    format!("Basic {}", STANDARD.encode(pair(&user, p.as_bytes()))),
                )
            })
    };
    let truncated = {
        let (user, password) = (user.clone(), password.to_owned());
        (0..p_len.max(1)).prop_map(move |keep| {
            let p: String = password.chars().take(keep).collect();
            case(
                format!("wrong-password: truncated to {keep} of {p_len} characters"),
                format!("Basic {}", STANDARD.encode(pair(&user, p.as_bytes()))),
            )
        })
    };
    let extended = {
        let (user, password) = (user.clone(), password.to_owned());
        proptest::collection::vec(select(&['x', '1', ' ', ':', '!', 'ß'][..]), 1..=8).prop_map(
            move |tail| {
                let p: String = password.chars().chain(tail.iter().copied()).collect();
                case(
                    format!("wrong-password: extended by {} characters", tail.len()),
                    format!("Basic {}", STANDARD.encode(pair(&user, p.as_bytes()))),
                )
            },
        )
    };
    let wrong_user = {
        let (username, pass) = (username.to_owned(), pass.clone());
        (any::<Index>(), select(&['q', 'Q', '7'][..])).prop_map(move |(at, c)| {
            let mut chars: Vec<char> = username.chars().collect();
            let label = if chars.is_empty() {
                chars.push(c);
                "wrong-user-id: one character added to the empty user-id".to_owned()
            } else {
                let at = at.index(chars.len());
                chars[at] = if chars[at] == c {
                    if c == 'q' { 'w' } else { 'q' }
                } else {
                    c
                };
                format!(
                    "wrong-user-id: character {} of {} changed",
                    at + 1,
                    chars.len()
                )
            };
            let u: String = chars.into_iter().collect();
            case(
                label,
                format!("Basic {}", STANDARD.encode(pair(u.as_bytes(), &pass))),
            )
        })
    };
    // Simplest first: shrinking moves towards earlier arms.
    let mut wrong_values = Arms::new(except);
    wrong_values.kind(1, "empty-user-id", empty_user_id);
    wrong_values.kind(1, "no-colon", no_colon);
    // A neighbouring user's password, when given (and different): otherwise one more wrong
    // password, the empty one, so the union keeps its shape.
    match other_password.filter(|o| *o != password) {
        Some(other) => {
            let header = format!("Basic {}", STANDARD.encode(pair(&user, other.as_bytes())));
            wrong_values.kind(
                2,
                "other-password",
                Just(case(
                    "other-password: a neighbouring user's password".into(),
                    header,
                )),
            );
        }
        None => {
            let header = format!("Basic {}", STANDARD.encode(pair(&user, b"")));
            wrong_values.kind(
                2,
                "wrong-password",
                Just(case("wrong-password: empty".into(), header)),
            );
        }
    }
    wrong_values.kind(3, "wrong-password", truncated);
    wrong_values.kind(3, "wrong-password", extended);
    wrong_values.kind(3, "wrong-password", changed);
    wrong_values.kind(2, "wrong-user-id", wrong_user);
    wrong_values.kind(2, "over-long", over_long);
    let mut malformed = Arms::new(except);
    malformed.kind(1, "missing-space", missing_space);
    malformed.kind(2, "wrong-scheme", wrong_scheme);
    malformed.kind(3, "bad-base64", bad_base64);
    malformed.kind(2, "space-inside", space_inside);
    malformed.kind(2, "not-utf-8", not_utf8);
    let mut arms = Arms::new(except);
    arms.group(17, wrong_values);
    arms.group(10, malformed);
    arms.finish()
}

/// Returns the `basic_accepted` family: each case must be accepted.
pub(super) fn accepted(
    username: &str,
    password: &str,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    let header =
        crate::auth::basic::header_value(username, password).map_err(|e| format!("`from`: {e}"))?;
    let token = header["Basic ".len()..].to_owned();
    let scheme_case = {
        let token = token.clone();
        proptest::collection::vec(any::<bool>(), 5).prop_map(move |upper| {
            let scheme: String = "basic"
                .chars()
                .zip(&upper)
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
                .collect();
            case(
                format!("scheme-case: `{scheme}`"),
                format!("{scheme} {token}"),
            )
        })
    };
    let (username, password) = (username.to_owned(), password.to_owned());
    let re_encoded = Just(()).prop_map(move |()| {
        // Encoded again from the inputs, as a client would on each request.
        let header = crate::auth::basic::header_value(&username, &password).unwrap_or_default();
        case("re-encoded: the valid credentials".into(), header)
    });
    let mut arms = Arms::new(except);
    arms.kind(1, "re-encoded", re_encoded);
    arms.kind(3, "scheme-case", scheme_case);
    arms.finish()
}

fn pair(user: &[u8], pass: &[u8]) -> Vec<u8> {
    [user, b":", pass].concat()
}

fn case(label: String, header: String) -> Case {
    Case::new(label, Change::Authorization(header.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    fn draw(strategy: &CaseStrategy, n: usize) -> Vec<Case> {
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]),
        );
        (0..n)
            .map(|_| strategy.tree(&mut runner).unwrap().current())
            .collect()
    }

    fn header(case: &Case) -> String {
        let Change::Authorization(bytes) = &case.change else {
            panic!(
                "{}: a Basic case sets the `Authorization` header",
                case.label
            );
        };
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// Every refused case is refused by the RFC 7617 decoder compared with the real pair: none
    /// is the valid credential in disguise.
    #[test]
    fn no_refused_case_decodes_to_the_valid_credentials() {
        let strategy = refused("alice", "pa:ss£", Some("other"), &[]).unwrap();
        let cases = draw(&strategy, 2000);
        for case in &cases {
            let decoded = crate::auth::basic::decode(&header(case));
            assert_ne!(
                decoded,
                Some(("alice".to_owned(), "pa:ss£".to_owned())),
                "{}",
                case.label
            );
        }
        let kinds: std::collections::BTreeSet<&str> = cases
            .iter()
            .map(|c| c.label.split(':').next().unwrap())
            .collect();
        for kind in [
            "bad-base64",
            "no-colon",
            "empty-user-id",
            "missing-space",
            "space-inside",
            "wrong-scheme",
            "not-utf-8",
            "over-long",
            "wrong-password",
            "wrong-user-id",
            "other-password",
        ] {
            assert!(
                kinds.contains(kind),
                "no `{kind}` case among 2000: {kinds:?}"
            );
        }
    }

    /// Every accepted case decodes, under the RFC's rules, to the valid credentials.
    #[test]
    fn every_accepted_case_decodes_to_the_valid_credentials() {
        let strategy = accepted("alice", "pa:ss£", &[]).unwrap();
        let cases = draw(&strategy, 500);
        let mut schemes = std::collections::BTreeSet::new();
        for case in &cases {
            let text = header(case);
            schemes.insert(text.split(' ').next().unwrap().to_owned());
            assert_eq!(
                crate::auth::basic::decode(&text),
                Some(("alice".to_owned(), "pa:ss£".to_owned())),
                "{}",
                case.label
            );
        }
        assert!(schemes.len() > 8, "too few scheme spellings: {schemes:?}");
    }

    /// Decodes the credentials as a lenient server might: the scheme compared in any case, the
    /// token read up to its first `=` (all after it ignored, as nginx does) or up to its first
    /// character outside the alphabet, padding optional.
    fn lenient_decodings(header: &str) -> Vec<Option<(String, String)>> {
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        let engine = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        let Some((scheme, rest)) = header.split_once(' ') else {
            return vec![None];
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return vec![None];
        }
        let rest = rest.trim_start_matches(' ');
        let up_to_padding = rest.split('=').next().unwrap_or_default();
        let up_to_other = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
            .next()
            .unwrap_or_default();
        [up_to_padding, up_to_other]
            .iter()
            .map(|token| {
                if token.contains(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/')) {
                    return None;
                }
                let text = String::from_utf8(engine.decode(token).ok()?).ok()?;
                let (user, password) = text.split_once(':')?;
                Some((user.to_owned(), password.to_owned()))
            })
            .collect()
    }

    /// A decoder stopping at the padding or at the first character outside the alphabet reads
    /// no refused case as the valid pair: no case rests on how a server treats what follows
    /// the encoded data, which RFC 7617 leaves open.
    #[test]
    fn no_refused_case_decodes_leniently_to_the_valid_credentials() {
        // Passwords whose tokens end in no, one and two padding characters.
        for password in ["pa:ss£", "pa:ss£x", "pa:ss£xy"] {
            let strategy = refused("alice", password, None, &[]).unwrap();
            let valid = Some(("alice".to_owned(), password.to_owned()));
            let mut bad_base64 = 0;
            for case in draw(&strategy, 2000) {
                let text = header(&case);
                bad_base64 += usize::from(case.label.starts_with("bad-base64"));
                for decoded in lenient_decodings(&text) {
                    assert_ne!(decoded, valid, "{}: {text}", case.label);
                }
            }
            assert!(bad_base64 > 50, "{bad_base64} bad-base64 cases");
        }
        // The lenient decoder does read trailing characters after the padding as the pair.
        let header = crate::auth::basic::header_value("alice", "pa:ss£").unwrap();
        assert!(header.ends_with('='));
        assert_eq!(
            lenient_decodings(&format!("{header}!"))[0],
            Some(("alice".to_owned(), "pa:ss£".to_owned()))
        );
    }

    #[test]
    fn a_user_id_with_a_colon_is_refused() {
        assert!(refused("a:b", "x", None, &[]).is_err());
        assert!(accepted("a:b", "x", &[]).is_err());
    }
}
