//! API keys: their representation, the revisions that make changes take effect late, the
//! validation of request bodies, and the `/v1/apiKeys` operations (create, list, get, merge-patch
//! update, archive).

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};
use wiremock::{Request, ResponseTemplate};

use super::access::Range;
use super::problems::{
    bad_request, conflict, not_found, precondition_failed, unsupported_media_type,
};
use super::{AGENT_KEY, APPLY_DELAY_SECONDS, Conformant, Deviation, KEY_LIMIT, Silverflow};
use crate::mock::kit::{Cidr, IdFormat, json, random_id};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Status {
    Active,
    Disabled,
    Archived,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Archived => "archived",
        }
    }
}

pub(super) struct ApiKey {
    pub(super) key: String,
    pub(super) secret: String,
    /// The activation key: outside the key limit.
    pub(super) activation: bool,
    pub(super) description: Option<String>,
    pub(super) created: SystemTime,
    /// What the key is, from each point in time on: the last one is what the API shows, the
    /// last one whose `from` has passed is what authentication applies.
    pub(super) revisions: Vec<Revision>,
}

#[derive(Clone)]
pub(super) struct Revision {
    pub(super) from: SystemTime,
    pub(super) status: Status,
    pub(super) permissions: Vec<String>,
    pub(super) ranges: Vec<Range>,
    pub(super) version: u64,
    pub(super) modified: SystemTime,
}

impl ApiKey {
    /// Returns the activation key: `all:All`, active from `now`, outside the key limit.
    pub(super) fn activation(key: String, secret: String, now: SystemTime) -> Self {
        Self {
            key,
            secret,
            activation: true,
            description: Some("Activation key".to_owned()),
            created: now,
            revisions: vec![Revision {
                from: now,
                status: Status::Active,
                permissions: vec!["all:All".to_owned()],
                ranges: Vec::new(),
                version: 1,
                modified: now,
            }],
        }
    }

    /// Returns the latest revision (what the API shows).
    pub(super) fn shown(&self) -> &Revision {
        // A key is created with one revision and revisions are only ever added.
        &self.revisions[self.revisions.len() - 1]
    }

    /// Returns the revision in effect at `now`.
    pub(super) fn effective(&self, now: SystemTime) -> &Revision {
        self.revisions
            .iter()
            .rev()
            .find(|r| r.from <= now)
            .unwrap_or(&self.revisions[0])
    }

    fn representation(&self, with_secret: bool) -> Value {
        let revision = self.shown();
        let mut body = json!({
            "key": self.key,
            "status": revision.status.as_str(),
            "agentKey": AGENT_KEY,
            "permissions": revision.permissions,
            "ipRanges": revision.ranges.iter().map(Range::as_str).collect::<Vec<_>>(),
            "created": rfc3339(self.created),
            "lastModified": rfc3339(revision.modified),
            "version": revision.version,
        });
        if let Some(object) = body.as_object_mut() {
            if let Some(description) = &self.description {
                object.insert("description".into(), description.clone().into());
            }
            if with_secret {
                object.insert("secret".into(), self.secret.clone().into());
            }
        }
        body
    }
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A permission as Silverflow spells them: a lower-camel resource, a PascalCase action.
pub(super) fn is_permission(text: &str) -> bool {
    let Some((resource, action)) = text.split_once(':') else {
        return false;
    };
    let camel = |s: &str, first_upper: bool| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() && c.is_ascii_uppercase() == first_upper)
            && chars.all(|c| c.is_ascii_alphanumeric())
    };
    camel(resource, false) && camel(action, true)
}

/// Silverflow's FreeTextField: `^[\w +=.,:;!?$@()-]+$`, 1–160 characters.
fn is_free_text(text: &str) -> bool {
    let count = text.chars().count();
    (1..=160).contains(&count)
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || " +=.,:;!?$@()-".contains(c))
}

/// Returns the key's path segment: the last one of `/v1/apiKeys/{key}` (trailing slashes
/// ignored, as the route's pattern allows them).
pub(super) fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

impl Silverflow {
    /// Reads a JSON object body, or says why it is not one.
    pub(super) fn object_body(
        request: &Request,
        path: &str,
    ) -> Result<Map<String, Value>, Box<ResponseTemplate>> {
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Object(object)) => Ok(object),
            Ok(_) => Err(Box::new(bad_request(
                vec![(String::new(), "must be an object".into())],
                path,
            ))),
            Err(_) => Err(Box::new(bad_request(
                vec![(String::new(), "must be a JSON document".into())],
                path,
            ))),
        }
    }

    pub(super) fn permissions_field(
        value: &Value,
        errors: &mut Vec<(String, String)>,
    ) -> Vec<String> {
        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
            errors.push(("/permissions".into(), "must be a non-empty array".into()));
            return Vec::new();
        };
        let mut permissions: Vec<String> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str().filter(|p| is_permission(p)) {
                Some(p) if permissions.iter().any(|q| q == p) => {
                    errors.push((format!("/permissions/{i}"), "must be unique".into()))
                }
                Some(p) => permissions.push(p.to_owned()),
                None => errors.push((
                    format!("/permissions/{i}"),
                    "must be a permission `<resource>:<Action>`".into(),
                )),
            }
        }
        permissions
    }

    pub(super) fn ranges_field(
        &self,
        value: &Value,
        errors: &mut Vec<(String, String)>,
    ) -> Vec<Range> {
        let Some(items) = value.as_array() else {
            errors.push(("/ipRanges".into(), "must be an array".into()));
            return Vec::new();
        };
        let mut ranges: Vec<Range> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(text) = item.as_str() else {
                errors.push((format!("/ipRanges/{i}"), "must be a string".into()));
                continue;
            };
            let parsed = Cidr::parse_v4(text).map(Range::Block).or_else(|| {
                self.deviates(Deviation::AcceptsMalformedRanges)
                    .then(|| Range::Malformed(text.to_owned()))
            });
            match parsed {
                Some(r) if ranges.iter().any(|q| q.as_str() == r.as_str()) => {
                    errors.push((format!("/ipRanges/{i}"), "must be unique".into()));
                }
                Some(r) => ranges.push(r),
                None => errors.push((
                    format!("/ipRanges/{i}"),
                    "must be an IPv4 CIDR block n.n.n.n/n (RFC 4632)".into(),
                )),
            }
        }
        ranges
    }

    fn description_field(value: &Value, errors: &mut Vec<(String, String)>) -> Option<String> {
        match value.as_str().filter(|d| is_free_text(d)) {
            Some(d) => Some(d.to_owned()),
            None => {
                errors.push((
                    "/description".into(),
                    "must be 1 to 160 characters of letters, digits and ` +=.,:;!?$@()-_`".into(),
                ));
                None
            }
        }
    }

    /// `GET /v1/apiKeys`.
    pub(super) fn list_keys(&self) -> ResponseTemplate {
        let with_secret = self.deviates(Deviation::ReturnsSecretOnGet);
        let store = self.store();
        let items: Vec<Value> = store
            .keys
            .iter()
            .map(|k| k.representation(with_secret))
            .collect();
        let member = if self.conformant.has(Conformant::KeysListedAsItems) {
            "items"
        } else {
            "apiKeys"
        };
        json(200, json!({member: items, "moreItems": false}))
    }

    /// `GET /v1/apiKeys/{key}`.
    pub(super) fn get_key(&self, path: &str) -> ResponseTemplate {
        let key = last_segment(path);
        match self.store().keys.iter().find(|k| k.key == key) {
            Some(k) => json(
                200,
                k.representation(self.deviates(Deviation::ReturnsSecretOnGet)),
            ),
            None => not_found(path),
        }
    }

    /// `POST /v1/apiKeys`.
    pub(super) fn create_key(&self, request: &Request, path: &str) -> ResponseTemplate {
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let mut errors = Vec::new();
        let mut permissions = Vec::new();
        let mut ranges = Vec::new();
        let mut description = None;
        let mut status = Status::Disabled;
        let mut has_permissions = false;
        for (name, value) in &body {
            match name.as_str() {
                "permissions" => {
                    has_permissions = true;
                    permissions = Self::permissions_field(value, &mut errors);
                }
                "ipRanges" => ranges = self.ranges_field(value, &mut errors),
                "description" => description = Self::description_field(value, &mut errors),
                "status" => match value.as_str() {
                    Some("active") => status = Status::Active,
                    Some("disabled") => status = Status::Disabled,
                    _ => errors.push(("/status".into(), "must be `active` or `disabled`".into())),
                },
                other => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !has_permissions {
            errors.push(("/permissions".into(), "is required".into()));
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let mut store = self.store();
        let activation_counts = self.conformant.has(Conformant::CreatingKeyCounts);
        let counted = store
            .keys
            .iter()
            .filter(|k| {
                (activation_counts || !k.activation) && k.shown().status != Status::Archived
            })
            .count();
        let refusal = (counted >= KEY_LIMIT && !self.deviates(Deviation::NoKeyLimit)).then(|| {
            conflict(
                &format!("The agent already has {KEY_LIMIT} API keys, the most it may have"),
                path,
            )
        });
        if let Some(refusal) = &refusal
            && !self.deviates(Deviation::RefusedKeyStillCreated)
        {
            return refusal.clone();
        }
        let now = self.clock.now();
        let key = ApiKey {
            key: format!("apk-{}", random_id(IdFormat::Alphanumeric(20))),
            secret: random_id(IdFormat::Alphanumeric(32)),
            activation: false,
            description,
            created: now,
            revisions: vec![Revision {
                from: now,
                status,
                permissions,
                ranges,
                version: 1,
                modified: now,
            }],
        };
        let body = key.representation(true);
        let location = format!("/v1/apiKeys/{}", key.key);
        store.keys.push(key);
        if let Some(refusal) = refusal {
            return refusal;
        }
        let response = json(201, body);
        if self.deviates(Deviation::OmitsLocation) {
            response
        } else {
            response.insert_header("location", location.as_str())
        }
    }

    /// Checks `If-Match` against the key's version, when given.
    fn precondition(
        request: &Request,
        version: u64,
        path: &str,
    ) -> Result<(), Box<ResponseTemplate>> {
        let Some(value) = request.headers.get("if-match") else {
            return Ok(());
        };
        let given = value
            .to_str()
            .ok()
            .map(|v| v.trim().trim_matches('"'))
            .and_then(|v| v.parse::<u64>().ok());
        match given {
            Some(given) if given == version => Ok(()),
            Some(given) => Err(Box::new(precondition_failed(
                &format!("The API key did not have the expected version {given}"),
                path,
            ))),
            None => Err(Box::new(bad_request(
                vec![("If-Match".into(), "must be an integer version".into())],
                path,
            ))),
        }
    }

    /// `PATCH /v1/apiKeys/{key}`: a JSON merge patch (RFC 7396).
    pub(super) fn update_key(&self, request: &Request, path: &str) -> ResponseTemplate {
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !content_type.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/merge-patch+json")
        }) {
            return unsupported_media_type("The body must be application/merge-patch+json", path);
        }
        let body = match Self::object_body(request, path) {
            Ok(body) => body,
            Err(response) => return *response,
        };
        let key = last_segment(path);
        let mut store = self.store();
        let Some(found) = store.keys.iter_mut().find(|k| k.key == key) else {
            return not_found(path);
        };
        let mut next = found.shown().clone();
        if next.status == Status::Archived {
            return conflict("The API key is archived", path);
        }
        if let Err(response) = Self::precondition(request, next.version, path) {
            return *response;
        }
        let mut errors = Vec::new();
        let mut description = found.description.clone();
        for (name, value) in &body {
            match (name.as_str(), value) {
                ("ipRanges", Value::Null) => next.ranges.clear(),
                ("ipRanges", value) => next.ranges = self.ranges_field(value, &mut errors),
                ("permissions", value) => {
                    next.permissions = Self::permissions_field(value, &mut errors);
                }
                ("description", Value::Null) => description = None,
                ("description", value) => {
                    description = Self::description_field(value, &mut errors);
                }
                ("status", value) => match value.as_str() {
                    Some("active") => next.status = Status::Active,
                    Some("disabled") => next.status = Status::Disabled,
                    _ => errors.push(("/status".into(), "must be `active` or `disabled`".into())),
                },
                (other, _) => errors.push((format!("/{other}"), "is not a known property".into())),
            }
        }
        if !errors.is_empty() {
            return bad_request(errors, path);
        }
        let now = self.clock.now();
        next.version += 1;
        next.modified = now;
        next.from = now + Duration::from_secs(APPLY_DELAY_SECONDS);
        found.description = description;
        found.revisions.push(next);
        json(200, found.representation(false))
    }

    /// `DELETE /v1/apiKeys/{key}`: the key becomes `archived`.
    pub(super) fn delete_key(&self, request: &Request, path: &str) -> ResponseTemplate {
        let key = last_segment(path);
        let mut store = self.store();
        let Some(found) = store.keys.iter_mut().find(|k| k.key == key) else {
            return not_found(path);
        };
        let mut next = found.shown().clone();
        if next.status == Status::Archived {
            return conflict("The API key is already archived", path);
        }
        if let Err(response) = Self::precondition(request, next.version, path) {
            return *response;
        }
        let now = self.clock.now();
        next.status = Status::Archived;
        next.version += 1;
        next.modified = now;
        next.from = now + Duration::from_secs(APPLY_DELAY_SECONDS);
        found.revisions.push(next);
        ResponseTemplate::new(204)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_free_text() {
        assert!(is_free_text("Data lake API key (v2)"));
        assert!(!is_free_text(""));
        assert!(!is_free_text("no <tags>"));
        assert!(!is_free_text(&"x".repeat(161)));
        assert_eq!(last_segment("/v1/apiKeys/apk-1//"), "apk-1");
    }
}
