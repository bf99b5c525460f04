//! A code of its own for each `token_request` case over an authorization-code exchange, when
//! the step names its authorization request (`property.authorize`).
//!
//! A server may consume a code on any attempt (RFC 6749 §4.1.2: a code used twice SHOULD revoke
//! what it granted), so with the step's one code every case after the first would be refused
//! for a used code whatever else it carries: a server matching redirect URIs by prefix would be
//! caught only when the prefix case happened to come first. With [`with_fresh_codes`] each case
//! carries a [`Change::FreshCode`]: the engine runs the step's authorization request for it
//! and [`stand_in`] puts the code it got where the step's code was, one edit away where the case
//! edited the step's code, so every case is judged on a live code. Over a PKCE exchange the case
//! brings a verifier of its own, whose S256 challenge its authorization request sends and which
//! stands in for the step's `code_verifier`.

use proptest::prelude::RngCore as _;
use proptest::strategy::ValueTree;

use super::{Case, CaseStrategy, CaseTree, Change};
use crate::auth::pkce;

/// What a case's edited code gets where a character is changed: never the character already
/// there in any letter case, as in the family's own edits.
const REPLACEMENTS: &[char] = &['q', 'z', '7'];

/// The length of a case's own verifier: any of RFC 7636's 43 to 128 would do.
const VERIFIER_LENGTH: usize = 64;

/// A [`Change::FreshCode`]: the case's own authorization, and the verifier it proves it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FreshCode {
    /// The verifier whose S256 challenge the case's authorization request sends, and which the
    /// token request sends in place of the step's `code_verifier`; `None` when the step's token
    /// request sends no verifier (its authorization request is then sent as written).
    pub verifier: Option<String>,
}

impl FreshCode {
    /// Returns the challenge the case's authorization request sends, when it brings a verifier.
    pub fn challenge(&self) -> Option<String> {
        self.verifier
            .as_deref()
            .map(|v| pkce::challenge(v, pkce::PkceMethod::S256))
    }
}

/// Gives each case of `strategy` a code of its own (see the module doc).
///
/// # Errors
/// A step's request that is no form with a `code` to stand in for.
pub fn with_fresh_codes(
    strategy: CaseStrategy,
    base: &super::BaseRequest,
) -> Result<CaseStrategy, String> {
    let form = base.form.as_deref().unwrap_or_default();
    if !form.iter().any(|(name, _)| name == "code") {
        return Err(
            "`property.authorize` gets each case a code of its own, but the step's token request has no `code` for it to replace".into(),
        );
    }
    let pkce = form.iter().any(|(name, _)| name == "code_verifier");
    Ok(CaseStrategy(Box::new(move |runner| {
        let inner = strategy.tree(runner)?;
        let verifier = pkce.then(|| random_verifier(runner.rng()));
        Ok(Box::new(FreshCodeTree { inner, verifier }) as CaseTree)
    })))
}

/// A family's value tree whose cases each run an authorization of their own; shrinking moves
/// the case, the verifier stays.
struct FreshCodeTree {
    inner: CaseTree,
    verifier: Option<String>,
}

impl ValueTree for FreshCodeTree {
    type Value = Case;

    fn current(&self) -> Case {
        let case = self.inner.current();
        let fresh = Change::FreshCode(FreshCode {
            verifier: self.verifier.clone(),
        });
        Case {
            change: Change::All(vec![fresh, case.change]),
            ..case
        }
    }

    fn simplify(&mut self) -> bool {
        self.inner.simplify()
    }

    fn complicate(&mut self) -> bool {
        self.inner.complicate()
    }
}

/// A verifier of [`VERIFIER_LENGTH`] unreserved characters from the case runner's RNG, so a
/// replay with the same seed sends the same one.
fn random_verifier(rng: &mut proptest::test_runner::TestRng) -> String {
    const UNRESERVED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    (0..VERIFIER_LENGTH)
        .map(|_| UNRESERVED[rng.next_u32() as usize % UNRESERVED.len()] as char)
        .collect()
}

/// The step's values a case's own stand in for.
#[derive(Clone, Debug, Default)]
pub struct StepGrant {
    /// The step's `code`.
    pub code: String,
    /// The step's `code_verifier`, when its token request sends one.
    pub verifier: Option<String>,
}

impl StepGrant {
    /// Reads the step's code and verifier from its token request's form.
    pub fn of(base: &super::BaseRequest) -> Option<Self> {
        let form = base.form.as_deref()?;
        let first = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        Some(Self {
            code: first("code")?,
            verifier: first("code_verifier"),
        })
    }
}

/// Puts the case's own `code` (and verifier) in place of the step's in a token request's form
/// fields: a `code` field holding the step's code gets the case's, one holding the step's code
/// edited (a character changed, truncated, extended) gets the case's code edited the same way,
/// any other (another client's code) is kept; a `code_verifier` holding the step's verifier gets
/// the case's. Returns the codes sent, to be registered as secrets.
pub fn stand_in(
    fields: &mut [(String, String)],
    step: &StepGrant,
    code: &str,
    verifier: Option<&str>,
) -> Vec<String> {
    let mut sent = Vec::new();
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "code" => {
                if let Some(own) = same_edit(&step.code, value, code) {
                    *value = own;
                }
                sent.push(value.clone());
            }
            "code_verifier" => {
                if let (Some(step_verifier), Some(own)) = (&step.verifier, verifier)
                    && value == step_verifier
                {
                    *value = own.to_owned();
                }
            }
            _ => {}
        }
    }
    sent
}

/// Applies to `own` the edit that turned `step` into `sent`: none, a truncation, an extension
/// or one character changed; `None` when `sent` is no such edit of `step`. An edited code never
/// equals `own`.
fn same_edit(step: &str, sent: &str, own: &str) -> Option<String> {
    if sent == step {
        return Some(own.to_owned());
    }
    let own_chars: Vec<char> = own.chars().collect();
    if step.starts_with(sent) {
        // A code shorter than the cut keeps all but its last character, still a truncation.
        let keep = sent.chars().count().min(own_chars.len().saturating_sub(1));
        return Some(own_chars[..keep].iter().collect());
    }
    if let Some(appended) = sent.strip_prefix(step) {
        return Some(format!("{own}{appended}"));
    }
    let step_chars: Vec<char> = step.chars().collect();
    let sent_chars: Vec<char> = sent.chars().collect();
    if step_chars.len() != sent_chars.len() {
        return None;
    }
    let mut differing = step_chars
        .iter()
        .zip(&sent_chars)
        .enumerate()
        .filter(|(_, (a, b))| a != b);
    let (at, _) = differing.next()?;
    if differing.next().is_some() || own_chars.is_empty() {
        return None;
    }
    let at = at.min(own_chars.len() - 1);
    let mut edited = own_chars;
    edited[at] = *REPLACEMENTS
        .iter()
        .find(|r| !r.eq_ignore_ascii_case(&edited[at]))
        .unwrap_or(&'q');
    Some(edited.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::property::{BaseRequest, sample_cases};

    const STEP_CODE: &str = "step-code-0123456789";
    const OWN_CODE: &str = "case-code-abcdefghij";

    fn base(fields: &[(&str, &str)]) -> BaseRequest {
        BaseRequest {
            form: Some(
                fields
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..BaseRequest::default()
        }
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_cases_own_code_and_verifier_replace_the_steps() {
        let step = StepGrant {
            code: STEP_CODE.into(),
            verifier: Some("step-verifier".into()),
        };
        let mut form = fields(&[
            ("grant_type", "authorization_code"),
            ("code", STEP_CODE),
            ("code", STEP_CODE),
            ("code_verifier", "step-verifier"),
            ("redirect_uri", "https://app.example/cb"),
        ]);
        let sent = stand_in(&mut form, &step, OWN_CODE, Some("case-verifier"));
        assert_eq!(
            form,
            fields(&[
                ("grant_type", "authorization_code"),
                ("code", OWN_CODE),
                ("code", OWN_CODE),
                ("code_verifier", "case-verifier"),
                ("redirect_uri", "https://app.example/cb"),
            ])
        );
        assert_eq!(sent, [OWN_CODE, OWN_CODE]);
    }

    #[test]
    fn an_edit_of_the_steps_code_is_made_to_the_cases_code() {
        let step = StepGrant {
            code: STEP_CODE.into(),
            verifier: None,
        };
        let edit = |sent: &str| {
            let mut form = fields(&[("code", sent)]);
            stand_in(&mut form, &step, OWN_CODE, None);
            form[0].1.clone()
        };
        assert_eq!(edit("step-code-01234"), "case-code-abcde");
        assert_eq!(edit(""), "");
        assert_eq!(edit(&format!("{STEP_CODE}x")), format!("{OWN_CODE}x"));
        // Character 3 changed: the case's code gets its character 3 changed.
        let changed = edit("stqp-code-0123456789");
        assert_eq!(changed.len(), OWN_CODE.len());
        let differing: Vec<usize> = changed
            .chars()
            .zip(OWN_CODE.chars())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(differing, [2]);
        // Another client's code is no edit of the step's: kept.
        assert_eq!(edit("other-clients-code-xyz"), "other-clients-code-xyz");
    }

    #[test]
    fn an_edited_code_never_equals_the_cases_code() {
        for sent in [
            "step-code-012345678",
            "stepXcode-0123456789",
            "step-code-012345678Q",
        ] {
            assert_ne!(same_edit(STEP_CODE, sent, OWN_CODE).unwrap(), OWN_CODE);
            // A case's code shorter than the step's still loses a character.
            assert_ne!(same_edit(STEP_CODE, sent, "short").unwrap(), "short");
        }
    }

    #[test]
    fn each_case_runs_its_own_authorization_with_a_verifier_only_over_pkce() {
        let with_pkce = base(&[
            ("grant_type", "authorization_code"),
            ("code", STEP_CODE),
            ("code_verifier", "v"),
            ("redirect_uri", "https://app.example/cb"),
        ]);
        let without = base(&[
            ("grant_type", "authorization_code"),
            ("code", STEP_CODE),
            ("redirect_uri", "https://app.example/cb"),
        ]);
        for (base, pkce) in [(with_pkce, true), (without, false)] {
            let family = crate::property::family_strategy(
                crate::scenario::model::PropertyFamily::TokenRequest,
                &[],
                &base,
            )
            .unwrap();
            let strategy = with_fresh_codes(family, &base).unwrap();
            let cases = sample_cases(&strategy, 64, 3);
            let mut verifiers = std::collections::HashSet::new();
            for case in &cases {
                let fresh = case.change.fresh_code().expect("a code of its own");
                assert_eq!(fresh.verifier.is_some(), pkce, "{}", case.label);
                if let Some(v) = &fresh.verifier {
                    assert!(pkce::is_valid_verifier(v));
                    assert!(case.change.secret_forms().contains(v), "{}", case.label);
                    verifiers.insert(v.clone());
                }
            }
            if pkce {
                assert!(verifiers.len() > 60, "each case draws its own verifier");
            }
        }
        let no_code = base(&[("grant_type", "client_credentials")]);
        let family = crate::property::family_strategy(
            crate::scenario::model::PropertyFamily::TokenRequest,
            &[],
            &no_code,
        )
        .unwrap();
        assert!(with_fresh_codes(family, &no_code).is_err());
    }
}
