//! Silverflow's error replies: RFC 7807 problems sent as `application/json`, as Silverflow
//! documents, with `type` URIs under `/silverflow/problems/`.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::mock::kit::{Challenge, Problem, ReplyExt as _};

/// The body of every 401: the same whatever the reason.
pub(super) const UNAUTHENTICATED_DETAIL: &str = "The credentials supplied in the request are either missing, invalid, or not applicable in the current scope";

/// The `detail` of a 403 that names no permission (Silverflow's generic wording).
pub(super) const GENERIC_FORBIDDEN_DETAIL: &str =
    "The server is refusing to execute the request for the current authenticated user";

fn problem(status: u16, slug: &str, title: &str) -> Problem {
    Problem::new(status, &format!("/silverflow/problems/{slug}"), title)
}

/// The one 401 of every authentication failure, with a challenge for both schemes. Silverflow
/// documents two titles for it: "Authentication Required" (its problem type) and, with
/// `unauthorized_title`, "Unauthorized" (the OpenAPI's example).
pub(super) fn unauthenticated(detail: &str, unauthorized_title: bool) -> ResponseTemplate {
    let problem = if unauthorized_title {
        problem(401, "unauthorized", "Unauthorized")
    } else {
        problem(401, "authentication-required", "Authentication Required")
    };
    problem.detail(detail).json().with_challenges(&[
        Challenge::basic("Silverflow API"),
        Challenge::bearer("Silverflow API"),
    ])
}

pub(super) fn forbidden(detail: &str, instance: &str) -> ResponseTemplate {
    problem(403, "forbidden", "Forbidden")
        .detail(detail)
        .instance(instance)
        .json()
}

pub(super) fn not_found(instance: &str) -> ResponseTemplate {
    problem(404, "not-found", "Not Found")
        .detail("The entity referenced in the request could not be found")
        .instance(instance)
        .json()
}

pub(super) fn method_not_allowed(instance: &str) -> ResponseTemplate {
    problem(405, "method-not-allowed", "Method Not Allowed")
        .detail("The method is not allowed on this resource")
        .instance(instance)
        .json()
}

pub(super) fn conflict(detail: &str, instance: &str) -> ResponseTemplate {
    problem(409, "conflict", "Conflict")
        .detail(detail)
        .instance(instance)
        .json()
}

pub(super) fn precondition_failed(detail: &str, instance: &str) -> ResponseTemplate {
    problem(412, "precondition-failed", "Precondition Failed")
        .detail(detail)
        .instance(instance)
        .json()
}

pub(super) fn unsupported_media_type(detail: &str, instance: &str) -> ResponseTemplate {
    problem(415, "unsupported-media-type", "Unsupported Media Type")
        .detail(detail)
        .instance(instance)
        .json()
}

pub(super) fn internal(detail: &str, instance: &str) -> ResponseTemplate {
    problem(500, "internal", "Internal Server Error")
        .detail(detail)
        .instance(instance)
        .json()
}

/// A 400 with Silverflow's `validationErrors` (`{instancePath, message}`).
pub(super) fn bad_request(errors: Vec<(String, String)>, instance: &str) -> ResponseTemplate {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|(path, message)| json!({"instancePath": path, "message": message}))
        .collect();
    problem(400, "bad-request", "Bad Request")
        .detail("Validation errors occurred")
        .instance(instance)
        .field("validationErrors", Value::Array(errors))
        .json()
}
