//! Proves the We.Platform scenarios have teeth: each deliberately broken variant of the
//! We.Platform mock (a secure hash on SHA3-256, the configured hash accepted as a key, a
//! case-sensitive `X-API-Key`, the admin key on privacy routes, challenges on node refusals,
//! JWTs accepted without or past `exp`, HS256 algorithm confusion, admin and privacy roles without
//! the node owner's address, refresh tokens that are not rotated, service tokens for anyone, a
//! password compared over the characters presented only, refresh tokens compared on their first
//! 32 characters) is
//! caught by exactly the scenarios tabled here, at the tabled step, saying what went wrong; every
//! other We.Platform scenario still passes with it.

mod common;

use common::verdicts::{Caught, assert_deviations_caught};

/// The default configuration's hash, which a wrong algorithm does not reproduce.
const VECTOR_MISSED: &str =
    r#"$.hash: expected to equal "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu", found"#;

/// A keyed request refused by a node that never finds the key.
const KEY_NOT_FOUND: &str = "got HTTP 403, expected 200";

const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "wrong-hash-algorithm",
        &[
            (
                "we-platform::api_key::plain-admin-key-opens-admin-routes",
                1,
                &[
                    "ask the node to hash the admin key",
                    "$.hash: expected to equal",
                ],
            ),
            (
                "we-platform::api_key::secure-hash-matches-the-published-vectors",
                0,
                &["the default configuration's key", VECTOR_MISSED],
            ),
            (
                "we-platform::jwt::any-known-role-opens-user-routes",
                1,
                &["the role user", VECTOR_MISSED],
            ),
            (
                "we-platform::auth_service::login-token-opens-the-oauth2-node",
                1,
                &["a user route of the oauth2-mode node", VECTOR_MISSED],
            ),
        ],
    ),
    (
        "accepts-key-hash-as-key",
        &[(
            "we-platform::api_key::plain-admin-key-opens-admin-routes",
            4,
            &[
                "the configured hash is not a key",
                "got HTTP 200, expected 403",
                "$.error: expected to equal 2",
            ],
        )],
    ),
    (
        "header-name-case-sensitive",
        &[
            (
                "we-platform::api_key::plain-admin-key-opens-admin-routes",
                2,
                &["the plain key in X-API-Key", KEY_NOT_FOUND],
            ),
            (
                "we-platform::api_key::lowercase-header-name-accepted",
                0,
                &["the admin key as `x-api-key`", KEY_NOT_FOUND],
            ),
            (
                "we-platform::api_key::privacy-routes-take-the-privacy-key-only",
                0,
                &["the privacy key on a privacy route", KEY_NOT_FOUND],
            ),
        ],
    ),
    (
        "admin-key-on-privacy-routes",
        &[
            (
                "we-platform::api_key::privacy-routes-take-the-privacy-key-only",
                1,
                &[
                    "the admin key on a privacy route",
                    "got HTTP 200, expected 403",
                    "$.error: expected to equal 614",
                ],
            ),
            (
                "we-platform::api_key::derived-privacy-keys-refused",
                0,
                &[
                    "`other-key: another key's secret`",
                    "got HTTP 200, expected 403",
                ],
            ),
        ],
    ),
    (
        "adds-www-authenticate",
        &[
            (
                "we-platform::api_key::wrong-admin-key-refused",
                0,
                &[r#"header `www-authenticate`: expected absent, found "ApiKey"#],
            ),
            (
                "we-platform::api_key::derived-admin-keys-refused",
                0,
                &[
                    r#"header `www-authenticate`: expected absent, found "ApiKey"#,
                    "minimal failing case",
                ],
            ),
            (
                "we-platform::api_key::missing-admin-key-refused",
                0,
                &[r#"header `www-authenticate`: expected absent, found "ApiKey"#],
            ),
            (
                "we-platform::jwt::missing-bearer-is-618",
                0,
                &[r#"header `www-authenticate`: expected absent, found "Bearer"#],
            ),
        ],
    ),
    (
        "accepts-token-without-exp",
        &[(
            "we-platform::jwt::expired-or-exp-less-token-is-619",
            3,
            &[
                "a token without exp",
                "got HTTP 200, expected 401",
                "$.error: expected to equal 619",
            ],
        )],
    ),
    (
        "ignores-expiry",
        &[
            (
                "we-platform::jwt::expired-or-exp-less-token-is-619",
                2,
                &[
                    "a token that expired five minutes ago",
                    "got HTTP 200, expected 401",
                    "$.error: expected to equal 619",
                ],
            ),
            (
                "we-platform::jwt::token-stops-working-after-exp",
                3,
                &[
                    "the expired token is refused",
                    "got HTTP 200, expected 401",
                    "$.error: expected to equal 619",
                ],
            ),
        ],
    ),
    (
        "accepts-hs256",
        &[
            (
                "we-platform::jwt::hs256-confusion-is-622",
                1,
                &[
                    "HS256 keyed with the public key",
                    "got HTTP 200, expected 401",
                    "$.error: expected to equal 622",
                ],
            ),
            (
                "we-platform::jwt::generated-tokens-refused",
                2,
                &[
                    "tokens derived from it are refused",
                    "alg-confusion: HS256 signed with the public key",
                    "got HTTP 200, expected one of 400, 401",
                ],
            ),
        ],
    ),
    (
        "ignores-owner-address",
        &[(
            "we-platform::jwt::admin-and-privacy-need-the-owner-address-636",
            1,
            &[
                "admin without addresses",
                "got HTTP 200, expected 403",
                "$.error: expected to equal 636",
            ],
        )],
    ),
    (
        "refresh-not-rotated",
        &[
            (
                "we-platform::auth_service::refresh-rotates-the-refresh-token",
                3,
                &[
                    "the used refresh token no longer works",
                    "got HTTP 200, expected one of 400, 401, 403",
                    "$.access_token: expected absent",
                ],
            ),
            (
                "we-platform::auth_service::generated-refresh-tokens-refused",
                2,
                &[
                    "generated variants of the live refresh token, and the used one, are refused",
                    "`other-value: another `refresh_token``",
                    "got HTTP 200, expected 4xx",
                    "$.access_token: expected absent",
                ],
            ),
        ],
    ),
    (
        "user-token-gets-service-token",
        &[(
            "we-platform::auth_service::service-tokens-for-the-administrator-only",
            3,
            &[
                "none for a user",
                "got HTTP 200, expected 403",
                "$.access_token: expected absent",
            ],
        )],
    ),
    (
        "password-prefix-accepted",
        &[(
            "we-platform::auth_service::generated-logins-refused",
            1,
            &[
                "generated variants of the login body are refused",
                "`password`",
                "got HTTP 200, expected 4xx",
                "minimal failing case",
            ],
        )],
    ),
    (
        "refresh-token-cut-to-32",
        &[(
            "we-platform::auth_service::generated-refresh-tokens-refused",
            2,
            &[
                "generated variants of the live refresh token, and the used one, are refused",
                "wrong-value: `refresh_token`",
                "got HTTP 200, expected 4xx",
            ],
        )],
    ),
];

#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("we-platform", DEVIATIONS);
}
