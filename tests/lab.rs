//! The generic OAuth2 / HTTP-auth profile against the lab's real third-party servers (`lab/up`
//! starts them; `.ci/run` runs these with `--include-ignored`): the binary runs each lab target
//! with the secrets of `lab/credentials.env`, and every scenario's verdict is read from the
//! evidence. Conformant servers pass (skipping only what their metadata says they lack), known
//! deviations of oauth2-mock-server are waived one by one, and the misconfigured instances fail
//! exactly the scenarios their misconfiguration breaks.

mod common;

use std::collections::BTreeMap;

use common::{ROOT, Run, authconform_with_env, evidence_text};

/// The lab's throwaway credentials, as `lab/credentials.env` exports them.
fn lab_env() -> Vec<(String, String)> {
    let path = std::path::Path::new(ROOT).join("lab/credentials.env");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the lab's credentials)", path.display()));
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.trim_matches('\'').to_owned()))
        .collect()
}

/// Runs `authconform run` on the oauth2 scenarios against `target` with the lab's secrets.
fn run_lab(target: &str, extra: &[&str]) -> Run {
    let env = lab_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let mut args = vec!["run", "--target", target];
    args.extend_from_slice(extra);
    args.push("oauth2::");
    authconform_with_env(&args, &env)
}

/// Each oauth2 scenario's verdict and message, by `file::id`.
fn verdicts(run: &Run) -> BTreeMap<String, (String, String)> {
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(run)).unwrap();
    evidence["scenarios"]
        .as_array()
        .expect("scenario records")
        .iter()
        .filter_map(|s| {
            let scenario = s["trial"].as_str()?.strip_prefix("oauth2::")?;
            Some((
                scenario.to_owned(),
                (
                    s["verdict"].as_str().unwrap_or_default().to_owned(),
                    s["message"].as_str().unwrap_or_default().to_owned(),
                ),
            ))
        })
        .collect()
}

/// Asserts every scenario of `expected` ended as said (`pass`, `fail`, `waived`, or `skipped`
/// with a reason containing the text), and that every other scenario was skipped for a reason
/// containing one of `other_skips`.
fn assert_verdicts(
    run: &Run,
    expected: &[(&str, &str, &str)],
    other_skips: &[&str],
) -> BTreeMap<String, (String, String)> {
    let verdicts = verdicts(run);
    let mut problems = Vec::new();
    for (scenario, verdict, says) in expected {
        match verdicts.get(*scenario) {
            None => problems.push(format!("{scenario}: no record")),
            Some((got, message)) if got != verdict || !message.contains(says) => {
                problems.push(format!(
                    "{scenario}: {got} ({message}), expected {verdict} saying {says:?}"
                ));
            }
            Some(_) => {}
        }
    }
    for (scenario, (verdict, message)) in &verdicts {
        if expected.iter().any(|(s, _, _)| s == scenario) {
            continue;
        }
        if verdict != "skipped" || !other_skips.iter().any(|s| message.contains(s)) {
            problems.push(format!(
                "{scenario}: {verdict} ({message}), expected a skip for one of {other_skips:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}\n{}", run.dump());
    verdicts
}

/// A skip because the target leaves an input out, by the input's name.
const NOT_SUPPLIED: &str = "does not supply";

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn oidc_provider_passes_the_generic_profile() {
    let run = run_lab("targets/lab/oidc-provider.yaml", &[]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_verdicts(
        &run,
        &[
            ("discovery::metadata-names-the-issuer", "pass", ""),
            (
                "discovery::unadvertised-client-auth-refused",
                "skipped",
                "the server advertises client_secret_post",
            ),
            ("discovery::unadvertised-grant-refused", "pass", ""),
            ("client_auth::client-secret-basic", "pass", ""),
            ("client_auth::client-secret-post", "pass", ""),
            ("client_auth::wrong-secret-basic", "pass", ""),
            ("client_auth::wrong-secret-post", "pass", ""),
            ("token_errors::unsupported-grant-type", "pass", ""),
            ("token_errors::unknown-code", "pass", ""),
            ("token_errors::unknown-refresh-token", "pass", ""),
            (
                "token_errors::wrong-password",
                "skipped",
                "the server does not offer the password grant",
            ),
            ("token_errors::repeated-parameter", "pass", ""),
            (
                "authorize::unregistered-redirect-uri-not-followed",
                "pass",
                "",
            ),
            ("authorize::public-client-without-pkce-refused", "pass", ""),
            ("bearer::token-with-scope-accepted", "pass", ""),
            ("bearer::no-credentials-challenge", "pass", ""),
            ("bearer::unknown-token-refused", "pass", ""),
            ("bearer::expired-token-refused", "pass", ""),
            ("bearer::insufficient-scope", "pass", ""),
            ("revocation::revoked-token-inactive", "pass", ""),
            ("revocation::unknown-token-revocation-ok", "pass", ""),
            // Through the real login and consent forms.
            ("code_flow::code-flow-through-login", "pass", ""),
            ("code_flow::code-single-use", "pass", ""),
            ("code_flow::code-bound-to-client", "pass", ""),
            ("code_flow::code-bound-to-redirect-uri", "pass", ""),
            ("code_flow::wrong-verifier", "pass", ""),
            ("code_flow::missing-verifier", "pass", ""),
            ("code_flow::public-refresh-rotated", "pass", ""),
            // Generated tokens (opaque here) on the protected resource, and a PKCE attack per
            // case, each through its own login and consent.
            ("bearer::generated-tokens-refused", "pass", ""),
            ("code_flow::generated-pkce-attacks-refused", "pass", ""),
            // Generated variants of valid token requests, each refused.
            (
                "token_errors::malformed-basic-client-requests-refused",
                "pass",
                "",
            ),
            (
                "client_auth::malformed-post-client-requests-refused",
                "pass",
                "",
            ),
            ("code_flow::malformed-code-exchanges-refused", "pass", ""),
        ],
        // Basic and the allowlist are nginx's, not this target's.
        &[NOT_SUPPLIED],
    );
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn oauth2_mock_server_fails_only_where_waived() {
    let run = run_lab(
        "targets/lab/oauth2-mock-server.yaml",
        &["--waivers", "targets/lab/oauth2-mock-server.waivers.yaml"],
    );
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_verdicts(
        &run,
        &[
            ("discovery::metadata-names-the-issuer", "pass", ""),
            ("discovery::unadvertised-client-auth-refused", "waived", ""),
            (
                "discovery::unadvertised-grant-refused",
                "skipped",
                "the server advertises the password grant",
            ),
            ("client_auth::client-secret-basic", "pass", ""),
            (
                "client_auth::client-secret-post",
                "skipped",
                "the server offers no client_credentials grant with client_secret_post",
            ),
            ("client_auth::wrong-secret-basic", "waived", ""),
            (
                "client_auth::wrong-secret-post",
                "skipped",
                "the server offers no client_credentials grant with client_secret_post",
            ),
            ("token_errors::unsupported-grant-type", "waived", ""),
            ("token_errors::unknown-code", "waived", ""),
            (
                "token_errors::unknown-refresh-token",
                "skipped",
                "the server does not offer the refresh_token grant",
            ),
            ("token_errors::wrong-password", "waived", ""),
            ("token_errors::repeated-parameter", "pass", ""),
            (
                "authorize::unregistered-redirect-uri-not-followed",
                "waived",
                "",
            ),
            (
                "authorize::public-client-without-pkce-refused",
                "waived",
                "",
            ),
            ("revocation::revoked-token-inactive", "waived", ""),
            ("revocation::unknown-token-revocation-ok", "pass", ""),
            // It redirects at once, without a login page: the unused login is no failure.
            ("code_flow::code-flow-through-login", "pass", ""),
            ("code_flow::code-single-use", "waived", ""),
            ("code_flow::generated-pkce-attacks-refused", "waived", ""),
            ("code_flow::code-bound-to-client", "waived", ""),
            ("code_flow::code-bound-to-redirect-uri", "waived", ""),
            ("code_flow::wrong-verifier", "waived", ""),
            ("code_flow::missing-verifier", "waived", ""),
            (
                "code_flow::public-refresh-rotated",
                "skipped",
                "the server does not offer the refresh_token grant",
            ),
            (
                "token_errors::malformed-basic-client-requests-refused",
                "waived",
                "",
            ),
            (
                "client_auth::malformed-post-client-requests-refused",
                "skipped",
                "the server offers no client_credentials grant with client_secret_post",
            ),
            ("code_flow::malformed-code-exchanges-refused", "waived", ""),
        ],
        &[NOT_SUPPLIED],
    );
    // Every waiver was used: a server that started authenticating clients would say so.
    assert!(!run.stderr.contains("unused"), "{}", run.dump());
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn misconfigured_oidc_provider_fails_where_misconfigured() {
    let run = run_lab("targets/lab/oidc-provider-misconfigured.yaml", &[]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let verdicts = verdicts(&run);
    let failed: Vec<&String> = verdicts
        .iter()
        .filter(|(_, (v, _))| v == "fail")
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        failed,
        [
            "authorize::public-client-without-pkce-refused",
            "code_flow::public-refresh-rotated"
        ],
        "{}",
        run.dump()
    );
    let (_, message) = &verdicts["authorize::public-client-without-pkce-refused"];
    assert!(
        message.contains("a public client without PKCE must be refused"),
        "{message}"
    );
    let (_, message) = &verdicts["code_flow::public-refresh-rotated"];
    assert!(
        message.contains("refresh: a rotated refresh token must come back")
            && message.contains("expected to differ from the captured `first_refresh`"),
        "{message}"
    );
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn nginx_basic_and_ip_refusal_pass() {
    let run = run_lab("targets/lab/nginx.yaml", &[]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_verdicts(
        &run,
        &[
            ("basic::utf8-credentials-accepted", "pass", ""),
            ("basic::challenge-without-credentials", "pass", ""),
            ("basic::wrong-password-challenge", "pass", ""),
            ("basic::malformed-credentials-refused", "pass", ""),
            ("allowlist::unallowlisted-source-refused", "pass", ""),
            (
                "allowlist::unallowlisted-source-dropped",
                "skipped",
                "ip_drop_base",
            ),
            ("allowlist::generated-sources-refused", "pass", ""),
            (
                "allowlist::generated-sources-dropped",
                "skipped",
                "ip_drop_base",
            ),
        ],
        &[NOT_SUPPLIED],
    );
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn misconfigured_nginx_fails_the_ip_refusal() {
    let run = run_lab("targets/lab/nginx-misconfigured.yaml", &[]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    let verdicts = verdicts(&run);
    let (verdict, message) = &verdicts["allowlist::unallowlisted-source-refused"];
    assert_eq!(verdict, "fail", "{}", run.dump());
    assert!(
        message.contains("from an unallowlisted source") && message.contains("expected 403"),
        "{message}"
    );
    let (verdict, message) = &verdicts["allowlist::generated-sources-refused"];
    assert_eq!(verdict, "fail", "{}", run.dump());
    assert!(
        message.contains("the addresses just outside the allowlist")
            && message.contains("got HTTP 200, expected 403"),
        "{message}"
    );
    for basic in [
        "basic::utf8-credentials-accepted",
        "basic::challenge-without-credentials",
        "basic::wrong-password-challenge",
        "basic::malformed-credentials-refused",
    ] {
        assert_eq!(verdicts[basic].0, "pass", "{basic}: {}", run.dump());
    }
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn netns_drop_merges_with_the_loopback_run_into_one_verified_report() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let reports = dir.path().join("netns");
    let env = lab_env();
    // Inside acl-cli, sources 10.77.0.2 and 10.77.0.8/30 (allowlisted) and 10.77.0.3, .7 and .12
    // (dropped by nftables).
    let output = std::process::Command::new("ip")
        .current_dir(ROOT)
        .args(["netns", "exec", "acl-cli", common::BIN, "run"])
        .args(["--target", "targets/lab/netns.yaml", "--reports"])
        .arg(&reports)
        .arg("oauth2::")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .output()
        .expect("ip netns exec (needs root and the lab's namespaces)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let netns_evidence = reports.join("evidence.json");
    let evidence: serde_json::Value = serde_json::from_str(&common::read(&netns_evidence)).unwrap();
    let dropped = evidence["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["trial"] == "oauth2::allowlist::unallowlisted-source-dropped")
        .expect("the drop scenario's record");
    assert_eq!(dropped["verdict"], "pass", "{dropped}");
    let outcome = dropped["steps"][1]["exchanges"][0]["outcome"]
        .as_str()
        .unwrap_or_default();
    assert!(outcome.ends_with("timeout"), "{dropped}");

    let loopback = run_lab("targets/lab/nginx.yaml", &[]);
    assert_eq!(loopback.code, Some(0), "{}", loopback.dump());
    let merged = dir.path().join("merged/evidence.json");
    let merge = common::authconform(&[
        "merge",
        netns_evidence.to_str().unwrap(),
        loopback.reports.join("evidence.json").to_str().unwrap(),
        "-o",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(merge.code, Some(0), "{}", merge.dump());
    let verify = common::authconform(&["verify", merged.to_str().unwrap()]);
    assert_eq!(verify.code, Some(0), "{}", verify.dump());
    let merged: serde_json::Value = serde_json::from_str(&common::read(&merged)).unwrap();
    let status = |id: &str| {
        merged["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["status"].as_str())
            .unwrap_or_else(|| panic!("no requirement {id}"))
            .to_owned()
    };
    for id in [
        "OAUTH2-IP-01",
        "OAUTH2-IP-02",
        "OAUTH2-BASIC-01",
        "OAUTH2-BASIC-02",
        "OAUTH2-BASIC-03",
    ] {
        assert_eq!(status(id), "verified", "{id}");
    }
}

/// The lowercase hex SHA-256 of the first certificate (DER) of a PEM file.
fn pem_certificate_sha256(path: &str) -> String {
    let text = common::read(&std::path::Path::new(ROOT).join(path));
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = data_encoding::BASE64
        .decode(body.trim().as_bytes())
        .expect("a base64 certificate");
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
    data_encoding::HEXLOWER.encode(digest.as_ref())
}

#[test]
#[ignore = "needs the real servers: .ci/run starts them"]
fn nginx_over_tls_and_mtls_passes_and_records_the_servers_certificate() {
    let run = run_lab("targets/lab/nginx-https.yaml", &[]);
    assert_eq!(run.code, Some(0), "{}", run.dump());
    assert_verdicts(
        &run,
        &[
            ("basic::utf8-credentials-accepted", "pass", ""),
            ("basic::challenge-without-credentials", "pass", ""),
            ("basic::wrong-password-challenge", "pass", ""),
            ("basic::malformed-credentials-refused", "pass", ""),
            ("allowlist::unallowlisted-source-refused", "pass", ""),
            (
                "allowlist::unallowlisted-source-dropped",
                "skipped",
                "ip_drop_base",
            ),
        ],
        &[NOT_SUPPLIED],
    );
    let evidence: serde_json::Value = serde_json::from_str(&evidence_text(&run)).unwrap();
    let expected = pem_certificate_sha256("lab/.run/tls/server.pem");
    for host in ["basic_base", "ip_refuse_base"] {
        let tls = &evidence["run"]["target"]["tls"]["oauth2"][host];
        assert!(
            matches!(tls["version"].as_str(), Some("TLSv1.2" | "TLSv1.3")),
            "{host}: {tls}"
        );
        assert_eq!(
            tls["peer_certificate_sha256"],
            expected.as_str(),
            "{host}: {tls}"
        );
    }
}
