//! `compute` steps derive what scenarios need to send — key hashes, signatures, PKCE values,
//! signed and forged JWTs — correctly (documented vectors), and keep the secret ones out of every
//! output.

use std::path::Path;

use authconform::auth::jwt::{self, JwtError, VerifyingKey};
use authconform::auth::{pkce, pledg};
use authconform::exec::MockOptions;
use authconform::{Runner, Target, Verdict, load_plan};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_SECRET: &str = "compute-client-secret-42";

#[tokio::test]
async fn compute_steps_derive_correct_values() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let yaml = format!(
        "name: compute-test\nclock: virtual\nsources:\n  default: {{ bind: 127.0.0.1 }}\n\
         providers:\n  demo:\n    hosts:\n      echo_base: {{ url: \"{}\" }}\n    secrets:\n      \
         client_secret: {{ value: {CLIENT_SECRET} }}\n",
        server.uri()
    );
    let target = Target::parse(Path::new("compute-test.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load_plan(
        &root.join("specs"),
        &root.join("tests/fixtures/compute"),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let result = runner.run(&plan.scenarios[0]).await;
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.step_summary());

    let requests = server.received_requests().await.unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let field = |name: &str| sent[name].as_str().unwrap().to_owned();
    // Documented vectors.
    assert_eq!(
        field("hash"),
        "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
    );
    assert_eq!(
        field("notification"),
        "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359"
    );
    assert_eq!(
        field("challenge"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    // Random ids: public, `[a-z0-9]`, of the asked length (16 by default), drawn anew each time.
    let (reference, other) = (field("reference"), field("other_reference"));
    assert_eq!((reference.len(), other.len()), (12, 16));
    for id in [&reference, &other] {
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{id}"
        );
    }
    assert!(!other.starts_with(&reference), "{reference} {other}");
    assert!(
        summary_of(&result).contains(&format!("reference = {reference}")),
        "a random id is public"
    );
    let verifier = field("verifier");
    assert_eq!(verifier.len(), 50);
    assert!(pkce::is_valid_verifier(&verifier));

    // Signed tokens verify, with claims rendered and exp on the scenario clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = jwt::verify(
        &field("signed"),
        &VerifyingKey::hs256(CLIENT_SECRET.as_bytes()),
        now,
    )
    .expect("the HS256 token verifies");
    assert_eq!(
        signed.claims["sub"],
        "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
    );
    let exp = signed.claims["exp"].as_u64().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&exp),
        "exp {exp}, now {now}"
    );

    let test_public = VerifyingKey::rs256_public_pem(jwt::TEST_RS256_PUBLIC_PEM).unwrap();
    assert!(matches!(
        jwt::verify(&field("rs_signed"), &test_public, now),
        Err(JwtError::Expired { .. })
    ));
    // Forgeries are refused for the reason they were made.
    assert_eq!(
        jwt::decode_unverified(&field("no_alg")).unwrap().header["alg"],
        "none"
    );
    assert!(
        jwt::verify(
            &field("no_alg"),
            &VerifyingKey::hs256(CLIENT_SECRET.as_bytes()),
            now
        )
        .is_err()
    );
    assert!(matches!(
        jwt::verify(&field("other_key"), &test_public, 0),
        Err(JwtError::BadSignature)
    ));
    let data = pledg::verify_parameters(&field("purchase"), CLIENT_SECRET.as_bytes(), now).unwrap();
    assert_eq!(data["reference"], "order-1");

    // Secret values never reach the transcript or the summary.
    let summary = format!("{}{:?}", result.step_summary(), result.steps);
    for secret in [
        "signed",
        "rs_signed",
        "no_alg",
        "other_key",
        "purchase",
        "verifier",
    ] {
        let value = field(secret);
        assert!(
            !summary.contains(&value),
            "`{secret}` leaked into {summary}"
        );
        for part in value.split('.').filter(|p| p.len() >= 16) {
            assert!(
                !summary.contains(part),
                "a segment of `{secret}` leaked into {summary}"
            );
        }
    }
    assert!(
        summary.contains("hash = H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"),
        "{summary}"
    );
}

fn summary_of(result: &authconform::ScenarioResult) -> String {
    format!("{}{:?}", result.step_summary(), result.steps)
}
