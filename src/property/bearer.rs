//! The `bearer` family: variants of one valid bearer token (RFC 6750) or JWT (RFC 7519, RFC
//! 7515) that a server must refuse, sent where the step's request carries the token.
//!
//! The family finds the token in the request as rendered ([`Carrier`]): the credentials of an
//! `Authorization` header (`auth: { bearer }`, `auth: { oauth2 }`, or a header written with a
//! scheme), or a header, query parameter or form field whose value is `from.token`. So the same
//! family covers a token in the `Authorization` header and a signed JWT in a query parameter,
//! with no knowledge of who issued it.
//!
//! Every token gets the generic kinds: emptied, truncated, extended, one character changed, one
//! letter's case flipped, and another client's or user's token when `from.other_token` is given.
//! A token that decodes as a JWT also gets: each segment (header, claims, signature) with a
//! character changed, truncated or extended; the signature stripped (`h.p.` and `h.p`); `alg:
//! none` with and without the signature; HS256 signed with the server's public key
//! (`from.public_key`, the PEM text as the server holds it); `exp` in the past or removed, `nbf`
//! in the future; and each claim the token has changed (a string, number, boolean, array or
//! object altered by its type). Changed claims keep the original signature: only the issuer's
//! key could sign them, and a server that ignores the signature is what they catch.
//!
//! None of these is the valid token in disguise, even to a lenient base64url decoder: a changed
//! character is never a segment's last one (whose low bits a decoder may ignore), and an
//! extension appends at least two characters (one more whole byte). A hexadecimal token gets no
//! case flip, since its case may carry no meaning.
//!
//! Cases are one strategy over a kind and its parameters, not a union of boxed arms: the kinds a
//! token gets depend on the token, and proptest's value trees stay `Send`. Shrinking moves
//! towards earlier kinds (simplest first) and smaller parameters. Labels name the kind, the
//! segment or claim name and positions, never a token's or claim's value.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value};

use super::{BaseRequest, Case, CaseStrategy, Change, FormField};
use crate::auth::jwt::{self, Forgery, SigningKey};

/// What extensions and changed characters are drawn from: the base64url alphabet, which is also
/// valid in any RFC 6750 `b64token`.
const ALPHABET: &[char] = &[
    'A', 'B', 'Q', 'Z', 'a', 'b', 'q', 'z', '0', '1', '7', '9', '-', '_',
];

/// Spellings of `none` libraries have been fooled by; the RFC 7518 one drawn half the time.
const NONE_SPELLINGS: &[&str] = &["none", "none", "none", "None", "NONE", "nOnE"];

/// How long before the token was issued a generated `exp` lies, in seconds: a few values, so
/// cases repeat their claims and each claims text is registered as a secret once.
const PAST_OFFSETS: &[u64] = &[1, 60, 3_600, 86_400, 30 * 86_400];

/// How long after the token's lifetime a generated `nbf` lies, in seconds.
const FUTURE_OFFSETS: &[u64] = &[3_600, 86_400, 30 * 86_400, 365 * 86_400];

/// Where the step's request carries the token.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Carrier {
    /// In the `Authorization` header after this prefix (`Bearer `).
    Authorization(String),
    /// In header `name`, after `prefix` (empty when the value is the token).
    Header { name: String, prefix: String },
    /// As query parameter `name`.
    Query(String),
    /// As form field `index` of these fields.
    Form {
        fields: Vec<(String, String)>,
        index: usize,
    },
}

impl Carrier {
    /// Finds `token` in `base`; with no `token`, takes the `Authorization: Bearer` credentials.
    fn find(token: Option<&str>, base: &BaseRequest) -> Result<(Self, String), String> {
        let split = |value: &[u8]| -> Option<(String, String)> {
            let text = std::str::from_utf8(value).ok()?;
            let (scheme, credentials) = text.split_once(' ')?;
            (!scheme.is_empty()).then(|| (format!("{scheme} "), credentials.to_owned()))
        };
        let Some(token) = token else {
            return base
                .authorization
                .as_deref()
                .and_then(split)
                .filter(|(prefix, t)| prefix.trim().eq_ignore_ascii_case("bearer") && !t.is_empty())
                .map(|(prefix, t)| (Self::Authorization(prefix), t))
                .ok_or_else(|| {
                    "`from.token` is missing and the request carries no `Authorization: Bearer` token"
                        .to_owned()
                });
        };
        if token.is_empty() {
            return Err("`from.token` is empty".into());
        }
        if let Some((prefix, _)) = base
            .authorization
            .as_deref()
            .and_then(split)
            .filter(|(_, t)| t == token)
        {
            return Ok((Self::Authorization(prefix), token.to_owned()));
        }
        for (name, value) in &base.headers {
            if name == "authorization" {
                continue;
            }
            if value == token.as_bytes() {
                let header = Self::Header {
                    name: name.clone(),
                    prefix: String::new(),
                };
                return Ok((header, token.to_owned()));
            }
            if let Some((prefix, _)) = split(value).filter(|(_, t)| t == token) {
                let name = name.clone();
                return Ok((Self::Header { name, prefix }, token.to_owned()));
            }
        }
        if let Some((name, _)) = base.query.iter().find(|(_, v)| v == token) {
            return Ok((Self::Query(name.clone()), token.to_owned()));
        }
        if let Some(fields) = &base.form
            && let Some(index) = fields.iter().position(|(_, v)| v == token)
        {
            let fields = fields.clone();
            return Ok((Self::Form { fields, index }, token.to_owned()));
        }
        Err("the request does not carry `from.token` (as the `Authorization` credentials, a header, a query parameter or a form field)".into())
    }

    /// Returns the change that sends `token` where the original was.
    fn carry(&self, token: String) -> Change {
        match self {
            Self::Authorization(prefix) => Change::Authorization(format!("{prefix}{token}").into()),
            Self::Header { name, prefix } => Change::Header {
                name: name.clone(),
                value: Some(format!("{prefix}{token}").into_bytes()),
                secret: true,
            },
            Self::Query(name) => Change::Query {
                name: name.clone(),
                value: Some(token),
                secret: true,
            },
            Self::Form { fields, index } => Change::Form(
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, (name, value))| FormField {
                        name: name.clone(),
                        value: if i == *index {
                            token.clone()
                        } else {
                            value.clone()
                        },
                        secret: i == *index,
                    })
                    .collect(),
            ),
        }
    }
}

/// A kind of generated token, simplest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Empty,
    OtherToken,
    Truncated,
    Extended,
    CharChanged,
    CaseFlipped,
    SignatureStripped,
    SegmentTruncated,
    SegmentExtended,
    SegmentChanged,
    AlgNone,
    AlgConfusion,
    ExpRemoved,
    ExpPast,
    NbfFuture,
    ClaimChanged,
}

impl Kind {
    /// The kind's name, the first word of its cases' labels.
    fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::OtherToken => "other-token",
            Self::Truncated => "truncated",
            Self::Extended => "extended",
            Self::CharChanged => "char-changed",
            Self::CaseFlipped => "case-flipped",
            Self::SignatureStripped => "signature-stripped",
            Self::SegmentTruncated => "segment-truncated",
            Self::SegmentExtended => "segment-extended",
            Self::SegmentChanged => "segment-changed",
            Self::AlgNone => "alg-none",
            Self::AlgConfusion => "alg-confusion",
            Self::ExpRemoved => "exp-removed",
            Self::ExpPast => "exp-past",
            Self::NbfFuture => "nbf-future",
            Self::ClaimChanged => "claim-changed",
        }
    }
}

/// The parameters a case draws besides its kind; each kind reads the ones it needs.
#[derive(Clone, Debug)]
struct Draw {
    kind: Kind,
    at: Index,
    which: Index,
    tail: Vec<char>,
}

/// A decoded JWT's parts, as the family varies them.
struct JwtParts {
    header: String,
    claims: String,
    signature: String,
    decoded: jwt::Jwt,
}

/// What every case of one step is derived from.
struct Source {
    token: String,
    jwt: Option<JwtParts>,
    public_key: Option<String>,
    other_token: Option<String>,
    /// The claim names, sorted, for claim-changed cases.
    claim_names: Vec<String>,
    /// The instant generated times are reckoned from: the token's `iat`, else now.
    issued: u64,
    /// The end of the token's life: the largest of `exp`, `iat` and now.
    lifetime_end: u64,
}

/// Returns the `bearer` family: each case must be refused.
pub(super) fn refused(
    token: Option<&str>,
    public_key: Option<&str>,
    other_token: Option<&str>,
    base: &BaseRequest,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    let (carrier, token) = Carrier::find(token, base)?;
    let source = Source::new(token, public_key, other_token);
    // Left-out kinds are never among those drawn from.
    let kinds: Vec<Kind> = source
        .kinds()
        .into_iter()
        .filter(|kind| !except.contains(&kind.name()))
        .collect();
    if kinds.is_empty() {
        return Err(format!(
            "every kind this token allows is left out (`{}`): no case to send",
            except.join("`, `")
        ));
    }
    let strategy = (
        select(kinds),
        any::<Index>(),
        any::<Index>(),
        proptest::collection::vec(select(ALPHABET), 2..=8),
    )
        .prop_map(move |(kind, at, which, tail)| {
            let (label, token) = source.make(&Draw {
                kind,
                at,
                which,
                tail,
            });
            Case {
                kind: kind.name(),
                label,
                change: carrier.carry(token),
            }
        });
    Ok(CaseStrategy::new(strategy))
}

impl Source {
    fn new(token: String, public_key: Option<&str>, other_token: Option<&str>) -> Self {
        let jwt = jwt::decode_unverified(&token).ok().map(|decoded| {
            let mut parts = token.splitn(3, '.').map(str::to_owned);
            JwtParts {
                header: parts.next().unwrap_or_default(),
                claims: parts.next().unwrap_or_default(),
                signature: parts.next().unwrap_or_default(),
                decoded,
            }
        });
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let time = |name: &str| {
            jwt.as_ref()
                .and_then(|j| j.decoded.claim(name))
                .and_then(Value::as_f64)
                .filter(|t| *t >= 0.0)
                .map(|t| t as u64)
        };
        let issued = time("iat").unwrap_or(now);
        let lifetime_end = [time("exp"), time("iat"), Some(now)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(now);
        let mut claim_names: Vec<String> = jwt
            .as_ref()
            .and_then(|j| j.decoded.claims.as_object())
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        claim_names.sort();
        Self {
            other_token: other_token
                .filter(|o| !o.is_empty() && *o != token)
                .map(str::to_owned),
            public_key: public_key
                .filter(|k| !k.trim().is_empty())
                .map(str::to_owned),
            token,
            jwt,
            claim_names,
            issued,
            lifetime_end,
        }
    }

    /// Returns the kinds this token gets, each repeated by its weight, simplest first.
    fn kinds(&self) -> Vec<Kind> {
        let mut kinds = vec![
            Kind::Empty,
            Kind::Truncated,
            Kind::Extended,
            Kind::CharChanged,
        ];
        if self.other_token.is_some() {
            kinds.push(Kind::OtherToken);
        }
        let hex = self.token.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex && self.token.bytes().any(|b| b.is_ascii_alphabetic()) {
            kinds.push(Kind::CaseFlipped);
        }
        if let Some(jwt) = &self.jwt {
            let mut weighted = vec![
                (Kind::SignatureStripped, 1),
                (Kind::SegmentTruncated, 2),
                (Kind::SegmentExtended, 2),
                (Kind::SegmentChanged, 3),
                (Kind::AlgNone, 3),
                (Kind::ExpPast, 1),
                (Kind::NbfFuture, 1),
            ];
            if self.public_key.is_some() {
                weighted.push((Kind::AlgConfusion, 2));
            }
            if jwt.decoded.claim("exp").is_some() {
                weighted.push((Kind::ExpRemoved, 1));
            }
            if !self.claim_names.is_empty() {
                weighted.push((Kind::ClaimChanged, 4));
            }
            for (kind, weight) in weighted {
                kinds.extend(std::iter::repeat_n(kind, weight));
            }
        }
        kinds.sort();
        kinds
    }

    /// Returns a case's label and token.
    fn make(&self, draw: &Draw) -> (String, String) {
        let name = draw.kind.name();
        let (what, token) = self.derive(draw);
        (format!("{name}: {what}"), token)
    }

    fn derive(&self, draw: &Draw) -> (String, String) {
        let token = &self.token;
        let len = token.chars().count();
        match draw.kind {
            Kind::Empty => ("no token".into(), String::new()),
            Kind::OtherToken => (
                "another client's or user's token".into(),
                self.other_token.clone().unwrap_or_default(),
            ),
            Kind::Truncated => {
                let keep = draw.at.index(len.max(1));
                (
                    format!("to {keep} of {len} characters"),
                    token.chars().take(keep).collect(),
                )
            }
            Kind::Extended => (
                format!("{} characters appended", draw.tail.len()),
                format!("{token}{}", draw.tail.iter().collect::<String>()),
            ),
            Kind::CharChanged => {
                let (at, changed) = change_char(token, draw.at, &draw.tail);
                (format!("character {} of {len} changed", at + 1), changed)
            }
            Kind::CaseFlipped => {
                let letters: Vec<usize> = token
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_alphabetic())
                    .map(|(i, _)| i)
                    .collect();
                let at = letters[draw.at.index(letters.len())];
                let mut flipped = token.clone();
                let c = token.as_bytes()[at];
                let other = if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                };
                flipped.replace_range(at..=at, &char::from(other).to_string());
                (format!("the case of character {} flipped", at + 1), flipped)
            }
            _ => self.derive_jwt(draw),
        }
    }

    fn derive_jwt(&self, draw: &Draw) -> (String, String) {
        let Some(jwt) = &self.jwt else {
            // Only drawn for JWTs (see `kinds`).
            return ("not a JWT".into(), String::new());
        };
        let (h, c, s) = (&jwt.header, &jwt.claims, &jwt.signature);
        let segment = |which: Index| -> (usize, &'static str) {
            let i = which.index(3);
            (i, ["header", "claims", "signature"][i])
        };
        let assemble = |i: usize, new: String| {
            let mut parts = [h.clone(), c.clone(), s.clone()];
            parts[i] = new;
            parts.join(".")
        };
        match draw.kind {
            Kind::SignatureStripped => {
                if draw.which.index(2) == 0 {
                    ("`header.claims.`".into(), format!("{h}.{c}."))
                } else {
                    ("`header.claims`, no second dot".into(), format!("{h}.{c}"))
                }
            }
            Kind::SegmentTruncated => {
                let (i, name) = segment(draw.which);
                let part = [h, c, s][i];
                let keep = draw.at.index(part.len().max(1));
                (
                    format!("the {name} cut to {keep} of {} characters", part.len()),
                    assemble(i, part[..keep.min(part.len())].to_owned()),
                )
            }
            Kind::SegmentExtended => {
                let (i, name) = segment(draw.which);
                let part = [h, c, s][i];
                let tail: String = draw.tail.iter().collect();
                (
                    format!("the {name} extended by {} characters", draw.tail.len()),
                    assemble(i, format!("{part}{tail}")),
                )
            }
            Kind::SegmentChanged => {
                let (i, name) = segment(draw.which);
                let part = [h, c, s][i];
                let (at, changed) = change_char(part, draw.at, &draw.tail);
                (
                    format!("character {} of the {name} changed", at + 1),
                    assemble(i, changed),
                )
            }
            Kind::AlgNone => {
                let spelling = NONE_SPELLINGS[draw.at.index(NONE_SPELLINGS.len())];
                let mut header = jwt.decoded.header.clone();
                if let Some(map) = header.as_object_mut() {
                    map.insert("alg".into(), Value::from(spelling));
                }
                let header = URL_SAFE_NO_PAD.encode(header.to_string());
                if draw.which.index(2) == 0 {
                    (
                        format!("`alg: {spelling}`, no signature"),
                        format!("{header}.{c}."),
                    )
                } else {
                    (
                        format!("`alg: {spelling}`, the original signature kept"),
                        format!("{header}.{c}.{s}"),
                    )
                }
            }
            Kind::AlgConfusion => {
                let pem = self.public_key.as_deref().unwrap_or_default();
                let (what, key) = match draw.which.index(3) {
                    0 => ("the PEM as given", pem.to_owned()),
                    1 => (
                        "the PEM without its final newline",
                        pem.trim_end().to_owned(),
                    ),
                    _ => (
                        "the PEM with one final newline",
                        format!("{}\n", pem.trim_end()),
                    ),
                };
                let forged = jwt::forge(
                    &self.token,
                    &Forgery::WrongKey(SigningKey::hs256(key.as_bytes())),
                )
                .unwrap_or_default();
                (format!("HS256 signed with the public key ({what})"), forged)
            }
            Kind::ExpRemoved => ("`exp` removed".into(), self.forge(&Forgery::MissingExp)),
            Kind::ExpPast => {
                let back = PAST_OFFSETS[draw.at.index(PAST_OFFSETS.len())];
                let exp = self.issued.saturating_sub(back);
                (
                    format!("`exp` {back} s before the token was issued"),
                    self.forge(&Forgery::ExpiredAt(exp)),
                )
            }
            Kind::NbfFuture => {
                let ahead = FUTURE_OFFSETS[draw.at.index(FUTURE_OFFSETS.len())];
                let mut changes = Map::new();
                changes.insert("nbf".into(), Value::from(self.lifetime_end + ahead));
                (
                    format!("`nbf` {ahead} s after the token's lifetime"),
                    self.forge(&Forgery::AlteredClaims(changes)),
                )
            }
            Kind::ClaimChanged => {
                let name = &self.claim_names[draw.which.index(self.claim_names.len())];
                let original = jwt.decoded.claim(name).cloned().unwrap_or(Value::Null);
                let (how, value) = change_value(&original, draw.at);
                let mut changes = Map::new();
                changes.insert(name.clone(), value);
                (
                    format!("`{name}` {how}, the signature kept"),
                    self.forge(&Forgery::AlteredClaims(changes)),
                )
            }
            Kind::Empty
            | Kind::OtherToken
            | Kind::Truncated
            | Kind::Extended
            | Kind::CharChanged
            | Kind::CaseFlipped => self.derive(draw),
        }
    }

    /// Applies a forgery that keeps the signature; the token decoded, so it cannot fail.
    fn forge(&self, forgery: &Forgery) -> String {
        jwt::forge(&self.token, forgery).unwrap_or_default()
    }
}

/// Changes one character of `text` to one of `choices` (another when it is the same), never a
/// `.` and never the last character (whose low bits a lenient base64url decoder may drop).
/// Returns the position changed (0-based) and the new text; an empty text gets one character.
fn change_char(text: &str, at: Index, choices: &[char]) -> (usize, String) {
    let chars: Vec<char> = text.chars().collect();
    let positions: Vec<usize> = (0..chars.len().saturating_sub(1))
        .filter(|i| chars[*i] != '.')
        .collect();
    let replacement = choices.first().copied().unwrap_or('A');
    if positions.is_empty() {
        return (0, format!("{replacement}{text}"));
    }
    let i = positions[at.index(positions.len())];
    let mut changed = chars;
    changed[i] = if changed[i] == replacement {
        if replacement == 'A' { 'B' } else { 'A' }
    } else {
        replacement
    };
    (i, changed.into_iter().collect())
}

/// Returns how a claim's value was changed (by its JSON type, never quoting it) and the new
/// value, which always differs from `original`. The changes are a few fixed ones per type, so
/// cases repeat their claims and each claims text is registered as a secret once.
fn change_value(original: &Value, at: Index) -> (String, Value) {
    match original {
        Value::String(s) => match at.index(3) {
            0 => ("(a string) extended".into(), Value::from(format!("{s}x"))),
            1 if !s.is_empty() => ("(a string) emptied".into(), Value::from("")),
            _ => {
                let mut chars: Vec<char> = s.chars().collect();
                match chars.first_mut() {
                    Some(first) => *first = if *first == 'A' { 'B' } else { 'A' },
                    None => chars.push('A'),
                }
                (
                    "(a string) its first character changed".into(),
                    Value::from(chars.into_iter().collect::<String>()),
                )
            }
        },
        Value::Number(n) => {
            let (how, step) = if at.index(2) == 0 {
                ("raised", 1)
            } else {
                ("lowered", -1)
            };
            let value = n
                .as_i64()
                .map(|n| Value::from(n.saturating_add(step)))
                .or_else(|| n.as_f64().map(|f| Value::from(f + step as f64)))
                .unwrap_or(Value::from(step));
            (format!("(a number) {how} by 1"), value)
        }
        Value::Bool(b) => ("(a boolean) negated".into(), Value::from(!b)),
        Value::Null => ("(null) set to a string".into(), Value::from("x")),
        Value::Array(items) => match at.index(3) {
            0 if !items.is_empty() => {
                let mut fewer = items.clone();
                let removed = at.index(items.len());
                fewer.remove(removed);
                (
                    format!(
                        "(an array) element {} of {} removed",
                        removed + 1,
                        items.len()
                    ),
                    Value::Array(fewer),
                )
            }
            1 if !items.is_empty() => ("(an array) emptied".into(), Value::Array(Vec::new())),
            _ => {
                // A privilege a server would grant from the claim alone.
                let added = ["admin", "administrator", "root"]
                    .into_iter()
                    .map(Value::from)
                    .find(|v| !items.contains(v))
                    .unwrap_or(Value::Null);
                let mut more = items.clone();
                more.push(added);
                ("(an array) an element added".into(), Value::Array(more))
            }
        },
        Value::Object(members) => {
            let mut changed = members.clone();
            let key = members.keys().nth(at.index(members.len().max(1))).cloned();
            match key {
                Some(key) if at.index(2) == 0 => {
                    let (how, value) = change_value(&members[&key], at);
                    changed.insert(key.clone(), value);
                    (
                        format!("(an object) member `{key}` {how}"),
                        Value::Object(changed),
                    )
                }
                _ => {
                    let name = (0..)
                        .map(|i| format!("x{i}"))
                        .find(|n| !members.contains_key(n))
                        .unwrap_or_default();
                    changed.insert(name, Value::from(true));
                    ("(an object) a member added".into(), Value::Object(changed))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn token() -> String {
        let key = SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM).unwrap();
        let claims = json!({
            "sub": "alice", "aud": "node-1", "roles": ["user"], "addresses": ["3N1abc"],
            "scope": "read", "iat": NOW, "exp": NOW + 1800, "verified": true,
            "limits": { "daily": 100 }
        });
        jwt::sign(&claims, &key).unwrap()
    }

    fn bearer_request(token: &str) -> BaseRequest {
        let value = format!("Bearer {token}").into_bytes();
        BaseRequest {
            authorization: Some(value.clone()),
            headers: vec![("authorization".into(), value)],
            ..BaseRequest::default()
        }
    }

    fn draw(strategy: &CaseStrategy, n: usize) -> Vec<Case> {
        let mut runner = TestRunner::new_with_rng(
            Config::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
        );
        (0..n)
            .map(|_| strategy.tree(&mut runner).unwrap().current())
            .collect()
    }

    fn sent_token(case: &Case) -> String {
        match &case.change {
            Change::Authorization(bytes) => String::from_utf8(bytes.clone())
                .unwrap()
                .strip_prefix("Bearer ")
                .expect("the scheme kept")
                .to_owned(),
            Change::Query { value, .. } => value.clone().unwrap(),
            _ => panic!("{}: unexpected change", case.label),
        }
    }

    fn kind(case: &Case) -> &str {
        case.label.split(':').next().unwrap()
    }

    /// No case of a JWT verifies under the issuer's key, nor is it the token itself; every kind
    /// is drawn among 2000 cases, and labels never hold the token or a claim's value.
    #[test]
    fn no_case_is_the_valid_token_and_every_kind_is_drawn() {
        let token = token();
        let public = jwt::TEST_RS256_PUBLIC_PEM;
        let strategy = refused(
            None,
            Some(public),
            Some("another-users-token"),
            &bearer_request(&token),
            &[],
        )
        .unwrap();
        let key = jwt::VerifyingKey::rs256_public_pem(public).unwrap();
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let original: Vec<Vec<u8>> = token
            .split('.')
            .map(|p| lenient.decode(p).unwrap())
            .collect();
        let cases = draw(&strategy, 2000);
        for case in &cases {
            let sent = sent_token(case);
            assert_ne!(sent, token, "{}", case.label);
            assert!(jwt::verify(&sent, &key, NOW).is_err(), "{}", case.label);
            // Not the same bytes to a decoder that ignores trailing bits either.
            let decoded: Option<Vec<Vec<u8>>> =
                sent.split('.').map(|p| lenient.decode(p).ok()).collect();
            assert_ne!(decoded.as_ref(), Some(&original), "{}", case.label);
            for secret in [&token[token.len() - 20..], "alice", "3N1abc", "node-1"] {
                assert!(!case.label.contains(secret), "{}", case.label);
            }
        }
        let kinds: std::collections::BTreeSet<&str> = cases.iter().map(kind).collect();
        for expected in crate::scenario::model::PropertyFamily::Bearer
            .kinds()
            .iter()
            .copied()
        {
            assert!(
                kinds.contains(expected),
                "no `{expected}` among 2000: {kinds:?}"
            );
        }
        // Each claim the token has is changed by some case.
        for claim in [
            "sub",
            "aud",
            "roles",
            "addresses",
            "scope",
            "iat",
            "verified",
            "limits",
        ] {
            assert!(
                cases
                    .iter()
                    .any(|c| c.label.starts_with(&format!("claim-changed: `{claim}`"))),
                "no case changes `{claim}`"
            );
        }
    }

    /// `alg: none` cases say `none` and keep the claims; alg-confusion cases verify as HS256
    /// under the public key's PEM text, with the claims unchanged.
    #[test]
    fn alg_none_and_confusion_cases_decode_to_what_they_claim() {
        let token = token();
        let original = jwt::decode_unverified(&token).unwrap();
        let public = jwt::TEST_RS256_PUBLIC_PEM;
        let strategy = refused(None, Some(public), None, &bearer_request(&token), &[]).unwrap();
        let (mut none, mut confused) = (0, 0);
        for case in draw(&strategy, 1500) {
            let sent = sent_token(&case);
            match kind(&case) {
                "alg-none" => {
                    none += 1;
                    let parts: Vec<&str> = sent.split('.').collect();
                    let header: Value =
                        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
                    assert!(header["alg"].as_str().unwrap().eq_ignore_ascii_case("none"));
                    assert_eq!(parts[1], token.split('.').nth(1).unwrap());
                    assert_eq!(parts[2].is_empty(), case.label.contains("no signature"));
                }
                "alg-confusion" => {
                    confused += 1;
                    let pem = if case.label.contains("without its final newline") {
                        public.trim_end().to_owned()
                    } else if case.label.contains("with one final newline") {
                        format!("{}\n", public.trim_end())
                    } else {
                        public.to_owned()
                    };
                    let hmac = jwt::VerifyingKey::hs256(pem.as_bytes());
                    let decoded = jwt::verify(&sent, &hmac, NOW).expect(&case.label);
                    assert_eq!(decoded.alg(), Some("HS256"));
                    assert_eq!(decoded.claims, original.claims);
                }
                _ => {}
            }
        }
        assert!(
            none > 20 && confused > 20,
            "{none} alg-none, {confused} confusion"
        );
    }

    /// An opaque token gets the generic kinds only, each of them a different token.
    #[test]
    fn an_opaque_token_gets_the_generic_kinds() {
        let token = "Qm9wYXF1ZS10b2tlbi1vZi1vaWRjLXByb3ZpZGVy";
        let strategy = refused(None, None, None, &bearer_request(token), &[]).unwrap();
        let cases = draw(&strategy, 500);
        let kinds: std::collections::BTreeSet<&str> = cases.iter().map(kind).collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                "case-flipped",
                "char-changed",
                "empty",
                "extended",
                "truncated"
            ]
        );
        assert!(cases.iter().all(|c| sent_token(c) != token));
        // A hexadecimal token's case may mean nothing: no case flip.
        let hex = "0123456789abcdef0123456789abcdef";
        let strategy = refused(None, None, None, &bearer_request(hex), &[]).unwrap();
        assert!(
            draw(&strategy, 300)
                .iter()
                .all(|c| kind(c) != "case-flipped")
        );
    }

    /// The token is varied where the request carries it: a query parameter, a form field or a
    /// header; a request that does not carry it is refused with a message.
    #[test]
    fn the_token_is_varied_where_the_request_carries_it() {
        let token = token();
        let query = BaseRequest {
            query: vec![
                ("a".into(), "1".into()),
                ("signature".into(), token.clone()),
            ],
            ..BaseRequest::default()
        };
        let strategy = refused(Some(&token), None, None, &query, &[]).unwrap();
        for case in draw(&strategy, 50) {
            let Change::Query { name, secret, .. } = &case.change else {
                panic!("{}: not a query change", case.label);
            };
            assert_eq!((name.as_str(), *secret), ("signature", true));
        }
        let form = BaseRequest {
            form: Some(vec![
                ("token".into(), token.clone()),
                ("x".into(), "y".into()),
            ]),
            ..BaseRequest::default()
        };
        let case = &draw(&refused(Some(&token), None, None, &form, &[]).unwrap(), 1)[0];
        let Change::Form(fields) = &case.change else {
            panic!("not a form change");
        };
        assert!(fields[0].secret && fields[0].value != token && !fields[1].secret);
        let header = BaseRequest {
            headers: vec![("x-token".into(), format!("Token {token}").into_bytes())],
            ..BaseRequest::default()
        };
        let case = &draw(&refused(Some(&token), None, None, &header, &[]).unwrap(), 1)[0];
        let Change::Header {
            name,
            value,
            secret,
        } = &case.change
        else {
            panic!("not a header change");
        };
        assert_eq!(name, "x-token");
        assert!(*secret && value.as_ref().unwrap().starts_with(b"Token "));
        let err = refused(Some(&token), None, None, &BaseRequest::default(), &[]).err();
        assert!(err.unwrap().contains("does not carry `from.token`"));
        let err = refused(None, None, None, &BaseRequest::default(), &[]).err();
        assert!(err.unwrap().contains("no `Authorization: Bearer` token"));
    }

    /// Every generated token is registered before it is sent, so no form of it reaches a report.
    #[test]
    fn every_generated_token_is_a_secret_form_of_its_case() {
        let token = token();
        let query = BaseRequest {
            query: vec![("signature".into(), token.clone())],
            ..BaseRequest::default()
        };
        for base in [bearer_request(&token), query] {
            let strategy = refused(Some(&token), None, None, &base, &[]).unwrap();
            for case in draw(&strategy, 300) {
                let sent = sent_token(&case);
                if !sent.is_empty() {
                    assert!(case.change.secret_forms().contains(&sent), "{}", case.label);
                }
            }
        }
    }
}
