//! Proves the Electrum scenarios have teeth: each deliberately broken variant of the Electrum mock
//! (an allowlist that answers instead of dropping, expired or foreign access tokens accepted, the
//! docs' `Authorisation` spelling honoured, refresh tokens that never expire, RFC 6749's statuses
//! and errors where Keycloak has its own, token responses without `no-store`, a refresh granted on
//! the client id alone, an allowlist entry applied one prefix bit short) is caught by exactly
//! the scenarios tabled here, at the tabled step, saying what went wrong; every other Electrum
//! scenario still passes with it. Each catch is a documented check's (a refusal is any 4xx where
//! only the 401 is assumed), not a difference from an assumption.

mod common;

use common::verdicts::{Caught, assert_deviations_caught};

/// What an answering allowlist looks like from a client expecting a drop.
const ANSWERED: &[&str] = &[
    "got HTTP 403, expected timeout",
    "the source was answered, so it is not being dropped",
];

const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "accepts-repeated-parameters",
        &[
            (
                "electrum::refresh::generated-refresh-grants-refused",
                1,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
            (
                "electrum::token::generated-password-grants-refused",
                0,
                &[
                    "`duplicated-parameter: `",
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
        ],
    ),
    (
        "allowlist-prefix-one-short",
        &[(
            "electrum::allowlist::generated-sources-at-the-allowlist-boundaries",
            1,
            &[
                "the addresses just outside the allowlist",
                "`before: 127.0.0.0, just before 127.0.0.1/32`",
                "got HTTP 200, expected timeout",
            ],
        )],
    ),
    (
        "answers-unallowlisted",
        &[
            (
                "electrum::allowlist::generated-sources-at-the-allowlist-boundaries",
                1,
                &[
                    "the addresses just outside the allowlist",
                    ANSWERED[0],
                    ANSWERED[1],
                ],
            ),
            (
                "electrum::allowlist::unlisted-source-times-out-on-the-api",
                1,
                ANSWERED,
            ),
            (
                "electrum::allowlist::unlisted-source-times-out-on-the-token-host",
                1,
                ANSWERED,
            ),
            (
                "electrum::allowlist::valid-token-from-unlisted-source-times-out",
                2,
                ANSWERED,
            ),
        ],
    ),
    (
        "accepts-expired-tokens",
        &[
            (
                "electrum::bearer::expired-access-token-refused",
                5,
                &[
                    "the expired token is refused",
                    "got HTTP 200, expected one of 400, 401, 403",
                ],
            ),
            (
                "electrum::refresh::refresh-issues-new-tokens",
                6,
                &[
                    "the first access token has expired",
                    "got HTTP 200, expected one of 400, 401, 403",
                ],
            ),
        ],
    ),
    (
        "accepts-foreign-tokens",
        &[
            (
                "electrum::bearer::foreign-token-refused",
                2,
                &[
                    "signed by another key",
                    "got HTTP 200, expected one of 400, 401, 403",
                ],
            ),
            (
                "electrum::bearer::tampered-token-refused",
                2,
                &[
                    "a flipped signature bit",
                    "got HTTP 200, expected one of 400, 401, 403",
                ],
            ),
            (
                "electrum::bearer::generated-tokens-refused",
                0,
                &[
                    "tokens derived from the access token are refused",
                    "got HTTP 200, expected one of 400, 401, 403",
                ],
            ),
        ],
    ),
    (
        "accepts-authorisation-spelling",
        &[(
            "electrum::basic::authorisation-spelling-is-not-authentication",
            2,
            &[
                "under Authorisation only",
                "got HTTP 200, expected one of 400, 401, 403",
            ],
        )],
    ),
    (
        "refresh-never-expires",
        &[(
            "electrum::refresh::refresh-token-expires",
            2,
            &[
                "refresh with it",
                "got HTTP 200, expected 400",
                "body is not an OAuth error",
            ],
        )],
    ),
    (
        "rfc-status-for-bad-user",
        &[(
            "electrum::token::wrong-user-password",
            0,
            &["wrong user password", "got HTTP 400, expected 401"],
        )],
    ),
    (
        "rfc-error-for-bad-client",
        &[
            (
                "electrum::token::missing-client-secret",
                0,
                &[
                    "header `www-authenticate`: expected absent",
                    r#"expected to equal "unauthorized_client", found "invalid_client""#,
                ],
            ),
            (
                "electrum::token::wrong-client-secret",
                0,
                &[
                    "header `www-authenticate`: expected absent",
                    r#"expected to equal "unauthorized_client", found "invalid_client""#,
                ],
            ),
            (
                "electrum::refresh::refresh-needs-the-client-secret",
                1,
                &[r#"expected to equal "unauthorized_client", found "invalid_client""#],
            ),
        ],
    ),
    (
        "refreshes-without-client-secret",
        &[
            (
                "electrum::refresh::generated-refresh-grants-refused",
                1,
                &[
                    "`missing-client-authentication: `client_secret` left out`",
                    "got HTTP 200, expected one of 400, 401",
                ],
            ),
            (
                "electrum::refresh::refresh-needs-the-client-secret",
                1,
                &[
                    "refresh with the client_id alone",
                    "got HTTP 200, expected 401",
                ],
            ),
        ],
    ),
    (
        "omits-no-store",
        &[
            (
                "electrum::refresh::refresh-issues-new-tokens",
                3,
                &[
                    "step 4 (refresh)",
                    r#"header `cache-control`: expected to contain "no-store", it is absent"#,
                ],
            ),
            (
                "electrum::token::password-grant-issues-tokens",
                0,
                &[
                    r#"header `cache-control`: expected to contain "no-store", it is absent"#,
                    r#"header `pragma`: expected to equal "no-cache", it is absent"#,
                ],
            ),
        ],
    ),
];

#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("electrum", DEVIATIONS);
}
