//! Agent bearer tokens: `POST /v1/agents/{agent}/bearerToken` issues an HS256 JWT signed with the
//! instance's key, valid `expires` (an ISO-8601 duration, default `PT30M`) on the scenario's clock,
//! with the permissions and `ipRanges` asked for.

use std::time::{Duration, SystemTime};

use serde_json::json;
use wiremock::{Request, ResponseTemplate};

use super::access::{Principal, Range};
use super::problems::{bad_request, internal};
use super::{AGENT_KEY, DEFAULT_BEARER_SECONDS, Silverflow};
use crate::auth::jwt;
use crate::mock::kit::{IdFormat, json, random_id};

/// What a bearer token was issued with, by its `jti`.
pub(super) struct TokenGrant {
    pub(super) permissions: Vec<String>,
    pub(super) ranges: Vec<Range>,
    pub(super) expires: SystemTime,
}

/// Parses an ISO-8601 duration as Silverflow's `expires` pattern allows
/// (`P(nY)(nM)(nW)(nD)(T(nH)(nM)(nS))`), into seconds; years as 365 days, months as 30.
pub(super) fn iso_duration(text: &str) -> Option<u64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut total: u64 = 0;
    let mut any = false;
    let mut sum = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
            if number.is_empty() || number.len() > 9 {
                return None;
            }
            let n: u64 = number.parse().ok()?;
            total = total.checked_add(n.checked_mul(units[at].1)?)?;
            number.clear();
            next_unit = at + 1;
            any = true;
        }
        number.is_empty().then_some(())
    };
    sum(
        date,
        &[
            ('Y', 365 * 86_400),
            ('M', 30 * 86_400),
            ('W', 7 * 86_400),
            ('D', 86_400),
        ],
    )?;
    if let Some(time) = time {
        sum(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    any.then_some(total)
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Silverflow {
    /// `POST /v1/agents/{agent}/bearerToken`.
    pub(super) fn create_bearer(
        &self,
        request: &Request,
        principal: &Principal,
        path: &str,
    ) -> ResponseTemplate {
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let mut errors = Vec::new();
        let mut permissions = Vec::new();
        let mut ranges = Vec::new();
        let mut lifetime = DEFAULT_BEARER_SECONDS;
        let mut has_permissions = false;
        for (name, value) in &body {
            match name.as_str() {
                "permissions" => {
                    has_permissions = true;
                    permissions = Self::permissions_field(value, &mut errors);
                }
                "ipRanges" => ranges = self.ranges_field(value, &mut errors),
                "expires" => match value.as_str().and_then(iso_duration) {
                    Some(seconds) if seconds > 0 => lifetime = seconds,
                    _ => errors.push((
                        "/expires".into(),
                        "must be a positive ISO-8601 duration such as PT30M".into(),
                    )),
                },
                "scope" => {
                    let valid = value.as_object().is_some_and(|scope| {
                        scope.iter().all(|(k, v)| {
                            k == "merchantKey" && v.as_str().is_some_and(|m| m.starts_with("mct-"))
                        })
                    });
                    if !valid {
                        errors.push(("/scope".into(), "must be {merchantKey: mct-…}".into()));
                    }
                }
                other => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !has_permissions {
            errors.push(("/permissions".into(), "is required".into()));
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let now = self.clock.now();
        let expires = now + Duration::from_secs(lifetime);
        let jti = random_id(IdFormat::Alphanumeric(20));
        let token_key = format!("{}:{jti}", principal.key);
        let claims = json!({
            "iss": "https://api.silverflow.co",
            "sub": token_key,
            "agentKey": AGENT_KEY,
            "jti": jti,
            "iat": unix(now),
            "exp": unix(expires),
        });
        let Ok(token) = jwt::sign(&claims, &self.signing) else {
            return internal("The token could not be signed", path);
        };
        self.store().tokens.insert(
            jti,
            TokenGrant {
                permissions,
                ranges,
                expires,
            },
        );
        json(201, json!({"key": token_key, "token": token}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn expires_durations() {
        assert_eq!(iso_duration("PT30M"), Some(1800));
        assert_eq!(iso_duration("PT2M"), Some(120));
        assert_eq!(iso_duration("P1D"), Some(86_400));
        assert_eq!(iso_duration("P1W2DT1H1M1S"), Some(9 * 86_400 + 3661));
        for bad in [
            "",
            "P",
            "PT",
            "30M",
            "PT30",
            "PT1S1M",
            "P1H",
            "PTM",
            "P-1D",
            "PT99999999999S",
        ] {
            assert_eq!(iso_duration(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn arbitrary_durations_never_panic(text in "P[0-9YMWDTHS]{0,12}") {
            let _ = iso_duration(&text);
        }
    }
}
