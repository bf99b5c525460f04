//! Proves the Silverflow scenarios have teeth: each deliberately broken variant of the Silverflow
//! mock (IP ranges ignored, leaked as the reason of a 401 or stretched one address too far,
//! malformed ranges accepted, a block that also admits the address before it, only the first of
//! a key's ranges honoured; 401 and 403 swapped or a 403 that does not name the permission;
//! wildcards that grant nothing; a secret shown again, a missing `Location`, no 40-key limit, a
//! key refused past the limit but created all the same; key updates or deletions that never take
//! effect, disabled keys that work, bearer tokens that never expire or that are trusted unsigned) is caught by exactly the scenarios tabled here, at the tabled step, saying what
//! went wrong; every other Silverflow scenario still passes with it.

mod common;

use common::verdicts::{Caught, assert_deviations_caught};

const IN_RANGE_ANSWERED: &[&str] = &["got HTTP 200, expected 401"];

/// What a missing permission answered as bad credentials looks like.
const PERMISSION_AS_401: &[&str] = &[
    "got HTTP 401, expected 403",
    r#"problem `status`: expected to equal "403", found "401""#,
];

/// What a wrong secret answered as a missing permission looks like.
const CREDENTIALS_AS_403: &[&str] = &[
    "got HTTP 403, expected 401",
    r#"found "Forbidden""#,
    r#"problem `status`: expected to equal "401", found "403""#,
];

/// What a 403 whose detail does not name the permission looks like.
const GENERIC_DETAIL: &[&str] = &[
    "problem `detail`: expected to contain",
    r#"found "The server is refusing to execute the request for the current authenticated user""#,
];

const IP_REASON: &[&str] = &[
    "body differs at $['detail']",
    r#""IP not allowed for these credentials" vs "The credentials supplied"#,
];

const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "cidr-includes-previous-address",
        &[(
            "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
            3,
            &[
                "`before: 127.0.2.7, just before 127.0.2.8/29`",
                IN_RANGE_ANSWERED[0],
            ],
        )],
    ),
    (
        "checks-first-range-only",
        &[(
            "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
            2,
            &[
                "the first, last and random addresses of each block",
                "of 127.0.2.16/30`",
                "got HTTP 401, expected 200",
            ],
        )],
    ),
    (
        "ignores-ip-ranges",
        &[
            (
                "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
                3,
                &[
                    "the addresses just outside the blocks get the generic 401",
                    "got HTTP 200, expected 401",
                ],
            ),
            (
                "silverflow::ip_ranges::bearer-token-ranges",
                4,
                &[
                    "the token from another address",
                    "got HTTP 200, expected 401",
                ],
            ),
            (
                "silverflow::ip_ranges::block-boundaries",
                4,
                &[
                    "the address just past the block",
                    "got HTTP 200, expected 401",
                ],
            ),
            (
                "silverflow::ip_ranges::empty-ranges-lift-the-restriction",
                3,
                &["it is refused from outside", "got HTTP 200, expected 401"],
            ),
            (
                "silverflow::ip_ranges::single-address-range",
                3,
                &[
                    "the right secret from another address",
                    "got HTTP 200, expected 401",
                ],
            ),
        ],
    ),
    (
        "leaks-ip-reason",
        &[
            (
                "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
                3,
                &[
                    "the addresses just outside the blocks get the generic 401",
                    "differs from `bad_secret`",
                    IP_REASON[0],
                    IP_REASON[1],
                ],
            ),
            (
                "silverflow::ip_ranges::bearer-token-ranges",
                4,
                &[
                    "the token from another address",
                    "differs from `bad_token`",
                    IP_REASON[0],
                    IP_REASON[1],
                ],
            ),
            (
                "silverflow::ip_ranges::block-boundaries",
                4,
                &[
                    "the address just past the block",
                    "differs from `bad_secret`",
                    IP_REASON[0],
                    IP_REASON[1],
                ],
            ),
            (
                "silverflow::ip_ranges::single-address-range",
                3,
                &[
                    "the right secret from another address",
                    "differs from `bad_secret`",
                    IP_REASON[0],
                    IP_REASON[1],
                ],
            ),
        ],
    ),
    (
        "cidr-includes-next-address",
        &[
            (
                "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
                3,
                &[
                    "`after: 127.0.2.20, just after 127.0.2.16/30`",
                    IN_RANGE_ANSWERED[0],
                ],
            ),
            (
                "silverflow::ip_ranges::block-boundaries",
                4,
                &["the address just past the block", IN_RANGE_ANSWERED[0]],
            ),
        ],
    ),
    (
        "accepts-malformed-ranges",
        &[(
            "silverflow::ip_ranges::malformed-ranges-refused",
            0,
            &[
                "an IPv6 block",
                "got HTTP 201, expected 400",
                "$.validationErrors: expected to exist, it selects nothing",
            ],
        )],
    ),
    (
        "401-for-missing-permission",
        &[
            (
                "silverflow::lifecycle::patched-permissions-take-effect",
                1,
                PERMISSION_AS_401,
            ),
            (
                "silverflow::permissions::bearer-token-missing-permission",
                2,
                PERMISSION_AS_401,
            ),
            (
                "silverflow::permissions::least-privilege-permission-matrix",
                2,
                PERMISSION_AS_401,
            ),
            (
                "silverflow::permissions::resource-all-grants-that-resource-only",
                3,
                PERMISSION_AS_401,
            ),
            (
                "silverflow::permissions::unauthenticated-is-401-and-unauthorized-is-403",
                4,
                PERMISSION_AS_401,
            ),
        ],
    ),
    (
        "403-for-bad-credentials",
        &[
            (
                "silverflow::api_keys::wrong-secret-refused",
                1,
                CREDENTIALS_AS_403,
            ),
            (
                "silverflow::api_keys::malformed-credentials-refused",
                0,
                &[
                    "got HTTP 403, expected 401",
                    "minimal failing case",
                    "replay: authconform run --target targets/mock.yaml --filter 'silverflow::api_keys::malformed-credentials-refused' --seed ",
                ],
            ),
            (
                "silverflow::ip_ranges::block-boundaries",
                1,
                CREDENTIALS_AS_403,
            ),
            (
                "silverflow::ip_ranges::generated-sources-at-the-range-boundaries",
                1,
                CREDENTIALS_AS_403,
            ),
            (
                "silverflow::ip_ranges::single-address-range",
                1,
                CREDENTIALS_AS_403,
            ),
            (
                "silverflow::permissions::unauthenticated-is-401-and-unauthorized-is-403",
                1,
                CREDENTIALS_AS_403,
            ),
        ],
    ),
    (
        "generic-403-detail",
        &[
            (
                "silverflow::lifecycle::patched-permissions-take-effect",
                1,
                GENERIC_DETAIL,
            ),
            (
                "silverflow::permissions::bearer-token-missing-permission",
                2,
                GENERIC_DETAIL,
            ),
            (
                "silverflow::permissions::least-privilege-permission-matrix",
                2,
                GENERIC_DETAIL,
            ),
            (
                "silverflow::permissions::resource-all-grants-that-resource-only",
                3,
                GENERIC_DETAIL,
            ),
            (
                "silverflow::permissions::unauthenticated-is-401-and-unauthorized-is-403",
                4,
                GENERIC_DETAIL,
            ),
        ],
    ),
    (
        "resource-all-grants-nothing",
        &[
            (
                "silverflow::permissions::least-privilege-permission-matrix",
                3,
                &[
                    "reports:All grants reports:List",
                    "got HTTP 403, expected one of 200, 204",
                ],
            ),
            (
                "silverflow::permissions::resource-all-grants-that-resource-only",
                1,
                &[
                    "charges:All grants charges:List",
                    "got HTTP 403, expected 200",
                ],
            ),
        ],
    ),
    (
        "all-all-only-for-activation-key",
        &[(
            "silverflow::permissions::all-all-grants-everything",
            1,
            &["step 2 (charges)", "got HTTP 403, expected 200"],
        )],
    ),
    (
        "returns-secret-on-get",
        &[(
            "silverflow::api_keys::secret-is-returned-only-at-creation",
            1,
            &["read the key", "$.secret: expected absent, found a value"],
        )],
    ),
    (
        "omits-location",
        &[(
            "silverflow::api_keys::create-returns-the-documented-fields",
            0,
            &["header `location`: expected to match", "it is absent"],
        )],
    ),
    (
        "no-key-limit",
        &[(
            "silverflow::key_limit::forty-first-key-refused",
            4,
            &[
                "the next key is refused",
                "got HTTP 201, expected one of 400, 403, 409, 422",
            ],
        )],
    ),
    (
        "refused-key-still-created",
        &[(
            "silverflow::key_limit::forty-first-key-refused",
            5,
            &["the refused key was not created", "expected absent"],
        )],
    ),
    (
        "ignores-key-updates",
        &[
            (
                "silverflow::ip_ranges::empty-ranges-lift-the-restriction",
                5,
                &[
                    "it comes to work from outside",
                    "got HTTP 401, expected 200",
                    "still not met after 30 attempt(s) in a window of 5m, every 10s",
                ],
            ),
            (
                "silverflow::lifecycle::disabled-then-enabled-key",
                3,
                &[
                    "the disabled key comes to get 401",
                    "got HTTP 200, expected 401",
                    "still not met after 30 attempt(s) in a window of 5m, every 10s",
                ],
            ),
            (
                "silverflow::lifecycle::patched-permissions-take-effect",
                3,
                &[
                    "it comes to list reports",
                    "got HTTP 403, expected one of 200, 204",
                    "still not met after 30 attempt(s) in a window of 5m, every 10s",
                ],
            ),
        ],
    ),
    (
        "delete-keeps-working",
        &[(
            "silverflow::lifecycle::deleted-key-stops-working",
            3,
            &[
                "the deleted key comes to get 401",
                "got HTTP 200, expected 401",
                "still not met after 30 attempt(s) in a window of 5m, every 10s",
            ],
        )],
    ),
    (
        "accepts-disabled-keys",
        &[
            (
                "silverflow::api_keys::disabled-key-refused",
                1,
                &["use it with its secret", "got HTTP 200, expected 401"],
            ),
            (
                "silverflow::lifecycle::disabled-then-enabled-key",
                3,
                &[
                    "the disabled key comes to get 401",
                    "got HTTP 200, expected 401",
                    "still not met after 30 attempt(s) in a window of 5m, every 10s",
                ],
            ),
        ],
    ),
    (
        "bearer-never-expires",
        &[
            (
                "silverflow::bearer::bearer-token-expires",
                5,
                &["the expired token is refused", "got HTTP 200, expected 401"],
            ),
            (
                "silverflow::bearer::bearer-token-lives-30-minutes-by-default",
                4,
                &["the expired token is refused", "got HTTP 200, expected 401"],
            ),
        ],
    ),
    (
        "unsigned-tokens-trusted",
        &[(
            "silverflow::bearer::generated-tokens-refused",
            2,
            &[
                "tokens derived from it are refused",
                "minimal failing case after",
                "got HTTP 200, expected 401",
            ],
        )],
    ),
];

#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("silverflow", DEVIATIONS);
}
