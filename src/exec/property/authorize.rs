//! A property case's own authorization request (`property.authorize`): run before the case's
//! token request, with the case's PKCE challenge and method (a `pkce` case's, or the S256
//! challenge of a `token_request` case's own verifier; none, and the request as written, for a
//! `token_request` case over an exchange without PKCE), on a copy of the scenario's variables
//! and a cookie jar of its own, so each case gets a code of its own (a code is single-use, and a
//! verifier is checked against the challenge of its own authorization request).
//!
//! The jar starts empty, as a new browser's: the flow then meets the login and consent forms
//! the scenario's own authorization step met, in that order. With the scenario's session a
//! server could skip the login but still ask consent, and the login's values would be filled
//! into the consent form.
//!
//! Where the case is judged depends on where the docs say it must be refused: a method the
//! server does not support is refused by the authorization request itself, with the
//! `invalid_request` error redirect (RFC 7636 §4.4.1), so such a case holds there; a case whose
//! challenge is well formed (or that sends none) must get a code (the server cannot tell it
//! from a valid one), and when it does not the case could not be tried: the step is an error,
//! never a pass.

use std::time::Duration;

use super::CaseRecord;
use crate::auth::oauth2::parse_redirect;
use crate::exec::login::FlowEnd;
use crate::exec::{Scope, StepResult, Transcript, record_response_head, redact_transcript};
use crate::net::{Clients, ConnectionUse, Exchange};
use crate::property::{AuthorizeChange, FreshCode, Judged};
use crate::scenario::Template;
use crate::scenario::model::{PkceSpec, RequestSpec};
use crate::secret::{Secret, redact_credential_text};

/// The name a case's challenge goes by in its authorization request's template.
const CASE_CHALLENGE: &str = "case_code_challenge";

/// What a case's authorization request sends of its own: the PKCE challenge and method (or
/// none: the request as written), and whether the case may be refused there.
pub(super) struct CaseChallenge {
    /// The `code_challenge` and the `code_challenge_method` (`None`: no method sent).
    pkce: Option<(String, Option<String>)>,
    /// See [`AuthorizeChange::refused_at_authorization`].
    refused_at_authorization: bool,
}

impl From<&AuthorizeChange> for CaseChallenge {
    fn from(change: &AuthorizeChange) -> Self {
        Self {
            pkce: Some((change.challenge.clone(), change.method.clone())),
            refused_at_authorization: change.refused_at_authorization,
        }
    }
}

impl From<&FreshCode> for CaseChallenge {
    fn from(fresh: &FreshCode) -> Self {
        Self {
            pkce: fresh.challenge().map(|c| (c, Some("S256".to_owned()))),
            refused_at_authorization: false,
        }
    }
}

/// What a case's authorization request came to.
pub(super) enum CaseAuthorization {
    /// A code for the case's token request, with the transcripts of the flow that got it.
    Code {
        /// The code (registered as a secret).
        code: String,
        /// The authorization request and the hops after it, redacted.
        transcripts: Vec<Transcript>,
    },
    /// The case was judged (or could not run) at the authorization request.
    Judged(Box<Judged<CaseRecord>>),
}

/// How the authorization endpoint answered, once its flow ended.
enum Answer {
    /// A redirect to the `redirect_uri` with a code.
    Code(String),
    /// A redirect to the `redirect_uri` with an error (`None`: neither code nor error).
    ErrorRedirect(Option<String>),
    /// An error status, no redirect.
    ErrorStatus(u16),
    /// Anything else: what it was.
    Other(String),
}

impl<'a> Scope<'a> {
    /// Copies the scope for one case's flow: variables and secret captures, an empty cookie jar
    /// when the scenario keeps one, none of the captured responses.
    fn fork(&self) -> Scope<'a> {
        Scope {
            runner: self.runner,
            secrets: self.secrets,
            provider: self.provider,
            vars: self.vars.clone(),
            secret_captures: self
                .secret_captures
                .iter()
                .map(|(k, s)| (k.clone(), Secret::new(s.name().clone(), s.expose())))
                .collect(),
            cookies: self.cookies.as_ref().map(|_| Default::default()),
            responses: Default::default(),
            waited: self.waited,
            attempt_deadline: self.attempt_deadline,
            clock: self.clock.clone(),
            trial_name: self.trial_name.clone(),
        }
    }

    /// Runs `spec` (an authorization request) with the case's challenge and method, follows
    /// its flow, and reads the code, or judges the case there (see the module doc).
    pub(super) async fn authorize_case(
        &self,
        label: &str,
        change: &CaseChallenge,
        spec: &RequestSpec,
        clients: &Clients,
        total: Duration,
    ) -> CaseAuthorization {
        let could_not_run = |why: String| {
            CaseAuthorization::Judged(Box::new(Judged::CouldNotRun(format!(
                "case `{label}`: {why}"
            ))))
        };
        let mut fork = self.fork();
        let mut spec = spec.clone();
        let Some(authorize) = spec.authorize.as_deref_mut() else {
            return could_not_run("`property.authorize` is not an authorization request".into());
        };
        if let Some((case_challenge, method)) = &change.pkce {
            // Registered already with the case's other generated values: deriving its forms
            // again under another name would cost each case as much again.
            if let Ok(name) = CASE_CHALLENGE.parse() {
                fork.secret_captures.insert(
                    CASE_CHALLENGE.to_owned(),
                    Secret::new(name, case_challenge.as_str()),
                );
            }
            let challenge = match Template::parse(&format!("{{{{secret.{CASE_CHALLENGE}}}}}")) {
                Ok(t) => t,
                Err(e) => return could_not_run(e),
            };
            authorize.pkce = Some(PkceSpec {
                method: Some(method.clone().unwrap_or_else(|| "omit".into())),
                // The verifier is never sent: the challenge stands in for it, so no other is
                // made.
                verifier: Some(challenge.clone()),
                challenge: Some(challenge),
            });
        }
        let prepared = match fork.build_request(clients.pooled(), &spec, None) {
            Ok(p) => p,
            Err(e) => return could_not_run(format!("the authorization request: {e}")),
        };
        let Some(state) = prepared.authorize else {
            return could_not_run("`property.authorize` is not an authorization request".into());
        };
        let sent_url = prepared.request.url().clone();
        let first: Exchange =
            crate::net::send_on(clients, prepared.request, total, ConnectionUse::Reuse).await;
        fork.store_cookies(&sent_url, &first);
        fork.register_redirect_code(&first);
        let mut transcript = prepared.transcript;
        transcript.outcome = first.outcome.class();
        transcript.outcome_detail = first.outcome.detail().map(|d| self.secrets.redact(d));
        transcript.elapsed = first.elapsed;
        transcript.record_connection(&first);
        if let Some(response) = &first.response {
            record_response_head(&mut transcript, response);
            transcript.response_body = Some(redact_credential_text(&response.text()));
        }
        redact_transcript(&mut transcript, self.secrets);
        let mut hops = StepResult::default();
        let authorize = spec.authorize.as_deref().expect("set above");
        let (last, end) = fork
            .follow_flow(authorize, &state, first, clients, total, &mut hops)
            .await;
        let mut transcripts = vec![transcript];
        transcripts.append(&mut hops.hops);
        match end {
            Some(FlowEnd::Failed(why) | FlowEnd::CouldNotRun(why)) => {
                return could_not_run(format!(
                    "its authorization request's flow did not finish: {}",
                    self.secrets.redact(&why)
                ));
            }
            None => {}
        }
        let answer = match &last.response {
            None => {
                return could_not_run(format!(
                    "its authorization request got no response: {}",
                    self.secrets.redact(&last.outcome.to_string())
                ));
            }
            Some(response) => {
                let location = response.header_values("location").first().copied();
                match (response.status, location, &state.base) {
                    (300..=399, Some(location), Some(base)) => {
                        match parse_redirect(location, base, state.redirect_uri()) {
                            Ok(redirect) => match redirect.code {
                                Some(code) => Answer::Code(code),
                                None => Answer::ErrorRedirect(redirect.error),
                            },
                            Err(e) => Answer::Other(e),
                        }
                    }
                    (400..=499, _, _) => Answer::ErrorStatus(response.status),
                    (status, _, _) => Answer::Other(format!("HTTP {status} without a redirect")),
                }
            }
        };
        let record = |failed: Vec<String>, transcripts: Vec<Transcript>| {
            let mut transcripts = transcripts.into_iter();
            CaseRecord {
                failed,
                transcript: transcripts.next().unwrap_or_default(),
                authorization: transcripts.collect(),
            }
        };
        match answer {
            Answer::Code(code) => {
                self.secrets.register_value("code", &code);
                CaseAuthorization::Code { code, transcripts }
            }
            Answer::ErrorRedirect(Some(error))
                if change.refused_at_authorization && error == "invalid_request" =>
            {
                CaseAuthorization::Judged(Box::new(Judged::Held(record(Vec::new(), transcripts))))
            }
            refusal if change.refused_at_authorization => {
                let found = match refusal {
                    Answer::ErrorRedirect(Some(error)) => format!("an error redirect `{error}`"),
                    Answer::ErrorRedirect(None) => "a redirect with neither code nor error".into(),
                    Answer::ErrorStatus(status) => format!("HTTP {status} without a redirect"),
                    Answer::Other(what) => what,
                    Answer::Code(_) => unreachable!("matched above"),
                };
                let failed = format!(
                    "the authorization request refuses the method with the `invalid_request` error redirect (RFC 7636 §4.4.1): got {}",
                    self.secrets.redact(&found)
                );
                CaseAuthorization::Judged(Box::new(Judged::Failed(record(
                    vec![failed],
                    transcripts,
                ))))
            }
            other => {
                let found = match other {
                    Answer::ErrorRedirect(Some(error)) => format!("an error redirect `{error}`"),
                    Answer::ErrorRedirect(None) => "a redirect with neither code nor error".into(),
                    Answer::ErrorStatus(status) => format!("HTTP {status}"),
                    Answer::Other(what) => what,
                    Answer::Code(_) => unreachable!("matched above"),
                };
                let what = if change.pkce.is_some() {
                    "its authorization request, with a well-formed S256 challenge, got no code"
                } else {
                    "its authorization request got no code"
                };
                could_not_run(format!(
                    "{what} ({}), so the case could not be tried",
                    self.secrets.redact(&found)
                ))
            }
        }
    }
}
