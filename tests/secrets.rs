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
