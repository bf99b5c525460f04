//! The scenario format as serde types: [`Scenario`], [`Step`], [`RequestSpec`], [`AuthSpec`],
//! [`Capture`] and [`Expectation`].
//!
//! Every struct denies unknown fields (a mistyped key would silently weaken a test) and every choice
//! is an externally tagged enum, so serde's own messages name the accepted alternatives. Values
//! that can be wrong in themselves (status codes, durations, JSONPath, regexes, templates) are
//! validated while deserializing, so their errors carry a file position.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, IntoDeserializer};

use super::template::Template;

/// A scenario file: a list of scenarios about one flow of one provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenarios, each run as its own test.
    #[serde(deserialize_with = "super::load::isolated_scenarios")]
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a named, requirement-tracing sequence of steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id, unique within its file, e.g. `unlisted-source-times-out`.
    pub id: ScenarioId,
    /// One line saying what the scenario proves.
    pub title: String,
    /// The requirement ids (from `specs/`) this scenario verifies.
    pub requirements: Vec<String>,
    /// Free labels for filtering.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `happy` or `negative`, when the statuses cannot tell (a refusal sent as an error redirect).
    #[serde(default)]
    pub kind: Option<ScenarioKind>,
    /// The steps, run in order; the first failing one ends the scenario.
    #[serde(deserialize_with = "super::load::isolated_steps")]
    pub steps: Vec<Step>,
    /// Cleanup steps, run in order after `steps` whatever their verdict (to delete what a live
    /// run created); one that fails or errs turns a pass (or a skip) into an error.
    #[serde(default, deserialize_with = "super::load::indexed_steps")]
    pub finally: Box<[Step]>,
    /// A cookie jar for every request step of the scenario; when absent, on for a scenario with
    /// an `authorize` step (a login keeps its state in cookies) and off otherwise.
    #[serde(default)]
    pub session: Option<bool>,
}

impl Scenario {
    /// Returns true when the scenario's requests share a cookie jar (`session`).
    pub fn has_session(&self) -> bool {
        self.session.unwrap_or_else(|| {
            self.all_steps()
                .any(|s| s.request.as_ref().is_some_and(|r| r.authorize.is_some()))
        })
    }

    /// Returns the steps and then the cleanup steps: everything a run may do.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(self.finally.iter())
    }
}

/// A scenario id: lowercase letters, digits and `-`, so trial names stay filterable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScenarioId(String);

impl ScenarioId {
    /// Returns the id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ScenarioId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "invalid scenario id `{s}`: expected lowercase letters, digits, `-` and `.`"
            ))
        }
    }
}

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ScenarioId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(
            d,
            "a scenario id such as `expired-token-refused`",
            str::parse,
        )
    }
}

/// One step: either an HTTP request (with captures and expectations) or a clock step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Position in the scenario's `steps:` as written (set by the loader).
    #[serde(skip)]
    pub index: usize,
    /// What the step does, for reports.
    #[serde(default)]
    pub name: Option<Box<str>>,
    /// The request to send.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// Values to take from the response into variables for later steps.
    #[serde(default)]
    pub capture: Fields<String, Capture>,
    /// What the response (or its absence) must look like.
    #[serde(default)]
    pub expect: Option<Expectation>,
    /// Moves time forward: the virtual clock on mock targets, a real wait on live ones.
    #[serde(default)]
    pub clock: Option<Box<ClockStep>>,
    /// Derives values for later steps: signed or forged JWTs, PKCE values, key hashes, signatures.
    #[serde(default)]
    pub compute: IndexMap<String, ComputeSpec>,
    /// Repeats the request until its expectations hold, for changes the provider applies late.
    #[serde(default)]
    pub eventually: Option<Eventually>,
    /// Runs the request step a number of times, each iteration judged on its own.
    #[serde(default)]
    pub repeat: Option<Box<Repeat>>,
    /// Sends generated variants of one credential with the step's request, each judged against
    /// the step's `expect`.
    #[serde(default)]
    pub property: Option<Box<PropertySpec>>,
}

/// A property step: `property: { family: basic, from: {…}, cases: 256 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertySpec {
    /// Which variants to generate, and whether each must be refused or accepted.
    pub family: PropertyFamily,
    /// The valid credential the variants are derived from (keys per family).
    pub from: Fields<String, Template>,
    /// How many cases to send; the target's `limits.property_cases` (else 256) when absent.
    #[serde(default)]
    pub cases: Option<u32>,
    /// The authorization request (a request with `authorize` and `pkce`) run once per case
    /// before the step's token request, for families whose cases need a code of their own
    /// (`pkce`): the case sets its PKCE challenge and method, and the code it returns replaces
    /// the token request's `code`. For `token_request` (optional) it gets each case a code of
    /// its own, sent as written or, where the token request sends a `code_verifier`, with the
    /// S256 challenge of the case's own verifier.
    #[serde(default)]
    pub authorize: Option<Box<RequestSpec>>,
    /// Kinds of the family this step never draws, each with the reason reports give:
    /// `except: [ { kind: both-places, because: "…" } ]`.
    #[serde(default)]
    pub except: Vec<KindExclusion>,
}

/// A kind of a family's cases left out, and why: `{ kind: both-places, because: "…" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindExclusion {
    /// One of the family's [`PropertyFamily::kinds`].
    pub kind: String,
    /// Why the kind is left out, for the reports: never empty.
    pub because: String,
}

impl PropertySpec {
    /// The most cases a step may ask for: enough for any family, few enough that a mistyped
    /// count cannot flood a live server.
    pub const MAX_CASES: u32 = 10_000;
}

/// A generator family of a `property` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyFamily {
    /// Malformed or wrong Basic credentials (RFC 7617), each of which must be refused.
    Basic,
    /// Forms of the valid Basic credentials RFC 7617 and RFC 9110 require a server to accept.
    BasicAccepted,
    /// Variants of an API key, where the step's request carries it, each of which must be
    /// refused.
    ApiKey,
    /// Variants of the step's own OAuth2 token request (RFC 6749) the endpoint must refuse.
    TokenRequest,
    /// Source addresses inside the `ranges` a server admits (each range's first, last and a
    /// random address), each of which must be accepted.
    SourceInside,
    /// Source addresses just outside the `ranges` (before each range's first and after its
    /// last, unless another range holds them), each of which must be refused.
    SourceOutside,
    /// Altered, forged or foreign bearer tokens and JWTs, sent where the request carries the
    /// token, each of which must be refused.
    Bearer,
    /// PKCE attacks on an authorization-code exchange (RFC 7636), each of which must be refused.
    Pkce,
    /// Variants of the credentials in the step's JSON body (the members whose values come from
    /// secrets), each of which must be refused.
    JsonCredentials,
}

impl PropertyFamily {
    /// Every family.
    pub const ALL: &'static [Self] = &[
        Self::Basic,
        Self::BasicAccepted,
        Self::ApiKey,
        Self::TokenRequest,
        Self::SourceInside,
        Self::SourceOutside,
        Self::Bearer,
        Self::Pkce,
        Self::JsonCredentials,
    ];

    /// The family's name as scenarios write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::BasicAccepted => "basic_accepted",
            Self::ApiKey => "api_key",
            Self::TokenRequest => "token_request",
            Self::SourceInside => "source_inside",
            Self::SourceOutside => "source_outside",
            Self::Bearer => "bearer",
            Self::Pkce => "pkce",
            Self::JsonCredentials => "json_credentials",
        }
    }

    /// Whether the family writes the credential itself, so the step's request must carry none
    /// (no `auth`, `token`, `authorize` or `Authorization` header); otherwise the family varies
    /// the step's request as it is, credentials included.
    pub fn writes_credentials(self) -> bool {
        match self {
            Self::Basic | Self::BasicAccepted => true,
            Self::ApiKey => false,
            Self::TokenRequest => false,
            Self::SourceInside | Self::SourceOutside => false,
            Self::Bearer => false,
            Self::Pkce => false,
            Self::JsonCredentials => false,
        }
    }

    /// Whether each case runs an authorization request of its own first (`property.authorize`).
    pub fn authorizes_each_case(self) -> bool {
        matches!(self, Self::Pkce)
    }

    /// Whether a step may give each case an authorization request of its own
    /// (`property.authorize`): required for `pkce`; for `token_request`, a code of its own per
    /// case over an authorization-code exchange.
    pub fn may_authorize_each_case(self) -> bool {
        matches!(self, Self::Pkce | Self::TokenRequest)
    }

    /// The kinds of cases the family draws, as case labels start and `except` names them; a
    /// step's request may allow fewer (no `both-places` without client credentials).
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Self::Basic => &[
                "empty-user-id",
                "no-colon",
                "other-password",
                "wrong-password",
                "wrong-user-id",
                "over-long",
                "missing-space",
                "wrong-scheme",
                "bad-base64",
                "space-inside",
                "not-utf-8",
            ],
            Self::BasicAccepted => &["re-encoded", "scheme-case"],
            Self::ApiKey => &[
                "other-key",
                "revoked-key",
                "truncated",
                "changed",
                "extended",
                "case",
                "whitespace-inside",
                "lookalike",
            ],
            Self::TokenRequest => &[
                "duplicated-parameter",
                "missing-parameter",
                "missing-client-authentication",
                "both-places",
                "wrong-client-secret",
                "wrong-code",
                "wrong-refresh-token",
                "wrong-password",
                "wrong-username",
                "other-client-grant",
                "redirect-uri",
                "wrong-grant-type",
            ],
            Self::SourceInside => &["only", "first", "last", "inside"],
            Self::SourceOutside => &["before", "after"],
            Self::Bearer => &[
                "empty",
                "other-token",
                "truncated",
                "extended",
                "char-changed",
                "case-flipped",
                "signature-stripped",
                "segment-truncated",
                "segment-extended",
                "segment-changed",
                "alg-none",
                "alg-confusion",
                "exp-removed",
                "exp-past",
                "nbf-future",
                "claim-changed",
            ],
            Self::Pkce => &[
                "no-verifier",
                "wrong-verifier",
                "earlier-verifier",
                "challenge-as-verifier",
                "short-verifier",
                "long-verifier",
                "bad-character",
                "plain-method",
                "omitted-method",
            ],
            Self::JsonCredentials => &[
                "wrong-value",
                "missing-member",
                "null-value",
                "empty-value",
                "wrong-type",
                "swapped-members",
                "other-value",
            ],
        }
    }

    /// The keys `from` takes: the required ones, then the optional ones.
    pub fn inputs(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Self::Basic => (&["username", "password"], &["other_password"]),
            Self::BasicAccepted => (&["username", "password"], &[]),
            Self::ApiKey => (&["key"], &["other_key", "revoked_key"]),
            Self::TokenRequest => (&[], &["other_code", "other_refresh_token"]),
            Self::SourceInside | Self::SourceOutside => (&["ranges"], &[]),
            Self::Bearer => (&[], &["token", "public_key", "other_token"]),
            Self::Pkce => (&["verifier"], &["required_method"]),
            // And `other_<member>` for each member of the step's JSON body (checked at load).
            Self::JsonCredentials => (&[], &[]),
        }
    }
}

/// Parses a source family's `ranges`: CIDR blocks separated by commas or white space. Host bits
/// below the prefix are ignored (`10.0.0.1/24` is `10.0.0.0/24`), as the mocks read blocks.
///
/// # Errors
/// What was expected, naming the first text that is not a block, or an empty list.
pub fn parse_ranges(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    let mut ranges: Vec<ipnet::IpNet> = Vec::new();
    for item in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
    {
        let net: ipnet::IpNet = item.parse().map_err(|_| {
            format!(
                "expected CIDR blocks like `198.51.100.8/29` or `2001:db8::/126`, separated by commas or spaces, found `{item}`"
            )
        })?;
        let net = net.trunc();
        if !ranges.contains(&net) {
            ranges.push(net);
        }
    }
    if ranges.is_empty() {
        return Err("expected at least one CIDR block, found none".into());
    }
    Ok(ranges)
}

/// A bounded loop over a request step: `repeat: { count: 40, as: i }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many times: an integer from 1 to [`Repeat::MAX`], or a template rendering one from 0
    /// (the step is then skipped) to [`Repeat::MAX`].
    pub count: Template,
    /// The name the iteration's 1-based number goes by in the step's templates (`{{i}}`).
    #[serde(rename = "as")]
    pub name: String,
}

impl Repeat {
    /// The most iterations a step may run: enough to fill a provider's per-account limits,
    /// few enough that a mistyped count cannot flood a live server.
    pub const MAX: u64 = 1000;

    /// Reads a rendered count, or says what is wrong with it.
    pub fn parse_count(text: &str) -> Result<u64, String> {
        match text.trim().parse::<u64>() {
            Ok(n) if n <= Self::MAX => Ok(n),
            Ok(n) => Err(format!(
                "expected a repeat count from 0 to {}, found {n}",
                Self::MAX
            )),
            Err(_) => Err(format!(
                "expected a repeat count (an integer from 0 to {}), found \"{text}\"",
                Self::MAX
            )),
        }
    }
}

/// How long a request step may keep trying before its expectations must hold, and how often.
///
/// Attempts are `every` apart on the scenario's clock: free on the virtual clock, real waits
/// (counted against the target's `limits.max_wait`) on live targets.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eventually {
    /// The longest wait, from the first attempt to the last.
    pub within: DurationValue,
    /// The pause between two attempts.
    pub every: DurationValue,
    /// Makes `within` the documented bound on how late a change takes effect, which a target's
    /// `limits.propagation` (its own environment's bound) replaces.
    #[serde(default)]
    pub propagation: bool,
}

impl Eventually {
    /// Returns the window and the pace between attempts on a target whose changes take effect
    /// within `propagation` (its `limits.propagation`): that bound replaces `within` when the step
    /// says `propagation: true`, and the pace is capped to fit it.
    pub fn window(
        &self,
        propagation: Option<std::time::Duration>,
    ) -> (std::time::Duration, std::time::Duration) {
        match propagation.filter(|_| self.propagation) {
            Some(bound) => (bound, self.every.0.min(bound)),
            None => (self.within.0, self.every.0),
        }
    }
}

/// A value a `compute` step derives.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ComputeSpec {
    /// A JWT signed with key material the target supplies (secret).
    JwtSign(JwtSignSpec),
    /// A negative token made from a valid one (secret).
    JwtForge(JwtForgeSpec),
    /// A fresh PKCE verifier (secret).
    PkceVerifier(PkceVerifierSpec),
    /// The PKCE challenge of a verifier (public; secret with `plain`).
    PkceChallenge(PkceChallengeSpec),
    /// A chain of digests over a text, encoded (public unless `secret: true`).
    Digest(DigestSpec),
    /// An HMAC of a text, encoded (public unless `secret: true`).
    Hmac(HmacSpec),
    /// `key=value` pairs sorted by key and joined, then digested or HMACed, encoded (public
    /// unless `secret: true`).
    CanonicalSignature(CanonicalSignatureSpec),
    /// RFC 7617 credentials: base64 of UTF-8 `user-id ":" password`, without the scheme
    /// (secret), for headers `auth: { basic }` does not write (a misspelt header name).
    BasicCredentials(BasicAuth),
    /// A random lowercase-alphanumeric id (public), for values a live provider wants unique per
    /// run: a new login, a purchase reference.
    RandomId(RandomIdSpec),
    /// Integer arithmetic (public): integers joined by `+` and `-`, such as
    /// `"40 - {{existing}}"`, evaluated once its placeholders are rendered.
    Integer(Template),
}

impl ComputeSpec {
    /// Says whether the computed value is a secret. The loader decides by it whether
    /// `{{secret.name}}` or `{{name}}` refers to the value, and the executor whether to register
    /// it as a secret, so the two cannot disagree.
    pub fn output_is_secret(&self) -> bool {
        match self {
            Self::JwtSign(_) | Self::JwtForge(_) | Self::PkceVerifier(_) => true,
            Self::BasicCredentials(_) => true,
            Self::PkceChallenge(challenge) => challenge.method.as_deref() == Some("plain"),
            Self::Digest(digest) => digest.secret,
            Self::Hmac(hmac) => hmac.secret,
            Self::CanonicalSignature(signature) => signature.secret,
            Self::RandomId(_) | Self::Integer(_) => false,
        }
    }
}

/// A random id to draw.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomIdSpec {
    /// Its length, 8 to 64; 16 when absent.
    #[serde(default)]
    pub length: Option<usize>,
}

crate::tagged_enum!(
    ComputeSpec,
    "one of `jwt_sign`, `jwt_forge`, `pkce_verifier`, `pkce_challenge`, `digest`, `hmac`, `canonical_signature`, `basic_credentials`, `random_id`, `integer`"
);

/// A JWT to sign.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSignSpec {
    /// `HS256` or `RS256`.
    pub alg: String,
    /// The key material: a shared secret for HS256, a private key for RS256.
    pub key: JwtKey,
    /// The claims; string leaves may hold placeholders.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Sets `iat` to now and `exp` to now plus this (on the scenario's clock); may be negative
    /// through `expired_for` instead.
    #[serde(default)]
    pub expires_in: Option<DurationValue>,
    /// Sets `iat` and `exp` in the past: the token expired this long ago.
    #[serde(default)]
    pub expired_for: Option<DurationValue>,
}

/// A negative token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtForgeSpec {
    /// The valid token to start from.
    pub token: Template,
    /// What to change.
    pub change: ForgeChange,
}

/// What `jwt_forge` changes.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ForgeChange {
    /// `exp` set an hour in the past (original signature kept).
    Expired,
    /// `exp` removed (original signature kept).
    MissingExp,
    /// `alg: none`, empty signature.
    AlgNone,
    /// One bit of the signature flipped.
    AlteredSignature,
    /// These claims merged in (original signature kept).
    Claims(serde_json::Map<String, serde_json::Value>),
    /// Re-signed with another key: `test-other` (RS256) or an HS256 secret.
    WrongKey(Template),
}

crate::tagged_enum!(
    ForgeChange,
    "`expired`, `missing_exp`, `alg_none`, `altered_signature`, or one of `claims: {…}`, `wrong_key: …`"
);

/// A PKCE verifier to generate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkceVerifierSpec {
    /// Its length, 43 to 128; 64 when absent.
    #[serde(default)]
    pub length: Option<usize>,
}

/// A PKCE challenge to compute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkceChallengeSpec {
    /// The verifier.
    pub verifier: Template,
    /// `S256` (default) or `plain`.
    #[serde(default)]
    pub method: Option<String>,
}

/// Where `jwt_sign` takes its key from. Every form is a template, so the key comes from the
/// target (a secret, or a variable naming a file) and a scenario names no key of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JwtKey {
    /// The HS256 shared secret (its UTF-8 bytes).
    SharedSecret(Template),
    /// An RSA private key in PEM (`PRIVATE KEY` or `RSA PRIVATE KEY`).
    Pem(Template),
    /// An RSA private key as a JWK (JSON with `kty: RSA`, `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`).
    Jwk(Template),
    /// The path of a PEM file holding an RSA private key, relative to the target file's folder.
    PemFile(Template),
    /// An RSA private key as PEM or as a JWK, whichever the target holds: the form is detected,
    /// so a scenario using a provider's own key does not fix it.
    PrivateKey(Template),
}

crate::tagged_enum!(
    JwtKey,
    "one of `shared_secret: …`, `pem: …`, `jwk: …`, `pem_file: …`, `private_key: …`"
);

/// A digest chain to compute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestSpec {
    /// The text whose UTF-8 bytes are digested.
    pub of: Template,
    /// The algorithms, applied in order, each to the previous one's raw output.
    pub chain: Vec<DigestAlgorithm>,
    /// How the last output is written.
    pub encoding: OutputEncoding,
    /// Keeps the value secret (`{{secret.name}}`); public by default.
    #[serde(default)]
    pub secret: bool,
}

/// An HMAC to compute.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacSpec {
    /// The hash function.
    pub alg: HmacAlgorithm,
    /// The key, as text.
    pub key: Template,
    /// How the key's text becomes bytes; `utf-8` when absent.
    #[serde(default)]
    pub key_encoding: Option<KeyEncoding>,
    /// The text whose UTF-8 bytes are authenticated.
    pub message: Template,
    /// How the MAC is written.
    pub encoding: OutputEncoding,
    /// Keeps the value secret (`{{secret.name}}`); public by default.
    #[serde(default)]
    pub secret: bool,
}

/// A signature over `key=value` pairs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalSignatureSpec {
    /// The pairs, sorted by key (byte order) before joining; values may hold placeholders.
    pub pairs: IndexMap<String, Template>,
    /// Written between a key and its value; `=` when absent.
    #[serde(default)]
    pub key_value_separator: Option<Template>,
    /// Written between two pairs.
    pub separator: Template,
    /// What signs the joined text.
    pub then: CanonicalSigner,
    /// How the signature is written.
    pub encoding: OutputEncoding,
    /// Keeps the value secret (`{{secret.name}}`); public by default.
    #[serde(default)]
    pub secret: bool,
}

/// What signs a canonical string.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CanonicalSigner {
    /// A digest chain.
    Digest(Vec<DigestAlgorithm>),
    /// An HMAC.
    Hmac(CanonicalHmac),
}

crate::tagged_enum!(
    CanonicalSigner,
    "one of `digest: [algorithm, …]`, `hmac: { alg, key }`"
);

/// The HMAC of a canonical signature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanonicalHmac {
    /// The hash function.
    pub alg: HmacAlgorithm,
    /// The key, as text.
    pub key: Template,
    /// How the key's text becomes bytes; `utf-8` when absent.
    #[serde(default)]
    pub key_encoding: Option<KeyEncoding>,
}

/// A hash function of a digest chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self")]
pub enum DigestAlgorithm {
    /// BLAKE2b with a 256-bit output.
    #[serde(rename = "blake2b-256")]
    Blake2b256,
    /// The original Keccak-256 (as Ethereum), not SHA3-256.
    #[serde(rename = "keccak-256")]
    Keccak256,
    /// SHA-256.
    #[serde(rename = "sha-256")]
    Sha256,
    /// SHA3-256.
    #[serde(rename = "sha3-256")]
    Sha3_256,
}

crate::tagged_enum!(
    DigestAlgorithm,
    "one of `blake2b-256`, `keccak-256`, `sha-256`, `sha3-256`"
);

/// The hash function of an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self")]
pub enum HmacAlgorithm {
    /// HMAC-SHA-256.
    #[serde(rename = "sha-256")]
    Sha256,
    /// HMAC-SHA-512.
    #[serde(rename = "sha-512")]
    Sha512,
}

crate::tagged_enum!(HmacAlgorithm, "one of `sha-256`, `sha-512`");

/// How a computed value's bytes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self")]
pub enum OutputEncoding {
    /// Base58, Bitcoin alphabet.
    #[serde(rename = "base58")]
    Base58,
    /// Lowercase hexadecimal.
    #[serde(rename = "hex")]
    Hex,
    /// Uppercase hexadecimal.
    #[serde(rename = "HEX")]
    HexUpper,
    /// Standard base64 with padding.
    #[serde(rename = "base64")]
    Base64,
    /// URL-safe base64 without padding.
    #[serde(rename = "base64url")]
    Base64Url,
}

crate::tagged_enum!(
    OutputEncoding,
    "one of `base58`, `hex`, `HEX`, `base64`, `base64url`"
);

/// How a key's text becomes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(remote = "Self")]
pub enum KeyEncoding {
    /// Its UTF-8 bytes.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Hexadecimal.
    #[serde(rename = "hex")]
    Hex,
    /// Base64.
    #[serde(rename = "base64")]
    Base64,
}

crate::tagged_enum!(KeyEncoding, "one of `utf-8`, `hex`, `base64`");

/// An HTTP request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The method; `GET` when absent.
    #[serde(default)]
    pub method: Method,
    /// The absolute URL, usually starting with a host variable: `{{api_base}}/v1/orders`.
    pub url: Template,
    /// Query parameters, appended in order and form-encoded.
    #[serde(default)]
    pub query: Fields<String, Template>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: Fields<String, Template>,
    /// The body.
    #[serde(default)]
    pub body: Option<Body>,
    /// Credentials to present.
    #[serde(default)]
    pub auth: Option<AuthSpec>,
    /// Makes this request an OAuth2 token request: the form body and client authentication are
    /// built from the grant (RFC 6749 §4, §6, §2.3.1).
    #[serde(default)]
    pub token: Option<Box<OAuth2Spec>>,
    /// Makes this request a headless authorization request (RFC 6749 §4.1.1, RFC 7636): the query
    /// is built, redirects on the server's origin are followed and its login and consent forms
    /// filled, and `code` and `state` are read from the redirect to the `redirect_uri`, which is
    /// not followed.
    #[serde(default)]
    pub authorize: Option<Box<AuthorizeSpec>>,
    /// The named source address (from the target's `sources`) to send from; `default` when absent.
    #[serde(default)]
    pub source: Option<String>,
    /// Total time allowed for the exchange; the target's `request_timeout` when absent.
    #[serde(default)]
    pub timeout: Option<DurationValue>,
    /// Time allowed for the TCP (and TLS) connection; the total timeout when absent.
    #[serde(default)]
    pub connect_timeout: Option<DurationValue>,
}

/// An HTTP method, validated as an RFC 9110 token; or a template (`"{{entry_method}}"`) whose
/// value a target supplies, for an endpoint whose method the documentation leaves open, checked
/// the same way when rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// A method written in the scenario.
    Fixed(http::Method),
    /// A method the target supplies (boxed: rare, and larger than a method).
    Templated(Box<Template>),
}

impl Method {
    /// Parses an uppercase RFC 9110 method token.
    pub fn parse_token(s: &str) -> Result<http::Method, String> {
        if s.is_empty() || s.chars().any(|c| c.is_ascii_lowercase()) {
            return Err(format!(
                "invalid HTTP method `{s}`: expected an uppercase method such as `GET` or `POST`"
            ));
        }
        http::Method::from_bytes(s.as_bytes()).map_err(|_| format!("invalid HTTP method `{s}`"))
    }
}

impl Default for Method {
    fn default() -> Self {
        Self::Fixed(http::Method::GET)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(method) => write!(f, "{method}"),
            Self::Templated(template) => f.write_str(template.source()),
        }
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "an HTTP method such as `GET` or `POST`", |s| {
            if s.contains("{{") {
                return Template::parse(s).map(|t| Self::Templated(Box::new(t)));
            }
            Self::parse_token(s).map(Self::Fixed)
        })
    }
}

/// A request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Body {
    /// `application/x-www-form-urlencoded` fields, in order.
    Form(Fields<String, Template>),
    /// A JSON document; string leaves may hold placeholders.
    Json(serde_json::Value),
    /// Raw text, sent as it is (set `Content-Type` in `headers`).
    Raw(Template),
}

crate::tagged_enum!(Body, "one of `form: {…}`, `json: …`, `raw: \"…\"`");

/// Credentials presented on a request. The auth engine adds OAuth2 grants here.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthSpec {
    /// RFC 7617 `Authorization: Basic base64(user-id ":" password)`, UTF-8.
    Basic(BasicAuth),
    /// RFC 6750 `Authorization: Bearer <token>`.
    Bearer(Template),
    /// A key in a named header.
    ApiKey(ApiKeyAuth),
    /// A bearer token obtained with an OAuth2 grant from `token_url`, through the run's token
    /// cache (unless `fresh`).
    Oauth2(Box<OAuth2Spec>),
}

crate::tagged_enum!(
    AuthSpec,
    "one of `basic: {…}`, `bearer: …`, `api_key: {…}`, `oauth2: {…}`"
);

/// An OAuth2 grant: what a token request sends (RFC 6749).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Spec {
    /// The token endpoint (only in `auth: { oauth2 }`; a `token` request has its own `url`).
    #[serde(default)]
    pub token_url: Option<Template>,
    /// The grant type.
    pub grant: GrantType,
    /// The client id.
    #[serde(default)]
    pub client_id: Option<Template>,
    /// The client secret.
    #[serde(default)]
    pub client_secret: Option<Template>,
    /// How the client authenticates; `client_secret_basic` when a secret is given, else `none`.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
    /// Resource owner user name (password grant).
    #[serde(default)]
    pub username: Option<Template>,
    /// Resource owner password (password grant).
    #[serde(default)]
    pub password: Option<Template>,
    /// The refresh token (refresh_token grant).
    #[serde(default)]
    pub refresh_token: Option<Template>,
    /// The authorization code (authorization_code grant).
    #[serde(default)]
    pub code: Option<Template>,
    /// The redirect URI the code was issued for (authorization_code grant).
    #[serde(default)]
    pub redirect_uri: Option<Template>,
    /// The PKCE verifier (authorization_code grant).
    #[serde(default)]
    pub code_verifier: Option<Template>,
    /// Requested scope.
    #[serde(default)]
    pub scope: Option<Template>,
    /// RFC 8707 resource indicator.
    #[serde(default)]
    pub resource: Option<Template>,
    /// Further form fields, sent as they are.
    #[serde(default)]
    pub extra: IndexMap<String, Template>,
    /// Bypasses the token cache (only in `auth: { oauth2 }`): for scenarios about the token
    /// lifecycle itself.
    #[serde(default)]
    pub fresh: bool,
}

/// An OAuth2 grant type (RFC 6749 §4): one of the four the runner knows the fields of, or any
/// other non-empty string, sent verbatim as `grant_type` (an extension grant such as
/// `urn:ietf:params:oauth:grant-type:device_code`, or one the server must refuse).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// §4.3 Resource Owner Password Credentials.
    Password,
    /// §4.4 Client Credentials.
    ClientCredentials,
    /// §6 Refreshing an Access Token.
    RefreshToken,
    /// §4.1.3 Authorization Code exchange.
    AuthorizationCode,
    /// Any other grant type, as written: it requires no field beyond `grant`.
    Other(Box<str>),
}

impl GrantType {
    /// Returns the `grant_type` value.
    pub fn as_str(&self) -> &str {
        match self {
            GrantType::Password => "password",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::Other(other) => other,
        }
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(
            d,
            "a grant type: `password`, `client_credentials`, `refresh_token`, `authorization_code` or any other non-empty string",
            |s| {
                Ok(match s {
                    "password" => GrantType::Password,
                    "client_credentials" => GrantType::ClientCredentials,
                    "refresh_token" => GrantType::RefreshToken,
                    "authorization_code" => GrantType::AuthorizationCode,
                    "" => {
                        return Err(
                            "expected a grant type (sent as `grant_type`), found an empty string"
                                .into(),
                        );
                    }
                    other => GrantType::Other(other.into()),
                })
            },
        )
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1; OIDC Core §9 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic` with the form-urlencoded client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A public client: `client_id` in the body, no secret.
    None,
}

/// A headless authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeSpec {
    /// The client id.
    pub client_id: Template,
    /// The redirect URI to ask for.
    pub redirect_uri: Template,
    /// `response_type`; `code` when absent.
    #[serde(default)]
    pub response_type: Option<Template>,
    /// Requested scope.
    #[serde(default)]
    pub scope: Option<Template>,
    /// `state`; a random value when absent. The redirect must carry it back.
    #[serde(default)]
    pub state: Option<Template>,
    /// PKCE: a verifier is generated (or given) and its challenge sent.
    #[serde(default)]
    pub pkce: Option<PkceSpec>,
    /// Further query parameters.
    #[serde(default)]
    pub extra: IndexMap<String, Template>,
    /// The first page with a form on the server's origin: the login form to fill and submit.
    #[serde(default)]
    pub login: Option<Box<Interaction>>,
    /// The next page with a form: the consent form (unused when the server asks no consent).
    #[serde(default)]
    pub consent: Option<Box<Interaction>>,
    /// The names the step captures its outputs under, instead of `code`, `code_verifier`,
    /// `code_challenge` and `state`: with it, only the outputs it names are captured, so a
    /// second client's authorization leaves the first one's values in place.
    #[serde(default)]
    pub capture_as: Option<AuthorizeCaptureNames>,
}

/// `authorize.capture_as`: the name each output of an authorization step is captured under.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeCaptureNames {
    /// The name of the code (a secret).
    #[serde(default)]
    pub code: Option<String>,
    /// The name of the PKCE verifier (a secret).
    #[serde(default)]
    pub code_verifier: Option<String>,
    /// The name of the PKCE challenge.
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// The name of the `state` sent.
    #[serde(default)]
    pub state: Option<String>,
}

impl AuthorizeSpec {
    /// Returns the name output `output` (`code`, `code_verifier`, `code_challenge` or `state`)
    /// is captured under, or `None` when `capture_as` leaves it out.
    pub fn capture_name<'a>(&'a self, output: &'a str) -> Option<&'a str> {
        AuthorizeCaptureNames::name(self.capture_as.as_ref(), output)
    }
}

impl AuthorizeCaptureNames {
    /// Returns the name `output` is captured under with `names` (`capture_as`, when given), or
    /// `None` when they leave it out.
    pub fn name<'a>(names: Option<&'a Self>, output: &'a str) -> Option<&'a str> {
        let Some(names) = names else {
            return Some(output);
        };
        match output {
            "code" => names.code.as_deref(),
            "code_verifier" => names.code_verifier.as_deref(),
            "code_challenge" => names.code_challenge.as_deref(),
            "state" => names.state.as_deref(),
            _ => None,
        }
    }
}

/// A page of an authorization flow the runner fills in as a user would.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// The form to submit.
    pub form: FormSpec,
}

/// Which form of a page to submit, with what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    /// Values for named controls, replacing their defaults; names and values are templates, so
    /// a target can name the controls of its server's form (`"{{username_field}}"`).
    #[serde(default, deserialize_with = "non_empty_fields")]
    pub fields: IndexMap<FieldName, Template>,
    /// The submit control to press, matched against its name, id, value or text; the form's
    /// first submit control when absent.
    #[serde(default)]
    pub submit: Option<String>,
    /// A CSS selector for the form; the first form holding every named field when absent.
    #[serde(default)]
    pub selector: Option<FormSelector>,
}

/// The name of a form control: a template of public values, as it is shown in every report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldName(Box<str>);

impl FieldName {
    /// Returns the name as written, placeholders included.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the name as a template (checked when loaded, so it parses).
    pub fn template(&self) -> Template {
        Template::parse(&self.0).expect("checked when loaded")
    }
}

impl fmt::Display for FieldName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a form control's name", |s| {
            let template = Template::parse(s)?;
            if template
                .refs()
                .any(|r| matches!(r, crate::scenario::template::VarRef::Secret(_)))
            {
                return Err(format!(
                    "the field name `{s}` uses a secret: a control's name is shown in every report, so it may use only public variables"
                ));
            }
            Ok(Self(s.into()))
        })
    }
}

fn non_empty_fields<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<FieldName, Template>, D::Error> {
    let fields = IndexMap::<FieldName, Template>::deserialize(d)?;
    if fields.is_empty() {
        return Err(de::Error::custom(
            "an empty `fields`: name at least one control to fill (`login: \"{{secret.username}}\"`), or leave `fields` out",
        ));
    }
    Ok(fields)
}

/// A CSS selector, checked when loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormSelector(String);

impl FormSelector {
    /// Returns the selector as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for FormSelector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a CSS selector such as `form#login`", |s| {
            scraper::Selector::parse(s)
                .map(|_| Self(s.to_owned()))
                .map_err(|e| format!("invalid CSS selector `{s}`: {e}"))
        })
    }
}

/// PKCE parameters of an authorization request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkceSpec {
    /// `S256` (default) or `plain`, sent as `code_challenge_method`; `omit` sends no method.
    #[serde(default)]
    pub method: Option<String>,
    /// The verifier to use; a fresh random one (64 characters) when absent.
    #[serde(default)]
    pub verifier: Option<Template>,
    /// Sends this challenge instead of the one computed from the verifier (for negatives).
    #[serde(default)]
    pub challenge: Option<Template>,
}

/// Basic credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user-id (must not contain `:`).
    pub username: Template,
    /// The password (may contain `:`).
    pub password: Template,
}

/// An API key sent in a header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuth {
    /// The header name, e.g. `X-API-Key`.
    pub header: HeaderName,
    /// The key.
    pub value: Template,
}

/// A header name, validated as an RFC 9110 token and compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderName(pub http::HeaderName);

impl<'de> Deserialize<'de> for HeaderName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a header name", |s| {
            http::HeaderName::from_bytes(s.as_bytes())
                .map(Self)
                .map_err(|_| format!("invalid header name `{s}`"))
        })
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Where a captured value comes from: a JSONPath into the body, a header, or a regex (over the
/// header when `header` is given, over the body otherwise; its first group when it has one).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    /// RFC 9535 JSONPath into the JSON body; must select exactly one value.
    #[serde(default)]
    pub jsonpath: Option<JsonPath>,
    /// A response header (case-insensitive).
    #[serde(default)]
    pub header: Option<HeaderName>,
    /// A regex applied to the header value, or to the body.
    #[serde(default)]
    pub regex: Option<Regex>,
    /// Registers the value as a secret: redacted in every output, usable as `{{secret.NAME}}`.
    #[serde(default)]
    pub secret: bool,
    /// Keeps the whole response (status, headers, body) for a later `same_as`; as a variable,
    /// the body text.
    #[serde(default)]
    pub response: bool,
    /// Takes how many values `jsonpath` selects (0 included) instead of the one value it must
    /// select otherwise.
    #[serde(default)]
    pub count: bool,
}

/// Evaluates integers joined by `+` and `-` (`40 - 3 + 1`); each integer may carry a sign.
pub fn integer_sum(text: &str) -> Result<i64, String> {
    let not_integer = || {
        format!(
            "expected integers joined by `+` or `-` (like `40 - 3`), found \"{}\"",
            text.trim()
        )
    };
    let mut total: i64 = 0;
    let mut rest = text.trim();
    let mut sign = 1;
    loop {
        let unsigned = rest.trim_start();
        let (negative, digits_start) = match unsigned.strip_prefix('-') {
            Some(after) => (true, after.trim_start()),
            None => (
                false,
                unsigned.strip_prefix('+').unwrap_or(unsigned).trim_start(),
            ),
        };
        let end = digits_start
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits_start.len());
        if end == 0 {
            return Err(not_integer());
        }
        let value: i64 = digits_start[..end]
            .parse()
            .map_err(|_| format!("integer `{}` is too large", &digits_start[..end]))?;
        let value = if negative { -value } else { value };
        total = total
            .checked_add(sign * value)
            .ok_or_else(|| format!("`{}` overflows a 64-bit integer", text.trim()))?;
        rest = digits_start[end..].trim_start();
        sign = match rest.chars().next() {
            None => return Ok(total),
            Some('+') => 1,
            Some('-') => -1,
            Some(_) => return Err(not_integer()),
        };
        rest = &rest[1..];
    }
}

/// What a step expects.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The transport outcome; `response` when absent.
    #[serde(default)]
    pub outcome: ExpectedOutcome,
    /// Upper bound on the step's duration. With `outcome: timeout`, how long no answer must come.
    #[serde(default)]
    pub within: Option<DurationValue>,
    /// The status code, or a list of acceptable ones.
    #[serde(default)]
    pub status: Option<StatusSet>,
    /// Header checks by name (case-insensitive); each a check or a list of checks.
    #[serde(default)]
    pub headers: Fields<HeaderName, OneOrMany<TextCheck>>,
    /// JSONPath checks on the JSON body; each a check or a list of checks.
    #[serde(default)]
    pub json: Fields<JsonPath, OneOrMany<JsonCheck>>,
    /// Checks on the body as text.
    #[serde(default)]
    pub body: Option<OneOrMany<TextCheck>>,
    /// Checks on a `WWW-Authenticate` challenge (RFC 9110 §11.6.1, RFC 6750 §3).
    #[serde(default)]
    pub www_authenticate: Option<Box<ChallengeCheck>>,
    /// Checks on an OAuth error body (RFC 6749 §5.2).
    #[serde(default)]
    pub oauth_error: Option<Box<OAuthErrorCheck>>,
    /// Checks on an RFC 7807 / RFC 9457 problem body.
    #[serde(default)]
    pub problem: Option<Box<ProblemCheck>>,
    /// Checks on JWTs in the JSON body, by the JSONPath of the token (decoded, not verified).
    #[serde(default)]
    pub jwt: Fields<JsonPath, JwtCheck>,
    /// The response must be indistinguishable from one captured earlier (`response: true`).
    #[serde(default)]
    pub same_as: Option<Box<SameAs>>,
    /// Checks resting on a choice the provider's documentation does not make: when only these
    /// fail, the scenario differs from an assumption rather than failing.
    #[serde(default)]
    pub assumed: Option<Box<Assumed>>,
    /// Checks on what the server offers (usually its discovery metadata): when one does not
    /// hold, the scenario stops there and is skipped with `because` and the failed check.
    /// The same shape as `assumed:`: a reason and response checks.
    #[serde(default)]
    pub skip_unless: Option<Box<Assumed>>,
}

/// An `assumed:` block: response checks on what the documentation leaves open (an error body, a
/// member name), and `because`, the choice the docs do not make. A failure of these is reported
/// as differing from the assumption, not as non-conformance (`run --strict` makes it a failure).
/// A `skip_unless:` block has the same shape, `because` then saying what the server does not
/// offer when a check fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assumed {
    /// One line: which choice the documentation does not make.
    pub because: String,
    /// The status code, or a list of acceptable ones.
    #[serde(default)]
    pub status: Option<StatusSet>,
    /// Header checks by name.
    #[serde(default)]
    pub headers: Fields<HeaderName, OneOrMany<TextCheck>>,
    /// JSONPath checks on the JSON body.
    #[serde(default)]
    pub json: Fields<JsonPath, OneOrMany<JsonCheck>>,
    /// Checks on the body as text.
    #[serde(default)]
    pub body: Option<OneOrMany<TextCheck>>,
    /// Checks on a `WWW-Authenticate` challenge.
    #[serde(default)]
    pub www_authenticate: Option<Box<ChallengeCheck>>,
    /// Checks on an OAuth error body.
    #[serde(default)]
    pub oauth_error: Option<Box<OAuthErrorCheck>>,
    /// Checks on a problem-details body.
    #[serde(default)]
    pub problem: Option<Box<ProblemCheck>>,
    /// Checks on JWTs in the JSON body.
    #[serde(default)]
    pub jwt: Fields<JsonPath, JwtCheck>,
    /// The response must be indistinguishable from one captured earlier.
    #[serde(default)]
    pub same_as: Option<Box<SameAs>>,
    /// Read only to be refused at its position: the transport outcome is never an assumption.
    #[serde(default)]
    pub outcome: Option<de::IgnoredAny>,
    /// Read only to be refused at its position, as `outcome`.
    #[serde(default)]
    pub within: Option<de::IgnoredAny>,
}

impl Assumed {
    /// Returns the assumed checks as an [`Expectation`] on a response, for the checker.
    pub fn checks(&self) -> Expectation {
        Expectation {
            status: self.status.clone(),
            headers: self.headers.clone(),
            json: self.json.clone(),
            body: self.body.clone(),
            www_authenticate: self.www_authenticate.clone(),
            oauth_error: self.oauth_error.clone(),
            problem: self.problem.clone(),
            jwt: self.jwt.clone(),
            same_as: self.same_as.clone(),
            ..Expectation::default()
        }
    }
}

impl Expectation {
    /// Returns true when something of a response is checked (status, headers, body, a failure
    /// contract, a comparison), as opposed to a transport outcome or a duration alone.
    pub fn checks_response(&self) -> bool {
        let Expectation {
            outcome: _,
            within: _,
            status,
            headers,
            json,
            body,
            www_authenticate,
            oauth_error,
            problem,
            jwt,
            same_as,
            assumed,
            skip_unless,
        } = self;
        // Destructured without `..`, so a new expectation field must be classified here.
        status.is_some()
            || !headers.is_empty()
            || !json.is_empty()
            || body.is_some()
            || www_authenticate.is_some()
            || oauth_error.is_some()
            || problem.is_some()
            || !jwt.is_empty()
            || same_as.is_some()
            || assumed.is_some()
            || skip_unless.is_some()
    }
}

/// Compares a response with one captured earlier: same status, same body (JSON compared as
/// values, without the `ignore` paths), same values of the compared headers. Proves that two
/// refusals give nothing away, e.g. that a credential used from outside its CIDR gets exactly the
/// 401 of a wrong secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SameAs {
    /// The name of the earlier `response: true` capture.
    pub response: String,
    /// JSONPaths left out of both bodies before comparing (values that differ per request).
    #[serde(default)]
    pub ignore: Vec<JsonPath>,
    /// Headers whose values must be equal; `content-type` and `www-authenticate` when absent.
    #[serde(default)]
    pub headers: Option<Vec<HeaderName>>,
}

impl SameAs {
    /// Headers compared when `headers` is not given: those a refusal's contract lives in.
    pub const DEFAULT_HEADERS: &'static [&'static str] = &["content-type", "www-authenticate"];
}

/// A check on one value of a failure contract: a bare value means "equals" (`absent` and
/// `present` are words), a map is one of `equals`, `not_equals`, `differs_from`, `contains`,
/// `matches`.
#[derive(Debug, Clone)]
pub struct FieldCheck(pub TextCheck);

impl<'de> Deserialize<'de> for FieldCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = FieldCheck;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a value to equal, `present`, `absent`, or one of `equals: …`, `not_equals: …`, `differs_from: …`, `contains: …`, `matches: …`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldCheck, E> {
                Ok(FieldCheck(match v {
                    "present" => TextCheck::Present,
                    "absent" => TextCheck::Absent,
                    _ => TextCheck::Equals(Template::parse(v).map_err(E::custom)?),
                }))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldCheck, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldCheck, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<FieldCheck, A::Error> {
                TextCheck::deserialize(de::value::MapAccessDeserializer::new(map)).map(FieldCheck)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Checks on the `WWW-Authenticate` challenge of a scheme.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeCheck {
    /// The auth scheme whose challenge must be present (matched case-insensitively).
    pub scheme: String,
    /// `realm`.
    #[serde(default)]
    pub realm: Option<FieldCheck>,
    /// `charset` (RFC 7617).
    #[serde(default)]
    pub charset: Option<FieldCheck>,
    /// `error` (RFC 6750 §3).
    #[serde(default)]
    pub error: Option<FieldCheck>,
    /// `error_description`.
    #[serde(default)]
    pub error_description: Option<FieldCheck>,
    /// `error_uri`.
    #[serde(default)]
    pub error_uri: Option<FieldCheck>,
    /// `scope`.
    #[serde(default)]
    pub scope: Option<FieldCheck>,
}

impl ChallengeCheck {
    /// Returns the parameter checks by parameter name.
    pub fn fields(&self) -> [(&'static str, &Option<FieldCheck>); 6] {
        [
            ("realm", &self.realm),
            ("charset", &self.charset),
            ("error", &self.error),
            ("error_description", &self.error_description),
            ("error_uri", &self.error_uri),
            ("scope", &self.scope),
        ]
    }
}

/// Checks on an OAuth error body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthErrorCheck {
    /// `error`.
    #[serde(default)]
    pub error: Option<FieldCheck>,
    /// `error_description`.
    #[serde(default)]
    pub error_description: Option<FieldCheck>,
    /// `error_uri`.
    #[serde(default)]
    pub error_uri: Option<FieldCheck>,
}

impl OAuthErrorCheck {
    /// Returns the member checks by member name.
    pub fn fields(&self) -> [(&'static str, &Option<FieldCheck>); 3] {
        [
            ("error", &self.error),
            ("error_description", &self.error_description),
            ("error_uri", &self.error_uri),
        ]
    }
}

/// Checks on a problem-details body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemCheck {
    /// `type` (absent means `about:blank`).
    #[serde(default, rename = "type")]
    pub type_: Option<FieldCheck>,
    /// `title`.
    #[serde(default)]
    pub title: Option<FieldCheck>,
    /// `status`.
    #[serde(default)]
    pub status: Option<FieldCheck>,
    /// `detail`.
    #[serde(default)]
    pub detail: Option<FieldCheck>,
    /// `instance`.
    #[serde(default)]
    pub instance: Option<FieldCheck>,
}

impl ProblemCheck {
    /// Returns the member checks by member name.
    pub fn fields(&self) -> [(&'static str, &Option<FieldCheck>); 5] {
        [
            ("type", &self.type_),
            ("title", &self.title),
            ("status", &self.status),
            ("detail", &self.detail),
            ("instance", &self.instance),
        ]
    }
}

/// Checks on a JWT's decoded header and claims.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtCheck {
    /// JSONPath checks on the JOSE header.
    #[serde(default)]
    pub header: IndexMap<JsonPath, OneOrMany<JsonCheck>>,
    /// JSONPath checks on the claims.
    #[serde(default)]
    pub claims: IndexMap<JsonPath, OneOrMany<JsonCheck>>,
}

/// Whether a scenario proves a flow works or that something is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    /// The documented flow works.
    Happy,
    /// A documented failure happens.
    Negative,
}

impl ScenarioKind {
    /// The word the format, the console and the reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::Happy => "happy",
            ScenarioKind::Negative => "negative",
        }
    }
}

impl fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport outcome a step expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    /// An HTTP response arrives.
    #[default]
    Response,
    /// No response within `within` (connect or read timeout). A refused connection is not one.
    Timeout,
    /// The connection is refused (RST to the SYN).
    Refused,
    /// The connection is reset or closed before a response.
    Reset,
    /// The server answers with something that is not valid HTTP/1.1 (a bad status line,
    /// HTTP/0.9, control bytes in a header, too many or too large headers, a bad chunk).
    Malformed,
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectedOutcome::Response => "response",
            ExpectedOutcome::Timeout => "timeout",
            ExpectedOutcome::Refused => "refused",
            ExpectedOutcome::Reset => "reset",
            ExpectedOutcome::Malformed => "malformed",
        })
    }
}

/// A check on a piece of text: a header value or the body.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case")]
pub enum TextCheck {
    /// The header is present (the body is non-empty).
    Present,
    /// The header is absent (the body is empty).
    Absent,
    /// Equal to the text.
    Equals(Template),
    /// Present, and no value equal to the text.
    NotEquals(Template),
    /// Present, and no value equal to what an earlier capture (or a variable) holds.
    DiffersFrom(CaptureRef),
    /// Contains the text.
    Contains(Template),
    /// Matches the regex somewhere.
    Matches(Regex),
}

crate::tagged_enum!(
    TextCheck,
    "`present`, `absent`, or one of `equals: …`, `not_equals: …`, `differs_from: …`, `contains: …`, `matches: …`"
);

/// A check on the value a JSONPath selects.
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
#[serde(rename_all = "snake_case")]
pub enum JsonCheck {
    /// The path selects at least one value.
    Exists,
    /// The path selects nothing.
    Absent,
    /// The value equals this JSON value (string leaves may hold placeholders).
    Equals(serde_json::Value),
    /// The path selects one value, not equal to this JSON value (compared as `equals` compares).
    NotEquals(serde_json::Value),
    /// The path selects one value, not equal to what an earlier capture (or a variable) holds,
    /// compared as the capture would have taken it (a string's text, any other value's JSON).
    DiffersFrom(CaptureRef),
    /// The value is a string matching the regex.
    Matches(Regex),
    /// The value is a string containing this text.
    Contains(Template),
    /// The value is a number greater than this.
    Gt(NumberBound),
    /// The value is a number greater than or equal to this.
    Ge(NumberBound),
    /// The value is a number less than this.
    Lt(NumberBound),
    /// The value is a number less than or equal to this.
    Le(NumberBound),
}

crate::tagged_enum!(
    JsonCheck,
    "`exists`, `absent`, or one of `equals: …`, `not_equals: …`, `differs_from: …`, `matches: …`, `contains: …`, `gt:`, `ge:`, `lt:`, `le:`"
);

/// The name of an earlier capture or a variable (`old_refresh`, or `secret.NAME` for a target
/// secret), held as the template `{{old_refresh}}` so the loader's name checks cover it.
#[derive(Debug, Clone)]
pub struct CaptureRef(pub Template);

impl CaptureRef {
    /// Returns the name as written.
    pub fn name(&self) -> &str {
        let source = self.0.source();
        source
            .strip_prefix("{{")
            .and_then(|s| s.strip_suffix("}}"))
            .unwrap_or(source)
    }
}

impl<'de> Deserialize<'de> for CaptureRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(
            d,
            "the name of an earlier capture or a variable, like `old_refresh`",
            |s| {
                let name = s.strip_prefix("secret.").unwrap_or(s);
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(format!(
                        "expected the name of an earlier capture or a variable (letters, digits, `_`, `-`), like `old_refresh`, found \"{s}\""
                    ));
                }
                Template::parse(&format!("{{{{{s}}}}}")).map(Self)
            },
        )
    }
}

/// A bound of a numeric check: a number, or a template rendering one (`"{{max_ttl}}"`).
#[derive(Debug, Clone)]
pub struct NumberBound(pub Template);

impl NumberBound {
    /// Reads a rendered bound as a number.
    pub fn parse(text: &str) -> Option<f64> {
        text.trim().parse::<f64>().ok().filter(|n| n.is_finite())
    }
}

impl<'de> Deserialize<'de> for NumberBound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = NumberBound;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or a template rendering one like \"{{max_ttl}}\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumberBound, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumberBound, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumberBound, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NumberBound, E> {
                let template = Template::parse(v).map_err(E::custom)?;
                if template.as_literal().is_some() && NumberBound::parse(v).is_none() {
                    return Err(E::custom(format!(
                        "expected a number, or a template rendering one like \"{{{{max_ttl}}}}\", found the string \"{v}\""
                    )));
                }
                Ok(NumberBound(template))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A clock step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStep {
    /// How far to move time: a duration such as `1800s`, `30m`, or `"{{ttl}}s"`.
    pub advance: Template,
    /// Added to `advance`, e.g. `1s` to step just past an expiry.
    #[serde(default)]
    pub plus: Option<DurationValue>,
}

/// A duration written with its unit: `500ms`, `3s`, `30m`, `1h 30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl DurationValue {
    /// Parses a duration with its unit.
    pub fn parse(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s.trim()).map(Self).map_err(|e| {
            format!("invalid duration `{s}` ({e}): expected a number with a unit, like `3s`, `500ms` or `30m`")
        })
    }
}

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, like `3s`, `500ms` or `30m`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                DurationValue::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationValue, E> {
                Err(E::custom(format!(
                    "a duration needs a unit: write `{v}s` or `{v}ms`"
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                self.visit_u64(v.unsigned_abs())
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// One status code or a set of them (a boxed slice: an expectation holds one or two of these, and
/// every step holds an expectation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(pub Box<[StatusMatch]>);

/// One member of a [`StatusSet`]: a code, or a class of codes (`4xx`) where the docs name none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    /// Exactly this code.
    Code(u16),
    /// Any code of this hundred: `Class(4)` is 400–499.
    Class(u8),
}

impl StatusMatch {
    /// Returns true when `status` is this code or in this class.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(code) => code == status,
            Self::Class(class) => status / 100 == u16::from(class),
        }
    }

    /// Returns the lowest code this matches.
    pub fn lowest(self) -> u16 {
        match self {
            Self::Code(code) => code,
            Self::Class(class) => u16::from(class) * 100,
        }
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

impl StatusSet {
    /// Returns true when `status` is one of the set.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|m| m.matches(status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            [one] => write!(f, "{one}"),
            many => {
                let list: Vec<String> = many.iter().map(StatusMatch::to_string).collect();
                write!(f, "one of {}", list.join(", "))
            }
        }
    }
}

fn status_code<E: de::Error>(v: u64) -> Result<u16, E> {
    if (100..=599).contains(&v) {
        Ok(v as u16)
    } else {
        Err(E::custom(format!(
            "expected an HTTP status code (100–599), found {v}"
        )))
    }
}

/// Reads a status class written as text: `1xx` to `5xx` (`4XX` too).
fn status_class<E: de::Error>(v: &str) -> Result<StatusMatch, E> {
    match v.as_bytes() {
        [digit @ b'1'..=b'5', x, y]
            if x.eq_ignore_ascii_case(&b'x') && y.eq_ignore_ascii_case(&b'x') =>
        {
            Ok(StatusMatch::Class(digit - b'0'))
        }
        // Something like a class (`6xx`, `40x`, a quoted `401`): say classes exist.
        bytes
            if bytes.len() == 3
                && bytes
                    .iter()
                    .any(|b| b.is_ascii_digit() || b.eq_ignore_ascii_case(&b'x')) =>
        {
            Err(E::custom(format!(
                "expected an HTTP status code (100–599) or a status class (`1xx` to `5xx`), found the string \"{v}\""
            )))
        }
        _ => Err(E::custom(format!(
            "expected an HTTP status code (100–599), found the string \"{v}\""
        ))),
    }
}

/// One code of a status list, checked while the deserializer points at it, so a wrong code is
/// located at itself rather than at its list.
struct ListedStatus(StatusMatch);

impl<'de> Deserialize<'de> for ListedStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = ListedStatus;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an HTTP status code (100–599) or a status class (`4xx`)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ListedStatus, E> {
                status_code(v).map(|code| ListedStatus(StatusMatch::Code(code)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ListedStatus, E> {
                Err(E::custom(format!(
                    "expected an HTTP status code (100–599), found {v}"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListedStatus, E> {
                status_class(v).map(ListedStatus)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for StatusSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = StatusSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an HTTP status code (100–599), a status class (`4xx`) or a list of them",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusSet, E> {
                Ok(StatusSet(Box::new([StatusMatch::Code(status_code(v)?)])))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusSet, E> {
                Err(E::custom(format!(
                    "expected an HTTP status code (100–599), found {v}"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusSet, E> {
                Ok(StatusSet(Box::new([status_class(v)?])))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StatusSet, A::Error> {
                let mut codes = Vec::new();
                while let Some(ListedStatus(code)) = seq.next_element()? {
                    codes.push(code);
                }
                if codes.is_empty() {
                    return Err(de::Error::custom(
                        "expected at least one HTTP status code, found an empty list",
                    ));
                }
                Ok(StatusSet(codes.into()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An RFC 9535 JSONPath, parsed when loaded.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    path: serde_json_path::JsonPath,
}

/// Shows the JSONPath as written, as document paths name it.
impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

impl JsonPath {
    /// Returns the path as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns the compiled path.
    pub fn compiled(&self) -> &serde_json_path::JsonPath {
        &self.path
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for JsonPath {}
impl std::hash::Hash for JsonPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "an RFC 9535 JSONPath such as `$.access_token`", |s| {
            serde_json_path::JsonPath::parse(s)
                .map(|path| JsonPath {
                    source: s.to_owned(),
                    path,
                })
                .map_err(|e| {
                    format!(
                        "invalid JSONPath `{s}`: {} (expected RFC 9535 syntax such as `$.access_token`)",
                        one_line(&e.to_string())
                    )
                })
        })
    }
}

/// A regular expression, compiled when loaded.
#[derive(Debug, Clone)]
pub struct Regex(pub regex::Regex);

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse_str(d, "a regular expression", |s| {
            regex::Regex::new(s)
                .map(Regex)
                .map_err(|e| format!("invalid regex `{s}`: {}", one_line(&e.to_string())))
        })
    }
}

/// Deserializes a value written as a string through `parse`, raising its error while the
/// deserializer still points at that string (so the error is located at it, not at its map).
fn parse_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Visitor<F> {
        expecting: &'static str,
        parse: F,
    }
    impl<T, F: FnOnce(&str) -> Result<T, String>> de::Visitor<'_> for Visitor<F> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(Visitor { expecting, parse })
}

/// Keeps the last line of a multi-line library message (regex and JSONPath errors draw carets
/// over several lines, which the error renderer has its own way of showing).
fn one_line(message: &str) -> String {
    let last = message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message);
    last.trim().trim_start_matches("error: ").to_owned()
}

/// A mapping of a scenario as written, in order: what an `IndexMap` reads, kept as one exact
/// allocation (none when empty). A step holds several, mostly empty, for the whole run, where a
/// map's hash table and hasher would weigh 72 bytes each; lookups are rare and over a few keys.
#[derive(Debug, Clone)]
pub struct Fields<K, V>(Box<[(K, V)]>);

impl<K, V> Default for Fields<K, V> {
    fn default() -> Self {
        Self(Box::default())
    }
}

impl<K, V> Fields<K, V> {
    /// Returns true when the mapping has no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns how many entries it has.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns the entries in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Returns the keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &K> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Returns the value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
        Q: PartialEq + ?Sized,
    {
        self.0
            .iter()
            .find(|(k, _)| k.borrow() == key)
            .map(|(_, v)| v)
    }
}

impl<'a, K, V> IntoIterator for &'a Fields<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: std::hash::Hash + Eq, V> FromIterator<(K, V)> for Fields<K, V> {
    /// Keeps each key once, as a map does: the last value, at the first position.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        Self(
            entries
                .into_iter()
                .collect::<IndexMap<K, V>>()
                .into_iter()
                .collect(),
        )
    }
}

/// Read through `IndexMap`, so errors, their positions and a repeated key behave as a map's.
impl<'de, K, V> Deserialize<'de> for Fields<K, V>
where
    K: Deserialize<'de> + std::hash::Hash + Eq,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IndexMap::<K, V>::deserialize(d).map(|map| Self(map.into_iter().collect()))
    }
}

/// One item or a list of items.
#[derive(Debug, Clone)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for Visitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a check or a list of checks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany<T>, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<OneOrMany<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<OneOrMany<T>, A::Error> {
                T::deserialize(de::value::EnumAccessDeserializer::new(data))
                    .map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        d.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A status class matches its hundred only, alone or in a list beside codes, and prints as
    /// written; malformed classes are refused saying what a class is.
    #[test]
    fn status_classes_match_their_hundred_only() {
        let read = |text: &str| serde_json::from_str::<StatusSet>(text);
        let class = read(r#""4xx""#).unwrap();
        assert!(class.contains(400) && class.contains(401) && class.contains(499));
        assert!(!class.contains(399) && !class.contains(500) && !class.contains(200));
        assert_eq!(class.to_string(), "4xx");
        assert_eq!(read(r#""4XX""#).unwrap(), class);
        let mixed = read(r#"[302, "4xx"]"#).unwrap();
        assert!(mixed.contains(302) && mixed.contains(418) && !mixed.contains(301));
        assert_eq!(mixed.to_string(), "one of 302, 4xx");
        for bad in [
            r#""6xx""#,
            r#""0xx""#,
            r#""40x""#,
            r#""401""#,
            r#"[401, "4x0"]"#,
        ] {
            let error = read(bad).unwrap_err().to_string();
            assert!(
                error.contains("status class (`1xx` to `5xx`)"),
                "{bad}: {error}"
            );
        }
        let error = read(r#""fourohone""#).unwrap_err().to_string();
        assert!(
            error.contains(
                r#"expected an HTTP status code (100–599), found the string "fourohone""#
            ),
            "{error}"
        );
    }

    /// Every loaded scenario holds its steps for the whole run, so the inline size of the model
    /// is memory per scenario: rarely used parts are boxed. A field that makes these grow should
    /// be boxed too.
    #[test]
    fn the_model_stays_small() {
        let sizes = [
            ("Step", std::mem::size_of::<Step>(), 608),
            ("RequestSpec", std::mem::size_of::<RequestSpec>(), 272),
            ("Expectation", std::mem::size_of::<Expectation>(), 160),
            (
                "Fields",
                std::mem::size_of::<Fields<String, Template>>(),
                16,
            ),
            ("Scenario", std::mem::size_of::<Scenario>(), 144),
            ("Template", std::mem::size_of::<Template>(), 32),
        ];
        for (name, size, limit) in sizes {
            assert!(size <= limit, "{name} is {size} bytes, more than {limit}");
        }
    }

    #[test]
    fn a_propagation_bound_replaces_a_marked_window_only() {
        let read = |text: &str| -> Eventually { serde_yaml::from_str(text).unwrap() };
        let marked = read("{ within: 5m, every: 10s, propagation: true }");
        let plain = read("{ within: 5m, every: 10s }");
        let (s, m) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(marked.window(None), (5 * m, 10 * s));
        assert_eq!(marked.window(Some(30 * s)), (30 * s, 10 * s));
        // The pace is capped to fit a bound shorter than it.
        assert_eq!(marked.window(Some(4 * s)), (4 * s, 4 * s));
        assert_eq!(plain.window(Some(30 * s)), (5 * m, 10 * s));
    }

    #[test]
    fn a_method_is_a_token_or_a_template() {
        let read = |text: &str| serde_yaml::from_str::<Method>(text);
        assert_eq!(read("PUT").unwrap(), Method::Fixed(http::Method::PUT));
        let Method::Templated(template) = read("\"{{entry_method}}\"").unwrap() else {
            panic!("a template");
        };
        assert_eq!(template.source(), "{{entry_method}}");
        assert!(read("put").unwrap_err().to_string().contains("uppercase"));
        assert!(
            read("\"{{entry\"")
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
    }

    /// Header names are compared case-insensitively, so two spellings are one key: as a map,
    /// the mapping keeps the last value at the first position, and lookups find it by key.
    #[test]
    fn fields_keep_each_key_once_in_order() {
        let read = |text: &str| -> Fields<HeaderName, String> {
            serde_yaml::from_str(text).expect("a mapping")
        };
        let fields = read("b: 1\nX-A: 2\nx-a: 3\nc: 4\n");
        let entries: Vec<(String, &str)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_str()))
            .collect();
        assert_eq!(
            entries,
            [("b".into(), "1"), ("x-a".into(), "3"), ("c".into(), "4")]
        );
        assert_eq!(fields.len(), 3);
        let key = HeaderName(http::HeaderName::from_static("c"));
        assert_eq!(fields.get(&key).map(String::as_str), Some("4"));
        assert!(read("{}").is_empty());
        let error = serde_yaml::from_str::<Fields<String, u16>>("a: 1\nb: x\n").unwrap_err();
        assert!(error.to_string().contains("invalid type"), "{error}");
    }
}
