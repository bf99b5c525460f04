//! The `pkce` family (RFC 7636): authorization-code exchanges a server must refuse.
//!
//! A verifier is checked against the challenge sent with the authorization request, and a code
//! is single-use, so each case is a small flow: the case's own authorization request (a
//! [`Change::Authorize`] with the challenge and method) gets a fresh code, and the token request
//! sends the case's `code_verifier` (a [`Change::FormField`]) with it. Every case's challenge is
//! well formed, so only the verifier (or the method) is wrong:
//!
//! - `no-verifier`: the S256 challenge of a valid verifier, no `code_verifier` (§4.4.1, §4.6);
//! - `wrong-verifier`: a valid verifier with one character changed, or another valid verifier;
//! - `earlier-verifier`: the verifier of the scenario's earlier authorization (`from.verifier`),
//!   valid in form but another code's;
//! - `challenge-as-verifier`: the S256 challenge itself sent as the verifier (a `plain`
//!   downgrade at the token endpoint);
//! - `short-verifier` / `long-verifier`: 42 (or fewer) and 129 (or more) unreserved characters,
//!   the authorization request carrying the S256 challenge *of that verifier*, so only the
//!   length check can refuse it (§4.1: 43 to 128);
//! - `bad-character`: a verifier of valid length with one character outside the unreserved set
//!   (`[A-Za-z0-9-._~]`), its own S256 challenge sent;
//! - with `from.required_method: S256` only, `plain-method` and `omitted-method` (plain by
//!   default): the verifier sent as a `plain` challenge, which a server requiring S256 refuses at
//!   the authorization request with `invalid_request` (§4.4.1), or else at the token endpoint.
//!
//! Labels say what was done, never a verifier, challenge or code.

use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::{Arms, AuthorizeChange, Case, CaseStrategy, Change, FormFieldChange};
use crate::auth::pkce::{self, PkceMethod};

/// RFC 7636 §4.1's unreserved characters, the only ones a verifier may hold.
const UNRESERVED: &[char] = &[
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S',
    'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l',
    'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3', '4',
    '5', '6', '7', '8', '9', '-', '.', '_', '~',
];

/// Characters outside the unreserved set: base64's own, URL delimiters, a space, and letters
/// that are not ASCII.
const NOT_UNRESERVED: &[char] = &[
    '+', '/', '=', ' ', '%', '!', '*', '\'', '(', ')', ';', ':', '@', '&', '$', ',', '#', '[', ']',
    'é', 'ß', '\u{7f}',
];

/// Returns the `pkce` family: each case must be refused. `earlier_verifier` is a verifier the
/// scenario sent before (another code's); `required_method` is `S256` when the server supports
/// no other method, which adds the `plain` downgrades.
pub(super) fn refused(
    earlier_verifier: &str,
    required_method: Option<&str>,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    if !pkce::is_valid_verifier(earlier_verifier) {
        return Err(
            "`from.verifier` is not a valid verifier (43 to 128 unreserved characters)".into(),
        );
    }
    let s256_required = match required_method {
        None => false,
        Some("S256") => true,
        Some(other) => {
            return Err(format!(
                "`from.required_method`: expected `S256` (the only method the server supports), found `{other}`"
            ));
        }
    };
    let no_verifier = valid_verifier()
        .prop_map(|v| flow("no-verifier: `code_verifier` left out".into(), &v, None));
    let changed = (valid_verifier(), any::<Index>(), select(UNRESERVED)).prop_map(|(v, at, c)| {
        let mut chars: Vec<char> = v.chars().collect();
        let at = at.index(chars.len());
        // Never the character already there: the case must differ.
        chars[at] = if chars[at] == c {
            if c == 'a' { 'b' } else { 'a' }
        } else {
            c
        };
        let sent: String = chars.iter().collect();
        flow(
            format!(
                "wrong-verifier: character {} of {} changed",
                at + 1,
                chars.len()
            ),
            &v,
            Some(sent),
        )
    });
    let other = (valid_verifier(), valid_verifier()).prop_map(|(v, mut sent)| {
        if sent == v {
            sent.push('x');
            if sent.len() > 128 {
                sent.drain(..2);
            }
        }
        flow(
            format!(
                "wrong-verifier: another valid verifier of {} characters",
                sent.len()
            ),
            &v,
            Some(sent),
        )
    });
    let earlier = {
        let earlier = earlier_verifier.to_owned();
        valid_verifier().prop_map(move |v| {
            let mut sent = earlier.clone();
            if sent == v {
                sent.pop();
                sent.push(if v.ends_with('a') { 'b' } else { 'a' });
            }
            flow(
                "earlier-verifier: the verifier of the scenario's earlier authorization".into(),
                &v,
                Some(sent),
            )
        })
    };
    let challenge_as_verifier = valid_verifier().prop_map(|v| {
        let challenge = pkce::challenge(&v, PkceMethod::S256);
        flow(
            "challenge-as-verifier: the S256 challenge sent as `code_verifier`".into(),
            &v,
            Some(challenge),
        )
    });
    let short = prop_oneof![
        3 => verifier_of(42..=42),
        1 => verifier_of(1..=41),
    ]
    .prop_map(|v| {
        let label = format!("short-verifier: {} characters", v.len());
        flow(label, &v, Some(v.clone()))
    });
    let long = prop_oneof![
        3 => verifier_of(129..=129),
        1 => verifier_of(130..=256),
    ]
    .prop_map(|v| {
        let label = format!("long-verifier: {} characters", v.len());
        flow(label, &v, Some(v.clone()))
    });
    let bad_character =
        (valid_verifier(), any::<Index>(), select(NOT_UNRESERVED)).prop_map(|(v, at, c)| {
            let mut chars: Vec<char> = v.chars().collect();
            let at = at.index(chars.len());
            chars[at] = c;
            let sent: String = chars.iter().collect();
            flow(
                format!(
                    "bad-character: {} at {} of {}",
                    describe_char(c),
                    at + 1,
                    chars.len()
                ),
                &sent,
                Some(sent.clone()),
            )
        });
    // Simplest first: shrinking moves towards earlier arms.
    let mut wrong = Arms::new(except);
    wrong.kind(2, "no-verifier", no_verifier);
    wrong.kind(2, "wrong-verifier", changed);
    wrong.kind(1, "wrong-verifier", other);
    wrong.kind(1, "earlier-verifier", earlier);
    wrong.kind(2, "challenge-as-verifier", challenge_as_verifier);
    let mut malformed = Arms::new(except);
    malformed.kind(3, "short-verifier", short);
    malformed.kind(3, "long-verifier", long);
    malformed.kind(3, "bad-character", bad_character);
    let mut arms = Arms::new(except);
    arms.group(8, wrong);
    arms.group(9, malformed);
    if s256_required {
        let plain = valid_verifier().prop_map(|v| {
            downgrade(
                "plain-method: `code_challenge_method=plain`, the verifier as challenge".into(),
                v,
                Some("plain"),
            )
        });
        let omitted = valid_verifier().prop_map(|v| {
            downgrade(
                "omitted-method: no `code_challenge_method` (plain by default), the verifier as challenge"
                    .into(),
                v,
                None,
            )
        });
        let mut downgrades = Arms::new(except);
        downgrades.kind(2, "plain-method", plain);
        downgrades.kind(1, "omitted-method", omitted);
        arms.group(3, downgrades);
    }
    arms.finish()
}

/// Valid verifiers: 43 to 128 unreserved characters.
fn valid_verifier() -> impl Strategy<Value = String, Tree: Send> + Clone + Send + Sync {
    verifier_of(43..=128)
}

/// Verifiers of unreserved characters with a length in `len`.
fn verifier_of(
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = String, Tree: Send> + Clone + Send + Sync {
    proptest::collection::vec(select(UNRESERVED), len).prop_map(|chars| chars.into_iter().collect())
}

/// A case authorizing with the S256 challenge of `authorized`, then sending `sent` as the
/// verifier (or none).
fn flow(label: String, authorized: &str, sent: Option<String>) -> Case {
    Case::new(
        label,
        Change::All(vec![
            Change::Authorize(AuthorizeChange {
                challenge: pkce::challenge(authorized, PkceMethod::S256),
                method: Some("S256".into()),
                refused_at_authorization: false,
            }),
            verifier_field(sent),
        ]),
    )
}

/// A case authorizing with `verifier` as a `plain` challenge (`method` `plain`, or none), then
/// sending it as the verifier: a server requiring S256 refuses the authorization request.
fn downgrade(label: String, verifier: String, method: Option<&str>) -> Case {
    Case::new(
        label,
        Change::All(vec![
            Change::Authorize(AuthorizeChange {
                challenge: verifier.clone(),
                method: method.map(str::to_owned),
                refused_at_authorization: true,
            }),
            verifier_field(Some(verifier)),
        ]),
    )
}

fn verifier_field(value: Option<String>) -> Change {
    Change::FormField(FormFieldChange {
        name: "code_verifier".into(),
        value,
        secret: true,
    })
}

/// Names a character for a label: printable ones quoted, others by code point.
fn describe_char(c: char) -> String {
    if c.is_ascii_graphic() || (!c.is_ascii() && !c.is_control()) {
        format!("`{c}`")
    } else {
        format!("U+{:04X}", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EARLIER: &str = "earlier-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

    use crate::property::sample_cases as draw;

    /// What a case sends: its authorization request's challenge and method, its verifier.
    fn parts(case: &Case) -> (&AuthorizeChange, Option<&str>) {
        let authorize = case.change.authorize().expect("a PKCE case authorizes");
        let Change::All(changes) = &case.change else {
            panic!("{}: a PKCE case is a flow", case.label);
        };
        let verifier = changes.iter().find_map(|c| match c {
            Change::FormField(f) if f.name == "code_verifier" => Some(f.value.as_deref()),
            _ => None,
        });
        (
            authorize,
            verifier.expect("a PKCE case sets or removes the verifier"),
        )
    }

    fn kind(case: &Case) -> &str {
        case.label.split(':').next().unwrap()
    }

    /// No refused case is a valid exchange in disguise: never a well-formed verifier whose S256
    /// challenge is the one sent with S256, and `plain` only where S256 is required.
    #[test]
    fn no_refused_case_is_a_valid_verifier_and_challenge_pair() {
        for (required, seed) in [(None, 1), (Some("S256"), 2)] {
            let cases = draw(&refused(EARLIER, required, &[]).unwrap(), 3000, seed);
            for case in &cases {
                let (authorize, verifier) = parts(case);
                if authorize.method.as_deref() != Some("S256") {
                    assert!(
                        required.is_some(),
                        "{}: plain without S256 required",
                        case.label
                    );
                    assert!(authorize.refused_at_authorization, "{}", case.label);
                    continue;
                }
                assert!(!authorize.refused_at_authorization, "{}", case.label);
                assert!(
                    pkce::is_valid_verifier(&authorize.challenge),
                    "{}: the challenge itself is well formed",
                    case.label
                );
                if let Some(verifier) = verifier {
                    assert!(
                        !(pkce::is_valid_verifier(verifier)
                            && pkce::challenge(verifier, PkceMethod::S256) == authorize.challenge),
                        "{}: a valid pair",
                        case.label
                    );
                    // A label may hold a verifier cut to a few characters by chance, never one
                    // long enough to be told apart.
                    assert!(
                        verifier.len() < 8 || !case.label.contains(verifier),
                        "{}",
                        case.label
                    );
                }
                assert!(!case.label.contains(&authorize.challenge), "{}", case.label);
            }
        }
    }

    /// Every kind is drawn, and the malformed verifiers really have the length or character
    /// their label names, with the authorization request carrying their own S256 challenge.
    #[test]
    fn every_kind_is_drawn_and_malformed_verifiers_are_what_they_say() {
        let cases = draw(&refused(EARLIER, Some("S256"), &[]).unwrap(), 1000, 3);
        let kinds: std::collections::BTreeSet<&str> = cases.iter().map(kind).collect();
        for expected in crate::scenario::model::PropertyFamily::Pkce
            .kinds()
            .iter()
            .copied()
        {
            assert!(
                kinds.contains(expected),
                "no `{expected}` among 1000: {kinds:?}"
            );
        }
        let mut lengths = std::collections::BTreeSet::new();
        for case in &cases {
            let (authorize, verifier) = parts(case);
            match kind(case) {
                "short-verifier" | "long-verifier" | "bad-character" => {
                    let verifier = verifier.unwrap();
                    assert_eq!(
                        pkce::challenge(verifier, PkceMethod::S256),
                        authorize.challenge,
                        "{}: the challenge of the verifier sent",
                        case.label
                    );
                    let count = verifier.chars().count();
                    if kind(case) == "bad-character" {
                        assert!((43..=128).contains(&count), "{}", case.label);
                        assert!(
                            verifier.chars().any(|c| !UNRESERVED.contains(&c)),
                            "{}",
                            case.label
                        );
                    } else {
                        assert!(
                            case.label.ends_with(&format!(" {count} characters")),
                            "{}",
                            case.label
                        );
                        assert!(!(43..=128).contains(&count), "{}", case.label);
                        lengths.insert(count);
                    }
                }
                "plain-method" | "omitted-method" => {
                    assert_eq!(Some(authorize.challenge.as_str()), verifier);
                }
                "no-verifier" => assert_eq!(verifier, None),
                _ => assert!(pkce::is_valid_verifier(verifier.unwrap()), "{}", case.label),
            }
        }
        assert!(
            lengths.contains(&42) && lengths.contains(&129),
            "{lengths:?}"
        );
    }

    #[test]
    fn plain_kinds_only_where_s256_is_required() {
        let cases = draw(&refused(EARLIER, None, &[]).unwrap(), 1000, 4);
        assert!(
            cases
                .iter()
                .all(|c| !matches!(kind(c), "plain-method" | "omitted-method"))
        );
    }

    #[test]
    fn bad_inputs_are_refused_without_showing_them() {
        let e = refused("short", None, &[]).err().unwrap();
        assert!(e.contains("from.verifier") && !e.contains("short"), "{e}");
        let e = refused(EARLIER, Some("plain"), &[]).err().unwrap();
        assert!(e.contains("required_method"), "{e}");
    }
}
