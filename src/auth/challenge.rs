//! The failure contracts of authentication responses: [`Challenge`]s from `WWW-Authenticate`
//! (RFC 9110 §11.6.1, grammar of §11.3 and RFC 7235), OAuth 2.0 error bodies ([`OAuthError`],
//! RFC 6749 §5.2 and RFC 6750 §3.1) and problem details ([`Problem`], RFC 9457, which obsoletes
//! RFC 7807).
//!
//! Everything here is a pure function over bytes or text: no I/O, and no panic on any input
//! (property-tested below). Each parser returns the parsed value or an error saying what was
//! expected and where, a byte offset for the header and a member name for the bodies:
//!
//! ```text
//! expected `,` or end of value after auth parameter `realm`, found `c` at byte 18
//! member `status`: expected an integer from 100 to 599, found the string "401"
//! ```
//!
//! The parsers check what the RFCs require of the sender, because the sender is what a
//! conformance suite judges: a duplicate auth parameter, a parameter that belongs to no challenge
//! or a problem member of the wrong type is an error here, where a lenient client would skip it.

use serde_json::{Map, Value};

/// The `type` a problem details object has when it names none (RFC 9457 §3.1.1).
pub const ABOUT_BLANK: &str = "about:blank";

/// One challenge from a `WWW-Authenticate` (or `Proxy-Authenticate`) header value.
///
/// A challenge carries either a `token68` or parameters, never both. `Bearer` alone has neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (`Basic`, `bearer`, …); compare it with [`Challenge::is_scheme`].
    pub scheme: String,
    /// The token68 form of the challenge's data (`Negotiate a87421000492aa874209af8bc028`).
    pub token68: Option<String>,
    /// The auth parameters in the order sent: names lowercased, values unquoted and unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Tells whether this challenge uses `scheme`, ignoring ASCII case as RFC 9110 §11.1 says.
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// Returns the value of the parameter `name`, ignoring ASCII case in the name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A `WWW-Authenticate` value that does not follow the RFC 9110 grammar.
///
/// `offset` is the byte offset in the value where the problem was found (for an unterminated
/// quoted string, the opening quote). `value` is the 0-based index of the header value when the
/// error comes from [`parse_all`], and is printed 1-based:
///
/// ```text
/// expected `"` to close the quoted string, found end of value at byte 12 of header value 2
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}{}", value_suffix(.value))]
pub struct ChallengeError {
    /// The byte offset in the header value.
    pub offset: usize,
    /// The index of the header value among those given to [`parse_all`], if it came from there.
    pub value: Option<usize>,
    /// What was wrong.
    pub kind: ChallengeErrorKind,
}

fn value_suffix(value: &Option<usize>) -> String {
    match value {
        Some(index) => format!(" of header value {}", index.saturating_add(1)),
        None => String::new(),
    }
}

/// What was wrong in a `WWW-Authenticate` value. `found` fields describe the input at the
/// error's offset: `` `=` ``, `end of value`, `control character 0x0a`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeErrorKind {
    /// No auth scheme where a challenge must start (also: an empty value).
    #[error("expected an auth scheme, found {found}")]
    ExpectedScheme {
        /// What was there instead.
        found: String,
    },
    /// `name=value` where a challenge must start: a parameter with no scheme before it, or after
    /// a scheme followed directly by `,` (parameters follow their scheme after a space).
    #[error("expected an auth scheme, found auth parameter `{name}` belonging to no challenge")]
    ParamWithoutChallenge {
        /// The parameter's name, lowercased.
        name: String,
    },
    /// `name=value` after a token68 challenge: a challenge has a token68 or parameters, not both.
    #[error(
        "expected an auth scheme after a token68 challenge, found auth parameter `{name}` \
         (a challenge has either a token68 or parameters)"
    )]
    ParamAfterToken68 {
        /// The parameter's name, lowercased.
        name: String,
    },
    /// The auth scheme is followed by something other than a space, `,` or the end.
    #[error("expected a space, `,` or end of value after auth scheme `{scheme}`, found {found}")]
    ExpectedSpaceAfterScheme {
        /// The scheme as sent.
        scheme: String,
        /// What was there instead.
        found: String,
    },
    /// After the scheme and its space, neither a token68 nor an auth parameter.
    #[error("expected a token68 or auth parameters after auth scheme `{scheme}`, found {found}")]
    ExpectedCredentials {
        /// The scheme as sent.
        scheme: String,
        /// What was there instead.
        found: String,
    },
    /// `name=` with no token or quoted string after it.
    #[error(
        "expected a token or quoted string as the value of auth parameter `{name}`, found {found}"
    )]
    ExpectedParamValue {
        /// The parameter's name, lowercased.
        name: String,
        /// What was there instead.
        found: String,
    },
    /// A token68 or parameter followed by something other than `,` or the end.
    #[error("expected `,` or end of value after {after}, found {found}")]
    ExpectedCommaOrEnd {
        /// What was just parsed: `the token68` or `` auth parameter `realm` ``.
        after: String,
        /// What was there instead.
        found: String,
    },
    /// After a `,`, neither an auth parameter nor a new challenge.
    #[error("expected an auth parameter or a challenge after `,`, found {found}")]
    ExpectedParamOrChallenge {
        /// What was there instead.
        found: String,
    },
    /// A quoted string with no closing quote.
    #[error("expected `\"` to close the quoted string, found end of value")]
    UnterminatedQuotedString,
    /// A control character (other than a tab) inside a quoted string.
    #[error("expected text in the quoted string, found {found}")]
    ControlInQuotedString {
        /// The control character, as `control character 0x0a`.
        found: String,
    },
    /// The same parameter twice in one challenge (RFC 9110 §11.2: "MUST only occur once").
    #[error("duplicate auth parameter `{name}` (each may occur only once per challenge)")]
    DuplicateParam {
        /// The parameter's name, lowercased.
        name: String,
    },
}

/// Parses one `WWW-Authenticate` (or `Proxy-Authenticate`) header value into its challenges.
///
/// The value must hold at least one challenge; empty list elements (`Basic, , Bearer`) are
/// skipped as RFC 9110 §5.6.1 asks. Whitespace may be spaces or tabs. Realm values are accepted
/// as tokens too (`basic realm=x`), although senders must quote them.
///
/// # Errors
///
/// Returns a [`ChallengeError`] at the first byte that breaks the grammar, including for an
/// empty or blank value.
pub fn parse_www_authenticate(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    Parser::new(value).challenges()
}

/// Parses every value of a header that appeared several times, in order, into one list of
/// challenges (RFC 9110 §5.3: several field lines mean the same as one comma-joined line).
///
/// No values at all (the header is absent) gives an empty list: whether a response must carry a
/// challenge (a 401 must) is for the caller to judge. Each value present must parse on its own.
///
/// # Errors
///
/// Returns the first value's [`ChallengeError`], with [`ChallengeError::value`] set to its index.
pub fn parse_all<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, ChallengeError> {
    let mut challenges = Vec::new();
    for (index, value) in values.into_iter().enumerate() {
        let parsed = parse_www_authenticate(value).map_err(|error| ChallengeError {
            value: Some(index),
            ..error
        })?;
        challenges.extend(parsed);
    }
    Ok(challenges)
}

/// Tells whether `byte` may appear in a token (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Tells whether `byte` may appear in a token68 before its trailing `=` (RFC 9110 §11.2).
fn is_token68_char(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn is_ws(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// What a challenge holds so far, which decides what may follow a `,`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    /// Only the scheme; `spaced` if a space followed it (`Basic , realm=x` is valid, since the
    /// parameter list may start with an empty element; `Basic, realm=x` is not).
    Bare {
        spaced: bool,
    },
    Token68,
    Params,
}

/// A cursor over one header value. Positions are byte offsets; the parser only ever stops on
/// ASCII bytes, so every position it reports is a character boundary.
struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            bytes: src.as_bytes(),
            pos: 0,
        }
    }

    fn byte_at(&self, at: usize) -> Option<u8> {
        self.bytes.get(at).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.byte_at(self.pos)
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    /// Returns the end of the run of bytes matching `accept` that starts at `from`.
    fn run_end(&self, from: usize, accept: impl Fn(u8) -> bool) -> usize {
        let mut end = from;
        while self.byte_at(end).is_some_and(&accept) {
            end += 1;
        }
        end
    }

    fn token_end(&self, from: usize) -> usize {
        self.run_end(from, is_tchar)
    }

    fn ws_end(&self, from: usize) -> usize {
        self.run_end(from, is_ws)
    }

    /// Skips whitespace and returns how many bytes it skipped.
    fn skip_ws(&mut self) -> usize {
        let end = self.ws_end(self.pos);
        let skipped = end - self.pos;
        self.pos = end;
        skipped
    }

    /// Skips whitespace and commas: the separators and empty elements of a list.
    fn skip_separators(&mut self) {
        self.pos = self.run_end(self.pos, |byte| is_ws(byte) || byte == b',');
    }

    /// Describes the input at `at` for an error message.
    fn found(&self, at: usize) -> String {
        if at >= self.bytes.len() {
            return "end of value".to_owned();
        }
        match self.src.get(at..).and_then(|rest| rest.chars().next()) {
            Some(c) if c.is_control() => format!("control character {:#04x}", u32::from(c)),
            Some('`') => "a backtick".to_owned(),
            Some(c) => format!("`{c}`"),
            None => "a non-ascii byte".to_owned(),
        }
    }

    fn error(&self, offset: usize, kind: ChallengeErrorKind) -> ChallengeError {
        ChallengeError {
            offset,
            value: None,
            kind,
        }
    }

    /// If a token at `from` is followed by `BWS "="`, returns the token's end and the offset
    /// just after the `=`.
    fn param_shape(&self, from: usize) -> Option<(usize, usize)> {
        let name_end = self.token_end(from);
        if name_end == from {
            return None;
        }
        let eq = self.ws_end(name_end);
        (self.byte_at(eq) == Some(b'=')).then_some((name_end, eq + 1))
    }

    /// If a token68 starts at `from` and is followed by optional whitespace and then `,` or the
    /// end, returns its end.
    fn token68_shape(&self, from: usize) -> Option<usize> {
        let chars_end = self.run_end(from, is_token68_char);
        if chars_end == from {
            return None;
        }
        let end = self.run_end(chars_end, |byte| byte == b'=');
        let after = self.ws_end(end);
        matches!(self.byte_at(after), None | Some(b',')).then_some(end)
    }

    /// Parses the whole value: at least one challenge.
    fn challenges(mut self) -> Result<Vec<Challenge>, ChallengeError> {
        let mut challenges = Vec::new();
        self.skip_separators();
        if self.peek().is_none() {
            let found = self.found(self.pos);
            return Err(self.error(self.pos, ChallengeErrorKind::ExpectedScheme { found }));
        }
        while self.peek().is_some() {
            challenges.push(self.challenge()?);
        }
        Ok(challenges)
    }

    /// Parses one challenge starting at a token, and the separators after it. Stops at the end
    /// or at the scheme of the next challenge.
    fn challenge(&mut self) -> Result<Challenge, ChallengeError> {
        let start = self.pos;
        if let Some((name_end, _)) = self.param_shape(start) {
            let name = self.slice(start, name_end).to_ascii_lowercase();
            return Err(self.error(start, ChallengeErrorKind::ParamWithoutChallenge { name }));
        }
        let scheme_end = self.token_end(start);
        if scheme_end == start {
            let found = self.found(start);
            return Err(self.error(start, ChallengeErrorKind::ExpectedScheme { found }));
        }
        let mut challenge = Challenge {
            scheme: self.slice(start, scheme_end).to_owned(),
            token68: None,
            params: Vec::new(),
        };
        self.pos = scheme_end;
        let spaced = self.skip_ws() > 0;
        let mut content = match self.peek() {
            None => return Ok(challenge),
            Some(b',') => Content::Bare { spaced },
            Some(_) if !spaced => {
                let kind = ChallengeErrorKind::ExpectedSpaceAfterScheme {
                    scheme: challenge.scheme,
                    found: self.found(self.pos),
                };
                return Err(self.error(self.pos, kind));
            }
            Some(_) => self.first_content(&mut challenge)?,
        };
        loop {
            self.skip_ws();
            match self.peek() {
                None => return Ok(challenge),
                Some(b',') => {}
                Some(_) => {
                    let after = match (content, challenge.params.last()) {
                        (Content::Params, Some((name, _))) => format!("auth parameter `{name}`"),
                        _ => "the token68".to_owned(),
                    };
                    let found = self.found(self.pos);
                    let kind = ChallengeErrorKind::ExpectedCommaOrEnd { after, found };
                    return Err(self.error(self.pos, kind));
                }
            }
            self.skip_separators();
            let at = self.pos;
            if self.peek().is_none() {
                return Ok(challenge);
            }
            let Some((name_end, _)) = self.param_shape(at) else {
                if self.token_end(at) > at {
                    return Ok(challenge); // the scheme of the next challenge
                }
                let found = self.found(at);
                let kind = ChallengeErrorKind::ExpectedParamOrChallenge { found };
                return Err(self.error(at, kind));
            };
            let name = self.slice(at, name_end).to_ascii_lowercase();
            match content {
                Content::Token68 => {
                    let kind = ChallengeErrorKind::ParamAfterToken68 { name };
                    return Err(self.error(at, kind));
                }
                Content::Bare { spaced: false } => {
                    let kind = ChallengeErrorKind::ParamWithoutChallenge { name };
                    return Err(self.error(at, kind));
                }
                Content::Bare { spaced: true } | Content::Params => {
                    self.param(&mut challenge)?;
                    content = Content::Params;
                }
            }
        }
    }

    /// Parses what follows the scheme and its space: a token68 or the first auth parameter.
    fn first_content(&mut self, challenge: &mut Challenge) -> Result<Content, ChallengeError> {
        let start = self.pos;
        if let Some((name_end, after_eq)) = self.param_shape(start) {
            let value_start = self.ws_end(after_eq);
            let has_value = self
                .byte_at(value_start)
                .is_some_and(|byte| byte == b'"' || is_tchar(byte));
            // `abc=` or `abc==` before `,` or the end is a token68, not a parameter.
            if has_value || self.token68_shape(start).is_none() {
                if !has_value {
                    let name = self.slice(start, name_end).to_ascii_lowercase();
                    let found = self.found(value_start);
                    let kind = ChallengeErrorKind::ExpectedParamValue { name, found };
                    return Err(self.error(value_start, kind));
                }
                self.param(challenge)?;
                return Ok(Content::Params);
            }
        }
        let chars_end = self.run_end(start, is_token68_char);
        if chars_end == start {
            let kind = ChallengeErrorKind::ExpectedCredentials {
                scheme: challenge.scheme.clone(),
                found: self.found(start),
            };
            return Err(self.error(start, kind));
        }
        let end = self.run_end(chars_end, |byte| byte == b'=');
        challenge.token68 = Some(self.slice(start, end).to_owned());
        self.pos = end;
        Ok(Content::Token68)
    }

    /// Parses `token BWS "=" BWS ( token / quoted-string )` at the cursor into `challenge`.
    fn param(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        let start = self.pos;
        let name_end = self.token_end(start);
        let name = self.slice(start, name_end).to_ascii_lowercase();
        self.pos = self.ws_end(name_end);
        if self.peek() != Some(b'=') {
            // Callers check the shape first; this only keeps the parser total.
            let found = self.found(self.pos);
            let kind = ChallengeErrorKind::ExpectedParamValue { name, found };
            return Err(self.error(self.pos, kind));
        }
        self.pos += 1;
        self.skip_ws();
        let value = match self.peek() {
            Some(b'"') => self.quoted_string()?,
            Some(byte) if is_tchar(byte) => {
                let value_end = self.token_end(self.pos);
                let value = self.slice(self.pos, value_end).to_owned();
                self.pos = value_end;
                value
            }
            _ => {
                let found = self.found(self.pos);
                let kind = ChallengeErrorKind::ExpectedParamValue { name, found };
                return Err(self.error(self.pos, kind));
            }
        };
        if challenge
            .params
            .iter()
            .any(|(existing, _)| *existing == name)
        {
            return Err(self.error(start, ChallengeErrorKind::DuplicateParam { name }));
        }
        challenge.params.push((name, value));
        Ok(())
    }

    /// Parses a quoted string at the cursor (on its opening quote) and returns it unescaped.
    fn quoted_string(&mut self) -> Result<String, ChallengeError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = Vec::new();
        loop {
            let allowed = |byte: u8| byte == b'\t' || (b' '..=b'~').contains(&byte) || byte >= 0x80;
            match self.peek() {
                None => {
                    return Err(self.error(open, ChallengeErrorKind::UnterminatedQuotedString));
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => match self.byte_at(self.pos + 1) {
                    None => {
                        return Err(self.error(open, ChallengeErrorKind::UnterminatedQuotedString));
                    }
                    Some(byte) if allowed(byte) => {
                        text.push(byte);
                        self.pos += 2;
                    }
                    Some(_) => {
                        let found = self.found(self.pos + 1);
                        let kind = ChallengeErrorKind::ControlInQuotedString { found };
                        return Err(self.error(self.pos + 1, kind));
                    }
                },
                Some(byte) if allowed(byte) => {
                    text.push(byte);
                    self.pos += 1;
                }
                Some(_) => {
                    let found = self.found(self.pos);
                    let kind = ChallengeErrorKind::ControlInQuotedString { found };
                    return Err(self.error(self.pos, kind));
                }
            }
        }
        // Removing ASCII backslashes from valid UTF-8 leaves valid UTF-8; lossy only for safety.
        Ok(String::from_utf8(text)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
    }
}

/// An OAuth 2.0 error response body (RFC 6749 §5.2), also used by protected resources
/// (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The error code, such as `invalid_grant`; see [`is_registered_error_code`].
    pub error: String,
    /// Human-readable text for the developer, if sent.
    pub error_description: Option<String>,
    /// A URI of a page about the error, if sent (not checked to be a URI).
    pub error_uri: Option<String>,
}

/// An RFC 9457 problem details object (`application/problem+json`).
///
/// A missing `type` means `about:blank` (RFC 9457 §3.1.1); [`Problem::type_`] stays `None` so
/// that a check can tell "sent `about:blank`" from "sent nothing", and
/// [`Problem::type_or_default`] gives the effective type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The problem type URI reference, as sent.
    pub type_: Option<String>,
    /// A short summary of the problem type.
    pub title: Option<String>,
    /// The HTTP status code the server put in the body (compare it with the response's own).
    pub status: Option<u16>,
    /// An explanation specific to this occurrence.
    pub detail: Option<String>,
    /// A URI reference identifying this occurrence.
    pub instance: Option<String>,
}

impl Problem {
    /// Returns the problem type, or `about:blank` when the body named none.
    pub fn type_or_default(&self) -> &str {
        self.type_.as_deref().unwrap_or(ABOUT_BLANK)
    }
}

/// A JSON error body that is not what its RFC says. Messages name the member at fault:
///
/// ```text
/// missing member `error`: expected a string error code
/// member `status`: expected an integer from 100 to 599, found the number 42
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The body does not parse as JSON.
    #[error("expected a json object, found invalid json ({reason})")]
    NotJson {
        /// The message from `serde_json`, with line and column.
        reason: String,
    },
    /// The body is JSON but not an object.
    #[error("expected a json object, found {found}")]
    NotAnObject {
        /// What the body is instead, as `an array` or `the string "x"`.
        found: String,
    },
    /// A required member is absent.
    #[error("missing member `{member}`: expected {expected}")]
    MissingMember {
        /// The member's name.
        member: &'static str,
        /// What it should have held.
        expected: &'static str,
    },
    /// A member holds the wrong type or an invalid value.
    #[error("member `{member}`: expected {expected}, found {found}")]
    InvalidMember {
        /// The member's name.
        member: &'static str,
        /// What it should have held.
        expected: &'static str,
        /// What it held, as `null` or `the number 42`.
        found: String,
    },
}

/// Parses an OAuth 2.0 error body: a JSON object with a string `error` and optional string
/// `error_description` and `error_uri`. Other members are ignored.
///
/// The `error` code must be non-empty and use only the characters RFC 6749 §5.2 allows
/// (printable ASCII except `"` and `\`). It need not be registered; check that separately with
/// [`is_registered_error_code`].
///
/// # Errors
///
/// Returns a [`BodyError`] when the body is not JSON, not an object, lacks `error`, or has a
/// member of the wrong type (`null` included).
pub fn parse_oauth_error(body: &[u8]) -> Result<OAuthError, BodyError> {
    let object = json_object(body)?;
    let error = match object.get("error") {
        None => {
            return Err(BodyError::MissingMember {
                member: "error",
                expected: "a string error code",
            });
        }
        Some(Value::String(code)) if is_error_code_syntax(code) => code.clone(),
        Some(other) => {
            return Err(BodyError::InvalidMember {
                member: "error",
                expected: "a non-empty string error code of printable ascii without `\"` or `\\`",
                found: describe(other),
            });
        }
    };
    Ok(OAuthError {
        error,
        error_description: optional_string(&object, "error_description")?,
        error_uri: optional_string(&object, "error_uri")?,
    })
}

/// Tells whether `code` is an error code RFC 6749 §5.2 or RFC 6750 §3.1 defines. Codes are
/// compared exactly: `Invalid_Grant` is not `invalid_grant`.
pub fn is_registered_error_code(code: &str) -> bool {
    matches!(
        code,
        "invalid_request"
            | "invalid_client"
            | "invalid_grant"
            | "unauthorized_client"
            | "unsupported_grant_type"
            | "invalid_scope"
            | "invalid_token"
            | "insufficient_scope"
    )
}

/// Tells whether `code` matches `1*( %x20-21 / %x23-5B / %x5D-7E )` (RFC 6749 §5.2).
fn is_error_code_syntax(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\')
}

/// Parses an RFC 9457 problem details body. Every member is optional; each one present must
/// have its registered type (strings, and `status` an integer from 100 to 599). Extension
/// members are ignored.
///
/// RFC 9457 §3.1 tells *consumers* to ignore a member of the wrong type; this parser reports it
/// instead, because here the server's output is what is being checked.
///
/// # Errors
///
/// Returns a [`BodyError`] when the body is not JSON, not an object, or has a member of the
/// wrong type or out of range (`null` included).
pub fn parse_problem(body: &[u8]) -> Result<Problem, BodyError> {
    let object = json_object(body)?;
    let status = match object.get("status") {
        None => None,
        Some(value) => match value.as_u64().and_then(|n| u16::try_from(n).ok()) {
            Some(status @ 100..=599) => Some(status),
            _ => {
                return Err(BodyError::InvalidMember {
                    member: "status",
                    expected: "an integer from 100 to 599",
                    found: describe(value),
                });
            }
        },
    };
    Ok(Problem {
        type_: optional_string(&object, "type")?,
        title: optional_string(&object, "title")?,
        status,
        detail: optional_string(&object, "detail")?,
        instance: optional_string(&object, "instance")?,
    })
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|error| BodyError::NotJson {
        reason: error.to_string(),
    })?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(BodyError::NotAnObject {
            found: describe(&other),
        }),
    }
}

fn optional_string(
    object: &Map<String, Value>,
    member: &'static str,
) -> Result<Option<String>, BodyError> {
    match object.get(member) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(BodyError::InvalidMember {
            member,
            expected: "a string",
            found: describe(other),
        }),
    }
}

/// Describes a JSON value for an error message, quoting at most 40 characters of a string.
fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 40;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) if text.is_empty() => "an empty string".to_owned(),
        Value::String(text) if text.chars().count() > MAX_CHARS => {
            let head: String = text.chars().take(MAX_CHARS).collect();
            format!("the string {head:?}…")
        }
        Value::String(text) => format!("the string {text:?}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(value: &str) -> Vec<Challenge> {
        match parse_www_authenticate(value) {
            Ok(challenges) => challenges,
            Err(error) => panic!("`{value}` should parse, got: {error}"),
        }
    }

    fn parse_err(value: &str) -> ChallengeError {
        match parse_www_authenticate(value) {
            Ok(challenges) => panic!("`{value}` should not parse, got {challenges:?}"),
            Err(error) => error,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn challenge(scheme: &str, pairs: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_owned(),
            token68: None,
            params: params(pairs),
        }
    }

    #[test]
    fn basic_with_realm() {
        let parsed = parse(r#"Basic realm="WallyWorld""#);
        assert_eq!(parsed, vec![challenge("Basic", &[("realm", "WallyWorld")])]);
        assert!(parsed[0].is_scheme("basic"));
        assert_eq!(parsed[0].param("REALM"), Some("WallyWorld"));
    }

    #[test]
    fn basic_with_realm_and_charset_is_one_challenge() {
        let parsed = parse(r#"Basic realm="foo", charset="UTF-8""#);
        assert_eq!(
            parsed,
            vec![challenge(
                "Basic",
                &[("realm", "foo"), ("charset", "UTF-8")]
            )]
        );
    }

    #[test]
    fn bearer_with_error_and_description() {
        let parsed = parse(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(
            parsed,
            vec![challenge(
                "Bearer",
                &[
                    ("realm", "example"),
                    ("error", "invalid_token"),
                    ("error_description", "The access token expired"),
                ]
            )]
        );
    }

    #[test]
    fn bearer_alone() {
        assert_eq!(parse("Bearer"), vec![challenge("Bearer", &[])]);
        assert_eq!(parse("Bearer  "), vec![challenge("Bearer", &[])]);
    }

    #[test]
    fn bearer_insufficient_scope_keeps_spaces_in_scope() {
        let parsed =
            parse(r#"Bearer error="insufficient_scope", scope="orders:read orders:write""#);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].param("error"), Some("insufficient_scope"));
        assert_eq!(parsed[0].param("scope"), Some("orders:read orders:write"));
    }

    #[test]
    fn rfc_9110_example_holds_two_challenges() {
        let parsed = parse(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(
            parsed,
            vec![
                challenge(
                    "Newauth",
                    &[
                        ("realm", "apps"),
                        ("type", "1"),
                        ("title", r#"Login to "apps""#)
                    ]
                ),
                challenge("Basic", &[("realm", "simple")]),
            ]
        );
    }

    #[test]
    fn token68_challenge() {
        let parsed = parse("Negotiate a87421000492aa874209af8bc028");
        assert_eq!(parsed.len(), 1);
        assert!(parsed[0].is_scheme("negotiate"));
        assert_eq!(
            parsed[0].token68.as_deref(),
            Some("a87421000492aa874209af8bc028")
        );
        assert!(parsed[0].params.is_empty());
    }

    #[test]
    fn token68_with_padding_slash_and_plus() {
        for token in ["YII/ab+c==", "abc=", "abc==", "a-b.c_d~e"] {
            let parsed = parse(&format!("Negotiate {token}"));
            assert_eq!(parsed[0].token68.as_deref(), Some(token), "{token}");
        }
    }

    #[test]
    fn token68_then_another_challenge() {
        let parsed = parse(r#"Negotiate abc==, Basic realm="x", NTLM"#);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[0].token68.as_deref(), Some("abc=="));
        assert_eq!(parsed[1], challenge("Basic", &[("realm", "x")]));
        assert_eq!(parsed[2], challenge("NTLM", &[]));
    }

    #[test]
    fn lowercase_scheme_and_token_realm() {
        let parsed = parse("basic realm=x");
        assert_eq!(parsed, vec![challenge("basic", &[("realm", "x")])]);
        assert!(parsed[0].is_scheme("Basic"));
    }

    #[test]
    fn param_names_are_lowercased_values_kept() {
        let parsed = parse(r#"Bearer Realm="Mixed Case", ERROR=Invalid_Token"#);
        assert_eq!(
            parsed[0].params,
            params(&[("realm", "Mixed Case"), ("error", "Invalid_Token")])
        );
    }

    #[test]
    fn spaces_around_equals() {
        let parsed = parse("Basic realm = \"x\" ,\tcharset =UTF-8");
        assert_eq!(
            parsed,
            vec![challenge("Basic", &[("realm", "x"), ("charset", "UTF-8")])]
        );
    }

    #[test]
    fn escapes_in_quoted_strings() {
        let parsed = parse(r#"Basic realm="a\\b\"c\d", x="""#);
        assert_eq!(parsed[0].param("realm"), Some(r#"a\b"cd"#));
        assert_eq!(parsed[0].param("x"), Some(""));
    }

    #[test]
    fn non_ascii_in_quoted_strings_is_kept() {
        let parsed = parse("Basic realm=\"Zürich \\é\"");
        assert_eq!(parsed[0].param("realm"), Some("Zürich é"));
    }

    #[test]
    fn bare_schemes_separated_by_commas() {
        let parsed = parse("Basic, Bearer,Negotiate");
        assert_eq!(
            parsed,
            vec![
                challenge("Basic", &[]),
                challenge("Bearer", &[]),
                challenge("Negotiate", &[])
            ]
        );
    }

    #[test]
    fn empty_list_elements_are_skipped() {
        let parsed = parse(r#" , Basic realm="a", , charset=x ,, Bearer ,"#);
        assert_eq!(
            parsed,
            vec![
                challenge("Basic", &[("realm", "a"), ("charset", "x")]),
                challenge("Bearer", &[])
            ]
        );
    }

    #[test]
    fn empty_first_param_element_after_space() {
        // `challenge = auth-scheme [ 1*SP #auth-param ]` and `#` allows a leading empty element.
        let parsed = parse(r#"Basic , realm="x""#);
        assert_eq!(parsed, vec![challenge("Basic", &[("realm", "x")])]);
    }

    #[test]
    fn all_values_of_a_repeated_header() {
        let parsed = parse_all([r#"Basic realm="a""#, "Bearer, Negotiate abc="]).unwrap();
        assert_eq!(parsed.len(), 3);
        assert!(parsed[2].is_scheme("negotiate"));
        assert_eq!(parse_all([]), Ok(Vec::new()));
    }

    #[test]
    fn errors_from_parse_all_name_the_value() {
        let error = parse_all(["Basic", r#"Basic realm="x"#]).unwrap_err();
        assert_eq!(error.value, Some(1));
        assert_eq!(error.offset, 12);
        assert_eq!(
            error.to_string(),
            "expected `\"` to close the quoted string, found end of value at byte 12 of header value 2"
        );
    }

    #[test]
    fn empty_and_blank_values_are_errors() {
        for value in ["", "   ", ",", " , ,"] {
            let error = parse_err(value);
            assert_eq!(
                error.kind,
                ChallengeErrorKind::ExpectedScheme {
                    found: "end of value".to_owned()
                },
                "{value:?}"
            );
        }
        assert_eq!(
            parse_err("").to_string(),
            "expected an auth scheme, found end of value at byte 0"
        );
    }

    #[test]
    fn lone_equals_is_an_error() {
        let error = parse_err("=");
        assert_eq!(error.offset, 0);
        assert_eq!(
            error.to_string(),
            "expected an auth scheme, found `=` at byte 0"
        );
    }

    #[test]
    fn unterminated_quoted_strings_are_errors() {
        let error = parse_err("\"unterminated");
        assert_eq!(error.offset, 0);
        assert!(matches!(
            error.kind,
            ChallengeErrorKind::ExpectedScheme { .. }
        ));

        let error = parse_err(r#"Basic realm="x"#);
        assert_eq!(error.kind, ChallengeErrorKind::UnterminatedQuotedString);
        assert_eq!(error.offset, 12);

        let error = parse_err(r#"Basic realm="x\"#);
        assert_eq!(error.kind, ChallengeErrorKind::UnterminatedQuotedString);
    }

    #[test]
    fn control_characters_in_quoted_strings_are_errors() {
        let error = parse_err("Basic realm=\"a\nb\"");
        assert_eq!(error.offset, 14);
        assert_eq!(
            error.to_string(),
            "expected text in the quoted string, found control character 0x0a at byte 14"
        );
        assert!(parse_www_authenticate("Basic realm=\"a\tb\"").is_ok());
        assert!(parse_www_authenticate("Basic realm=\"a\\\u{7f}\"").is_err());
    }

    #[test]
    fn missing_comma_between_params() {
        let error = parse_err(r#"Basic realm="foo" charset="UTF-8""#);
        assert_eq!(error.offset, 18);
        assert_eq!(
            error.to_string(),
            "expected `,` or end of value after auth parameter `realm`, found `c` at byte 18"
        );
    }

    #[test]
    fn param_without_challenge() {
        let error = parse_err(r#"realm="x""#);
        assert_eq!(
            error.kind,
            ChallengeErrorKind::ParamWithoutChallenge {
                name: "realm".to_owned()
            }
        );
        // A scheme directly followed by `,` has no parameter list.
        let error = parse_err(r#"Bearer, error="invalid_token""#);
        assert_eq!(error.offset, 8);
        assert_eq!(
            error.kind,
            ChallengeErrorKind::ParamWithoutChallenge {
                name: "error".to_owned()
            }
        );
    }

    #[test]
    fn param_after_token68() {
        let error = parse_err(r#"Negotiate abc, realm="x""#);
        assert_eq!(error.offset, 15);
        assert_eq!(
            error.kind,
            ChallengeErrorKind::ParamAfterToken68 {
                name: "realm".to_owned()
            }
        );
    }

    #[test]
    fn missing_param_values() {
        let error = parse_err(r#"Basic realm="x", charset="#);
        assert_eq!(
            error.to_string(),
            "expected a token or quoted string as the value of auth parameter `charset`, \
             found end of value at byte 25"
        );
        let error = parse_err("Basic realm= ;");
        assert!(matches!(
            error.kind,
            ChallengeErrorKind::ExpectedParamValue { .. }
        ));
        assert_eq!(error.offset, 13);
    }

    #[test]
    fn scheme_needs_a_space_before_its_data() {
        let error = parse_err(r#"Basic"realm""#);
        assert_eq!(
            error.to_string(),
            "expected a space, `,` or end of value after auth scheme `Basic`, found `\"` at byte 5"
        );
        let error = parse_err(r#"Basic "realm""#);
        assert_eq!(
            error.to_string(),
            "expected a token68 or auth parameters after auth scheme `Basic`, found `\"` at byte 6"
        );
    }

    #[test]
    fn garbage_after_token68() {
        let error = parse_err("Negotiate abc def");
        assert_eq!(
            error.to_string(),
            "expected `,` or end of value after the token68, found `d` at byte 14"
        );
    }

    #[test]
    fn garbage_after_comma() {
        let error = parse_err(r#"Basic realm="x", "y""#);
        assert_eq!(
            error.kind,
            ChallengeErrorKind::ExpectedParamOrChallenge {
                found: "`\"`".to_owned()
            }
        );
        assert_eq!(error.offset, 17);
    }

    #[test]
    fn duplicate_params_are_errors() {
        let error = parse_err(r#"Basic realm="a", REALM="b""#);
        assert_eq!(error.offset, 17);
        assert_eq!(
            error.kind,
            ChallengeErrorKind::DuplicateParam {
                name: "realm".to_owned()
            }
        );
        // The same name in two challenges is fine.
        assert_eq!(parse(r#"Basic realm="a", Bearer realm="b""#).len(), 2);
    }

    #[test]
    fn non_ascii_outside_quotes_is_an_error() {
        let error = parse_err("Bäsic");
        assert_eq!(error.offset, 1);
        assert!(error.to_string().contains("found `ä`"), "{error}");
    }

    #[test]
    fn oauth_error_with_all_members() {
        let body = br#"{"error":"invalid_grant","error_description":"expired","error_uri":"https://e.x/e","x":1}"#;
        assert_eq!(
            parse_oauth_error(body),
            Ok(OAuthError {
                error: "invalid_grant".to_owned(),
                error_description: Some("expired".to_owned()),
                error_uri: Some("https://e.x/e".to_owned()),
            })
        );
        let minimal = parse_oauth_error(br#"{"error":"invalid_client"}"#).unwrap();
        assert_eq!(minimal.error_description, None);
        assert_eq!(minimal.error_uri, None);
    }

    #[test]
    fn oauth_error_failures_say_what_is_wrong() {
        let cases: [(&[u8], &str); 8] = [
            (
                b"",
                "expected a json object, found invalid json (EOF while parsing a value at line 1 column 0)",
            ),
            (
                b"<html>",
                "expected a json object, found invalid json (expected value at line 1 column 1)",
            ),
            (b"[1]", "expected a json object, found an array"),
            (
                br#"{"error_description":"x"}"#,
                "missing member `error`: expected a string error code",
            ),
            (
                br#"{"error":401}"#,
                "member `error`: expected a non-empty string error code of printable ascii without `\"` or `\\`, found the number 401",
            ),
            (
                br#"{"error":""}"#,
                "member `error`: expected a non-empty string error code of printable ascii without `\"` or `\\`, found an empty string",
            ),
            (
                br#"{"error":"bad\"code"}"#,
                "member `error`: expected a non-empty string error code of printable ascii without `\"` or `\\`, found the string \"bad\\\"code\"",
            ),
            (
                br#"{"error":"invalid_request","error_description":null}"#,
                "member `error_description`: expected a string, found null",
            ),
        ];
        for (body, message) in cases {
            let error = parse_oauth_error(body).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn registered_error_codes() {
        for code in [
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_token",
            "insufficient_scope",
        ] {
            assert!(is_registered_error_code(code), "{code}");
        }
        for code in ["", "Invalid_Grant", "access_denied", "invalid_grant "] {
            assert!(!is_registered_error_code(code), "{code:?}");
        }
    }

    #[test]
    fn problem_with_all_members_and_extensions() {
        let body = br#"{"type":"https://e.x/probs/auth","title":"Unauthorized","status":401,
            "detail":"token expired","instance":"/orders/1","balance":30,"accounts":["a"]}"#;
        assert_eq!(
            parse_problem(body),
            Ok(Problem {
                type_: Some("https://e.x/probs/auth".to_owned()),
                title: Some("Unauthorized".to_owned()),
                status: Some(401),
                detail: Some("token expired".to_owned()),
                instance: Some("/orders/1".to_owned()),
            })
        );
    }

    #[test]
    fn problem_without_type_is_about_blank() {
        let problem = parse_problem(b"{}").unwrap();
        assert_eq!(problem.type_, None);
        assert_eq!(problem.type_or_default(), "about:blank");
        let problem = parse_problem(br#"{"type":"about:blank"}"#).unwrap();
        assert_eq!(problem.type_.as_deref(), Some("about:blank"));
    }

    #[test]
    fn problem_members_of_the_wrong_type_are_named() {
        let cases: [(&[u8], &str); 8] = [
            (
                br#"{"status":"401"}"#,
                "member `status`: expected an integer from 100 to 599, found the string \"401\"",
            ),
            (
                br#"{"status":42}"#,
                "member `status`: expected an integer from 100 to 599, found the number 42",
            ),
            (
                br#"{"status":600}"#,
                "member `status`: expected an integer from 100 to 599, found the number 600",
            ),
            (
                br#"{"status":401.0}"#,
                "member `status`: expected an integer from 100 to 599, found the number 401.0",
            ),
            (
                br#"{"status":-401}"#,
                "member `status`: expected an integer from 100 to 599, found the number -401",
            ),
            (
                br#"{"type":7}"#,
                "member `type`: expected a string, found the number 7",
            ),
            (
                br#"{"title":["x"]}"#,
                "member `title`: expected a string, found an array",
            ),
            (
                br#"{"instance":false}"#,
                "member `instance`: expected a string, found the boolean false",
            ),
        ];
        for (body, message) in cases {
            let error = parse_problem(body).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        assert_eq!(
            parse_problem(br#"{"detail":{}}"#).unwrap_err(),
            BodyError::InvalidMember {
                member: "detail",
                expected: "a string",
                found: "an object".to_owned()
            }
        );
        assert_eq!(
            parse_problem(br#"{"status":100}"#).unwrap().status,
            Some(100)
        );
        assert_eq!(
            parse_problem(br#"{"status":599}"#).unwrap().status,
            Some(599)
        );
    }

    #[test]
    fn problem_body_that_is_not_an_object() {
        assert_eq!(
            parse_problem(br#""unauthorized""#).unwrap_err().to_string(),
            "expected a json object, found the string \"unauthorized\""
        );
        assert!(matches!(
            parse_problem(b"\xff\xfe"),
            Err(BodyError::NotJson { .. })
        ));
    }

    #[test]
    fn long_strings_are_truncated_in_messages() {
        let body = format!(r#"{{"status":"{}"}}"#, "x".repeat(100));
        let message = parse_problem(body.as_bytes()).unwrap_err().to_string();
        assert!(
            message.ends_with(&format!("\"{}\"…", "x".repeat(40))),
            "{message}"
        );
    }

    /// Renders a challenge the way a server would, for the round-trip property.
    fn render(challenge: &Challenge) -> String {
        let mut text = challenge.scheme.clone();
        if let Some(token68) = &challenge.token68 {
            text.push(' ');
            text.push_str(token68);
        }
        for (index, (name, value)) in challenge.params.iter().enumerate() {
            text.push_str(if index == 0 { " " } else { ", " });
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            text.push_str(name);
            text.push_str("=\"");
            text.push_str(&escaped);
            text.push('"');
        }
        text
    }

    fn challenge_strategy() -> impl Strategy<Value = Challenge> {
        let token = "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,8}";
        let token68 = "[A-Za-z0-9+/._~-]{1,12}={0,2}";
        let value = "[ -~\t\u{e9}]{0,12}";
        let data = prop_oneof![
            Just((None, Vec::new())),
            token68.prop_map(|t| (Some(t), Vec::new())),
            proptest::collection::btree_map("[a-z][a-z0-9_]{0,6}", value, 1..4)
                .prop_map(|params| (None, params.into_iter().collect())),
        ];
        (token, data).prop_map(|(scheme, (token68, params))| Challenge {
            scheme,
            token68,
            params,
        })
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(value in any::<String>()) {
            let _ = parse_www_authenticate(&value);
        }

        #[test]
        fn header_like_strings_never_panic(value in "[A-Za-z0-9 \t,=\"\\\\/+._~\u{e9}\n-]{0,40}") {
            if let Err(error) = parse_www_authenticate(&value) {
                prop_assert!(error.offset <= value.len());
                prop_assert!(!error.to_string().is_empty());
            }
        }

        #[test]
        fn rendered_challenges_round_trip(challenges in proptest::collection::vec(challenge_strategy(), 1..4)) {
            let value = challenges.iter().map(render).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(parse_www_authenticate(&value), Ok(challenges));
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_oauth_error(&body);
            let _ = parse_problem(&body);
        }

        #[test]
        fn json_like_bodies_never_panic(body in r#"[{}\[\]":,a-z0-9 .\-]{0,48}"#) {
            let _ = parse_oauth_error(body.as_bytes());
            let _ = parse_problem(body.as_bytes());
        }
    }
}
