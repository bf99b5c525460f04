//! Proves the Monerium scenarios have teeth: with each deviation of the Monerium mock switched on
//! (one documented behaviour deliberately broken, see `src/mock/monerium.rs`), exactly the tabled
//! scenarios fail, at the tabled step, saying what broke; every other Monerium scenario still
//! passes, and no secret value leaks into a verdict.
//!
//! Every requirement of `specs/monerium.yaml` has at least one deviation here that only its
//! scenarios catch. `drops-state` breaks every redirect of `/auth`, so every scenario of the
//! authorization-code flow catches it at its first step.

mod common;

use common::verdicts::{Caught, assert_deviations_caught};

/// The failure of a scenario's authorization step when the redirect does not carry `state` back.
const NO_STATE: &[&str] = &["step 1 (authorize): the redirect carries a code but no `state`"];

/// The failure of the generated PKCE attacks when a wrong verifier gets a token.
const GENERATED_ACCEPTED: &[&str] = &[
    "step 2 (exchange a fresh code per case with the generated verifier): case ",
    "got HTTP 200, expected 400",
    "$.access_token: expected absent, found a value",
];

/// Each deviation, and the scenarios (trial, failing step 0-based, message fragments) catching it.
const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "accepts-wrong-verifier",
        &[
            (
                "monerium::authorization_code::wrong-verifier-refused",
                2,
                &[
                    "step 3 (exchange the code with it): got HTTP 200, expected 400",
                    "$.access_token: expected absent, found a value",
                    "body is not an OAuth error",
                ],
            ),
            (
                "monerium::authorization_code::challenge-as-verifier-refused",
                1,
                &[
                    "step 2 (exchange the code with the challenge as verifier): got HTTP 200, expected 400",
                    "$.access_token: expected absent, found a value",
                ],
            ),
            (
                "monerium::authorization_code::generated-pkce-attacks-refused",
                1,
                GENERATED_ACCEPTED,
            ),
        ],
    ),
    (
        "accepts-plain-pkce",
        &[
            (
                "monerium::authorization_code::plain-method-refused",
                0,
                &[
                    "header `location`: expected to match /^[^?#]+",
                    "found \"https://app.monerium.test/callback?code=[redacted:code]&state=plain-method-state\"",
                    "expected to match /[?&]error=invalid_request(?:&|$)/",
                ],
            ),
            (
                "monerium::authorization_code::missing-method-refused",
                0,
                &[
                    "header `location`: expected to match /^[^?#]+",
                    "found \"https://app.monerium.test/callback?code=[redacted:code]&state=missing-method-state\"",
                    "expected to match /[?&]error=invalid_request(?:&|$)/",
                ],
            ),
            (
                "monerium::authorization_code::generated-pkce-attacks-refused",
                1,
                &["-method: ", "got HTTP 200, expected 400"],
            ),
        ],
    ),
    (
        "redirects-unregistered-uri",
        &[
            (
                "monerium::authorization_code::unregistered-redirect-uri-not-redirected",
                0,
                &[
                    "got HTTP 302, expected 400",
                    "header `location`: expected absent, found \"https://evil.example/callback?code=[redacted:code]&state=",
                ],
            ),
            (
                "monerium::authorization_code::other-clients-redirect-uri-not-redirected",
                0,
                &[
                    "got HTTP 302, expected 400",
                    "header `location`: expected absent, found \"https://other.monerium.test/callback?code=[redacted:code]&state=",
                ],
            ),
        ],
    ),
    (
        "reusable-refresh-tokens",
        &[(
            "monerium::refresh::refresh-rotates-the-pair",
            4,
            &[
                "step 5 (refresh again with the used refresh token): got HTTP 200, expected 400",
                "$.access_token: expected absent, found a value",
            ],
        )],
    ),
    (
        "reusable-codes",
        &[(
            "monerium::authorization_code::code-is-single-use",
            2,
            &[
                "step 3 (exchange it again): got HTTP 200, expected 400",
                "$.access_token: expected absent, found a value",
            ],
        )],
    ),
    (
        "accepts-expired-tokens",
        &[
            (
                "monerium::bearer::user-token-expires-after-3600s",
                6,
                &[
                    "step 7 (read the auth context, expired): got HTTP 200, expected 401",
                    "$.message: expected to equal \"Not authenticated\", it selects nothing",
                ],
            ),
            (
                "monerium::bearer::partner-token-expires",
                2,
                &[
                    "step 3 (read the auth context with it): got HTTP 200, expected 401",
                    "$.message: expected to equal \"Not authenticated\", it selects nothing",
                ],
            ),
        ],
    ),
    (
        "accepts-wrong-basic-password",
        &[
            (
                "monerium::basic::wrong-password-refused",
                0,
                &[
                    "step 1 (GET {{api_base}}/balances): got HTTP 200, expected 401",
                    "$.code: expected to equal 401, it selects nothing",
                ],
            ),
            (
                "monerium::basic::malformed-basic-credentials-refused",
                0,
                &[
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
        ],
    ),
    (
        "drops-state",
        &[
            (
                "monerium::authorization_code::authorization-redirects-with-code-and-state",
                0,
                &[
                    "step 1 (authorize with an S256 challenge): the redirect carries a code but no `state`",
                ],
            ),
            (
                "monerium::authorization_code::code-exchanged-for-tokens",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::wrong-verifier-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::challenge-as-verifier-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::code-is-single-use",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::redirect-uri-mismatch-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::generated-pkce-attacks-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::generated-code-exchange-variants-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::authorization_code::plain-method-refused",
                0,
                &[
                    "header `location`: expected to contain \"state=plain-method-state\", found \"https://app.monerium.test/callback?error=invalid_request&",
                ],
            ),
            (
                "monerium::authorization_code::missing-method-refused",
                0,
                &[
                    "header `location`: expected to contain \"state=missing-method-state\", found \"https://app.monerium.test/callback?error=invalid_request&",
                ],
            ),
            (
                "monerium::authorization_code::unsupported-method-refused",
                0,
                &[
                    "header `location`: expected to contain \"state=unsupported-method-state\", found \"https://app.monerium.test/callback?error=invalid_request&",
                ],
            ),
            (
                "monerium::authorization_code::missing-challenge-refused",
                0,
                &[
                    "header `location`: expected to contain \"state=missing-challenge-state\", found \"https://app.monerium.test/callback?error=invalid_request&",
                ],
            ),
            ("monerium::refresh::refresh-rotates-the-pair", 0, NO_STATE),
            (
                "monerium::refresh::refresh-with-other-client-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::refresh::malformed-refresh-requests-refused",
                0,
                NO_STATE,
            ),
            (
                "monerium::refresh::other-client-refresh-tokens-refused",
                0,
                &[
                    "step 1 (authorize the other client): the redirect carries a code but no `state`",
                ],
            ),
            (
                "monerium::bearer::user-token-expires-after-3600s",
                0,
                NO_STATE,
            ),
        ],
    ),
    (
        "omits-refresh-token",
        &[
            (
                "monerium::authorization_code::code-exchanged-for-tokens",
                1,
                &[
                    "step 2 (exchange the code): $.refresh_token: expected to exist, it selects nothing",
                ],
            ),
            (
                "monerium::refresh::refresh-rotates-the-pair",
                1,
                &[
                    "step 2 (exchange the code): $.refresh_token: expected to exist, it selects nothing",
                ],
            ),
            (
                "monerium::refresh::refresh-with-other-client-refused",
                1,
                &[
                    "step 2 (exchange the code): $.refresh_token: expected to exist, it selects nothing",
                ],
            ),
            (
                "monerium::refresh::malformed-refresh-requests-refused",
                1,
                &[
                    "step 2 (exchange the code): $.refresh_token: expected to exist, it selects nothing",
                ],
            ),
            (
                "monerium::refresh::other-client-refresh-tokens-refused",
                1,
                &[
                    "step 2 (exchange the other client's code): $.refresh_token: expected to exist, it selects nothing",
                ],
            ),
        ],
    ),
    (
        "refreshes-for-other-client",
        &[
            (
                "monerium::refresh::refresh-with-other-client-refused",
                2,
                &[
                    "step 3 (refresh as the other client): got HTTP 200, expected 400",
                    "$.message: expected to equal \"Client id must be the same from previous token.\", it selects nothing",
                    "$.access_token: expected absent, found a value",
                ],
            ),
            (
                "monerium::refresh::other-client-refresh-tokens-refused",
                4,
                &[
                    "`other-client-grant: another client's `refresh_token``",
                    "got HTTP 200, expected one of 400, 401",
                ],
            ),
        ],
    ),
    (
        "requires-basic-client-auth",
        &[
            (
                "monerium::client_credentials::client-credentials-open-the-context",
                0,
                &[
                    "step 1 (obtain a token, credentials in the form body): got HTTP 401, expected 200",
                    "$.access_token: expected to exist, it selects nothing",
                ],
            ),
            (
                "monerium::bearer::partner-token-expires",
                0,
                &["step 1 (obtain a token): got HTTP 401, expected 200"],
            ),
            (
                "monerium::bearer::generated-tokens-refused",
                0,
                &["step 1 (obtain a token): got HTTP 401, expected 200"],
            ),
        ],
    ),
    (
        "accepts-wrong-client-secret",
        &[
            (
                "monerium::client_credentials::wrong-client-secret-refused",
                0,
                &[
                    "step 1 (POST {{api_base}}/auth/token): got HTTP 200, expected one of 400, 401",
                    "body: expected to match /\"error\"",
                    "$.access_token: expected absent, found a value",
                ],
            ),
            (
                "monerium::client_credentials::malformed-token-requests-refused",
                0,
                &[
                    "`wrong-client-secret (body): ",
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
        ],
    ),
    (
        "accepts-repeated-parameters",
        &[
            (
                "monerium::client_credentials::malformed-token-requests-refused",
                0,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
            (
                "monerium::refresh::malformed-refresh-requests-refused",
                2,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                    "--filter 'monerium::refresh::malformed-refresh-requests-refused' --seed ",
                ],
            ),
            (
                "monerium::refresh::other-client-refresh-tokens-refused",
                4,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                ],
            ),
            (
                "monerium::authorization_code::generated-code-exchange-variants-refused",
                2,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                ],
            ),
        ],
    ),
    (
        "accepts-verifier-of-any-length",
        &[(
            "monerium::authorization_code::generated-pkce-attacks-refused",
            1,
            &[
                "-verifier: ",
                " characters`: got HTTP 200, expected 400",
                "minimal failing case",
                "replay: authconform run --target targets/mock.yaml --filter 'monerium::authorization_code::generated-pkce-attacks-refused' --seed ",
            ],
        )],
    ),
    (
        "accepts-verifier-of-any-character",
        &[(
            "monerium::authorization_code::generated-pkce-attacks-refused",
            1,
            &["`bad-character: ", "got HTTP 200, expected 400"],
        )],
    ),
    (
        "accepts-missing-verifier",
        &[(
            "monerium::authorization_code::generated-pkce-attacks-refused",
            1,
            &[
                "`no-verifier: `code_verifier` left out`",
                "got HTTP 200, expected 400",
            ],
        )],
    ),
    (
        "redirect-uri-prefix-match",
        &[(
            "monerium::authorization_code::generated-code-exchange-variants-refused",
            2,
            &[
                "step 3 (variants of the valid code exchange are refused, each on a code of its own): case ",
                "`redirect-uri: ",
                "got HTTP 200, expected one of 400, 401",
                "$.access_token: expected absent, found a value",
                "minimal failing case",
            ],
        )],
    ),
];

#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("monerium", DEVIATIONS);
}
