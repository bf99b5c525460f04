//! The source-address families end to end on the embedded mocks: a source this machine cannot
//! bind makes the step an error naming the address (never a pass), and each lenient range or
//! allowlist check is caught by the generated cases whatever the run seed, while the conformant
//! mocks pass with every seed.

mod common;

use authconform::{Plan, Target, Verdict};
use common::verdicts::run_one as run;
use futures::future::join_all;

const SILVERFLOW: &str = "silverflow::ip_ranges::generated-sources-at-the-range-boundaries";
const ELECTRUM: &str = "electrum::allowlist::generated-sources-at-the-allowlist-boundaries";
const DEMO: &str = "demo::allowlist::generated-sources-at-the-allowlist-boundaries";

/// The seeds every verdict below must hold for: a lenient variant caught by luck is no teeth.
const SEEDS: [u64; 4] = [1, 2, 3, 0x9f3c_0000_0000_0001];

/// Plans every scenario against `target`. Loading is synchronous work: done once, before the
/// runs start, so it never holds up the mocks the runs start.
fn plan(target: Target) -> Plan {
    common::verdicts::plan(
        std::path::Path::new(common::ROOT)
            .join("scenarios")
            .as_path(),
        target,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_the_machine_cannot_bind_is_an_error_naming_it() {
    // TEST-NET-1 (RFC 5737): no interface of a test machine holds it.
    let mut target = Target::mock();
    target
        .providers
        .get_mut("demo")
        .expect("the mock target configures demo")
        .variables
        .insert("allowlist".into(), "192.0.2.8/30".into());
    let verdict = run(&plan(target), DEMO, &[], 7).await;
    match &verdict {
        Verdict::Error {
            step: Some(0),
            message,
        } => {
            assert!(message.contains("192.0.2."), "{message}");
            assert!(message.contains("could not send"), "{message}");
        }
        other => panic!("expected an error at the first step, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenient_range_checks_are_caught_whatever_the_seed() {
    // (trial, deviation, failing step, fragments of its message)
    let table: &[(&str, &str, usize, &[&str])] = &[
        (
            SILVERFLOW,
            "cidr-includes-previous-address",
            3,
            &[
                "`before: 127.0.2.7, just before 127.0.2.8/29`",
                "got HTTP 200, expected 401",
            ],
        ),
        (
            SILVERFLOW,
            "checks-first-range-only",
            2,
            &["of 127.0.2.16/30`", "got HTTP 401, expected 200"],
        ),
        (
            ELECTRUM,
            "allowlist-prefix-one-short",
            1,
            &["`before: 127.0.0.0, just before 127.0.0.1/32`", "timeout"],
        ),
    ];
    let plan = &plan(Target::mock());
    let runs = table.iter().flat_map(|(trial, deviation, _, _)| {
        SEEDS.map(|seed| async move {
            (
                *trial,
                *deviation,
                seed,
                run(plan, trial, &[deviation], seed).await,
            )
        })
    });
    for ((trial, deviation, seed, verdict), (_, _, step, fragments)) in join_all(runs)
        .await
        .into_iter()
        .zip(table.iter().flat_map(|row| SEEDS.map(|_| row)))
    {
        match &verdict {
            Verdict::Fail { step: s, message } if s == step => {
                for fragment in *fragments {
                    assert!(
                        message.contains(fragment),
                        "{trial} under {deviation}, seed {seed:x}: no {fragment:?} in\n{message}"
                    );
                }
            }
            other => {
                panic!(
                    "{trial} under {deviation}, seed {seed:x}: expected a failure at step {step}, got {other:?}"
                )
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformant_mocks_pass_whatever_the_seed() {
    let plan = &plan(Target::mock());
    let runs = [SILVERFLOW, ELECTRUM, DEMO].into_iter().flat_map(|trial| {
        SEEDS.map(|seed| async move { (trial, seed, run(plan, trial, &[], seed).await) })
    });
    for (trial, seed, verdict) in join_all(runs).await {
        assert_eq!(verdict, Verdict::Pass, "{trial}, seed {seed:x}");
    }
}

/// Serves the generic profile's IP-restricted resource as nginx's `allow`/`deny` does: 200 to the
/// sources `admits` lets in, 403 to the others, one answer per connection; returns its URL.
async fn allowlist_server(admits: fn(std::net::IpAddr) -> bool) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, peer)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let status = if admits(peer.ip()) {
                    "200 OK"
                } else {
                    "403 Forbidden"
                };
                let reply =
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                stream.write_all(reply.as_bytes()).await.ok();
            });
        }
    });
    url
}

/// A live target for the generic profile's refusing allowlist at `url`, admitting 127.0.0.1/32.
fn oauth2_target(url: &str) -> Target {
    let yaml = format!(
        r#"name: loopback-allowlist
clock: real
limits:
  request_timeout: 5s
  max_wait: 0s
sources:
  default: {{ bind: 127.0.0.1 }}
  unallowlisted: {{ bind: 127.0.0.2 }}
providers:
  oauth2:
    hosts:
      ip_refuse_base: {{ url: "{url}" }}
    paths:
      ip_path: /ip
    variables:
      ip_allowlist: 127.0.0.1/32
"#
    );
    Target::parse(std::path::Path::new("t.yaml"), &yaml)
        .unwrap_or_else(|e| panic!("{}", authconform::diagnostic::LoadErrors(e).render()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generic_refusing_allowlist_is_checked_at_its_boundaries() {
    const REFUSED: &str = "oauth2::allowlist::generated-sources-refused";
    let exact = allowlist_server(|ip| ip == std::net::Ipv4Addr::LOCALHOST).await;
    let verdict = run(&plan(oauth2_target(&exact)), REFUSED, &[], 5).await;
    assert_eq!(verdict, Verdict::Pass);
    // An allow rule one prefix bit short (127.0.0.0/31) lets 127.0.0.0 in.
    let one_short = allowlist_server(|ip| {
        matches!(ip, std::net::IpAddr::V4(v4) if v4.octets()[..3] == [127, 0, 0] && v4.octets()[3] < 2)
    })
    .await;
    let plan = plan(oauth2_target(&one_short));
    for seed in SEEDS {
        match run(&plan, REFUSED, &[], seed).await {
            Verdict::Fail { step: 1, message } => assert!(
                message.contains("`before: 127.0.0.0, just before 127.0.0.1/32`")
                    && message.contains("got HTTP 200, expected 403"),
                "seed {seed:x}: {message}"
            ),
            other => panic!("seed {seed:x}: expected a failure at step 1, got {other:?}"),
        }
    }
}

#[test]
fn ranges_that_are_not_cidr_blocks_are_located_load_errors() {
    for (ranges, expected) in [
        ("10.0.0.0/33", "found `10.0.0.0/33`"),
        ("127.0.0.1", "found `127.0.0.1`"),
        (" , ", "expected at least one CIDR block"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("demo")).unwrap();
        std::fs::write(
            dir.path().join("demo/prop.yaml"),
            format!(
                "scenarios:\n  - id: bad\n    title: bad\n    requirements: [DEMO-IP-02]\n    steps:\n      - property: {{ family: source_outside, from: {{ ranges: \"{ranges}\" }} }}\n        request: {{ url: \"{{{{api_base}}}}/v1/profile\" }}\n        expect: {{ outcome: timeout, within: 1s }}\n"
            ),
        )
        .unwrap();
        let run =
            common::authconform(&["validate", "--scenarios", &dir.path().display().to_string()]);
        assert_eq!(run.code, Some(2), "{ranges}\n{}", run.dump());
        assert!(
            run.stderr.contains(expected) && run.stderr.contains("prop.yaml:6:"),
            "{ranges}\n{}",
            run.dump()
        );
    }
}

/// The ranges come from optional target variables: a target that leaves them out skips the
/// generated scenarios with the reason, rather than running them into an error.
#[test]
fn a_target_without_the_ranges_skips_the_generated_scenarios() {
    let mut target = Target::mock();
    for (provider, names) in [
        ("electrum", &["allowlist"][..]),
        ("demo", &["allowlist"][..]),
        ("silverflow", &["probe_range", "probe_next_range"][..]),
    ] {
        let variables = &mut target.providers.get_mut(provider).unwrap().variables;
        for name in names {
            assert!(variables.shift_remove(*name).is_some(), "{provider}.{name}");
        }
    }
    let plan = plan(target);
    for (trial, name) in [
        (ELECTRUM, "allowlist"),
        (DEMO, "allowlist"),
        (SILVERFLOW, "probe_range"),
    ] {
        let planned = plan
            .scenarios
            .iter()
            .find(|s| s.trial_name() == trial)
            .unwrap();
        let reason = planned.skip.as_deref().unwrap_or_default();
        assert!(
            // The runner's tests read the demo spec with every input required.
            reason.contains("does not supply") && reason.contains(&format!("variable `{name}`")),
            "{trial}: {reason:?}"
        );
    }
}
