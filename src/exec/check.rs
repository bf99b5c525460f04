//! Evaluating a step's [`Expectation`] against an [`Exchange`]: every check is evaluated, and
//! each one that does not hold says what was expected and what was found.

use std::time::Duration;

use crate::auth::{challenge, jwt};
use crate::net::{Exchange, Outcome, ResponseData};
use crate::scenario::model::{
    CaptureRef, Expectation, ExpectedOutcome, FieldCheck, JsonCheck, JsonPath, NumberBound, SameAs,
    TextCheck,
};
use crate::secret::{CREDENTIAL_HEADERS, is_credential_field, redact_credential_text};

/// The result of checking one step.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Checks that held.
    pub passed: Vec<String>,
    /// Checks that did not.
    pub failed: Vec<String>,
    /// Set when the step could not run at all (the verdict is Error, not Fail).
    pub error: Option<String>,
}

/// Renders templates inside expectations, and redacts what messages show.
pub trait Render {
    /// Redacts known secret values (and their derived forms) from `text`.
    fn redact(&self, text: &str) -> String;
    /// Renders a template text.
    fn render(&self, template: &crate::scenario::Template) -> Result<String, String>;
    /// Renders string leaves of a JSON value.
    fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, String>;
    /// Returns the response an earlier step captured whole (`response: true`) under `name`.
    fn captured_response(&self, name: &str) -> Option<&ResponseData>;
    /// Says whether `differs_from` names a secret (a target secret or a secret capture), whose
    /// value a message must never show.
    fn is_secret(&self, name: &CaptureRef) -> bool;
}

/// What a message shows of the value `differs_from` compares with: its excerpt, or nothing of
/// a secret.
fn shown_capture(render: &dyn Render, name: &CaptureRef, value: &str) -> String {
    if render.is_secret(name) {
        format!("the captured `{}` [redacted]", name.name())
    } else {
        format!(
            "the captured `{}` {}",
            name.name(),
            excerpt(render, value, 120)
        )
    }
}

/// Renders a numeric bound; a rendering that is not a number is the scenario's fault, so it is
/// the step's error, not a failure of the server.
fn number_bound(render: &dyn Render, check: &str, bound: &NumberBound) -> Result<f64, String> {
    let text = render.render(&bound.0)?;
    NumberBound::parse(&text).ok_or_else(|| {
        format!(
            "`{check}: {}` rendered {}, which is not a number",
            bound.0.source(),
            excerpt(render, &text, 60)
        )
    })
}

/// The number a templated string leaf of `equals` renders to, when the value it is compared with
/// is a number: `equals: "{{count}}"` compares as a number, since a template renders text.
fn templated_number(
    written: &serde_json::Value,
    rendered: &serde_json::Value,
    found: Option<&serde_json::Value>,
) -> Option<serde_json::Value> {
    let (serde_json::Value::String(source), serde_json::Value::String(text)) = (written, rendered)
    else {
        return None;
    };
    if !source.contains("{{") || !found.is_some_and(serde_json::Value::is_number) {
        return None;
    }
    let text = text.trim();
    let number: serde_json::Number = match text.parse::<i64>() {
        Ok(n) => n.into(),
        Err(_) => serde_json::Number::from_f64(NumberBound::parse(text)?)?,
    };
    Some(serde_json::Value::Number(number))
}

fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Checks the transport outcome, then (for responses) status, headers, JSON and body.
pub fn check(
    expect: &Expectation,
    exchange: &Exchange,
    within: Option<Duration>,
    render: &dyn Render,
) -> CheckReport {
    let mut report = CheckReport::default();
    let observed = &exchange.outcome;
    if let Outcome::Other(detail) = observed {
        report.error = Some(format!("could not send the request: {detail}"));
        return report;
    }
    let wanted = expect.outcome;
    let outcome_ok = match wanted {
        ExpectedOutcome::Response => matches!(observed, Outcome::Response(_)),
        ExpectedOutcome::Timeout => observed.is_timeout(),
        ExpectedOutcome::Refused => *observed == Outcome::Refused,
        ExpectedOutcome::Reset => *observed == Outcome::Reset,
        ExpectedOutcome::Malformed => matches!(observed, Outcome::Malformed(_)),
    };
    let within_text = within
        .map(|w| format!(" within {}", secs(w)))
        .unwrap_or_default();
    if outcome_ok {
        match wanted {
            ExpectedOutcome::Timeout => report.passed.push(format!(
                "no response{within_text} ({}, after {})",
                observed,
                secs(exchange.elapsed)
            )),
            ExpectedOutcome::Response => {}
            ExpectedOutcome::Malformed => report.passed.push(format!("outcome {observed}")),
            other => report.passed.push(format!("outcome {other}")),
        }
    } else {
        let expected = match wanted {
            ExpectedOutcome::Response => format!("a response{within_text}"),
            ExpectedOutcome::Timeout => format!("timeout (no response{within_text})"),
            other => other.to_string(),
        };
        let found = match observed {
            Outcome::Response(s) => format!("got HTTP {s}"),
            o if o.is_timeout() => format!("{o} after {}", secs(exchange.elapsed)),
            o => o.to_string(),
        };
        let hint = match (wanted, observed) {
            (ExpectedOutcome::Timeout, Outcome::Refused) => {
                ": the connection was actively rejected, but a dropping allowlist never answers"
            }
            (ExpectedOutcome::Timeout, Outcome::Response(_)) => {
                ": the source was answered, so it is not being dropped"
            }
            (ExpectedOutcome::Response, Outcome::Malformed(_)) => {
                ": the server answered, but not with valid HTTP/1.1"
            }
            (ExpectedOutcome::Reset, Outcome::Response(_)) => {
                ": the server answered on a connection opened for this request"
            }
            _ => "",
        };
        report
            .failed
            .push(format!("{found}, expected {expected}{hint}"));
        return report;
    }
    if wanted == ExpectedOutcome::Response
        && let Some(limit) = within
    {
        if exchange.elapsed > limit {
            report.failed.push(format!(
                "took {}, expected within {}",
                secs(exchange.elapsed),
                secs(limit)
            ));
        } else {
            report
                .passed
                .push(format!("answered within {}", secs(limit)));
        }
    }
    let Some(response) = &exchange.response else {
        // Checks on a response that never came cannot hold or fail: the step could not be
        // checked, which must never read as a pass.
        if expect.checks_response() {
            report.error = Some(format!(
                "no response to check (outcome {observed}), but the expectation checks one"
            ));
        }
        return report;
    };
    if let Some(status) = &expect.status {
        if status.contains(response.status) {
            report.passed.push(format!("status {}", response.status));
        } else {
            report
                .failed
                .push(format!("got HTTP {}, expected {status}", response.status));
        }
    }
    for (name, checks) in &expect.headers {
        let values = response.header_values(name.0.as_str());
        let shown = name.0.as_str();
        for check in &checks.0 {
            let subject = format!("header `{shown}`");
            match text_check(check, &values, &subject, true, render) {
                Ok(Ok(ok)) => report.passed.push(ok),
                Ok(Err(failed)) => report.failed.push(failed),
                Err(e) => report.error = Some(e),
            }
        }
    }
    if let Some(checks) = &expect.body {
        let text = response.text();
        let values: Vec<&str> = if text.is_empty() {
            vec![]
        } else {
            vec![text.as_str()]
        };
        for check in &checks.0 {
            match text_check(check, &values, "body", false, render) {
                Ok(Ok(ok)) => report.passed.push(ok),
                Ok(Err(failed)) => report.failed.push(failed),
                Err(e) => report.error = Some(e),
            }
        }
    }
    if !expect.json.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&response.body) {
            // A body that is not JSON carries no member, so `absent` holds on it: a refusal
            // whose body the docs leave open (an HTML page, nothing at all) has no token either.
            Err(e) => {
                let mut cannot_hold = 0;
                for (path, checks) in &expect.json {
                    for check in &checks.0 {
                        if matches!(check, JsonCheck::Absent) {
                            report
                                .passed
                                .push(format!("{} absent (the body is not JSON)", path.source()));
                        } else {
                            cannot_hold += 1;
                        }
                    }
                }
                if cannot_hold > 0 {
                    report.failed.push(format!(
                        "body is not JSON ({e}), so {cannot_hold} JSONPath check(s) cannot hold: {}",
                        excerpt(render, &response.text(), 120)
                    ));
                }
            }
            Ok(document) => {
                for (path, checks) in &expect.json {
                    let nodes: Vec<&serde_json::Value> = path.compiled().query(&document).all();
                    for check in &checks.0 {
                        match json_check(check, path.source(), &nodes, render) {
                            Ok(Ok(ok)) => report.passed.push(ok),
                            Ok(Err(failed)) => report.failed.push(failed),
                            Err(e) => report.error = Some(e),
                        }
                    }
                }
            }
        }
    }
    contracts(expect, response, render, &mut report);
    report
}

impl CheckReport {
    fn record(&mut self, result: CheckResult) {
        match result {
            Ok(Ok(ok)) => self.passed.push(ok),
            Ok(Err(failed)) => self.failed.push(failed),
            Err(e) => self.error = Some(e),
        }
    }
}

/// Applies each given field check to the value `value_of` finds for its name.
fn field_checks<'v>(
    report: &mut CheckReport,
    subject: &str,
    fields: &[(&'static str, &Option<FieldCheck>)],
    value_of: impl Fn(&str) -> Option<&'v str>,
    render: &dyn Render,
) {
    for (name, field) in fields {
        if let Some(field) = field {
            let value: Vec<&str> = value_of(name).into_iter().collect();
            report.record(text_check(
                &field.0,
                &value,
                &format!("{subject} `{name}`"),
                true,
                render,
            ));
        }
    }
}

/// Checks the failure contracts: `WWW-Authenticate`, OAuth error and problem bodies, JWTs.
fn contracts(
    expect: &Expectation,
    response: &ResponseData,
    render: &dyn Render,
    report: &mut CheckReport,
) {
    if let Some(check) = &expect.www_authenticate {
        let values = response.header_values("www-authenticate");
        match challenge::parse_all(values.iter().copied()) {
            Err(e) => report
                .failed
                .push(format!("`WWW-Authenticate` is malformed: {e}")),
            Ok(challenges) => match challenges.iter().find(|c| c.is_scheme(&check.scheme)) {
                None => {
                    let found: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
                    report.failed.push(format!(
                        "no `{}` challenge in `WWW-Authenticate` ({})",
                        check.scheme,
                        if found.is_empty() {
                            "the header is absent".to_owned()
                        } else {
                            format!("found {}", found.join(", "))
                        }
                    ));
                }
                Some(challenge) => {
                    report.passed.push(format!(
                        "`WWW-Authenticate: {}` challenge",
                        challenge.scheme
                    ));
                    let subject = format!("`WWW-Authenticate: {}`", check.scheme);
                    field_checks(
                        report,
                        &subject,
                        &check.fields(),
                        |name| challenge.param(name),
                        render,
                    );
                }
            },
        }
    }
    if let Some(check) = &expect.oauth_error {
        match challenge::parse_oauth_error(&response.body) {
            Err(e) => report.failed.push(format!(
                "body is not an OAuth error ({e}): {}",
                excerpt(render, &response.text(), 120)
            )),
            Ok(error) => {
                field_checks(
                    report,
                    "OAuth error",
                    &check.fields(),
                    |name| match name {
                        "error" => Some(error.error.as_str()),
                        "error_description" => error.error_description.as_deref(),
                        _ => error.error_uri.as_deref(),
                    },
                    render,
                );
            }
        }
    }
    if let Some(check) = &expect.problem {
        match challenge::parse_problem(&response.body) {
            Err(e) => report.failed.push(format!(
                "body is not a problem document ({e}): {}",
                excerpt(render, &response.text(), 120)
            )),
            Ok(problem) => {
                let status = problem.status.map(|s| s.to_string());
                field_checks(
                    report,
                    "problem",
                    &check.fields(),
                    |name| match name {
                        "type" => problem.type_.as_deref(),
                        "title" => problem.title.as_deref(),
                        "status" => status.as_deref(),
                        "detail" => problem.detail.as_deref(),
                        _ => problem.instance.as_deref(),
                    },
                    render,
                );
            }
        }
    }
    if let Some(same_as) = &expect.same_as {
        match render.captured_response(&same_as.response) {
            Some(earlier) => match response_difference(same_as, earlier, response, render) {
                None => report.passed.push(format!(
                    "indistinguishable from `{}` (status, body, {})",
                    same_as.response,
                    compared_headers(same_as).join(", ")
                )),
                Some(difference) => report
                    .failed
                    .push(format!("differs from `{}`: {difference}", same_as.response)),
            },
            None => {
                report.error = Some(format!(
                    "no response was captured as `{}`",
                    same_as.response
                ))
            }
        }
    }
    if !expect.jwt.is_empty() {
        let document = serde_json::from_slice::<serde_json::Value>(&response.body);
        for (path, check) in &expect.jwt {
            let token = match &document {
                Err(e) => Err(format!("body is not JSON ({e})")),
                Ok(document) => match path.compiled().query(document).all().as_slice() {
                    [serde_json::Value::String(token)] => Ok(token.clone()),
                    [] => Err("it selects nothing".into()),
                    [_] => Err("it is not a string".into()),
                    many => Err(format!("it selects {} values", many.len())),
                },
            };
            let decoded = token
                .and_then(|t| jwt::decode_unverified(&t).map_err(|e| format!("not a JWT: {e}")));
            let jwt = match decoded {
                Ok(jwt) => jwt,
                Err(e) => {
                    report.failed.push(format!("JWT at {}: {e}", path.source()));
                    continue;
                }
            };
            for (part, value, checks) in [
                ("header", &jwt.header, &check.header),
                ("claims", &jwt.claims, &check.claims),
            ] {
                for (claim, list) in checks {
                    let nodes: Vec<&serde_json::Value> = claim.compiled().query(value).all();
                    let label = format!("JWT at {} {part} {}", path.source(), claim.source());
                    for c in &list.0 {
                        report.record(json_check(c, &label, &nodes, render));
                    }
                }
            }
        }
    }
}

/// The headers a `same_as` compares, lowercase.
fn compared_headers(same_as: &SameAs) -> Vec<String> {
    match &same_as.headers {
        Some(names) => names.iter().map(|n| n.0.as_str().to_owned()).collect(),
        None => SameAs::DEFAULT_HEADERS
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
    }
}

/// Says how `now` differs from `earlier` (status, compared headers, body), or `None`.
fn response_difference(
    same_as: &SameAs,
    earlier: &ResponseData,
    now: &ResponseData,
    render: &dyn Render,
) -> Option<String> {
    let mut differences = Vec::new();
    if earlier.status != now.status {
        differences.push(format!("status {} vs {}", now.status, earlier.status));
    }
    for name in compared_headers(same_as) {
        let (a, b) = (now.header_values(&name), earlier.header_values(&name));
        if a != b {
            let shown = |values: &[&str]| match values {
                [] => "absent".to_owned(),
                values => excerpt(render, &values.join(", "), 120),
            };
            differences.push(format!("header `{name}` {} vs {}", shown(&a), shown(&b)));
        }
    }
    let parse = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).ok();
    match (parse(&now.body), parse(&earlier.body)) {
        (Some(mut a), Some(mut b)) => {
            for path in &same_as.ignore {
                blank(&mut a, path);
                blank(&mut b, path);
            }
            if let Some(at) = first_json_difference(&a, &b, "$", render) {
                differences.push(format!("body differs at {at}"));
            }
        }
        _ if now.body != earlier.body => differences.push(format!(
            "body {} vs {}",
            excerpt(render, &now.text(), 120),
            excerpt(render, &earlier.text(), 120)
        )),
        _ => {}
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

/// Replaces every node `path` selects with `null`, so neither side's value counts.
fn blank(document: &mut serde_json::Value, path: &JsonPath) {
    let pointers: Vec<String> = path
        .compiled()
        .query_located(document)
        .locations()
        .map(|l| l.to_json_pointer())
        .collect();
    for pointer in pointers {
        if let Some(node) = document.pointer_mut(&pointer) {
            *node = serde_json::Value::Null;
        }
    }
}

/// Returns the normalized path of the first place where `a` and `b` differ, with both values
/// (redacted, cut short), or `None` when they are equal.
fn first_json_difference(
    a: &serde_json::Value,
    b: &serde_json::Value,
    at: &str,
    render: &dyn Render,
) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let here = format!("{at}['{k}']");
                match (x.get(k), y.get(k)) {
                    (Some(v), Some(w)) => first_json_difference(v, w, &here, render),
                    (Some(_), None) => Some(format!("{here} (only in this response)")),
                    _ => Some(format!("{here} (missing from this response)")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_json_difference(v, w, &format!("{at}[{i}]"), render)),
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => Some(format!(
            "{at}: {} vs {}",
            json_excerpt(render, a, 120),
            json_excerpt(render, b, 120)
        )),
    }
}

/// Quotes a value for a message: credential fields and known secrets redacted first (so escaping
/// or truncation cannot hide a secret from redaction), then cut to `max` characters.
fn excerpt(render: &dyn Render, text: &str, max: usize) -> String {
    let text = render.redact(&redact_credential_text(text));
    format!("{:?}", cut(&text, max))
}

/// Quotes a JSON value for a message, redacting string leaves before JSON escaping them.
fn json_excerpt(render: &dyn Render, value: &serde_json::Value, max: usize) -> String {
    fn redact_leaves(render: &dyn Render, value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(render.redact(s)),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|v| redact_leaves(render, v)).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), redact_leaves(render, v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let text = render.redact(&redact_credential_text(
        &redact_leaves(render, value).to_string(),
    ));
    cut(&text, max)
}

/// Cuts redacted text to `max` characters, never inside a redaction marker, marking the cut.
fn cut(text: &str, max: usize) -> String {
    let max_bytes = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let kept = crate::secret::prefix_outside_markers(text, max_bytes);
    if kept.len() == text.len() {
        text.to_owned()
    } else {
        format!("{kept}…")
    }
}

/// Returns true when a JSONPath ends in a credential field (`$.access_token`, `$['password']`).
fn names_credential(path: &str) -> bool {
    let last = path
        .rsplit(['.', '['])
        .next()
        .unwrap_or_default()
        .trim_end_matches(']')
        .trim_matches(['\'', '"']);
    is_credential_field(last)
}

type CheckResult = Result<Result<String, String>, String>;

fn text_check(
    check: &TextCheck,
    values: &[&str],
    subject: &str,
    is_header: bool,
    render: &dyn Render,
) -> CheckResult {
    let hidden = is_header
        && CREDENTIAL_HEADERS
            .iter()
            .any(|h| subject == format!("header `{h}`"));
    let found = || match values {
        [] if is_header => "it is absent".to_owned(),
        [] => "it is empty".to_owned(),
        _ if hidden => "found a value (a credential header, not shown)".to_owned(),
        [one] => format!("found {}", excerpt(render, one, 200)),
        many => format!(
            "found {}",
            many.iter()
                .map(|v| excerpt(render, v, 120))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let (present_word, absent_word) = if is_header {
        ("present", "absent")
    } else {
        ("non-empty", "empty")
    };
    Ok(match check {
        TextCheck::Present => {
            if values.is_empty() {
                Err(format!("{subject}: expected {present_word}, {}", found()))
            } else {
                Ok(format!("{subject} {present_word}"))
            }
        }
        TextCheck::Absent => {
            if values.is_empty() {
                Ok(format!("{subject} {absent_word}"))
            } else {
                Err(format!("{subject}: expected {absent_word}, {}", found()))
            }
        }
        TextCheck::Equals(t) => {
            let want = render.render(t)?;
            if values.iter().any(|v| *v == want) {
                Ok(format!("{subject} equals {}", excerpt(render, &want, 120)))
            } else {
                Err(format!(
                    "{subject}: expected to equal {}, {}",
                    excerpt(render, &want, 120),
                    found()
                ))
            }
        }
        TextCheck::NotEquals(t) => {
            let want = render.render(t)?;
            if values.is_empty() {
                Err(format!(
                    "{subject}: expected a value other than {}, {}",
                    excerpt(render, &want, 120),
                    found()
                ))
            } else if values.iter().all(|v| *v != want) {
                Ok(format!(
                    "{subject} does not equal {}",
                    excerpt(render, &want, 120)
                ))
            } else {
                Err(format!(
                    "{subject}: expected not to equal {}, but it does",
                    excerpt(render, &want, 120)
                ))
            }
        }
        TextCheck::DiffersFrom(name) => {
            let want = render.render(&name.0)?;
            if values.is_empty() {
                Err(format!(
                    "{subject}: expected a value differing from the captured `{}`, {}",
                    name.name(),
                    found()
                ))
            } else if values.iter().all(|v| *v != want) {
                Ok(format!(
                    "{subject} differs from the captured `{}`",
                    name.name()
                ))
            } else {
                Err(format!(
                    "{subject}: expected to differ from the captured `{}`, but equals {}",
                    name.name(),
                    shown_capture(render, name, &want)
                ))
            }
        }
        TextCheck::Contains(t) => {
            let want = render.render(t)?;
            if values.iter().any(|v| v.contains(&want)) {
                Ok(format!(
                    "{subject} contains {}",
                    excerpt(render, &want, 120)
                ))
            } else {
                Err(format!(
                    "{subject}: expected to contain {}, {}",
                    excerpt(render, &want, 120),
                    found()
                ))
            }
        }
        TextCheck::Matches(re) => {
            if values.iter().any(|v| re.0.is_match(v)) {
                Ok(format!("{subject} matches /{}/", re.0.as_str()))
            } else {
                Err(format!(
                    "{subject}: expected to match /{}/, {}",
                    re.0.as_str(),
                    found()
                ))
            }
        }
    })
}

fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

fn json_check(
    check: &JsonCheck,
    path: &str,
    nodes: &[&serde_json::Value],
    render: &dyn Render,
) -> CheckResult {
    let found = || match nodes {
        [] => "it selects nothing".to_owned(),
        [_] if names_credential(path) => "found a value (a credential field, not shown)".to_owned(),
        [one] => format!("found {}", json_excerpt(render, one, 200)),
        many => format!("it selects {} values", many.len()),
    };
    let single = || match nodes {
        [one] => Some(*one),
        _ => None,
    };
    let compare = |key: &str, bound: &NumberBound, holds: fn(f64, f64) -> bool| -> CheckResult {
        let bound = number_bound(render, key, bound)?;
        let name = match key {
            "gt" => ">",
            "ge" => ">=",
            "lt" => "<",
            _ => "<=",
        };
        Ok(match single().and_then(|v| v.as_f64()) {
            Some(n) if holds(n, bound) => Ok(format!("{path} {name} {bound} ({n})")),
            Some(n) => Err(format!("{path}: expected {name} {bound}, found {n}")),
            None => Err(format!(
                "{path}: expected a number {name} {bound}, {}",
                found()
            )),
        })
    };
    Ok(match check {
        JsonCheck::Exists => {
            if nodes.is_empty() {
                Err(format!("{path}: expected to exist, {}", found()))
            } else {
                Ok(format!("{path} exists"))
            }
        }
        JsonCheck::Absent => {
            if nodes.is_empty() {
                Ok(format!("{path} absent"))
            } else {
                Err(format!("{path}: expected absent, {}", found()))
            }
        }
        JsonCheck::Equals(value) => {
            let rendered = render.render_json(value)?;
            let want = templated_number(value, &rendered, single()).unwrap_or(rendered);
            match single() {
                Some(v) if json_equal(v, &want) => Ok(format!(
                    "{path} equals {}",
                    json_excerpt(render, &want, 120)
                )),
                _ => Err(format!(
                    "{path}: expected to equal {}, {}",
                    json_excerpt(render, &want, 120),
                    found()
                )),
            }
        }
        JsonCheck::NotEquals(value) => {
            let rendered = render.render_json(value)?;
            let want = templated_number(value, &rendered, single()).unwrap_or(rendered);
            match single() {
                Some(v) if !json_equal(v, &want) => Ok(format!(
                    "{path} does not equal {}",
                    json_excerpt(render, &want, 120)
                )),
                Some(_) => Err(format!(
                    "{path}: expected not to equal {}, but it does",
                    json_excerpt(render, &want, 120)
                )),
                None => Err(format!(
                    "{path}: expected one value other than {}, {}",
                    json_excerpt(render, &want, 120),
                    found()
                )),
            }
        }
        JsonCheck::DiffersFrom(name) => {
            let want = render.render(&name.0)?;
            // Compared as a capture takes a value: a string's text, any other value's JSON.
            let as_captured = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match single() {
                Some(v) if as_captured(v) != want => Ok(format!(
                    "{path} differs from the captured `{}`",
                    name.name()
                )),
                Some(_) => Err(format!(
                    "{path}: expected to differ from the captured `{}`, but equals {}",
                    name.name(),
                    shown_capture(render, name, &want)
                )),
                None => Err(format!(
                    "{path}: expected one value differing from the captured `{}`, {}",
                    name.name(),
                    found()
                )),
            }
        }
        JsonCheck::Matches(re) => match single().and_then(|v| v.as_str()) {
            Some(s) if re.0.is_match(s) => Ok(format!("{path} matches /{}/", re.0.as_str())),
            _ => Err(format!(
                "{path}: expected a string matching /{}/, {}",
                re.0.as_str(),
                found()
            )),
        },
        JsonCheck::Contains(t) => {
            let want = render.render(t)?;
            match single().and_then(|v| v.as_str()) {
                Some(s) if s.contains(&want) => {
                    Ok(format!("{path} contains {}", excerpt(render, &want, 120)))
                }
                _ => Err(format!(
                    "{path}: expected a string containing {}, {}",
                    excerpt(render, &want, 120),
                    found()
                )),
            }
        }
        JsonCheck::Gt(b) => return compare("gt", b, |n, b| n > b),
        JsonCheck::Ge(b) => return compare("ge", b, |n, b| n >= b),
        JsonCheck::Lt(b) => return compare("lt", b, |n, b| n < b),
        JsonCheck::Le(b) => return compare("le", b, |n, b| n <= b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::{StatusMatch, StatusSet};

    struct Plain;

    impl Render for Plain {
        fn redact(&self, text: &str) -> String {
            text.to_owned()
        }
        fn render(&self, template: &crate::scenario::Template) -> Result<String, String> {
            Ok(template.source().to_owned())
        }
        fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
            Ok(value.clone())
        }
        fn captured_response(&self, _name: &str) -> Option<&ResponseData> {
            None
        }
        fn is_secret(&self, _name: &CaptureRef) -> bool {
            false
        }
    }

    #[test]
    fn response_checks_without_a_response_are_an_error_not_a_pass() {
        let exchange = Exchange {
            outcome: Outcome::Refused,
            response: None,
            elapsed: Duration::from_millis(3),
            resent: None,
            local_address: None,
            tls: None,
        };
        let mut expect = Expectation {
            outcome: ExpectedOutcome::Refused,
            ..Expectation::default()
        };
        let report = check(&expect, &exchange, None, &Plain);
        assert!(
            report.error.is_none() && report.failed.is_empty(),
            "{report:?}"
        );
        assert!(!expect.checks_response());

        expect.status = Some(StatusSet(Box::new([StatusMatch::Code(401)])));
        assert!(expect.checks_response());
        let report = check(&expect, &exchange, None, &Plain);
        let error = report.error.expect("an unchecked status is an error");
        assert!(error.contains("no response to check"), "{error}");
    }
}
