//! Templates: `{{name}}` for captures and target variables, `{{secret.NAME}}` for secrets.
//!
//! A [`Template`] is parsed when the scenario is deserialized, so a malformed one is reported with
//! its file position; which names exist is checked after loading, against the target and the
//! captures of earlier steps.

use std::fmt;

use serde::{Deserialize, Deserializer};

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
    Literal(String),
    /// A value substituted at run time.
    Ref(VarRef),
}

/// A string with `{{ }}` placeholders, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`, failing on an unterminated `{{` or an invalid name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
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
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Self {
            source: text.to_owned(),
            parts,
        })
    }

    /// Returns the template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Returns the parsed pieces.
    pub fn parts(&self) -> &[Part] {
        &self.parts
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
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// Substitutes every reference through `lookup`; the first failure is returned.
    pub fn render<E>(
        &self,
        mut lookup: impl FnMut(&VarRef) -> Result<String, E>,
    ) -> Result<String, E> {
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
        mut lookup: impl FnMut(&VarRef) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
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
