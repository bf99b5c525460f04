//! Runs a `property` step: renders its `from` values, draws the family's cases from the step's
//! seed, applies each to the step's request, judges it with [`check::check`] against the step's
//! `expect`, and records the counts, the first failing case and the minimal one (never every
//! exchange).

mod authorize;

use std::time::Duration;

use super::check;
use super::result::{LeftOutBy, LeftOutKind};
use super::{
    PropertyRecord, Scope, StepResult, Transcript, Verdict, record_response_head, redact_header,
};
use crate::net::{ConnectionUse, Exchange};
use crate::property::{
    self, Case, Change, FailedCase, FormFieldChange, Judged, Pace, Polarity, Seed,
};
use crate::scenario::model::{
    Expectation, ExpectedOutcome, PropertyFamily, PropertySpec, RequestSpec, Step,
};
use crate::secret::{CaseSecrets, Redact as _, redact_credential_text};

/// The name generated credentials are redacted as.
const GENERATED: &str = "generated_credentials";

/// The shortest edited code registered as a secret on its own: a code truncated to a few
/// characters would blank ordinary words in every report (transcripts hide it by field name).
const MIN_CODE_FORM: usize = 12;

/// How each case is sent: its total timeout, and whether it may reuse a connection.
#[derive(Clone, Copy)]
pub(super) struct Sending {
    total: Duration,
    within: Option<Duration>,
    connection: ConnectionUse,
}

/// What reports keep of a failing case.
#[derive(Debug)]
pub(super) struct CaseRecord {
    failed: Vec<String>,
    transcript: Transcript,
    /// The case's own authorization request and its hops, when it ran one (after
    /// `transcript` when that is the token request).
    authorization: Vec<Transcript>,
}

/// A case's own authorization request (`property.authorize`) and the clients it is sent with.
struct CaseFlow<'a> {
    request: &'a RequestSpec,
    clients: crate::net::Clients,
    /// The step's code and verifier, which a case's own stand in for.
    step_grant: Option<property::StepGrant>,
}

/// Returns the kinds `property` leaves out: the scenario's `except`, then the target's for its
/// family (a kind both leave out is recorded with both reasons, and drawn from by neither).
fn left_out(property: &PropertySpec, target: &crate::target::TargetProperty) -> Vec<LeftOutKind> {
    let scenario = property.except.iter().map(|e| LeftOutKind {
        kind: e.kind.clone(),
        by: LeftOutBy::Scenario,
        because: e.because.clone(),
    });
    let target = target
        .excluded(property.family)
        .map(|(kind, because)| LeftOutKind {
            kind: kind.to_owned(),
            by: LeftOutBy::Target,
            because: because.to_owned(),
        });
    scenario.chain(target).collect()
}

impl Scope<'_> {
    /// Runs a `property` step (see the module doc); `None` when every case held.
    pub(super) async fn property_step(
        &mut self,
        index: usize,
        step: &Step,
        property: &PropertySpec,
        spec: &RequestSpec,
        out: &mut StepResult,
    ) -> Option<Verdict> {
        let error = |message: String| {
            Some(Verdict::Error {
                step: Some(index),
                message,
            })
        };
        let mut from = Vec::new();
        for (key, template) in &property.from {
            match self.render(template) {
                Ok(value) => from.push((key.clone(), value)),
                Err(e) => return error(format!("`property.from.{key}`: {e}")),
            }
        }
        let limits = &self.runner.target.limits;
        let cases = limits.property_cases(property.cases);
        let seed = Seed::derive(self.runner.seed, &self.trial_name, index);
        let pace = limits.rate.map(|rate| Pace::new(rate.0));
        let expect = step.expect.clone().unwrap_or_default();
        // A case expecting a transport outcome waits `within` (as a request step does) on a
        // connection of its own: what a reused one does says nothing of how the server treats
        // a new one from the case's source.
        let within = expect.within.map(|d| d.0);
        let total = match (expect.outcome, within) {
            (ExpectedOutcome::Timeout, Some(w)) => w,
            _ => spec.timeout.map_or(limits.request_timeout.0, |t| t.0),
        };
        let sending = Sending {
            total,
            within,
            connection: if expect.outcome == ExpectedOutcome::Response {
                ConnectionUse::Reuse
            } else {
                ConnectionUse::Fresh
            },
        };
        let (source, source_text) = match self.source_addr(spec) {
            Ok(s) => s,
            Err(e) => return error(e),
        };
        let clients = match self.runner.clients.client(&source, total).await {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        // A token from `auth: { oauth2 }` is obtained first, as for any request step: the
        // `bearer` family varies it where the request carries it.
        let bearer = match &spec.auth {
            Some(crate::scenario::model::AuthSpec::Oauth2(grant)) => {
                match self.obtain_token(index, grant, &clients, total, out).await {
                    Ok(token) => Some(token),
                    Err(verdict) => return Some(verdict),
                }
            }
            _ => None,
        };
        let prepared = match self.build_request(clients.pooled(), spec, bearer.as_deref()) {
            Ok(r) => r,
            Err(e) => return error(e),
        };
        let mut base = property::BaseRequest::of(&prepared.request);
        base.json_credentials = self.json_credential_members(spec);
        let left_out = left_out(property, &self.runner.target.property);
        let except: Vec<&str> = left_out.iter().map(|l| l.kind.as_str()).collect();
        let mut strategy =
            match property::family_strategy_except(property.family, &from, &base, &except) {
                Ok(strategy) => strategy,
                Err(e) => return error(self.secrets.redact(&e)),
            };
        // A `token_request` step naming its authorization request gives each case a code of its
        // own: a server may consume a code on any attempt.
        if property.family == PropertyFamily::TokenRequest
            && let Some(request) = &property.authorize
        {
            let step_grant = property::StepGrant::of(&base);
            let writes_challenge = request.authorize.as_ref().is_some_and(|a| a.pkce.is_some());
            if writes_challenge && step_grant.as_ref().is_some_and(|g| g.verifier.is_none()) {
                return error(
                    "`property.authorize` sends a PKCE challenge, but the step's token request sends no `code_verifier` to prove it: remove its `pkce` or add the verifier".into(),
                );
            }
            strategy = match property::with_fresh_codes(strategy, &base) {
                Ok(strategy) => strategy,
                Err(e) => return error(e),
            };
        }
        let flow = match &property.authorize {
            Some(request) => {
                let clients = match self.source_addr(request) {
                    Ok((source, _)) => self.runner.clients.client(&source, total).await,
                    Err(e) => Err(e),
                };
                match clients {
                    Ok(clients) => Some(CaseFlow {
                        request,
                        clients,
                        step_grant: property::StepGrant::of(&base),
                    }),
                    Err(e) => return error(e),
                }
            }
            None => None,
        };
        let mut base_transcript = prepared.transcript;
        base_transcript.source = source_text;
        let scope = &*self;
        let judge = |case: Case| {
            let (request, transcript, expect, clients, flow) = (
                &prepared.request,
                &base_transcript,
                &expect,
                &clients,
                flow.as_ref(),
            );
            async move {
                scope
                    .judge_case(case, request, transcript, expect, clients, flow, sending)
                    .await
            }
        };
        let outcome = property::run_cases(
            &strategy,
            seed,
            cases,
            limits.concurrency(self.runner.target.is_virtual()),
            pace.as_ref(),
            judge,
        )
        .await;
        let polarity = match property::polarity(property.family) {
            Polarity::Refused => "refused",
            Polarity::Accepted => "accepted",
        };
        let run_seed = property::format_run_seed(self.runner.seed);
        let mut record = PropertyRecord {
            family: property.family.as_str().to_owned(),
            seed: run_seed.clone(),
            cases: outcome.sent,
            held: outcome.held,
            shrink_steps: outcome.shrink_steps,
            replay: None,
            left_out,
        };
        out.passed.push(format!(
            "property `{}` (each case {polarity}): {} of {} cases held; seed {run_seed} (step seed {}), {} shrink steps{}",
            property.family.as_str(),
            outcome.held,
            outcome.sent,
            seed.short(),
            outcome.shrink_steps,
            record.describe_left_out()
        ));
        let held_transcript = outcome.first_held.map(|held| held.transcript);
        if let Some(e) = outcome.error {
            out.property = Some(record);
            out.transcript = held_transcript.or(Some(base_transcript));
            return error(self.secrets.redact(&e));
        }
        let Some(first) = outcome.first_failure else {
            out.property = Some(record);
            out.transcript = held_transcript.or(Some(base_transcript));
            return None;
        };
        let replay = format!(
            "replay: authconform run --target {} --filter '{}' --seed {run_seed}",
            self.runner.target.file.display(),
            self.trial_name
        );
        record.replay = Some(self.secrets.redact(&replay["replay: ".len()..]));
        out.property = Some(record);
        let describe = |case: &FailedCase<CaseRecord>, what: String| {
            let sent = case
                .record
                .transcript
                .request_headers
                .iter()
                .find(|(n, _)| n == "authorization")
                .map(|(_, v)| format!(" (sent `Authorization: {v}`)"))
                .unwrap_or_default();
            format!(
                "{what} `{}`{sent}: {}",
                case.label,
                case.record.failed.join("; ")
            )
        };
        out.failed.push(describe(
            &first,
            format!("case {} of {} failed:", first.number, outcome.sent),
        ));
        match outcome.minimal {
            Some(minimal) => {
                out.failed.push(describe(
                    &minimal,
                    format!(
                        "minimal failing case after {} shrink steps:",
                        outcome.shrink_steps
                    ),
                ));
                out.auxiliary.extend(first.record.authorization);
                out.auxiliary.push(first.record.transcript);
                out.auxiliary.extend(minimal.record.authorization);
                out.transcript = Some(minimal.record.transcript);
            }
            None => {
                out.failed
                    .push("minimal failing case: the first one (no smaller case failed)".into());
                out.auxiliary.extend(first.record.authorization);
                out.transcript = Some(first.record.transcript);
            }
        }
        out.failed.push(replay);
        out.passed = out.passed.iter().map(|t| self.secrets.redact(t)).collect();
        out.failed = out.failed.iter().map(|t| self.secrets.redact(t)).collect();
        Some(self.failed(index, out))
    }

    /// Registers a case's credentials as secrets, runs its own authorization request when it
    /// has one, sends it and judges it against `expect`.
    #[allow(clippy::too_many_arguments)]
    async fn judge_case(
        &self,
        case: Case,
        base: &reqwest::Request,
        base_transcript: &Transcript,
        expect: &Expectation,
        clients: &crate::net::Clients,
        flow: Option<&CaseFlow<'_>>,
        sending: Sending,
    ) -> Judged<CaseRecord> {
        let total = sending.total;
        for form in case.change.secret_forms() {
            self.secrets.register_value(GENERATED, &form);
        }
        // What is too short to register for the run is still hidden where a server would echo
        // it: this case's own exchange and failed checks.
        let case_secrets =
            CaseSecrets::new(self.secrets, GENERATED, &case.change.short_secret_forms());
        let mut authorization = Vec::new();
        let mut change = case.change.clone();
        let fresh = case.change.fresh_code();
        let challenge: Option<authorize::CaseChallenge> = case
            .change
            .authorize()
            .map(Into::into)
            .or_else(|| fresh.map(Into::into));
        let mut own_code = None;
        if let Some(challenge) = challenge {
            let Some(flow) = flow else {
                return Judged::CouldNotRun(format!(
                    "case `{}` needs the step's `property.authorize`",
                    case.label
                ));
            };
            match self
                .authorize_case(&case.label, &challenge, flow.request, &flow.clients, total)
                .await
            {
                authorize::CaseAuthorization::Code { code, transcripts } => {
                    authorization = transcripts;
                    if case_secrets.holds_short_values() {
                        for transcript in &mut authorization {
                            super::redact_transcript(transcript, &case_secrets);
                        }
                    }
                    if fresh.is_some() {
                        own_code = Some(code);
                    } else {
                        change = Change::All(vec![
                            change,
                            Change::FormField(FormFieldChange {
                                name: "code".into(),
                                value: Some(code),
                                secret: true,
                            }),
                        ]);
                    }
                }
                authorize::CaseAuthorization::Judged(judged) => {
                    return redact_judged(*judged, &case_secrets);
                }
            }
        }
        let Some(mut request) = base.try_clone() else {
            return Judged::CouldNotRun("the step's request body cannot be sent again".into());
        };
        let mut transcript = base_transcript.clone();
        if let Err(e) = property::apply(&change, &mut request) {
            return Judged::CouldNotRun(format!("case `{}`: {e}", case.label));
        }
        show_change(&change, &request, &mut transcript);
        if let (Some(code), Some(fresh), Some(step)) =
            (own_code, fresh, flow.and_then(|f| f.step_grant.as_ref()))
        {
            self.send_own_code(&mut request, &mut transcript, step, &code, fresh);
        }
        let source_clients;
        let clients = match case.change.source() {
            Some(ip) => {
                match self
                    .runner
                    .clients
                    .client(&crate::net::SourceAddr::Bind(ip), total)
                    .await
                {
                    Ok(c) => {
                        source_clients = c;
                        transcript.source = Some(ip.to_string());
                        &source_clients
                    }
                    Err(e) => {
                        return Judged::CouldNotRun(format!(
                            "case `{}`: cannot send from {ip}: {e}",
                            case.label
                        ));
                    }
                }
            }
            None => clients,
        };
        let exchange: Exchange =
            crate::net::send_on(clients, request, total, sending.connection).await;
        // A lenient server's token must not reach a report either.
        self.register_token_response(&exchange);
        let report = check::check(expect, &exchange, sending.within, self);
        if let Some(e) = report.error {
            return Judged::CouldNotRun(format!(
                "case `{}`: {}",
                case.label,
                case_secrets.redact(&e)
            ));
        }
        transcript.outcome = exchange.outcome.class();
        transcript.outcome_detail = exchange.outcome.detail().map(|d| self.secrets.redact(d));
        transcript.elapsed = exchange.elapsed;
        transcript.record_connection(&exchange);
        if let Some(response) = &exchange.response {
            record_response_head(&mut transcript, response);
            transcript.response_body = Some(redact_credential_text(&response.text()));
        }
        super::redact_transcript(&mut transcript, &case_secrets);
        let record = CaseRecord {
            failed: report
                .failed
                .iter()
                .map(|f| case_secrets.redact(f))
                .collect(),
            transcript,
            authorization,
        };
        if report.failed.is_empty() {
            Judged::Held(record)
        } else {
            Judged::Failed(record)
        }
    }
}

/// Returns `judged` with its record's transcripts and failed checks redacted through the case's
/// secrets when it holds short values (its scope's redaction is already done).
fn redact_judged(judged: Judged<CaseRecord>, secrets: &CaseSecrets<'_>) -> Judged<CaseRecord> {
    if !secrets.holds_short_values() {
        return judged;
    }
    let redact = |mut record: CaseRecord| {
        record.failed = record.failed.iter().map(|f| secrets.redact(f)).collect();
        super::redact_transcript(&mut record.transcript, secrets);
        for transcript in &mut record.authorization {
            super::redact_transcript(transcript, secrets);
        }
        record
    };
    match judged {
        Judged::Held(record) => Judged::Held(redact(record)),
        Judged::Failed(record) => Judged::Failed(redact(record)),
        could_not_run @ Judged::CouldNotRun(_) => could_not_run,
    }
}

impl Scope<'_> {
    /// Puts a case's own code and verifier in place of the step's in its token request (see
    /// [`property::stand_in`]), registers the codes it sends as secrets, and shows the form as
    /// sent with its credential fields hidden whatever their length.
    fn send_own_code(
        &self,
        request: &mut reqwest::Request,
        transcript: &mut Transcript,
        step: &property::StepGrant,
        code: &str,
        fresh: &property::FreshCode,
    ) {
        let Some(mut fields) = property::form_fields(request) else {
            return;
        };
        for sent in property::stand_in(&mut fields, step, code, fresh.verifier.as_deref()) {
            if sent.len() >= MIN_CODE_FORM {
                self.secrets.register_value(GENERATED, &sent);
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&fields)
            .finish();
        request.headers_mut().remove(http::header::CONTENT_LENGTH);
        *request.body_mut() = Some(body.into());
        let shown = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(name, value)| {
                let hidden = matches!(name.as_str(), "code" | "code_verifier");
                (
                    name.as_str(),
                    if hidden { "[redacted]" } else { value.as_str() },
                )
            }))
            .finish();
        transcript.request_body = Some(redact_credential_text(&shown));
    }
}

/// Shows what a case changed in its transcript: the headers it set or removed (credentials
/// replaced as in any transcript), the URL with its query and the form body it sent; the
/// registered secrets are redacted from all of them afterwards.
fn show_change(change: &Change, request: &reqwest::Request, transcript: &mut Transcript) {
    match change {
        Change::Authorization(bytes) => set_shown_header(
            transcript,
            "authorization",
            Some(redact_header(
                "authorization",
                &String::from_utf8_lossy(bytes),
            )),
        ),
        Change::Header {
            name,
            value,
            secret,
        } => set_shown_header(
            transcript,
            name,
            value.as_ref().map(|v| {
                if *secret {
                    "[redacted]".to_owned()
                } else {
                    redact_header(name, &String::from_utf8_lossy(v))
                }
            }),
        ),
        Change::Query { .. } => transcript.url = request.url().to_string(),
        Change::Form(fields) => {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for field in fields {
                let value = if field.secret {
                    "[redacted]"
                } else {
                    &field.value
                };
                serializer.append_pair(&field.name, value);
            }
            transcript.request_body = Some(redact_credential_text(&serializer.finish()));
        }
        Change::FormField(_) => {
            // The form as sent: its credential fields are replaced by name, and the registered
            // secrets (every generated value is one) by value afterwards.
            let body = property::form_fields(request)
                .map(|fields| {
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(fields)
                        .finish()
                })
                .unwrap_or_default();
            transcript.request_body = Some(redact_credential_text(&body));
        }
        Change::Source(_) | Change::Authorize(_) | Change::FreshCode(_) => {}
        Change::All(changes) => {
            for change in changes {
                show_change(change, request, transcript);
            }
        }
        Change::Json(body) => {
            let mut shown = body.value.clone();
            if let serde_json::Value::Object(members) = &mut shown {
                for member in &body.credential_members {
                    if let Some(value) = members.get_mut(member) {
                        redact_strings(value);
                    }
                }
            }
            transcript.request_body = Some(redact_credential_text(&shown.to_string()));
        }
    }
}

/// Replaces every string in `value` by `[redacted]`, keeping its JSON type visible.
fn redact_strings(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = "[redacted]".to_owned(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_strings),
        serde_json::Value::Object(members) => members.values_mut().for_each(redact_strings),
        _ => {}
    }
}

impl Scope<'_> {
    /// Returns the top-level members of the request's JSON body whose templates render a secret
    /// (a target secret or a secret capture): the credentials the body carries.
    fn json_credential_members(&self, spec: &RequestSpec) -> Vec<String> {
        let Some(crate::scenario::model::Body::Json(serde_json::Value::Object(members))) =
            &spec.body
        else {
            return Vec::new();
        };
        members
            .iter()
            .filter(|(_, value)| {
                value
                    .as_str()
                    .and_then(|text| crate::scenario::Template::parse(text).ok())
                    .is_some_and(|template| template.refs().any(|r| self.is_secret_ref(r)))
            })
            .map(|(member, _)| member.clone())
            .collect()
    }
}

/// Replaces (or, with `None`, removes) a header in a transcript's request headers.
fn set_shown_header(transcript: &mut Transcript, name: &str, value: Option<String>) {
    transcript
        .request_headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    if let Some(value) = value {
        transcript.request_headers.push((name.to_owned(), value));
    }
}
