//! The `api_key` family: variants of an API key a server must refuse, sent where the step's
//! request carries the key.
//!
//! The family finds the key in the step's request as rendered ([`BaseRequest`]): the first
//! header whose value is exactly `from.key` (`X-API-Key` from `auth: { api_key: … }` or
//! `headers:`), else the first query parameter whose value is. Each case replaces that value and
//! nothing else. A request that carries the key nowhere cannot be varied: the step is an error
//! (the loader already refuses a request with no API key auth, no header and no query).
//!
//! Refused, each derived from the key: another key's secret (`from.other_key`), a revoked key
//! (`from.revoked_key`), the key truncated, one character changed, extended by a prefix or a
//! suffix, one letter or the whole key in the other case, a space or tab inside it, one
//! character replaced by a Unicode lookalike (Cyrillic `а`, Greek `Ο`, a full-width form, …,
//! sent as UTF-8).
//!
//! Surrounding whitespace is in no case: in a header, whitespace before and after the value is
//! not part of it (RFC 9110 §5.5), so ` key\t` *is* the key, and a server trimming a query value
//! contradicts no documentation. Whitespace is tested where it cannot be stripped, inside the
//! key; the characters a case adds are never whitespace, so none ends up at an edge.

use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::{Arms, BaseRequest, Case, CaseStrategy, Change};

/// Characters a changed key takes in place of one of its own.
const REPLACEMENTS: &[char] = &['a', 'Z', '0', '9', '-', '_', 'x', 'é'];

/// Characters an extension adds before or after the key: never whitespace.
const EXTENSIONS: &[char] = &['x', '0', '-', '=', '.', 'A'];

/// Lookalikes of ASCII characters: Cyrillic and Greek letters that render like Latin ones.
const LOOKALIKES: &[(char, char)] = &[
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('i', 'і'),
    ('o', 'о'),
    ('p', 'р'),
    ('x', 'х'),
    ('y', 'у'),
    ('A', 'Α'),
    ('B', 'Β'),
    ('E', 'Ε'),
    ('H', 'Η'),
    ('K', 'Κ'),
    ('M', 'Μ'),
    ('O', 'Ο'),
    ('P', 'Ρ'),
    ('T', 'Τ'),
    ('X', 'Χ'),
];

/// Where the step's request carries the key.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Carrier {
    /// In this header (lowercase).
    Header(String),
    /// In this query parameter.
    Query(String),
}

impl Carrier {
    fn find(key: &str, base: &BaseRequest) -> Option<Self> {
        base.headers
            .iter()
            .find(|(_, value)| value == key.as_bytes())
            .map(|(name, _)| Self::Header(name.clone()))
            .or_else(|| {
                base.query
                    .iter()
                    .find(|(_, value)| value == key)
                    .map(|(name, _)| Self::Query(name.clone()))
            })
    }

    fn case(&self, label: String, value: String) -> Case {
        let change = match self {
            Self::Header(name) => Change::Header {
                name: name.clone(),
                value: Some(value.into_bytes()),
                secret: true,
            },
            Self::Query(name) => Change::Query {
                name: name.clone(),
                value: Some(value),
                secret: true,
            },
        };
        Case::new(label, change)
    }
}

/// Returns the `api_key` family: each case must be refused.
pub(super) fn refused(
    key: &str,
    other_key: Option<&str>,
    revoked_key: Option<&str>,
    base: &BaseRequest,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    if key.is_empty() {
        return Err("`from.key` is empty".into());
    }
    if key.chars().any(|c| c.is_control()) {
        return Err("`from.key` holds a control character".into());
    }
    let carrier = Carrier::find(key, base).ok_or(
        "the step's request carries `from.key` in no header and no query parameter: send it with `auth: { api_key: … }`, `headers:` or `query:`",
    )?;
    let chars: Vec<char> = key.chars().collect();
    let len = chars.len();

    // Another key, when given and different: otherwise the key with its last character
    // changed, so the union keeps its shape.
    let given =
        |arms: &mut Arms<'_>, kind: &'static str, label: &str, value: Option<&str>| match value
            .filter(|v| *v != key && !v.is_empty())
        {
            Some(v) => arms.kind(1, kind, Just(carrier.case(label.to_owned(), v.to_owned()))),
            None => {
                let at = chars.len() - 1;
                let case = carrier.case(
                    format!("changed: character {} of {} changed", at + 1, chars.len()),
                    changed(&chars, at, 'x'),
                );
                arms.kind(1, "changed", Just(case));
            }
        };
    let truncated = {
        let (carrier, chars) = (carrier.clone(), chars.clone());
        (0..len).prop_map(move |keep| {
            carrier.case(
                format!("truncated: {keep} of {len} characters kept"),
                chars[..keep].iter().collect(),
            )
        })
    };
    let changed_one = {
        let (carrier, chars) = (carrier.clone(), chars.clone());
        (any::<Index>(), select(REPLACEMENTS)).prop_map(move |(at, c)| {
            let at = at.index(len);
            carrier.case(
                format!("changed: character {} of {len} changed", at + 1),
                changed(&chars, at, c),
            )
        })
    };
    let extended = {
        let (carrier, key) = (carrier.clone(), key.to_owned());
        (
            any::<bool>(),
            proptest::collection::vec(select(EXTENSIONS), 1..=8),
        )
            .prop_map(move |(before, extra)| {
                let extra: String = extra.into_iter().collect();
                let (value, place) = if before {
                    (format!("{extra}{key}"), "prefix")
                } else {
                    (format!("{key}{extra}"), "suffix")
                };
                carrier.case(
                    format!(
                        "extended: a {place} of {} characters",
                        extra.chars().count()
                    ),
                    value,
                )
            })
    };
    let case_changed = {
        let (carrier, chars, key) = (carrier.clone(), chars.clone(), key.to_owned());
        (0..3u8, any::<Index>()).prop_map(move |(how, at)| {
            let (value, label) = match how {
                0 => (
                    key.to_uppercase(),
                    "case: the whole key in upper case".to_owned(),
                ),
                1 => (
                    key.to_lowercase(),
                    "case: the whole key in lower case".to_owned(),
                ),
                _ => {
                    let letters: Vec<usize> = (0..chars.len())
                        .filter(|i| other_case(chars[*i]).is_some())
                        .collect();
                    match letters.get(at.index(letters.len().max(1))) {
                        Some(&i) => (
                            changed(&chars, i, other_case(chars[i]).unwrap_or(chars[i])),
                            format!(
                                "case: character {} of {} in the other case",
                                i + 1,
                                chars.len()
                            ),
                        ),
                        None => (String::new(), String::new()),
                    }
                }
            };
            if value != key && !value.is_empty() {
                carrier.case(label, value)
            } else {
                // The whole key already in the asked case: its first letter that has another.
                let i = chars
                    .iter()
                    .position(|c| other_case(*c).is_some())
                    .unwrap_or(0);
                carrier.case(
                    format!(
                        "case: character {} of {} in the other case",
                        i + 1,
                        chars.len()
                    ),
                    changed(&chars, i, other_case(chars[i]).unwrap_or(chars[i])),
                )
            }
        })
    };
    let whitespace_inside = {
        let (carrier, chars) = (carrier.clone(), chars.clone());
        (any::<Index>(), select(&[' ', '\t'][..])).prop_map(move |(at, ws)| {
            let what = if ws == ' ' { "a space" } else { "a tab" };
            if chars.len() < 2 {
                // No inside to a one-character key: the whitespace goes between it and an `x`,
                // where no server can strip it.
                let value: String = chars.iter().copied().chain([ws, 'x']).collect();
                return carrier.case(
                    format!("whitespace-inside: {what} then `x` after the key"),
                    value,
                );
            }
            // After the first character, before the last.
            let at = 1 + at.index(chars.len() - 1);
            let mut value = chars.clone();
            value.insert(at, ws);
            carrier.case(
                format!(
                    "whitespace-inside: {what} inserted at {at} of {}",
                    chars.len()
                ),
                value.into_iter().collect(),
            )
        })
    };
    let lookalike = {
        let (carrier, chars) = (carrier.clone(), chars.clone());
        (any::<Index>(), any::<bool>()).prop_map(move |(at, prefer_full_width)| {
            let replaceable: Vec<usize> = (0..chars.len())
                .filter(|i| lookalike_of(chars[*i]).is_some() || full_width(chars[*i]).is_some())
                .collect();
            let Some(&i) = replaceable.get(at.index(replaceable.len().max(1))) else {
                // No ASCII character to disguise: a full-width `a` after the key.
                let value: String = chars.iter().copied().chain(['ａ']).collect();
                return carrier.case("lookalike: a full-width `a` after the key".into(), value);
            };
            let c = chars[i];
            let (replacement, kind) = match (lookalike_of(c), full_width(c)) {
                (Some(l), Some(_)) if !prefer_full_width => (l, "a Cyrillic or Greek lookalike"),
                (_, Some(f)) => (f, "its full-width form"),
                (Some(l), None) => (l, "a Cyrillic or Greek lookalike"),
                (None, None) => unreachable!("filtered above"),
            };
            carrier.case(
                format!(
                    "lookalike: character {} of {} replaced by {kind}",
                    i + 1,
                    chars.len()
                ),
                changed(&chars, i, replacement),
            )
        })
    };
    // Simplest first: shrinking moves towards earlier arms.
    let mut arms = Arms::new(except);
    given(
        &mut arms,
        "other-key",
        "other-key: another key's secret",
        other_key,
    );
    given(
        &mut arms,
        "revoked-key",
        "revoked-key: a revoked key",
        revoked_key,
    );
    arms.kind(3, "truncated", truncated);
    arms.kind(3, "changed", changed_one);
    arms.kind(3, "extended", extended);
    // A key with no letter has no case to change.
    if chars.iter().any(|c| other_case(*c).is_some()) {
        arms.kind(2, "case", case_changed);
    }
    arms.kind(2, "whitespace-inside", whitespace_inside);
    arms.kind(3, "lookalike", lookalike);
    arms.finish()
}

/// Returns `chars` with the character at `at` replaced by `c`, or by another character when it
/// already is `c`: the result always differs.
fn changed(chars: &[char], at: usize, c: char) -> String {
    let mut value = chars.to_vec();
    value[at] = if value[at] == c {
        if c == 'a' { 'b' } else { 'a' }
    } else {
        c
    };
    value.into_iter().collect()
}

/// Returns an ASCII letter in the other case.
fn other_case(c: char) -> Option<char> {
    match c {
        'a'..='z' => Some(c.to_ascii_uppercase()),
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        _ => None,
    }
}

/// Returns a Cyrillic or Greek letter that renders like `c`.
fn lookalike_of(c: char) -> Option<char> {
    LOOKALIKES.iter().find(|(a, _)| *a == c).map(|(_, l)| *l)
}

/// Returns the full-width form (U+FF01–U+FF5E) of a visible ASCII character.
fn full_width(c: char) -> Option<char> {
    ('!'..='~')
        .contains(&c)
        .then(|| char::from_u32(c as u32 + 0xFEE0))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "demo-api-key-0123456789";

    fn header_base(key: &str) -> BaseRequest {
        BaseRequest {
            headers: vec![
                ("accept".into(), b"*/*".to_vec()),
                ("x-api-key".into(), key.as_bytes().to_vec()),
            ],
            ..BaseRequest::default()
        }
    }

    use crate::property::sample_cases as draw;

    /// The value a case puts on the wire, as a server reads it: a header's value without the
    /// whitespace around it (RFC 9110 §5.5).
    fn as_received(case: &Case) -> String {
        match &case.change {
            Change::Header {
                name,
                value: Some(v),
                secret: true,
            } if name == "x-api-key" => String::from_utf8(v.clone())
                .unwrap()
                .trim_matches([' ', '\t'])
                .to_owned(),
            Change::Query {
                name,
                value: Some(v),
                secret: true,
            } if name == "api_key" => v.clone(),
            _ => panic!("{}: not a secret value of the key's carrier", case.label),
        }
    }

    /// No refused case is the valid key in disguise, however a server trims the header; every
    /// kind is drawn; no label holds the key; every value can be sent.
    #[test]
    fn no_refused_case_is_the_key_and_every_kind_is_drawn() {
        for key in [KEY, "k", "0123456789", "Ünïcode-κλειδί-9"] {
            let strategy = refused(
                key,
                Some("other-key-00"),
                Some("revoked-key-00"),
                &header_base(key),
                &[],
            )
            .unwrap();
            let cases = draw(&strategy, 2000, 9);
            let client = reqwest::Client::new();
            for case in &cases {
                assert_ne!(as_received(case), key, "{}", case.label);
                // A one-character key is in any text; a longer one in no label.
                assert!(key.len() < 4 || !case.label.contains(key), "{}", case.label);
                let mut request = client.get("http://127.0.0.1:9/").build().unwrap();
                super::super::apply(&case.change, &mut request).unwrap();
            }
            if key == KEY {
                let kinds: std::collections::BTreeSet<&str> = cases
                    .iter()
                    .map(|c| c.label.split(':').next().unwrap())
                    .collect();
                for kind in [
                    "other-key",
                    "revoked-key",
                    "truncated",
                    "changed",
                    "extended",
                    "case",
                    "whitespace-inside",
                    "lookalike",
                ] {
                    assert!(
                        kinds.contains(kind),
                        "no `{kind}` case among 2000: {kinds:?}"
                    );
                }
                // Whitespace only inside: the first and last characters are never whitespace.
                for case in &cases {
                    let Change::Header { value: Some(v), .. } = &case.change else {
                        unreachable!()
                    };
                    let text = String::from_utf8(v.clone()).unwrap();
                    assert!(
                        text.is_empty()
                            || !text.starts_with([' ', '\t']) && !text.ends_with([' ', '\t']),
                        "{}",
                        case.label
                    );
                }
            }
        }
    }

    #[test]
    fn lookalikes_are_sent_as_utf8_and_differ_only_in_one_character() {
        let strategy = refused(KEY, None, None, &header_base(KEY), &[]).unwrap();
        let lookalikes: Vec<String> = draw(&strategy, 2000, 3)
            .iter()
            .filter(|c| c.label.starts_with("lookalike"))
            .map(as_received)
            .collect();
        assert!(lookalikes.len() > 50);
        let mut scripts = std::collections::BTreeSet::new();
        for value in &lookalikes {
            let differing: Vec<char> = value
                .chars()
                .zip(KEY.chars())
                .filter(|(a, b)| a != b)
                .map(|(a, _)| a)
                .collect();
            assert_eq!(differing.len(), 1, "{value:?}");
            assert!(!differing[0].is_ascii());
            scripts.insert(if ('\u{FF01}'..='\u{FF5E}').contains(&differing[0]) {
                "full-width"
            } else {
                "letter"
            });
        }
        assert_eq!(scripts.len(), 2, "{scripts:?}");
    }

    #[test]
    fn the_key_is_varied_in_the_query_when_no_header_carries_it() {
        let base = BaseRequest {
            headers: vec![("accept".into(), b"*/*".to_vec())],
            query: vec![("page".into(), "1".into()), ("api_key".into(), KEY.into())],
            ..BaseRequest::default()
        };
        let strategy = refused(KEY, None, None, &base, &[]).unwrap();
        for case in draw(&strategy, 300, 1) {
            assert_ne!(as_received(&case), KEY, "{}", case.label);
        }
    }

    #[test]
    fn a_request_not_carrying_the_key_or_an_empty_key_is_an_error() {
        let base = header_base("another-value");
        let Err(e) = refused(KEY, None, None, &base, &[]) else {
            panic!("a request without the key must not be varied");
        };
        assert!(e.contains("no header and no query parameter"), "{e}");
        assert!(!e.contains(KEY));
        assert!(refused("", None, None, &header_base(""), &[]).is_err());
    }

    #[test]
    fn other_and_revoked_keys_are_sent_as_given_and_never_the_key_itself() {
        let strategy = refused(
            KEY,
            Some("the-other-key"),
            Some(KEY),
            &header_base(KEY),
            &[],
        )
        .unwrap();
        let cases = draw(&strategy, 1000, 5);
        assert!(cases.iter().any(|c| as_received(c) == "the-other-key"));
        // A revoked key equal to the key would be the key: that arm changes a character instead.
        assert!(!cases.iter().any(|c| c.label.starts_with("revoked-key")));
    }
}
