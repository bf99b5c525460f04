//! Reading scenario files: YAML → [`ScenarioFile`], then the checks serde cannot make.
//!
//! This is the only scenario file that touches serde_yaml. A file with several broken scenarios or
//! steps reports each of them: a broken element is recorded, then skipped on the next pass, until
//! the file deserializes (see [`parse_file`]).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use super::model::{
    AuthSpec, AuthorizeSpec, Body, Capture, ClientAuth, ComputeSpec, ExpectedOutcome, FieldCheck,
    ForgeChange, GrantType, JsonCheck, OAuth2Spec, Scenario, ScenarioFile, Step, TextCheck,
};
use super::template::{Template, VarRef};
use crate::diagnostic::{self, InputKind, LoadError, SpanIndex};

/// The names an authorization step defines: (name, is secret).
pub const AUTHORIZE_OUTPUTS: &[(&str, bool)] = &[
    ("code", true),
    ("code_verifier", true),
    ("code_challenge", false),
    ("state", false),
];

/// A file with more problems than this is not worth reading further.
const MAX_ERRORS_PER_FILE: usize = 100;

thread_local! {
    /// Elements to skip on this pass: (scenario index, step index or None for the whole scenario).
    static SKIP: RefCell<HashSet<(usize, Option<usize>)>> = RefCell::new(HashSet::new());
    static CURRENT_SCENARIO: Cell<usize> = const { Cell::new(0) };
}

/// Deserializes `scenarios:`, skipping the elements recorded as broken in earlier passes.
pub(crate) fn isolated_scenarios<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Scenario>, D::Error> {
    d.deserialize_seq(IsolatedSeq { steps: false }).map(|v| {
        v.into_iter()
            .map(|e| match e {
                Element::Scenario(s) => *s,
                Element::Step(_) => unreachable!("scenario sequence holds scenarios"),
            })
            .collect()
    })
}

/// Deserializes a scenario's `steps:`, skipping the steps recorded as broken in earlier passes.
pub(crate) fn isolated_steps<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    d.deserialize_seq(IsolatedSeq { steps: true }).map(|v| {
        v.into_iter()
            .map(|e| match e {
                Element::Step(s) => *s,
                Element::Scenario(_) => unreachable!("step sequence holds steps"),
            })
            .collect()
    })
}

enum Element {
    Scenario(Box<Scenario>),
    Step(Box<Step>),
}

struct IsolatedSeq {
    steps: bool,
}

impl<'de> de::Visitor<'de> for IsolatedSeq {
    type Value = Vec<Element>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.steps {
            "a list of steps"
        } else {
            "a list of scenarios"
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Element>, A::Error> {
        let mut out = Vec::new();
        let mut index = 0;
        loop {
            let key = if self.steps {
                (CURRENT_SCENARIO.with(Cell::get), Some(index))
            } else {
                (index, None)
            };
            let skip = SKIP.with(|s| s.borrow().contains(&key));
            if skip {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
            } else if self.steps {
                match seq.next_element::<Step>()? {
                    Some(mut step) => {
                        step.index = index;
                        out.push(Element::Step(Box::new(step)))
                    }
                    None => break,
                }
            } else {
                CURRENT_SCENARIO.with(|c| c.set(index));
                match seq.next_element::<Scenario>()? {
                    Some(s) => out.push(Element::Scenario(Box::new(s))),
                    None => break,
                }
            }
            index += 1;
        }
        Ok(out)
    }
}

/// A scenario as parsed, with its index in the file.
#[derive(Debug, Clone)]
pub struct ParsedScenario {
    /// Position in the file's `scenarios:` list.
    pub index: usize,
    /// The scenario.
    pub scenario: Scenario,
    /// False when some of its steps failed to parse (and are missing from `scenario.steps`).
    pub complete: bool,
}

/// Parses one scenario file, reporting every broken scenario and step.
///
/// Returns every scenario that parsed, the incomplete ones (a step failed to parse) marked so later
/// checks skip what the missing steps could have defined; scenarios that failed to parse outside
/// their steps are left out. Their errors are in the second list.
pub fn parse_file(file: &Path, text: &str) -> (Vec<ParsedScenario>, Vec<LoadError>) {
    let mut errors = Vec::new();
    SKIP.with(|s| s.borrow_mut().clear());
    let step_path =
        regex::Regex::new(r"^scenarios\[(\d+)\](?:\.steps\[(\d+)\])?").expect("valid regex");
    // Each pass either succeeds or adds one element to SKIP; bounded by the number of elements.
    let parsed = loop {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, ScenarioFile>(deserializer) {
            Ok(parsed) => break Some(parsed),
            Err(error) => {
                let load_error =
                    diagnostic::from_yaml_error(InputKind::Scenario, file, text, &error);
                let path = error.path().to_string();
                // A syntax error comes back on every pass: report it once, then stop.
                let repeated = errors.last().is_some_and(|last: &LoadError| {
                    last.location == load_error.location && last.message == load_error.message
                });
                if repeated {
                    break None;
                }
                errors.push(load_error);
                let Some(caps) = step_path.captures(&path) else {
                    break None;
                };
                let scenario: usize = caps[1].parse().unwrap_or(usize::MAX);
                let step = caps.get(2).and_then(|m| m.as_str().parse().ok());
                let inserted = SKIP.with(|s| s.borrow_mut().insert((scenario, step)));
                if errors.len() >= MAX_ERRORS_PER_FILE {
                    errors.push(LoadError::new(
                        InputKind::Scenario,
                        file,
                        format!("stopped after {MAX_ERRORS_PER_FILE} problems in this file"),
                    ));
                    break None;
                }
                if !inserted {
                    break None;
                }
            }
        }
    };
    let skipped: Vec<(usize, Option<usize>)> = SKIP.with(|s| s.borrow_mut().drain().collect());
    let Some(parsed) = parsed else {
        return (Vec::new(), errors);
    };
    // Scenarios skipped whole are missing from the list; scenarios with skipped steps are present
    // but incomplete.
    let whole: HashSet<usize> = skipped
        .iter()
        .filter(|(_, step)| step.is_none())
        .map(|(i, _)| *i)
        .collect();
    let broken: HashSet<usize> = skipped.iter().map(|(i, _)| *i).collect();
    let indices = (0..).filter(|i| !whole.contains(i));
    let scenarios = indices
        .zip(parsed.scenarios)
        .map(|(index, scenario)| ParsedScenario {
            index,
            scenario,
            complete: !broken.contains(&index),
        })
        .collect();
    (scenarios, errors)
}

/// The names a scenario may refer to, from the specs and the target.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Every requirement id in `specs/`.
    pub requirements: HashSet<String>,
    /// The target's variables (hosts included) for the scenario's provider; `None` when the
    /// target does not configure the provider (the scenario will be skipped, names unchecked).
    pub variables: Option<HashSet<String>>,
    /// The target's secret names for the provider, like `variables`.
    pub secrets: Option<HashSet<String>>,
    /// The target's source names; `None` when the target does not configure the provider (its
    /// scenarios are skipped, so a target need not define the sources only they use).
    pub sources: Option<HashSet<String>>,
}

/// Checks what serde cannot: requirement ids, defined names, step shapes, expectation sense.
pub fn check_scenario(
    file: &Path,
    text: &str,
    parsed: &ParsedScenario,
    names: &Names,
    spans: &SpanIndex,
) -> Vec<LoadError> {
    let mut checker = Checker {
        file,
        text,
        base: format!("scenarios[{}]", parsed.index),
        spans,
        names,
        errors: Vec::new(),
        captured: HashSet::new(),
        secret_captures: HashSet::new(),
        responses: HashSet::new(),
        complete: parsed.complete,
    };
    checker.scenario(&parsed.scenario);
    checker.errors
}

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    base: String,
    spans: &'a SpanIndex,
    names: &'a Names,
    errors: Vec<LoadError>,
    captured: HashSet<String>,
    secret_captures: HashSet<String>,
    /// Names of whole-response captures (`response: true`), for `same_as`.
    responses: HashSet<String>,
    /// False when steps are missing: names they could have captured are not reported undefined.
    complete: bool,
}

impl Checker<'_> {
    fn error(&mut self, path: String, message: String) {
        let error = LoadError::new(InputKind::Scenario, self.file, message)
            .at(self.spans, self.text, &path);
        self.errors.push(error);
    }

    fn scenario(&mut self, scenario: &Scenario) {
        let base = self.base.clone();
        if scenario.requirements.is_empty() {
            self.error(
                format!("{base}.requirements"),
                "a scenario must cite at least one requirement id from specs/".into(),
            );
        }
        for (i, id) in scenario.requirements.iter().enumerate() {
            if !self.names.requirements.contains(id) {
                let hint = nearest(id, self.names.requirements.iter().map(String::as_str))
                    .map(|n| format!(". Did you mean `{n}`?"))
                    .unwrap_or_default();
                self.error(
                    format!("{base}.requirements[{i}]"),
                    format!("unknown requirement `{id}`: no spec in specs/ defines it{hint}"),
                );
            }
        }
        if scenario.steps.is_empty() && self.complete {
            self.error(
                format!("{base}.steps"),
                "a scenario needs at least one step".into(),
            );
        }
        for step in &scenario.steps {
            self.step(&format!("{base}.steps[{}]", step.index), step);
        }
    }

    fn step(&mut self, path: &str, step: &Step) {
        let kinds = usize::from(step.request.is_some())
            + usize::from(step.clock.is_some())
            + usize::from(!step.compute.is_empty());
        match kinds {
            0 => self.error(
                path.into(),
                "a step needs a `request`, a `clock` or a `compute`".into(),
            ),
            1 => {}
            _ => self.error(
                path.into(),
                "a step is one of a `request`, a `clock` or a `compute` step, not several".into(),
            ),
        }
        if !step.compute.is_empty() {
            if !step.capture.is_empty() || step.expect.is_some() {
                self.error(
                    format!("{path}.compute"),
                    "a `compute` step takes no `capture` or `expect`".into(),
                );
            }
            for (name, spec) in &step.compute {
                let cp = format!("{path}.compute.{name}");
                self.compute(&cp, spec);
                let secret = spec.output_is_secret();
                if !valid_name(name) {
                    self.error(
                        cp.clone(),
                        format!("invalid name `{name}`: use letters, digits, `_` and `-`"),
                    );
                }
                self.define(&cp, name, secret);
            }
        }
        if let Some(clock) = &step.clock {
            if !step.capture.is_empty() || step.expect.is_some() {
                self.error(
                    path.into(),
                    "a `clock` step takes no `capture` or `expect`".into(),
                );
            }
            self.template(&format!("{path}.clock.advance"), &clock.advance);
            if let Some(literal) = clock.advance.as_literal() {
                match super::model::DurationValue::parse(literal) {
                    Err(e) => self.error(format!("{path}.clock.advance"), e),
                    Ok(advance) if advance.0.is_zero() => self.error(
                        format!("{path}.clock.advance"),
                        "`advance: 0s` moves no time: give how long to wait, like `1800s`".into(),
                    ),
                    Ok(_) => {}
                }
            }
            if clock.plus.is_some_and(|p| p.0.is_zero()) {
                self.error(
                    format!("{path}.clock.plus"),
                    "`plus: 0s` adds nothing: give a margin like `1s`, or leave `plus` out".into(),
                );
            }
        }
        if let Some(request) = &step.request {
            let rp = format!("{path}.request");
            if request.timeout.is_some_and(|t| t.0.is_zero()) {
                self.error(
                    format!("{rp}.timeout"),
                    "`timeout: 0s` would end every exchange before it starts: give a duration above 0s, or leave it out for the target's `limits.request_timeout`".into(),
                );
            }
            if request.connect_timeout.is_some_and(|t| t.0.is_zero()) {
                self.error(
                    format!("{rp}.connect_timeout"),
                    "`connect_timeout: 0s` would end every connection attempt before it starts: give a duration above 0s, or leave it out".into(),
                );
            }
            self.template(&format!("{rp}.url"), &request.url);
            for (k, v) in &request.query {
                self.template(&format!("{rp}.query.{k}"), v);
            }
            for (k, v) in &request.headers {
                if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    self.error(
                        format!("{rp}.headers"),
                        format!("invalid header name `{k}`"),
                    );
                }
                self.template(&format!("{rp}.headers.{k}"), v);
            }
            match &request.body {
                Some(Body::Form(fields)) => {
                    for (k, v) in fields {
                        self.template(&format!("{rp}.body.form.{k}"), v);
                    }
                }
                Some(Body::Json(value)) => self.json_templates(&format!("{rp}.body.json"), value),
                Some(Body::Raw(t)) => self.template(&format!("{rp}.body.raw"), t),
                None => {}
            }
            match &request.auth {
                Some(AuthSpec::Basic(basic)) => {
                    self.template(&format!("{rp}.auth.basic.username"), &basic.username);
                    self.template(&format!("{rp}.auth.basic.password"), &basic.password);
                    if basic.username.as_literal().is_some_and(|u| u.contains(':')) {
                        self.error(
                            format!("{rp}.auth.basic.username"),
                            "a Basic user-id cannot contain `:` (RFC 7617 §2)".into(),
                        );
                    }
                }
                Some(AuthSpec::Bearer(token)) => self.template(&format!("{rp}.auth.bearer"), token),
                Some(AuthSpec::ApiKey(key)) => {
                    self.template(&format!("{rp}.auth.api_key.value"), &key.value)
                }
                Some(AuthSpec::Oauth2(grant)) => {
                    self.oauth2(&format!("{rp}.auth.oauth2"), grant, true)
                }
                None => {}
            }
            if let Some(grant) = &request.token {
                self.oauth2(&format!("{rp}.token"), grant, false);
                if request.body.is_some() || request.auth.is_some() {
                    self.error(
                        format!("{rp}.token"),
                        "`token` builds the form body and the client authentication: remove `body` and `auth`".into(),
                    );
                }
            }
            if let Some(authorize) = &request.authorize {
                self.authorize(&format!("{rp}.authorize"), authorize);
                if request.token.is_some() || request.body.is_some() {
                    self.error(
                        format!("{rp}.authorize"),
                        "an authorization request has no body: remove `body` or `token`".into(),
                    );
                }
            }
            if let Some(source) = &request.source
                && let Some(sources) = &self.names.sources
                && !sources.contains(source)
            {
                let mut known: Vec<&str> = sources.iter().map(String::as_str).collect();
                known.sort();
                self.error(
                    format!("{rp}.source"),
                    format!(
                        "unknown source `{source}`: the target defines {}",
                        if known.is_empty() {
                            "no sources".to_owned()
                        } else {
                            format!("`{}`", known.join("`, `"))
                        }
                    ),
                );
            }
        }
        if let Some(expect) = &step.expect {
            let ep = format!("{path}.expect");
            let checks_response = expect.status.is_some()
                || !expect.headers.is_empty()
                || !expect.json.is_empty()
                || expect.body.is_some()
                || expect.www_authenticate.is_some()
                || expect.oauth_error.is_some()
                || expect.problem.is_some()
                || !expect.jwt.is_empty()
                || expect.same_as.is_some();
            if expect.outcome != ExpectedOutcome::Response && checks_response {
                self.error(
                    format!("{ep}.outcome"),
                    format!(
                        "`outcome: {}` expects no valid HTTP response, so nothing of a response (`status`, `headers`, `json`, `body`, …) can be checked",
                        expect.outcome
                    ));
            }
            if expect.within.is_some_and(|w| w.0.is_zero()) {
                self.error(
                    format!("{ep}.within"),
                    "`within` must be longer than 0s: no exchange can finish in no time".into(),
                );
            }
            if expect.outcome == ExpectedOutcome::Timeout && expect.within.is_none() {
                self.error(
                    format!("{ep}.outcome"),
                    "`outcome: timeout` needs `within`: how long no answer may come (e.g. `within: 3s`)".into());
            }
            for (name, checks) in &expect.headers {
                for check in &checks.0 {
                    self.text_check(&format!("{ep}.headers.{name}"), check);
                }
            }
            if let Some(checks) = &expect.body {
                for check in &checks.0 {
                    self.text_check(&format!("{ep}.body"), check);
                }
            }
            for (jp, checks) in &expect.json {
                self.json_checks(&format!("{ep}.json.{}", jp.source()), &checks.0);
            }
            for (jp, check) in &expect.jwt {
                for (part, checks) in [("header", &check.header), ("claims", &check.claims)] {
                    for (claim, list) in checks {
                        let path = format!("{ep}.jwt.{}.{part}.{}", jp.source(), claim.source());
                        self.json_checks(&path, &list.0);
                    }
                }
            }
            let mut fields: Vec<(String, &FieldCheck)> = Vec::new();
            let groups = [
                (
                    "www_authenticate",
                    expect
                        .www_authenticate
                        .as_ref()
                        .map(|c| c.fields().to_vec()),
                ),
                (
                    "oauth_error",
                    expect.oauth_error.as_ref().map(|c| c.fields().to_vec()),
                ),
                (
                    "problem",
                    expect.problem.as_ref().map(|c| c.fields().to_vec()),
                ),
            ];
            for (group, list) in groups {
                for (name, field) in list.into_iter().flatten() {
                    fields.extend(field.iter().map(|f| (format!("{ep}.{group}.{name}"), f)));
                }
            }
            for (path, field) in fields {
                self.text_check(&path, &field.0);
            }
        }
        if let Some(same_as) = step.expect.as_ref().and_then(|e| e.same_as.as_ref())
            && !self.responses.contains(&same_as.response)
            && self.complete
        {
            let hint = nearest(&same_as.response, self.responses.iter().map(String::as_str))
                .map(|n| format!(". Did you mean `{n}`?"))
                .unwrap_or_default();
            self.error(
                format!("{path}.expect.same_as.response"),
                format!(
                    "no earlier step captured a response as `{}` (`capture: {{ {}: {{ response: true }} }}`){hint}",
                    same_as.response, same_as.response
                ),
            );
        }
        if let Some(eventually) = &step.eventually {
            if step.request.is_none() || step.expect.is_none() {
                self.error(
                    format!("{path}.eventually"),
                    "`eventually` repeats a request until its `expect` holds: it needs both in the same step".into(),
                );
            }
            if eventually.within.0.is_zero() {
                self.error(
                    format!("{path}.eventually.within"),
                    "`within: 0s` leaves no time to poll: give how long the change may take, like `5m`".into(),
                );
            }
            if eventually.every.0.is_zero() {
                self.error(
                    format!("{path}.eventually.every"),
                    "`every: 0s` would poll without pause: give the interval between attempts"
                        .into(),
                );
            } else if eventually.every.0 > eventually.within.0 && !eventually.within.0.is_zero() {
                self.error(
                    format!("{path}.eventually.every"),
                    "`every` is longer than `within`: there would be a single attempt".into(),
                );
            }
        }
        if !step.capture.is_empty() && step.request.is_none() {
            self.error(
                path.into(),
                "`capture` needs a `request` in the same step".into(),
            );
        }
        for (name, capture) in &step.capture {
            self.capture(&format!("{path}.capture.{name}"), name, capture);
        }
        if step.request.as_ref().is_some_and(|r| r.authorize.is_some()) {
            // What the authorization step hands to later steps.
            for (name, secret) in AUTHORIZE_OUTPUTS {
                self.define(&format!("{path}.request.authorize"), name, *secret);
            }
        }
    }

    fn compute(&mut self, path: &str, spec: &ComputeSpec) {
        match spec {
            ComputeSpec::JwtSign(sign) => {
                use super::model::JwtKey;
                let (form, key, alg) = match &sign.key {
                    JwtKey::SharedSecret(key) => ("shared_secret", key, "HS256"),
                    JwtKey::Pem(key) => ("pem", key, "RS256"),
                    JwtKey::Jwk(key) => ("jwk", key, "RS256"),
                    JwtKey::PemFile(key) => ("pem_file", key, "RS256"),
                };
                self.template(&format!("{path}.jwt_sign.key.{form}"), key);
                if sign.alg != alg && ["HS256", "RS256"].contains(&sign.alg.as_str()) {
                    self.error(
                        format!("{path}.jwt_sign.key"),
                        format!("a `{form}` key signs `{alg}`, not `{}`", sign.alg),
                    );
                }
                self.json_templates(
                    &format!("{path}.jwt_sign.claims"),
                    &serde_json::Value::Object(sign.claims.clone()),
                );
                if !["HS256", "RS256"].contains(&sign.alg.as_str()) {
                    self.error(
                        format!("{path}.jwt_sign.alg"),
                        format!(
                            "unsupported alg `{}`: expected `HS256` or `RS256`",
                            sign.alg
                        ),
                    );
                }
                if sign.expires_in.is_some() && sign.expired_for.is_some() {
                    self.error(
                        format!("{path}.jwt_sign"),
                        "give `expires_in` or `expired_for`, not both".into(),
                    );
                }
            }
            ComputeSpec::JwtForge(forge) => {
                self.template(&format!("{path}.jwt_forge.token"), &forge.token);
                match &forge.change {
                    ForgeChange::WrongKey(key) => {
                        self.template(&format!("{path}.jwt_forge.change.wrong_key"), key)
                    }
                    ForgeChange::Claims(claims) => self.json_templates(
                        &format!("{path}.jwt_forge.change.claims"),
                        &serde_json::Value::Object(claims.clone()),
                    ),
                    _ => {}
                }
            }
            ComputeSpec::RandomId(r) => {
                if let Some(length) = r.length
                    && !(8..=64).contains(&length)
                {
                    self.error(
                        format!("{path}.random_id.length"),
                        format!("a random id has 8 to 64 characters, not {length}"),
                    );
                }
            }
            ComputeSpec::PkceVerifier(v) => {
                if let Some(length) = v.length
                    && !(43..=128).contains(&length)
                {
                    self.error(
                        format!("{path}.pkce_verifier.length"),
                        format!(
                            "a PKCE verifier has 43 to 128 characters (RFC 7636 §4.1), not {length}"
                        ),
                    );
                }
            }
            ComputeSpec::PkceChallenge(c) => {
                self.template(&format!("{path}.pkce_challenge.verifier"), &c.verifier);
                if let Some(method) = &c.method
                    && !["S256", "plain"].contains(&method.as_str())
                {
                    self.error(
                        format!("{path}.pkce_challenge.method"),
                        format!("unknown PKCE method `{method}`: expected `S256` or `plain`"),
                    );
                }
            }
            ComputeSpec::Digest(d) => {
                self.template(&format!("{path}.digest.of"), &d.of);
                if d.chain.is_empty() {
                    self.error(
                        format!("{path}.digest.chain"),
                        "a digest chain needs at least one algorithm".into(),
                    );
                }
            }
            ComputeSpec::Hmac(h) => {
                self.template(&format!("{path}.hmac.key"), &h.key);
                self.template(&format!("{path}.hmac.message"), &h.message);
            }
            ComputeSpec::CanonicalSignature(c) => {
                use super::model::CanonicalSigner;
                let cp = format!("{path}.canonical_signature");
                for (key, value) in &c.pairs {
                    self.template(&format!("{cp}.pairs.{key}"), value);
                }
                if let Some(separator) = &c.key_value_separator {
                    self.template(&format!("{cp}.key_value_separator"), separator);
                }
                self.template(&format!("{cp}.separator"), &c.separator);
                match &c.then {
                    CanonicalSigner::Digest(chain) if chain.is_empty() => self.error(
                        format!("{cp}.then.digest"),
                        "a digest chain needs at least one algorithm".into(),
                    ),
                    CanonicalSigner::Digest(_) => {}
                    CanonicalSigner::Hmac(h) => {
                        self.template(&format!("{cp}.then.hmac.key"), &h.key)
                    }
                }
            }
            ComputeSpec::BasicCredentials(b) => {
                self.template(&format!("{path}.basic_credentials.username"), &b.username);
                self.template(&format!("{path}.basic_credentials.password"), &b.password);
            }
        }
    }

    fn oauth2(&mut self, path: &str, grant: &OAuth2Spec, in_auth: bool) {
        let fields = [
            ("token_url", &grant.token_url),
            ("client_id", &grant.client_id),
            ("client_secret", &grant.client_secret),
            ("username", &grant.username),
            ("password", &grant.password),
            ("refresh_token", &grant.refresh_token),
            ("code", &grant.code),
            ("redirect_uri", &grant.redirect_uri),
            ("code_verifier", &grant.code_verifier),
            ("scope", &grant.scope),
            ("resource", &grant.resource),
        ];
        for (name, value) in fields {
            if let Some(t) = value {
                self.template(&format!("{path}.{name}"), t);
            }
        }
        for (k, v) in &grant.extra {
            self.template(&format!("{path}.extra.{k}"), v);
        }
        match (in_auth, &grant.token_url) {
            (true, None) => self.error(
                path.into(),
                "`auth: { oauth2 }` needs `token_url`: where to obtain the token".into(),
            ),
            (false, Some(_)) => self.error(
                format!("{path}.token_url"),
                "a `token` request is sent to its own `url`: remove `token_url`".into(),
            ),
            _ => {}
        }
        if grant.fresh && !in_auth {
            self.error(
                format!("{path}.fresh"),
                "`fresh` is for `auth: { oauth2 }` (a `token` request never uses the cache)".into(),
            );
        }
        let needs: &[(&str, bool)] = match grant.grant {
            GrantType::Password => &[
                ("username", grant.username.is_some()),
                ("password", grant.password.is_some()),
            ],
            GrantType::RefreshToken => &[("refresh_token", grant.refresh_token.is_some())],
            GrantType::AuthorizationCode => &[("code", grant.code.is_some())],
            GrantType::ClientCredentials => &[],
        };
        for (field, present) in needs {
            if !present {
                self.error(
                    format!("{path}.grant"),
                    format!("the `{}` grant needs `{field}`", grant.grant.as_str()),
                );
            }
        }
        match (grant.client_auth, &grant.client_id, &grant.client_secret) {
            (Some(ClientAuth::None), _, Some(_)) => self.error(
                format!("{path}.client_auth"),
                "`client_auth: none` sends no secret: remove `client_secret`".into(),
            ),
            (Some(ClientAuth::ClientSecretBasic), id, secret)
                if id.is_none() || secret.is_none() =>
            {
                self.error(
                    format!("{path}.client_auth"),
                    "`client_secret_basic` needs `client_id` and `client_secret`".into(),
                )
            }
            (Some(ClientAuth::ClientSecretPost), None, _) => self.error(
                format!("{path}.client_auth"),
                "`client_secret_post` needs `client_id`".into(),
            ),
            (None, None, Some(_)) => self.error(
                format!("{path}.client_secret"),
                "a `client_secret` needs its `client_id`".into(),
            ),
            _ => {}
        }
    }

    fn authorize(&mut self, path: &str, authorize: &AuthorizeSpec) {
        self.template(&format!("{path}.client_id"), &authorize.client_id);
        self.template(&format!("{path}.redirect_uri"), &authorize.redirect_uri);
        for (name, value) in [
            ("response_type", &authorize.response_type),
            ("scope", &authorize.scope),
            ("state", &authorize.state),
        ] {
            if let Some(t) = value {
                self.template(&format!("{path}.{name}"), t);
            }
        }
        for (k, v) in &authorize.extra {
            self.template(&format!("{path}.extra.{k}"), v);
        }
        if let Some(pkce) = &authorize.pkce {
            if let Some(method) = &pkce.method
                && !["S256", "plain", "omit"].contains(&method.as_str())
            {
                self.error(
                    format!("{path}.pkce.method"),
                    format!("unknown PKCE method `{method}`: expected `S256`, `plain` or `omit`"),
                );
            }
            for (name, value) in [("verifier", &pkce.verifier), ("challenge", &pkce.challenge)] {
                if let Some(t) = value {
                    self.template(&format!("{path}.pkce.{name}"), t);
                }
            }
        }
    }

    /// Defines a name for later steps, refusing to shadow a target variable or secret.
    fn define(&mut self, path: &str, name: &str, secret: bool) {
        let shadows_var = self
            .names
            .variables
            .as_ref()
            .is_some_and(|v| v.contains(name));
        let shadows_secret = self
            .names
            .secrets
            .as_ref()
            .is_some_and(|v| v.contains(name));
        if shadows_var || shadows_secret {
            self.error(
                path.into(),
                format!(
                    "`{name}` would shadow the target's {} of that name",
                    if shadows_secret { "secret" } else { "variable" }
                ),
            );
        }
        self.captured.insert(name.to_owned());
        if secret {
            self.secret_captures.insert(name.to_owned());
        }
    }

    fn capture(&mut self, path: &str, name: &str, capture: &Capture) {
        if capture.jsonpath.is_some() && capture.header.is_some() {
            self.error(
                path.into(),
                "a capture takes its value from `jsonpath` or `header`, not both".into(),
            );
        }
        if capture.response {
            if capture.jsonpath.is_some() || capture.header.is_some() || capture.regex.is_some() {
                self.error(
                    path.into(),
                    "`response: true` keeps the whole response: it takes no `jsonpath`, `header` or `regex`".into(),
                );
            }
            if capture.secret {
                self.error(
                    path.into(),
                    "a whole response cannot be a secret: capture the secret value with `jsonpath` or `header` instead".into(),
                );
            }
            self.responses.insert(name.to_owned());
        } else if capture.jsonpath.is_none() && capture.header.is_none() && capture.regex.is_none()
        {
            self.error(
                path.into(),
                "a capture needs `jsonpath`, `header`, `regex` or `response: true`".into(),
            );
        }
        if !valid_name(name) {
            self.error(
                path.into(),
                format!("invalid capture name `{name}`: use letters, digits, `_` and `-`"),
            );
        }
        self.define(path, name, capture.secret);
    }

    fn json_checks(&mut self, path: &str, checks: &[JsonCheck]) {
        for check in checks {
            match check {
                JsonCheck::Equals(value) => self.json_templates(path, value),
                JsonCheck::Contains(t) => self.template(path, t),
                _ => {}
            }
        }
    }

    fn text_check(&mut self, path: &str, check: &TextCheck) {
        match check {
            TextCheck::Equals(t) | TextCheck::Contains(t) => self.template(path, t),
            TextCheck::Present | TextCheck::Absent | TextCheck::Matches(_) => {}
        }
    }

    fn json_templates(&mut self, path: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) => match Template::parse(s) {
                Ok(t) => self.template(path, &t),
                Err(e) => self.error(path.into(), e),
            },
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_templates(&format!("{path}[{i}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    self.json_templates(&format!("{path}.{k}"), v);
                }
            }
            _ => {}
        }
    }

    fn template(&mut self, path: &str, template: &Template) {
        if !self.complete {
            return;
        }
        let refs: Vec<VarRef> = template.refs().cloned().collect();
        for r in refs {
            match &r {
                VarRef::Var(name) => {
                    let Some(variables) = &self.names.variables else {
                        continue;
                    };
                    if !self.captured.contains(name) && !variables.contains(name) {
                        let hint = if self
                            .names
                            .secrets
                            .as_ref()
                            .is_some_and(|s| s.contains(name))
                        {
                            format!(". `{name}` is a secret: write `{{{{secret.{name}}}}}`")
                        } else {
                            let known = variables
                                .iter()
                                .chain(self.captured.iter())
                                .map(String::as_str);
                            nearest(name, known)
                                .map(|n| format!(". Did you mean `{n}`?"))
                                .unwrap_or_default()
                        };
                        self.error(
                            path.into(),
                            format!("undefined variable `{name}`: not a target variable nor captured by an earlier step{hint}"));
                    }
                }
                VarRef::Secret(name) => {
                    let Some(secrets) = &self.names.secrets else {
                        continue;
                    };
                    if !secrets.contains(name) && !self.secret_captures.contains(name) {
                        let known = secrets
                            .iter()
                            .chain(self.secret_captures.iter())
                            .map(String::as_str);
                        let hint = nearest(name, known)
                            .map(|n| format!(". Did you mean `{n}`?"))
                            .unwrap_or_default();
                        self.error(
                            path.into(),
                            format!("undefined secret `{name}`: the target declares no such secret for this provider and no earlier step captured it as secret{hint}"));
                    }
                }
            }
        }
    }
}

/// Returns true for a name a template can refer to.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Returns the candidate within edit distance 2 of `wrong`, if any.
pub fn nearest<'a>(wrong: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(wrong, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Parses a YAML document of any other input type (spec, target) into `T`.
pub fn parse_yaml<T: for<'de> Deserialize<'de>>(
    input: InputKind,
    file: &Path,
    text: &str,
) -> Result<T, Vec<LoadError>> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| vec![diagnostic::from_yaml_error(input, file, text, &e)])
}
