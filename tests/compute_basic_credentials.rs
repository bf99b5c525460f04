//! The `basic_credentials` compute op encodes RFC 7617 credentials exactly as `auth: { basic }`
//! does (UTF-8, then base64, documented vectors), so a scenario can send them under a header of
//! its choosing (Electrum's misspelt `Authorisation`); the value stays secret, and credentials
//! RFC 7617 forbids make the step an error, not a request.

mod common;

use std::path::Path;

use authconform::exec::MockOptions;
use authconform::{Runner, Target, Verdict, load_plan};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SCENARIOS: &str = r#"scenarios:
  - id: vectors
    title: RFC 7617 vectors under a misspelt header name
    requirements: [DEMO-BASIC-01]
    steps:
      - compute:
          aladdin: { basic_credentials: { username: "{{secret.username}}", password: "{{secret.password}}" } }
          pound: { basic_credentials: { username: test, password: "123£" } }
      - request:
          url: "{{echo_base}}/aladdin"
          headers: { Authorisation: "Basic {{secret.aladdin}}" }
        expect: { status: 200 }
      - request:
          url: "{{echo_base}}/pound"
          headers: { Authorisation: "Basic {{secret.pound}}" }
        expect: { status: 200 }
  - id: colon-in-user-id
    title: A user-id with a colon cannot be encoded
    requirements: [DEMO-BASIC-01]
    steps:
      - compute:
          broken: { basic_credentials: { username: "a:b", password: "{{secret.password}}" } }
"#;

#[tokio::test]
async fn basic_credentials_match_rfc_7617_and_stay_secret() {
    let server = MockServer::start().await;
    for (route, value) in [
        ("/aladdin", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ("/pound", "Basic dGVzdDoxMjPCow=="),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .and(header("authorisation", value))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("demo")).unwrap();
    std::fs::write(dir.path().join("demo/compute.yaml"), SCENARIOS).unwrap();
    let yaml = format!(
        "name: basic-credentials-test\nclock: virtual\nsources:\n  default: {{ bind: 127.0.0.1 }}\n\
         providers:\n  demo:\n    hosts:\n      echo_base: {{ url: \"{}\" }}\n    secrets:\n      \
         username: {{ value: Aladdin }}\n      password: {{ value: open sesame }}\n",
        server.uri()
    );
    let target = Target::parse(Path::new("basic-credentials-test.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e)));
    let plan = load_plan(
        common::runner_specs().path(),
        dir.path(),
        target,
        &authconform::mock::builtin(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let runner = Runner::new(
        plan.target.clone(),
        authconform::mock::builtin(),
        MockOptions::default(),
    );
    let scenario = |id: &str| {
        plan.scenarios
            .iter()
            .find(|s| s.trial_name().ends_with(id))
            .unwrap_or_else(|| panic!("no scenario `{id}`"))
    };

    let result = runner.run(scenario("vectors")).await;
    assert_eq!(result.verdict, Verdict::Pass, "{}", result.step_summary());
    let shown = format!("{}{:?}", result.step_summary(), result.steps);
    for value in ["QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "dGVzdDoxMjPCow=="] {
        assert!(!shown.contains(value), "{value} leaked into {shown}");
    }
    assert!(shown.contains("[redacted:aladdin]"), "{shown}");

    let result = runner.run(scenario("colon-in-user-id")).await;
    match &result.verdict {
        Verdict::Error {
            step: Some(0),
            message,
        } => {
            assert!(message.contains("user-id contains `:`"), "{message}");
        }
        other => panic!("expected an error at the compute step, got {other:?}"),
    }
}
