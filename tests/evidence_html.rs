//! The evidence page in a real browser: a hand-built [`Evidence`] (two providers, every verdict
//! and requirement status, an interrupted run, transcripts with hostile text) is rendered, then
//! opened in headless Chromium, which must screenshot it (a non-blank PNG of the window's size,
//! with the status colours on it), lay it out for print on several pages, and whose DOM must hold
//! the requirement ids, the statuses, the totals and no element the transcripts tried to inject.
//!
//! Chromium must be installed (`chromium` or `chromium-headless-shell` on PATH). The tests are
//! `#[ignore]`d with that reason, so a machine with only the Rust toolchain passes `cargo test` and
//! lists them as ignored; `.ci/run` installs Debian's `chromium` and runs them with
//! `--include-ignored`, where a missing browser fails them: they never pass unchecked.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authconform::report::evidence::{
    Evidence, ExchangeRecord, InputFile, Manifest, RequirementRecord, RunInfo, SCHEMA_VERSION,
    ScenarioKind, ScenarioRecord, ScenarioRef, StepRecord, TargetInfo, Totals,
};
use authconform::report::html;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2000;
/// One Chromium run takes 2–3 s here; past this it is hung, not slow.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(25);

/// What a hostile server or a careless spec can put into a text.
const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> ]]> &amp; \"dq\" 'sq' \
                       \u{7}\u{1b}[31m \u{202e}gnp.exe";

/// Reads a verdict, status, kind, outcome or clock from its word, as a report holds it.
fn word<T: serde::de::DeserializeOwned>(word: &str) -> T {
    serde_json::from_value(serde_json::Value::from(word)).expect("a documented word")
}

fn requirement(
    provider: &str,
    id: &str,
    kind: &str,
    status: &str,
    statement: &str,
    cited: &[(&str, &str)],
) -> RequirementRecord {
    RequirementRecord {
        id: id.into(),
        provider: provider.into(),
        statement: statement.into(),
        source: format!("{provider} API reference, \u{a7} Authentication"),
        kind: word(kind),
        status: word(status),
        scenarios: cited
            .iter()
            .map(|(trial, verdict)| ScenarioRef {
                trial: (*trial).into(),
                verdict: word(verdict),
                input: None,
            })
            .collect(),
    }
}

fn exchange(
    method: &str,
    url: &str,
    status: Option<u16>,
    outcome: &str,
    body: Option<&str>,
) -> ExchangeRecord {
    ExchangeRecord {
        method: method.into(),
        url: url.into(),
        source: Some("127.0.0.2:0".into()),
        request_headers: vec![
            ("authorization".into(), "Basic [redacted]".into()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("x-probe".into(), HOSTILE.into()),
        ],
        request_body: Some(
            "grant_type=client_credentials&scope=payments&client_secret=[redacted]".into(),
        ),
        outcome: word(outcome),
        status,
        response_headers: if status.is_some() {
            vec![
                ("content-type".into(), "application/json".into()),
                (
                    "www-authenticate".into(),
                    "Bearer error=\"invalid_token\", error_description=\"expired\"".into(),
                ),
            ]
        } else {
            vec![]
        },
        response_body: body.map(str::to_owned),
        elapsed_ms: 37,
        outcome_detail: None,
        resent: None,
        local_address: None,
    }
}

fn step(number: usize, name: &str, passed: &[&str], failed: &[&str]) -> StepRecord {
    StepRecord {
        number,
        name: name.into(),
        passed: passed.iter().map(|c| (*c).to_owned()).collect(),
        failed: failed.iter().map(|c| (*c).to_owned()).collect(),
        error: None,
        assumed: Vec::new(),
        clock: None,
        exchanges: vec![],
        cleanup: false,
        property: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn scenario(
    provider: &str,
    file: &str,
    id: &str,
    title: &str,
    requirements: &[&str],
    verdict: &str,
    message: Option<&str>,
    steps: Vec<StepRecord>,
) -> ScenarioRecord {
    let ran = !matches!(verdict, "skipped" | "not-run");
    ScenarioRecord {
        trial: format!("{provider}::{file}::{id}"),
        provider: provider.into(),
        file: format!("scenarios/{provider}/{file}.yaml"),
        id: id.into(),
        title: title.into(),
        kind: if verdict == "pass" {
            ScenarioKind::Happy
        } else {
            ScenarioKind::Negative
        },
        requirements: requirements.iter().map(|r| (*r).to_owned()).collect(),
        verdict: word(verdict),
        message: message.map(str::to_owned),
        waiver: None,
        failed_step: match verdict {
            "fail" => Some(2),
            "error" => Some(1),
            _ => None,
        },
        started: ran.then(|| "2026-12-01T09:30:01.250Z".into()),
        duration_ms: if ran { 182 } else { 0 },
        steps,
        sha256: format!("{:064x}", id.len() * 7919),
    }
}

/// Two providers, every requirement status and scenario verdict, an interrupted run.
fn evidence() -> Evidence {
    let token_url = "https://auth.electrum.example/oauth/token?audience=api&x=<1>";
    let ok = {
        let mut fetch = step(
            1,
            "client credentials token",
            &[
                "outcome is response",
                "status is 200",
                "$.token_type is Bearer",
            ],
            &[],
        );
        fetch.exchanges.push(exchange(
            "POST",
            token_url,
            Some(200),
            "response",
            Some("{\"access_token\":\"[redacted]\",\"token_type\":\"Bearer\",\"expires_in\":300}"),
        ));
        let mut call = step(2, "call the API with the token", &["status is 200"], &[]);
        call.exchanges.push(exchange(
            "GET",
            "https://api.electrum.example/v1/accounts",
            Some(200),
            "response",
            Some("{\"accounts\":[]}"),
        ));
        scenario(
            "electrum",
            "oauth2",
            "client-credentials",
            "A client with valid credentials gets a bearer token",
            &["ELEC-OAUTH-01"],
            "pass",
            None,
            vec![fetch, call],
        )
    };
    let bad = {
        let mut first = step(1, "fetch a token", &["status is 200"], &[]);
        first.exchanges.push(exchange(
            "POST",
            token_url,
            Some(200),
            "response",
            Some("{\"access_token\":\"[redacted]\"}"),
        ));
        let mut clock = step(2, "wait past expiry, call with the old token", &[], &[]);
        clock.clock = Some("advanced the virtual clock by 301s".into());
        clock.failed = vec!["status: expected 401, got 200".into()];
        clock.exchanges.push(exchange(
            "GET",
            "https://api.electrum.example/v1/accounts",
            Some(200),
            "response",
            Some(HOSTILE),
        ));
        scenario(
            "electrum",
            "oauth2",
            "expired-access-token",
            "An expired access token is refused <with 401>",
            &["ELEC-OAUTH-02"],
            "fail",
            Some(&format!(
                "step 2: status: expected 401, got 200\nbody: {HOSTILE}"
            )),
            vec![first, clock],
        )
    };
    let error = {
        let mut only = step(1, "call from an unlisted address", &[], &[]);
        only.error = Some("dns error: failed to lookup address information".into());
        only.exchanges.push(exchange(
            "GET",
            "https://api.electrum.invalid/v1/accounts",
            None,
            "other",
            None,
        ));
        scenario(
            "electrum",
            "ip",
            "unlisted-source",
            "A request from an unlisted source address is refused",
            &["ELEC-IP-02"],
            "error",
            Some("dns error: failed to lookup address information"),
            vec![only],
        )
    };
    let skipped = scenario(
        "monerium",
        "tokens",
        "refresh-after-a-day",
        "A refresh token still works after 24 hours",
        &["MON-TOKEN-03"],
        "skipped",
        Some("waits 24h, beyond the target's max_wait of 1m"),
        vec![],
    );
    let not_run = scenario(
        "monerium",
        "tokens",
        "revoked-refresh-token",
        "A revoked refresh token is refused",
        &["MON-TOKEN-04"],
        "not-run",
        Some("interrupted (SIGINT) before it started"),
        vec![],
    );
    let monerium_ok = {
        let mut only = step(1, "password grant", &["status is 200"], &[]);
        only.exchanges.push(exchange(
            "POST",
            "https://api.monerium.dev/auth/token",
            Some(200),
            "response",
            Some("{\"access_token\":\"[redacted]\"}"),
        ));
        scenario(
            "monerium",
            "tokens",
            "password-grant",
            "The password grant issues a token",
            &["MON-TOKEN-01"],
            "pass",
            None,
            vec![only],
        )
    };

    let requirements = vec![
        requirement(
            "electrum",
            "ELEC-OAUTH-01",
            "Doc",
            "verified",
            "The token endpoint issues a bearer token to a client authenticating with HTTP Basic.",
            &[("electrum::oauth2::client-credentials", "pass")],
        ),
        requirement(
            "electrum",
            "ELEC-OAUTH-02",
            "RFC",
            "failed",
            "An expired access token is refused with 401 and `error=\"invalid_token\"`.",
            &[
                ("electrum::oauth2::expired-access-token", "fail"),
                ("electrum::oauth2::client-credentials", "pass"),
            ],
        ),
        requirement(
            "electrum",
            "ELEC-IP-02",
            "Assumed",
            "error",
            "Requests from a source address outside the allow-list are refused.",
            &[("electrum::ip::unlisted-source", "error")],
        ),
        requirement(
            "electrum",
            "ELEC-IP-03",
            "Doc",
            "not-verified",
            &format!("No scenario cites this one. {HOSTILE}"),
            &[],
        ),
        requirement(
            "monerium",
            "MON-TOKEN-01",
            "Doc",
            "verified",
            "The password grant issues an access and a refresh token.",
            &[("monerium::tokens::password-grant", "pass")],
        ),
        requirement(
            "monerium",
            "MON-TOKEN-03",
            "Assumed",
            "skipped",
            "A refresh token stays valid for at least 24 hours.",
            &[("monerium::tokens::refresh-after-a-day", "skipped")],
        ),
        requirement(
            "monerium",
            "MON-TOKEN-04",
            "RFC",
            "not-verified",
            "A revoked refresh token is refused with `invalid_grant`.",
            &[("monerium::tokens::revoked-refresh-token", "not-run")],
        ),
    ];

    Evidence {
        schema: SCHEMA_VERSION.into(),
        run: RunInfo {
            tool: "authconform".into(),
            tool_version: "0.1.0".into(),
            git_commit: Some("29be78b0c0ffee00000000000000000000000000".into()),
            host: "audit-runner-01".into(),
            started: "2026-12-01T09:30:00Z".into(),
            finished: "2026-12-01T09:30:04Z".into(),
            complete: false,
            incomplete_reason: Some("interrupted (SIGINT)".into()),
            target: TargetInfo {
                name: "sandbox".into(),
                description: Some(format!("Providers' sandboxes. {HOSTILE}")),
                clock: word("real"),
                hosts: BTreeMap::from([
                    (
                        "electrum".into(),
                        BTreeMap::from([
                            ("api".into(), "https://api.electrum.example".into()),
                            ("auth".into(), "https://auth.electrum.example".into()),
                        ]),
                    ),
                    (
                        "monerium".into(),
                        BTreeMap::from([("api".into(), "https://api.monerium.dev".into())]),
                    ),
                ]),
                sources: BTreeMap::from([("office".into(), "203.0.113.7".into())]),
                allow_plain_http: BTreeMap::new(),
                defaulted: BTreeMap::new(),
                propagation: None,
                tls: BTreeMap::new(),
            },
            inputs: vec![
                InputFile {
                    path: "specs/electrum.yaml".into(),
                    sha256: "1".repeat(64),
                },
                InputFile {
                    path: "scenarios/electrum/oauth2.yaml".into(),
                    sha256: "2".repeat(64),
                },
            ],
            totals: Totals {
                passed: 2,
                failed: 1,
                errors: 1,
                skipped: 1,
                not_run: 1,
                differs_from_assumption: 0,
                waived: 0,
            },
            strict: None,
            test_run_id: None,
            merged_from: Vec::new(),
            waiver_problems: Vec::new(),
        },
        requirements,
        scenarios: vec![ok, bad, error, monerium_ok, skipped, not_run],
        manifest: Manifest {
            algorithm: "sha256".into(),
            report_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .into(),
        },
    }
}

/// Finds the browser on PATH, or fails saying how to install it.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-headless-shell"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "neither `chromium` nor `chromium-headless-shell` is on PATH, so the evidence page \
         cannot be checked in a browser: run `apt-get install chromium` (the project's .ci/run \
         installs it)"
    )
}

/// Runs headless Chromium on `page` with `args`, in its own profile, killing it past the timeout.
/// Returns its standard output.
fn headless(page: &Path, work: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir_in(work).expect("create a browser profile folder");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("chromium stdout");
    let mut stderr = child.stderr.take().expect("chromium stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium {args:?} did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap().unwrap_or_default();
    let stderr = err.join().unwrap().unwrap_or_default();
    assert!(
        status.success(),
        "chromium {args:?} failed ({status}):\n{stderr}"
    );
    stdout
}

/// Renders the evidence into `dir/evidence.html`.
fn write_page(dir: &Path) -> (PathBuf, String) {
    let html = html::render(&evidence());
    let path = dir.join("evidence.html");
    std::fs::write(&path, &html).expect("write the page");
    (path, html)
}

#[test]
#[ignore = "needs headless Chromium (Debian chromium); .ci/run installs it"]
fn chromium_is_installed() {
    let output = Command::new(chromium())
        .arg("--version")
        .output()
        .expect("run chromium --version");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("Chromium"),
        "`chromium --version` printed {:?}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
#[ignore = "needs headless Chromium (Debian chromium); .ci/run installs it"]
fn the_page_renders_in_headless_chromium_screenshot_print_and_dom() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let (page, html) = write_page(dir.path());
    let png = dir.path().join("evidence.png");
    let pdf = dir.path().join("evidence.pdf");

    // The three renderings are independent: run them side by side to keep the test short.
    let (dom, ()) = std::thread::scope(|s| {
        let screenshot = s.spawn(|| {
            headless(
                &page,
                dir.path(),
                &[
                    format!("--screenshot={}", png.display()),
                    format!("--window-size={WIDTH},{HEIGHT}"),
                ],
            );
        });
        let print = s.spawn(|| {
            headless(
                &page,
                dir.path(),
                &[
                    format!("--print-to-pdf={}", pdf.display()),
                    "--no-pdf-header-footer".into(),
                ],
            );
        });
        let dom = headless(&page, dir.path(), &["--dump-dom".into()]);
        screenshot.join().expect("screenshot");
        print.join().expect("print");
        (dom, ())
    });

    // To look at what the browser made: EVIDENCE_HTML_KEEP=<folder> cargo test --test evidence_html
    if let Some(keep) = std::env::var_os("EVIDENCE_HTML_KEEP") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).expect("create EVIDENCE_HTML_KEEP");
        for file in [&page, &png, &pdf] {
            std::fs::copy(file, keep.join(file.file_name().unwrap())).expect("keep a rendering");
        }
    }
    assert_screenshot(&png);
    assert_printed(&pdf);
    assert_dom(&dom, &html);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the browser checks took {:?}",
        started.elapsed()
    );
}

/// The screenshot is a PNG of the window's size, not blank, with the status colours on it.
fn assert_screenshot(png: &Path) {
    let bytes = std::fs::read(png).expect("chromium wrote no screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR", "no IHDR first");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (WIDTH, HEIGHT), "screenshot size");

    let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("decode the PNG header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("PNG buffer size")];
    let frame = reader.next_frame(&mut pixels).expect("decode the PNG");
    let channels = frame.color_type.samples();
    assert!(
        channels >= 3,
        "a colour screenshot, got {:?}",
        frame.color_type
    );
    let rgb: Vec<[u8; 3]> = pixels[..frame.buffer_size()]
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();

    let colours: BTreeSet<[u8; 3]> = rgb.iter().copied().collect();
    let inked = rgb.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        colours.len() > 50,
        "the screenshot has {} colours: blank or unstyled",
        colours.len()
    );
    assert!(
        inked * 100 > rgb.len() * 5,
        "only {inked} of {} pixels are not white: the page looks blank",
        rgb.len()
    );
    // The totals tiles and badges are filled with the status colours of the page's CSS.
    let near = |want: [u8; 3]| {
        rgb.iter()
            .filter(|p| p.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= 3))
            .count()
    };
    for (status, colour) in [
        ("pass", [0xda, 0xfb, 0xe1]),
        ("fail", [0xff, 0xeb, 0xe9]),
        ("error", [0xff, 0xf1, 0xc2]),
        ("not-verified", [0xf3, 0xee, 0xff]),
    ] {
        assert!(
            near(colour) > 500,
            "the {status} colour #{:02x}{:02x}{:02x} is (nearly) absent from the screenshot",
            colour[0],
            colour[1],
            colour[2]
        );
    }
}

/// The print layout gives the summary and each provider its own pages.
fn assert_printed(pdf: &Path) {
    let bytes = std::fs::read(pdf).expect("chromium wrote no PDF");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    // Each page object's dictionary says `/Type /Page` (the page tree says `/Pages`).
    let pages = bytes
        .windows(12)
        .filter(|w| {
            let (name, next) = w.split_at(11);
            matches!(name, b"/Type /Page" | b"/Type/Page ") && next[0] != b's'
        })
        .count();
    assert!(
        pages >= 3,
        "the printed page has {pages} pages: the summary and the two providers each start one"
    );
}

/// The DOM Chromium built holds the matrix, the totals, the marks of an incomplete run, the
/// hostile texts as text, and no element or attribute the page does not make itself.
fn assert_dom(dom: &str, html: &str) {
    let text = dom.replace("&nbsp;", "\u{a0}");
    // Each requirement's row of the matrix shows its own status.
    for requirement in &evidence().requirements {
        let (id, status) = (&requirement.id, &requirement.status);
        let start = text
            .find(&format!("<code>{id}</code>"))
            .unwrap_or_else(|| panic!("{id} is not in the matrix"));
        let row = &text[start..start + text[start..].find("</tr>").expect("a closed row")];
        assert!(
            row.contains(&format!("\u{a0}{status}</span>")),
            "the row of {id} does not say {status}: {row}"
        );
    }
    for verdict in ["pass", "fail", "error", "skipped", "not-run"] {
        assert!(
            text.contains(&format!("\u{a0}{verdict}</span>")),
            "verdict {verdict} is not shown"
        );
    }
    for (count, label) in [
        (2, "\u{2713} passed"),
        (1, "\u{2717} failed"),
        (1, "! errors"),
        (1, "\u{2013} skipped"),
        (1, "\u{25cb} not run"),
        (6, "scenarios"),
    ] {
        assert!(
            text.contains(&format!(
                "<span class=\"count\">{count}</span><span class=\"label\">{label}</span>"
            )),
            "the total {count} {label} is not shown"
        );
    }
    assert!(text.contains("<strong>INCOMPLETE</strong>"));
    assert!(text.contains("interrupted (SIGINT)"));
    // The outcome is said apart from completeness, in the colour of its result.
    assert!(
        text.contains("<p class=\"banner outcome st-fail\" id=\"outcome\"><strong>FAILED</strong>"),
        "the outcome banner does not say FAILED"
    );
    assert!(text.contains("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
    assert!(text.contains("audit-runner-01") && text.contains("29be78b0c0ffee"));

    // Hostile text stays text: no element it names exists, and it is all there, escaped.
    for element in ["<script", "<img"] {
        assert!(!text.contains(element), "the DOM holds `{element}`");
    }
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; ]]&gt; &amp;amp;"),
        "the hostile body is not shown as text"
    );
    assert!(!text.contains('\u{202e}') && !text.contains('\u{1b}'));
    assert!(text.contains("[U+202E]gnp.exe") && text.contains("[U+001B][31m"));

    // One `<details>` per exchange and one for the inputs: each transcript is expandable.
    let exchanges: usize = evidence()
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .map(|s| s.exchanges.len())
        .sum();
    assert_eq!(
        text.matches("<details class=\"exchange\"").count(),
        exchanges
    );
    assert_eq!(
        html.matches("<details").count(),
        text.matches("<details").count(),
        "the browser dropped or added <details>"
    );
    // Every link is an anchor within the page that the browser can find.
    for href in text.split("href=\"").skip(1) {
        let href = &href[..href.find('"').unwrap()];
        let target = href
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a link leaves the page: {href}"));
        assert!(
            text.contains(&format!(" id=\"{target}\"")),
            "link {href} has no target"
        );
    }
}
