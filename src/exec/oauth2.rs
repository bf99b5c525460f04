//! The executor's OAuth2 steps: token requests (`request.token`), tokens obtained through the
//! run's cache (`auth: { oauth2 }`), and the headless authorization-code flow
//! (`request.authorize`): the redirect to the `redirect_uri` is not followed; `code` and `state`
//! are read from `Location`, `state` is checked, and the PKCE verifier is kept for the token
//! request. The hops before it (login and consent pages) are `login.rs`'s.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

use super::check::CheckReport;
use super::{Scope, StepResult, Transcript, Verdict};
use crate::auth::oauth2::{
    CacheKey, CacheLookup, ClientAuthMethod, TokenParams, TokenRequestParts, TokenResponse,
    parse_redirect, parse_token_response, token_request_parts,
};
use crate::auth::pkce::{self, PkceMethod};
use crate::net::{Exchange, Outcome};
use crate::scenario::model::{
    AuthorizeCaptureNames, AuthorizeSpec, ClientAuth, GrantType, OAuth2Spec,
};
use crate::secret::{Secret, redact_credential_text};

/// Length of generated PKCE verifiers (RFC 7636 allows 43 to 128).
const VERIFIER_LENGTH: usize = 64;

/// What an authorization request sent, to check its redirect against.
pub(super) struct AuthorizeState {
    /// Query parameters: (name, value sent, value shown).
    pub query: Vec<(String, String, String)>,
    state: String,
    redirect_uri: String,
    verifier: Option<String>,
    challenge: Option<String>,
    /// The authorization endpoint, to resolve a relative `Location`.
    pub base: Option<url::Url>,
    /// `authorize.capture_as`: the names the outputs are captured under.
    capture_as: Option<AuthorizeCaptureNames>,
}

impl AuthorizeState {
    /// Returns the name `output` is captured under (`authorize.capture_as`), `None` when left
    /// out.
    fn output_name<'a>(&'a self, output: &'a str) -> Option<&'a str> {
        AuthorizeCaptureNames::name(self.capture_as.as_ref(), output)
    }

    /// Returns the redirect URI sent.
    pub(super) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

impl Scope<'_> {
    fn render_opt(&self, t: &Option<crate::scenario::Template>) -> Result<Option<String>, String> {
        t.as_ref().map(|t| self.render(t)).transpose()
    }

    /// Renders a grant into the token request's inputs.
    fn token_params(&self, grant: &OAuth2Spec) -> Result<TokenParams, String> {
        let client_id = self.render_opt(&grant.client_id)?;
        let client_secret = self.render_opt(&grant.client_secret)?;
        let client_auth = match grant.client_auth {
            Some(ClientAuth::ClientSecretBasic) => ClientAuthMethod::ClientSecretBasic,
            Some(ClientAuth::ClientSecretPost) => ClientAuthMethod::ClientSecretPost,
            Some(ClientAuth::None) => ClientAuthMethod::None,
            None if client_secret.is_some() => ClientAuthMethod::ClientSecretBasic,
            None => ClientAuthMethod::None,
        };
        let mut fields = Vec::new();
        let named = [
            ("username", &grant.username),
            ("password", &grant.password),
            ("refresh_token", &grant.refresh_token),
            ("code", &grant.code),
            ("redirect_uri", &grant.redirect_uri),
            ("code_verifier", &grant.code_verifier),
            ("scope", &grant.scope),
            ("resource", &grant.resource),
        ];
        for (name, value) in named {
            if let Some(value) = self.render_opt(value)? {
                fields.push((name.to_owned(), value));
            }
        }
        for (name, value) in &grant.extra {
            fields.push((name.clone(), self.render(value)?));
        }
        Ok(TokenParams {
            grant_type: grant.grant.as_str().to_owned(),
            client_id,
            client_secret,
            client_auth,
            fields,
        })
    }

    /// Builds a token request's form and client authentication, registering the derived
    /// credentials (the form-encoded id:secret pair Basic carries) for redaction.
    pub(super) fn token_request_parts(
        &self,
        grant: &OAuth2Spec,
    ) -> Result<TokenRequestParts, String> {
        let params = self.token_params(grant)?;
        self.register_client_pair(&params);
        token_request_parts(&params)
    }

    fn register_client_pair(&self, params: &TokenParams) {
        if let (Some(id), Some(secret)) = (&params.client_id, &params.client_secret) {
            let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            let secret: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            self.secrets
                .register_value("client_credentials", &format!("{id}:{secret}"));
        }
    }

    /// Registers the tokens of a successful token response as secrets, whether or not the
    /// scenario captures them, so no sink can show them.
    pub(super) fn register_token_response(&self, exchange: &Exchange) {
        let Some(response) = &exchange.response else {
            return;
        };
        if !(200..300).contains(&response.status) {
            return;
        }
        if let Ok(token) = parse_token_response(&response.body) {
            self.register_tokens(&token);
        }
    }

    fn register_tokens(&self, token: &TokenResponse) {
        let registry = &self.secrets;
        let tokens = [
            ("access_token", Some(&token.access_token)),
            ("refresh_token", token.refresh_token.as_ref()),
            ("id_token", token.id_token.as_ref()),
        ];
        for (name, value) in tokens {
            if let Some(value) = value {
                registry.register_value(name, value);
            }
        }
    }

    /// Returns a token for `auth: { oauth2 }`: from the cache when fresh, refreshed when near
    /// expiry, otherwise obtained with the grant. A refusal by the provider fails the step.
    pub(super) async fn obtain_token(
        &mut self,
        index: usize,
        grant: &OAuth2Spec,
        clients: &crate::net::Clients,
        timeout: std::time::Duration,
        out: &mut StepResult,
    ) -> Result<String, Verdict> {
        let error = |message: String| Verdict::Error {
            step: Some(index),
            message,
        };
        let token_url = match &grant.token_url {
            Some(t) => t
                .render_url_with_paths(|r| self.lookup(r), |r| self.is_path(r))
                .map_err(error)?,
            None => return Err(error("`auth: { oauth2 }` needs `token_url`".into())),
        };
        let params = self.token_params(grant).map_err(error)?;
        self.register_client_pair(&params);
        let key = CacheKey {
            token_url: token_url.clone(),
            client_id: params.client_id.clone(),
            grant_type: params.grant_type.clone(),
            username: field(&params, "username"),
            scope: field(&params, "scope"),
            resource: field(&params, "resource"),
            credentials: credentials_digest(&params),
        };
        let now = self.clock.now();
        let cached = if grant.fresh {
            CacheLookup::Missing
        } else {
            self.runner.tokens.get(&key, now)
        };
        let shown_url = grant
            .token_url
            .as_ref()
            .map_or_else(String::new, |t| self.shown(t));
        match cached {
            CacheLookup::Fresh(token) => {
                // Obtained by another scenario, maybe: this one's output is redacted through
                // its own scope, which must know the token it sends.
                self.secrets.register_value("access_token", &token);
                return Ok(token);
            }
            CacheLookup::Refresh(refresh_token) => {
                self.secrets.register_value("refresh_token", &refresh_token);
                let refresh = TokenParams {
                    grant_type: GrantType::RefreshToken.as_str().to_owned(),
                    fields: vec![("refresh_token".to_owned(), refresh_token.clone())],
                    ..params.clone()
                };
                let (result, transcript) = self
                    .send_token_request(&token_url, &shown_url, &refresh, clients, timeout)
                    .await;
                out.auxiliary.push(transcript);
                match result {
                    Ok(mut token) => {
                        // Without rotation the old refresh token stays valid (RFC 6749 §6).
                        token.refresh_token.get_or_insert(refresh_token);
                        self.runner.tokens.put(key, &token, now);
                        return Ok(token.access_token);
                    }
                    // A refused refresh (rotated elsewhere, expired): start over with the grant.
                    Err(_) => self.runner.tokens.remove(&key),
                }
            }
            CacheLookup::Missing => {}
        }
        let (result, transcript) = self
            .send_token_request(&token_url, &shown_url, &params, clients, timeout)
            .await;
        out.auxiliary.push(transcript);
        match result {
            Ok(token) => {
                if !grant.fresh {
                    self.runner.tokens.put(key, &token, now);
                }
                Ok(token.access_token)
            }
            Err(TokenFailure::CouldNotRun(message)) => Err(error(message)),
            Err(TokenFailure::Refused(message)) => Err(Verdict::Fail {
                step: index,
                message: self.secrets.redact(&format!(
                    "step {} ({}): obtaining the token from {shown_url} failed: {message}",
                    index + 1,
                    out.name
                )),
            }),
        }
    }

    /// Sends one token request and parses its answer.
    async fn send_token_request(
        &self,
        token_url: &str,
        shown_url: &str,
        params: &TokenParams,
        clients: &crate::net::Clients,
        timeout: std::time::Duration,
    ) -> (Result<TokenResponse, TokenFailure>, Transcript) {
        let mut transcript = Transcript {
            method: "POST".into(),
            url: shown_url.to_owned(),
            ..Transcript::default()
        };
        let parts = match token_request_parts(params) {
            Ok(parts) => parts,
            Err(e) => return (Err(TokenFailure::CouldNotRun(e)), transcript),
        };
        // A temporary: the serializer is not `Send`, and the scenario's future must be.
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(parts.form.iter())
            .finish();
        let mut builder = clients
            .pooled()
            .post(token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.clone());
        transcript.request_headers = vec![
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("accept".into(), "application/json".into()),
        ];
        if let Some(authorization) = &parts.authorization {
            builder = builder.header("authorization", authorization);
            transcript
                .request_headers
                .push(("authorization".into(), "Basic [redacted]".into()));
        }
        transcript.request_body = Some(redact_credential_text(&body));
        let request = match builder.build() {
            Ok(r) => r,
            Err(e) => {
                let message = format!("cannot build the token request: {}", e.without_url());
                super::redact_transcript(&mut transcript, self.secrets);
                return (Err(TokenFailure::CouldNotRun(message)), transcript);
            }
        };
        // A token fetched on the way to a step's own request: a pooled connection the server
        // closed since is no evidence about it, so such a request goes once more on a fresh one.
        let exchange =
            crate::net::send_on(clients, request, timeout, crate::net::ConnectionUse::Reuse).await;
        transcript.outcome = exchange.outcome.class();
        transcript.outcome_detail = exchange.outcome.detail().map(str::to_owned);
        transcript.resent = exchange.resent.clone();
        transcript.elapsed = exchange.elapsed;
        transcript.record_connection(&exchange);
        let result = match (&exchange.outcome, &exchange.response) {
            (Outcome::Other(detail), _) => Err(TokenFailure::CouldNotRun(format!(
                "could not send the token request: {detail}"
            ))),
            (_, Some(response)) => {
                super::record_response_head(&mut transcript, response);
                transcript.response_body = Some(redact_credential_text(&response.text()));
                if (200..300).contains(&response.status) {
                    parse_token_response(&response.body)
                        .inspect(|token| self.register_tokens(token))
                        .map_err(TokenFailure::Refused)
                } else {
                    let error = serde_json::from_slice::<serde_json::Value>(&response.body)
                        .ok()
                        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default();
                    Err(TokenFailure::Refused(format!(
                        "HTTP {}{error}",
                        response.status
                    )))
                }
            }
            (outcome, None) => Err(TokenFailure::Refused(outcome.to_string())),
        };
        let registry = &self.secrets;
        super::redact_transcript(&mut transcript, registry);
        (result, transcript)
    }

    /// Registers the `code` of an authorization response's `Location` as a secret.
    pub(super) fn register_redirect_code(&self, exchange: &Exchange) {
        let Some(response) = &exchange.response else {
            return;
        };
        for location in response.header_values("location") {
            let query = location.split_once('?').map_or("", |(_, q)| q);
            let query = query.split_once('#').map_or(query, |(q, _)| q);
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                if key == "code" {
                    self.secrets.register_value("code", &value);
                }
            }
        }
    }

    /// Builds an authorization request's query: generated `state`, PKCE verifier and challenge.
    pub(super) fn prepare_authorize(&self, spec: &AuthorizeSpec) -> Result<AuthorizeState, String> {
        let mut query = Vec::new();
        let mut push = |name: &str, value: String, shown: String| {
            query.push((name.to_owned(), value, shown));
        };
        let response_type = self
            .render_opt(&spec.response_type)?
            .unwrap_or_else(|| "code".into());
        push("response_type", response_type.clone(), response_type);
        let client_id = self.render(&spec.client_id)?;
        push("client_id", client_id, self.shown(&spec.client_id));
        let redirect_uri = self.render(&spec.redirect_uri)?;
        push(
            "redirect_uri",
            redirect_uri.clone(),
            self.shown(&spec.redirect_uri),
        );
        if let Some(scope) = &spec.scope {
            push("scope", self.render(scope)?, self.shown(scope));
        }
        let state = match &spec.state {
            Some(t) => self.render(t)?,
            None => random_state(),
        };
        push("state", state.clone(), state.clone());
        let mut verifier = None;
        let mut challenge = None;
        if let Some(pkce) = &spec.pkce {
            let method = pkce.method.as_deref().unwrap_or("S256");
            let v = match &pkce.verifier {
                Some(t) => self.render(t)?,
                None => pkce::generate_verifier(VERIFIER_LENGTH).map_err(|e| e.to_string())?,
            };
            let computed = match method {
                "plain" => pkce::challenge(&v, PkceMethod::Plain),
                _ => pkce::challenge(&v, PkceMethod::S256),
            };
            let c = match &pkce.challenge {
                Some(t) => self.render(t)?,
                None => computed,
            };
            // With `plain` the challenge is the verifier itself: never show it.
            let shown = if method == "plain" {
                "[redacted:code_verifier]".into()
            } else {
                c.clone()
            };
            push("code_challenge", c.clone(), shown);
            if method != "omit" {
                push(
                    "code_challenge_method",
                    method.to_owned(),
                    method.to_owned(),
                );
            }
            self.secrets.register_value("code_verifier", &v);
            verifier = Some(v);
            challenge = Some(c);
        }
        for (name, value) in &spec.extra {
            push(name, self.render(value)?, self.shown(value));
        }
        Ok(AuthorizeState {
            query,
            state,
            redirect_uri,
            verifier,
            challenge,
            base: None,
            capture_as: spec.capture_as.clone(),
        })
    }

    /// Shows a query value as the wire carries it, form-encoded
    /// (`a+b%26c`, not `a b&c`); `shown` is the value rendered for display, and where it differs
    /// (a secret is in the value) the secret is replaced by `[redacted:NAME]` in the encoded form.
    pub(super) fn shown_as_sent(&self, value: &str, shown: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        if value == shown {
            return encoded;
        }
        let redacted = self.secrets.redact(&encoded);
        if redacted == encoded {
            // The registry knows no secret in it: show the display rendering, never the value.
            shown.to_owned()
        } else {
            redacted
        }
    }

    /// Reads the redirect of an authorization response, recording the checks the runner makes
    /// on it in `report` (a step's own expectations do not list them): the redirect goes to the
    /// `redirect_uri` sent, carries a code, and returns the `state` sent. With no `expect` on
    /// the step, a redirect carrying a code is required; with one, the redirect is read only
    /// when there is one.
    pub(super) fn finish_authorize(
        &mut self,
        state: &AuthorizeState,
        exchange: &Exchange,
        explicit_expect: bool,
        report: &mut CheckReport,
    ) {
        let Some(response) = &exchange.response else {
            return;
        };
        let location = response
            .header_values("location")
            .first()
            .map(|l| l.to_string());
        let is_redirect = (300..400).contains(&response.status);
        let Some(location) = location.filter(|_| is_redirect) else {
            if !explicit_expect {
                report.failed.push(format!(
                    "a redirect to the redirect_uri carrying a code: got HTTP {}",
                    response.status
                ));
            }
            return;
        };
        let Some(base) = state.base.clone() else {
            report
                .failed
                .push("the authorization endpoint URL is unknown".into());
            return;
        };
        let redirect = match parse_redirect(&location, &base, &state.redirect_uri) {
            Ok(redirect) => redirect,
            Err(e) => {
                report.failed.push(e);
                return;
            }
        };
        report.passed.push(format!(
            "the redirect goes to the redirect_uri sent, {}",
            state.redirect_uri
        ));
        if let Some(code) = &redirect.code {
            report.passed.push("the redirect carries a code".into());
            match &redirect.state {
                Some(returned) if *returned == state.state => {
                    report
                        .passed
                        .push("the redirect returns the `state` sent".into());
                }
                Some(returned) => {
                    report.failed.push(format!(
                        "the redirect carries state `{returned}`, not the `{}` sent",
                        state.state
                    ));
                    return;
                }
                None => {
                    report
                        .failed
                        .push("the redirect carries a code but no `state`".into());
                    return;
                }
            }
            if let Some(name) = state.output_name("code") {
                self.set_secret(name, code);
            }
        } else if !explicit_expect {
            let error = redirect
                .error
                .map(|e| format!(" (error `{e}`)"))
                .unwrap_or_default();
            report
                .failed
                .push(format!("the redirect carries no code{error}"));
            return;
        }
        if let (Some(verifier), Some(name)) = (&state.verifier, state.output_name("code_verifier"))
        {
            self.set_secret(name, verifier);
        }
        if let (Some(challenge), Some(name)) =
            (&state.challenge, state.output_name("code_challenge"))
        {
            self.vars.insert(name.into(), challenge.clone());
        }
        if let Some(name) = state.output_name("state") {
            self.vars.insert(name.into(), state.state.clone());
        }
    }

    pub(super) fn set_secret(&mut self, name: &str, value: &str) {
        if let Ok(secret_name) = name.parse() {
            let secret = Secret::new(secret_name, value);
            self.secrets.register(&secret);
            self.secret_captures.insert(name.to_owned(), secret);
        }
    }
}

/// Why a token could not be obtained.
enum TokenFailure {
    /// The provider answered otherwise than with a token (a conformance failure).
    Refused(String),
    /// The request could not be made (an error of the run).
    CouldNotRun(String),
}

fn field(params: &TokenParams, name: &str) -> Option<String> {
    params
        .fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// A digest of the credentials presented, so a scenario presenting wrong ones is never served a
/// token another scenario obtained with the right ones.
fn credentials_digest(params: &TokenParams) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(
        params
            .client_secret
            .as_deref()
            .unwrap_or_default()
            .as_bytes(),
    );
    hasher.update([0]);
    // Every form field, not only the password: an extension grant's own fields (a device
    // code, an assertion) tell its tokens apart, and the key must not hold them in clear.
    for (name, value) in &params.fields {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

/// A random `state`: 128 bits, URL-safe.
fn random_state() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}
