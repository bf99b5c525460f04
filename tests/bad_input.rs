//! The bad-input corpus: one row per way an input can be wrong. Each case builds its own small
//! tree (specs, scenarios, sometimes a target) in a temporary folder and runs the real binary's
//! `validate` there (and, for a sample, `run`), which must exit 2 and print `--> file:line:col`
//! (just `--> file` where the problem has no position: a path that cannot be read), a message
//! saying what was expected, and no panic. Cases run concurrently; the whole corpus takes seconds.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The first lines of a scenario file whose steps follow from line 6, indented by six spaces.
const HEAD: &str =
    "scenarios:\n  - id: s\n    title: t\n    requirements: [DEMO-IP-01]\n    steps:\n";

/// A valid scenario file, for cases about something else.
const VALID_SCENARIO: &str = "scenarios:\n  - id: ok\n    title: ok\n    requirements: [DEMO-IP-01]\n    steps:\n      - request: { url: \"{{api_base}}/v1/profile\" }\n        expect: { status: 200 }\n";

/// A valid live target for the demo provider; line 9 is its host, line 11 its secret.
const TARGET: &str = "name: live\nclock: real\nlimits: { request_timeout: 5s }\nsources:\n  default: { bind: 127.0.0.1 }\nproviders:\n  demo:\n    hosts:\n      api_base: { url: \"https://api.demo.example\" }\n    secrets:\n      password: { env: DEMO_PASSWORD }\n";

/// A valid spec with two requirements; line 5 is the first requirement's id.
const SPEC: &str = "provider: demo\ntitle: Demo\nrequirements:\n  - id: DEMO-IP-01\n    statement: s\n    source: demo\n    kind: Doc\n  - id: DEMO-IP-02\n    statement: s\n    source: demo\n    kind: Doc\n";

/// How a case's tree differs from a valid one, and what the binary must say about it.
struct Case {
    name: &'static str,
    /// Files written into the tree: path → bytes. `specs/demo.yaml` and a valid scenario file are
    /// added unless the case writes its own specs or scenarios.
    files: Vec<(&'static str, Vec<u8>)>,
    /// Symbolic links: path → what it points to.
    links: Vec<(&'static str, &'static str)>,
    /// Empty folders.
    dirs: Vec<&'static str>,
    /// What follows `--> `: `file:line:col`, or just `file` for a problem without a position.
    at: String,
    /// A fragment of the message, saying what was expected.
    expect: &'static str,
    /// Text that must not appear anywhere in the output (a password).
    absent: Option<&'static str>,
    /// Also checks `run`, which must refuse the input the same way.
    run: bool,
}

impl Case {
    fn new(name: &'static str, file: &'static str, text: impl Into<Vec<u8>>) -> Self {
        Self {
            name,
            files: vec![(file, text.into())],
            links: Vec::new(),
            dirs: Vec::new(),
            at: file.to_owned(),
            expect: "",
            absent: None,
            run: false,
        }
    }

    fn at(mut self, location: &str) -> Self {
        let file = self.files[0].0;
        self.at = if location.is_empty() {
            file.to_owned()
        } else {
            format!("{file}:{location}")
        };
        self
    }

    fn at_path(mut self, path: &str) -> Self {
        self.at = path.to_owned();
        self
    }

    fn expect(mut self, fragment: &'static str) -> Self {
        self.expect = fragment;
        self
    }

    fn without(mut self, text: &'static str) -> Self {
        self.absent = Some(text);
        self
    }

    fn also_run(mut self) -> Self {
        self.run = true;
        self
    }
}

/// A scenario file `scenarios/demo/a.yaml`.
fn scenario(name: &'static str, text: impl Into<Vec<u8>>) -> Case {
    Case::new(name, "scenarios/demo/a.yaml", text)
}

/// A scenario file made of [`HEAD`] and `steps` (which start at line 6).
fn steps(name: &'static str, steps: &str) -> Case {
    scenario(name, format!("{HEAD}{steps}"))
}

/// A target file `target.yaml`, passed with `--target`.
fn target(name: &'static str, text: impl Into<Vec<u8>>) -> Case {
    Case::new(name, "target.yaml", text)
}

/// [`TARGET`] with its host line (line 9) replaced.
fn host(name: &'static str, line: &str) -> Case {
    target(
        name,
        TARGET.replace(
            "      api_base: { url: \"https://api.demo.example\" }\n",
            &format!("      {line}\n"),
        ),
    )
}

/// A spec file `specs/demo.yaml`.
fn spec(name: &'static str, text: impl Into<Vec<u8>>) -> Case {
    Case::new(name, "specs/demo.yaml", text)
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
    for unit in units {
        bytes.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    bytes
}

fn cases() -> Vec<Case> {
    let request = "      - request: { url: \"{{api_base}}/v1/profile\" }\n";
    let expect = "        expect: { status: 200 }\n";
    let with_request = |name: &'static str, extra: &str| steps(name, &format!("{request}{extra}"));
    vec![
        // ---- Encodings and documents ---------------------------------------------------------
        scenario("nul byte", format!("{HEAD}      - request: {{ url: \"{{{{api_base}}}}/v1\0\" }}\n"))
            .at("6:41").expect("U+0000 is not allowed").also_run(),
        scenario("control character", "scenarios:\n  - id: a\u{1}b\n").at("2:10").expect("U+0001"),
        scenario("delete character", "scenarios: []\n# note \u{7f}\n").at("2:8").expect("U+007F"),
        scenario("c1 control character", "scenarios: []\n# \u{9b}\n").at("2:3").expect("U+009B"),
        scenario("invalid utf-8 byte", b"scenarios:\n  - id: caf\xe9-s\n".to_vec())
            .at("2:12").expect("invalid UTF-8 (byte 0xE9)").also_run(),
        scenario("truncated utf-8 sequence", b"scenarios: []\n# \xc3".to_vec())
            .at("2:3").expect("invalid UTF-8 (byte 0xC3)"),
        scenario("utf-16 little endian with bom", utf16(VALID_SCENARIO, false, true))
            .at("1:1").expect("file is UTF-16: save it as UTF-8").also_run(),
        scenario("utf-16 big endian with bom", utf16(VALID_SCENARIO, true, true))
            .at("1:1").expect("file is UTF-16: save it as UTF-8"),
        scenario("utf-16 little endian without bom", utf16(VALID_SCENARIO, false, false))
            .at("1:1").expect("file is UTF-16: save it as UTF-8"),
        scenario("utf-16 big endian without bom", utf16(VALID_SCENARIO, true, false))
            .at("1:1").expect("file is UTF-16: save it as UTF-8"),
        scenario("second document", format!("{VALID_SCENARIO}---\nscenarios: []\n"))
            .at("8:1").expect("a second YAML document").also_run(),
        scenario("second document after an end marker", format!("{VALID_SCENARIO}...\n# more\nscenarios: []\n"))
            .at("10:1").expect("a second YAML document"),
        spec("nul byte in a spec", SPEC.replace("title: Demo", "title: De\0mo")).at("2:10").expect("U+0000"),
        spec("utf-16 spec", utf16(SPEC, false, true)).at("1:1").expect("file is UTF-16"),
        spec("second document in a spec", format!("{SPEC}---\n{SPEC}")).at("12:1").expect("a second YAML document"),
        target("control character in a target", TARGET.replace("name: live", "name: l\u{1}ve"))
            .at("1:8").expect("U+0001"),
        target("nul byte next to credentials in a target", TARGET.replace("https://api.demo.example", "https://admin:Pa55-w0rd@api.demo.example\0"))
            .at("9:65").expect("U+0000").without("Pa55-w0rd"),
        target("non-utf-8 target", [b"name: l\xffve\n".as_slice(), &TARGET.as_bytes()[11..]].concat())
            .at("1:8").expect("invalid UTF-8 (byte 0xFF)").also_run(),
        target("utf-16 target", utf16(TARGET, true, false)).at("1:1").expect("file is UTF-16"),
        target("second document in a target", format!("{TARGET}---\nname: other\n")).at("12:1").expect("a second YAML document"),
        // ---- Paths -----------------------------------------------------------------------------
        Case { links: vec![("scenarios/demo/b.yaml", "missing.yaml")], ..Case::new("dangling symlink", "scenarios/demo/ok.yaml", VALID_SCENARIO) }
            .at_path("scenarios/demo/b.yaml").expect("a symbolic link to nothing").also_run(),
        Case { links: vec![("scenarios/demo/b.yaml", "b.yaml")], ..Case::new("symlink loop", "scenarios/demo/ok.yaml", VALID_SCENARIO) }
            .at_path("scenarios/demo/b.yaml").expect("a symbolic link that cannot be followed"),
        Case { dirs: vec!["scenarios/demo/x.yaml"], ..Case::new("folder named like a yaml file", "scenarios/demo/ok.yaml", VALID_SCENARIO) }
            .at_path("scenarios/demo/x.yaml").expect("a folder named like a YAML file"),
        Case { dirs: vec!["scenarios/demo/nested"], ..Case::new("nested folder", "scenarios/demo/ok.yaml", VALID_SCENARIO) }
            .at_path("scenarios/demo/nested").expect("nested folders are not read").also_run(),
        Case { links: vec![("scenarios/ghost", "nowhere")], ..Case::new("dangling provider folder", "scenarios/demo/ok.yaml", VALID_SCENARIO) }
            .at_path("scenarios/ghost").expect("a symbolic link to nothing"),
        Case::new("scenario outside a provider folder", "scenarios/a.yaml", VALID_SCENARIO)
            .expect("scenario files belong in a provider folder"),
        Case { dirs: vec!["specs/old"], ..Case::new("nested spec folder", "specs/demo.yaml", SPEC) }
            .at_path("specs/old").expect("spec files go directly in specs/"),
        Case { links: vec![("specs/other.yaml", "gone.yaml")], ..Case::new("dangling spec symlink", "specs/demo.yaml", SPEC) }
            .at_path("specs/other.yaml").expect("a symbolic link to nothing"),
        Case { dirs: vec!["specs/x.yaml"], ..Case::new("spec folder named like a yaml file", "specs/demo.yaml", SPEC) }
            .at_path("specs/x.yaml").expect("a folder named like a YAML file"),
        // ---- YAML syntax -------------------------------------------------------------------------
        scenario("unclosed flow sequence", HEAD.replace("[DEMO-IP-01]", "[DEMO-IP-01") + request)
            .at("5:10").expect("did not find expected ',' or ']', while parsing a flow sequence that starts at 4:19"),
        scenario("tab indentation", format!("{HEAD}{request}\texpect: {{ status: 200 }}\n"))
            .at("7:1").expect("found character that cannot start any token"),
        scenario("unclosed quote", format!("{HEAD}      - request: {{ url: \"{{{{api_base}}}}/v1 }}\n"))
            .at("7:1").expect("found unexpected end of stream, while scanning a quoted scalar that starts at 6:25"),
        scenario("mapping value in a plain scalar", "scenarios:\n  - id: a: b\n").at("2:10").expect("mapping values are not allowed in this context"),
        scenario("duplicate key", format!("{HEAD}{request}{expect}{expect}")).at("8:9").expect("duplicate key `expect`"),
        // A map keeps the last of two equal keys: a check written twice must not lose the first.
        with_request("duplicate json check", "        expect: { status: 200, json: { $.a: { equals: 1 }, $.a: absent } }\n")
            .at("7:60").expect("duplicate key `$.a`: already given at line 7, column 40"),
        with_request("duplicate header check", "        expect:\n          headers:\n            x-a: present\n            x-a: absent\n")
            .at("10:13").expect("duplicate key `x-a`: already given at line 9, column 13"),
        scenario("unknown alias", format!("{HEAD}      - request: *nothing\n")).at("6:18").expect("unknown anchor"),
        scenario("empty file", "").at("1:1").expect("missing field `scenarios`"),
        scenario("a list at the top", "- id: a\n").at("1:1").expect("expected struct ScenarioFile"),
        // ---- Unknown keys at every level -----------------------------------------------------
        scenario("unknown top-level key", "scenario: []\n").at("1:1").expect("Did you mean `scenarios`?"),
        scenario("unknown scenario key", HEAD.replace("title: t", "titel: t") + request).at("3:5").expect("Did you mean `title`?").also_run(),
        with_request("unknown step key", "        expct: { status: 200 }\n").at("7:9").expect("Did you mean `expect`?"),
        steps("unknown request key", "      - request: { urll: \"{{api_base}}/v1\" }\n").at("6:20").expect("Did you mean `url`?"),
        with_request("unknown expect key", "        expect: { stauts: 200 }\n").at("7:19").expect("Did you mean `status`?"),
        steps("unknown basic auth key", "      - request: { url: \"{{api_base}}/v1\", auth: { basic: { usernme: a, password: b } } }\n")
            .at("6:61").expect("Did you mean `username`?"),
        steps("unknown api key auth key", "      - request: { url: \"{{api_base}}/v1\", auth: { api_key: { headr: X-Key, value: k } } }\n")
            .at("6:63").expect("Did you mean `header`?"),
        steps("unknown oauth2 key", "      - request: { url: \"{{api_base}}/v1\", auth: { oauth2: { token_url: \"{{api_base}}/t\", grant: client_credentials, clientid: c } } }\n")
            .at("6:118").expect("Did you mean `client_id`?"),
        with_request("unknown capture key", "        capture: { t: { jsonpth: $.a } }\n").at("7:25").expect("Did you mean `jsonpath`?"),
        with_request("unknown eventually key", format!("{expect}        eventually: {{ within: 5m, evry: 1s }}\n").as_str())
            .at("8:35").expect("Did you mean `every`?"),
        steps("unknown clock key", "      - clock: { advanse: 1s }\n").at("6:18").expect("Did you mean `advance`?"),
        steps("unknown compute kind", "      - compute: { id: { random_idd: {} } }\n").at("6:26").expect("Did you mean `random_id`?"),
        // ---- Wrong types and values -------------------------------------------------------------
        scenario("requirements as a string", HEAD.replace("[DEMO-IP-01]", "DEMO-IP-01") + request).at("4:19").expect("expected a sequence"),
        scenario("steps as a map", format!("{HEAD}      request: {{ url: x }}\n")).at("6:7").expect("a list of steps"),
        with_request("status as a word", "        expect: { status: fourohone }\n").at("7:27").expect("expected an HTTP status code (100–599)").also_run(),
        with_request("status above 599", "        expect: { status: 600 }\n").at("7:27").expect("expected an HTTP status code (100–599), found 600"),
        with_request("status below 100 in a list", "        expect: { status: [200, 99] }\n").at("7:33").expect("found 99"),
        with_request("negative status", "        expect: { status: -401 }\n").at("7:27").expect("expected an HTTP status code"),
        with_request("duration without unit", "        expect: { status: 200, within: 3 }\n").at("7:40").expect("a duration needs a unit: write `3s`"),
        steps("unknown duration unit", "      - request: { url: \"{{api_base}}/v1\", timeout: 3 parsecs }\n").at("6:53").expect("invalid duration `3 parsecs`"),
        steps("negative duration", "      - request: { url: \"{{api_base}}/v1\", timeout: -3s }\n").at("6:53").expect("invalid duration `-3s`"),
        steps("invalid method", "      - request: { method: \"GE T\", url: \"{{api_base}}/v1\" }\n").at("6:28").expect("method"),
        steps("invalid header name", "      - request: { url: \"{{api_base}}/v1\", headers: { \"Bad Header\": x } }\n").at("6:44").expect("invalid header name"),
        steps("unknown auth scheme", "      - request: { url: \"{{api_base}}/v1\", auth: { digest: x } }\n").at("6:52").expect("expected one of `basic`, `bearer`, `api_key`, `oauth2`"),
        steps("two-key choice", "      - request: { url: \"{{api_base}}/v1\", auth: { bearer: a, basic: { username: u, password: p } } }\n")
            .at("6:63").expect("found another key `basic`"),
        with_request("unknown outcome", "        expect: { outcome: timedout, within: 1s }\n").at("7:28").expect("Did you mean `timeout`?"),
        scenario("unknown kind", HEAD.replace("    steps:\n", "    kind: sad\n    steps:\n") + request).at("5:11").expect("expected `happy` or `negative`"),
        scenario("invalid scenario id", HEAD.replace("id: s", "id: Bad_ID") + request).at("2:9").expect("lowercase"),
        scenario("missing title", HEAD.replace("    title: t\n", "") + request).at("2:5").expect("missing field `title`"),
        steps("unknown body kind", "      - request: { method: POST, url: \"{{api_base}}/v1\", body: { xml: x } }\n").at("6:66").expect("expected one of `form`, `json`, `raw`"),
        scenario("tags as a number", HEAD.replace("    steps:\n", "    tags: 5\n    steps:\n") + request).at("5:11").expect("expected a sequence"),
        with_request("header check as a number", "        expect: { headers: { Cache-Control: 5 } }\n").at("7:45").expect("expected"),
        // ---- Templates and names ----------------------------------------------------------------
        steps("unclosed placeholder", "      - request: { url: \"{{api_base/v1\" }\n").at("6:25").expect("unterminated `{{`"),
        steps("undefined variable", "      - request: { url: \"{{api_bse}}/v1\" }\n").at("6:25").expect("Did you mean `api_base`?").also_run(),
        steps("undefined secret", "      - request: { url: \"{{api_base}}/v1\", auth: { bearer: \"{{secret.pasword}}\" } }\n").at("6:60").expect("Did you mean `password`?"),
        steps("secret used as a variable", "      - request: { url: \"{{api_base}}/v1\", auth: { bearer: \"{{password}}\" } }\n").at("6:60").expect("write `{{secret.password}}`"),
        scenario("unknown requirement", HEAD.replace("DEMO-IP-01", "DEMO-IP-99") + request).at("4:20").expect("unknown requirement `DEMO-IP-99`"),
        scenario("no requirement", HEAD.replace("[DEMO-IP-01]", "[]") + request).at("4:5").expect("at least one requirement id"),
        scenario("no step", HEAD.replace("    steps:\n", "    steps: []\n")).at("5:5").expect("at least one step"),
        steps("capture used before it is set", "      - request: { url: \"{{api_base}}/v1/{{order}}\" }\n").at("6:25").expect("undefined variable `order`"),
        steps("unknown source", "      - request: { url: \"{{api_base}}/v1\", source: office }\n").at("6:52").expect("unknown source `office`"),
        scenario("duplicate scenario id", format!("{HEAD}{request}  - id: s\n    title: t\n    requirements: [DEMO-IP-01]\n    steps:\n{request}"))
            .at("7:9").expect("duplicate scenario id `s`"),
        with_request("same_as without a captured response", "        expect: { same_as: { response: first } }\n").at("7:40").expect("no earlier step captured a response as `first`"),
        with_request("capture shadows a target variable", "        capture: { api_base: { jsonpath: $.a } }\n").at("7:20").expect("would shadow the target's variable"),
        with_request("invalid capture name", "        capture: { \"a b\": { jsonpath: $.a } }\n").at("7:20").expect("invalid capture name `a b`"),
        // ---- JSONPath and regular expressions ---------------------------------------------------
        with_request("invalid jsonpath key", "        expect: { json: { \"$.[\": exists } }\n").at("7:27").expect("invalid JSONPath"),
        with_request("jsonpath without root", "        expect: { json: { foo: exists } }\n").at("7:27").expect("invalid JSONPath"),
        with_request("invalid jsonpath in a capture", "        capture: { t: { jsonpath: \"$..[\" } }\n").at("7:35").expect("invalid JSONPath"),
        with_request("invalid regex in a body check", "        expect: { body: { matches: \"([\" } }\n").at("7:36").expect("invalid regex"),
        with_request("invalid regex in a header check", "        expect: { headers: { Location: { matches: \"a{2\" } } }\n").at("7:51").expect("invalid regex"),
        with_request("invalid regex in a capture", "        capture: { t: { header: Location, regex: \"(\" } }\n").at("7:50").expect("invalid regex"),
        // ---- Durations that cannot mean anything -----------------------------------------------
        steps("zero timeout", "      - request: { url: \"{{api_base}}/v1\", timeout: 0s }\n").at("6:53").expect("`timeout: 0s` would end every exchange").also_run(),
        steps("zero connect timeout", "      - request: { url: \"{{api_base}}/v1\", connect_timeout: 0ms }\n").at("6:61").expect("`connect_timeout: 0s` would end every connection attempt"),
        with_request("zero within", "        expect: { status: 200, within: 0s }\n").at("7:40").expect("`within` must be longer than 0s"),
        with_request("zero eventually within", format!("{expect}        eventually: {{ within: 0s, every: 1s }}\n").as_str())
            .at("8:31").expect("`within: 0s` leaves no time to poll"),
        with_request("zero every", format!("{expect}        eventually: {{ within: 5m, every: 0s }}\n").as_str())
            .at("8:42").expect("`every: 0s` would poll without pause"),
        steps("zero clock advance", "      - clock: { advance: 0s }\n").at("6:27").expect("`advance: 0s` moves no time"),
        steps("zero clock margin", "      - clock: { advance: 5s, plus: 0ms }\n").at("6:37").expect("`plus: 0s` adds nothing"),
        target("zero request timeout", TARGET.replace("request_timeout: 5s", "request_timeout: 0s")).at("3:28").expect("`request_timeout: 0s` would end every exchange").also_run(),
        // ---- Steps that make no sense -----------------------------------------------------------
        steps("request and clock in one step", "      - request: { url: \"{{api_base}}/v1\" }\n        clock: { advance: 1s }\n").at("6:9").expect("not several"),
        with_request("timeout without within", "        expect: { outcome: timeout }\n").at("7:28").expect("`outcome: timeout` needs `within`"),
        with_request("timeout with a status", "        expect: { outcome: timeout, within: 1s, status: 401 }\n").at("7:28").expect("expects no valid HTTP response"),
        with_request("every longer than within", format!("{expect}        eventually: {{ within: 1s, every: 5s }}\n").as_str())
            .at("8:42").expect("`every` is longer than `within`"),
        steps("password grant without password", "      - request: { url: \"{{api_base}}/v1\", auth: { oauth2: { token_url: \"{{api_base}}/t\", grant: password, username: u } } }\n")
            .at("6:98").expect("the `password` grant needs `password`"),
        steps("basic user-id with a colon", "      - request: { url: \"{{api_base}}/v1\", auth: { basic: { username: \"a:b\", password: p } } }\n")
            .at("6:71").expect("cannot contain `:`"),
        steps("random id too short", "      - compute: { id: { random_id: { length: 5 } } }\n").at("6:47").expect("8 to 64 characters, not 5"),
        // ---- Targets ------------------------------------------------------------------------------
        target("unknown target key", TARGET.replace("limits:", "limit:")).at("3:1").expect("Did you mean `limits`?"),
        target("unknown clock", TARGET.replace("clock: real", "clock: wall")).at("2:8").expect("expected `virtual` or `real`"),
        target("misspelt provider", TARGET.replace("  demo:", "  dem0:")).at("7:3").expect("unknown provider `dem0`: no spec in the specs folder defines it").also_run(),
        target("provider far from any spec", TARGET.replace("  demo:", "  acme-bank:")).at("7:3").expect("the specs define `demo`"),
        host("duplicate host", "api_base: { url: \"https://a.example\" }\n      api_base: { url: \"https://b.example\" }")
            .at("10:7").expect("duplicate key `api_base`: already given at line 9, column 7"),
        target("duplicate secret", TARGET.replace("      password: { env: DEMO_PASSWORD }\n", "      password: { env: DEMO_PASSWORD }\n      password: { env: OTHER_PASSWORD }\n"))
            .at("12:7").expect("duplicate key `password`: already given at line 11, column 7"),
        host("host as a bare word", "api_base: api").at("9:17").expect("expected `{ url: \"https://…\" }` or `{ mock: <host> }`"),
        host("relative host url", "api_base: { url: api }").at("9:24").expect("expected an absolute URL"),
        host("ftp host url", "api_base: { url: \"ftp://files.example\" }").at("9:24").expect("not `ftp:`").also_run(),
        host("host url without scheme", "api_base: { url: \"api.example:443\" }").at("9:24").expect("a base URL is `https://…`"),
        host("credentials in a host url", "api_base: { url: \"https://admin:Pa55-w0rd@api.example\" }")
            .at("9:24").expect("cannot carry credentials").without("Pa55-w0rd").also_run(),
        host("credentials in a host url that does not parse", "api_base: { url: \"https://admin:Pa55-w0rd@api example\" }")
            .at("9:24").expect("invalid base URL").without("Pa55-w0rd"),
        host("credentials in a bare host word", "api_base: https://admin:Pa55-w0rd@api.example").at("9:17").expect("found a bare string").without("Pa55-w0rd"),
        host("plain http with secrets off loopback", "api_base: { url: \"http://10.0.0.5:8080\" }").at("9:24").expect("add `allow_plain_http: true`").also_run(),
        host("plain http with secrets to a public name", "api_base: { url: \"http://api.demo.example\" }").at("9:24").expect("unencrypted to `api.demo.example`"),
        host("plain http opt-in on https", "api_base: { url: \"https://api.example\", allow_plain_http: true }").at("9:24").expect("is for an `http://` URL"),
        host("plain http opt-in on a mock host", "api_base: { mock: api, allow_plain_http: true }").at("9:30").expect("`allow_plain_http` is for `url` hosts"),
        host("plain http opt-in not a boolean", "api_base: { url: \"http://10.0.0.5\", allow_plain_http: yes }").at("9:61").expect("expected a boolean"),
        host("host with url and mock", "api_base: { url: \"https://a.example\", mock: api }").at("9:45").expect("either `url: …` or `mock: …`, not both"),
        host("unknown host key", "api_base: { adress: \"https://a.example\" }").at("9:19").expect("expected one of `url`, `mock`, `allow_plain_http`"),
        host("host without url or mock", "api_base: {}").at("9:17").expect("a host needs `url: …`"),
        host("unknown embedded mock host", "api_base: { mock: nope }").at("9:25").expect("the embedded `demo` mock has no host `nope`"),
        host("host and variable of one name", "api_base: { url: \"https://a.example\" }\n    variables:\n      api_base: x").at("11:17").expect("is both a host and a variable"),
        target("inline secret on a live target", TARGET.replace("{ env: DEMO_PASSWORD }", "{ value: hunter2-secret }")).at("11:7").expect("only for the embedded mocks").without("hunter2-secret"),
        target("invalid secret name", TARGET.replace("      password:", "      \"pass word\":")).at("11:7").expect("invalid secret name `pass word`"),
        target("source with bind and proxy", TARGET.replace("{ bind: 127.0.0.1 }", "{ bind: 127.0.0.1, proxy: \"http://p:3128\" }")).at("5:3").expect("either `bind: <address>` or `proxy: <url>`"),
        target("source bind not an address", TARGET.replace("bind: 127.0.0.1", "bind: localhost")).at("5:20").expect("invalid IP address syntax"),
        target("invalid proxy url", TARGET.replace("{ bind: 127.0.0.1 }", "{ proxy: \"not a url\" }")).at("5:21").expect("invalid proxy URL"),
        target("missing target name", TARGET.replace("name: live\n", "")).at("1:1").expect("missing field `name`"),
        target("unknown limits key", TARGET.replace("request_timeout: 5s", "request_timout: 5s")).at("3:11").expect("Did you mean `request_timeout`?"),
        target("max wait without unit", TARGET.replace("request_timeout: 5s", "request_timeout: 5s, max_wait: 300")).at("3:42").expect("a duration needs a unit"),
        // ---- Specs ----------------------------------------------------------------------------------
        spec("spec provider differs from its file", SPEC.replace("provider: demo", "provider: dem0")).at("1:11").expect("must equal the file name `demo`"),
        spec("invalid requirement id", SPEC.replace("DEMO-IP-02", "demo-ip-2")).at("8:9").expect("expected uppercase words joined by `-`"),
        spec("duplicate requirement id", SPEC.replace("DEMO-IP-02", "DEMO-IP-01")).at("8:9").expect("duplicate requirement id `DEMO-IP-01`"),
        spec("unknown requirement kind", SPEC.replace("kind: Doc\n  - id: DEMO-IP-02", "kind: Maybe\n  - id: DEMO-IP-02")).at("7:11").expect("Doc"),
        spec("unknown spec key", SPEC.replace("title: Demo", "titel: Demo")).at("2:1").expect("Did you mean `title`?"),
        spec("requirement without statement", SPEC.replace("    statement: s\n    source: demo\n    kind: Doc\n  - id: DEMO-IP-02", "    source: demo\n    kind: Doc\n  - id: DEMO-IP-02"))
            .at("4:5").expect("missing field `statement`"),
    ]
}

/// What one run of the binary printed.
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_binary(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(common::BIN)
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("AUTHCONFORM_TARGET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", common::BIN));
    // A load error comes before any network use: bound the wait so a regression cannot hang.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait for the binary").is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().expect("read the binary's output");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Builds the case's tree in `dir`.
fn build(case: &Case, dir: &Path) {
    let writes_specs = case.files.iter().any(|(p, _)| p.starts_with("specs/"))
        || case.dirs.iter().any(|p| p.starts_with("specs/"))
        || case.links.iter().any(|(p, _)| p.starts_with("specs/"));
    let writes_scenarios = case.files.iter().any(|(p, _)| p.starts_with("scenarios/"));
    let mut files: Vec<(&str, Vec<u8>)> = case.files.clone();
    if !writes_specs {
        let real = std::fs::read(Path::new(common::ROOT).join("specs/demo.yaml"))
            .expect("read specs/demo.yaml");
        files.push(("specs/demo.yaml", real));
    }
    if !writes_scenarios {
        files.push(("scenarios/demo/ok.yaml", VALID_SCENARIO.as_bytes().to_vec()));
    }
    for (path, bytes) in &files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        std::fs::write(&path, bytes).expect("write a file");
    }
    for path in &case.dirs {
        std::fs::create_dir_all(dir.join(path)).expect("create a folder");
    }
    for (path, points_to) in &case.links {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create a folder");
        std::os::unix::fs::symlink(points_to, &path).expect("create a symbolic link");
    }
}

/// Returns what is wrong with the binary's answer to `case`, if anything.
fn check(case: &Case) -> Option<String> {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    build(case, dir.path());
    let mut common_args = vec!["--specs", "specs", "--scenarios", "scenarios"];
    if case.files.iter().any(|(p, _)| *p == "target.yaml") {
        common_args.extend(["--target", "target.yaml"]);
    }
    let mut commands = vec![vec!["validate"]];
    if case.run {
        commands.push(vec!["run", "--reports", "reports"]);
    }
    let mut problems = Vec::new();
    for command in commands {
        let args: Vec<&str> = command.iter().chain(&common_args).copied().collect();
        let out = run_binary(dir.path(), &args);
        let all = format!("{}{}", out.stdout, out.stderr);
        // `--> file` alone must end the line: no position where one is expected.
        let marker = format!("--> {}\n", case.at);
        let mut wrong = Vec::new();
        if out.code != Some(2) {
            wrong.push(format!("exit code {:?}, expected 2", out.code));
        }
        if !out.stderr.contains(&marker) {
            wrong.push(format!("no `--> {}`", case.at));
        }
        if !out.stderr.contains(case.expect) {
            wrong.push(format!("no `{}`", case.expect));
        }
        if all.contains("panicked") {
            wrong.push("a panic".into());
        }
        if let Some(absent) = case.absent
            && all.contains(absent)
        {
            wrong.push(format!("`{absent}` printed"));
        }
        if !wrong.is_empty() {
            problems.push(format!(
                "{} `{}`: {}\n--- stdout ---\n{}--- stderr ---\n{}",
                case.name,
                args.join(" "),
                wrong.join("; "),
                out.stdout,
                out.stderr
            ));
        }
    }
    (!problems.is_empty()).then(|| problems.join("\n"))
}

#[test]
fn every_bad_input_is_a_located_load_error() {
    let cases = cases();
    assert!(cases.len() >= 80, "the corpus has {} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().clamp(4, 8));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Some(failure) = check(case) {
                        failures.lock().expect("no worker panicked").push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("no worker panicked");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// The plain-HTTP opt-in is part of the evidence: an auditor sees which hosts were allowed to
/// receive secrets unencrypted. The report stays valid against the schema and verifies.
#[test]
fn plain_http_opt_in_is_recorded_in_the_evidence() {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    // Port 9 (discard) on loopback: nothing listens, so the one scenario ends at once.
    let opted_in = TARGET.replace(
        "{ url: \"https://api.demo.example\" }",
        "{ url: \"http://127.0.0.1:9\", allow_plain_http: true }\n      tls_base: { url: \"https://api.demo.example\" }",
    );
    let mut case = target("opt-in", opted_in);
    // `tls_base` is not a demo input: the spec the runner's tests use declares it.
    case.files
        .push(("specs/demo.yaml", common::runner_demo_spec().into_bytes()));
    build(&case, dir.path());
    let args = [
        "run",
        "--specs",
        "specs",
        "--scenarios",
        "scenarios",
        "--target",
        "target.yaml",
        "--reports",
        "reports",
    ];
    let out = run_binary(dir.path(), &args);
    assert_eq!(
        out.code,
        Some(1),
        "the scenario cannot pass\n{}{}",
        out.stdout,
        out.stderr
    );
    let evidence_path = dir.path().join("reports/evidence.json");
    let text = std::fs::read_to_string(&evidence_path).expect("evidence.json written");
    let evidence: serde_json::Value = serde_json::from_str(&text).expect("evidence is JSON");
    assert_eq!(
        evidence["run"]["target"]["allow_plain_http"],
        serde_json::json!({ "demo": ["api_base"] }),
        "{text}"
    );
    let schema_errors = common::evidence_schema_errors(&evidence);
    assert!(schema_errors.is_empty(), "{schema_errors:#?}");
    let verified = run_binary(dir.path(), &["verify", "reports/evidence.json"]);
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );

    // Without the opt-in the field is left out.
    std::fs::write(
        dir.path().join("target.yaml"),
        TARGET.replace("https://api.demo.example", "http://127.0.0.1:9"),
    )
    .expect("rewrite the target");
    let out = run_binary(dir.path(), &args);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(&evidence_path).expect("evidence.json written");
    let evidence: serde_json::Value = serde_json::from_str(&text).expect("evidence is JSON");
    assert!(
        evidence["run"]["target"].get("allow_plain_http").is_none(),
        "{text}"
    );
}
