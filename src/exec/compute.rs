//! `compute` steps: values derived for later steps — signed and forged JWTs, PKCE values,
//! We.Platform key hashes, Pledg signatures, Basic credentials for a header of the scenario's choosing. Times come from the scenario's clock, so a token
//! signed on the virtual clock expires when the mocks say it does.

use std::time::Duration;

use indexmap::IndexMap;

use super::{Scope, StepResult, Verdict};
use crate::auth::jwt::{self, Forgery, SigningKey};
use crate::auth::{api_key, pkce, pledg};
use crate::scenario::model::{ComputeSpec, ForgeChange, JwtSignSpec};

/// Length of generated PKCE verifiers when none is asked for.
const DEFAULT_VERIFIER_LENGTH: usize = 64;
/// Length of `random_id` values when none is asked for.
const DEFAULT_RANDOM_ID_LENGTH: usize = 16;
/// How far in the past `jwt_forge: { change: expired }` puts `exp`.
const FORGED_EXPIRY_AGO: Duration = Duration::from_secs(3600);

impl Scope<'_> {
    /// Computes every entry of a `compute` step, in order (later entries may use earlier ones).
    pub(super) fn compute_step(
        &mut self,
        index: usize,
        entries: &IndexMap<String, ComputeSpec>,
        out: &mut StepResult,
    ) -> Option<Verdict> {
        for (name, spec) in entries {
            match self.compute(spec) {
                Ok((value, secret)) => {
                    let shown = if secret {
                        format!("{name} = [redacted:{name}]")
                    } else {
                        format!("{name} = {value}")
                    };
                    if secret {
                        self.set_secret(name, &value);
                    } else {
                        self.vars.insert(name.clone(), value);
                    }
                    out.passed.push(shown);
                }
                Err(e) => {
                    return Some(Verdict::Error {
                        step: Some(index),
                        message: self
                            .runner
                            .secrets
                            .redact(&format!("compute `{name}`: {e}")),
                    });
                }
            }
        }
        None
    }

    /// Returns the value and whether it is a secret.
    fn compute(&self, spec: &ComputeSpec) -> Result<(String, bool), String> {
        Ok(match spec {
            ComputeSpec::JwtSign(sign) => (self.jwt_sign(sign)?, true),
            ComputeSpec::JwtForge(forge) => {
                let token = self.render(&forge.token)?;
                let forgery = match &forge.change {
                    ForgeChange::Expired => Forgery::ExpiredAt(
                        self.clock
                            .unix_seconds()
                            .saturating_sub(FORGED_EXPIRY_AGO.as_secs()),
                    ),
                    ForgeChange::MissingExp => Forgery::MissingExp,
                    ForgeChange::AlgNone => Forgery::AlgNone,
                    ForgeChange::AlteredSignature => Forgery::AlteredSignature,
                    ForgeChange::Claims(claims) => {
                        let rendered =
                            self.render_json(&serde_json::Value::Object(claims.clone()))?;
                        let serde_json::Value::Object(map) = rendered else {
                            return Err("`claims` must be a map".into());
                        };
                        Forgery::AlteredClaims(map)
                    }
                    ForgeChange::WrongKey(key) => {
                        let key = self.render(key)?;
                        Forgery::WrongKey(match key.as_str() {
                            "test-other" => {
                                SigningKey::rs256_pem(jwt::TEST_RS256_OTHER_PRIVATE_PEM)
                                    .map_err(|e| e.to_string())?
                            }
                            secret => SigningKey::hs256(secret.as_bytes()),
                        })
                    }
                };
                (
                    jwt::forge(&token, &forgery).map_err(|e| e.to_string())?,
                    true,
                )
            }
            ComputeSpec::RandomId(r) => (
                random_id(r.length.unwrap_or(DEFAULT_RANDOM_ID_LENGTH)),
                false,
            ),
            ComputeSpec::PkceVerifier(v) => (
                pkce::generate_verifier(v.length.unwrap_or(DEFAULT_VERIFIER_LENGTH))
                    .map_err(|e| e.to_string())?,
                true,
            ),
            ComputeSpec::PkceChallenge(c) => {
                let verifier = self.render(&c.verifier)?;
                let method: pkce::PkceMethod = c
                    .method
                    .as_deref()
                    .unwrap_or("S256")
                    .parse()
                    .map_err(|e: pkce::PkceError| e.to_string())?;
                let plain = method == pkce::PkceMethod::Plain;
                (pkce::challenge(&verifier, method), plain)
            }
            ComputeSpec::WePlatformKeyHash(key) => {
                (api_key::we_platform_key_hash(&self.render(key)?), false)
            }
            ComputeSpec::PledgSignature(sig) => {
                let params = self.render_json(&sig.params)?;
                let secret = self.render(&sig.secret)?;
                let exp = self.expiry(sig.expires_in.map(|d| d.0), sig.expired_for.map(|d| d.0));
                (
                    pledg::sign_parameters(&params, secret.as_bytes(), exp)
                        .map_err(|e| e.to_string())?,
                    true,
                )
            }
            ComputeSpec::PledgNotificationSignature(n) => {
                let rendered =
                    self.render_json(&serde_json::Value::Object(n.notification.clone()))?;
                let serde_json::Value::Object(notification) = rendered else {
                    return Err("`notification` must be a map".into());
                };
                let secret = self.render(&n.secret)?;
                (pledg::notification_signature(&notification, &secret), false)
            }
            ComputeSpec::BasicCredentials(credentials) => {
                let user = self.render(&credentials.username)?;
                let password = self.render(&credentials.password)?;
                let value = crate::auth::basic::header_value(&user, &password)
                    .map_err(|e| e.to_string())?;
                let encoded = value.strip_prefix("Basic ").unwrap_or(&value).to_owned();
                (encoded, true)
            }
        })
    }

    fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        super::check::Render::render_json(self, value)
    }

    /// `exp` on the scenario clock: now plus `expires_in`, or now minus `expired_for`.
    fn expiry(&self, expires_in: Option<Duration>, expired_for: Option<Duration>) -> Option<u64> {
        let now = self.clock.unix_seconds();
        match (expires_in, expired_for) {
            (_, Some(ago)) => Some(now.saturating_sub(ago.as_secs().max(1))),
            (Some(d), None) => Some(now + d.as_secs()),
            (None, None) => None,
        }
    }

    fn jwt_sign(&self, spec: &JwtSignSpec) -> Result<String, String> {
        let key_text = self.render(&spec.key)?;
        let key = match spec.alg.as_str() {
            "HS256" => SigningKey::hs256(key_text.as_bytes()),
            "RS256" => {
                let pem = match key_text.as_str() {
                    "test" => jwt::TEST_RS256_PRIVATE_PEM,
                    "test-other" => jwt::TEST_RS256_OTHER_PRIVATE_PEM,
                    pem => pem,
                };
                SigningKey::rs256_pem(pem).map_err(|e| e.to_string())?
            }
            other => {
                return Err(format!(
                    "unsupported alg `{other}`: expected `HS256` or `RS256`"
                ));
            }
        };
        let rendered = self.render_json(&serde_json::Value::Object(spec.claims.clone()))?;
        let serde_json::Value::Object(mut claims) = rendered else {
            return Err("`claims` must be a map".into());
        };
        let now = self.clock.unix_seconds();
        if let Some(exp) = self.expiry(spec.expires_in.map(|d| d.0), spec.expired_for.map(|d| d.0))
        {
            let iat = if spec.expired_for.is_some() {
                exp.saturating_sub(60)
            } else {
                now
            };
            claims.insert("iat".into(), iat.into());
            claims.insert("exp".into(), exp.into());
        }
        jwt::sign(&serde_json::Value::Object(claims), &key).map_err(|e| e.to_string())
    }
}

/// Draws `length` characters from `[a-z0-9]`: valid in logins, references and URL paths alike.
fn random_id(length: usize) -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..length)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}
