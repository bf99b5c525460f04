//! `compute` steps: values derived for later steps — signed and forged JWTs, PKCE values, digest
//! chains, HMACs, canonical-string signatures, Basic credentials for a header of the scenario's
//! choosing. Times come from the scenario's clock, so a token signed on the virtual clock expires
//! when the mocks say it does. Whether a value is secret is [`ComputeSpec::output_is_secret`]'s
//! call, the same the loader makes.

use std::time::Duration;

use indexmap::IndexMap;

use super::{Scope, StepResult, Verdict};
use crate::auth::digest;
use crate::auth::jwt::{self, Forgery, SigningKey};
use crate::auth::pkce;
use crate::scenario::model::{
    CanonicalSigner, ComputeSpec, DigestAlgorithm, ForgeChange, HmacAlgorithm, JwtKey, JwtSignSpec,
    KeyEncoding, OutputEncoding,
};

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
                Ok(value) => {
                    let secret = spec.output_is_secret();
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
                        message: self.secrets.redact(&format!("compute `{name}`: {e}")),
                    });
                }
            }
        }
        None
    }

    /// Returns the value.
    fn compute(&self, spec: &ComputeSpec) -> Result<String, String> {
        Ok(match spec {
            ComputeSpec::JwtSign(sign) => self.jwt_sign(sign)?,
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
                jwt::forge(&token, &forgery).map_err(|e| e.to_string())?
            }
            ComputeSpec::RandomId(r) => random_id(r.length.unwrap_or(DEFAULT_RANDOM_ID_LENGTH)),
            ComputeSpec::Integer(expression) => {
                crate::scenario::model::integer_sum(&self.render(expression)?)?.to_string()
            }
            ComputeSpec::PkceVerifier(v) => {
                pkce::generate_verifier(v.length.unwrap_or(DEFAULT_VERIFIER_LENGTH))
                    .map_err(|e| e.to_string())?
            }
            ComputeSpec::PkceChallenge(c) => {
                let verifier = self.render(&c.verifier)?;
                let method: pkce::PkceMethod = c
                    .method
                    .as_deref()
                    .unwrap_or("S256")
                    .parse()
                    .map_err(|e: pkce::PkceError| e.to_string())?;
                pkce::challenge(&verifier, method)
            }
            ComputeSpec::Digest(spec) => {
                let text = self.render(&spec.of)?;
                let chain: Vec<_> = spec.chain.iter().copied().map(digest_algorithm).collect();
                encoding(spec.encoding).encode(&digest::digest_chain(&chain, text.as_bytes()))
            }
            ComputeSpec::Hmac(spec) => {
                let key = self.hmac_key(&spec.key, spec.key_encoding)?;
                let message = self.render(&spec.message)?;
                let mac = digest::hmac(hmac_algorithm(spec.alg), &key, message.as_bytes());
                encoding(spec.encoding).encode(&mac)
            }
            ComputeSpec::CanonicalSignature(spec) => {
                let pairs = spec
                    .pairs
                    .iter()
                    .map(|(key, value)| Ok((key.as_str(), self.render(value)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                let key_value_separator = match &spec.key_value_separator {
                    Some(separator) => self.render(separator)?,
                    None => "=".to_owned(),
                };
                let text = digest::canonical_string(
                    pairs.iter().map(|(key, value)| (*key, value.as_str())),
                    &key_value_separator,
                    &self.render(&spec.separator)?,
                );
                let signature = match &spec.then {
                    CanonicalSigner::Digest(chain) => {
                        let chain: Vec<_> = chain.iter().copied().map(digest_algorithm).collect();
                        digest::digest_chain(&chain, text.as_bytes())
                    }
                    CanonicalSigner::Hmac(hmac) => {
                        let key = self.hmac_key(&hmac.key, hmac.key_encoding)?;
                        digest::hmac(hmac_algorithm(hmac.alg), &key, text.as_bytes())
                    }
                };
                encoding(spec.encoding).encode(&signature)
            }
            ComputeSpec::BasicCredentials(credentials) => {
                let user = self.render(&credentials.username)?;
                let password = self.render(&credentials.password)?;
                let value = crate::auth::basic::header_value(&user, &password)
                    .map_err(|e| e.to_string())?;
                value.strip_prefix("Basic ").unwrap_or(&value).to_owned()
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

    fn hmac_key(
        &self,
        key: &crate::scenario::Template,
        encoding: Option<KeyEncoding>,
    ) -> Result<Vec<u8>, String> {
        key_encoding(encoding)
            .decode(&self.render(key)?)
            .map_err(|e| e.to_string())
    }

    /// Reads `jwt_sign`'s key material. Errors name the form and the file, never the key.
    fn jwt_key(&self, key: &JwtKey) -> Result<SigningKey, String> {
        match key {
            JwtKey::SharedSecret(secret) => Ok(SigningKey::hs256(self.render(secret)?.as_bytes())),
            JwtKey::Pem(pem) => {
                SigningKey::rs256_pem(&self.render(pem)?).map_err(|e| format!("`pem`: {e}"))
            }
            JwtKey::Jwk(jwk) => {
                SigningKey::rs256_jwk(&self.render(jwk)?).map_err(|e| format!("`jwk`: {e}"))
            }
            JwtKey::PrivateKey(key) => SigningKey::rs256_private(&self.render(key)?)
                .map_err(|e| format!("`private_key`: {e}")),
            JwtKey::PemFile(path) => {
                let path = std::path::PathBuf::from(self.render(path)?);
                // Relative to the target file, so a target and its key can move together.
                let path = match self.runner.target.file.parent() {
                    Some(folder) if path.is_relative() => folder.join(path),
                    _ => path,
                };
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read key file `{}`: {e}", path.display()))?;
                SigningKey::rs256_pem(&pem)
                    .map_err(|e| format!("key file `{}`: {e}", path.display()))
            }
        }
    }

    fn jwt_sign(&self, spec: &JwtSignSpec) -> Result<String, String> {
        let key = self.jwt_key(&spec.key)?;
        if key.alg() != spec.alg {
            return Err(format!(
                "alg `{}` cannot be signed with this key: `{}` keys sign `{}`",
                spec.alg,
                key_kind(&spec.key),
                key.alg()
            ));
        }
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

/// Names a key form, for messages.
fn key_kind(key: &JwtKey) -> &'static str {
    match key {
        JwtKey::SharedSecret(_) => "shared_secret",
        JwtKey::Pem(_) => "pem",
        JwtKey::Jwk(_) => "jwk",
        JwtKey::PemFile(_) => "pem_file",
        JwtKey::PrivateKey(_) => "private_key",
    }
}

fn digest_algorithm(algorithm: DigestAlgorithm) -> digest::DigestAlgorithm {
    match algorithm {
        DigestAlgorithm::Blake2b256 => digest::DigestAlgorithm::Blake2b256,
        DigestAlgorithm::Keccak256 => digest::DigestAlgorithm::Keccak256,
        DigestAlgorithm::Sha256 => digest::DigestAlgorithm::Sha256,
        DigestAlgorithm::Sha3_256 => digest::DigestAlgorithm::Sha3_256,
    }
}

fn hmac_algorithm(algorithm: HmacAlgorithm) -> digest::HmacAlgorithm {
    match algorithm {
        HmacAlgorithm::Sha256 => digest::HmacAlgorithm::Sha256,
        HmacAlgorithm::Sha512 => digest::HmacAlgorithm::Sha512,
    }
}

fn encoding(encoding: OutputEncoding) -> digest::Encoding {
    match encoding {
        OutputEncoding::Base58 => digest::Encoding::Base58,
        OutputEncoding::Hex => digest::Encoding::Hex,
        OutputEncoding::HexUpper => digest::Encoding::HexUpper,
        OutputEncoding::Base64 => digest::Encoding::Base64,
        OutputEncoding::Base64Url => digest::Encoding::Base64Url,
    }
}

fn key_encoding(encoding: Option<KeyEncoding>) -> digest::KeyEncoding {
    match encoding {
        None | Some(KeyEncoding::Utf8) => digest::KeyEncoding::Utf8,
        Some(KeyEncoding::Hex) => digest::KeyEncoding::Hex,
        Some(KeyEncoding::Base64) => digest::KeyEncoding::Base64,
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
