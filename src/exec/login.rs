//! Driving an authorization flow headlessly: the hops after an authorization request.
//!
//! Redirects that stay on the authorization request's origin are followed (GET, with the
//! scenario's cookies, at most [`MAX_HOPS`]); a page with a form is filled with the step's
//! `login`, then `consent`, and submitted; a redirect to the `redirect_uri` ends the flow and is
//! never fetched; a redirect or a form action to any other origin ends it as a failure. Each hop
//! goes into the step's result, redacted: cookie values and filled values are registered as
//! secrets before anything is written, and a hop's body shows field names only.

use url::Url;

use super::oauth2::AuthorizeState;
use super::{Scope, StepResult, Transcript, record_response_head, redact_transcript};
use crate::net::{Clients, ConnectionUse, Exchange};
use crate::scenario::model::{AuthorizeSpec, FormSpec, Interaction};

/// The most requests a flow makes after the authorization request.
pub(super) const MAX_HOPS: usize = 10;

/// The shortest hidden value taken for a secret: tokens a page hides (CSRF tokens, credential
/// ids, session codes) are longer, while shorter ones are modes such as `prompt=login`, which
/// redacted would hide words from every report.
const MIN_HIDDEN_SECRET_LEN: usize = 16;

/// Why a flow ended before the redirect to the `redirect_uri`.
pub(super) enum FlowEnd {
    /// The server did not behave as the flow needs (the step fails).
    Failed(String),
    /// The scenario could not fill a form (a field's template did not render): the step could
    /// not run, which says nothing about the server.
    CouldNotRun(String),
}

/// Why a form could not be filled: the scenario's value, or the page.
enum FormError {
    /// A field's template did not render (a missing secret, say).
    Render(String),
    /// The page has no such form or field.
    Page(String),
}

/// A form read from a page, ready to submit.
struct FilledForm {
    action: Url,
    method: http::Method,
    /// (name, value) in document order, the pressed submit control last.
    pairs: Vec<(String, String)>,
    /// The filled values and the page's hidden ones: registered as secrets.
    values: Vec<String>,
}

impl Scope<'_> {
    /// Follows the flow from the authorization response `first` until it
    /// leaves the server: returns the last exchange, to check as the step's response, or why
    /// why the flow ended early. Hops are pushed to `out.hops`.
    pub(super) async fn follow_flow(
        &mut self,
        spec: &AuthorizeSpec,
        state: &AuthorizeState,
        first: Exchange,
        clients: &Clients,
        timeout: std::time::Duration,
        out: &mut StepResult,
    ) -> (Exchange, Option<FlowEnd>) {
        let Some(start) = state.base.clone() else {
            return (first, None);
        };
        let origin = start.origin();
        let redirect_uri = Url::parse(state.redirect_uri()).ok();
        let mut pages = [spec.login.as_deref(), spec.consent.as_deref()].into_iter();
        let mut current = first;
        let mut current_url = start;
        let mut login_sent = None;
        for hop in 0..=MAX_HOPS {
            let Some(response) = &current.response else {
                return (current, None);
            };
            let location = response.header_values("location").first().copied();
            let next = if (300..400).contains(&response.status)
                && let Some(location) = location
            {
                let Ok(target) = current_url.join(location) else {
                    return (current, None);
                };
                if redirect_uri
                    .as_ref()
                    .is_some_and(|r| same_endpoint(r, &target))
                {
                    return (current, None);
                }
                if target.origin() != origin {
                    // The query is left out: a code may be in it.
                    let message = format!(
                        "the flow leaves the authorization server's origin for {} (a redirect to {}{}, not to the redirect_uri sent, {})",
                        target.origin().ascii_serialization(),
                        target.origin().ascii_serialization(),
                        target.path(),
                        state.redirect_uri()
                    );
                    return (current, Some(FlowEnd::Failed(message)));
                }
                (http::Method::GET, target, None)
            } else if response.status == 200 && is_html(response) {
                let page = describe_page(response.status, &current_url);
                let body = response.text();
                if !has_form(&body) {
                    return (current, None);
                }
                // A server refusing a login shows its form again; saying so beats saying the
                // next page (consent) is missing.
                if let Some(login) = login_sent
                    && self.fill_form(&body, &current_url, login).is_ok()
                {
                    let message = format!(
                        "the login form is shown again after it was submitted ({page}): the server did not accept the login"
                    );
                    return (current, Some(FlowEnd::Failed(message)));
                }
                let Some(interaction) = pages.by_ref().flatten().next() else {
                    let message = format!(
                        "the flow stops at a page with a form ({page}, form action {}): no `login` or `consent` is left to fill it",
                        first_action(&body, &current_url)
                    );
                    return (current, Some(FlowEnd::Failed(message)));
                };
                let filled = match self.fill_form(&body, &current_url, interaction) {
                    Ok(filled) => filled,
                    Err(FormError::Render(e)) => {
                        let message = format!("cannot fill the form on the page {page}: {e}");
                        return (current, Some(FlowEnd::CouldNotRun(message)));
                    }
                    Err(FormError::Page(e)) => {
                        return (
                            current,
                            Some(FlowEnd::Failed(format!("{e} on the page {page}"))),
                        );
                    }
                };
                if spec
                    .login
                    .as_deref()
                    .is_some_and(|l| std::ptr::eq(l, interaction))
                {
                    login_sent = Some(interaction);
                }
                for value in &filled.values {
                    self.secrets.register_value("form_field", value);
                }
                if filled.action.origin() != origin {
                    let message = format!(
                        "the form on the page {page} posts to another origin, {}: not submitted",
                        filled.action.origin().ascii_serialization()
                    );
                    return (current, Some(FlowEnd::Failed(message)));
                }
                (filled.method, filled.action, Some(filled.pairs))
            } else {
                return (current, None);
            };
            if hop == MAX_HOPS {
                let message = format!("the flow takes more than {MAX_HOPS} requests");
                return (current, Some(FlowEnd::Failed(message)));
            }
            let (method, url, form) = next;
            let (exchange, transcript) = self.hop(method, &url, form, clients, timeout).await;
            out.hops.push(transcript);
            current = exchange;
            current_url = url;
        }
        (current, None)
    }

    /// Sends one hop with the session's cookies only (never the step's credentials).
    async fn hop(
        &mut self,
        method: http::Method,
        url: &Url,
        form: Option<Vec<(String, String)>>,
        clients: &Clients,
        timeout: std::time::Duration,
    ) -> (Exchange, Transcript) {
        let mut url = url.clone();
        let mut body = None;
        let mut shown_body = None;
        if let Some(pairs) = &form {
            let encoded = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter())
                .finish();
            let names: Vec<String> = pairs
                .iter()
                .map(|(name, _)| {
                    let name: String =
                        url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
                    format!("{name}=[redacted]")
                })
                .collect();
            shown_body = Some(names.join("&"));
            if method == http::Method::GET {
                url.set_query(Some(&encoded));
            } else {
                body = Some(encoded);
            }
        }
        let mut builder = clients.pooled().request(method.clone(), url.clone());
        let mut transcript = Transcript {
            method: method.to_string(),
            url: url.to_string(),
            ..Transcript::default()
        };
        if let Some(cookie) = self.cookie_header(&url) {
            builder = builder.header("cookie", cookie.0);
            transcript.request_headers.push(("cookie".into(), cookie.1));
        }
        if let Some(body) = body {
            builder = builder
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            transcript.request_headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            transcript.request_body = shown_body;
        } else if let Some(shown) = shown_body {
            // A GET form: its values are in the query, shown by name only.
            transcript.url = format!(
                "{}?{shown}",
                url.as_str().split('?').next().unwrap_or_default()
            );
        }
        let exchange = match builder.build() {
            Ok(request) => {
                crate::net::send_on(clients, request, timeout, ConnectionUse::Reuse).await
            }
            Err(e) => Exchange {
                outcome: crate::net::Outcome::Other(format!(
                    "cannot build the request: {}",
                    e.without_url()
                )),
                response: None,
                elapsed: std::time::Duration::ZERO,
                resent: None,
                local_address: None,
                tls: None,
            },
        };
        self.store_cookies(&url, &exchange);
        self.register_redirect_code(&exchange);
        transcript.outcome = exchange.outcome.class();
        transcript.outcome_detail = exchange.outcome.detail().map(str::to_owned);
        transcript.resent = exchange.resent.clone();
        transcript.elapsed = exchange.elapsed;
        transcript.record_connection(&exchange);
        if let Some(response) = &exchange.response {
            record_response_head(&mut transcript, response);
        }
        redact_transcript(&mut transcript, self.secrets);
        (exchange, transcript)
    }

    /// Reads the form of `body` that `interaction` names and fills it in.
    fn fill_form(
        &self,
        body: &str,
        page: &Url,
        interaction: &Interaction,
    ) -> Result<FilledForm, FormError> {
        let mut fields = Vec::new();
        let mut secret_fields = Vec::new();
        for (name, template) in &interaction.form.fields {
            let name = self.render(&name.template()).map_err(FormError::Render)?;
            let value = self.render(template).map_err(FormError::Render)?;
            // A value written in the scenario is public; one holding a secret is a secret whole.
            if template.refs().any(|r| self.is_secret_ref(r)) {
                secret_fields.push((name.clone(), value.clone()));
            }
            fields.push((name.clone(), value));
        }
        fill(body, page, &interaction.form, &fields, &secret_fields).map_err(FormError::Page)
    }

    /// Returns the `Cookie` header for `url` from the scenario's jar, and how it is shown
    /// (`name=[redacted]; …`); none without a session or a matching cookie. RFC 6265 ignores
    /// ports, so a cookie would reach every port of its host: the jar is kept per origin, and a
    /// cookie goes back only to the origin that set it.
    pub(super) fn cookie_header(&self, url: &Url) -> Option<(String, String)> {
        let jar = self
            .cookies
            .as_ref()?
            .get(&url.origin().ascii_serialization())?;
        let pairs: Vec<(&str, &str)> = jar.get_request_values(url).collect();
        if pairs.is_empty() {
            return None;
        }
        let sent = pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let shown = pairs
            .iter()
            .map(|(n, _)| format!("{n}=[redacted]"))
            .collect::<Vec<_>>()
            .join("; ");
        Some((sent, shown))
    }

    /// Registers the value of every `Set-Cookie` of a response as a secret, and keeps the
    /// cookies in the scenario's jar when it has one.
    pub(super) fn store_cookies(&mut self, url: &Url, exchange: &Exchange) {
        let Some(response) = &exchange.response else {
            return;
        };
        for header in response.header_values("set-cookie") {
            let pair = header.split(';').next().unwrap_or_default();
            if let Some((_, value)) = pair.split_once('=') {
                let value = value.trim().trim_matches('"');
                if !value.is_empty() {
                    self.secrets.register_value("cookie", value);
                }
            }
            if let Some(jars) = &mut self.cookies {
                // A cookie the store refuses (a foreign domain, a bad name) is not kept, as a
                // browser would not keep it.
                let jar = jars.entry(url.origin().ascii_serialization()).or_default();
                let _ = jar.parse(header, url);
            }
        }
    }
}

/// Returns true when `target` is the redirect URI (query and fragment aside).
fn same_endpoint(redirect_uri: &Url, target: &Url) -> bool {
    redirect_uri.origin() == target.origin() && redirect_uri.path() == target.path()
}

fn is_html(response: &crate::net::ResponseData) -> bool {
    response
        .header_values("content-type")
        .first()
        .is_some_and(|t| t.to_ascii_lowercase().contains("html"))
}

fn describe_page(status: u16, url: &Url) -> String {
    format!("HTTP {status} at {}", url.path())
}

fn form_selector() -> scraper::Selector {
    scraper::Selector::parse("form").expect("a valid selector")
}

fn has_form(body: &str) -> bool {
    let html = scraper::Html::parse_document(body);
    html.select(&form_selector()).next().is_some()
}

/// Returns the path of the first form's action, to say which page a flow stopped at.
fn first_action(body: &str, page: &Url) -> String {
    let html = scraper::Html::parse_document(body);
    html.select(&form_selector())
        .next()
        .and_then(|f| page.join(f.attr("action").unwrap_or_default()).ok())
        .map_or_else(|| page.path().to_owned(), |u| u.path().to_owned())
}

/// Picks the form, keeps its successful controls' values, replaces the filled ones, and adds
/// the pressed submit control (HTML's form submission algorithm, for the controls a login page
/// uses).
fn fill(
    body: &str,
    page: &Url,
    spec: &FormSpec,
    fields: &[(String, String)],
    secret_fields: &[(String, String)],
) -> Result<FilledForm, String> {
    let html = scraper::Html::parse_document(body);
    let controls = scraper::Selector::parse("input, select, textarea, button").expect("valid");
    let names_of = |form: &scraper::ElementRef| -> Vec<String> {
        form.select(&controls)
            .filter_map(|c| c.attr("name").map(str::to_owned))
            .collect()
    };
    let form = match &spec.selector {
        Some(selector) => {
            let parsed = scraper::Selector::parse(selector.as_str())
                .map_err(|e| format!("invalid CSS selector `{}`: {e}", selector.as_str()))?;
            html.select(&parsed)
                .find(|e| e.value().name() == "form")
                .ok_or_else(|| format!("no form matches `{}`", selector.as_str()))?
        }
        None => html
            .select(&form_selector())
            .find(|form| {
                let names = names_of(form);
                fields.iter().all(|(name, _)| names.contains(name))
            })
            .ok_or_else(|| {
                let wanted: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                format!("no form holds the fields `{}`", wanted.join("`, `"))
            })?,
    };
    let names = names_of(&form);
    if let Some((missing, _)) = fields.iter().find(|(name, _)| !names.contains(name)) {
        return Err(format!("the form has no field `{missing}`"));
    }
    let mut pairs = Vec::new();
    let mut values = Vec::new();
    let mut submits = Vec::new();
    for control in form.select(&controls) {
        let element = control.value();
        let kind = element.attr("type").unwrap_or("").to_ascii_lowercase();
        let is_submit = match element.name() {
            "button" => kind.is_empty() || kind == "submit",
            "input" => kind == "submit" || kind == "image",
            _ => false,
        };
        if is_submit {
            submits.push(control);
            continue;
        }
        if element.attr("disabled").is_some() {
            continue;
        }
        let Some(name) = element.attr("name") else {
            continue;
        };
        let value = match element.name() {
            "input" => match kind.as_str() {
                "checkbox" | "radio" if element.attr("checked").is_none() => continue,
                "checkbox" | "radio" => element.attr("value").unwrap_or("on").to_owned(),
                "button" | "reset" | "file" => continue,
                "hidden" => {
                    let value = element.attr("value").unwrap_or_default();
                    if value.len() >= MIN_HIDDEN_SECRET_LEN {
                        values.push(value.to_owned());
                    }
                    value.to_owned()
                }
                _ => element.attr("value").unwrap_or_default().to_owned(),
            },
            "select" => {
                let options = scraper::Selector::parse("option").expect("valid");
                let mut all = control.select(&options);
                let chosen = control
                    .select(&options)
                    .find(|o| o.attr("selected").is_some())
                    .or_else(|| all.next());
                match chosen {
                    Some(o) => o
                        .attr("value")
                        .map_or_else(|| o.text().collect::<String>(), str::to_owned),
                    None => continue,
                }
            }
            "textarea" => control.text().collect(),
            _ => continue,
        };
        pairs.push((name.to_owned(), value));
    }
    for (name, value) in fields {
        let mut found = false;
        for pair in pairs.iter_mut().filter(|(n, _)| n == name) {
            pair.1 = value.clone();
            found = true;
        }
        if !found {
            pairs.push((name.clone(), value.clone()));
        }
    }
    let pressed = match &spec.submit {
        Some(wanted) => Some(
            submits
                .iter()
                .find(|s| {
                    let text: String = s.text().collect();
                    [s.attr("name"), s.attr("id"), s.attr("value")]
                        .into_iter()
                        .flatten()
                        .chain([text.trim()])
                        .any(|v| v == wanted)
                })
                .ok_or_else(|| format!("the form has no submit control `{wanted}`"))?,
        ),
        None => submits.first(),
    };
    let mut action_attr = form.attr("action");
    let mut method_attr = form.attr("method");
    if let Some(submit) = pressed {
        if let Some(name) = submit.attr("name") {
            pairs.push((
                name.to_owned(),
                submit.attr("value").unwrap_or_default().to_owned(),
            ));
        }
        action_attr = submit.attr("formaction").or(action_attr);
        method_attr = submit.attr("formmethod").or(method_attr);
    }
    let action = page
        .join(action_attr.unwrap_or_default())
        .map_err(|e| format!("the form's action is not a URL ({e})"))?;
    let method = if method_attr.is_some_and(|m| m.eq_ignore_ascii_case("post")) {
        http::Method::POST
    } else {
        http::Method::GET
    };
    values.extend(secret_fields.iter().map(|(_, v)| v.clone()));
    Ok(FilledForm {
        action,
        method,
        pairs,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(yaml: &str) -> FormSpec {
        serde_yaml::from_str(yaml).expect("a form")
    }

    fn pairs(filled: &FilledForm) -> Vec<(&str, &str)> {
        filled
            .pairs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// Keycloak's login form: the hidden credential id is kept, the unchecked box and the
    /// password toggle (`type="button"`) are not sent, and the pressed submit's pair comes last.
    #[test]
    fn a_keycloak_form_keeps_hidden_inputs_and_sends_its_submit_pair() {
        let page = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/keycloak-login.html"
        ))
        .unwrap()
        .replace("AS_BASE", "https://sso.example")
        .replace("CREDENTIAL_ID", "6f1c1b0e-3c51-4a55-9d7a-1d2f3e4a5b6c");
        let base =
            Url::parse("https://sso.example/realms/lab/protocol/openid-connect/auth").unwrap();
        let fields = [
            ("username".to_owned(), "alice".to_owned()),
            ("password".to_owned(), "pw".to_owned()),
        ];
        let filled = fill(&page, &base, &form("{}"), &fields, &fields[1..]).unwrap();
        assert_eq!(
            pairs(&filled),
            [
                ("username", "alice"),
                ("password", "pw"),
                ("credentialId", "6f1c1b0e-3c51-4a55-9d7a-1d2f3e4a5b6c"),
                ("login", "Sign In"),
            ]
        );
        assert_eq!(filled.method, http::Method::POST);
        assert_eq!(
            filled.action.as_str(),
            "https://sso.example/realms/lab/login-actions/authenticate?session_code=sc-91&execution=ex-5a&client_id=lab-code&tab_id=tab-3Xo"
        );
        // The secret field, and the hidden value long enough to be a token.
        assert_eq!(
            filled.values,
            ["6f1c1b0e-3c51-4a55-9d7a-1d2f3e4a5b6c", "pw"]
        );
    }

    #[test]
    fn the_submit_control_and_the_form_are_chosen_as_written() {
        let page = r#"<form id="search" action="/search"><input name="q"><button>Go</button></form>
            <form id="consent" action="/grant" method="post">
              <input type="hidden" name="prompt" value="consent">
              <input type="checkbox" name="remember" checked>
              <select name="scope"><option value="a">A</option><option value="b" selected>B</option></select>
              <textarea name="note">hi</textarea>
              <button type="submit" name="decision" value="deny">Deny</button>
              <button type="submit" name="decision" value="allow" formaction="/grant?x=1">Allow</button>
            </form>"#;
        let base = Url::parse("http://as.test/interaction/1").unwrap();
        let spec = form("{ selector: 'form#consent', submit: Allow }");
        let filled = fill(page, &base, &spec, &[], &[]).unwrap();
        assert_eq!(
            pairs(&filled),
            [
                ("prompt", "consent"),
                ("remember", "on"),
                ("scope", "b"),
                ("note", "hi"),
                ("decision", "allow"),
            ]
        );
        assert_eq!(filled.action.as_str(), "http://as.test/grant?x=1");
        // `prompt=consent` is a mode, not a secret.
        assert!(filled.values.is_empty());
        // Without a selector, the first form holding the named fields.
        let fields = [("q".to_owned(), "x".to_owned())];
        let search = fill(page, &base, &form("{}"), &fields, &[]).unwrap();
        assert_eq!(search.method, http::Method::GET);
        assert_eq!(search.action.as_str(), "http://as.test/search");
        let error = fill(page, &base, &form("{ submit: Maybe }"), &fields, &[])
            .err()
            .unwrap();
        assert_eq!(error, "the form has no submit control `Maybe`");
        let missing = [("otp".to_owned(), "1".to_owned())];
        let error = fill(page, &base, &form("{}"), &missing, &[]).err().unwrap();
        assert_eq!(error, "no form holds the fields `otp`");
    }
}
