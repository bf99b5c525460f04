//! Templates: `{{name}}` for captures and target variables, `{{secret.NAME}}` for secrets.
//!
//! A [`Template`] is parsed when the scenario is deserialized, so a malformed one is reported with
//! its file position; which names exist is checked after loading, against the target and the
//! captures of earlier steps.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

use super::model::{
    Assumed, AuthSpec, AuthorizeSpec, BasicAuth, Body, CanonicalSigner, ChallengeCheck, ClockStep,
    ComputeSpec, Expectation, FieldCheck, Fields, ForgeChange, JsonCheck, JwtCheck, JwtKey,
    OAuth2Spec, OAuthErrorCheck, OneOrMany, PkceSpec, ProblemCheck, PropertySpec, Repeat,
    RequestSpec, Step, TextCheck,
};

/// A reference to a value inside `{{ }}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarRef {
    /// A capture of an earlier step, or a target variable (hosts included).
    Var(String),
    /// A secret from the target (`{{secret.NAME}}`), or a capture marked secret.
    Secret(String),
}

impl fmt::Display for VarRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarRef::Var(name) => write!(f, "{{{{{name}}}}}"),
            VarRef::Secret(name) => write!(f, "{{{{secret.{name}}}}}"),
        }
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as it is.
    Literal(Box<str>),
    /// A value substituted at run time.
    Ref(VarRef),
}

/// A string with `{{ }}` placeholders, parsed once.
///
/// Held for every templated field of every loaded scenario, so it keeps no spare capacity, and
/// a template without placeholders (most of them) keeps its text once, as `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: Box<str>,
    /// The pieces, when there is a placeholder; empty for literal text, which is `source`.
    parts: Box<[Part]>,
}

impl Template {
    /// Parses `text`, failing on an unterminated `{{` or an invalid name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].into()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(format!(
                    "unterminated `{{{{` in template \"{text}\": expected `}}}}`"
                ));
            };
            let name = after[..end].trim();
            parts.push(Part::Ref(parse_ref(name, text)?));
            rest = &after[end + 2..];
        }
        if parts.is_empty() {
            // No placeholder: the text is the template.
            return Ok(Self {
                source: text.into(),
                parts: Box::default(),
            });
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.into()));
        }
        Ok(Self {
            source: text.into(),
            parts: parts.into_boxed_slice(),
        })
    }

    /// Returns the template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns every reference, in order.
    pub fn refs(&self) -> impl Iterator<Item = &VarRef> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Literal(_) => None,
        })
    }

    /// Returns the text when the template has no placeholder.
    pub fn as_literal(&self) -> Option<&str> {
        self.parts.is_empty().then_some(&*self.source)
    }

    /// Substitutes every reference through `lookup`; the first failure is returned.
    pub fn render<E>(
        &self,
        mut lookup: impl FnMut(&VarRef) -> Result<String, E>,
    ) -> Result<String, E> {
        if let Some(text) = self.as_literal() {
            return Ok(text.to_owned());
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Ref(r) => out.push_str(&lookup(r)?),
            }
        }
        Ok(out)
    }

    /// Substitutes references into a URL. A reference before the path begins supplies the base
    /// (`{{api_base}}`: scheme, host, perhaps a base path) and is inserted as it is; every
    /// reference in the path, query or fragment is a value, percent-encoded so that it arrives as
    /// itself: the URL parser would otherwise turn a `\` into `/`, end the path at `?` or `#`,
    /// and a server would decode `%41` or split at `/`.
    ///
    /// ```text
    /// {{api_base}}/v1/reports/{{secret.key}}?k={{secret.key}}   key = a\b&c
    /// http://127.0.0.1:8080/v1/reports/a%5Cb&c?k=a%5Cb%26c
    /// ```
    pub fn render_url<E>(
        &self,
        lookup: impl FnMut(&VarRef) -> Result<String, E>,
    ) -> Result<String, E> {
        self.render_url_with_paths(lookup, |_| false)
    }

    /// Substitutes references into a URL as [`render_url`](Self::render_url) does, except that a
    /// reference for which `is_path` holds, before the query, is path text (a target's `paths`
    /// input, checked to be empty or `/segment/…`): its `/`s separate segments and each segment
    /// is percent-encoded as a value.
    ///
    /// ```text
    /// {{auth_base}}{{prefix}}/realms/x   auth_base = http://127.0.0.1:8080, prefix = /auth/a b
    /// http://127.0.0.1:8080/auth/a%20b/realms/x
    /// ```
    pub fn render_url_with_paths<E>(
        &self,
        mut lookup: impl FnMut(&VarRef) -> Result<String, E>,
        is_path: impl Fn(&VarRef) -> bool,
    ) -> Result<String, E> {
        if let Some(text) = self.as_literal() {
            return Ok(text.to_owned());
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Ref(r) if is_path(r) && !out.contains(['?', '#']) => {
                    let path = lookup(r)?;
                    for segment in path.split('/').skip(1) {
                        out.push('/');
                        encode_url_value(segment, true, &mut out);
                    }
                }
                Part::Ref(r) if before_path(&out) => out.push_str(&lookup(r)?),
                Part::Ref(r) => {
                    let in_path = !out.contains(['?', '#']);
                    encode_url_value(&lookup(r)?, in_path, &mut out);
                }
            }
        }
        Ok(out)
    }
}

/// Returns true while `url_so_far` has not reached the path: nothing yet, or no `/` after the
/// scheme's `://`.
fn before_path(url_so_far: &str) -> bool {
    match url_so_far.find("://") {
        Some(at) => !url_so_far[at + 3..].contains('/'),
        None => url_so_far.is_empty(),
    }
}

/// Percent-encodes `value` for a URL path segment (`in_path`) or a query or fragment component:
/// every byte but RFC 3986 unreserved characters and the delimiters no server reads there. `+`
/// (a space to form decoders) and `;` (path parameters to some servers) are always encoded, `&`
/// and `=` in a query.
fn encode_url_value(value: &str, in_path: bool, out: &mut String) {
    for byte in value.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || b"-._~!$'()*,:@".contains(&byte)
            || (in_path && b"&=".contains(&byte))
            || (!in_path && b"/?".contains(&byte));
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

fn parse_ref(name: &str, text: &str) -> Result<VarRef, String> {
    let valid = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if let Some(secret) = name.strip_prefix("secret.") {
        if valid(secret) {
            return Ok(VarRef::Secret(secret.to_owned()));
        }
    } else if valid(name) {
        return Ok(VarRef::Var(name.to_owned()));
    }
    Err(format!(
        "invalid placeholder `{{{{{name}}}}}` in \"{text}\": expected `{{{{name}}}}` or `{{{{secret.NAME}}}}` (letters, digits, `_`, `-`)"
    ))
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Template;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string (may contain `{{name}}` placeholders)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Template, E> {
                Template::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Template, E> {
                Ok(Template::parse(&v.to_string()).expect("a number has no placeholder"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Template, E> {
                Ok(Template::parse(&v.to_string()).expect("a number has no placeholder"))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Template, E> {
                Ok(Template::parse(&v.to_string()).expect("a bool has no placeholder"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Receives the templates of the scenario model, each with its document path
/// (`scenarios[0].steps[1].request.headers.x-api-key`), in document order.
pub trait TemplateVisitor {
    /// Receives one template.
    fn template(&mut self, path: &str, template: &Template);
    /// Receives a string leaf of a JSON value (a body, claims, parameters) that is not a valid
    /// template, with why.
    fn invalid(&mut self, path: &str, error: String);
}

/// A part of the scenario model that holds templates.
///
/// Each type lists its own template fields once, here, so every check on templates (undefined
/// variables and secrets, captures used before they are set) sees all of them, and a field added
/// to the model is added to the walk in the same place.
pub trait Templates {
    /// Calls `visitor` for every template in `self`, which sits at document path `path`.
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor);
}

impl Templates for Template {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        visitor.template(path, self);
    }
}

impl<T: Templates> Templates for Option<T> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        if let Some(value) = self {
            value.visit_templates(path, visitor);
        }
    }
}

impl<T: Templates + ?Sized> Templates for Box<T> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        (**self).visit_templates(path, visitor);
    }
}

/// Values of a map by key: `path.key`.
impl<K: fmt::Display, T: Templates> Templates for IndexMap<K, T> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (key, value) in self {
            value.visit_templates(&format!("{path}.{key}"), visitor);
        }
    }
}

/// Values of a mapping by key: `path.key`.
impl<K: fmt::Display, T: Templates> Templates for Fields<K, T> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (key, value) in self {
            value.visit_templates(&format!("{path}.{key}"), visitor);
        }
    }
}

/// Every string leaf of a JSON value is a template: `path.key`, `path[i]`.
impl Templates for serde_json::Value {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            serde_json::Value::String(s) => match Template::parse(s) {
                Ok(template) => visitor.template(path, &template),
                Err(e) => visitor.invalid(path, e),
            },
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.visit_templates(&format!("{path}[{i}]"), visitor);
                }
            }
            serde_json::Value::Object(map) => map.visit_templates(path, visitor),
            _ => {}
        }
    }
}

impl Templates for serde_json::Map<String, serde_json::Value> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (key, value) in self {
            value.visit_templates(&format!("{path}.{key}"), visitor);
        }
    }
}

/// Fields by name: `path.field`.
fn fields(path: &str, visitor: &mut dyn TemplateVisitor, fields: &[(&str, &dyn Templates)]) {
    for (name, value) in fields {
        value.visit_templates(&format!("{path}.{name}"), visitor);
    }
}

impl Templates for Step {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("compute", &self.compute),
                ("clock", &self.clock),
                ("repeat", &self.repeat),
                ("property", &self.property),
                ("request", &self.request),
                ("expect", &self.expect),
            ],
        );
    }
}

impl Templates for PropertySpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[("from", &self.from), ("authorize", &self.authorize)],
        );
    }
}

impl Templates for Repeat {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(path, visitor, &[("count", &self.count)]);
    }
}

impl Templates for ClockStep {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(path, visitor, &[("advance", &self.advance)]);
    }
}

impl Templates for ComputeSpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            ComputeSpec::JwtSign(sign) => fields(
                &format!("{path}.jwt_sign"),
                visitor,
                &[("key", &sign.key), ("claims", &sign.claims)],
            ),
            ComputeSpec::JwtForge(forge) => {
                let path = format!("{path}.jwt_forge");
                fields(&path, visitor, &[("token", &forge.token)]);
                let path = format!("{path}.change");
                match &forge.change {
                    ForgeChange::WrongKey(key) => fields(&path, visitor, &[("wrong_key", key)]),
                    ForgeChange::Claims(claims) => fields(&path, visitor, &[("claims", claims)]),
                    ForgeChange::Expired
                    | ForgeChange::MissingExp
                    | ForgeChange::AlgNone
                    | ForgeChange::AlteredSignature => {}
                }
            }
            ComputeSpec::PkceChallenge(c) => fields(
                &format!("{path}.pkce_challenge"),
                visitor,
                &[("verifier", &c.verifier)],
            ),
            ComputeSpec::Digest(d) => fields(&format!("{path}.digest"), visitor, &[("of", &d.of)]),
            ComputeSpec::Hmac(h) => fields(
                &format!("{path}.hmac"),
                visitor,
                &[("key", &h.key), ("message", &h.message)],
            ),
            ComputeSpec::CanonicalSignature(c) => {
                let path = format!("{path}.canonical_signature");
                fields(
                    &path,
                    visitor,
                    &[
                        ("pairs", &c.pairs),
                        ("key_value_separator", &c.key_value_separator),
                        ("separator", &c.separator),
                    ],
                );
                match &c.then {
                    CanonicalSigner::Hmac(h) => {
                        fields(&format!("{path}.then.hmac"), visitor, &[("key", &h.key)])
                    }
                    CanonicalSigner::Digest(_) => {}
                }
            }
            ComputeSpec::BasicCredentials(b) => {
                b.visit_templates(&format!("{path}.basic_credentials"), visitor)
            }
            ComputeSpec::Integer(expression) => fields(path, visitor, &[("integer", expression)]),
            ComputeSpec::RandomId(_) | ComputeSpec::PkceVerifier(_) => {}
        }
    }
}

/// The key under the name of its form: `key.shared_secret`, `key.pem`, …
impl Templates for JwtKey {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        let (form, key) = match self {
            JwtKey::SharedSecret(key) => ("shared_secret", key),
            JwtKey::Pem(key) => ("pem", key),
            JwtKey::Jwk(key) => ("jwk", key),
            JwtKey::PemFile(key) => ("pem_file", key),
            JwtKey::PrivateKey(key) => ("private_key", key),
        };
        fields(path, visitor, &[(form, key)]);
    }
}

impl Templates for super::model::Method {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        if let Self::Templated(template) = self {
            visitor.template(path, template);
        }
    }
}

impl Templates for RequestSpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("method", &self.method),
                ("url", &self.url),
                ("query", &self.query),
                ("headers", &self.headers),
                ("body", &self.body),
                ("auth", &self.auth),
                ("token", &self.token),
                ("authorize", &self.authorize),
            ],
        );
    }
}

impl Templates for Body {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            Body::Form(form) => fields(path, visitor, &[("form", form)]),
            Body::Json(value) => fields(path, visitor, &[("json", value)]),
            Body::Raw(raw) => fields(path, visitor, &[("raw", raw)]),
        }
    }
}

impl Templates for AuthSpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            AuthSpec::Basic(basic) => fields(path, visitor, &[("basic", basic)]),
            AuthSpec::Bearer(token) => fields(path, visitor, &[("bearer", token)]),
            AuthSpec::ApiKey(key) => fields(
                &format!("{path}.api_key"),
                visitor,
                &[("value", &key.value)],
            ),
            AuthSpec::Oauth2(grant) => fields(path, visitor, &[("oauth2", grant)]),
        }
    }
}

impl Templates for BasicAuth {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[("username", &self.username), ("password", &self.password)],
        );
    }
}

impl Templates for OAuth2Spec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("token_url", &self.token_url),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("username", &self.username),
                ("password", &self.password),
                ("refresh_token", &self.refresh_token),
                ("code", &self.code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", &self.code_verifier),
                ("scope", &self.scope),
                ("resource", &self.resource),
                ("extra", &self.extra),
            ],
        );
    }
}

impl Templates for AuthorizeSpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("client_id", &self.client_id),
                ("redirect_uri", &self.redirect_uri),
                ("response_type", &self.response_type),
                ("scope", &self.scope),
                ("state", &self.state),
                ("extra", &self.extra),
                ("pkce", &self.pkce),
                ("login", &self.login),
                ("consent", &self.consent),
            ],
        );
    }
}

impl Templates for super::model::Interaction {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        let path = format!("{path}.form");
        for name in self.form.fields.keys() {
            name.template()
                .visit_templates(&format!("{path}.fields.{name}"), visitor);
        }
        fields(&path, visitor, &[("fields", &self.form.fields)]);
    }
}

impl Templates for PkceSpec {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[("verifier", &self.verifier), ("challenge", &self.challenge)],
        );
    }
}

impl Templates for Expectation {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("headers", &self.headers),
                ("body", &self.body),
                ("json", &self.json),
                ("jwt", &self.jwt),
                ("www_authenticate", &self.www_authenticate),
                ("oauth_error", &self.oauth_error),
                ("problem", &self.problem),
                ("assumed", &self.assumed),
                ("skip_unless", &self.skip_unless),
            ],
        );
    }
}

impl Templates for Assumed {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[
                ("headers", &self.headers),
                ("body", &self.body),
                ("json", &self.json),
                ("jwt", &self.jwt),
                ("www_authenticate", &self.www_authenticate),
                ("oauth_error", &self.oauth_error),
                ("problem", &self.problem),
            ],
        );
    }
}

/// Every check of a list sits at the list's path (a single check is written without a list).
impl<T: Templates> Templates for OneOrMany<T> {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for check in &self.0 {
            check.visit_templates(path, visitor);
        }
    }
}

impl Templates for TextCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            TextCheck::Equals(t) | TextCheck::NotEquals(t) | TextCheck::Contains(t) => {
                visitor.template(path, t)
            }
            TextCheck::DiffersFrom(name) => visitor.template(path, &name.0),
            TextCheck::Present | TextCheck::Absent | TextCheck::Matches(_) => {}
        }
    }
}

impl Templates for JsonCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        match self {
            JsonCheck::Equals(value) | JsonCheck::NotEquals(value) => {
                value.visit_templates(path, visitor)
            }
            JsonCheck::Contains(t) => visitor.template(path, t),
            JsonCheck::DiffersFrom(name) => visitor.template(path, &name.0),
            JsonCheck::Gt(bound)
            | JsonCheck::Ge(bound)
            | JsonCheck::Lt(bound)
            | JsonCheck::Le(bound) => visitor.template(path, &bound.0),
            JsonCheck::Exists | JsonCheck::Absent | JsonCheck::Matches(_) => {}
        }
    }
}

impl Templates for JwtCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        fields(
            path,
            visitor,
            &[("header", &self.header), ("claims", &self.claims)],
        );
    }
}

impl Templates for FieldCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        self.0.visit_templates(path, visitor);
    }
}

impl Templates for ChallengeCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (name, field) in self.fields() {
            field.visit_templates(&format!("{path}.{name}"), visitor);
        }
    }
}

impl Templates for OAuthErrorCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (name, field) in self.fields() {
            field.visit_templates(&format!("{path}.{name}"), visitor);
        }
    }
}

impl Templates for ProblemCheck {
    fn visit_templates(&self, path: &str, visitor: &mut dyn TemplateVisitor) {
        for (name, field) in self.fields() {
            field.visit_templates(&format!("{path}.{name}"), visitor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variables_and_secrets() {
        let t = Template::parse("{{api_base}}/orders?u={{ secret.username }}").unwrap();
        assert_eq!(
            t.refs().cloned().collect::<Vec<_>>(),
            vec![
                VarRef::Var("api_base".into()),
                VarRef::Secret("username".into())
            ]
        );
        let rendered: Result<String, ()> = t.render(|r| {
            Ok(match r {
                VarRef::Var(_) => "http://h".into(),
                VarRef::Secret(_) => "bob".into(),
            })
        });
        assert_eq!(rendered.unwrap(), "http://h/orders?u=bob");
    }

    #[test]
    fn values_in_a_url_arrive_as_themselves() {
        let t = Template::parse("{{base}}/v1/reports/{{key}}?k={{key}}#{{key}}").unwrap();
        let rendered: Result<String, ()> = t.render_url(|r| {
            Ok(match r {
                VarRef::Var(name) if name == "base" => "http://h:1/root".into(),
                _ => r"a\b/c?d#e%41 f+g&h=i;j~é".into(),
            })
        });
        let encoded_in_path = r"a%5Cb%2Fc%3Fd%23e%2541%20f%2Bg&h=i%3Bj~%C3%A9";
        let encoded_in_query = r"a%5Cb/c?d%23e%2541%20f%2Bg%26h%3Di%3Bj~%C3%A9";
        assert_eq!(
            rendered.unwrap(),
            format!(
                "http://h:1/root/v1/reports/{encoded_in_path}?k={encoded_in_query}#{encoded_in_query}"
            )
        );
        let t = Template::parse("http://{{host}}:{{port}}/{{id}}").unwrap();
        let rendered: Result<String, ()> = t.render_url(|r| {
            Ok(match r {
                VarRef::Var(name) if name == "host" => "h.example".into(),
                VarRef::Var(name) if name == "port" => "8080".into(),
                _ => "a/b".into(),
            })
        });
        assert_eq!(
            rendered.unwrap(),
            "http://h.example:8080/a%2Fb",
            "host and port as they are"
        );
    }

    #[test]
    fn a_path_input_is_path_text_with_each_segment_encoded() {
        let t = Template::parse("{{base}}{{prefix}}/realms/{{realm}}?p={{prefix}}").unwrap();
        let render = |prefix: &str| -> String {
            t.render_url_with_paths(
                |r| -> Result<String, ()> {
                    Ok(match r {
                        VarRef::Var(name) if name == "base" => "http://h:1/root".into(),
                        VarRef::Var(name) if name == "prefix" => prefix.into(),
                        _ => "a/b".into(),
                    })
                },
                |r| matches!(r, VarRef::Var(name) if name == "prefix"),
            )
            .unwrap()
        };
        // Inside the path its `/`s stay and each segment is a value; in the query it is a value.
        assert_eq!(
            render("/auth/a b%41"),
            "http://h:1/root/auth/a%20b%2541/realms/a%2Fb?p=/auth/a%20b%2541"
        );
        assert_eq!(render(""), "http://h:1/root/realms/a%2Fb?p=");
        // Without the path predicate the same placeholder before the path is inserted as it is.
        let plain: Result<String, ()> = Template::parse("{{base}}{{prefix}}/x")
            .unwrap()
            .render_url(|r| {
                Ok(match r {
                    VarRef::Var(name) if name == "base" => "http://h:1".into(),
                    _ => "/p q".into(),
                })
            });
        assert_eq!(plain.unwrap(), "http://h:1/p q/x");
    }

    #[test]
    fn literal_text_has_no_refs() {
        let t = Template::parse("plain").unwrap();
        assert_eq!(t.as_literal(), Some("plain"));
    }

    #[test]
    fn unterminated_placeholder_is_an_error() {
        let err = Template::parse("{{api_base/orders").unwrap_err();
        assert!(err.contains("unterminated"), "{err}");
    }

    #[test]
    fn invalid_names_are_errors() {
        assert!(Template::parse("{{}}").is_err());
        assert!(Template::parse("{{a b}}").is_err());
        assert!(Template::parse("{{secret.}}").is_err());
    }
}
