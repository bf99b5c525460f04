//! Secrets: the [`Secret`] type that never prints, and the [`SecretRegistry`] that every output
//! sink redacts through.
//!
//! A secret enters the registry when the target's secrets are resolved and whenever a scenario
//! captures a value marked `secret: true`. Sinks call [`SecretRegistry::redact`] on everything they
//! write, so a value, or any form of it derived by the `ENCODINGS` table (case changes, hex,
//! base64 inside longer blobs, the percent-encodings of the common URL libraries, HTML, JSON
//! escaped up to three times), is replaced by `[redacted:NAME]` wherever it appears.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, BuildError, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// The name of a secret, as scenarios refer to it in `{{secret.NAME}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

impl SecretName {
    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "invalid secret name `{s}`: use letters, digits, `_` and `-`"
            ))
        }
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential or token. Debug prints `Secret(client_secret, [redacted])`.
///
/// Deliberately no `Display`, `Serialize` or `Clone`: a derive can never write one to a report.
pub struct Secret {
    name: SecretName,
    value: Box<str>,
}

impl Secret {
    /// Wraps a value under a name.
    pub fn new(name: SecretName, value: impl Into<Box<str>>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }

    /// Returns the name the value is redacted as.
    pub fn name(&self) -> &SecretName {
        &self.name
    }

    /// Returns the raw value, for the wire only.
    ///
    /// # Security warning
    /// Anything logged, formatted or stored from this must go through [`SecretRegistry::redact`].
    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({}, [redacted])", self.name)
    }
}

/// Values shorter than this are not redacted by value: replacing every `a` in a report would
/// destroy it and hide nothing. Mock and live credentials are far longer. Derived forms shorter
/// than this are not looked for either.
const MIN_REDACTABLE_LEN: usize = 4;

/// A redaction can uncover another match only in contrived cases (a secret that continues a
/// marker's text); after this many passes the text is withheld rather than written.
const MAX_REDACTION_PASSES: usize = 4;

/// Shown instead of a text the registry cannot vouch for (lock poisoned, automaton too large).
const WITHHELD: &str = "[redacted: text withheld, the secret registry is unavailable]";

/// One way a value can be written down: by an encoder, a URL library, a JSON writer quoting it.
///
/// Every secret and every `user:password` pair Basic sends is registered in each form of
/// [`ENCODINGS`], and each of those forms once, twice and three times JSON-escaped in each style
/// of [`JSON_STYLES`] (a JSON body echoed inside a JSON string, as httpbin's `data` does).
struct Encoding {
    /// What the form is.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "names each entry of the table for its readers")
    )]
    name: &'static str,
    /// Whether the form is matched ASCII-case-insensitively: upper- and lower-cased copies of a
    /// value, hex and percent escapes in either case. Base64 is case-sensitive.
    any_case: bool,
    /// Whether every form of a value made of ASCII letters, digits, `-`, `.` and `_` (most
    /// tokens and keys) is the value itself, which the first encoding already gives: deriving
    /// them is then skipped.
    keeps_plain: bool,
    /// Whether the forms of an ASCII value's upper- or lower-cased copy are the value's own
    /// forms in another ASCII case (every letter written as itself). Matched in any case, they
    /// are then found through the value's forms, and the copies' are not derived. Hex writes a
    /// letter's code, which its case changes.
    follows_case: bool,
    /// Returns the form (or forms) of a value.
    encode: fn(&str) -> Vec<String>,
}

/// Every form of a value the registry redacts (see [`Encoding`]).
const ENCODINGS: &[Encoding] = &[
    Encoding {
        name: "the value itself, in any case",
        any_case: true,
        keeps_plain: false,
        follows_case: true,
        encode: |v| vec![v.to_owned()],
    },
    Encoding {
        name: "hex of its UTF-8 bytes, upper or lower case",
        any_case: true,
        keeps_plain: false,
        follows_case: false,
        encode: |v| {
            let mut hex = String::with_capacity(v.len() * 2);
            for byte in v.bytes() {
                push_hex(&mut hex, byte, b"0123456789abcdef");
            }
            vec![hex]
        },
    },
    Encoding {
        name: "base64, standard alphabet, alone or inside a longer blob at any alignment",
        any_case: false,
        keeps_plain: false,
        follows_case: false,
        encode: |v| base64_forms(v, &STANDARD, &STANDARD_NO_PAD),
    },
    Encoding {
        name: "base64, URL-safe alphabet, alone or inside a longer blob at any alignment",
        any_case: false,
        keeps_plain: false,
        follows_case: false,
        encode: |v| base64_forms(v, &URL_SAFE, &URL_SAFE_NO_PAD),
    },
    Encoding {
        name: "application/x-www-form-urlencoded as WHATWG and Java's URLEncoder write it",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| vec![percent_encode(v, b"*-._", true)],
    },
    Encoding {
        name: "application/x-www-form-urlencoded as Python's urllib quote_plus writes it",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| vec![percent_encode(v, b"-._~", true)],
    },
    Encoding {
        name: "application/x-www-form-urlencoded as PHP's urlencode writes it",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| vec![percent_encode(v, b"-._", true)],
    },
    Encoding {
        name: "percent-encoding of all but RFC 3986 unreserved (PHP rawurlencode, Python quote)",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| {
            vec![
                percent_encode(v, b"-._~", false),
                percent_encode(v, b"-._~/", false),
            ]
        },
    },
    Encoding {
        name: "JavaScript's encodeURIComponent and encodeURI",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| {
            vec![
                percent_encode(v, b"-_.!~*'()", false),
                percent_encode(v, b"-_.!~*'();/?:@&=+$,#", false),
            ]
        },
    },
    Encoding {
        name: "a URL path or query as the url crate and browsers write it (WHATWG sets)",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| {
            let outside = |set: &'static [u8]| move |b: u8| !set.contains(&b);
            let path = percent_encode_where(v, outside(b" \"#<>?`{}"), false);
            vec![
                // In an http(s) path the parser reads `\` as `/`.
                path.replace('\\', "/"),
                path,
                percent_encode_where(v, outside(b" \"#<>'"), false),
                percent_encode_where(v, outside(b" \"#<>"), false),
            ]
        },
    },
    Encoding {
        name: "HTML-escaped",
        any_case: true,
        keeps_plain: true,
        follows_case: true,
        encode: |v| {
            let escaped = v
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;");
            vec![
                escaped.replace('\'', "&#39;"),
                escaped.replace('\'', "&#x27;"),
            ]
        },
    },
    Encoding {
        name: "a JWT's payload and signature, which can travel alone",
        any_case: false,
        keeps_plain: false,
        follows_case: false,
        encode: jwt_parts,
    },
];

/// How JSON writers escape a string.
#[derive(Clone, Copy)]
enum JsonStyle {
    /// `"`, `\` and control characters (serde_json, JavaScript's `JSON.stringify`).
    Minimal,
    /// Also every non-ASCII character as `\uXXXX` (Python's `json.dumps`, Flask, httpbin).
    Ascii,
    /// Also `/` as `\/` (PHP's `json_encode`).
    AsciiSlash,
    /// Also `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX` (Go's `encoding/json`).
    HtmlSafe,
}

/// The JSON escaping styles applied to every form, one to three times.
const JSON_STYLES: &[JsonStyle] = &[
    JsonStyle::Minimal,
    JsonStyle::Ascii,
    JsonStyle::AsciiSlash,
    JsonStyle::HtmlSafe,
];

/// How many times a form is JSON-escaped: a JSON body echoed in a JSON string, and that once more.
const JSON_DEPTH: usize = 3;

/// Returns every form of `value` the registry redacts, each with whether it matches in any case.
fn derived_forms(value: &str) -> Vec<(String, bool)> {
    let mut forms: Vec<(String, bool)> = Vec::new();
    let mut seen = foldhash::HashSet::default();
    let mut push = |form: String, any_case: bool| {
        let key = if any_case {
            form.to_ascii_lowercase()
        } else {
            form.clone()
        };
        if form.len() >= MIN_REDACTABLE_LEN && seen.insert((key, any_case)) {
            forms.push((form, any_case));
        }
    };
    // Upper- and lower-cased copies of a non-ASCII value differ beyond ASCII case, so forms
    // matched in any case are also derived from each copy.
    let spellings = [value.to_owned(), value.to_uppercase(), value.to_lowercase()];
    let plain = all_in(value, &PLAIN);
    let ascii = value.is_ascii();
    for encoding in ENCODINGS {
        if plain && encoding.keeps_plain {
            continue;
        }
        let spellings = if encoding.any_case && !(ascii && encoding.follows_case) {
            &spellings[..]
        } else {
            &spellings[..1]
        };
        for form in spellings.iter().flat_map(|v| (encoding.encode)(v)) {
            // Every sequence of styles: a body our client wrote echoed by a server of another.
            let mut level = vec![form];
            for _ in 0..JSON_DEPTH {
                let mut next: Vec<String> = Vec::new();
                for text in &level {
                    push(text.clone(), encoding.any_case);
                    let classes = JsonClasses::of(text);
                    if classes.inert {
                        continue;
                    }
                    for style in JSON_STYLES {
                        if classes.writes_as_an_earlier_style(*style) {
                            continue;
                        }
                        // Most forms (a token's) hold nothing a style escapes: no copy then.
                        if let Some(escaped) = json_escaped(text, *style)
                            && !next.contains(&escaped)
                        {
                            next.push(escaped);
                        }
                    }
                }
                level = next;
            }
            for text in level {
                push(text, encoding.any_case);
            }
        }
    }
    forms
}

/// Returns base64 of `value` alone (padded and not) and the characters that encode it inside a
/// longer blob whose data has its bytes at offset 0, 1 or 2 modulo 3: the characters that depend
/// on a neighbouring byte are left out, so the form is the same whatever surrounds the value.
fn base64_forms(
    value: &str,
    padded: &base64::engine::GeneralPurpose,
    unpadded: &base64::engine::GeneralPurpose,
) -> Vec<String> {
    let mut forms = Vec::new();
    for offset in 0..3 {
        let mut data = vec![0u8; offset];
        data.extend_from_slice(value.as_bytes());
        // Characters before the value's first full sextet mix in the preceding bytes.
        let skip = [0, 2, 3][offset];
        let alone = unpadded.encode(&data);
        // The last character of an incomplete group mixes in the following byte.
        let inside_end = if data.len() % 3 == 0 {
            alone.len()
        } else {
            alone.len() - 1
        };
        forms.push(alone[skip..inside_end].to_owned());
        forms.push(alone[skip..].to_owned());
        forms.push(padded.encode(&data)[skip..].to_owned());
    }
    forms
}

/// Returns a JWT's payload and signature when `value` is one: three base64url parts whose first
/// decodes to a JOSE header (a JSON object naming its `alg`, RFC 7515 §4.1.1). A JWT's header is
/// the same for every token and hides nothing. Anything else with two dots (a URL's host, a
/// cut JSON text) is not split: its middle part would be an ordinary word redacted everywhere.
fn jwt_parts(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let is_base64url = |part: &&str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let is_jose_header = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|header| header.get("alg").is_some())
    };
    match value.split('.').collect::<Vec<_>>().as_slice() {
        [header, payload, signature]
            if [header, payload, signature].iter().all(|p| is_base64url(p))
                && is_jose_header(header) =>
        {
            vec![payload.to_string(), signature.to_string()]
        }
        _ => Vec::new(),
    }
}

/// Percent-encodes every byte except ASCII letters, digits and `keep`; a space becomes `+` when
/// `space_as_plus` (forms), `%20` otherwise.
fn percent_encode(value: &str, keep: &'static [u8], space_as_plus: bool) -> String {
    percent_encode_where(
        value,
        move |b| b.is_ascii_alphanumeric() || keep.contains(&b),
        space_as_plus,
    )
}

/// Percent-encodes every byte that is not printable ASCII or for which `keep` is false.
fn percent_encode_where(value: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if space_as_plus && byte == b' ' {
            out.push('+');
        } else if byte.is_ascii_graphic() && keep(byte) {
            out.push(byte as char);
        } else {
            // Upper case, as RFC 3986 recommends; lower-case escapes match too (any case).
            out.push('%');
            push_hex(&mut out, byte, b"0123456789ABCDEF");
        }
    }
    out
}

/// Appends the two hex digits of `byte`, written with `digits`.
fn push_hex(out: &mut String, byte: u8, digits: &[u8; 16]) {
    out.push(char::from(digits[usize::from(byte >> 4)]));
    out.push(char::from(digits[usize::from(byte & 0xf)]));
}

/// What in a text the JSON styles treat differently, so that a style writing it as an earlier
/// one in [`JSON_STYLES`] does is not applied again.
struct JsonClasses {
    /// Printable ASCII without `"`, `\\`, `/`, `<`, `>` or `&`: no style changes it.
    inert: bool,
    non_ascii: bool,
    slash: bool,
    /// `<`, `>`, `&`, U+2028 or U+2029.
    html: bool,
    /// Backspace or form feed, which only Go's style writes long.
    backspace_or_form_feed: bool,
}

impl JsonClasses {
    fn of(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut classes = Self {
            inert: true,
            non_ascii: false,
            slash: false,
            html: false,
            backspace_or_form_feed: false,
        };
        let mut at = 0;
        while at < bytes.len() {
            let byte = bytes[at];
            if byte >= 0x7f || JSON_SPECIAL[byte as usize] {
                classes.inert = false;
                match byte {
                    b'/' => classes.slash = true,
                    b'<' | b'>' | b'&' => classes.html = true,
                    0x08 | 0x0c => classes.backspace_or_form_feed = true,
                    0x80.. => classes.non_ascii = true,
                    _ => {}
                }
            }
            at += 1;
        }
        classes.html |= classes.non_ascii && text.contains(['\u{2028}', '\u{2029}']);
        classes
    }

    /// Returns true when `style` writes the text exactly as a style before it in
    /// [`JSON_STYLES`] does.
    fn writes_as_an_earlier_style(&self, style: JsonStyle) -> bool {
        match style {
            JsonStyle::Minimal => false,
            // As `Minimal`.
            JsonStyle::Ascii => !self.non_ascii,
            // As `Ascii`.
            JsonStyle::AsciiSlash => !self.slash,
            // As `Minimal`.
            JsonStyle::HtmlSafe => !self.html && !self.backspace_or_form_feed,
        }
    }
}

/// Returns true when `style` writes `c` otherwise than as itself: exactly the characters
/// [`json_escape`] changes.
fn json_escapes(c: char, style: JsonStyle) -> bool {
    match c {
        '"' | '\\' | '\u{0}'..='\u{1f}' => true,
        '/' => matches!(style, JsonStyle::AsciiSlash),
        '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => matches!(style, JsonStyle::HtmlSafe),
        c => !c.is_ascii() && matches!(style, JsonStyle::Ascii | JsonStyle::AsciiSlash),
    }
}

/// Returns the contents of a JSON string holding `text`, escaped as `style` writes it.
#[cfg(test)]
fn json_escape(text: &str, style: JsonStyle) -> String {
    json_escaped(text, style).unwrap_or_else(|| text.to_owned())
}

/// Returns `text` escaped as `style` writes it inside a JSON string, or `None` when `style`
/// writes it unchanged (most forms: a token's). Copies the stretches between escaped characters
/// whole: this runs over every byte of every form a value has.
fn json_escaped(text: &str, style: JsonStyle) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte < 0x80 && !JSON_SPECIAL[byte as usize] {
            at += 1;
            continue;
        }
        let c = text[at..].chars().next().unwrap_or_default();
        let len = c.len_utf8();
        if json_escapes(c, style) {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
            out.push_str(&text[copied..at]);
            push_json_escape(out, c, style);
            copied = at + len;
        }
        at += len;
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// Appends how `style` writes `c`, one of the characters [`json_escapes`] names.
fn push_json_escape(out: &mut String, c: char, style: JsonStyle) {
    let short = match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        // serde_json, JavaScript, Python and PHP write these two short; Go wrote them as
        // `\u0008` and `\u000c` before 1.22.
        '\u{8}' if !matches!(style, JsonStyle::HtmlSafe) => Some("\\b"),
        '\u{c}' if !matches!(style, JsonStyle::HtmlSafe) => Some("\\f"),
        '/' => Some("\\/"),
        _ => None,
    };
    match short {
        Some(escape) => out.push_str(escape),
        None => {
            let mut units = [0u16; 2];
            for &mut unit in c.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(
                        b"0123456789abcdef"[usize::from((unit >> shift) & 0xf)],
                    ));
                }
            }
        }
    }
}

/// A set of bytes, as a table indexed by the byte.
type ByteSet = [bool; 256];

/// Returns the set holding ASCII letters and digits, and `extra`.
const fn alphanumeric_and(extra: &[u8]) -> ByteSet {
    let mut set = [false; 256];
    let mut b = 0;
    while b < 128 {
        set[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        set[extra[i] as usize] = true;
        i += 1;
    }
    set
}

/// The bytes of a value whose forms in the percent-encodings and HTML are the value itself.
const PLAIN: ByteSet = alphanumeric_and(b"-._");

/// Every byte but the ASCII upper-case letters.
const NOT_UPPERCASE: ByteSet = {
    let mut set = [true; 256];
    let mut b = b'A';
    while b <= b'Z' {
        set[b as usize] = false;
        b += 1;
    }
    set
};

/// The ASCII bytes some JSON style escapes: `"`, `\`, `/`, `<`, `>`, `&` and control
/// characters. (Non-ASCII characters are escaped by some styles too.)
const JSON_SPECIAL: ByteSet = {
    let mut set = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        set[b] = true;
        b += 1;
    }
    let special = b"\"\\/<>&";
    let mut i = 0;
    while i < special.len() {
        set[special[i] as usize] = true;
        i += 1;
    }
    set
};

/// Returns true when every byte of `text` is in `set`. An indexed loop over a table: these
/// checks run over every byte of every form, and `cargo test` runs them unoptimised, where a
/// closure per byte cost more than deriving the forms.
fn all_in(text: &str, set: &ByteSet) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if !set[bytes[at] as usize] {
            return false;
        }
        at += 1;
    }
    true
}

/// One string the registry looks for.
struct Needle {
    /// Index into the registry's names.
    name: usize,
    /// Shared with the value's [`Forms`] and the registry's set of needles seen.
    text: Arc<str>,
    any_case: bool,
}

/// One Aho-Corasick automaton over some needles, with the marker name of each pattern id.
type Automaton = (Searcher, Arc<[Arc<str>]>);

/// How the needles of one automaton are looked for.
#[derive(Clone)]
enum Searcher {
    /// One Aho-Corasick automaton over a window of each needle; a window found is a needle
    /// found once the rest of the needle surrounds it.
    Automaton(WindowAutomaton),
    /// Each on its own (a scenario's own capture, about a dozen forms): building an automaton
    /// costs more than the few short texts it would scan. Needles matched in any case are kept
    /// in ASCII lower case and looked for in a lower-cased copy of the text (same offsets).
    Few {
        /// A finder over the first [`WINDOW_LEN`] bytes of each needle: building a finder costs
        /// in the length of what it looks for, and a generated token's forms (its hex, base64)
        /// run to a few kilobytes.
        finders: Arc<[memchr::memmem::Finder<'static>]>,
        /// Each needle whole, as its finder's window is the start of it.
        needles: Arc<[Box<[u8]>]>,
        any_case: bool,
    },
}

/// How many bytes of each needle an automaton holds. A run's secrets include long values (keys
/// in PEM, signed tokens) with a dozen derived forms each: an automaton over whole forms took
/// several megabytes, one over windows of them a few hundred kilobytes.
const WINDOW_LEN: usize = 32;

/// An Aho-Corasick automaton over one window of each needle, with the needles each window is
/// part of and where.
#[derive(Clone)]
struct WindowAutomaton {
    automaton: AhoCorasick,
    any_case: bool,
    /// Every needle, by needle index.
    needles: Arc<[Arc<str>]>,
    /// For each pattern of the automaton, the (needle index, offset of the window in it) of the
    /// needles it is a window of.
    completions: Arc<[Box<[WindowAt]>]>,
}

/// A needle index and the offset of a window in that needle.
type WindowAt = (u32, u32);

impl WindowAutomaton {
    /// Builds the automaton over `needles`, each matched in any ASCII case when `any_case`.
    ///
    /// A needle up to [`WINDOW_LEN`] bytes is its own window. A longer one takes, of its last,
    /// middle and first [`WINDOW_LEN`] bytes, the first window no other needle took: the
    /// secrets of one run often share a beginning (every JWT of an issuer its header, keys a
    /// type prefix) and PEM keys an end, and a window shared by thousands of needles would have
    /// each hit compared with each of them.
    fn new(needles: Arc<[Arc<str>]>, any_case: bool) -> Result<Self, BuildError> {
        let mut patterns: Vec<&[u8]> = Vec::new();
        let mut completions: Vec<Vec<WindowAt>> = Vec::new();
        let mut pattern_of: foldhash::HashMap<Vec<u8>, usize> = Default::default();
        let key_of = |window: &[u8]| {
            if any_case {
                window.to_ascii_lowercase()
            } else {
                window.to_vec()
            }
        };
        for (index, needle) in needles.iter().enumerate() {
            let bytes = needle.as_bytes();
            let last = bytes.len().saturating_sub(WINDOW_LEN);
            let offsets = [last, last / 2, 0];
            let offset = offsets
                .into_iter()
                .find(|&at| {
                    !pattern_of.contains_key(&key_of(&bytes[at..at + WINDOW_LEN.min(bytes.len())]))
                })
                .unwrap_or(last);
            let window = &bytes[offset..offset + WINDOW_LEN.min(bytes.len())];
            let pattern = *pattern_of.entry(key_of(window)).or_insert_with(|| {
                patterns.push(window);
                completions.push(Vec::new());
                patterns.len() - 1
            });
            completions[pattern].push((index as u32, offset as u32));
        }
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(any_case)
            .build(patterns)?;
        Ok(Self {
            automaton,
            any_case,
            completions: completions.into_iter().map(Vec::into_boxed_slice).collect(),
            needles,
        })
    }

    /// Calls `hit` with the (start, end, needle index) of every needle in `text`.
    fn for_each_match(
        &self,
        text: &str,
        mut hit: impl FnMut(usize, usize, usize),
    ) -> Result<(), ()> {
        let bytes = text.as_bytes();
        for found in self
            .automaton
            .try_find_overlapping_iter(text)
            .map_err(|_| ())?
        {
            for &(index, offset) in self.completions[found.pattern().as_usize()].iter() {
                let needle = self.needles[index as usize].as_bytes();
                let Some(start) = found.start().checked_sub(offset as usize) else {
                    continue;
                };
                let Some(candidate) = bytes.get(start..start + needle.len()) else {
                    continue;
                };
                let whole = if self.any_case {
                    candidate.eq_ignore_ascii_case(needle)
                } else {
                    candidate == needle
                };
                if whole {
                    hit(start, start + needle.len(), index as usize);
                }
            }
        }
        Ok(())
    }
}

/// The bytes [`Searcher::Few`] looks in: `text`, ASCII-lower-cased where any case matches (the
/// offsets stay those of `text`).
fn few_haystack(text: &str, any_case: bool) -> std::borrow::Cow<'_, [u8]> {
    if any_case {
        text.to_ascii_lowercase().into_bytes().into()
    } else {
        text.as_bytes().into()
    }
}

/// Needles up to which an automaton's needles are looked for one by one ([`Searcher::Few`]).
const FEW_NEEDLES: usize = 16;

impl Searcher {
    /// Returns a [`Searcher::Few`] over `needles`, matched in any ASCII case when `any_case`.
    fn few<'n>(needles: impl Iterator<Item = &'n [u8]>, any_case: bool) -> Self {
        let needles: Arc<[Box<[u8]>]> = needles
            .map(|needle| {
                if any_case {
                    needle.to_ascii_lowercase().into()
                } else {
                    needle.into()
                }
            })
            .collect();
        let finders = needles
            .iter()
            .map(|needle| {
                memchr::memmem::Finder::new(&needle[..WINDOW_LEN.min(needle.len())]).into_owned()
            })
            .collect();
        Self::Few {
            finders,
            needles,
            any_case,
        }
    }

    fn is_match(&self, text: &str) -> bool {
        match self {
            // A window without the rest of its needle is rare: the caller's scan sorts it out.
            Self::Automaton(windows) => windows.automaton.is_match(text),
            Self::Few {
                finders, any_case, ..
            } => {
                let haystack = few_haystack(text, *any_case);
                finders.iter().any(|f| f.find(&haystack).is_some())
            }
        }
    }

    /// Calls `hit` with the (start, end, needle index) of every match, overlapping ones
    /// included.
    fn for_each_match(
        &self,
        text: &str,
        mut hit: impl FnMut(usize, usize, usize),
    ) -> Result<(), ()> {
        match self {
            Self::Automaton(windows) => windows.for_each_match(text, hit)?,
            Self::Few {
                finders,
                needles,
                any_case,
            } => {
                let haystack = few_haystack(text, *any_case);
                for (pattern, (finder, needle)) in finders.iter().zip(needles.iter()).enumerate() {
                    let mut from = 0;
                    // Every start, so a needle overlapping itself is found at each.
                    while let Some(at) = haystack.get(from..).and_then(|rest| finder.find(rest)) {
                        let start = from + at;
                        if haystack.get(start..start + needle.len()) == Some(&needle[..]) {
                            hit(start, start + needle.len(), pattern);
                        }
                        from = start + 1;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Builds the automata over `needles`, whose names index `names`: one case-sensitive, one
/// ASCII-case-insensitive.
fn build_automata(needles: &[Needle], names: &[Arc<str>]) -> Result<Vec<Automaton>, BuildError> {
    let mut automata = Vec::new();
    for any_case in [false, true] {
        let ids: Vec<usize> = (0..needles.len())
            .filter(|&i| needles[i].any_case == any_case)
            .collect();
        if ids.is_empty() {
            continue;
        }
        // Standard semantics report overlapping matches, so every byte of every occurrence is
        // found even where two secrets' forms overlap.
        // A contiguous NFA builds far faster than a DFA and scans nearly as fast; automata are
        // rebuilt as captures add secrets.
        let searcher = if ids.len() <= FEW_NEEDLES {
            Searcher::few(ids.iter().map(|&i| needles[i].text.as_bytes()), any_case)
        } else {
            Searcher::Automaton(WindowAutomaton::new(
                ids.iter().map(|&i| needles[i].text.clone()).collect(),
                any_case,
            )?)
        };
        let marker_names = ids
            .iter()
            .map(|&i| names[needles[i].name].clone())
            .collect();
        automata.push((searcher, marker_names));
    }
    Ok(automata)
}

/// The automata over a contiguous run of needles.
struct Generation {
    needles: Range<usize>,
    automata: Vec<Automaton>,
}

/// A stretch of text holding a secret, with the name its marker shows.
type Region = (Range<usize>, Arc<str>);

/// Every automaton of the registry, as one snapshot a redaction works with.
struct Matcher {
    automata: Vec<Automaton>,
    /// How many of `automata`, first, are a scope's base (its run's fixed secrets).
    base: usize,
}

impl Matcher {
    /// Returns the byte ranges of `text` holding a needle, merged where they overlap, each with
    /// the name of its longest match (which names the marker). Matches lying wholly inside a
    /// redaction marker are the marker's own text, not a secret's.
    fn regions(&self, text: &str) -> Result<Vec<Region>, ()> {
        if !self
            .automata
            .iter()
            .any(|(searcher, _)| searcher.is_match(text))
        {
            return Ok(Vec::new());
        }
        let markers = marker_spans(text);
        let inside_marker = |start: usize, end: usize| {
            let i = markers.partition_point(|m| m.end < end);
            markers.get(i).is_some_and(|m| m.start <= start)
        };
        let mut hits = Vec::new();
        for (searcher, names) in &self.automata {
            searcher.for_each_match(text, |start, end, pattern| {
                if !inside_marker(start, end) {
                    hits.push((start, end, &names[pattern]));
                }
            })?;
        }
        hits.sort_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
        let mut regions: Vec<(Range<usize>, Arc<str>, usize)> = Vec::new();
        for (start, end, name) in hits {
            match regions.last_mut() {
                Some((range, best, best_len)) if start < range.end => {
                    range.end = range.end.max(end);
                    if end - start > *best_len {
                        (*best, *best_len) = (name.clone(), end - start);
                    }
                }
                _ => regions.push((start..end, name.clone(), end - start)),
            }
        }
        Ok(regions.into_iter().map(|(r, n, _)| (r, n)).collect())
    }
}

/// Returns the spans of `[redacted]` and `[redacted:NAME]` markers in `text`, in order.
fn marker_spans(text: &str) -> Vec<Range<usize>> {
    const OPEN: &str = "[redacted";
    let mut spans = Vec::new();
    for (start, _) in text.match_indices(OPEN) {
        let rest = &text[start + OPEN.len()..];
        let len = if rest.starts_with(']') {
            Some(1)
        } else if let Some(name) = rest.strip_prefix(':') {
            let name_len = name
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                .count();
            (name_len > 0 && name[name_len..].starts_with(']')).then_some(name_len + 2)
        } else {
            None
        };
        if let Some(len) = len {
            spans.push(start..start + OPEN.len() + len);
        }
    }
    spans
}

/// Returns the longest prefix of `text` of at most `max` bytes that ends on a character boundary
/// and outside every redaction marker, so a cut never leaves half a marker.
pub fn prefix_outside_markers(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(marker) = marker_spans(text)
        .into_iter()
        .find(|m| m.start < end && end < m.end)
    {
        end = marker.start;
    }
    &text[..end]
}

#[derive(Default)]
struct Needles {
    names: Vec<Arc<str>>,
    /// Every (name, value) registered with its forms, so a value registered again (a token a run
    /// captures in every scenario) costs a lookup, not a derivation of its forms, here and in
    /// every [`SecretScope`] of the run.
    registered: foldhash::HashMap<(usize, String), Forms>,
    /// Automata every matcher scans first: a [`SecretScope`]'s view of its run's fixed secrets.
    base: Vec<Automaton>,
    needles: Vec<Needle>,
    /// The total length of the needles' windows (at most [`WINDOW_LEN`] bytes each): what
    /// building automata over all of them costs.
    needle_bytes: usize,
    /// Every needle's (text, any_case), the text lower-cased when any case matches, so a form is
    /// registered once.
    seen: foldhash::HashSet<(Arc<str>, bool)>,
    /// Automata over `needles`, oldest first, each at least twice the size of the next.
    generations: Vec<Generation>,
    /// Built from `generations` on first use after a registration.
    matcher: Option<Arc<Matcher>>,
    /// How many needles all automata built so far were built over (each rebuild counts again).
    needles_built: usize,
}

/// The forms of one value: each text, with whether it matches in any case.
type Forms = Arc<[(Arc<str>, bool)]>;

impl Needles {
    /// Adds `value`'s `forms` under `name`, each form once.
    fn add(&mut self, name: &str, value: &str, forms: Forms) {
        let name_index = match self.names.iter().position(|n| &**n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.into());
                self.names.len() - 1
            }
        };
        if self
            .registered
            .insert((name_index, value.to_owned()), forms.clone())
            .is_some()
        {
            return;
        }
        for (text, any_case) in forms.iter() {
            // Most forms are a token's or base64's (mixed case): lower-cased only where it
            // changes something, shared otherwise.
            let key = if *any_case && !all_in(text, &NOT_UPPERCASE) {
                text.to_ascii_lowercase().into()
            } else {
                text.clone()
            };
            if self.seen.insert((key, *any_case)) {
                self.needle_bytes += text.len().min(WINDOW_LEN);
                self.needles.push(Needle {
                    name: name_index,
                    text: text.clone(),
                    any_case: *any_case,
                });
                self.matcher = None;
            }
        }
    }
}

/// Every secret value known to a run, with the derived forms that could carry it.
///
/// Shared by all scenarios of a run (behind `Arc`); captures add to it while scenarios run. Forms
/// are searched by Aho-Corasick automata, one case-sensitive and one not per generation of
/// registrations, built on the first redaction after a registration; the generations merge into
/// one once scanning them apart costs more than that build (see [`SecretRegistry::matcher`]), so
/// the long texts of the reports cost one pass per automaton kind however many secrets the run
/// holds.
#[derive(Default)]
pub struct SecretRegistry {
    state: RwLock<Needles>,
    /// Bytes scanned by automata beyond one generation's since the generations were last merged
    /// into one: what keeping them apart has cost (see [`SecretRegistry::matcher`]).
    excess_scanned: AtomicUsize,
}

/// How many bytes of excess scanning pay for building automata over one byte of needles: a
/// build costs far more per byte than a scan.
const SCANNED_PER_BUILT_BYTE: usize = 16;

impl fmt::Debug for SecretRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.state.read().map(|s| s.needles.len()).unwrap_or(0);
        write!(f, "SecretRegistry({count} needles, [redacted])")
    }
}

impl SecretRegistry {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret's value and its derived forms under the secret's name.
    pub fn register(&self, secret: &Secret) {
        self.register_value(secret.name().as_str(), secret.expose());
    }

    /// Registers a raw value (and its derived forms, see [`ENCODINGS`]) under `name`.
    pub fn register_value(&self, name: &str, value: &str) {
        self.forms_registered(name, value);
    }

    /// Registers `value` under `name` like [`SecretRegistry::register_value`] and returns its
    /// forms (`None` for a value too short to redact or a poisoned registry). The forms of a
    /// value registered before are looked up, not derived again.
    fn forms_registered(&self, name: &str, value: &str) -> Option<Forms> {
        if value.len() < MIN_REDACTABLE_LEN {
            return None;
        }
        let known = |state: &Needles| {
            let name = state.names.iter().position(|n| &**n == name)?;
            state.registered.get(&(name, value.to_owned())).cloned()
        };
        if let Some(forms) = self.state.read().ok().and_then(|s| known(&s)) {
            return Some(forms);
        }
        let derived: Forms = derived_forms(value)
            .into_iter()
            .map(|(text, any_case)| (text.into(), any_case))
            .collect();
        let mut state = self.state.write().ok()?;
        if let Some(forms) = known(&state) {
            return Some(forms);
        }
        state.add(name, value, derived.clone());
        Some(derived)
    }

    /// Returns the current automata, building those for needles registered since the last call.
    ///
    /// New needles get their own automaton, merged with the newest ones while those are no
    /// larger: a run that registers a token per step then redacts rebuilds each needle
    /// O(log n) times, not once per registration, and scans O(log n) automata. Once scanning the
    /// extra generations has cost more than building one automaton over every needle would
    /// ([`SCANNED_PER_BUILT_BYTE`]), as when the reports are written after the run's captures,
    /// the generations are merged into one: that rebuild is paid for by scanning already done,
    /// and every later scan makes one pass per automaton kind whatever the number of secrets.
    fn matcher(&self) -> Option<Arc<Matcher>> {
        {
            let state = self.state.read().ok()?;
            if let Some(matcher) = &state.matcher
                && !self.merge_is_paid_for(&state)
            {
                return Some(matcher.clone());
            }
        }
        let mut guard = self.state.write().ok()?;
        let state = &mut *guard;
        if state.matcher.is_none() || self.merge_is_paid_for(state) {
            let end = state.needles.len();
            let mut start = state.generations.last().map_or(0, |g| g.needles.end);
            if self.merge_is_paid_for(state) {
                start = 0;
                state.generations.clear();
                self.excess_scanned.store(0, Ordering::Relaxed);
            }
            while let Some(newest) = state.generations.last()
                && newest.needles.len() <= end - start
            {
                start = newest.needles.start;
                state.generations.pop();
            }
            if start < end {
                let automata = build_automata(&state.needles[start..end], &state.names).ok()?;
                state.needles_built += end - start;
                state.generations.push(Generation {
                    needles: start..end,
                    automata,
                });
            }
            let automata = state
                .base
                .iter()
                .cloned()
                .chain(
                    state
                        .generations
                        .iter()
                        .flat_map(|g| g.automata.iter().cloned()),
                )
                .collect();
            state.matcher = Some(Arc::new(Matcher {
                automata,
                base: state.base.len(),
            }));
        }
        state.matcher.clone()
    }

    /// Returns true when the scanning the generations beyond the first have cost since they were
    /// last merged exceeds what merging them into one costs.
    fn merge_is_paid_for(&self, state: &Needles) -> bool {
        state.generations.len() > 1
            && self.excess_scanned.load(Ordering::Relaxed) / SCANNED_PER_BUILT_BYTE
                >= state.needle_bytes
    }

    /// Scans `text` with `matcher`, counting the bytes its automata beyond one generation's
    /// scanned.
    fn regions(&self, matcher: &Matcher, text: &str) -> Result<Vec<Region>, ()> {
        let extra = matcher.automata.len().saturating_sub(2 + matcher.base);
        if extra > 0 {
            self.excess_scanned
                .fetch_add(text.len().saturating_mul(extra), Ordering::Relaxed);
        }
        matcher.regions(text)
    }

    /// Returns `text` with every registered value and derived form replaced by `[redacted:NAME]`.
    /// Where forms overlap, the whole stretch they cover becomes one marker.
    pub fn redact(&self, text: &str) -> String {
        let Some(matcher) = self.matcher() else {
            return WITHHELD.to_owned();
        };
        let mut out = text.to_owned();
        for _ in 0..MAX_REDACTION_PASSES {
            let Ok(regions) = self.regions(&matcher, &out) else {
                return WITHHELD.to_owned();
            };
            if regions.is_empty() {
                return out;
            }
            let mut next = String::with_capacity(out.len());
            let mut copied = 0;
            for (range, name) in regions {
                next.push_str(&out[copied..range.start]);
                next.push_str("[redacted:");
                next.push_str(&name);
                next.push(']');
                copied = range.end;
            }
            next.push_str(&out[copied..]);
            out = next;
        }
        if self.is_clean(&out) {
            out
        } else {
            WITHHELD.to_owned()
        }
    }

    /// Returns true when `text` contains no registered value or derived form: exactly when
    /// [`SecretRegistry::redact`] would leave it unchanged.
    pub fn is_clean(&self, text: &str) -> bool {
        self.matcher()
            .and_then(|m| self.regions(&m, text).ok())
            .is_some_and(|regions| regions.is_empty())
    }
}

impl SecretRegistry {
    /// Returns the automata over every secret registered so far, for [`SecretScope`]s to scan
    /// first: a run takes it once its target's secrets are registered. `None` when the registry
    /// cannot build them (a scope then redacts through the whole registry).
    pub fn base(&self) -> Option<SecretBase> {
        self.matcher()
            .map(|matcher| SecretBase(matcher.automata.iter().cloned().collect()))
    }
}

/// The automata over the secrets a run knows before its scenarios start (see
/// [`SecretRegistry::base`]).
#[derive(Clone)]
pub struct SecretBase(Arc<[Automaton]>);

impl fmt::Debug for SecretBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBase({} automata, [redacted])", self.0.len())
    }
}

/// One scenario's view of its run's secrets: what it registers goes into the run's registry,
/// which every report sink redacts through, and into the scope, whose redaction covers the run's
/// fixed secrets (its [`SecretBase`]) and the scenario's own.
///
/// A scenario's transcripts are redacted as it runs, many times per step; through the run's
/// registry each scan would visit the automata of every token every other scenario captured, and
/// each capture would rebuild automata shared by all. Through a scope a scenario scans its base
/// and the few values it registered itself, whatever the run holds. A value of another scenario
/// that reaches this one's transcript is still redacted before it is written: the sinks redact
/// through the run's registry (the evidence tree, every report's final bytes, the console).
pub struct SecretScope {
    run: Arc<SecretRegistry>,
    /// `None` when the run gave no base: everything then goes through the run's registry.
    own: Option<SecretRegistry>,
}

impl fmt::Debug for SecretScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretScope({:?}, [redacted])", self.own.is_some())
    }
}

impl SecretScope {
    /// Creates a scope of `run` scanning `base` first; without a base, the scope redacts through
    /// `run` itself.
    pub fn new(run: Arc<SecretRegistry>, base: Option<&SecretBase>) -> Self {
        let own = base.map(|base| SecretRegistry {
            state: RwLock::new(Needles {
                base: base.0.to_vec(),
                ..Needles::default()
            }),
            excess_scanned: AtomicUsize::new(0),
        });
        Self { run, own }
    }

    /// Registers a secret's value and its derived forms, in the run and in this scope.
    pub fn register(&self, secret: &Secret) {
        self.register_value(secret.name().as_str(), secret.expose());
    }

    /// Registers a raw value and its derived forms under `name`, in the run and in this scope.
    pub fn register_value(&self, name: &str, value: &str) {
        let Some(forms) = self.run.forms_registered(name, value) else {
            return;
        };
        if let Some(own) = &self.own
            && let Ok(mut state) = own.state.write()
        {
            state.add(name, value, forms);
        }
    }

    /// Returns `text` with the run's fixed secrets and this scope's replaced, as
    /// [`SecretRegistry::redact`] does.
    pub fn redact(&self, text: &str) -> String {
        self.own.as_ref().unwrap_or(&self.run).redact(text)
    }

    /// Returns true when `text` holds none of the run's fixed secrets nor this scope's.
    pub fn is_clean(&self, text: &str) -> bool {
        self.own.as_ref().unwrap_or(&self.run).is_clean(text)
    }

    /// The run's registry.
    pub fn run(&self) -> &Arc<SecretRegistry> {
        &self.run
    }
}

/// What redacts text by value: the run's registry, a scenario's scope, one generated case's
/// secrets. The report sinks and transcripts take one.
pub trait Redact {
    /// Returns `text` with every secret this redactor knows replaced by `[redacted:NAME]`.
    fn redact(&self, text: &str) -> String;
}

impl<T: Redact + ?Sized> Redact for &T {
    fn redact(&self, text: &str) -> String {
        (**self).redact(text)
    }
}

impl Redact for SecretRegistry {
    fn redact(&self, text: &str) -> String {
        SecretRegistry::redact(self, text)
    }
}

impl Redact for SecretScope {
    fn redact(&self, text: &str) -> String {
        SecretScope::redact(self, text)
    }
}

/// What redacts one generated case's own output (its transcript, its failed checks): its
/// scenario's scope, and the credential values the case sent that are too short to redact
/// everywhere.
///
/// A run registers only generated values long enough to tell from ordinary words: a key
/// truncated to `echo` and registered for the run would blank every `echo` in every report, the
/// scenario names of a replay command among them. But a truncated secret is the real secret's
/// first characters, and a case's own exchange is where a server echoes what it was sent. So
/// there a short value of at least [`MIN_REDACTABLE_LEN`] bytes is redacted like any registered
/// secret (every occurrence, in any case, with its derived forms), and a shorter one (`e`, `ec`,
/// `ech`) wherever it stands alone, not inside a longer run of letters and digits: blanking every
/// `e` would leave neither the failure message nor the response readable.
///
/// ```text
/// found "<<ech>>"   ─►   found "<<[redacted:generated_credentials]>>"
/// expected to equal "unauthorized" (unchanged: no `ech` standing alone)
/// ```
pub struct CaseSecrets<'a> {
    scope: &'a SecretScope,
    /// The case's short values of at least [`MIN_REDACTABLE_LEN`] bytes, with their forms.
    short: Option<SecretRegistry>,
    /// The shorter ones, ASCII-lower-cased, redacted where they stand alone.
    tiny: Vec<Vec<u8>>,
    name: String,
}

impl fmt::Debug for CaseSecrets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaseSecrets({} tiny, [redacted])", self.tiny.len())
    }
}

impl<'a> CaseSecrets<'a> {
    /// Redacts through `scope`, and `values` (a case's short credential values) under `name`.
    pub fn new(scope: &'a SecretScope, name: &str, values: &[String]) -> Self {
        let mut short: Option<SecretRegistry> = None;
        let mut tiny = Vec::new();
        for value in values.iter().filter(|v| !v.is_empty()) {
            if value.len() >= MIN_REDACTABLE_LEN {
                short
                    .get_or_insert_with(SecretRegistry::new)
                    .register_value(name, value);
            } else {
                tiny.push(value.to_ascii_lowercase().into_bytes());
            }
        }
        tiny.sort();
        tiny.dedup();
        Self {
            scope,
            short,
            tiny,
            name: name.to_owned(),
        }
    }

    /// Returns true when the case sent a short value: its output then needs more than its
    /// scope's redaction.
    pub fn holds_short_values(&self) -> bool {
        self.short.is_some() || !self.tiny.is_empty()
    }

    /// Returns `text` with every standalone occurrence of a tiny value replaced, in any ASCII
    /// case, outside existing markers.
    fn redact_tiny(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let lower = text.to_ascii_lowercase().into_bytes();
        let markers = marker_spans(text);
        let word = |at: usize| bytes[at].is_ascii_alphanumeric() || bytes[at] >= 0x80;
        let mut regions: Vec<Range<usize>> = Vec::new();
        for value in &self.tiny {
            let mut from = 0;
            while let Some(found) = memchr::memmem::find(&lower[from..], value) {
                let (start, end) = (from + found, from + found + value.len());
                from = start + 1;
                // A match that begins or ends inside a run of letters and digits is part of a
                // word, not the value standing alone.
                let splits_start = start > 0 && word(start - 1) && word(start);
                let splits_end = end < bytes.len() && word(end) && word(end - 1);
                let in_marker = markers.iter().any(|m| m.start < end && start < m.end);
                if !splits_start && !splits_end && !in_marker {
                    regions.push(start..end);
                }
            }
        }
        if regions.is_empty() {
            return text.to_owned();
        }
        regions.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut out = String::with_capacity(text.len() + 32);
        let mut copied = 0;
        for region in regions {
            if region.start < copied {
                // Overlaps the region just replaced: extend it.
                copied = copied.max(region.end);
                continue;
            }
            out.push_str(&text[copied..region.start]);
            out.push_str("[redacted:");
            out.push_str(&self.name);
            out.push(']');
            copied = region.end;
        }
        out.push_str(&text[copied..]);
        out
    }
}

impl Redact for CaseSecrets<'_> {
    fn redact(&self, text: &str) -> String {
        let mut text = self.scope.redact(text);
        if let Some(short) = &self.short {
            text = short.redact(&text);
        }
        if !self.tiny.is_empty() {
            text = self.redact_tiny(&text);
        }
        text
    }
}

/// Header names whose values are credentials: shown as `[redacted]` (keeping the scheme).
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// Form and JSON field names whose values are credentials: shown as `[redacted]` wherever a body
/// is shown, whether or not the value is a known secret (a token the run never captured is one).
pub const CREDENTIAL_FIELDS: &[&str] = &[
    "password",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "access_token",
    "id_token",
    "assertion",
    "code",
    "token",
    "secret",
];

/// Returns true when a form or JSON field of this name holds a credential.
pub fn is_credential_field(name: &str) -> bool {
    CREDENTIAL_FIELDS.contains(&name)
}

/// Replaces the values of credential fields, at any depth, by `"[redacted]"`.
pub fn redact_credential_fields(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_credential_field(k) {
                    *v = serde_json::Value::String("[redacted]".into());
                } else {
                    redact_credential_fields(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_credential_fields),
        _ => {}
    }
}

/// Returns a body with its credential fields redacted when it is JSON or a form; as it is
/// otherwise.
pub fn redact_credential_text(body: &str) -> String {
    let trimmed = body.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(body)
    {
        redact_credential_fields(&mut value);
        return value.to_string();
    }
    let looks_like_form = !body.is_empty()
        && !body.contains(char::is_whitespace)
        && body.split('&').all(|pair| pair.contains('='));
    if looks_like_form {
        let pairs = url::form_urlencoded::parse(body.as_bytes());
        if pairs.clone().any(|(k, _)| is_credential_field(&k)) {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                out.append_pair(
                    &k,
                    if is_credential_field(&k) {
                        "[redacted]"
                    } else {
                        &v
                    },
                );
            }
            return out.finish();
        }
    }
    body.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry_with(name: &str, value: &str) -> SecretRegistry {
        let registry = SecretRegistry::new();
        registry.register(&Secret::new(name.parse().unwrap(), value));
        registry
    }

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("client_secret".parse().unwrap(), "CANARY-debug");
        assert_eq!(format!("{secret:?}"), "Secret(client_secret, [redacted])");
    }

    #[test]
    fn redacts_the_value_and_its_derived_forms() {
        let registry = registry_with("password", "p@ss word/£");
        let encoded = STANDARD.encode("p@ss word/£");
        let text =
            format!("a p@ss word/£ b {encoded} c p%40ss+word%2F%C2%A3 d p%40ss%20word%2F%C2%A3");
        let redacted = registry.redact(&text);
        assert_eq!(
            redacted,
            "a [redacted:password] b [redacted:password] c [redacted:password] d [redacted:password]"
        );
        assert!(registry.is_clean(&redacted));
        assert!(!registry.is_clean(&text));
    }

    #[test]
    fn a_value_escaped_inside_json_is_redacted() {
        let registry = registry_with("username", "a\"quoted\"\\user");
        assert_eq!(
            registry.redact(r#"{"user":"a\"quoted\"\\user"}"#),
            r#"{"user":"[redacted:username]"}"#
        );
    }

    #[test]
    fn jwt_payload_and_signature_are_redacted_alone() {
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
        let registry = registry_with("access_token", token);
        assert_eq!(
            registry.redact("claims eyJzdWIiOiJhbGljZSJ9 sig c2lnbmF0dXJlLWJ5dGVz"),
            "claims [redacted:access_token] sig [redacted:access_token]"
        );
    }

    /// A value with two dots that is not a JWT (a claims text cut inside a URL's host) is not
    /// split: its middle part, `silverflow` here, is an ordinary word found everywhere.
    #[test]
    fn a_value_with_two_dots_is_split_only_when_it_is_a_jwt() {
        let cut = r#"{"agentKey":"cgt-1wtRvF","iss":"https://api.silverflow.co"#;
        let registry = registry_with("generated", cut);
        assert_eq!(
            registry.redact("provider silverflow"),
            "provider silverflow"
        );
        assert!(registry.redact(cut).contains("[redacted:generated]"));
        // Base64url parts whose first is no JOSE header: not a JWT either.
        let dotted = "bm90LWEtaGVhZGVy.c2lsdmVyZmxvdy1wYXJ0.c2lnbmF0dXJlLWJ5dGVz";
        let registry = registry_with("opaque", dotted);
        assert_eq!(
            registry.redact("c2lsdmVyZmxvdy1wYXJ0"),
            "c2lsdmVyZmxvdy1wYXJ0"
        );
        assert_eq!(registry.redact(dotted), "[redacted:opaque]");
    }

    #[test]
    fn short_values_are_not_redacted_by_value() {
        let registry = registry_with("pin", "abc");
        assert_eq!(registry.redact("abc"), "abc");
    }

    #[test]
    fn credential_fields_are_redacted_in_json_and_forms() {
        let json = redact_credential_text(
            r#"{"access_token":"abc","nested":[{"refresh_token":"x","n":1}]}"#,
        );
        assert_eq!(
            json,
            r#"{"access_token":"[redacted]","nested":[{"n":1,"refresh_token":"[redacted]"}]}"#
        );
        let form = redact_credential_text("grant_type=password&password=hunter2&username=bob");
        assert_eq!(
            form,
            "grant_type=password&password=%5Bredacted%5D&username=bob"
        );
        assert_eq!(redact_credential_text("plain text"), "plain text");
    }

    /// A value every encoder writes differently: space, `~ * : / \ " '`, non-ASCII, `+ % & < >`.
    const TRICKY: &str = r#"CANARY ~*:/\"'()!é+%&<>"#;

    /// Asserts that every one of `forms`, written inside other text, is redacted as `name`.
    fn assert_redacts(registry: &SecretRegistry, name: &str, forms: &[(&str, &str)]) {
        for (how, form) in forms {
            let text = format!("before {form} after");
            let redacted = registry.redact(&text);
            assert_eq!(
                redacted,
                format!("before [redacted:{name}] after"),
                "{how}: `{form}`"
            );
            assert!(!registry.is_clean(&text), "{how}: is_clean agrees");
            assert!(registry.is_clean(&redacted), "{how}: the result is clean");
        }
    }

    #[test]
    fn hex_and_case_changed_copies_are_redacted() {
        let registry = registry_with("password", TRICKY);
        let hex = "43414e415259207e2a3a2f5c2227282921c3a92b25263c3e";
        assert_redacts(
            &registry,
            "password",
            &[
                ("hex, lower case", hex),
                ("hex, upper case", &hex.to_ascii_uppercase()),
                ("upper-cased", &TRICKY.to_uppercase()),
                ("lower-cased", &TRICKY.to_lowercase()),
            ],
        );
    }

    #[test]
    fn every_percent_encoding_is_redacted() {
        // Written by the named implementations (Python 3.12, Node 22, OpenJDK 21; PHP by its
        // documented set: all but letters, digits and `-_.`).
        let registry = registry_with("password", TRICKY);
        let forms = [
            (
                "Python quote_plus",
                "CANARY+~%2A%3A%2F%5C%22%27%28%29%21%C3%A9%2B%25%26%3C%3E",
            ),
            (
                "Java URLEncoder, WHATWG URLSearchParams",
                "CANARY+%7E*%3A%2F%5C%22%27%28%29%21%C3%A9%2B%25%26%3C%3E",
            ),
            (
                "PHP urlencode",
                "CANARY+%7E%2A%3A%2F%5C%22%27%28%29%21%C3%A9%2B%25%26%3C%3E",
            ),
            (
                "PHP rawurlencode",
                "CANARY%20~%2A%3A%2F%5C%22%27%28%29%21%C3%A9%2B%25%26%3C%3E",
            ),
            (
                "Python quote",
                "CANARY%20~%2A%3A/%5C%22%27%28%29%21%C3%A9%2B%25%26%3C%3E",
            ),
            (
                "encodeURIComponent",
                "CANARY%20~*%3A%2F%5C%22'()!%C3%A9%2B%25%26%3C%3E",
            ),
            ("encodeURI", "CANARY%20~*:/%5C%22'()!%C3%A9+%25&%3C%3E"),
            (
                "a browser's URL pathname (`\\` read as `/`)",
                "CANARY%20~*://%22'()!%C3%A9+%&%3C%3E",
            ),
            (
                "lower-case escapes",
                "CANARY+%7e*%3a%2f%5c%22%27%28%29%21%c3%a9%2b%25%26%3c%3e",
            ),
        ];
        assert_redacts(&registry, "password", &forms);
        let mut url = url::Url::parse("http://h/").unwrap();
        url.path_segments_mut().unwrap().push("x");
        let base = url.as_str().len() - 1;
        url.set_path(&format!("/{TRICKY}"));
        assert_redacts(
            &registry,
            "password",
            &[("the url crate's path", &url.as_str()[base..])],
        );
    }

    #[test]
    fn json_escaped_once_twice_and_three_times_is_redacted() {
        let registry = registry_with("password", TRICKY);
        let minimal = serde_json::to_string(TRICKY).unwrap();
        // Written by Python 3.12's json.dumps (httpbin's `data` is our JSON body, itself
        // escaping the value, in Python's JSON), Node 22's JSON.stringify, PHP and Go's rules.
        assert_redacts(
            &registry,
            "password",
            &[
                ("serde_json", &minimal[1..minimal.len() - 1]),
                ("Python json.dumps", r#"CANARY ~*:/\\\"'()!\u00e9+%&<>"#),
                (
                    "our body in httpbin's data",
                    r#"CANARY ~*:/\\\\\\\"'()!\u00e9+%&<>"#,
                ),
                (
                    "httpbin's answer echoed by httpbin",
                    r#"CANARY ~*:/\\\\\\\\\\\\\\\"'()!\\u00e9+%&<>"#,
                ),
                ("JSON.stringify twice", r#"CANARY ~*:/\\\\\\\"'()!é+%&<>"#),
                ("PHP json_encode", r#"CANARY ~*:\/\\\"'()!\u00e9+%&<>"#),
                (
                    "Go encoding/json",
                    r#"CANARY ~*:/\\\"'()!é+%\u0026\u003c\u003e"#,
                ),
            ],
        );
    }

    #[test]
    fn base64_inside_a_longer_blob_is_redacted_at_every_alignment() {
        let registry = registry_with("api_key", TRICKY);
        for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for before in ["", "a", "ab", "abc", "abcd"] {
                for after in ["", "x", "xy", "xyz"] {
                    let blob = engine.encode(format!("{before}{TRICKY}{after}"));
                    let redacted = registry.redact(&blob);
                    assert!(
                        redacted.contains("[redacted:api_key]") && registry.is_clean(&redacted),
                        "`{before}` + value + `{after}`: {blob} → {redacted}"
                    );
                    // Only characters that also encode a neighbouring byte survive: at most
                    // the neighbours' characters, one shared character and padding each side.
                    let kept = redacted.len() - "[redacted:api_key]".len();
                    let neighbours = engine.encode(before).len() + engine.encode(after).len();
                    assert!(kept <= neighbours + 6, "{blob} → {redacted}");
                }
            }
        }
    }

    #[test]
    fn the_pair_basic_sends_is_redacted_in_every_form() {
        let registry = SecretRegistry::new();
        registry.register_value("basic_credentials", "CANARY-user:p@ss wörd");
        let header = STANDARD.encode("CANARY-user:p@ss wörd");
        assert_redacts(
            &registry,
            "basic_credentials",
            &[
                ("Basic header", &header),
                ("URL-safe", &URL_SAFE_NO_PAD.encode("CANARY-user:p@ss wörd")),
                ("form", "CANARY-user%3Ap%40ss+w%C3%B6rd"),
                ("upper-cased", "CANARY-USER:P@SS WÖRD"),
            ],
        );
    }

    #[test]
    fn overlapping_secrets_leave_no_tail() {
        let registry = SecretRegistry::new();
        registry.register_value("first", "abcdefghij");
        registry.register_value("second", "fghijklmnopqrst");
        assert_eq!(
            registry.redact("<abcdefghijklmnopqrst>"),
            "<[redacted:second]>",
            "one marker over both, named after the longest match"
        );
        assert_eq!(
            registry.redact("abcdefghij fghijklmnopqrst"),
            "[redacted:first] [redacted:second]"
        );
    }

    #[test]
    fn markers_are_not_redacted_again() {
        // Values that are also words of a marker: redaction stays idempotent and clean.
        let registry = SecretRegistry::new();
        registry.register_value("password", "password");
        registry.register_value("token", "redacted");
        let once = registry.redact("password=password; redacted");
        assert_eq!(
            once,
            "[redacted:password]=[redacted:password]; [redacted:token]"
        );
        assert_eq!(registry.redact(&once), once);
        assert!(registry.is_clean(&once));
        assert!(registry.is_clean("[redacted] [redacted:password]"));
        assert!(!registry.is_clean("[redacted:password] password"));
    }

    #[test]
    fn is_clean_agrees_with_redact() {
        let registry = registry_with("password", TRICKY);
        registry.register_value("token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_sig");
        let texts = [
            String::new(),
            "nothing here".into(),
            TRICKY.into(),
            STANDARD.encode(format!("x{TRICKY}")),
            "EYJZDWIIOIJHIN0".into(),
            "eyJzdWIiOiJhIn0".into(),
            "[redacted:password]".into(),
        ];
        for text in texts {
            assert_eq!(
                registry.is_clean(&text),
                registry.redact(&text) == text,
                "`{text}`"
            );
        }
    }

    #[test]
    fn a_cut_never_splits_a_marker() {
        let text = "0123[redacted:password]tail";
        for max in 5..23 {
            assert_eq!(prefix_outside_markers(text, max), "0123", "cut at {max}");
        }
        assert_eq!(prefix_outside_markers(text, 23), "0123[redacted:password]");
        assert_eq!(prefix_outside_markers(text, 4), "0123");
        assert_eq!(prefix_outside_markers(text, 100), text);
        assert_eq!(
            prefix_outside_markers("aé", 2),
            "a",
            "on a character boundary"
        );
    }

    #[test]
    fn many_secrets_and_a_long_text_stay_fast() {
        let registry = SecretRegistry::new();
        let step_text = "HTTP/1.1 200 OK, a body of some length ".repeat(50);
        let started = std::time::Instant::now();
        // A run registers a token per capture and redacts what each step shows (a full run of
        // the mock suite registers a few hundred values).
        for i in 0..1_000 {
            registry.register_value("access_token", &format!("tok-{i:05}-{}", "Zq9".repeat(12)));
            assert!(registry.is_clean(&step_text));
        }
        let registering = started.elapsed();
        let text = format!(
            "{}tok-00999-{}",
            "lorem ipsum dolor sit amet ".repeat(40_000),
            "Zq9".repeat(12)
        );
        let started = std::time::Instant::now();
        let redacted = registry.redact(&text);
        let scanning = started.elapsed();
        assert!(redacted.ends_with("ipsum dolor sit amet [redacted:access_token]"));
        // Generous bounds for a test build on a busy machine (about 1.3 s and 0.2 s here); one
        // rebuild of every automaton per registration, or one search per needle, takes far longer.
        assert!(
            registering < std::time::Duration::from_secs(10),
            "1,000 registrations, each followed by a redaction, took {registering:?}"
        );
        assert!(
            scanning < std::time::Duration::from_secs(2),
            "a 1 MB text against 1,000 secrets took {scanning:?}"
        );
    }

    /// Returns how many needles the registry holds and how many needles its automata were built
    /// over in all (each rebuild counting again).
    fn build_counts(registry: &SecretRegistry) -> (usize, usize) {
        let state = registry.state.read().unwrap();
        (state.needles.len(), state.needles_built)
    }

    fn automata_scanned(registry: &SecretRegistry) -> usize {
        registry.matcher().unwrap().automata.len()
    }

    fn token(i: usize) -> String {
        format!("tok-{i:05}-{}", "Zq9".repeat(12))
    }

    #[test]
    fn a_token_per_step_rebuilds_each_needle_a_logarithmic_number_of_times() {
        let registry = SecretRegistry::new();
        let n = 512;
        for i in 0..n {
            registry.register_value("access_token", &token(i));
            assert!(registry.is_clean("a step's transcript, shown after the capture"));
            // One generation per set bit of the number of registrations, two automata each.
            let generations = (i + 1).count_ones() as usize;
            assert!(automata_scanned(&registry) <= 2 * generations, "after {i}");
        }
        let (needles, built) = build_counts(&registry);
        // Binary-counter merging builds each needle at most log2(n) + 1 times; rebuilding on
        // every registration would build each about n / 2 times.
        let bound = needles * (n.ilog2() as usize + 1);
        assert!(
            built <= bound,
            "{built} needles built for {needles} (bound {bound})"
        );
        assert!(built >= needles);
    }

    #[test]
    fn scanning_after_the_captures_merges_the_generations_into_one() {
        let registry = SecretRegistry::new();
        for i in 0..300 {
            registry.register_value("access_token", &token(i));
            assert!(registry.is_clean("a step's transcript"));
        }
        assert!(automata_scanned(&registry) > 2);
        let (needles, built_in_the_run) = build_counts(&registry);
        let needle_bytes = registry.state.read().unwrap().needle_bytes;
        // Report writing: many scans and no registration. Each scan visits at least one
        // automaton too many, so the merge comes once the excess pays for one build.
        let text = "an evidence string of some length, ".repeat(100);
        let scans_to_pay = SCANNED_PER_BUILT_BYTE * needle_bytes / text.len() + 1;
        let mut scans = 0;
        while automata_scanned(&registry) > 2 {
            assert!(registry.is_clean(&text));
            scans += 1;
            assert!(scans <= scans_to_pay, "no merge after {scans} scans");
        }
        // One rebuild over every needle, then none however much more is scanned.
        assert_eq!(
            build_counts(&registry),
            (needles, built_in_the_run + needles)
        );
        for _ in 0..scans_to_pay {
            assert!(registry.is_clean(&text));
        }
        assert_eq!(
            build_counts(&registry),
            (needles, built_in_the_run + needles)
        );
        // Still every secret is found, the first and the last registered.
        let shown = format!("first {} last {}", token(0), token(299));
        assert_eq!(
            registry.redact(&shown),
            "first [redacted:access_token] last [redacted:access_token]"
        );
        // A registration after the merge gets a generation of its own, not a rebuild of all.
        registry.register_value("access_token", &token(300));
        assert!(registry.redact(&token(300)).starts_with("[redacted:"));
        let (after, built) = build_counts(&registry);
        assert_eq!(built, built_in_the_run + needles + (after - needles));
    }

    #[test]
    fn a_value_registered_again_is_neither_derived_nor_built_again() {
        let registry = SecretRegistry::new();
        for _ in 0..100 {
            registry.register_value("access_token", &token(7));
            assert!(registry.is_clean("a step's transcript"));
        }
        let (needles, built) = build_counts(&registry);
        assert_eq!(built, needles);
        assert_eq!(automata_scanned(&registry), 2);
        // The same value under another name is a registration of its own.
        registry.register_value("refresh_token", &token(7));
        assert_eq!(registry.state.read().unwrap().registered.len(), 2);
    }

    /// The hits of `searcher` in `text`, sorted.
    fn hits_of(searcher: &Searcher, text: &str) -> Vec<(usize, usize, usize)> {
        let mut hits = Vec::new();
        searcher
            .for_each_match(text, |start, end, pattern| hits.push((start, end, pattern)))
            .unwrap();
        hits.sort_unstable();
        hits
    }

    #[test]
    fn a_few_needles_are_found_exactly_where_the_automaton_finds_them() {
        let needles = ["abab", "baba", "ÄbC-xyz", "Zq9Zq9", "q9Zq"];
        let texts = [
            "abababab and BABAB, äbc-XYZ ÄBC-XYZ Äbc-Xyz",
            "zq9zq9zq9 ZQ9ZQ9 Zq9Zq9Zq9 xq9zqx",
            "nothing here",
            "ababa",
        ];
        for any_case in [false, true] {
            let automaton = Searcher::Automaton(
                WindowAutomaton::new(needles.iter().map(|&n| n.into()).collect(), any_case)
                    .unwrap(),
            );
            let few = Searcher::few(needles.iter().map(|n| n.as_bytes()), any_case);
            for text in texts {
                let found = hits_of(&few, text);
                assert_eq!(
                    found,
                    hits_of(&automaton, text),
                    "{text:?}, any case {any_case}"
                );
                assert_eq!(few.is_match(text), !found.is_empty(), "{text:?}");
            }
        }
        // Overlapping occurrences of one needle are each found: `abab` at 0, 2 and 4.
        let few = Searcher::few(["abab".as_bytes()].into_iter(), false);
        assert_eq!(
            hits_of(&few, "abababab"),
            vec![(0, 4, 0), (2, 6, 0), (4, 8, 0)]
        );
    }

    /// Every (start, end, needle index) of `needles` in `text`, found one needle and one byte
    /// at a time, sorted.
    fn naive_hits(needles: &[&str], text: &str, any_case: bool) -> Vec<(usize, usize, usize)> {
        let text = text.as_bytes();
        let mut hits = Vec::new();
        for (index, needle) in needles.iter().enumerate() {
            let needle = needle.as_bytes();
            for start in 0..=text.len().saturating_sub(needle.len()) {
                let candidate = &text[start..start + needle.len()];
                if candidate == needle || (any_case && candidate.eq_ignore_ascii_case(needle)) {
                    hits.push((start, start + needle.len(), index));
                }
            }
        }
        hits.sort_unstable();
        hits
    }

    #[test]
    fn needles_longer_than_a_window_are_found_whole_and_only_whole() {
        let key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        assert!(key.len() > WINDOW_LEN);
        let end = &key[key.len() - WINDOW_LEN..];
        // Needles sharing their first bytes, their last bytes, or both with another.
        let shorter = &key[..WINDOW_LEN + 4];
        let same_start = format!("{}-another-ending", &key[..WINDOW_LEN]);
        let same_end = format!("another-start-{end}");
        let same_both = format!("{}+{end}", &key[..WINDOW_LEN]);
        let needles = [
            key,
            shorter,
            same_start.as_str(),
            same_end.as_str(),
            same_both.as_str(),
            "short-one-token",
        ];
        let cut_start = &key[1..];
        let cut_end = &key[..key.len() - 1];
        let texts = [
            format!("a {key} b {} c {same_start} d", key.to_ascii_lowercase()),
            format!("{cut_end}| {cut_start} {same_end}{same_both}short-one-token"),
            format!("{key}{key}{}", key.to_ascii_uppercase()),
            format!("{end} {} only windows", &key[..WINDOW_LEN]),
        ];
        for any_case in [false, true] {
            let automaton = Searcher::Automaton(
                WindowAutomaton::new(needles.iter().map(|&n| n.into()).collect(), any_case)
                    .unwrap(),
            );
            let few = Searcher::few(needles.iter().map(|n| n.as_bytes()), any_case);
            for text in &texts {
                let expected = naive_hits(&needles, text, any_case);
                assert_eq!(
                    hits_of(&automaton, text),
                    expected,
                    "{text:?}, any case {any_case}"
                );
                assert_eq!(hits_of(&few, text), expected, "few: {text:?}, {any_case}");
            }
        }
        // Through a registry: a long secret's forms are redacted whole, a window alone is not.
        let registry = registry_with("private_key", key);
        assert_eq!(
            registry.redact(&format!("[{key}] [{end}]")),
            format!("[[redacted:private_key]] [{end}]")
        );
    }

    #[test]
    fn needles_sharing_a_beginning_or_an_end_get_windows_of_their_own() {
        // Tokens of one issuer share a JWT header longer than a window; PEM keys share both ends.
        let header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.";
        let mut needles: Vec<String> = (0..1000)
            .map(|i| format!("{header}{i:08x}-signature-of-token-{i:05}"))
            .collect();
        needles.extend((0..1000).map(|i| {
            format!("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B{i:024x}AASCBKcwggSjAgEAAoIB\n-----END PRIVATE KEY-----\n")
        }));
        let automaton =
            WindowAutomaton::new(needles.iter().map(|n| n.as_str().into()).collect(), false)
                .unwrap();
        assert!(
            automaton.completions.iter().all(|c| c.len() == 1),
            "a window shared by {} needles",
            automaton
                .completions
                .iter()
                .map(|c| c.len())
                .max()
                .unwrap_or(0)
        );
        let text = format!("x {} y {} z", needles[7], needles[1500]);
        let searcher = Searcher::Automaton(automaton);
        let found: Vec<usize> = hits_of(&searcher, &text).iter().map(|h| h.2).collect();
        assert_eq!(found, vec![7, 1500]);
    }

    #[test]
    fn encodings_said_to_keep_plain_values_write_them_unchanged() {
        let every_plain_byte: String = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .chain(*b"-._")
            .map(char::from)
            .collect();
        let samples = [
            every_plain_byte.as_str(),
            "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
            "tok-00042-Zq9Zq9Zq9",
        ];
        for encoding in ENCODINGS.iter().filter(|e| e.keeps_plain) {
            for sample in samples {
                for form in (encoding.encode)(sample) {
                    assert_eq!(form, sample, "{}", encoding.name);
                }
            }
        }
        // A value with any other character is not plain: its forms are all derived.
        for other in [" ", "~", "/", "&", "é", "+"] {
            let value = format!("tok-{other}-Zq9Zq9Zq9");
            let forms = derived_forms(&value);
            assert!(
                forms.iter().any(|(form, _)| form.contains('%')),
                "{value:?} has no percent-encoded form"
            );
        }
    }

    #[test]
    fn json_escapes_names_exactly_the_characters_json_escape_changes() {
        let sample = (0u32..0x300)
            .chain([0x2028, 0x2029, 0xfeff, 0x1f600])
            .filter_map(char::from_u32);
        for c in sample {
            for style in JSON_STYLES {
                let alone = c.to_string();
                assert_eq!(
                    json_escapes(c, *style),
                    json_escape(&alone, *style) != alone,
                    "U+{:04X}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn backspace_and_form_feed_are_found_as_json_writers_escape_them() {
        let value = "pass\u{8}word\u{c}end";
        let registry = registry_with("password", value);
        // serde_json writes `\b` and `\f`, as JavaScript, Python and PHP do; older Go `\u0008`.
        let echoed = serde_json::to_string(&serde_json::json!({ "data": value })).unwrap();
        assert!(echoed.contains("\\b") && echoed.contains("\\f"), "{echoed}");
        assert_eq!(
            registry.redact(&echoed),
            r#"{"data":"[redacted:password]"}"#
        );
        let go = r"pass\u0008word\u000cend";
        assert_eq!(registry.redact(go), "[redacted:password]");
    }

    fn scope_of(run: &Arc<SecretRegistry>) -> SecretScope {
        SecretScope::new(run.clone(), run.base().as_ref())
    }

    #[test]
    fn a_scope_redacts_the_fixed_secrets_and_its_own_and_tells_the_run() {
        let run = Arc::new(registry_with("client_secret", "fixed-client-secret"));
        let scope = scope_of(&run);
        scope.register_value("access_token", &token(1));
        let text = format!(
            "{} and {}",
            "fixed-client-secret",
            STANDARD.encode(token(1))
        );
        assert_eq!(
            scope.redact(&text),
            "[redacted:client_secret] and [redacted:access_token]"
        );
        assert!(!scope.is_clean(&text));
        // The run's registry, which the sinks use, learnt the capture too.
        assert_eq!(
            run.redact(&text),
            "[redacted:client_secret] and [redacted:access_token]"
        );
    }

    #[test]
    fn a_scope_scans_its_base_and_its_own_values_whatever_the_run_holds() {
        let run = Arc::new(registry_with("client_secret", "fixed-client-secret"));
        let base = run.base().unwrap();
        for i in 0..300 {
            let scope = SecretScope::new(run.clone(), Some(&base));
            scope.register_value("access_token", &token(i));
            assert_eq!(scope.redact(&token(i)), "[redacted:access_token]");
            // The base's automaton and the scenario's own: never one per earlier scenario.
            let own = scope.own.as_ref().unwrap();
            assert_eq!(
                own.matcher().unwrap().automata.len(),
                base.0.len() + 2,
                "scope {i}"
            );
            // Another scenario's token is not this scope's to redact; the run's registry is.
            if i > 0 {
                assert!(scope.is_clean(&token(i - 1)));
            }
        }
        // The run derived each value once and built no automaton for the captures while they
        // ran: its one build comes when a sink first redacts through it.
        assert_eq!(run.state.read().unwrap().registered.len(), 301);
        let built_before_the_sinks = build_counts(&run).1;
        assert_eq!(run.redact(&token(150)), "[redacted:access_token]");
        let (needles, built) = build_counts(&run);
        assert_eq!(
            built - built_before_the_sinks,
            needles,
            "one build over every needle"
        );
    }

    #[test]
    fn a_value_another_scope_registered_is_looked_up_not_derived_again() {
        let run = Arc::new(SecretRegistry::new());
        let base = run.base().unwrap();
        let first = SecretScope::new(run.clone(), Some(&base));
        first.register_value("access_token", &token(3));
        // The forms of the one value `registry` holds.
        let only_forms = |registry: &SecretRegistry| {
            let state = registry.state.read().unwrap();
            assert_eq!(state.registered.len(), 1);
            state.registered.values().next().unwrap().clone()
        };
        let forms = only_forms(&run);
        let second = SecretScope::new(run.clone(), Some(&base));
        second.register_value("access_token", &token(3));
        let again = only_forms(second.own.as_ref().unwrap());
        assert!(Arc::ptr_eq(&forms, &again), "the forms were derived again");
        assert_eq!(second.redact(&token(3)), "[redacted:access_token]");
    }

    #[test]
    fn a_scope_without_a_base_redacts_through_the_run() {
        let run = Arc::new(registry_with("client_secret", "fixed-client-secret"));
        let other = scope_of(&run);
        other.register_value("access_token", &token(9));
        let scope = SecretScope::new(run.clone(), None);
        assert_eq!(
            scope.redact(&format!("fixed-client-secret {}", token(9))),
            "[redacted:client_secret] [redacted:access_token]"
        );
    }

    /// The forms of `value` as they were derived before the shortcuts: every encoding of every
    /// spelling, each form JSON-escaped in every style, one to three times.
    fn forms_without_shortcuts(value: &str) -> std::collections::BTreeSet<(String, bool)> {
        let spellings = [value.to_owned(), value.to_uppercase(), value.to_lowercase()];
        let mut forms = std::collections::BTreeSet::new();
        for encoding in ENCODINGS {
            let spellings = if encoding.any_case {
                &spellings[..]
            } else {
                &spellings[..1]
            };
            for form in spellings.iter().flat_map(|v| (encoding.encode)(v)) {
                let mut level = vec![form];
                for _ in 0..=JSON_DEPTH {
                    let mut next = Vec::new();
                    for text in &level {
                        if text.len() >= MIN_REDACTABLE_LEN {
                            let key = if encoding.any_case {
                                text.to_ascii_lowercase()
                            } else {
                                text.clone()
                            };
                            forms.insert((key, encoding.any_case));
                        }
                        for style in JSON_STYLES {
                            next.push(json_escape(text, *style));
                        }
                    }
                    level = next;
                }
            }
        }
        forms
    }

    #[test]
    fn the_shortcuts_derive_every_form_the_full_derivation_does() {
        let claims = r#"{"sub":"CANARY-claims","iss":"https://issuer.example/realms/x","aud":["a&b"],"exp":1900000000}"#;
        let values = [
            TRICKY,
            claims,
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz",
            "plain-Token_0042.x",
            "a/b<c>&d\u{8}e\u{c}f\u{2028}g",
            "Äpfel/Birnen café",
        ];
        for value in values {
            let derived: std::collections::BTreeSet<(String, bool)> = derived_forms(value)
                .into_iter()
                .map(|(form, any_case)| {
                    let key = if any_case {
                        form.to_ascii_lowercase()
                    } else {
                        form
                    };
                    (key, any_case)
                })
                .collect();
            assert_eq!(derived, forms_without_shortcuts(value), "{value:?}");
        }
    }

    #[test]
    fn an_ascii_values_case_copies_are_written_as_its_own_forms_in_another_case() {
        let samples = [
            "CANARY ~*:/\\\"'()!+%&<>",
            "Mixed-Case_Token.42",
            "a b+c%d&e<f>\"g\\h/i\u{1}",
        ];
        for encoding in ENCODINGS.iter().filter(|e| e.any_case) {
            let mut all_same = true;
            for sample in samples {
                let own = (encoding.encode)(sample);
                for copy in [sample.to_ascii_uppercase(), sample.to_ascii_lowercase()] {
                    let forms = (encoding.encode)(&copy);
                    all_same &= forms.len() == own.len()
                        && forms
                            .iter()
                            .zip(&own)
                            .all(|(a, b)| a.eq_ignore_ascii_case(b));
                }
            }
            // Hex writes a letter's code: the one encoding whose copies differ.
            assert_eq!(all_same, encoding.follows_case, "{}", encoding.name);
        }
    }

    #[test]
    fn a_json_style_skipped_writes_the_text_as_an_earlier_style_does() {
        let texts = [
            TRICKY,
            "plain",
            "a/b",
            "<&>",
            "x\u{8}y",
            "x\u{c}y",
            "é",
            "\u{2028}",
            "\"q\"\\",
            "tab\there",
        ];
        for text in texts {
            let classes = JsonClasses::of(text);
            for (at, style) in JSON_STYLES.iter().enumerate() {
                let written = json_escape(text, *style);
                if classes.writes_as_an_earlier_style(*style) {
                    assert!(
                        JSON_STYLES[..at]
                            .iter()
                            .any(|earlier| json_escape(text, *earlier) == written),
                        "{text:?}, style {at}"
                    );
                }
                let inert =
                    written == text && JSON_STYLES.iter().all(|s| json_escape(text, *s) == text);
                if classes.inert {
                    assert!(inert, "{text:?} is said to be inert");
                }
            }
        }
    }

    #[test]
    fn a_case_redacts_its_short_values_where_they_stand_alone() {
        let run = Arc::new(registry_with("api_key", "echoed-canary-5f2a7c19e3"));
        let scope = scope_of(&run);
        let values = ["ech".to_owned(), "echoed-c".to_owned(), String::new()];
        let case = CaseSecrets::new(&scope, "generated_credentials", &values);
        assert!(case.holds_short_values());
        // The tiny value alone, in any case; not inside words such as `echoes` or `techno`.
        assert_eq!(
            case.redact(r#"{"you_sent":"ECH"} echoes techno <<ech>>"#),
            r#"{"you_sent":"[redacted:generated_credentials]"} echoes techno <<[redacted:generated_credentials]>>"#
        );
        // A value of 4 bytes or more wherever it is, and in its derived forms (hex here); the
        // run's secrets as the scope redacts them.
        assert_eq!(
            case.redact("a echoed-cXY b 6563686f65642d63 c echoed-canary-5f2a7c19e3"),
            "a [redacted:generated_credentials]XY b [redacted:generated_credentials] c [redacted:api_key]"
        );
        // Markers are left whole, and a second pass changes nothing.
        let once = case.redact("[redacted:ech] ech");
        assert_eq!(once, "[redacted:ech] [redacted:generated_credentials]");
        assert_eq!(case.redact(&once), once);
        // The run knows none of them: they would blank ordinary words in every report.
        assert_eq!(run.redact("echoed-c ech"), "echoed-c ech");
        // A case with no short value redacts as its scope does.
        let plain = CaseSecrets::new(&scope, "generated_credentials", &[]);
        assert!(!plain.holds_short_values());
        assert_eq!(plain.redact("ech echoed-c"), "ech echoed-c");
    }

    #[test]
    fn rejects_names_with_spaces() {
        assert!("client secret".parse::<SecretName>().is_err());
    }
}
