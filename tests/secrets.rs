//! "No secret value appears in any output": runs the real `authconform` binary against targets
//! whose secrets are unique canaries (`tests/fixtures/canary/`: every provider of
//! `targets/mock.yaml` whose mock exists), then scans stdout, stderr and every file the run wrote
//! (JUnit with its XML entities resolved, `evidence.json` with its JSON strings unescaped,
//! `summary.md`, and whatever else lands in the reports folder) for every canary and every form
//! derived from it: base64 (standard and URL-safe, with and without padding), base64 of each
//! credential pair Basic sends (`user:password`, `client_id:client_secret`, and the providers'
//! own), form-urlencoding and percent-encoding, and the
//! canary prefix itself, case-insensitively and in base64 (a prefix left behind means part of a
//! secret got through in some other form: escaped, cut, re-encoded). It also checks that no
//! `access_token` value shows unredacted.
//!
//! Each run is also checked positively (transcripts printed, `[redacted:NAME]` present where a
//! secret reached a sink), so the scan cannot pass vacuously.
//!
//! The `no_leak_*` tests replay paths by which secrets once escaped (see
//! `tests/fixtures/canary/leak-paths/README.md`): each must stay closed.
//!
//! `every_derived_form_reflected_by_a_server_is_redacted_in_every_sink` runs a live target
//! against a loopback server written here that reflects its canaries in every derived form
//! (in `Location` and other headers, in bodies, JSON-escaped once to three times as httpbin
//! echoes, inside longer base64 blobs at each alignment, and across the transcript's 2,048-byte
//! and a failure message's 120-character cut), then scans every output for each form, for the
//! canaries' start and end in any case or inside decoded base64 or hex, and for markers cut
//! short. It also checks the exact path a secret templated into the URL arrived at.

use std::collections::BTreeSet;
use std::path::Path;
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use common::{ROOT, Run, authconform};

/// Characters of context shown on each side of a finding.
const CONTEXT: usize = 80;
/// Length of the demo mock's access tokens (32 random bytes, URL-safe base64 without padding).
const TOKEN_LEN: usize = 43;

/// The canary target (targets/mock.yaml with canary secrets).
const CANARY_TARGET: &str = "tests/fixtures/canary/target.yaml";
/// Scenarios that fail or cannot run with secrets in their messages.
const CANARY_SCENARIOS: &str = "tests/fixtures/canary/scenarios";
/// Every secret of `CANARY_TARGET` starts with this; nothing else in the fixtures contains it.
const MARKER: &str = "CANARY-7f3a-";
/// The secrets of `CANARY_TARGET`, by name (demo first: its pairs are the ones `needles` derives).
const CANARIES: &[(&str, &str)] = &[
    ("username", "CANARY-7f3a-user"),
    ("password", "CANARY-7f3a-pass:wörd"),
    ("client_id", "CANARY-7f3a-client"),
    ("client_secret", "CANARY-7f3a-client-secret"),
    ("api_key", "CANARY-7f3a-api-key"),
    ("username", "CANARY-7f3a-elec-user"),
    ("password", "CANARY-7f3a-elec-pass:ÿ"),
    ("client_id", "CANARY-7f3a-elec-client"),
    ("client_secret", "CANARY-7f3a-elec-client-secret"),
    ("api_key", "CANARY-7f3a-pledg-api-key"),
    ("api_secret", "CANARY-7f3a-pledg-api-secret"),
    ("dashboard_email", "CANARY-7f3a-pledg-merchant@pledg.test"),
    ("dashboard_password", "CANARY-7f3a-pledg-dash:pass"),
    ("merchant_secret", "CANARY-7f3a-pledg-merchant-secret"),
    ("email", "CANARY-7f3a-mo-user@monerium.test"),
    ("password", "CANARY-7f3a-mo-pass:wörd"),
    ("cc_client_id", "CANARY-7f3a-mo-cc-client"),
    ("cc_client_secret", "CANARY-7f3a-mo-cc-client-secret"),
    // A Silverflow key id has the documented shape `apk-<letters and digits>`, so this one
    // cannot start with the marker; it is scanned for by value and derived forms.
    ("admin_key", "apk-CANARY7f3aSfAdminKey"),
    ("admin_secret", "CANARY-7f3a-sf-admin-secret:wörd"),
    ("api_key", "CANARY-7f3a-we-api-key"),
    ("privacy_api_key", "CANARY-7f3a-we-privacy-key"),
    ("admin_login", "CANARY-7f3a-we-admin@we-platform.test"),
    ("admin_password", "CANARY-7f3a-we-admin-pass:ÿ"),
    ("user_login", "CANARY-7f3a-we-user@we-platform.test"),
    ("user_password", "CANARY-7f3a-we-user-pass:wörd"),
];

/// How many of `CANARIES` are the demo provider's (the failing fixtures are demo scenarios).
const DEMO_CANARIES: usize = 5;

/// The other providers' credential pairs that travel as Basic `user:password`.
const CANARY_PAIRS: &[(&str, &str)] = &[
    ("CANARY-7f3a-elec-user", "CANARY-7f3a-elec-pass:ÿ"),
    ("CANARY-7f3a-elec-client", "CANARY-7f3a-elec-client-secret"),
    ("CANARY-7f3a-pledg-api-key", "CANARY-7f3a-pledg-api-secret"),
    (
        "CANARY-7f3a-pledg-merchant@pledg.test",
        "CANARY-7f3a-pledg-dash:pass",
    ),
    (
        "CANARY-7f3a-mo-user@monerium.test",
        "CANARY-7f3a-mo-pass:wörd",
    ),
    (
        "CANARY-7f3a-mo-cc-client",
        "CANARY-7f3a-mo-cc-client-secret",
    ),
];

/// Every needle of the canary target: each canary's forms, and every pair's.
fn canary_needles() -> Vec<Needle> {
    let mut all = needles(CANARIES, MARKER);
    for (user, password) in CANARY_PAIRS {
        let pair = format!("{user}:{password}");
        for (how, text) in [
            ("Basic base64", STANDARD.encode(&pair)),
            ("base64, no padding", STANDARD_NO_PAD.encode(&pair)),
            ("URL-safe base64, no padding", URL_SAFE_NO_PAD.encode(&pair)),
            ("plain", pair.clone()),
        ] {
            all.push(Needle {
                label: format!("pair {user}:… ({how})"),
                text,
                ignore_case: false,
            });
        }
    }
    all
}

impl Run {
    /// Every output, labelled for messages: stdout, stderr, and every file the run wrote, the JUnit
    /// file also with XML entities resolved and JSON files also as their unescaped strings (so an
    /// escaped `"`, `&` or `\` inside a secret could not hide it).
    fn outputs(&self) -> Vec<(String, String)> {
        let mut outputs = vec![
            ("stdout".to_owned(), self.stdout.clone()),
            ("stderr".to_owned(), self.stderr.clone()),
        ];
        let mut files = Vec::new();
        collect_files(&self.dir, &mut files);
        if files.is_empty() && !self.junit.is_empty() {
            // A synthetic run: its JUnit text stands for the file.
            outputs.push(("junit.xml".into(), self.junit.clone()));
            outputs.push((
                "junit.xml (entities resolved)".into(),
                xml_unescape(&self.junit),
            ));
        }
        for file in files {
            let name = file
                .strip_prefix(&self.dir)
                .unwrap_or(&file)
                .display()
                .to_string();
            let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            if name.ends_with(".xml") || name.ends_with(".html") {
                outputs.push((format!("{name} (entities resolved)"), xml_unescape(&text)));
            }
            if name.ends_with(".json") {
                let value: serde_json::Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
                let mut strings = Vec::new();
                json_strings(&value, &mut strings);
                outputs.push((format!("{name} (strings unescaped)"), strings.join("\n")));
            }
            outputs.push((name, text));
        }
        outputs
    }
}

/// Lists every file under `dir`, recursively.
fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
    out.sort();
}

/// Collects every string of a JSON document, keys included.
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

/// Resolves the five predefined XML entities (enough for junit-report's output).
fn xml_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One string that must not appear in any output.
struct Needle {
    /// What it is, e.g. `password (base64)`.
    label: String,
    text: String,
    /// Compare ASCII case-insensitively (for the marker: a lower-cased secret is still one).
    ignore_case: bool,
}

/// Percent-encodes every byte outside the RFC 3986 unreserved set (`%20` for a space).
fn percent_encode_all(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every canary and its derived forms, the Basic pairs, and the marker (plain and base64).
fn needles(canaries: &[(&str, &str)], marker: &str) -> Vec<Needle> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |label: String, text: String, ignore_case: bool| {
        if seen.insert(text.clone()) {
            out.push(Needle {
                label,
                text,
                ignore_case,
            });
        }
    };
    for (name, value) in canaries {
        push(format!("{name} (plain)"), value.to_string(), false);
        push(format!("{name} (base64)"), STANDARD.encode(value), false);
        push(
            format!("{name} (base64, no padding)"),
            STANDARD_NO_PAD.encode(value),
            false,
        );
        push(
            format!("{name} (URL-safe base64)"),
            URL_SAFE.encode(value),
            false,
        );
        push(
            format!("{name} (URL-safe base64, no padding)"),
            URL_SAFE_NO_PAD.encode(value),
            false,
        );
        push(
            format!("{name} (form-urlencoded)"),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            false,
        );
        push(
            format!("{name} (percent-encoded)"),
            percent_encode_all(value),
            false,
        );
    }
    let value = |name: &str| canaries.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    for (user, password) in [("username", "password"), ("client_id", "client_secret")] {
        let (Some(user_value), Some(password_value)) = (value(user), value(password)) else {
            continue;
        };
        let pair = format!("{user_value}:{password_value}");
        push(
            format!("{user}:{password} (Basic base64)"),
            STANDARD.encode(&pair),
            false,
        );
        push(
            format!("{user}:{password} (base64, no padding)"),
            STANDARD_NO_PAD.encode(&pair),
            false,
        );
        push(
            format!("{user}:{password} (URL-safe base64, no padding)"),
            URL_SAFE_NO_PAD.encode(&pair),
            false,
        );
        push(format!("{user}:{password} (plain)"), pair, false);
    }
    push(
        "canary prefix, any case (part of a secret in some other form)".into(),
        marker.to_owned(),
        true,
    );
    // The marker is 12 bytes: base64 of any value starting with it starts with these 16 chars.
    push(
        "canary prefix (base64 of the start of a secret)".into(),
        STANDARD_NO_PAD.encode(marker),
        false,
    );
    push(
        "canary prefix (URL-safe base64 of the start of a secret)".into(),
        URL_SAFE_NO_PAD.encode(marker),
        false,
    );
    out
}

/// Returns `text[start..end]` widened by [`CONTEXT`] bytes on each side, on char boundaries, on
/// one line (`⏎` for a line break).
fn context(text: &str, start: usize, end: usize) -> String {
    let mut from = start.saturating_sub(CONTEXT);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (end + CONTEXT).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    text[from..to].replace('\n', "⏎")
}

/// Describes every occurrence of every needle in every output.
fn find_needles(run: &Run, needles: &[Needle]) -> Vec<String> {
    let mut found = Vec::new();
    for (output, text) in run.outputs() {
        // ASCII lower-casing keeps byte offsets, so contexts line up with the original text.
        let lower = text.to_ascii_lowercase();
        for needle in needles {
            let (haystack, wanted) = if needle.ignore_case {
                (lower.as_str(), needle.text.to_ascii_lowercase())
            } else {
                (text.as_str(), needle.text.clone())
            };
            for (at, _) in haystack.match_indices(wanted.as_str()) {
                found.push(format!(
                    "{} `{}` found in {output} at byte {at}: …{}…",
                    needle.label,
                    needle.text,
                    context(&text, at, at + wanted.len())
                ));
            }
        }
    }
    found
}

/// Describes every `access_token` with a string value that is not `[redacted…`, in JSON
/// (`"access_token":"…"`, also `{:?}`-escaped or XML-escaped) or form (`access_token=…`) shape,
/// and every word shaped like one of the demo mock's random access tokens.
fn find_access_tokens(run: &Run) -> Vec<String> {
    const QUOTES: [&str; 5] = ["\\\\\\\"", "\\&quot;", "\\\"", "\"", "&quot;"];
    let strip_quote =
        |s: &str| -> Option<usize> { QUOTES.iter().find(|q| s.starts_with(**q)).map(|q| q.len()) };
    let mut found = Vec::new();
    for (output, text) in run.outputs() {
        for (at, key) in text.match_indices("access_token") {
            let mut rest = &text[at + key.len()..];
            if let Some(n) = strip_quote(rest) {
                rest = &rest[n..];
            }
            let value = if let Some(after) = rest.strip_prefix('=') {
                after
            } else if let Some(after) = rest.strip_prefix(':') {
                let after = after.trim_start_matches(' ');
                match strip_quote(after) {
                    Some(n) => &after[n..],
                    // Not a string value (e.g. `$.access_token: expected …`).
                    None => continue,
                }
            } else {
                continue;
            };
            let empty = value.is_empty() || strip_quote(value).is_some() || value.starts_with('&');
            if !empty && !value.starts_with("[redacted") {
                found.push(format!(
                    "an unredacted access_token found in {output} at byte {at}: …{}…",
                    context(&text, at, at + key.len())
                ));
            }
        }
        // The demo mock's tokens are 32 random bytes in URL-safe base64 (43 characters): catch
        // one shown without its key, e.g. as the value found by a failed `$.access_token` check.
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let mut start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (is_token_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    let word = &text[s..i];
                    // A PKCE S256 challenge has the same shape, and is public by design
                    // (RFC 7636 4.2); a `plain` one is the verifier and is redacted as such.
                    let challenge = text[..s].ends_with("code_challenge=");
                    if !challenge
                        && word.len() == TOKEN_LEN
                        && word.chars().any(|c| c.is_ascii_uppercase())
                        && word.chars().any(|c| c.is_ascii_lowercase())
                        && word.chars().any(|c| c.is_ascii_digit())
                    {
                        found.push(format!(
                            "a string shaped like a demo access token found in {output} at byte {s}: …{}…",
                            context(&text, s, i)
                        ));
                    }
                    start = None;
                }
                _ => {}
            }
        }
    }
    found
}

/// Panics, listing every finding, when any needle or unredacted access token appears.
fn assert_no_leak(run: &Run, needles: &[Needle]) {
    let mut found = find_needles(run, needles);
    found.extend(find_access_tokens(run));
    assert!(
        found.is_empty(),
        "{} secret leak(s):\n  {}\n\n{}",
        found.len(),
        found.join("\n  "),
        run.dump()
    );
}

#[test]
fn the_scanners_find_what_they_look_for() {
    // The scan itself must be able to fail: feed it every needle and some tokens.
    let all = needles(CANARIES, MARKER);
    let text: String = all
        .iter()
        .map(|n| format!("<{}>", n.text))
        .collect::<Vec<_>>()
        .join("\n");
    let run = Run::synthetic(
        text,
        "cannot build the request: builder error for url (canary-7f3a-pass:w%C3%B6rd)".into(),
        concat!(
            r#"found "{\"access_token\":\"abc\"}" "#,
            r#"{"access_token": "def"} access_token=ghi "#,
            r#"{"access_token":"[redacted]"} $.access_token: expected to exist "#,
            r#"&quot;access_token&quot;:&quot;jkl&quot;"#,
            " found \"ozL_UMJ-NJQ7brtSSuqfV17_E9rkGOc5uwavWf7OOlU\" ",
            " demo::leak::secrets-in-query-and-body-checks-1234567890 ",
        )
        .into(),
    );
    let found = find_needles(&run, &all);
    for needle in &all {
        assert!(
            found.iter().any(|f| f.starts_with(&needle.label)),
            "not found: {}",
            needle.label
        );
    }
    assert!(
        found.iter().any(|f| f.contains("in stderr")),
        "a lower-cased secret is not found: {found:#?}"
    );
    let tokens = find_access_tokens(&run);
    let count = |prefix: &str| tokens.iter().filter(|t| t.starts_with(prefix)).count();
    // abc, def, ghi and jkl, in the JUnit text and again with its entities resolved; not the
    // `[redacted]` one nor `$.access_token: expected …`.
    assert_eq!(count("an unredacted access_token"), 8, "{tokens:#?}");
    // The bare token, twice likewise; not the 43-character lower-case scenario name.
    assert_eq!(
        count("a string shaped like a demo access token"),
        2,
        "{tokens:#?}"
    );
    assert_eq!(tokens.len(), 10, "{tokens:#?}");
}

#[test]
fn the_canary_target_matches_the_canaries() {
    let text = std::fs::read_to_string(Path::new(ROOT).join(CANARY_TARGET)).unwrap();
    for (name, value) in CANARIES {
        assert!(
            text.contains(&format!("{name}: {{ value: {value} }}"))
                || text.contains(&format!("{name}: {{ value: \"{value}\" }}")),
            "{CANARY_TARGET} does not give `{name}` the value `{value}`"
        );
    }
}

#[test]
fn a_passing_verbose_run_prints_no_secret() {
    let run = authconform(&["run", "--target", CANARY_TARGET, "--verbose"]);
    assert_eq!(
        run.code,
        Some(0),
        "every scenario of every provider passes with the canary credentials\n{}",
        run.dump()
    );
    assert!(
        run.stdout.contains("against target `canary`"),
        "{}",
        run.dump()
    );
    for transcript in [
        "GET http://127.0.0.1:",
        "POST http://127.0.0.1:",
        "step 1 [ok]",
    ] {
        assert!(
            run.stdout.contains(transcript),
            "--verbose prints step transcripts (`{transcript}`)\n{}",
            run.dump()
        );
    }
    assert!(run.junit.contains("<testcase "), "{}", run.dump());
    for provider in ["demo", "electrum", "pledg", "monerium"] {
        assert!(
            run.stdout.contains(&format!("PASS {provider}::")),
            "{provider} ran with canary secrets\n{}",
            run.dump()
        );
    }
    for report in ["evidence.json", "summary.md"] {
        assert!(
            run.reports.join(report).is_file(),
            "{report}\n{}",
            run.dump()
        );
    }
    assert!(
        common::evidence_text(&run).contains("Basic [redacted]"),
        "the evidence holds transcripts\n{}",
        run.dump()
    );
    assert_no_leak(&run, &canary_needles());
}

#[test]
fn a_failing_run_whose_messages_carry_secrets_prints_none() {
    let run = authconform(&[
        "run",
        "--target",
        CANARY_TARGET,
        "--specs",
        "specs",
        "--scenarios",
        CANARY_SCENARIOS,
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    for line in [
        "FAIL demo::leak::password-as-user",
        "FAIL demo::leak::secrets-in-query-and-body-checks",
        "FAIL demo::leak::token-with-wrong-expectations",
        "ERROR demo::dns::unresolvable-host",
    ] {
        assert!(run.stdout.contains(line), "`{line}`\n{}", run.dump());
    }
    // Proof that every demo secret reached the sinks and was redacted there.
    let evidence = common::evidence_text(&run);
    for (name, _) in &CANARIES[..DEMO_CANARIES] {
        let redacted = format!("[redacted:{name}]");
        assert!(
            run.stdout.contains(&redacted),
            "stdout lacks {redacted}\n{}",
            run.dump()
        );
        assert!(
            run.junit.contains(&redacted),
            "junit.xml lacks {redacted}\n{}",
            run.dump()
        );
        assert!(
            evidence.contains(&redacted),
            "evidence.json lacks {redacted}\n{}",
            run.dump()
        );
    }
    assert_no_leak(&run, &canary_needles());
}

#[test]
fn no_leak_access_token_in_a_failed_check() {
    let run = authconform(&[
        "run",
        "--target",
        CANARY_TARGET,
        "--scenarios",
        "tests/fixtures/canary/leak-paths/access-token",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_no_leak(&run, &canary_needles());
}

#[test]
fn no_leak_generated_credentials_of_a_shrunk_failing_case() {
    let run = authconform(&[
        "run",
        "--target",
        CANARY_TARGET,
        "--scenarios",
        "tests/fixtures/canary/leak-paths/property",
        "--seed",
        "5eed",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    // The reports hold what must be scanned: both failing cases, shrunk, with their transcripts.
    let evidence = common::evidence_text(&run);
    for expected in [
        "minimal failing case after",
        "[redacted:username]",
        "Basic [redacted]",
        "--seed 0000000000005eed",
    ] {
        assert!(
            run.stdout.contains(expected) && evidence.contains(expected),
            "{expected}\n{}",
            run.dump()
        );
    }
    assert_no_leak(&run, &canary_needles());
}

#[test]
fn no_leak_secret_in_the_url_text() {
    let run = authconform(&[
        "run",
        "--target",
        CANARY_TARGET,
        "--scenarios",
        "tests/fixtures/canary/leak-paths/url-encoding",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_no_leak(&run, &canary_needles());
}

#[test]
fn no_leak_escaped_or_long_secret_in_a_failure_message() {
    let username = "CANARY-5d2b-\"quoted\"-back\\slash-user";
    let password = format!("CANARY-5d2b-long-{}-end", "x".repeat(131));
    let canaries = [
        ("username", username),
        ("password", password.as_str()),
        ("client_id", "CANARY-5d2b-client"),
        ("client_secret", "CANARY-5d2b-client-secret"),
        ("api_key", "CANARY-5d2b-api-key"),
    ];
    let run = authconform(&[
        "run",
        "--target",
        "tests/fixtures/canary/leak-paths/escapes-target.yaml",
        "--scenarios",
        "tests/fixtures/canary/leak-paths/escapes",
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_no_leak(&run, &needles(&canaries, "CANARY-5d2b-"));
}

#[test]
fn no_leak_inline_secret_in_a_target_diagnostic() {
    let mut found = Vec::new();
    for (file, value, expected) in [
        (
            "target.yaml",
            "CANARY-3e9c-live-password",
            "only for the embedded mocks",
        ),
        (
            "plain-value.yaml",
            "CANARY-3e9c-plain-password",
            "expected `{ env: VARIABLE_NAME }`",
        ),
    ] {
        let target = format!("tests/fixtures/canary/leak-paths/inline-secret/{file}");
        let run = authconform(&["validate", "--target", &target]);
        assert_eq!(run.code, Some(2), "{}", run.dump());
        assert!(run.stderr.contains(expected), "{}", run.dump());
        found.extend(
            find_needles(&run, &needles(&[("password", value)], "CANARY-3e9c-"))
                .into_iter()
                .map(|f| format!("{file}: {f}")),
        );
    }
    assert!(
        found.is_empty(),
        "{} secret leak(s):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Every derived form through every sink: a loopback server reflects canaries in every form.
// ---------------------------------------------------------------------------------------------

/// Starts every secret of the reflection canaries; nothing else in the tests contains it.
const REFLECT_PREFIX: &str = "CANARY-9c1e-";
/// Ends every secret of the reflection canaries, so a tail left after a cut is found too.
const REFLECT_TAIL: &str = "-TAIL9c1e";
/// The secrets of the reflection target (demo's names), each holding characters that encoders
/// treat differently: space, `" \ / ~ * ' ( ) ! + % & = ? # < >` and non-ASCII letters.
const REFLECT_CANARIES: &[(&str, &str)] = &[
    ("username", "CANARY-9c1e-user-TAIL9c1e"),
    (
        "password",
        "CANARY-9c1e-pa\"ss\\wörd ~*:/'()!+%&=?#<>-TAIL9c1e",
    ),
    ("client_id", "CANARY-9c1e-client-TAIL9c1e"),
    ("client_secret", "CANARY-9c1e-cl\\ient\"secret/é-TAIL9c1e"),
    ("api_key", "CANARY-9c1e-key~*'()ÿ-TAIL9c1e"),
];
/// Where the transcript cuts a body (`BODY_EXCERPT` in src/exec/mod.rs).
const TRANSCRIPT_CUT: usize = 2048;

/// Percent-encodes every byte but ASCII letters, digits and `keep`; a space as `+` when asked.
fn encode_except(value: &str, keep: &str, space_as_plus: bool) -> String {
    value
        .bytes()
        .map(|b| match b {
            b' ' if space_as_plus => "+".to_owned(),
            _ if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The contents of a JSON string holding `text` as serde_json (and JavaScript) write it.
fn json_minimal(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The contents of a JSON string holding `text` as Python's `json.dumps` writes it (non-ASCII
/// as `\uXXXX`), as httpbin answers.
fn json_python(text: &str) -> String {
    json_minimal(text)
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|u| format!("\\u{u:04x}"))
                    .collect()
            }
        })
        .collect()
}

/// Every form of `value` the reflecting server sends back and the scan looks for, labelled.
fn reflected_forms(value: &str) -> Vec<(String, String)> {
    let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
    let mut url = url::Url::parse("http://h/").unwrap();
    url.set_path(value);
    let url_path = url.path()[1..].to_owned();
    let quote_plus = encode_except(value, "-._~", true);
    let lower_escapes = {
        let mut out = quote_plus.clone();
        for b in 0..=255u8 {
            out = out.replace(&format!("%{b:02X}"), &format!("%{b:02x}"));
        }
        out
    };
    let html = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    let forms = [
        ("plain", value.to_owned()),
        ("upper-cased", value.to_uppercase()),
        ("lower-cased", value.to_lowercase()),
        ("hex", hex.clone()),
        ("hex, upper case", hex.to_uppercase()),
        ("base64", STANDARD.encode(value)),
        ("base64, no padding", STANDARD_NO_PAD.encode(value)),
        ("URL-safe base64", URL_SAFE.encode(value)),
        ("URL-safe base64, no padding", URL_SAFE_NO_PAD.encode(value)),
        (
            "form, WHATWG",
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ),
        ("form, Java URLEncoder", encode_except(value, "*-._", true)),
        ("form, Python quote_plus", quote_plus),
        ("form, PHP urlencode", encode_except(value, "-._", true)),
        ("form, lower-case escapes", lower_escapes),
        (
            "RFC 3986 (rawurlencode)",
            encode_except(value, "-._~", false),
        ),
        (
            "encodeURIComponent",
            encode_except(value, "-_.!~*'()", false),
        ),
        (
            "encodeURI",
            encode_except(value, "-_.!~*'();/?:@&=+$,#", false),
        ),
        ("URL path (url crate)", url_path),
        ("HTML-escaped", html),
        ("JSON", json_minimal(value)),
        ("JSON twice", json_minimal(&json_minimal(value))),
        (
            "JSON three times",
            json_minimal(&json_minimal(&json_minimal(value))),
        ),
        ("JSON, Python", json_python(value)),
        ("JSON, Python twice", json_python(&json_python(value))),
    ];
    forms
        .into_iter()
        .map(|(how, text)| (how.to_owned(), text))
        .collect()
}

/// Base64 blobs holding `value` after 0, 1 and 2 other bytes (each alignment modulo 3), with
/// bytes after it, in both alphabets, labelled.
fn reflected_blobs(value: &str) -> Vec<(String, String)> {
    let mut blobs = Vec::new();
    for before in ["", "a", "ab"] {
        let data = format!("{before}{value}, and more data after it");
        blobs.push((
            format!("inside base64 at offset {}", before.len()),
            STANDARD.encode(&data),
        ));
        blobs.push((
            format!("inside URL-safe base64 at offset {}", before.len()),
            URL_SAFE_NO_PAD.encode(&data),
        ));
    }
    blobs
}

/// The request a [`ReflectingServer`] received: its target (path and query) and body.
struct Received {
    target: String,
    body: String,
}

/// A loopback HTTP/1.1 server answering one request per connection: `/forms` sends every form
/// of every canary (in the body, and the ASCII ones in `Location` and other headers),
/// `/httpbin` echoes the request body as httpbin's `data` and that answer once more,
/// `/straddle/N` puts form N of the canaries across the transcript cut, `/excerpt` puts the
/// password across a failure message's cut, and anything else is answered `200 ok`.
struct ReflectingServer {
    port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReflectingServer {
    fn start() -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let received = received.clone();
                            std::thread::spawn(move || serve(stream, &received));
                        }
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

impl Drop for ReflectingServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

/// Every (label, form) the straddling bodies carry, in `/straddle/N` order.
fn straddled_forms() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, value) in REFLECT_CANARIES {
        for (how, form) in reflected_forms(value) {
            if [
                "plain",
                "hex",
                "base64",
                "form, Python quote_plus",
                "JSON twice",
            ]
            .contains(&how.as_str())
            {
                out.push((format!("{name} ({how}) across the cut"), form));
            }
        }
    }
    out
}

/// A body of about 3 KB with `form` starting before [`TRANSCRIPT_CUT`] and ending after it.
fn straddling_body(form: &str) -> String {
    let mut start = TRANSCRIPT_CUT - form.len() / 2;
    while !form.is_char_boundary(form.len() / 2) && start > 0 {
        start -= 1;
    }
    // Whitespace keeps the body from being read as a form.
    let padding = "padding \n".repeat(start / 9 + 1);
    format!("{}{form}{}", &padding[..start], "after \n".repeat(120))
}

/// The `/forms` body: every form and blob of every canary, one per line.
fn forms_body() -> String {
    let mut lines = Vec::new();
    for (name, value) in REFLECT_CANARIES {
        for (how, form) in reflected_forms(value)
            .into_iter()
            .chain(reflected_blobs(value))
        {
            lines.push(format!("{name} {how}: {form}"));
        }
    }
    lines.join("\n")
}

/// The `/excerpt` body: the password from character 110, across a message's 120-character cut.
fn excerpt_body() -> String {
    format!("{} {} after", "e".repeat(109), REFLECT_CANARIES[1].1)
}

fn serve(mut stream: std::net::TcpStream, received: &std::sync::Mutex<Vec<Received>>) {
    use std::io::{Read as _, Write as _};
    stream.set_nonblocking(false).ok();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok();
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
    let mut headers = vec![("content-type".to_owned(), "text/plain".to_owned())];
    let answer = if target == "/forms" {
        let mut location = String::from("http://127.0.0.1/callback?");
        for (name, value) in REFLECT_CANARIES {
            let mut reflected = Vec::new();
            for (how, form) in reflected_forms(value)
                .into_iter()
                .chain(reflected_blobs(value))
            {
                // Header values carry visible ASCII only.
                if form.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                    location.push_str(&format!("&{name}={form}"));
                    reflected.push(format!("{how}: {form}"));
                }
            }
            headers.push((format!("x-reflect-{name}"), reflected.join(" | ")));
        }
        headers.push(("location".into(), location));
        forms_body()
    } else if target == "/httpbin" {
        headers[0].1 = "application/json".into();
        let once = format!("{{\"data\": \"{}\"}}", json_python(&body));
        format!(
            "{{\"data\": \"{}\", \"echo\": \"{}\"}}",
            json_python(&body),
            json_python(&once)
        )
    } else if let Some(n) = target.strip_prefix("/straddle/") {
        let forms = straddled_forms();
        straddling_body(&forms[n.parse::<usize>().unwrap()].1)
    } else if target == "/excerpt" {
        excerpt_body()
    } else if target == "/issue" {
        headers[0].1 = "application/json".into();
        format!("{{\"access_token\": \"{CROSS_TOKEN}\", \"token_type\": \"Bearer\"}}")
    } else if target == "/echo-token" {
        format!(
            "someone else's token: {CROSS_TOKEN}, in base64 {}",
            STANDARD.encode(CROSS_TOKEN)
        )
    } else {
        "ok".to_owned()
    };
    received.lock().unwrap().push(Received { target, body });
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer);
    stream.write_all(response.as_bytes()).ok();
}

/// Writes `DIR/target.yaml`: a live target `name` whose `demo` provider is the reflecting server
/// on `port`, from 127.0.0.1, with `secrets` (YAML lines under the provider) appended.
fn live_target(dir: &Path, name: &str, port: u16, secrets: &str) -> std::path::PathBuf {
    let target = dir.join("target.yaml");
    std::fs::write(
        &target,
        format!(
            r#"name: {name}
clock: real
limits: {{ request_timeout: 10s }}
sources:
  default: {{ bind: 127.0.0.1 }}
providers:
  demo:
    hosts:
      api_base: {{ url: "http://127.0.0.1:{port}" }}
{secrets}"#
        ),
    )
    .unwrap();
    target
}

/// The token `/issue` hands out and `/echo-token` shows to whoever asks.
const CROSS_TOKEN: &str = "CANARY-4d2b-crossTokenOfAnotherScenario";

/// The scenarios run against the reflecting server: every form through headers and bodies, each
/// straddled form across the transcript cut, a secret in the URL path, and one failure (a
/// "body is not JSON" message quoting the password across its cut).
fn reflect_scenarios() -> String {
    let straddles: String = (0..straddled_forms().len())
        .map(|n| {
            format!(
                "      - request: {{ url: \"{{{{api_base}}}}/straddle/{n}\" }}\n        expect: {{ status: 200 }}\n"
            )
        })
        .collect();
    format!(
        r#"scenarios:
  - id: reflect-every-form
    title: The server reflects every form of every secret in headers and bodies
    requirements: [DEMO-BASIC-01]
    steps:
      - request:
          method: POST
          url: "{{{{api_base}}}}/forms"
          auth: {{ basic: {{ username: "{{{{secret.username}}}}", password: "{{{{secret.password}}}}" }} }}
          body: {{ json: {{ p: "{{{{secret.password}}}}", s: "{{{{secret.client_secret}}}}" }} }}
        expect: {{ status: 200 }}
      - request:
          method: POST
          url: "{{{{api_base}}}}/httpbin"
          body: {{ json: {{ p: "{{{{secret.password}}}}", s: "{{{{secret.client_secret}}}}", k: "{{{{secret.api_key}}}}", c: "{{{{secret.client_id}}}}" }} }}
        expect: {{ status: 200 }}
  - id: straddle-the-cut
    title: Each form crosses the transcript's 2,048-byte cut
    requirements: [DEMO-KEY-01]
    steps:
{straddles}  - id: secret-in-the-path
    title: A secret templated into the URL path arrives as itself
    requirements: [DEMO-KEY-01]
    steps:
      - request: {{ url: "{{{{api_base}}}}/path/{{{{secret.password}}}}" }}
        expect: {{ status: 200 }}
  - id: excerpt-across-the-cut
    title: A failure message quotes a body whose secret crosses the excerpt's cut (fails)
    requirements: [DEMO-KEY-01]
    steps:
      - request: {{ url: "{{{{api_base}}}}/excerpt" }}
        expect:
          status: 200
          json: {{ $.user: exists }}
"#
    )
}

/// Returns `bytes` decoded from every run of base64 (either alphabet) or hex characters in
/// `text`, from each possible starting offset, so a secret encoded anywhere inside a longer blob
/// shows up in the decoded bytes.
fn decoded_runs(text: &str) -> Vec<Vec<u8>> {
    use base64::alphabet::{STANDARD as STANDARD_ALPHABET, URL_SAFE as URL_SAFE_ALPHABET};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // Lenient: a group cut short by the run's end still decodes to its whole bytes.
    let lenient = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let engines = [
        GeneralPurpose::new(&STANDARD_ALPHABET, lenient),
        GeneralPurpose::new(&URL_SAFE_ALPHABET, lenient),
    ];
    let mut out = Vec::new();
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || "+/-_".contains(c);
    for run in text.split(|c: char| !is_b64(c)).filter(|r| r.len() >= 8) {
        for offset in 0..4 {
            let chars = &run[offset..];
            for engine in &engines {
                let mut bytes = Vec::new();
                // Decode 4 characters at a time, so one invalid group does not hide the rest.
                for group in chars.as_bytes().chunks(4).filter(|g| g.len() > 1) {
                    match engine.decode(group) {
                        Ok(decoded) => bytes.extend(decoded),
                        Err(_) => bytes.push(0),
                    }
                }
                out.push(bytes);
            }
        }
    }
    for run in text
        .split(|c: char| !c.is_ascii_hexdigit())
        .filter(|r| r.len() >= 8)
    {
        for offset in 0..2 {
            let digits = &run.as_bytes()[offset..];
            out.push(
                digits
                    .chunks_exact(2)
                    .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
                    .collect(),
            );
        }
    }
    out
}

/// Describes every reflected form of every reflection canary found in a run's outputs, every
/// trace of the canaries' start or end in any case or inside decoded base64 or hex, and every
/// redaction marker cut short.
fn find_reflected(run: &Run) -> Vec<String> {
    let mut needles = Vec::new();
    for (name, value) in REFLECT_CANARIES {
        for (how, form) in reflected_forms(value)
            .into_iter()
            .chain(reflected_blobs(value))
        {
            needles.push((format!("{name} ({how})"), form));
        }
    }
    let mut found = Vec::new();
    for (output, text) in run.outputs() {
        let text = if output.ends_with(".html (entities resolved)") {
            text.replace("&#39;", "'").replace("&#x27;", "'")
        } else {
            text
        };
        for (label, form) in &needles {
            for (at, _) in text.match_indices(form.as_str()) {
                found.push(format!(
                    "{label} found in {output} at byte {at}: …{}…",
                    context(&text, at, at + form.len())
                ));
            }
        }
        let lower = text.to_ascii_lowercase();
        for trace in [REFLECT_PREFIX, REFLECT_TAIL] {
            let wanted = trace.to_ascii_lowercase();
            for (at, _) in lower.match_indices(&wanted) {
                found.push(format!(
                    "`{trace}` (any case) found in {output} at byte {at}: …{}…",
                    context(&text, at, at + wanted.len())
                ));
            }
            for bytes in decoded_runs(&text) {
                let bytes = bytes.to_ascii_lowercase();
                if bytes.windows(wanted.len()).any(|w| w == wanted.as_bytes()) {
                    found.push(format!(
                        "`{trace}` found base64- or hex-decoded in {output}: {}",
                        String::from_utf8_lossy(&bytes)
                    ));
                }
            }
        }
        for (at, _) in text.match_indices("[redacted") {
            let rest = &text[at + "[redacted".len()..];
            let name_len = rest.strip_prefix(':').map(|r| {
                r.bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
                    .count()
            });
            let whole = rest.starts_with(']')
                || name_len.is_some_and(|n| n > 0 && rest[1 + n..].starts_with(']'));
            if !whole {
                found.push(format!(
                    "a redaction marker cut short in {output} at byte {at}: …{}…",
                    context(&text, at, at + 9)
                ));
            }
        }
    }
    found
}

#[test]
fn the_reflection_scan_finds_every_form() {
    // What the server sends, fed to the scan unredacted: every form, blob and straddled form is
    // found, and so are a cut marker and a secret's start in base64 at any alignment.
    let mut stdout = forms_body();
    for (_, form) in straddled_forms() {
        stdout.push_str(&straddling_body(&form));
    }
    let run = Run::synthetic(
        stdout,
        "[redacted:pass… and the start only: ".to_owned()
            + &STANDARD.encode(format!("xy{REFLECT_PREFIX}")),
        String::new(),
    );
    let found = find_reflected(&run);
    for (name, value) in REFLECT_CANARIES {
        for (how, _) in reflected_forms(value)
            .into_iter()
            .chain(reflected_blobs(value))
        {
            let label = format!("{name} ({how}) found");
            assert!(
                found.iter().any(|f| f.starts_with(&label)),
                "not found: {label}"
            );
        }
    }
    for expected in [
        "a redaction marker cut short in stderr",
        "`CANARY-9c1e-` found base64- or hex-decoded in stderr",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "not found: {expected}"
        );
    }
    for (_, value) in REFLECT_CANARIES {
        for (_, blob) in reflected_blobs(value) {
            let synthetic = Run::synthetic(blob, String::new(), String::new());
            let found = find_reflected(&synthetic);
            for trace in [REFLECT_PREFIX, REFLECT_TAIL] {
                let label = format!("`{trace}` found base64- or hex-decoded");
                assert!(
                    found.iter().any(|f| f.starts_with(&label)),
                    "{label}: {found:#?}"
                );
            }
        }
    }
}

#[test]
fn every_derived_form_reflected_by_a_server_is_redacted_in_every_sink() {
    let server = ReflectingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(scenarios.join("demo")).unwrap();
    std::fs::write(scenarios.join("demo/reflect.yaml"), reflect_scenarios()).unwrap();
    let target = live_target(
        dir.path(),
        "reflect",
        server.port,
        "    secrets:
      username: { env: REFLECT_USERNAME }
      password: { env: REFLECT_PASSWORD }
      client_id: { env: REFLECT_CLIENT_ID }
      client_secret: { env: REFLECT_CLIENT_SECRET }
      api_key: { env: REFLECT_API_KEY }
",
    );
    let env: Vec<(String, &str)> = REFLECT_CANARIES
        .iter()
        .map(|(name, value)| (format!("REFLECT_{}", name.to_uppercase()), *value))
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let run = common::authconform_with_env(
        &[
            "run",
            "--verbose",
            "--target",
            target.to_str().unwrap(),
            "--specs",
            "specs",
            "--scenarios",
            scenarios.to_str().unwrap(),
        ],
        &env,
    );
    // The reflection is no failure; only the scenario whose expectation is unmet fails.
    assert_eq!(run.code, Some(1), "{}", run.dump());
    for line in [
        "PASS demo::reflect::reflect-every-form",
        "PASS demo::reflect::straddle-the-cut",
        "PASS demo::reflect::secret-in-the-path",
        "FAIL demo::reflect::excerpt-across-the-cut",
    ] {
        assert!(run.stdout.contains(line), "`{line}`\n{}", run.dump());
    }
    assert!(
        !run.stderr.contains("past redaction"),
        "every sink redacted on its own, before the final byte check\n{}",
        run.dump()
    );
    for report in ["evidence.json", "evidence.html", "summary.md"] {
        assert!(
            run.reports.join(report).is_file(),
            "{report}\n{}",
            run.dump()
        );
    }
    // The secret arrived as itself: `\` not turned into `/`, `?` and `#` not ending the path.
    let received = server.received();
    let path = received
        .iter()
        .map(|r| r.target.as_str())
        .find(|t| t.starts_with("/path/"))
        .unwrap_or_else(|| panic!("no request reached /path/\n{}", run.dump()));
    assert_eq!(
        path,
        "/path/CANARY-9c1e-pa%22ss%5Cw%C3%B6rd%20~*:%2F'()!%2B%25&=%3F%23%3C%3E-TAIL9c1e"
    );
    assert!(
        received.iter().any(
            |r| r.target == "/httpbin" && r.body.contains(&json_minimal(REFLECT_CANARIES[1].1))
        ),
        "the JSON body carried the password JSON-escaped, for httpbin to escape again"
    );
    // Proof the forms reached the sinks: markers where they were, transcripts cut.
    let evidence = common::evidence_text(&run);
    for marker in [
        "[redacted:password]",
        "[redacted:api_key]",
        "[redacted:client_secret]",
    ] {
        assert!(evidence.contains(marker), "{marker}\n{}", run.dump());
    }
    assert!(
        evidence.contains("bytes in all)"),
        "the straddling bodies were cut\n{}",
        run.dump()
    );
    let found = find_reflected(&run);
    assert!(
        found.is_empty(),
        "{} leak(s):\n  {}\n\n{}",
        found.len(),
        found.join("\n  "),
        run.dump()
    );
}

/// A token one scenario captured as a secret and another scenario's response shows (the second
/// never captured it): each scenario's transcripts are redacted through its own scope, and the
/// run's registry, which every sink redacts through, still removes it from every output.
#[test]
fn a_secret_captured_by_one_scenario_is_redacted_where_another_scenario_meets_it() {
    let server = ReflectingServer::start();
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("scenarios");
    std::fs::create_dir_all(scenarios.join("demo")).unwrap();
    std::fs::write(
        scenarios.join("demo/cross.yaml"),
        r#"scenarios:
  - id: a-capture-the-token
    title: One scenario captures a token as a secret
    requirements: [DEMO-KEY-01]
    steps:
      - request: { method: POST, url: "{{api_base}}/issue" }
        expect: { status: 200 }
        capture:
          token: { jsonpath: $.access_token, secret: true }
  - id: b-meet-the-token
    title: Another scenario meets it in a response and fails quoting it
    requirements: [DEMO-KEY-01]
    steps:
      - request: { url: "{{api_base}}/echo-token" }
        expect: { status: 200, body: { contains: "no such text" } }
"#,
    )
    .unwrap();
    let target = live_target(dir.path(), "cross", server.port, "");
    let run = authconform(&[
        "run",
        "--verbose",
        "--jobs",
        "1",
        "--target",
        target.to_str().unwrap(),
        "--specs",
        "specs",
        "--scenarios",
        scenarios.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert!(
        run.stdout.contains("FAIL demo::cross::b-meet-the-token"),
        "{}",
        run.dump()
    );
    let found = find_needles(&run, &needles(&[("token", CROSS_TOKEN)], "CANARY-4d2b-"));
    assert!(found.is_empty(), "{}\n{}", found.join("\n"), run.dump());
    // Redacted, not lost: the second scenario's transcript shows where the token was.
    let evidence = std::fs::read_to_string(run.reports.join("evidence.json")).unwrap();
    let evidence: serde_json::Value = serde_json::from_str(&evidence).unwrap();
    let shown = evidence["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "b-meet-the-token")
        .map(|s| s["steps"][0]["exchanges"][0]["response_body"].to_string())
        .unwrap_or_default();
    assert!(
        shown.contains("someone else's token: [redacted:token], in base64 [redacted:token]"),
        "{shown}"
    );
}
