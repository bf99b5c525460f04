//! `compute` steps derive what scenarios need to send — digests, HMACs, canonical signatures,
//! PKCE values, signed and forged JWTs — correctly (known-answer vectors, and the mocks' own
//! checks), keep the secret ones out of every output, and agree with the loader on which values
//! are secret.

mod common;

use std::path::Path;

use authconform::auth::jwt::{self, JwtError, VerifyingKey};
use authconform::auth::{api_key, pkce, pledg};
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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let indented = |text: &str| {
        text.lines()
            .map(|line| format!("          {line}\n"))
            .collect::<String>()
    };
    let jwk = std::fs::read_to_string(root.join("src/auth/keys/test-rs256-private.jwk")).unwrap();
    // The key file is named relative to the target file's folder.
    let yaml = format!(
        "name: compute-test\nclock: virtual\nsources:\n  default: {{ bind: 127.0.0.1 }}\n\
         providers:\n  demo:\n    hosts:\n      echo_base: {{ url: \"{}\" }}\n    variables:\n      \
         key_file: ../src/auth/keys/test-rs256-private.pem\n    secrets:\n      \
         client_secret: {{ value: {CLIENT_SECRET} }}\n      signing_key:\n        value: |\n{}      \
         signing_jwk:\n        value: |\n{}",
        server.uri(),
        indented(jwt::TEST_RS256_PRIVATE_PEM),
        indented(&jwk),
    );
    let target = Target::parse(&root.join("tests/compute-test.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let plan = load_plan(
        common::runner_specs().path(),
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
    // Known-answer vectors.
    for (name, expected) in [
        ("hash", "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"),
        (
            "sha256_abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "sha3_abc",
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        ),
        (
            "keccak_abc",
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
        ),
        (
            "blake2b_abc",
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319",
        ),
        (
            "sha256_abc_upper",
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
        ),
        (
            "sha256_abc_base64",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        ),
        (
            "sha256_abc_base64url",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
        ),
        (
            "double_sha256_abc",
            "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
        ),
        (
            "hmac_case_1",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            "hmac_case_2",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "hmac_case_2_base64_key",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "hmac_case_6",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            "hmac512_case_2",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (
            "notification",
            "B1C777835C01CA96AC4C3097FD46A7CA49B92BE157EDE0CB3552880D12A15359",
        ),
        (
            "query_signature",
            "ff63e8eaa8b2322de82e8c02caf9ff91939eb4f01af1e9f3ad88cd0f77d0ca67",
        ),
    ] {
        assert_eq!(field(name), expected, "{name}");
    }
    // The mocks' own implementations agree with the generic ops.
    assert_eq!(
        field("hash"),
        api_key::we_platform_key_hash("ridethewaves!")
    );
    let notification = serde_json::json!({
        "created_at": "2019-04-04T12:20:34.97138Z", "error": "", "id": "test-valid",
        "reference": "PLEDG_1086986786391", "sandbox": true, "status": "completed",
    });
    assert_eq!(
        field("notification"),
        pledg::notification_signature(notification.as_object().unwrap(), "SECRET")
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
    // The same private key, from a JWK and from a PEM file.
    for (name, sub) in [("jwk_signed", "bob"), ("file_signed", "carol")] {
        let token =
            jwt::verify(&field(name), &test_public, now).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(token.header["alg"], "RS256");
        assert_eq!(token.claims["sub"], sub);
    }
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
        "jwk_signed",
        "file_signed",
        "no_alg",
        "other_key",
        "purchase",
        "verifier",
        "query_signature",
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
    assert!(
        summary.contains("query_signature = [redacted:query_signature]"),
        "{summary}"
    );
}

fn summary_of(result: &authconform::ScenarioResult) -> String {
    format!("{}{:?}", result.step_summary(), result.steps)
}

/// Loads a one-scenario plan whose compute step defines `value` with `spec`, then sends
/// `reference` to an echo endpoint; runs it when it loads. Returns the load errors, or the
/// verdict, what the endpoint received and the result's summary and steps.
async fn load_and_run(spec: &str, reference: &str) -> Result<(Verdict, String, String), String> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let yaml = format!(
        "name: compute-secrecy\nclock: virtual\nsources:\n  default: {{ bind: 127.0.0.1 }}\n\
         providers:\n  demo:\n    hosts:\n      echo_base: {{ url: \"{}\" }}\n    secrets:\n      \
         client_secret: {{ value: {CLIENT_SECRET} }}\n",
        server.uri()
    );
    let target = Target::parse(Path::new("compute-secrecy.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let scenarios = tempfile::tempdir().unwrap();
    std::fs::create_dir(scenarios.path().join("demo")).unwrap();
    std::fs::write(
        scenarios.path().join("demo/secrecy.yaml"),
        format!(
            "scenarios:\n  - id: secrecy\n    title: t\n    requirements: [DEMO-KEY-01]\n    steps:\n\
             \x20     - compute:\n          value: {spec}\n\
             \x20     - request:\n          method: POST\n          url: \"{{{{echo_base}}}}/echo\"\n\
             \x20         body: {{ raw: \"{reference}\" }}\n        expect: {{ status: 200 }}\n"
        ),
    )
    .unwrap();
    let plan = load_plan(
        common::runner_specs().path(),
        scenarios.path(),
        target,
        &authconform::mock::builtin(),
    )
    .map_err(|e| e.render())?;
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let result = runner.run(&plan.scenarios[0]).await;
    let received = server.received_requests().await.unwrap_or_default();
    let body = received
        .first()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .unwrap_or_default();
    Ok((result.verdict.clone(), body, summary_of(&result)))
}

/// The loader and the executor take a compute value's secrecy from one place
/// (`ComputeSpec::output_is_secret`): `{{secret.value}}` on a public value (a random id) is refused
/// by `validate` instead of passing it and then failing the run, and a secret value is registered
/// as one (redacted), whichever way it is referred to.
#[tokio::test]
async fn compute_secrecy_is_decided_once_for_loader_and_executor() {
    let public = [
        "{ random_id: { length: 12 } }",
        "{ digest: { of: abc, chain: [sha-256], encoding: hex } }",
        "{ hmac: { alg: sha-256, key: Jefe, message: abc, encoding: hex } }",
        "{ canonical_signature: { pairs: { a: \"1\" }, separator: \"&\", then: { digest: [sha-256] }, encoding: hex } }",
        "{ pkce_challenge: { verifier: dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk } }",
    ];
    let secret = [
        "{ digest: { of: abc, chain: [sha-256], encoding: hex, secret: true } }",
        "{ hmac: { alg: sha-256, key: Jefe, message: abc, encoding: hex, secret: true } }",
        "{ canonical_signature: { pairs: { a: \"1\" }, separator: \"&\", then: { digest: [sha-256] }, encoding: hex, secret: true } }",
        "{ pkce_challenge: { verifier: dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk, method: plain } }",
        "{ pkce_verifier: {} }",
        "{ basic_credentials: { username: u, password: p } }",
        "{ jwt_sign: { alg: HS256, key: { shared_secret: \"{{secret.client_secret}}\" } } }",
    ];
    for spec in public {
        let (verdict, body, summary) = load_and_run(spec, "{{value}}")
            .await
            .unwrap_or_else(|e| panic!("{spec} as {{{{value}}}}: {e}"));
        assert_eq!(verdict, Verdict::Pass, "{spec}: {summary}");
        assert!(
            !body.is_empty() && !body.contains("{{"),
            "{spec}: sent {body:?}"
        );
        assert!(
            summary.contains(&format!("value = {body}")),
            "{spec}: {summary}"
        );
        let refused = load_and_run(spec, "{{secret.value}}")
            .await
            .expect_err(spec);
        assert!(
            refused.contains("undefined secret `value`"),
            "{spec}: {refused}"
        );
    }
    for spec in secret {
        for reference in ["{{secret.value}}", "{{value}}"] {
            let (verdict, body, summary) = load_and_run(spec, reference)
                .await
                .unwrap_or_else(|e| panic!("{spec} as {reference}: {e}"));
            assert_eq!(verdict, Verdict::Pass, "{spec}: {summary}");
            assert!(
                !body.is_empty() && !body.contains("{{"),
                "{spec}: sent {body:?}"
            );
            assert!(
                !summary.contains(&body),
                "{spec}: {body} leaked into {summary}"
            );
            assert!(
                summary.contains("value = [redacted:value]"),
                "{spec}: {summary}"
            );
        }
    }
}

/// Bad compute specs are load errors at their position, saying what was expected.
#[tokio::test]
async fn bad_compute_specs_are_refused_at_load_time() {
    for (spec, expected) in [
        (
            "{ digest: { of: abc, chain: [], encoding: hex } }",
            "a digest chain needs at least one algorithm",
        ),
        (
            "{ digest: { of: abc, chain: [sha256], encoding: hex } }",
            "`blake2b-256`, `keccak-256`, `sha-256`, `sha3-256`",
        ),
        (
            "{ digest: { of: abc, chain: [sha-256], encoding: base32 } }",
            "`base58`, `hex`, `HEX`, `base64`, `base64url`",
        ),
        (
            "{ hmac: { alg: md5, key: k, message: m, encoding: hex } }",
            "unknown variant `md5`, expected `sha-256` or `sha-512`",
        ),
        (
            "{ canonical_signature: { pairs: { a: \"1\" }, separator: \"&\", then: { digest: [] }, encoding: hex } }",
            "a digest chain needs at least one algorithm",
        ),
        (
            "{ jwt_sign: { alg: RS256, key: { shared_secret: \"{{secret.client_secret}}\" } } }",
            "a `shared_secret` key signs `HS256`, not `RS256`",
        ),
        (
            "{ jwt_sign: { alg: HS256, key: { pem: \"{{secret.client_secret}}\" } } }",
            "a `pem` key signs `RS256`, not `HS256`",
        ),
        (
            "{ jwt_sign: { alg: RS256, key: test } }",
            "unknown variant `test`, expected one of `shared_secret`, `pem`, `jwk`, `pem_file`",
        ),
        (
            "{ we_platform_key_hash: abc }",
            "`digest`, `hmac`, `canonical_signature`",
        ),
    ] {
        let error = load_and_run(spec, "x").await.expect_err(spec);
        assert!(error.contains(expected), "{spec}: {error}");
        assert!(error.contains("secrecy.yaml:7:"), "{spec}: {error}");
    }
}

/// Key material that cannot be used ends the run as an error (could not run), never a pass,
/// and the message names the form or the file, never the key.
#[tokio::test]
async fn unusable_key_material_is_an_error_that_quotes_no_key() {
    for (spec, expected) in [
        (
            "{ jwt_sign: { alg: RS256, key: { pem: \"{{secret.client_secret}}\" } } }",
            "`pem`: invalid key: no pem private key found",
        ),
        (
            "{ jwt_sign: { alg: RS256, key: { jwk: \"{{secret.client_secret}}\" } } }",
            "`jwk`: invalid key: the jwk is not json",
        ),
        (
            "{ jwt_sign: { alg: RS256, key: { pem_file: no-such-key.pem } } }",
            "cannot read key file `no-such-key.pem`",
        ),
        (
            "{ hmac: { alg: sha-256, key: \"{{secret.client_secret}}\", key_encoding: hex, message: m, encoding: hex } }",
            "the key is not valid hexadecimal",
        ),
    ] {
        let (verdict, body, summary) = load_and_run(spec, "{{value}}")
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        let Verdict::Error { step, message } = &verdict else {
            panic!("{spec}: {verdict:?}");
        };
        assert_eq!(*step, Some(0), "{spec}");
        assert!(message.contains(expected), "{spec}: {message}");
        assert!(body.is_empty(), "{spec}: the request was sent");
        assert!(!summary.contains(CLIENT_SECRET), "{spec}: {summary}");
    }
}
