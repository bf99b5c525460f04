//! Loading time against file size: `cargo bench --bench load`.
//!
//! Generates scenario files of 500, 1,000 and 2,000 scenarios (and 10,000 scenarios spread over
//! 100 files), times `load_plan` on each (specs, parse, checks), and prints it beside a baseline
//! measured in the same run: the same text parsed into a generic YAML value by the YAML parser the
//! loader uses, with no checks. A loader that stays linear keeps the ratio flat as files grow.

use std::path::Path;
use std::time::{Duration, Instant};

use authconform::{Target, load_plan};

/// Three scenarios in the shape of `scenarios/demo/`: a token request with captures, templates
/// in URLs, headers, auth and JSON expectations. `{n}` makes each id unique.
const SCENARIOS: &str = r#"  - id: token-{n}
    title: A client_credentials token is issued and works as Bearer
    requirements: [DEMO-TOKEN-01, DEMO-BEARER-01]
    steps:
      - name: obtain a token
        request:
          method: POST
          url: "{{api_base}}/v1/token"
          token:
            grant: client_credentials
            client_id: "{{secret.client_id}}"
            client_secret: "{{secret.client_secret}}"
            client_auth: client_secret_basic
        expect:
          status: 200
          headers:
            cache-control: { equals: no-store }
          json:
            $.token_type: { equals: Bearer }
            $.expires_in: [{ gt: 0 }, { le: 300 }]
        capture:
          token: { jsonpath: $.access_token, secret: true }
      - name: call the orders API with it
        request:
          url: "{{api_base}}/v1/orders"
          auth: { bearer: "{{secret.token}}" }
        expect:
          status: 200
  - id: basic-{n}
    title: Basic credentials get the profile
    requirements: [DEMO-BASIC-01]
    steps:
      - request:
          url: "{{api_base}}/v1/profile"
          auth: { basic: { username: "{{secret.username}}", password: "{{secret.password}}" } }
        expect:
          status: 200
          headers:
            content-type: { contains: application/json }
          json:
            $.user: { equals: "{{secret.username}}" }
  - id: missing-{n}
    title: No Authorization header gets 401
    requirements: [DEMO-BASIC-02]
    steps:
      - request: { url: "{{api_base}}/v1/profile" }
        expect:
          status: 401
          headers:
            www-authenticate: [present, { contains: 'charset="UTF-8"' }]
"#;

/// Returns a scenario file holding `count` scenarios.
fn scenario_file(count: usize, first: usize) -> String {
    let mut text = String::from("scenarios:\n");
    let mut written = 0;
    let mut n = first;
    while written < count {
        for scenario in SCENARIOS.split_inclusive("\n  - id").take(count - written) {
            // `split_inclusive` moves each "\n  - id" to the end of the previous piece.
            let scenario = scenario.strip_suffix("\n  - id").unwrap_or(scenario);
            let scenario = scenario.strip_prefix("  - id").unwrap_or(scenario);
            text.push_str("  - id");
            text.push_str(&scenario.replace("{n}", &n.to_string()));
            text.push('\n');
            written += 1;
        }
        n += 1;
    }
    text
}

/// Returns the fastest of `runs` timings of `f`.
fn fastest(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let mocks = authconform::mock::builtin();
    println!(
        "{:<28} {:>12} {:>16} {:>8}",
        "scenarios", "load_plan", "parse only", "ratio"
    );
    for (files, per_file) in [(1, 500), (1, 1_000), (1, 2_000), (100, 100)] {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let provider = dir.path().join("scenarios").join("demo");
        std::fs::create_dir_all(&provider).expect("create the provider folder");
        let texts: Vec<String> = (0..files)
            .map(|f| scenario_file(per_file, f * per_file))
            .collect();
        for (f, text) in texts.iter().enumerate() {
            std::fs::write(provider.join(format!("bench-{f}.yaml")), text)
                .expect("write a scenario file");
        }
        let scenarios_dir = dir.path().join("scenarios");
        let load = fastest(3, || {
            let plan = load_plan(&specs, &scenarios_dir, Target::mock(), &mocks);
            match plan {
                Ok(plan) => assert_eq!(plan.scenarios.len(), files * per_file),
                Err(errors) => panic!("the generated scenarios must load:\n{errors}"),
            }
        });
        let parse = fastest(3, || {
            for text in &texts {
                let value: serde_yaml::Value =
                    serde_yaml::from_str(text).expect("the generated text is YAML");
                std::hint::black_box(value);
            }
        });
        let label = if files == 1 {
            format!("{per_file} in one file")
        } else {
            format!("{} in {files} files", files * per_file)
        };
        println!(
            "{label:<28} {:>10.1}ms {:>14.1}ms {:>7.1}x",
            load.as_secs_f64() * 1e3,
            parse.as_secs_f64() * 1e3,
            load.as_secs_f64() / parse.as_secs_f64()
        );
    }
}
