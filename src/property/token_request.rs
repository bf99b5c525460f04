//! The `token_request` family (RFC 6749 §2.3.1, §3.2, §4, §6): variants of the step's own OAuth2
//! token request, each of which the token endpoint must refuse.
//!
//! Derived from the request as rendered (its form body and its `Authorization: Basic` client),
//! never from a provider list: a parameter given twice, a required parameter left out
//! (`grant_type`, and what the request's grant needs: `code` and, without PKCE, `redirect_uri`;
//! `refresh_token`; `username`; a public client's `client_id`), no client
//! authentication, the client's secret in both the `Authorization` header and the body, a wrong
//! client secret, a wrong code, refresh token or password (one character changed, truncated,
//! extended), another client's code or refresh token, a redirect URI one character away
//! (changed, appended, removed), and a `grant_type` one character away.
//!
//! Each kind is a finite list of cases, drawn by [`proptest::sample::select`]; the kinds the
//! request allows are the arms of a weighted union ([`super::Arms`], which leaves out the kinds
//! a step excludes), one weight each, so every kind is drawn about `cases / kinds` times. A
//! wrong grant value is a kind per field (`wrong-code`, `wrong-refresh-token`, `wrong-password`,
//! `wrong-username`), so a target can leave out wrong passwords alone; a password left out is a
//! `wrong-password` case too, as a failed login of the user. A case never carries a
//! valid code with a valid redirect URI and client unless it is malformed in another way, so a
//! single-use code consumed by a lenient server is consumed by the very case that catches it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Arms, BaseRequest, Case, CaseStrategy, Change, FormField, MIN_PASSWORD_FORM};

/// The form fields that carry credentials: registered as secrets whatever a case does to them.
const SECRET_FIELDS: &[&str] = &[
    "client_secret",
    "password",
    "refresh_token",
    "code",
    "code_verifier",
    "client_assertion",
    "assertion",
];

/// What a changed character becomes: letters never equal to the original in any letter case,
/// so no case is equivalent to the valid value under case-insensitive comparison.
const REPLACEMENTS: &[char] = &['q', 'z', '7'];

/// What an extended value gets appended: never `/`, so a URI with an empty path does not become
/// the same URI with `/` (RFC 3986 §6.2.3).
const APPENDED: &[char] = &['x', '0', '-'];

/// The optional `from` keys: other clients' grants.
#[derive(Debug, Default)]
pub(super) struct Others<'a> {
    /// An authorization code issued to another client (or for another redirect URI).
    pub code: Option<&'a str>,
    /// A refresh token issued to another client.
    pub refresh_token: Option<&'a str>,
}

/// Returns the `token_request` family over the step's request: each case must be refused.
///
/// # Errors
/// A request that is not a form-encoded token request, or an `other_*` value the request's grant
/// has no field for.
pub(super) fn refused(
    base: &BaseRequest,
    others: &Others<'_>,
    except: &[&str],
) -> Result<CaseStrategy, String> {
    let mut arms = Arms::new(except);
    for (kind, cases) in kinds(base, others)? {
        arms.list(1, kind, cases);
    }
    arms.finish()
}

/// A token request as the family reads it.
struct TokenForm {
    fields: Vec<(String, String)>,
    /// The client of an `Authorization: Basic` header, its parts form-decoded (RFC 6749 §2.3.1).
    basic_client: Option<(String, String)>,
    /// Whether the header's parts were form-urlencoded, as RFC 6749 §2.3.1 asks (some providers
    /// take them as they are): a case's Basic header is written the same way.
    basic_form_encoded: bool,
}

impl TokenForm {
    fn first(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.first(name).is_some()
    }

    /// The fields as a case sends them, credentials marked secret.
    fn form(&self) -> Vec<FormField> {
        self.fields.iter().map(|(n, v)| field(n, v)).collect()
    }

    /// The form without `name`.
    fn without(&self, name: &str) -> Vec<FormField> {
        self.form().into_iter().filter(|f| f.name != name).collect()
    }

    /// The form with every `name` set to `value`.
    fn with(&self, name: &str, value: &str) -> Vec<FormField> {
        self.form()
            .into_iter()
            .map(|f| {
                if f.name == name {
                    field(name, value)
                } else {
                    f
                }
            })
            .collect()
    }
}

/// A form field, secret when it carries a credential long enough to be told from ordinary
/// words: a secret truncated to `lab-` would blank every `lab-` in the reports. Transcripts hide
/// every credential field's value whatever its length.
fn field(name: &str, value: &str) -> FormField {
    FormField {
        name: name.to_owned(),
        value: value.to_owned(),
        secret: SECRET_FIELDS.contains(&name) && value.chars().count() >= MIN_PASSWORD_FORM,
    }
}

fn form_case(label: String, fields: Vec<FormField>) -> Case {
    Case::new(label, Change::Form(fields))
}

/// `Authorization: Basic` for a client, its parts form-urlencoded as RFC 6749 §2.3.1 asks, or
/// as they are.
fn basic_header(id: &str, secret: &str, form_encoded: bool) -> Vec<u8> {
    let encode = |s: &str| {
        if form_encoded {
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
        } else {
            s.to_owned()
        }
    };
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
    .into_bytes()
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Values one character away from `value`, each with what was done, never `value` itself.
pub(super) fn near_values(value: &str, what: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    for at in 0..n {
        let c = *REPLACEMENTS
            .iter()
            .find(|r| !r.eq_ignore_ascii_case(&chars[at]))
            .unwrap_or(&'q');
        let mut changed = chars.clone();
        changed[at] = c;
        out.push((
            changed.into_iter().collect(),
            format!("{what}: character {} of {n} changed", at + 1),
        ));
    }
    for keep in 0..n {
        out.push((
            chars[..keep].iter().collect(),
            format!("{what}: truncated to {keep} of {n} characters"),
        ));
    }
    for c in APPENDED {
        out.push((
            format!("{value}{c}"),
            format!("{what}: `{c}` appended to the {n} characters"),
        ));
    }
    out
}

/// The kinds the request allows, each named, with a non-empty list of cases.
fn kinds(
    base: &BaseRequest,
    others: &Others<'_>,
) -> Result<Vec<(&'static str, Vec<Case>)>, String> {
    let fields = base.form.clone().ok_or_else(|| {
        "the `token_request` family varies a form-encoded token request: give the step's request a `token` or a `body: { form: … }`".to_owned()
    })?;
    let raw_basic = base
        .authorization
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(crate::auth::basic::decode);
    // Parts with `%` or `+` were form-urlencoded (a runner's `token:` request always is);
    // others read the same either way.
    let basic_form_encoded = raw_basic
        .as_ref()
        .is_some_and(|(id, secret)| (id.clone() + secret).contains(['%', '+']));
    let basic_client = raw_basic.map(|(id, secret)| {
        if basic_form_encoded {
            (form_decode(&id), form_decode(&secret))
        } else {
            (id, secret)
        }
    });
    let request = TokenForm {
        fields,
        basic_client,
        basic_form_encoded,
    };
    let grant = request
        .first("grant_type")
        .ok_or("the step's token request has no `grant_type`")?
        .to_owned();
    let body_secret = request.first("client_secret").map(str::to_owned);
    let remove_authorization = || Change::Header {
        name: "authorization".into(),
        value: None,
        secret: false,
    };
    let mut kinds: Vec<(&'static str, Vec<Case>)> = Vec::new();

    // A parameter given twice (RFC 6749 §3.2): the same value, right after it or at the end, so
    // a server that takes the first (or the last) sees a valid request.
    let mut duplicated = Vec::new();
    for (i, (name, value)) in request.fields.iter().enumerate() {
        if request.fields[..i].iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut after = request.form();
        after.insert(i + 1, field(name, value));
        duplicated.push(form_case(
            format!("duplicated-parameter: `{name}` given twice, the copy right after it"),
            after,
        ));
        let mut at_end = request.form();
        at_end.push(field(name, value));
        duplicated.push(form_case(
            format!("duplicated-parameter: `{name}` given twice, the copy at the end"),
            at_end,
        ));
    }
    kinds.push(("duplicated-parameter", duplicated));

    // A required parameter left out (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6; §3.2.1 for a public
    // client's `client_id`).
    let mut required = vec!["grant_type"];
    match grant.as_str() {
        // With PKCE the verifier binds the code to the client that asked for it, and OAuth 2.1
        // (draft-ietf-oauth-v2-1 §4.1.3) lets the token request leave `redirect_uri` out, as
        // servers following it (oidc-provider) do; a redirect URI that is sent must still match.
        "authorization_code" if request.has("code_verifier") => required.push("code"),
        "authorization_code" => required.extend(["code", "redirect_uri"]),
        "refresh_token" => required.push("refresh_token"),
        // A password left out is a `wrong-password` case (below): every case that is a failed
        // login of the user is of that kind, so one exclusion spares a lockout-prone account.
        "password" => required.push("username"),
        _ => {}
    }
    if request.basic_client.is_none() && body_secret.is_none() {
        required.push("client_id");
    }
    kinds.push((
        "missing-parameter",
        required
            .into_iter()
            .filter(|name| request.has(name))
            .map(|name| {
                form_case(
                    format!("missing-parameter: `{name}` left out"),
                    request.without(name),
                )
            })
            .collect(),
    ));

    // A confidential client that does not authenticate (RFC 6749 §3.2.1).
    let mut unauthenticated = Vec::new();
    if request.basic_client.is_some() {
        unauthenticated.push(Case::new(
            "missing-client-authentication: the `Authorization` header left out".into(),
            remove_authorization(),
        ));
    }
    if body_secret.is_some() {
        unauthenticated.push(form_case(
            "missing-client-authentication: `client_secret` left out".into(),
            request.without("client_secret"),
        ));
    }
    kinds.push(("missing-client-authentication", unauthenticated));

    // The client's credentials in the header and in the body (RFC 6749 §2.3.1: "MUST NOT use
    // more than one authentication method in each request").
    let mut both = Vec::new();
    if let Some((id, secret)) = &request.basic_client {
        let mut with_secret = request.without("client_secret");
        with_secret.push(field("client_secret", secret));
        both.push(form_case(
            "both-places: Basic, and `client_secret` in the body".into(),
            with_secret,
        ));
        let mut with_pair: Vec<FormField> = request
            .without("client_secret")
            .into_iter()
            .filter(|f| f.name != "client_id")
            .collect();
        with_pair.extend([field("client_id", id), field("client_secret", secret)]);
        both.push(form_case(
            "both-places: Basic, and `client_id` with `client_secret` in the body".into(),
            with_pair,
        ));
    } else if let (Some(id), Some(secret)) = (request.first("client_id"), &body_secret) {
        both.push(Case::new(
            "both-places: the body's client, and the same client as Basic".into(),
            Change::Authorization(basic_header(id, secret, true)),
        ));
    }
    kinds.push(("both-places", both));

    // A wrong client secret, where the client sends it.
    let mut wrong_secret = Vec::new();
    if let Some((id, secret)) = &request.basic_client {
        for (value, what) in near_values(secret, "wrong-client-secret (Basic)") {
            wrong_secret.push(Case::new(
                what,
                Change::Authorization(basic_header(id, &value, request.basic_form_encoded)),
            ));
        }
    }
    if let Some(secret) = &body_secret {
        for (value, what) in near_values(secret, "wrong-client-secret (body)") {
            wrong_secret.push(form_case(what, request.with("client_secret", &value)));
        }
    }
    kinds.push(("wrong-client-secret", wrong_secret));

    // A wrong value of the grant itself (RFC 6749 §5.2 `invalid_grant`), each field its own
    // kind, so a target can leave out wrong passwords (a live account's lockout) and keep the
    // others.
    let grant_fields: &[(&str, &'static str)] = match grant.as_str() {
        "authorization_code" => &[("code", "wrong-code")],
        "refresh_token" => &[("refresh_token", "wrong-refresh-token")],
        "password" => &[
            ("password", "wrong-password"),
            ("username", "wrong-username"),
        ],
        _ => &[],
    };
    for (name, kind) in grant_fields {
        if let Some(value) = request.first(name) {
            let mut cases: Vec<Case> = near_values(value, &format!("{kind}: `{name}`"))
                .into_iter()
                .map(|(v, what)| form_case(what, request.with(name, &v)))
                .collect();
            if *name == "password" {
                cases.push(form_case(
                    format!("{kind}: `{name}` left out"),
                    request.without(name),
                ));
            }
            kinds.push((kind, cases));
        }
    }

    // Another client's code or refresh token.
    let mut other = Vec::new();
    for (key, name, value) in [
        ("other_code", "code", others.code),
        ("other_refresh_token", "refresh_token", others.refresh_token),
    ] {
        let Some(value) = value else { continue };
        let Some(own) = request.first(name) else {
            return Err(format!(
                "`from.{key}` replaces the request's `{name}`, but the token request has none"
            ));
        };
        if own != value {
            other.push(form_case(
                format!("other-client-grant: another client's `{name}`"),
                request.with(name, value),
            ));
        }
    }
    kinds.push(("other-client-grant", other));

    // A redirect URI one character away from the one the code was issued for (RFC 6749
    // §4.1.3: "identical"): each of changed, appended and removed its own kind, so a server
    // comparing a prefix is caught as surely as one ignoring a character.
    if let Some(uri) = request.first("redirect_uri") {
        let chars: Vec<char> = uri.chars().collect();
        let n = chars.len();
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for at in 0..n {
            let c = *REPLACEMENTS
                .iter()
                .find(|r| !r.eq_ignore_ascii_case(&chars[at]))
                .unwrap_or(&'q');
            let mut other = chars.clone();
            other[at] = c;
            changed.push(form_case(
                format!("redirect-uri: character {} of {n} changed", at + 1),
                request.with("redirect_uri", &other.into_iter().collect::<String>()),
            ));
            // A removed `/` could leave an equivalent URI (an empty path is `/`).
            if chars[at] != '/' {
                let mut other = chars.clone();
                other.remove(at);
                removed.push(form_case(
                    format!("redirect-uri: character {} of {n} removed", at + 1),
                    request.with("redirect_uri", &other.into_iter().collect::<String>()),
                ));
            }
        }
        let appended = APPENDED
            .iter()
            .map(|c| {
                form_case(
                    format!("redirect-uri: `{c}` appended"),
                    request.with("redirect_uri", &format!("{uri}{c}")),
                )
            })
            .collect();
        kinds.extend([
            ("redirect-uri", changed),
            ("redirect-uri", appended),
            ("redirect-uri", removed),
        ]);
    }

    // A grant type one character away: `unsupported_grant_type`.
    kinds.push((
        "wrong-grant-type",
        near_values(&grant, "wrong-grant-type")
            .into_iter()
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, what)| form_case(what, request.with("grant_type", &v)))
            .collect(),
    ));

    kinds.retain(|(_, cases)| !cases.is_empty());
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn base(form: &[(&str, &str)], basic: Option<(&str, &str)>) -> BaseRequest {
        BaseRequest {
            form: Some(
                form.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            authorization: basic.map(|(id, secret)| basic_header(id, secret, true)),
            ..BaseRequest::default()
        }
    }

    use crate::property::sample_cases as draw;

    /// The request a case sends, as (form fields, Authorization), from the base's.
    fn sent(base: &BaseRequest, change: &Change) -> (Vec<(String, String)>, Option<Vec<u8>>) {
        let mut form = base.form.clone().unwrap();
        let mut authorization = base.authorization.clone();
        fn go(
            change: &Change,
            form: &mut Vec<(String, String)>,
            authorization: &mut Option<Vec<u8>>,
        ) {
            match change {
                Change::Form(fields) => {
                    *form = fields
                        .iter()
                        .map(|f| (f.name.clone(), f.value.clone()))
                        .collect();
                }
                Change::Authorization(bytes) => *authorization = Some(bytes.clone()),
                Change::Header { name, value, .. } if name == "authorization" => {
                    *authorization = value.clone();
                }
                Change::All(changes) => {
                    for c in changes {
                        go(c, form, authorization);
                    }
                }
                _ => panic!("a token_request case changes only the form and the header"),
            }
        }
        go(change, &mut form, &mut authorization);
        (form, authorization)
    }

    fn kind(case: &Case) -> &str {
        case.label.split(':').next().unwrap()
    }

    const CODE_REQUEST: &[(&str, &str)] = &[
        ("grant_type", "authorization_code"),
        ("code", "c0de-valid-1234567890"),
        ("redirect_uri", "https://app.example/cb"),
    ];

    /// No case is the valid request in disguise: each one sends something other than the valid
    /// form and client (as a multiset of fields), or one field twice, or the client twice.
    #[test]
    fn no_case_is_the_valid_request() {
        for (form, basic) in [
            (CODE_REQUEST, Some(("app", "s3cret-value-123"))),
            (
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "rt-0123456789"),
                    ("client_id", "app"),
                    ("client_secret", "s3cret-value-123"),
                ][..],
                None,
            ),
            (
                &[("grant_type", "client_credentials")][..],
                Some(("a b", "p&q=r%")),
            ),
            (
                &[
                    ("grant_type", "password"),
                    ("username", "alice"),
                    ("password", "pa55word"),
                    ("client_id", "public-app"),
                ][..],
                None,
            ),
        ] {
            let base = base(form, basic);
            let others = Others {
                code: form
                    .iter()
                    .any(|(n, _)| *n == "code")
                    .then_some("c0de-other"),
                refresh_token: form
                    .iter()
                    .any(|(n, _)| *n == "refresh_token")
                    .then_some("rt-other"),
            };
            let valid = sent(&base, &Change::All(vec![]));
            let mut sorted_valid = valid.0.clone();
            sorted_valid.sort();
            let strategy = refused(&base, &others, &[]).unwrap();
            for case in draw(&strategy, 1000, 4) {
                let (mut fields, authorization) = sent(&base, &case.change);
                fields.sort();
                assert!(
                    fields != sorted_valid || authorization != valid.1,
                    "{}: the valid request",
                    case.label
                );
                if let Some(bytes) = &authorization {
                    let decoded = crate::auth::basic::decode(std::str::from_utf8(bytes).unwrap());
                    assert!(decoded.is_some(), "{}: Basic stays decodable", case.label);
                }
            }
        }
    }

    /// Every kind the request allows is drawn within the default case count, whatever the seed.
    #[test]
    fn every_kind_is_drawn_among_256_cases() {
        let base = base(CODE_REQUEST, Some(("app", "s3cret-value-123")));
        let others = Others {
            code: Some("c0de-other"),
            refresh_token: None,
        };
        let strategy = refused(&base, &others, &[]).unwrap();
        for seed in 1..=5 {
            let cases = draw(&strategy, 256, seed);
            let labels: BTreeSet<&str> = cases.iter().map(|c| c.label.as_str()).collect();
            let kinds: BTreeSet<&str> = cases.iter().map(kind).collect();
            for expected in [
                "duplicated-parameter",
                "missing-parameter",
                "missing-client-authentication",
                "both-places",
                "wrong-client-secret (Basic)",
                "wrong-code",
                "other-client-grant",
                "redirect-uri",
                "wrong-grant-type",
            ] {
                assert!(kinds.contains(expected), "seed {seed}: no `{expected}`");
            }
            assert!(
                labels
                    .iter()
                    .any(|l| l.ends_with("appended") && l.starts_with("redirect-uri")),
                "seed {seed}: no appended redirect URI"
            );
            assert!(
                labels
                    .iter()
                    .any(|l| l.starts_with("duplicated-parameter: `code`")),
                "seed {seed}: the code never duplicated"
            );
        }
    }

    /// The missing parameters follow the request's grant and client, not a provider list.
    #[test]
    fn the_missing_parameters_follow_the_grant() {
        let missing = |form: &[(&str, &str)], basic| {
            let kinds = kinds(&base(form, basic), &Others::default()).unwrap();
            kinds
                .iter()
                .flat_map(|(_, cases)| cases)
                .filter(|c| kind(c) == "missing-parameter")
                .map(|c| c.label.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            missing(CODE_REQUEST, Some(("app", "secret"))),
            [
                "missing-parameter: `grant_type` left out",
                "missing-parameter: `code` left out",
                "missing-parameter: `redirect_uri` left out"
            ]
        );
        let mut with_pkce = CODE_REQUEST.to_vec();
        with_pkce.push(("code_verifier", "v"));
        assert_eq!(
            missing(&with_pkce, Some(("app", "secret"))),
            [
                "missing-parameter: `grant_type` left out",
                "missing-parameter: `code` left out",
            ]
        );
        assert_eq!(
            missing(
                &[
                    ("grant_type", "password"),
                    ("username", "u"),
                    ("password", "p"),
                    ("client_id", "public")
                ],
                None
            ),
            [
                "missing-parameter: `grant_type` left out",
                "missing-parameter: `username` left out",
                "missing-parameter: `client_id` left out"
            ]
        );
    }

    /// A password left out is a failed login like a wrong one: it is of the `wrong-password`
    /// kind, so leaving that kind out spares the account every case that could lock it.
    #[test]
    fn a_password_left_out_is_a_wrong_password_case() {
        let base = base(
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "correct-horse"),
                ("client_id", "public"),
            ],
            None,
        );
        let kinds = kinds(&base, &Others::default()).unwrap();
        let wrong: Vec<&str> = kinds
            .iter()
            .filter(|(kind, _)| *kind == "wrong-password")
            .flat_map(|(_, cases)| cases.iter().map(|c| c.label.as_str()))
            .collect();
        assert!(
            wrong.contains(&"wrong-password: `password` left out"),
            "{wrong:?}"
        );
        assert!(
            kinds
                .iter()
                .filter(|(kind, _)| *kind == "missing-parameter")
                .flat_map(|(_, cases)| cases.iter())
                .all(|c| !c.label.contains("`password`")),
            "a missing-parameter case leaves the password out"
        );
    }

    /// Credentials are marked secret in every form a case sends, and no label holds one.
    #[test]
    fn credentials_are_secret_and_labels_hold_none() {
        let base = base(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "rt-0123456789"),
                ("client_id", "app"),
                ("client_secret", "s3cret-value-123"),
            ],
            None,
        );
        let others = Others {
            code: None,
            refresh_token: Some("rt-other-98765"),
        };
        for (_, case) in kinds(&base, &others)
            .unwrap()
            .into_iter()
            .flat_map(|(kind, cases)| cases.into_iter().map(move |c| (kind, c)))
        {
            for needle in ["rt-0123", "s3cret", "rt-other"] {
                assert!(!case.label.contains(needle), "{}", case.label);
            }
            if let Change::Form(fields) = &case.change {
                for f in fields {
                    let credential = f.name == "refresh_token" || f.name == "client_secret";
                    assert_eq!(
                        f.secret,
                        credential && f.value.len() >= MIN_PASSWORD_FORM,
                        "{}: `{}`",
                        case.label,
                        f.name
                    );
                }
            }
            if let Change::Authorization(_) = &case.change {
                assert!(
                    case.change
                        .secret_forms()
                        .iter()
                        .any(|f| f.contains("s3cret-value-123")),
                    "{}",
                    case.label
                );
            }
        }
    }

    #[test]
    fn requests_the_family_cannot_vary_are_refused_at_the_step() {
        assert!(refused(&BaseRequest::default(), &Others::default(), &[]).is_err());
        assert!(refused(&base(&[("code", "x")], None), &Others::default(), &[]).is_err());
        let others = Others {
            code: Some("c0de-other"),
            refresh_token: None,
        };
        let error = refused(
            &base(&[("grant_type", "client_credentials")], None),
            &others,
            &[],
        )
        .err()
        .unwrap();
        assert!(error.contains("`from.other_code`"), "{error}");
    }
}
