//! Proves the Pledg scenarios have teeth: with each deliberately broken behaviour of the Pledg mock
//! switched on (see `authconform::mock::pledg::DEVIATIONS`), exactly the scenarios listed here fail,
//! at the listed step, saying what the documentation expected and what came back; every other
//! Pledg scenario still passes, and no secret leaks into any verdict.

mod common;

use common::verdicts::{Caught, assert_deviations_caught};

/// Deviation → the scenarios that must catch it: trial, failing step (0-based), message fragments
/// in order.
const DEVIATIONS: &[(&str, &[Caught])] = &[
    (
        "accepts-expired-tokens",
        &[(
            "pledg::bearer::token-expires-after-600s",
            5,
            &[
                "step 6 (the expired token is refused): got HTTP 200, expected 401",
                "no `Bearer` challenge in `WWW-Authenticate`",
            ],
        )],
    ),
    (
        "accepts-any-grant-type",
        &[
            (
                "pledg::token::only-client-credentials-grant",
                0,
                &[
                    "step 1 (the password grant): got HTTP 200, expected 400",
                    "$.access_token: expected absent, found a value",
                    "body is not an OAuth error",
                ],
            ),
            (
                "pledg::token::malformed-token-requests-refused",
                0,
                &[
                    "`wrong-grant-type: ",
                    "got HTTP 200, expected one of 400, 401",
                    "minimal failing case",
                ],
            ),
        ],
    ),
    (
        "accepts-any-dashboard-password",
        &[
            (
                "pledg::basic::wrong-dashboard-credentials",
                0,
                &[
                    "step 1 (wrong password): got HTTP 200, expected 401",
                    "$.uid: expected absent, found \"mer_7f3a9c0d\"",
                    "no `Basic` challenge in `WWW-Authenticate`",
                ],
            ),
            (
                "pledg::basic::malformed-dashboard-credentials-refused",
                0,
                &[
                    "got HTTP 200, expected 401",
                    "minimal failing case",
                    "replay: authconform run --target targets/mock.yaml --filter 'pledg::basic::malformed-dashboard-credentials-refused' --seed ",
                ],
            ),
        ],
    ),
    (
        "accepts-unsigned-parameters",
        &[(
            "pledg::signature::missing-signature-refused",
            0,
            &[
                "step 1 (call the Pledg back with the parameters in the clear): got HTTP 200, expected one of 400, 401, 403, 422",
                "$.purchase: expected absent, found {",
                "\"reference\":\"order-unsigned\"",
            ],
        )],
    ),
    (
        "ignores-signature-expiry",
        &[
            (
                "pledg::signature::expired-signature-refused",
                1,
                &[
                    "step 2 (call the Pledg back with that signature): got HTTP 200, expected one of 400, 401, 403, 422",
                    "$.purchase: expected absent, found {",
                    "\"reference\":\"order-expired\"",
                ],
            ),
            (
                "pledg::signature::signature-validity-period-ends",
                2,
                &[
                    "step 3 (call the Pledg back with the stale signature): got HTTP 200, expected one of 400, 401, 403, 422",
                    "$.purchase: expected absent, found {",
                    "\"reference\":\"order-validity\"",
                ],
            ),
        ],
    ),
    (
        "accepts-alg-none-signature",
        &[
            (
                "pledg::signature::unsigned-token-refused",
                1,
                &[
                    "step 2 (call the Pledg back with the unsigned token): got HTTP 200, expected one of 400, 401, 403, 422",
                    "$.purchase: expected absent, found {",
                    "\"reference\":\"order-alg-none\"",
                ],
            ),
            (
                "pledg::signature::generated-signatures-refused",
                1,
                &[
                    "signatures derived from it are refused",
                    "alg-none: `alg: none`",
                    "got HTTP 200, expected one of 400, 401, 403, 422",
                ],
            ),
        ],
    ),
    (
        "lowercase-notification-signature",
        &[(
            "pledg::notification::notification-signature-verifies",
            2,
            &[
                "step 3 (the notification carries exactly that signature): $.signature: expected a string matching /^[0-9A-F]{64}$/, found \"",
                "$.signature: expected to equal \"",
            ],
        )],
    ),
    (
        "hmac-notification-signature",
        &[(
            "pledg::notification::notification-signature-verifies",
            2,
            &[
                "step 3 (the notification carries exactly that signature): $.signature: expected to equal \"",
            ],
        )],
    ),
    (
        "signs-every-notification-field",
        &[(
            "pledg::notification::notification-signature-verifies",
            2,
            &[
                "step 3 (the notification carries exactly that signature): $.signature: expected to equal \"",
            ],
        )],
    ),
];

#[test]
fn each_deviation_is_caught_by_exactly_the_expected_scenarios() {
    assert_deviations_caught("pledg", DEVIATIONS);
}
