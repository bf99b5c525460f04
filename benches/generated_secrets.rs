//! Registering generated credentials as secrets: `cargo bench --bench generated_secrets`.
//!
//! A `property` step registers each case's credentials (`Change::secret_forms`) in its
//! scenario's `SecretScope` before sending it, and redacts the case's transcript through the
//! scope afterwards. For the `bearer` family every case is a new token, and a JWT's decoded
//! claims are registered beside it. This benchmark draws the 256 cases of such a step from a
//! token shaped like the mocks' access tokens (Keycloak's claims, RS256), then times, per step,
//! the work the runner does around the requests, with no network:
//!
//! - **baseline**: the cases drawn and a transcript echoing each redacted, nothing registered;
//! - **tokens only**: the same, each case's forms registered except the decoded claims;
//! - **tokens and claims**: every form `secret_forms` lists, as the runner registers them.
//!
//! Each figure is the fastest of several runs, each on a fresh run registry and scope (as a
//! scenario starts). `-- --runs N` sets how many; `cargo bench --profile dev --bench
//! generated_secrets` measures the unoptimised build `cargo test` runs.
//!
//! ```text
//! step of 256 bearer cases      fastest     ratio to baseline
//! baseline                      …
//! tokens only                   …
//! tokens and claims             …
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use authconform::auth::jwt;
use authconform::property::{self, BaseRequest, Case, Change, Judged, Seed};
use authconform::scenario::model::PropertyFamily;
use authconform::secret::{SecretRegistry, SecretScope};
use serde_json::json;

/// What a case's forms are registered as, as the runner names them.
const GENERATED: &str = "generated_credentials";

/// A token shaped like the Electrum mock's access tokens (Keycloak's claims).
fn access_token() -> String {
    let key = jwt::SigningKey::rs256_pem(jwt::TEST_RS256_PRIVATE_PEM).expect("the test key");
    let claims = json!({
        "exp": 1_900_000_300u64,
        "iat": 1_900_000_000u64,
        "jti": "4f1c2a9e-7b3d-4c8e-9a1f-2d6b8e0c5f37",
        "iss": "https://auth.example.test/auth/realms/electrum",
        "sub": "6c1e8f2a-0b9d-4e7c-8a3f-5d2b1c9e7a40",
        "typ": "Bearer",
        "azp": "electrum-client",
        "session_state": "9d3b7e1f-2c8a-4f6e-b0d5-1a7c3e9f2b84",
        "sid": "9d3b7e1f-2c8a-4f6e-b0d5-1a7c3e9f2b84",
        "scope": "profile email",
        "aud": "account",
        "preferred_username": "integration-user",
        "email_verified": false,
    });
    jwt::sign(&claims, &key).expect("the token signs")
}

/// Which forms of each case a run registers.
#[derive(Clone, Copy)]
enum Registered {
    Nothing,
    TokensOnly,
    TokensAndClaims,
}

/// Returns the forms the runner registers for `change` under `registered`.
fn forms(change: &Change, registered: Registered) -> Vec<String> {
    match registered {
        Registered::Nothing => Vec::new(),
        Registered::TokensAndClaims => change.secret_forms(),
        // A decoded claims text is the one form that starts with `{`.
        Registered::TokensOnly => change
            .secret_forms()
            .into_iter()
            .filter(|f| !f.starts_with('{'))
            .collect(),
    }
}

/// Returns the text a case's transcript holds: the request as sent and a body echoing it.
fn transcript(change: &Change) -> String {
    let sent = match change {
        Change::Authorization(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        _ => String::new(),
    };
    format!(
        "GET http://127.0.0.1:8080/moneytransfer/v2/orders?receiverId=r-1\nauthorization: [redacted]\n\
         401 {{\"errorType\":\"AUTHENTICATION_ERROR\",\"errorMessage\":\"invalid token\",\"you_sent\":\"{sent}\"}}"
    )
}

/// Times one step: the cases drawn, each case's forms registered, its transcript redacted.
fn step(runtime: &tokio::runtime::Runtime, token: &str, registered: Registered) -> Duration {
    let base = BaseRequest {
        authorization: Some(format!("Bearer {token}").into_bytes()),
        ..BaseRequest::default()
    };
    let strategy = property::family_strategy(
        PropertyFamily::Bearer,
        &[("token".to_owned(), token.to_owned())],
        &base,
    )
    .expect("a bearer strategy");
    let run = Arc::new(SecretRegistry::new());
    run.register_value("client_secret", "bench-client-secret-0a1b2c3d");
    let scope = SecretScope::new(run.clone(), run.base().as_ref());
    let start = Instant::now();
    let outcome = runtime.block_on(property::run_cases(
        &strategy,
        Seed::derive(1, "bench::bearer::generated-tokens-refused", 0),
        256,
        16,
        None,
        |case: Case| {
            let scope = &scope;
            async move {
                for form in forms(&case.change, registered) {
                    scope.register_value(GENERATED, &form);
                }
                let redacted = scope.redact(&transcript(&case.change));
                std::hint::black_box(redacted);
                Judged::<()>::Held(())
            }
        },
    ));
    let elapsed = start.elapsed();
    assert_eq!(outcome.sent, 256, "every case is judged");
    elapsed
}

fn main() {
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--runs" {
            runs = args
                .next()
                .and_then(|n| n.parse().ok())
                .expect("--runs takes a number");
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let token = access_token();
    let fastest = |registered| {
        (0..runs)
            .map(|_| step(&runtime, &token, registered))
            .min()
            .unwrap_or_default()
    };
    let baseline = fastest(Registered::Nothing);
    println!(
        "{:<30} {:>10} {:>18}",
        "step of 256 bearer cases", "fastest", "ratio to baseline"
    );
    for (label, registered) in [
        ("baseline (nothing registered)", Registered::Nothing),
        ("tokens only", Registered::TokensOnly),
        ("tokens and claims", Registered::TokensAndClaims),
    ] {
        let time = match registered {
            Registered::Nothing => baseline,
            _ => fastest(registered),
        };
        println!(
            "{label:<30} {:>8.1}ms {:>17.1}x",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
