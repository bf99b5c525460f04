//! The `json_credentials` family: variants of the credentials a JSON request body carries
//! (a login's `{login, password}`, a refresh's `{refresh_token}`), each of which a server that
//! checks them must refuse.
//!
//! Which members are credentials is never guessed from their names: they are the body's
//! top-level members whose values the runner rendered from secrets (`{{secret.*}}` inputs or
//! secret captures, [`BaseRequest::json_credentials`]). Other members (`locale`) are sent as
//! they are in every case. Kinds, each an arm of a weighted union (one weight each, so every
//! kind is drawn about `cases / kinds` times), each arm a finite list drawn by
//! [`proptest::sample::select`]:
//!
//! - `wrong-value`: a credential one character changed, truncated (never to nothing: that is
//!   `empty-value`) or extended;
//! - `missing-member`, `null-value`, `empty-value`: a credential left out, `null` or `""`;
//! - `wrong-type`: a credential as a number, a boolean, an array holding it or an object
//!   holding it;
//! - `swapped-members`: every credential moved to the next credential member, when that changes
//!   the body;
//! - `other-value`: `from.other_<member>` (another user's password, a refresh token already
//!   used) in place of that member.
//!
//! Left out, because a conformant server may accept them: whitespace around a value (a server
//! may trim it), another letter case (an e-mail login is often compared case-insensitively), a
//! member given twice (RFC 8259 §4: what a parser does is unpredictable) and a form-encoded body.

use serde_json::{Map, Value};

use super::token_request::near_values;
use super::{Arms, BaseRequest, Case, CaseStrategy, Change, JsonBody, MIN_PASSWORD_FORM};

/// Returns the `json_credentials` family over the step's JSON body: each case must be refused.
/// `from` holds the optional `other_<member>` values.
///
/// # Errors
/// A request with no JSON object body, a body with no credential member, or an `other_*` key
/// naming no credential member.
pub(super) fn refused(
    base: &BaseRequest,
    from: &[(String, String)],
    except: &[&str],
) -> Result<CaseStrategy, String> {
    let mut arms = Arms::new(except);
    for (kind, cases) in kinds(base, from)? {
        arms.list(1, kind, cases);
    }
    arms.finish()
}

/// A JSON body as the family reads it: the object and its credential members in body order.
struct CredentialBody {
    object: Map<String, Value>,
    credentials: Vec<(String, String)>,
}

impl CredentialBody {
    /// A case sending the body with `member` set to `value`, or removed when `None`.
    fn with(&self, label: String, changes: &[(&str, Option<Value>)]) -> Case {
        let mut object = self.object.clone();
        for (member, value) in changes {
            match value {
                Some(value) => {
                    object.insert((*member).to_owned(), value.clone());
                }
                None => {
                    object.remove(*member);
                }
            }
        }
        let members: Vec<String> = self.credentials.iter().map(|(m, _)| m.clone()).collect();
        let mut secrets = Vec::new();
        for member in &members {
            if let Some(value) = object.get(member) {
                collect_strings(value, &mut secrets);
            }
        }
        // A short value alone would blank ordinary words in every report; transcripts show every
        // credential member's strings as `[redacted]` whatever their length.
        secrets.retain(|s| s.chars().count() >= MIN_PASSWORD_FORM);
        Case::new(
            label,
            Change::Json(JsonBody {
                value: Value::Object(object),
                credential_members: members,
                secrets,
            }),
        )
    }
}

pub(super) fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Kinds of cases, each named.
type NamedKinds = Vec<(&'static str, Vec<Case>)>;

/// The kinds the body allows, each named, with a non-empty list of cases.
fn kinds(base: &BaseRequest, from: &[(String, String)]) -> Result<NamedKinds, String> {
    let Some(Value::Object(object)) = &base.json else {
        return Err(
            "the `json_credentials` family varies the step's JSON body: give the request a `body: { json: { … } }` object"
                .to_owned(),
        );
    };
    let credentials: Vec<(String, String)> = object
        .iter()
        .filter(|(member, _)| base.json_credentials.contains(member))
        .filter_map(|(member, value)| Some((member.clone(), value.as_str()?.to_owned())))
        .collect();
    if credentials.is_empty() {
        return Err(
            "the step's JSON body has no credential to vary: no top-level string member's value comes from a secret (`{{secret.…}}` or a secret capture)"
                .to_owned(),
        );
    }
    let body = CredentialBody {
        object: object.clone(),
        credentials,
    };
    let mut kinds: NamedKinds = Vec::new();

    let mut wrong = Vec::new();
    for (member, value) in &body.credentials {
        for (v, what) in near_values(value, &format!("wrong-value: `{member}`")) {
            if !v.is_empty() {
                wrong.push(body.with(what, &[(member, Some(Value::String(v)))]));
            }
        }
    }
    kinds.push(("wrong-value", wrong));

    let each = |kind: &'static str, value: Option<Value>| {
        let cases = body
            .credentials
            .iter()
            .map(|(member, _)| body.with(format!("{kind}: `{member}`"), &[(member, value.clone())]))
            .collect();
        (kind, cases)
    };
    kinds.push(each("missing-member", None));
    kinds.push(each("null-value", Some(Value::Null)));
    kinds.push((
        "empty-value",
        body.credentials
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(member, _)| {
                body.with(
                    format!("empty-value: `{member}`"),
                    &[(member, Some(Value::String(String::new())))],
                )
            })
            .collect(),
    ));

    let mut wrong_type = Vec::new();
    for (member, value) in &body.credentials {
        // A number whose text is not the credential's, so no server coercing numbers to
        // strings reads the valid value.
        let number = if value == "0" { 1 } else { 0 };
        for (what, v) in [
            ("a number", Value::from(number)),
            ("`true`", Value::Bool(true)),
            (
                "an array holding it",
                Value::Array(vec![Value::String(value.clone())]),
            ),
            (
                "an object holding it",
                Value::Object(Map::from_iter([(
                    "value".to_owned(),
                    Value::String(value.clone()),
                )])),
            ),
        ] {
            wrong_type.push(body.with(
                format!("wrong-type: `{member}` as {what}"),
                &[(member, Some(v))],
            ));
        }
    }
    kinds.push(("wrong-type", wrong_type));

    // Every credential moved to the next credential member: a login sent as the password and the
    // password as the login.
    let n = body.credentials.len();
    if n > 1 {
        let moved: Vec<(&str, Option<Value>)> = (0..n)
            .map(|i| {
                let (member, _) = &body.credentials[i];
                let (_, value) = &body.credentials[(i + n - 1) % n];
                (member.as_str(), Some(Value::String(value.clone())))
            })
            .collect();
        let changes = moved
            .iter()
            .zip(&body.credentials)
            .any(|((_, v), (_, own))| v.as_ref().and_then(Value::as_str) != Some(own));
        if changes {
            let names: Vec<String> = body
                .credentials
                .iter()
                .map(|(m, _)| format!("`{m}`"))
                .collect();
            kinds.push((
                "swapped-members",
                vec![body.with(
                    format!(
                        "swapped-members: {} each given the previous one's value",
                        names.join(", ")
                    ),
                    &moved,
                )],
            ));
        }
    }

    let mut other = Vec::new();
    for (key, value) in from {
        let Some(member) = key.strip_prefix("other_") else {
            return Err(format!(
                "unknown key `{key}` for family `json_credentials`: expected `other_<member>`"
            ));
        };
        let Some((_, own)) = body.credentials.iter().find(|(m, _)| m == member) else {
            return Err(format!(
                "`from.{key}` replaces the JSON body's `{member}`, but the body has no credential member `{member}`"
            ));
        };
        if own != value {
            other.push(body.with(
                format!("other-value: another `{member}`"),
                &[(member, Some(Value::String(value.clone())))],
            ));
        }
    }
    kinds.push(("other-value", other));

    kinds.retain(|(_, cases)| !cases.is_empty());
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::json;

    use super::*;
    use crate::property::sample_cases as draw;

    const LOGIN: &str = "user@we-platform.test";
    const PASSWORD: &str = "we-user-pass:0001";

    fn login_base() -> BaseRequest {
        BaseRequest {
            json: Some(json!({ "login": LOGIN, "password": PASSWORD, "locale": "en" })),
            json_credentials: vec!["login".into(), "password".into()],
            ..BaseRequest::default()
        }
    }

    fn others() -> Vec<(String, String)> {
        vec![("other_password".into(), "we-admin-pass:0001".into())]
    }

    fn body(case: &Case) -> &JsonBody {
        match &case.change {
            Change::Json(body) => body,
            _ => panic!(
                "{}: a json_credentials case replaces the JSON body",
                case.label
            ),
        }
    }

    fn kind(case: &Case) -> &str {
        case.label.split(':').next().unwrap()
    }

    /// No case is the valid body in disguise: each sends other credentials than the valid ones
    /// (as JSON values, and as the strings a lenient server could read from them), and never
    /// touches a member that is no credential.
    #[test]
    fn no_case_is_the_valid_body_and_other_members_are_kept() {
        let base = login_base();
        let valid = base.json.clone().unwrap();
        let strategy = refused(&base, &others(), &[]).unwrap();
        for case in draw(&strategy, 1000, 3) {
            let sent = &body(&case).value;
            assert_ne!(sent, &valid, "{}: the valid body", case.label);
            assert_eq!(sent["locale"], "en", "{}: `locale` changed", case.label);
            let as_strings = |v: &Value| {
                (
                    v["login"].as_str().map(str::to_owned),
                    v["password"].as_str().map(str::to_owned),
                )
            };
            assert_ne!(
                as_strings(sent),
                as_strings(&valid),
                "{}: the valid strings",
                case.label
            );
            for member in ["login", "password"] {
                if let Some(text) = sent[member].as_str() {
                    // Neither whitespace around it nor another letter case: both may be accepted.
                    assert_eq!(text, text.trim(), "{}", case.label);
                    let valid_text = valid[member].as_str().unwrap();
                    assert!(
                        text == valid_text || !text.eq_ignore_ascii_case(valid_text),
                        "{}: `{member}` in another letter case",
                        case.label
                    );
                }
            }
        }
    }

    /// Every kind is drawn within the default case count, whatever the seed.
    #[test]
    fn every_kind_is_drawn_among_256_cases() {
        let strategy = refused(&login_base(), &others(), &[]).unwrap();
        for seed in 1..=5 {
            let cases = draw(&strategy, 256, seed);
            let kinds: BTreeSet<&str> = cases.iter().map(kind).collect();
            for expected in crate::scenario::model::PropertyFamily::JsonCredentials
                .kinds()
                .iter()
                .copied()
            {
                assert!(kinds.contains(expected), "seed {seed}: no `{expected}`");
            }
            assert!(
                cases
                    .iter()
                    .any(|c| c.label.starts_with("wrong-value: `password`: truncated")),
                "seed {seed}: the password never truncated"
            );
        }
    }

    /// Labels name members and positions, never a value; every credential string of 12
    /// characters or more a case sends is registered, and nothing else is.
    #[test]
    fn labels_hold_no_credential_and_long_values_are_secret() {
        let base = login_base();
        for case in kinds(&base, &others())
            .unwrap()
            .into_iter()
            .flat_map(|(_, cases)| cases)
        {
            for needle in ["user@", "we-platform", "pass:", "0001"] {
                assert!(!case.label.contains(needle), "{}", case.label);
            }
            let body = body(&case);
            let mut strings = Vec::new();
            for member in ["login", "password"] {
                if let Some(v) = body.value.get(member) {
                    collect_strings(v, &mut strings);
                }
            }
            for s in strings {
                assert_eq!(
                    case.change.secret_forms().contains(&s),
                    s.chars().count() >= MIN_PASSWORD_FORM,
                    "{}: `{}` characters",
                    case.label,
                    s.len()
                );
            }
            assert!(!case.change.secret_forms().contains(&"en".to_owned()));
        }
    }

    /// A body with one credential gets no swap; a credential member must come from a secret,
    /// whatever its name.
    #[test]
    fn the_credentials_are_the_members_rendered_from_secrets() {
        let refresh = BaseRequest {
            json: Some(
                json!({ "refresh_token": "rt-0123456789abcdef", "password": "not-a-secret" }),
            ),
            json_credentials: vec!["refresh_token".into()],
            ..BaseRequest::default()
        };
        let cases: Vec<Case> = kinds(&refresh, &[])
            .unwrap()
            .into_iter()
            .flat_map(|(_, cases)| cases)
            .collect();
        assert!(cases.iter().all(|c| kind(c) != "swapped-members"));
        assert!(
            cases
                .iter()
                .all(|c| body(c).value["password"] == "not-a-secret")
        );
        assert!(cases.iter().all(|c| !c.label.contains("`password`")));
        let none = BaseRequest {
            json_credentials: vec![],
            ..refresh.clone()
        };
        assert!(
            refused(&none, &[], &[])
                .err()
                .unwrap()
                .contains("no credential to vary")
        );
        assert!(
            refused(&BaseRequest::default(), &[], &[])
                .err()
                .unwrap()
                .contains("`body: { json")
        );
        let error = refused(&refresh, &[("other_password".into(), "x".into())], &[])
            .err()
            .unwrap();
        assert!(error.contains("no credential member `password`"), "{error}");
    }

    #[test]
    fn a_case_body_is_sent_as_json() {
        let case = kinds(&login_base(), &[]).unwrap()[1].1[0].clone();
        let mut request = reqwest::Client::new()
            .post("http://127.0.0.1:9/v1/auth/login")
            .form(&[("a", "b")])
            .build()
            .unwrap();
        crate::property::apply(&case.change, &mut request).unwrap();
        assert_eq!(request.headers()["content-type"], "application/json");
        let sent: Value =
            serde_json::from_slice(request.body().unwrap().as_bytes().unwrap()).unwrap();
        assert_eq!(sent, json!({ "password": PASSWORD, "locale": "en" }));
    }
}
