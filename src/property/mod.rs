//! Generated cases for `property` steps: a family derives hundreds of variants of one valid
//! credential with proptest, and the engine sends them, judges each and shrinks a failing one.
//!
//! A family ([`family_strategy`]) is a proptest strategy producing [`Case`]s from the step's
//! rendered `from` values; a case is a label for reports plus a [`Change`] applied to the step's
//! request. The engine ([`run_cases`]) draws the cases from a [`Seed`] with proptest's
//! `TestRunner` on a ChaCha RNG, sends them at most `concurrency` at a time (and, when a
//! [`Pace`] is given, at most its rate), and shrinks the first failing case with
//! `ValueTree::simplify`/`complicate`, re-sending each candidate, within [`MAX_SHRINK_STEPS`].
//!
//! ```text
//! from: {username, password} ─► Strategy<Case> ─► 256 ValueTrees ─► send ─► judge (exec::check)
//!                                                      │ first failing tree
//!                                                      └─► simplify / complicate ─► minimal case
//! ```

mod api_key;
mod basic;
mod bearer;
mod fresh_code;
mod json_credentials;
pub mod pace;
mod pkce;
mod source;
mod token_request;

use std::future::Future;

use futures::StreamExt as _;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sha2::Digest as _;

use crate::scenario::model::PropertyFamily;
pub use fresh_code::{FreshCode, StepGrant, stand_in, with_fresh_codes};
pub use pace::Pace;

/// The most candidates a failing case's shrinking sends: each costs a request.
pub const MAX_SHRINK_STEPS: u32 = 128;

/// The shortest generated password registered as a secret on its own.
const MIN_PASSWORD_FORM: usize = 12;

/// One generated variant: its kind, what reports call it, and what it does to the step's
/// request.
#[derive(Clone)]
pub struct Case {
    /// The case's kind, one of its family's [`PropertyFamily::kinds`], as the label starts: a
    /// scenario or target leaves kinds out by these names. Set by the family's arm for that kind
    /// ([`Arms::kind`]), so a case of a left-out kind cannot be drawn.
    pub kind: &'static str,
    /// The case's kind and what was changed, for reports: `wrong-password: truncated to 3 of
    /// 11 characters`. Never holds a credential.
    pub label: String,
    /// What the case does to the request.
    pub change: Change,
}

/// Shows the label only: the change holds credentials.
impl Case {
    /// Returns a case whose kind its family's arm sets ([`Arms::kind`]).
    pub(crate) fn new(label: String, change: Change) -> Self {
        Self {
            kind: "",
            label,
            change,
        }
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Case({})", self.label)
    }
}

/// What a case changes in the step's request.
#[derive(Clone)]
pub enum Change {
    /// Sets the `Authorization` header to these raw bytes (never CR, LF or NUL).
    Authorization(Vec<u8>),
    /// Sets header `name` (lowercase) to these raw bytes, replacing any value the request had, or
    /// removes it when `value` is `None`. `secret` when the value derives from a credential.
    Header {
        /// The header's name, lowercase.
        name: String,
        /// The raw value (never CR, LF or NUL), or `None` to remove the header.
        value: Option<Vec<u8>>,
        /// Whether the value is registered as a secret before the case is sent.
        secret: bool,
    },
    /// Replaces every query parameter `name` with one of this value, or removes them when
    /// `value` is `None`.
    Query {
        /// The parameter's name.
        name: String,
        /// The value, or `None` to remove the parameter.
        value: Option<String>,
        /// Whether the value is registered as a secret before the case is sent.
        secret: bool,
    },
    /// Replaces the request's body with these fields, form-urlencoded in this order (a name may
    /// repeat), with `Content-Type: application/x-www-form-urlencoded`.
    Form(Vec<FormField>),
    /// Sends the case from this local address instead of the step's source.
    Source(std::net::IpAddr),
    /// Sets field `name` of the request's form body, keeping the other fields: the first field
    /// of that name takes the value and the others are dropped (appended when there is none), or
    /// every one is removed when `value` is `None`.
    FormField(FormFieldChange),
    /// Runs the step's per-case authorization request (`property.authorize`) first, with this
    /// PKCE challenge and method; the code it returns goes into the request's `code` field.
    Authorize(AuthorizeChange),
    /// Runs the step's per-case authorization request (`property.authorize`) first, as written
    /// or with the S256 challenge of the case's own verifier; the code it returns (and that
    /// verifier) stand in for the step's in the request (see [`stand_in`]).
    FreshCode(FreshCode),
    /// Several changes, applied in order.
    All(Vec<Change>),
    /// Replaces the request's body with this JSON value, with `Content-Type: application/json`.
    Json(JsonBody),
}

/// A [`Change::Json`] body, and what of it derives from credentials.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonBody {
    /// The body sent.
    pub value: serde_json::Value,
    /// The members holding (variants of) credentials: transcripts show their strings as
    /// `[redacted]`.
    pub credential_members: Vec<String>,
    /// The credential values the body holds, each registered as a secret before the case is
    /// sent.
    pub secrets: Vec<String>,
}

/// A [`Change::FormField`]: one field of a form body set or removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormFieldChange {
    /// The field's name.
    pub name: String,
    /// The value, or `None` to remove the field.
    pub value: Option<String>,
    /// Whether the value is registered as a secret before the case is sent.
    pub secret: bool,
}

/// A [`Change::Authorize`]: what a case's own authorization request sends, and where the case
/// may be refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeChange {
    /// The `code_challenge` sent (registered as a secret: with `plain` it is the verifier).
    pub challenge: String,
    /// The `code_challenge_method` sent, or `None` to send none.
    pub method: Option<String>,
    /// True when the authorization request itself must refuse the case (a method the server
    /// does not support: RFC 7636 §4.4.1's `invalid_request` error redirect); otherwise the
    /// challenge is well formed, the server cannot tell it from a valid one, and a refusal there
    /// means the case could not be tried.
    pub refused_at_authorization: bool,
}

/// One field of a [`Change::Form`] body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    /// The field's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Whether the value is registered as a secret before the case is sent.
    pub secret: bool,
}

impl Change {
    /// Returns the values a report could show this change in, each to be registered as a secret
    /// before the case is sent: for an `Authorization` value, its credentials part and, when it
    /// decodes as base64, that text and (when at least [`MIN_PASSWORD_FORM`] bytes) its password;
    /// for a header or query parameter marked `secret`, its value when at least
    /// [`MIN_PASSWORD_FORM`] bytes; for a form field marked `secret`, its value.
    pub fn secret_forms(&self) -> Vec<String> {
        let mut forms = Vec::new();
        self.collect_secret_forms(&mut forms);
        // A JWT's claims as a server may echo them decoded (the registry derives the encoded
        // segments itself).
        let claims: Vec<String> = forms.iter().filter_map(|f| decoded_jwt_claims(f)).collect();
        forms.extend(claims);
        forms.retain(|f| !f.is_empty());
        forms.sort();
        forms.dedup();
        forms
    }

    fn collect_secret_forms(&self, forms: &mut Vec<String>) {
        use base64::Engine as _;
        match self {
            Change::Authorization(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let credentials = text.split_once(' ').map_or(&*text, |(_, c)| c).trim();
                forms.push(credentials.to_owned());
                let scheme_stripped = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
                forms.push(scheme_stripped.trim().to_owned());
                for candidate in [credentials, scheme_stripped.trim()] {
                    if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(candidate)
                    {
                        let decoded = String::from_utf8_lossy(&decoded).into_owned();
                        // A password alone only when long enough to be told from ordinary
                        // words: a truncation to `electrum` would blank every `electrum` in the
                        // reports. The pair and the token always name it whole.
                        if let Some((_, password)) = decoded.split_once(':')
                            && password.len() >= MIN_PASSWORD_FORM
                        {
                            forms.push(password.to_owned());
                        }
                        forms.push(decoded);
                    }
                }
            }
            // A short value alone (an API key truncated to `demo`) would blank ordinary words,
            // such as the scenario names in a replay command, in every report; the transcript
            // shows a secret header as `[redacted]` whatever its length.
            Change::Header {
                value: Some(value),
                secret: true,
                ..
            } if value.len() >= MIN_PASSWORD_FORM => {
                forms.push(String::from_utf8_lossy(value).trim().to_owned())
            }
            Change::Query {
                value: Some(value),
                secret: true,
                ..
            } if value.len() >= MIN_PASSWORD_FORM => forms.push(value.clone()),
            Change::Form(fields) => {
                forms.extend(fields.iter().filter(|f| f.secret).map(|f| f.value.clone()))
            }
            Change::FormField(FormFieldChange {
                value: Some(value),
                secret: true,
                ..
            }) => forms.push(value.clone()),
            Change::Authorize(authorize) => forms.push(authorize.challenge.clone()),
            Change::FreshCode(fresh) => forms.extend(fresh.verifier.clone()),
            Change::All(changes) => {
                for change in changes {
                    change.collect_secret_forms(forms);
                }
            }
            Change::Json(body) => forms.extend(body.secrets.iter().cloned()),
            Change::Header { .. }
            | Change::Query { .. }
            | Change::Source(_)
            | Change::FormField(_) => {}
        }
    }

    /// Returns the credential values under [`MIN_PASSWORD_FORM`] bytes this change sends (a
    /// secret truncated to its first few characters): the `Authorization` credentials and a
    /// Basic password, a header or query parameter marked `secret`, a credential form field, the
    /// strings of a JSON body's credential members.
    /// [`Change::secret_forms`] leaves most of them out (the registry, those under 4 bytes):
    /// registered for the run, they would blank ordinary words in every report. They are
    /// redacted from the case's own transcript and failed checks instead (`secret::CaseSecrets`).
    pub fn short_secret_forms(&self) -> Vec<String> {
        let mut short = Vec::new();
        self.collect_short_secret_forms(&mut short);
        short.retain(|v| !v.is_empty() && v.len() < MIN_PASSWORD_FORM);
        short.sort();
        short.dedup();
        short
    }

    fn collect_short_secret_forms(&self, short: &mut Vec<String>) {
        use base64::Engine as _;
        match self {
            Change::Authorization(bytes) => {
                let text = String::from_utf8_lossy(bytes);
                let credentials = text.split_once(' ').map_or(&*text, |(_, c)| c).trim();
                short.push(credentials.to_owned());
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials)
                    && let Some((_, password)) = String::from_utf8_lossy(&decoded).split_once(':')
                {
                    short.push(password.to_owned());
                }
            }
            Change::Header {
                value: Some(value),
                secret: true,
                ..
            } => short.push(String::from_utf8_lossy(value).trim().to_owned()),
            Change::Query {
                value: Some(value),
                secret: true,
                ..
            } => short.push(value.clone()),
            // A credential field too short to be marked secret (`token_request` marks only long
            // ones); transcripts already show its value as `[redacted]` by name.
            Change::Form(fields) => short.extend(
                fields
                    .iter()
                    .filter(|f| f.secret || crate::secret::is_credential_field(&f.name))
                    .map(|f| f.value.clone()),
            ),
            Change::FormField(FormFieldChange {
                name,
                value: Some(value),
                secret,
            }) if *secret || crate::secret::is_credential_field(name) => short.push(value.clone()),
            Change::Json(body) => {
                for member in &body.credential_members {
                    if let Some(value) = body.value.get(member) {
                        json_credentials::collect_strings(value, short);
                    }
                }
            }
            Change::All(changes) => {
                for change in changes {
                    change.collect_short_secret_forms(short);
                }
            }
            _ => {}
        }
    }

    /// Returns the case's own authorization request, when it runs one.
    pub fn authorize(&self) -> Option<&AuthorizeChange> {
        match self {
            Change::Authorize(authorize) => Some(authorize),
            Change::All(changes) => changes.iter().rev().find_map(Change::authorize),
            _ => None,
        }
    }

    /// Returns the case's own authorization for a code of its own, when it runs one.
    pub fn fresh_code(&self) -> Option<&FreshCode> {
        match self {
            Change::FreshCode(fresh) => Some(fresh),
            Change::All(changes) => changes.iter().rev().find_map(Change::fresh_code),
            _ => None,
        }
    }

    /// Returns the address the case is sent from, when it changes it.
    pub fn source(&self) -> Option<std::net::IpAddr> {
        match self {
            Change::Source(ip) => Some(*ip),
            Change::All(changes) => changes.iter().rev().find_map(Change::source),
            _ => None,
        }
    }
}

/// Returns the decoded claims segment of a value shaped like a JWT, when it is UTF-8 text of at
/// least [`MIN_PASSWORD_FORM`] bytes.
fn decoded_jwt_claims(value: &str) -> Option<String> {
    use base64::Engine as _;
    let mut parts = value.split('.');
    let (_, claims) = (parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|text| text.len() >= MIN_PASSWORD_FORM && text.starts_with('{'))
}

/// What a family may derive its cases from besides `from`: the step's request as rendered,
/// before any case changes it.
#[derive(Clone, Debug, Default)]
pub struct BaseRequest {
    /// The form-urlencoded body's fields in order, when the body is one.
    pub form: Option<Vec<(String, String)>>,
    /// The query parameters in order.
    pub query: Vec<(String, String)>,
    /// The `Authorization` header's raw value, when the request has one.
    pub authorization: Option<Vec<u8>>,
    /// Every header as sent (names lowercase), `Authorization` included.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The JSON body, when the body is one.
    pub json: Option<serde_json::Value>,
    /// The top-level members of the JSON body whose values the runner rendered from secrets
    /// (`{{secret.*}}` inputs or secret captures): the credentials a JSON body carries.
    pub json_credentials: Vec<String>,
}

impl BaseRequest {
    /// Reads the parts a family may use from a built request.
    pub fn of(request: &reqwest::Request) -> Self {
        let form = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("application/x-www-form-urlencoded"))
            .and_then(|_| request.body()?.as_bytes())
            .map(|bytes| url::form_urlencoded::parse(bytes).into_owned().collect());
        let json = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("application/json"))
            .and_then(|_| request.body()?.as_bytes())
            .and_then(|bytes| serde_json::from_slice(bytes).ok());
        Self {
            form,
            json,
            json_credentials: Vec::new(),
            query: request.url().query_pairs().into_owned().collect(),
            authorization: request
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.as_bytes().to_vec()),
            headers: request
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect(),
        }
    }
}

/// Applies `change` to `request`, except the source address (see [`Change::source`]).
///
/// # Errors
/// A header value or name that cannot be sent.
pub fn apply(change: &Change, request: &mut reqwest::Request) -> Result<(), String> {
    use http::{HeaderName, HeaderValue};
    match change {
        Change::Authorization(bytes) => {
            let value = HeaderValue::from_bytes(bytes)
                .map_err(|_| "the `Authorization` value is not a valid header value".to_owned())?;
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        Change::Header { name, value, .. } => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            match value {
                Some(bytes) => {
                    let value = HeaderValue::from_bytes(bytes)
                        .map_err(|_| format!("the `{name}` value is not a valid header value"))?;
                    request.headers_mut().insert(name, value);
                }
                None => {
                    request.headers_mut().remove(name);
                }
            }
        }
        Change::Query { name, value, .. } => {
            let kept: Vec<(String, String)> = request
                .url()
                .query_pairs()
                .into_owned()
                .filter(|(k, _)| k != name)
                .collect();
            let url = request.url_mut();
            url.set_query(None);
            if !kept.is_empty() || value.is_some() {
                let mut pairs = url.query_pairs_mut();
                pairs.extend_pairs(kept);
                if let Some(value) = value {
                    pairs.append_pair(name, value);
                }
            }
        }
        Change::Form(fields) => {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for field in fields {
                serializer.append_pair(&field.name, &field.value);
            }
            let body = serializer.finish();
            request.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            request.headers_mut().remove(http::header::CONTENT_LENGTH);
            *request.body_mut() = Some(body.into());
        }
        Change::FormField(field) => {
            let fields = form_fields(request).ok_or_else(|| {
                format!("the request has no form body to set `{}` in", field.name)
            })?;
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            let mut set = false;
            for (name, value) in &fields {
                if *name != field.name {
                    serializer.append_pair(name, value);
                } else if let (Some(value), false) = (&field.value, set) {
                    serializer.append_pair(name, value);
                    set = true;
                }
            }
            if let (Some(value), false) = (&field.value, set) {
                serializer.append_pair(&field.name, value);
            }
            request.headers_mut().remove(http::header::CONTENT_LENGTH);
            *request.body_mut() = Some(serializer.finish().into());
        }
        Change::Source(_) | Change::Authorize(_) | Change::FreshCode(_) => {}
        Change::All(changes) => {
            for change in changes {
                apply(change, request)?;
            }
        }
        Change::Json(body) => {
            request.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            request.headers_mut().remove(http::header::CONTENT_LENGTH);
            *request.body_mut() = Some(body.value.to_string().into());
        }
    }
    Ok(())
}

/// Reads a request's form-urlencoded body, when it has one.
pub fn form_fields(request: &reqwest::Request) -> Option<Vec<(String, String)>> {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("application/x-www-form-urlencoded"))
        .and_then(|_| request.body()?.as_bytes())
        .map(|bytes| url::form_urlencoded::parse(bytes).into_owned().collect())
}

/// Whether a family's cases must be refused or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polarity {
    /// Each case is an attack: the step's `expect` describes the refusal.
    Refused,
    /// Each case is a form the standard requires a server to accept: `expect` is a success.
    Accepted,
}

/// Returns whether `family`'s cases must be refused or accepted.
pub fn polarity(family: PropertyFamily) -> Polarity {
    match family {
        PropertyFamily::Basic => Polarity::Refused,
        PropertyFamily::BasicAccepted => Polarity::Accepted,
        PropertyFamily::ApiKey => Polarity::Refused,
        PropertyFamily::TokenRequest => Polarity::Refused,
        PropertyFamily::SourceInside => Polarity::Accepted,
        PropertyFamily::SourceOutside => Polarity::Refused,
        PropertyFamily::Bearer => Polarity::Refused,
        PropertyFamily::Pkce => Polarity::Refused,
        PropertyFamily::JsonCredentials => Polarity::Refused,
    }
}

/// A value tree of a case, held across the sends of a scenario's task.
pub type CaseTree = Box<dyn ValueTree<Value = Case> + Send>;

/// Draws one case's value tree from a runner.
type DrawTree = dyn Fn(&mut TestRunner) -> Result<CaseTree, String> + Send + Sync;

/// A family's strategy, its value trees boxed as [`CaseTree`]s.
pub struct CaseStrategy(Box<DrawTree>);

impl CaseStrategy {
    /// Wraps a strategy whose value trees can move between threads.
    pub fn new<S>(strategy: S) -> Self
    where
        S: Strategy<Value = Case> + Send + Sync + 'static,
        S::Tree: Send + 'static,
    {
        Self(Box::new(move |runner| {
            strategy
                .new_tree(runner)
                .map(|tree| Box::new(tree) as CaseTree)
                .map_err(|reason| reason.to_string())
        }))
    }

    /// Draws one case's value tree.
    pub fn tree(&self, runner: &mut TestRunner) -> Result<CaseTree, String> {
        (self.0)(runner)
    }
}

impl std::fmt::Debug for CaseStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseStrategy")
    }
}

/// Lets boxed strategies be the arms of a union whose value trees still move between threads.
impl Strategy for CaseStrategy {
    type Tree = CaseTree;
    type Value = Case;

    fn new_tree(&self, runner: &mut TestRunner) -> proptest::strategy::NewTree<Self> {
        self.tree(runner).map_err(Into::into)
    }
}

/// A family's arms, one kind each, as a weighted union: the kinds a step leaves out are never
/// added, so no draw and no shrinking step can reach them (rejecting them after drawing would
/// still let a shrunk case be one).
pub(crate) struct Arms<'a> {
    except: &'a [&'a str],
    arms: Vec<(u32, CaseStrategy)>,
}

impl<'a> Arms<'a> {
    /// Starts a union that leaves out the kinds in `except`.
    pub(crate) fn new(except: &'a [&'a str]) -> Self {
        Self {
            except,
            arms: Vec::new(),
        }
    }

    /// Returns whether `kind` is left out.
    pub(crate) fn excludes(&self, kind: &str) -> bool {
        self.except.contains(&kind)
    }

    /// Adds the arm of `kind` with `weight`, unless the kind is left out; each case it draws
    /// gets that kind. Arms go simplest first: shrinking moves towards earlier arms.
    pub(crate) fn kind<S>(&mut self, weight: u32, kind: &'static str, strategy: S)
    where
        S: Strategy<Value = Case> + Send + Sync + 'static,
        S::Tree: Send + 'static,
    {
        if !self.excludes(kind) {
            self.arms.push((
                weight,
                CaseStrategy::new(strategy.prop_map(move |case| Case { kind, ..case })),
            ));
        }
    }

    /// Adds a finite list of cases of `kind` with `weight`, unless the kind is left out or the
    /// list is empty.
    pub(crate) fn list(&mut self, weight: u32, kind: &'static str, cases: Vec<Case>) {
        if !cases.is_empty() {
            self.kind(weight, kind, proptest::sample::select(cases));
        }
    }

    /// Adds the union of `group` with `weight`, when any of its arms is left.
    pub(crate) fn group(&mut self, weight: u32, group: Arms<'_>) {
        if let Some(strategy) = group.union() {
            self.arms.push((weight, strategy));
        }
    }

    /// Returns the weighted union of the arms left, or `None` when every one was left out.
    pub(crate) fn union(mut self) -> Option<CaseStrategy> {
        match self.arms.len() {
            0 => None,
            1 => self.arms.pop().map(|(_, strategy)| strategy),
            _ => Some(CaseStrategy::new(proptest::strategy::Union::new_weighted(
                self.arms,
            ))),
        }
    }

    /// Returns the union, or the error a step whose every kind is left out is.
    pub(crate) fn finish(self) -> Result<CaseStrategy, String> {
        let except = self.except.join("`, `");
        self.union().ok_or_else(|| {
            format!("every kind this request allows is left out (`{except}`): no case to send")
        })
    }
}

/// Returns `family`'s strategy over the step's rendered `from` values (`(key, value)` pairs).
///
/// # Errors
/// A message naming a missing key or a value the family cannot use.
pub fn family_strategy(
    family: PropertyFamily,
    from: &[(String, String)],
    base: &BaseRequest,
) -> Result<CaseStrategy, String> {
    family_strategy_except(family, from, base, &[])
}

/// Returns `family`'s strategy like [`family_strategy`], its cases of the kinds in `except`
/// left out before drawing.
///
/// # Errors
/// A message naming a missing key or a value the family cannot use, or saying every kind the
/// request allows is left out.
pub fn family_strategy_except(
    family: PropertyFamily,
    from: &[(String, String)],
    base: &BaseRequest,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    let get = |key: &str| from.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let need = |key: &str| get(key).ok_or_else(|| format!("`from.{key}` is missing"));
    match family {
        PropertyFamily::Basic => basic::refused(
            need("username")?,
            need("password")?,
            get("other_password"),
            except,
        ),
        PropertyFamily::BasicAccepted => {
            basic::accepted(need("username")?, need("password")?, except)
        }
        PropertyFamily::ApiKey => api_key::refused(
            need("key")?,
            get("other_key"),
            get("revoked_key"),
            base,
            except,
        ),
        PropertyFamily::TokenRequest => token_request::refused(
            base,
            &token_request::Others {
                code: get("other_code"),
                refresh_token: get("other_refresh_token"),
            },
            except,
        ),
        PropertyFamily::SourceInside => source::inside(need("ranges")?, except),
        PropertyFamily::SourceOutside => source::outside(need("ranges")?, except),
        PropertyFamily::Bearer => bearer::refused(
            get("token"),
            get("public_key"),
            get("other_token"),
            base,
            except,
        ),
        PropertyFamily::Pkce => pkce::refused(need("verifier")?, get("required_method"), except),
        PropertyFamily::JsonCredentials => json_credentials::refused(base, from, except),
    }
}

/// A property step's seed: 32 bytes for proptest's ChaCha RNG.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// Derives a step's seed from the run's seed and the scenario's full name
    /// (`provider::file::id`) and the step's index, so a filtered run with the same run seed
    /// draws exactly the same cases.
    pub fn derive(run_seed: u64, trial_name: &str, step: usize) -> Self {
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"authconform property seed\0");
        hasher.update(run_seed.to_be_bytes());
        hasher.update(trial_name.as_bytes());
        hasher.update(b"\0");
        hasher.update((step as u64).to_be_bytes());
        Self(hasher.finalize().into())
    }

    /// Returns the first eight bytes in hexadecimal, for reports.
    pub fn short(&self) -> String {
        self.0[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Formats a run seed as `--seed` takes it: 16 hexadecimal digits.
pub fn format_run_seed(seed: u64) -> String {
    format!("{seed:016x}")
}

/// Parses `--seed`: 1 to 16 hexadecimal digits.
///
/// # Errors
/// What was expected, for the command line.
pub fn parse_run_seed(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.is_empty() || digits.len() > 16 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "expected a seed of 1 to 16 hexadecimal digits, found `{text}`"
        ));
    }
    u64::from_str_radix(digits, 16).map_err(|e| e.to_string())
}

/// How one case was judged, with what the caller keeps of a failing one.
#[derive(Debug)]
pub enum Judged<R> {
    /// The case met the step's `expect`; `R` is what reports show of it.
    Held(R),
    /// It did not; `R` is what reports show of it.
    Failed(R),
    /// It could not be sent (DNS, bind): the step cannot be judged.
    CouldNotRun(String),
}

/// A failing case as reports show it.
#[derive(Debug)]
pub struct FailedCase<R> {
    /// 1-based position among the generated cases (0 for a shrunk candidate).
    pub number: u32,
    /// The case's label.
    pub label: String,
    /// What the caller kept of it.
    pub record: R,
}

/// What a property step's cases came to.
#[derive(Debug)]
pub struct PropertyOutcome<R> {
    /// Cases generated and sent (shrink candidates not counted).
    pub sent: u32,
    /// Of those, the ones that met `expect`.
    pub held: u32,
    /// The first failing case in generation order.
    pub first_failure: Option<FailedCase<R>>,
    /// The smallest failing case shrinking reached (the first failing one when nothing smaller
    /// failed).
    pub minimal: Option<FailedCase<R>>,
    /// Candidates sent while shrinking.
    pub shrink_steps: u32,
    /// Why a case could not be sent, when one could not: the step is then an error.
    pub error: Option<String>,
    /// What the caller kept of the first case that held, in generation order.
    pub first_held: Option<R>,
}

/// Generates `cases` cases from `strategy` and `seed`, sends each through `judge` (at most
/// `concurrency` at once, paced by `pace` when given) and shrinks the first failing one.
///
/// Every case is judged, so the counts are the whole run's; the first failing case is the one
/// earliest in generation order, whatever order the answers came in, so a replay reports the
/// same case.
pub async fn run_cases<R, F, Fut>(
    strategy: &CaseStrategy,
    seed: Seed,
    cases: u32,
    concurrency: usize,
    pace: Option<&Pace>,
    judge: F,
) -> PropertyOutcome<R>
where
    F: Fn(Case) -> Fut,
    Fut: Future<Output = Judged<R>>,
{
    let mut outcome = PropertyOutcome {
        sent: 0,
        held: 0,
        first_failure: None,
        minimal: None,
        shrink_steps: 0,
        error: None,
        first_held: None,
    };
    let mut trees = match draw(strategy, seed, cases) {
        Ok(trees) => trees,
        Err(e) => {
            outcome.error = Some(format!("could not generate the cases: {e}"));
            return outcome;
        }
    };
    once_per_source(&mut trees);
    let mut results: Vec<(usize, Judged<R>)> = futures::stream::iter(
        trees
            .iter()
            .map(|tree| tree.current())
            .enumerate()
            .collect::<Vec<_>>(),
    )
    .map(|(i, case)| {
        let judged = judge(case);
        async move {
            if let Some(pace) = pace {
                pace.wait_turn().await;
            }
            (i, judged.await)
        }
    })
    .buffer_unordered(concurrency.max(1))
    .collect()
    .await;
    results.sort_by_key(|(i, _)| *i);
    let mut first_failing = None;
    for (i, judged) in results {
        outcome.sent += 1;
        match judged {
            Judged::Held(record) => {
                outcome.held += 1;
                outcome.first_held.get_or_insert(record);
            }
            Judged::Failed(record) => {
                if outcome.first_failure.is_none() {
                    first_failing = Some(i);
                    outcome.first_failure = Some(FailedCase {
                        number: i as u32 + 1,
                        label: trees[i].current().label,
                        record,
                    });
                }
            }
            Judged::CouldNotRun(message) => {
                outcome.error.get_or_insert(message);
            }
        }
    }
    if outcome.error.is_some() {
        return outcome;
    }
    if let Some(i) = first_failing {
        let tree = &mut trees[i];
        let mut last_failed = true;
        while outcome.shrink_steps < MAX_SHRINK_STEPS {
            let moved = if last_failed {
                tree.simplify()
            } else {
                tree.complicate()
            };
            if !moved {
                break;
            }
            let case = tree.current();
            let label = case.label.clone();
            if let Some(pace) = pace {
                pace.wait_turn().await;
            }
            outcome.shrink_steps += 1;
            match judge(case).await {
                Judged::Failed(record) => {
                    last_failed = true;
                    outcome.minimal = Some(FailedCase {
                        number: 0,
                        label,
                        record,
                    });
                }
                Judged::Held(_) => last_failed = false,
                // A candidate that cannot be sent proves nothing either way: shrinking stops at
                // the smallest case known to fail.
                Judged::CouldNotRun(_) => break,
            }
        }
    }
    outcome
}

/// Keeps the first of the trees whose case only moves the source to the same address: sending
/// from an address again proves nothing, so a source family's `cases` bounds the draws and each
/// address drawn is sent once.
fn once_per_source(trees: &mut Vec<CaseTree>) {
    let mut seen = std::collections::HashSet::new();
    trees.retain(|tree| match tree.current().change {
        Change::Source(ip) => seen.insert(ip),
        _ => true,
    });
}

/// Draws `n` cases from `strategy` on a ChaCha RNG seeded with 32 bytes of `seed`, for the
/// families' unit tests.
#[cfg(test)]
pub(crate) fn sample_cases(strategy: &CaseStrategy, n: usize, seed: u8) -> Vec<Case> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]),
    );
    (0..n)
        .map(|_| strategy.tree(&mut runner).unwrap().current())
        .collect()
}

/// Draws the value trees of `cases` cases from `seed`.
fn draw(strategy: &CaseStrategy, seed: Seed, cases: u32) -> Result<Vec<CaseTree>, String> {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed.0));
    (0..cases).map(|_| strategy.tree(&mut runner)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Vec<(String, String)> {
        vec![
            ("username".into(), "alice".into()),
            ("password".into(), "correct horse".into()),
        ]
    }

    fn headers(family: PropertyFamily, seed: Seed, n: u32) -> Vec<Vec<u8>> {
        let strategy = family_strategy(family, &inputs(), &BaseRequest::default()).unwrap();
        draw(&strategy, seed, n)
            .unwrap()
            .iter()
            .map(|t| match t.current().change {
                Change::Authorization(bytes) => bytes,
                _ => panic!("a Basic case sets the `Authorization` header"),
            })
            .collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_cases_and_another_seed_others() {
        let a = Seed::derive(7, "demo::basic::x", 0);
        let b = Seed::derive(8, "demo::basic::x", 0);
        assert_eq!(
            headers(PropertyFamily::Basic, a, 64),
            headers(PropertyFamily::Basic, a, 64)
        );
        assert_ne!(
            headers(PropertyFamily::Basic, a, 64),
            headers(PropertyFamily::Basic, b, 64)
        );
        assert_ne!(
            Seed::derive(7, "demo::basic::x", 0).0,
            Seed::derive(7, "demo::basic::y", 0).0
        );
    }

    #[test]
    fn run_seeds_parse_as_hex_and_print_back() {
        assert_eq!(parse_run_seed("9f3c").unwrap(), 0x9f3c);
        assert_eq!(
            parse_run_seed(&format_run_seed(u64::MAX)).unwrap(),
            u64::MAX
        );
        assert!(parse_run_seed("").is_err());
        assert!(parse_run_seed("xyz").is_err());
        assert!(parse_run_seed("12345678901234567").is_err());
    }

    #[test]
    fn secret_forms_cover_the_token_the_pair_and_the_password() {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode("alice:a-long-password\n");
        let forms = Change::Authorization(format!("Basic {token}").into_bytes()).secret_forms();
        assert!(forms.contains(&token));
        assert!(forms.iter().any(|f| f == "a-long-password\n"));
        assert!(forms.iter().any(|f| f == "alice:a-long-password\n"));
        // A short password alone is not one: it would blank ordinary words in every report.
        let token = base64::engine::general_purpose::STANDARD.encode("alice:electrum");
        let forms = Change::Authorization(format!("Digest {token}").into_bytes()).secret_forms();
        assert!(forms.contains(&token));
        assert!(forms.iter().any(|f| f == "alice:electrum"));
        assert!(!forms.iter().any(|f| f == "electrum"));
    }

    #[test]
    fn short_secret_forms_are_the_short_credentials_secret_forms_leaves_out() {
        use base64::Engine as _;
        let basic = |pair: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(pair);
            Change::Authorization(format!("Basic {token}").into_bytes())
        };
        let header = |value: &str| Change::Header {
            name: "x-api-key".into(),
            value: Some(value.as_bytes().to_vec()),
            secret: true,
        };
        let cases = [
            (header("dem"), vec!["dem"]),
            (header("a-long-api-key-0123"), vec![]),
            (
                Change::Query {
                    name: "key".into(),
                    value: Some("demo-api".into()),
                    secret: true,
                },
                vec!["demo-api"],
            ),
            // A password cut to two characters: the pair and the token are long, so only it.
            (basic("alice:el"), vec!["el"]),
            (Change::Authorization(b"Bearer eyJ".to_vec()), vec!["eyJ"]),
            (
                Change::Form(vec![
                    FormField {
                        name: "client_secret".into(),
                        value: "lab".into(),
                        secret: false,
                    },
                    FormField {
                        name: "username".into(),
                        value: "bob".into(),
                        secret: false,
                    },
                ]),
                vec!["lab"],
            ),
            (
                Change::All(vec![
                    header("k"),
                    Change::FormField(FormFieldChange {
                        name: "code".into(),
                        value: Some("c0".into()),
                        secret: false,
                    }),
                ]),
                vec!["c0", "k"],
            ),
            (
                Change::Header {
                    name: "x-trace".into(),
                    value: Some(b"abc".to_vec()),
                    secret: false,
                },
                vec![],
            ),
            (
                Change::Json(JsonBody {
                    value: serde_json::json!({"login": "bob", "password": "hu", "pin": ["12"]}),
                    credential_members: vec!["password".into(), "pin".into()],
                    secrets: Vec::new(),
                }),
                vec!["12", "hu"],
            ),
        ];
        for (change, short) in cases {
            assert_eq!(change.short_secret_forms(), short);
        }
    }

    fn form_request() -> reqwest::Request {
        reqwest::Client::new()
            .post("http://127.0.0.1:9/token?a=1&b=2&a=3")
            .header("x-api-key", "k-0123456789")
            .header("authorization", "Basic abc")
            .form(&[("grant_type", "password"), ("password", "p w&d")])
            .build()
            .unwrap()
    }

    #[test]
    fn the_base_request_reads_the_form_the_query_and_the_authorization() {
        let base = BaseRequest::of(&form_request());
        assert_eq!(
            base.form.unwrap(),
            [("grant_type", "password"), ("password", "p w&d")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(base.query.len(), 3);
        assert_eq!(base.authorization.as_deref(), Some(&b"Basic abc"[..]));
        assert!(
            base.headers
                .iter()
                .any(|(n, v)| n == "x-api-key" && v == b"k-0123456789")
        );
        let get = reqwest::Client::new()
            .get("http://127.0.0.1:9/")
            .build()
            .unwrap();
        let base = BaseRequest::of(&get);
        assert!(base.form.is_none() && base.query.is_empty() && base.authorization.is_none());
    }

    #[test]
    fn changes_apply_to_headers_the_query_and_the_form() {
        let mut request = form_request();
        let change = Change::All(vec![
            Change::Header {
                name: "x-api-key".into(),
                value: None,
                secret: false,
            },
            Change::Header {
                name: "x-other".into(),
                value: Some(b" padded-value-0123 ".to_vec()),
                secret: true,
            },
            Change::Query {
                name: "a".into(),
                value: Some("9 9".into()),
                secret: false,
            },
            Change::Query {
                name: "b".into(),
                value: None,
                secret: false,
            },
            Change::Form(vec![
                FormField {
                    name: "grant_type".into(),
                    value: "password".into(),
                    secret: false,
                },
                FormField {
                    name: "grant_type".into(),
                    value: "password".into(),
                    secret: false,
                },
            ]),
            Change::Source("127.0.0.9".parse().unwrap()),
        ]);
        apply(&change, &mut request).unwrap();
        assert!(request.headers().get("x-api-key").is_none());
        assert_eq!(request.headers()["x-other"], " padded-value-0123 ");
        assert_eq!(request.url().query(), Some("a=9+9"));
        assert_eq!(
            request.body().unwrap().as_bytes().unwrap(),
            b"grant_type=password&grant_type=password"
        );
        assert_eq!(change.source(), Some("127.0.0.9".parse().unwrap()));
        assert_eq!(change.secret_forms(), ["padded-value-0123"]);
        // A short value alone is no secret form: it would blank ordinary words in reports.
        for short in [
            Change::Header {
                name: "x-api-key".into(),
                value: Some(b"demo".to_vec()),
                secret: true,
            },
            Change::Query {
                name: "key".into(),
                value: Some("demo-api".into()),
                secret: true,
            },
        ] {
            assert!(short.secret_forms().is_empty());
        }
        let bad = Change::Header {
            name: "x-bad".into(),
            value: Some(b"a\nb".to_vec()),
            secret: false,
        };
        assert!(apply(&bad, &mut request).is_err());
    }

    #[test]
    fn a_form_field_is_set_in_place_appended_or_removed() {
        let set = |name: &str, value: Option<&str>| {
            let mut request = form_request();
            let change = Change::FormField(FormFieldChange {
                name: name.into(),
                value: value.map(str::to_owned),
                secret: true,
            });
            apply(&change, &mut request).unwrap();
            String::from_utf8(request.body().unwrap().as_bytes().unwrap().to_vec()).unwrap()
        };
        assert_eq!(
            set("grant_type", Some("x y")),
            "grant_type=x+y&password=p+w%26d"
        );
        assert_eq!(
            set("code", Some("c")),
            "grant_type=password&password=p+w%26d&code=c"
        );
        assert_eq!(set("password", None), "grant_type=password");
        let mut get = reqwest::Client::new()
            .get("http://127.0.0.1:9/")
            .build()
            .unwrap();
        let change = Change::FormField(FormFieldChange {
            name: "code".into(),
            value: None,
            secret: false,
        });
        assert!(apply(&change, &mut get).is_err());
    }

    #[test]
    fn a_flow_case_registers_its_verifier_and_challenge_and_names_its_authorization() {
        let change = Change::All(vec![
            Change::Authorize(AuthorizeChange {
                challenge: "challenge-0123456789".into(),
                method: Some("S256".into()),
                refused_at_authorization: false,
            }),
            Change::FormField(FormFieldChange {
                name: "code_verifier".into(),
                value: Some("verifier-0123456789".into()),
                secret: true,
            }),
        ]);
        assert_eq!(
            change.secret_forms(),
            ["challenge-0123456789", "verifier-0123456789"]
        );
        assert_eq!(
            change.authorize().map(|a| a.challenge.as_str()),
            Some("challenge-0123456789")
        );
        let mut request = form_request();
        apply(&change, &mut request).unwrap();
        assert!(
            String::from_utf8_lossy(request.body().unwrap().as_bytes().unwrap())
                .ends_with("&code_verifier=verifier-0123456789")
        );
    }

    /// A judge failing every case whose header is longer than a bound: shrinking must reach a
    /// failing case no longer than the first failing one, and count its steps.
    #[tokio::test]
    async fn a_failing_case_shrinks_to_a_smaller_failing_one() {
        let strategy =
            family_strategy(PropertyFamily::Basic, &inputs(), &BaseRequest::default()).unwrap();
        let judge = |case: Case| async move {
            let Change::Authorization(bytes) = case.change else {
                return Judged::CouldNotRun("not a Basic case".into());
            };
            if bytes.len() > 200 {
                Judged::Failed(bytes.len())
            } else {
                Judged::Held(bytes.len())
            }
        };
        let outcome = run_cases(&strategy, Seed([3; 32]), 256, 8, None, judge).await;
        assert_eq!(outcome.sent, 256);
        let first = outcome.first_failure.expect("an over-long case among 256");
        assert!(outcome.held < 256);
        let minimal = outcome.minimal.map_or(first.record, |m| m.record);
        assert!(minimal > 200 && minimal <= first.record);
        assert!(outcome.shrink_steps > 0 && outcome.shrink_steps <= MAX_SHRINK_STEPS);
    }

    /// The engine never has more than `concurrency` cases in flight, and does use that many.
    #[tokio::test]
    async fn no_more_than_the_concurrency_is_in_flight() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let strategy =
            family_strategy(PropertyFamily::Basic, &inputs(), &BaseRequest::default()).unwrap();
        let (in_flight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let judge = |_case: Case| {
            let (in_flight, most) = (&in_flight, &most);
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Judged::<()>::Held(())
            }
        };
        let outcome = run_cases(&strategy, Seed([5; 32]), 100, 7, None, judge).await;
        assert_eq!((outcome.sent, outcome.held), (100, 100));
        assert_eq!(most.load(Ordering::SeqCst), 7);
    }

    /// Inputs and a request every family can vary, for the kind tests.
    fn family_inputs(family: PropertyFamily) -> (Vec<(String, String)>, BaseRequest) {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(r#"{"alg":"HS256","typ":"JWT"}"#),
            b64(r#"{"sub":"alice","iat":1700000000,"exp":4000000000,"roles":["a"]}"#)
        );
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let from = match family {
            PropertyFamily::Basic => pairs(&[
                ("username", "alice"),
                ("password", "correct horse"),
                ("other_password", "bob's password"),
            ]),
            PropertyFamily::BasicAccepted => pairs(&[("username", "alice"), ("password", "pw")]),
            PropertyFamily::ApiKey => pairs(&[
                ("key", "key-0123456789"),
                ("other_key", "key-other-000"),
                ("revoked_key", "key-revoked-00"),
            ]),
            PropertyFamily::TokenRequest => pairs(&[("other_code", "c0de-other")]),
            PropertyFamily::SourceInside => pairs(&[("ranges", "127.0.2.8/30 127.0.3.1/32")]),
            PropertyFamily::SourceOutside => pairs(&[("ranges", "127.0.2.8/30")]),
            PropertyFamily::Bearer => pairs(&[
                ("other_token", "another-users-token"),
                ("public_key", crate::auth::jwt::TEST_RS256_PUBLIC_PEM),
            ]),
            PropertyFamily::Pkce => {
                pairs(&[("verifier", &"v".repeat(43)), ("required_method", "S256")])
            }
            PropertyFamily::JsonCredentials => pairs(&[("other_password", "bob's password")]),
        };
        let base = BaseRequest {
            form: Some(pairs(&[
                ("grant_type", "authorization_code"),
                ("code", "c0de-valid-1234567890"),
                ("redirect_uri", "https://app.example/cb"),
                ("client_id", "app"),
                ("client_secret", "s3cret-value-123"),
            ])),
            authorization: Some(format!("Bearer {jwt}").into_bytes()),
            headers: vec![
                ("x-api-key".into(), b"key-0123456789".to_vec()),
                ("authorization".into(), format!("Bearer {jwt}").into_bytes()),
            ],
            json: Some(serde_json::json!({"login": "alice", "password": "correct horse"})),
            json_credentials: vec!["login".into(), "password".into()],
            ..BaseRequest::default()
        };
        (from, base)
    }

    /// Every case a family draws is of one of its listed kinds, its label starting with it, and
    /// every listed kind is drawn from requests that allow it.
    #[test]
    fn each_case_is_of_a_listed_kind_named_by_its_label() {
        let mut drawn = std::collections::BTreeSet::new();
        for &family in PropertyFamily::ALL {
            let (from, base) = family_inputs(family);
            let strategy = family_strategy(family, &from, &base).unwrap();
            for case in sample_cases(&strategy, 2000, 9) {
                assert!(
                    family.kinds().contains(&case.kind),
                    "{}: `{}` is not listed",
                    family.as_str(),
                    case.kind
                );
                assert!(case.label.starts_with(case.kind), "{}", case.label);
                drawn.insert((family.as_str(), case.kind));
            }
        }
        // A token request of another grant allows the grant's other kinds.
        for (grant, field, kind) in [
            ("refresh_token", "refresh_token", "wrong-refresh-token"),
            ("password", "password", "wrong-password"),
            ("password", "username", "wrong-username"),
        ] {
            let base = BaseRequest {
                form: Some(vec![
                    ("grant_type".into(), grant.into()),
                    (field.into(), "a-value-0123456789".into()),
                    ("client_id".into(), "app".into()),
                    ("client_secret".into(), "s3cret-value-123".into()),
                ]),
                ..BaseRequest::default()
            };
            let strategy = family_strategy(PropertyFamily::TokenRequest, &[], &base).unwrap();
            if sample_cases(&strategy, 500, 4)
                .iter()
                .any(|c| c.kind == kind)
            {
                drawn.insert(("token_request", kind));
            }
        }
        for &family in PropertyFamily::ALL {
            for kind in family.kinds() {
                assert!(
                    drawn.contains(&(family.as_str(), *kind)),
                    "`{}` never drew `{kind}`",
                    family.as_str()
                );
            }
        }
    }

    /// A left-out kind is in no drawn case and in no case shrinking reaches, while the same
    /// strategy without the exclusion draws it.
    #[test]
    fn a_left_out_kind_is_neither_drawn_nor_reached_by_shrinking() {
        for &family in PropertyFamily::ALL {
            let (from, base) = family_inputs(family);
            let all = family_strategy(family, &from, &base).unwrap();
            let drawn: std::collections::BTreeSet<&str> =
                sample_cases(&all, 1000, 2).iter().map(|c| c.kind).collect();
            // The first of the kinds drawn and (when more than two are) the last, by name.
            let mut left_out: Vec<&str> = drawn.iter().take(1).copied().collect();
            if drawn.len() > 2 {
                left_out.extend(drawn.last());
            }
            let strategy = family_strategy_except(family, &from, &base, &left_out).unwrap();
            let mut trees = draw(&strategy, Seed([7; 32]), 300).unwrap();
            for tree in &mut trees {
                for _ in 0..40 {
                    let case = tree.current();
                    assert!(
                        !left_out.contains(&case.kind),
                        "{}: `{}` drawn or shrunk to",
                        family.as_str(),
                        case.label
                    );
                    if !tree.simplify() {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn leaving_out_every_kind_the_request_allows_is_an_error() {
        let (from, base) = family_inputs(PropertyFamily::BasicAccepted);
        let error = family_strategy_except(
            PropertyFamily::BasicAccepted,
            &from,
            &base,
            &["re-encoded", "scheme-case"],
        )
        .err()
        .unwrap();
        assert!(error.contains("every kind"), "{error}");
        let (from, base) = family_inputs(PropertyFamily::Bearer);
        let every = PropertyFamily::Bearer.kinds();
        assert!(family_strategy_except(PropertyFamily::Bearer, &from, &base, every).is_err());
    }

    #[tokio::test]
    async fn a_case_that_cannot_be_sent_is_an_error_not_a_pass() {
        let strategy = family_strategy(
            PropertyFamily::BasicAccepted,
            &inputs(),
            &BaseRequest::default(),
        )
        .unwrap();
        let judge = |_case: Case| async { Judged::<()>::CouldNotRun("dns".into()) };
        let outcome = run_cases(&strategy, Seed([1; 32]), 10, 4, None, judge).await;
        assert_eq!(outcome.error.as_deref(), Some("dns"));
        assert_eq!(outcome.held, 0);
    }
}
