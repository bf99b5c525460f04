//! Reading scenario files: YAML → [`ScenarioFile`], then the checks serde cannot make.
//!
//! This is the only module that touches serde_yaml (specs and targets parse through
//! [`parse_yaml`]) and turns its errors into [`LoadError`]s. A file with several broken scenarios
//! or steps reports each of them: a broken element is recorded, then skipped on the next pass,
//! until the file deserializes (see [`parse_file`]).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use super::model::{
    Assumed, AuthSpec, AuthorizeSpec, Capture, ClientAuth, ComputeSpec, ExpectedOutcome, GrantType,
    OAuth2Spec, PropertySpec, Repeat, Scenario, ScenarioFile, Step,
};
use super::template::{Template, TemplateVisitor, Templates, VarRef};
use crate::diagnostic::{self, InputKind, LoadError, SpanIndex};

/// The names an authorization step defines: (name, is secret).
pub const AUTHORIZE_OUTPUTS: &[(&str, bool)] = &[
    ("code", true),
    ("code_verifier", true),
    ("code_challenge", false),
    ("state", false),
];

/// A file with more problems than this is not worth reading further.
const MAX_ERRORS_PER_FILE: usize = 100;

thread_local! {
    /// Elements to skip on this pass: (scenario index, step index or None for the whole scenario).
    static SKIP: RefCell<HashSet<(usize, Option<usize>)>> = RefCell::new(HashSet::new());
    static CURRENT_SCENARIO: Cell<usize> = const { Cell::new(0) };
}

/// Deserializes `scenarios:`, skipping the elements recorded as broken in earlier passes.
pub(crate) fn isolated_scenarios<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Scenario>, D::Error> {
    d.deserialize_seq(IsolatedSeq { steps: false }).map(|v| {
        v.into_iter()
            .map(|e| match e {
                Element::Scenario(s) => *s,
                Element::Step(_) => unreachable!("scenario sequence holds scenarios"),
            })
            .collect()
    })
}

/// Deserializes a scenario's `steps:`, skipping the steps recorded as broken in earlier passes.
pub(crate) fn isolated_steps<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    d.deserialize_seq(IsolatedSeq { steps: true }).map(|v| {
        v.into_iter()
            .map(|e| match e {
                Element::Step(s) => *s,
                Element::Scenario(_) => unreachable!("step sequence holds steps"),
            })
            .collect()
    })
}

/// Deserializes a list of `finally:` steps, numbering each by its position as written.
pub(crate) fn indexed_steps<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[Step]>, D::Error> {
    let mut steps = Vec::<Step>::deserialize(d)?;
    for (index, step) in steps.iter_mut().enumerate() {
        step.index = index;
    }
    Ok(steps.into_boxed_slice())
}

enum Element {
    Scenario(Box<Scenario>),
    Step(Box<Step>),
}

struct IsolatedSeq {
    steps: bool,
}

impl<'de> de::Visitor<'de> for IsolatedSeq {
    type Value = Vec<Element>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.steps {
            "a list of steps"
        } else {
            "a list of scenarios"
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Element>, A::Error> {
        let mut out = Vec::new();
        let mut index = 0;
        loop {
            let key = if self.steps {
                (CURRENT_SCENARIO.with(Cell::get), Some(index))
            } else {
                (index, None)
            };
            let skip = SKIP.with(|s| s.borrow().contains(&key));
            if skip {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
            } else if self.steps {
                match seq.next_element::<Step>()? {
                    Some(mut step) => {
                        step.index = index;
                        out.push(Element::Step(Box::new(step)))
                    }
                    None => break,
                }
            } else {
                CURRENT_SCENARIO.with(|c| c.set(index));
                match seq.next_element::<Scenario>()? {
                    Some(s) => out.push(Element::Scenario(Box::new(s))),
                    None => break,
                }
            }
            index += 1;
        }
        Ok(out)
    }
}

/// A scenario as parsed, with its index in the file.
#[derive(Debug, Clone)]
pub struct ParsedScenario {
    /// Position in the file's `scenarios:` list.
    pub index: usize,
    /// The scenario.
    pub scenario: Scenario,
    /// False when some of its steps failed to parse (and are missing from `scenario.steps`).
    pub complete: bool,
}

/// Parses one scenario file, reporting every broken scenario and step.
///
/// Returns every scenario that parsed, the incomplete ones (a step failed to parse) marked so later
/// checks skip what the missing steps could have defined; scenarios that failed to parse outside
/// their steps are left out. Their errors are in the second list.
///
/// A key given twice in one mapping is an error at its second occurrence, and the file is not
/// read further: deserializing would keep one of the two without a word.
pub fn parse_file(
    file: &Path,
    text: &str,
    spans: &SpanIndex,
) -> (Vec<ParsedScenario>, Vec<LoadError>) {
    let duplicates = spans.duplicate_key_errors(InputKind::Scenario, file, text);
    if !duplicates.is_empty() {
        return (Vec::new(), duplicates);
    }
    match scenario_items(text, spans) {
        Some(items) => parse_items(file, text, &items),
        None => parse_whole(file, text),
    }
}

/// Parses a scenario file in one piece, re-parsing it without the elements found broken until it
/// deserializes.
fn parse_whole(file: &Path, text: &str) -> (Vec<ParsedScenario>, Vec<LoadError>) {
    let mut errors = Vec::new();
    SKIP.with(|s| s.borrow_mut().clear());
    let step_path =
        regex::Regex::new(r"^scenarios\[(\d+)\](?:\.steps\[(\d+)\])?").expect("valid regex");
    // Each pass either succeeds or adds one element to SKIP; bounded by the number of elements.
    let parsed = loop {
        let deserializer = serde_yaml::Deserializer::from_str(text);
        match serde_path_to_error::deserialize::<_, ScenarioFile>(deserializer) {
            Ok(parsed) => break Some(parsed),
            Err(error) => {
                let load_error = from_yaml_error(InputKind::Scenario, file, text, &error, None);
                let path = error.path().to_string();
                // A syntax error comes back on every pass: report it once, then stop.
                let repeated = errors.last().is_some_and(|last: &LoadError| {
                    last.location == load_error.location && last.message == load_error.message
                });
                if repeated {
                    break None;
                }
                errors.push(load_error);
                let Some(caps) = step_path.captures(&path) else {
                    break None;
                };
                let scenario: usize = caps[1].parse().unwrap_or(usize::MAX);
                let step = caps.get(2).and_then(|m| m.as_str().parse().ok());
                let inserted = SKIP.with(|s| s.borrow_mut().insert((scenario, step)));
                if errors.len() >= MAX_ERRORS_PER_FILE {
                    errors.push(LoadError::new(
                        InputKind::Scenario,
                        file,
                        format!("stopped after {MAX_ERRORS_PER_FILE} problems in this file"),
                    ));
                    break None;
                }
                if !inserted {
                    break None;
                }
            }
        }
    };
    let skipped: Vec<(usize, Option<usize>)> = SKIP.with(|s| s.borrow_mut().drain().collect());
    let Some(parsed) = parsed else {
        return (Vec::new(), errors);
    };
    // Scenarios skipped whole are missing from the list; scenarios with skipped steps are present
    // but incomplete.
    let whole: HashSet<usize> = skipped
        .iter()
        .filter(|(_, step)| step.is_none())
        .map(|(i, _)| *i)
        .collect();
    let broken: HashSet<usize> = skipped.iter().map(|(i, _)| *i).collect();
    let indices = (0..).filter(|i| !whole.contains(i));
    let scenarios = indices
        .zip(parsed.scenarios)
        .map(|(index, scenario)| ParsedScenario {
            index,
            scenario,
            complete: !broken.contains(&index),
        })
        .collect();
    (scenarios, errors)
}

/// One scenario of a file's `scenarios:` list as a document of its own: the text from the line
/// its item starts on to the next item's line, with the item's `- ` written as spaces, so every
/// byte and column stays where it is in the file.
struct ScenarioItem {
    /// Its position in the list.
    index: usize,
    /// The byte offset of its first line in the file.
    start: usize,
    /// The byte offset of its node, after the `- `.
    node: usize,
    /// How many lines of the file come before it.
    lines_before: usize,
    /// Where its text ends in the file.
    end: usize,
}

impl ScenarioItem {
    /// Writes the item's text into `text`, replacing what it held (one buffer serves every
    /// item of a file).
    fn write_text(&self, file_text: &str, text: &mut String) {
        text.clear();
        text.extend(std::iter::repeat_n(' ', self.node - self.start));
        text.push_str(&file_text[self.node..self.end]);
    }
}

/// Splits a scenario file into its scenarios when each can be deserialized on its own, so that
/// a file of thousands of scenarios never holds the YAML events of more than one of them: the
/// document is `scenarios:` over a block list (each item on its own line after `- `), without
/// anchors, aliases, tags or syntax errors. Any other file is read whole, with the same errors.
fn scenario_items(text: &str, spans: &SpanIndex) -> Option<Vec<ScenarioItem>> {
    let root = spans.root_sequence()?;
    if root.key != "scenarios" {
        return None;
    }
    let mut items: Vec<ScenarioItem> = Vec::with_capacity(root.items.len());
    let (mut counted_to, mut lines) = (0, 0);
    for (index, &node) in root.items.iter().enumerate() {
        let start = text.get(..node)?.rfind('\n').map_or(0, |i| i + 1);
        // Only spaces, one `-`, then spaces: the item's own line, in block style.
        let prefix = text[start..node].trim_start_matches(' ');
        let after_dash = prefix.strip_prefix('-')?;
        if after_dash.is_empty() || after_dash.bytes().any(|b| b != b' ') {
            return None;
        }
        if let Some(previous) = items.last_mut() {
            if start <= previous.start {
                return None;
            }
            previous.end = start;
        }
        lines += text[counted_to..start].matches('\n').count();
        counted_to = start;
        items.push(ScenarioItem {
            index,
            start,
            node,
            lines_before: lines,
            end: text.len(),
        });
    }
    Some(items)
}

/// Parses the scenarios of a split file one at a time, reporting every broken scenario and step
/// as [`parse_file`] does for a file read whole.
fn parse_items(
    file: &Path,
    text: &str,
    items: &[ScenarioItem],
) -> (Vec<ParsedScenario>, Vec<LoadError>) {
    let mut errors: Vec<LoadError> = Vec::new();
    let mut scenarios = Vec::with_capacity(items.len());
    SKIP.with(|s| s.borrow_mut().clear());
    let mut item_text = String::new();
    for item in items {
        item.write_text(text, &mut item_text);
        let origin = ItemOrigin {
            byte: item.start,
            lines_before: item.lines_before,
            path: format!("scenarios[{}]", item.index),
        };
        CURRENT_SCENARIO.with(|c| c.set(item.index));
        let mut complete = true;
        // Each pass either succeeds or adds one step to SKIP; bounded by the number of steps.
        loop {
            let deserializer = serde_yaml::Deserializer::from_str(&item_text);
            match serde_path_to_error::deserialize::<_, Scenario>(deserializer) {
                Ok(scenario) => {
                    scenarios.push(ParsedScenario {
                        index: item.index,
                        scenario,
                        complete,
                    });
                    break;
                }
                Err(error) => {
                    let load_error =
                        from_yaml_error(InputKind::Scenario, file, text, &error, Some(&origin));
                    let step = step_of(&error);
                    // An error that comes back on the next pass would on every pass.
                    let repeated = errors.last().is_some_and(|last| {
                        last.location == load_error.location && last.message == load_error.message
                    });
                    if repeated {
                        SKIP.with(|s| s.borrow_mut().clear());
                        return (Vec::new(), errors);
                    }
                    errors.push(load_error);
                    if errors.len() >= MAX_ERRORS_PER_FILE {
                        errors.push(LoadError::new(
                            InputKind::Scenario,
                            file,
                            format!("stopped after {MAX_ERRORS_PER_FILE} problems in this file"),
                        ));
                        SKIP.with(|s| s.borrow_mut().clear());
                        return (Vec::new(), errors);
                    }
                    let Some(step) = step else {
                        // Broken outside its steps: the scenario is left out.
                        break;
                    };
                    complete = false;
                    if !SKIP.with(|s| s.borrow_mut().insert((item.index, Some(step)))) {
                        SKIP.with(|s| s.borrow_mut().clear());
                        return (Vec::new(), errors);
                    }
                }
            }
        }
    }
    SKIP.with(|s| s.borrow_mut().clear());
    (scenarios, errors)
}

/// Returns the index of the step a scenario's deserializing error is in, if any.
fn step_of(error: &serde_path_to_error::Error<serde_yaml::Error>) -> Option<usize> {
    use serde_path_to_error::Segment;
    let mut segments = error.path().iter();
    match (segments.next(), segments.next()) {
        (Some(Segment::Map { key }), Some(Segment::Seq { index })) if key == "steps" => {
            Some(*index)
        }
        _ => None,
    }
}

/// Where a scenario read on its own sits in its file.
struct ItemOrigin {
    /// The byte offset of its text in the file.
    byte: usize,
    /// How many lines of the file come before it.
    lines_before: usize,
    /// Its document path in the file, `scenarios[3]`.
    path: String,
}

/// The names a scenario may refer to, from the specs and the target.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// Every requirement id in `specs/`.
    pub requirements: HashSet<String>,
    /// The hosts and variables the scenario's provider declares in its spec's `inputs` (the
    /// planner), or a target supplies (checking against a target alone); `None` when there is
    /// nothing to check against (a spec without `inputs`, reported at the spec).
    pub variables: Option<HashSet<String>>,
    /// The secrets, like `variables`.
    pub secrets: Option<HashSet<String>>,
    /// The target's source names; `None` when the target does not configure the provider (its
    /// scenarios are skipped, so a target need not define the sources only they use).
    pub sources: Option<HashSet<String>>,
    /// Where `variables` and `secrets` come from, for messages: `the `demo` spec's inputs`.
    pub declared_by: Option<String>,
}

/// An input of the provider a scenario uses: a name it neither captures nor computes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputUse {
    /// `{{name}}`: a host or a variable.
    Plain(String),
    /// `{{secret.name}}`.
    Secret(String),
}

impl InputUse {
    /// Returns the name used.
    pub fn name(&self) -> &str {
        match self {
            InputUse::Plain(name) | InputUse::Secret(name) => name,
        }
    }
}

/// What checking a scenario found: its errors, and the provider inputs it uses.
#[derive(Debug, Clone, Default)]
pub struct ScenarioCheck {
    /// Every problem, at its position.
    pub errors: Vec<LoadError>,
    /// The inputs it takes from the target, declared or not.
    pub inputs: std::collections::BTreeSet<InputUse>,
}

/// Checks what serde cannot: requirement ids, defined names, step shapes, expectation sense.
pub fn check_scenario(
    file: &Path,
    text: &str,
    parsed: &ParsedScenario,
    names: &Names,
    spans: &SpanIndex,
) -> Vec<LoadError> {
    check_scenario_inputs(file, text, parsed, names, spans).errors
}

/// Checks a scenario as [`check_scenario`] does, and returns the provider inputs it uses too.
pub fn check_scenario_inputs(
    file: &Path,
    text: &str,
    parsed: &ParsedScenario,
    names: &Names,
    spans: &SpanIndex,
) -> ScenarioCheck {
    let mut checker = Checker {
        file,
        text,
        base: format!("scenarios[{}]", parsed.index),
        spans,
        names,
        errors: Vec::new(),
        captured: HashSet::new(),
        secret_captures: HashSet::new(),
        responses: HashSet::new(),
        complete: parsed.complete,
        inputs: std::collections::BTreeSet::new(),
    };
    checker.scenario(&parsed.scenario);
    ScenarioCheck {
        errors: checker.errors,
        inputs: checker.inputs,
    }
}

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    base: String,
    spans: &'a SpanIndex,
    names: &'a Names,
    errors: Vec<LoadError>,
    captured: HashSet<String>,
    secret_captures: HashSet<String>,
    /// Names of whole-response captures (`response: true`), for `same_as`.
    responses: HashSet<String>,
    /// False when steps are missing: names they could have captured are not reported undefined.
    complete: bool,
    /// The provider inputs used so far.
    inputs: std::collections::BTreeSet<InputUse>,
}

impl Checker<'_> {
    fn error(&mut self, path: String, message: String) {
        let error = LoadError::new(InputKind::Scenario, self.file, message)
            .at(self.spans, self.text, &path);
        self.errors.push(error);
    }

    fn scenario(&mut self, scenario: &Scenario) {
        let base = self.base.clone();
        if scenario.requirements.is_empty() {
            self.error(
                format!("{base}.requirements"),
                "a scenario must cite at least one requirement id from specs/".into(),
            );
        }
        for (i, id) in scenario.requirements.iter().enumerate() {
            if !self.names.requirements.contains(id) {
                let hint = nearest(id, self.names.requirements.iter().map(String::as_str))
                    .map(|n| format!(". Did you mean `{n}`?"))
                    .unwrap_or_default();
                self.error(
                    format!("{base}.requirements[{i}]"),
                    format!("unknown requirement `{id}`: no spec in specs/ defines it{hint}"),
                );
            }
        }
        if scenario.steps.is_empty() && self.complete {
            self.error(
                format!("{base}.steps"),
                "a scenario needs at least one step".into(),
            );
        }
        for step in &scenario.steps {
            self.step(&format!("{base}.steps[{}]", step.index), step);
        }
        // Cleanup steps see every name `steps` may define: they run after all of them, and a
        // name a failed step never set is the run's error, as in `steps`.
        for step in &scenario.finally {
            let path = format!("{base}.finally[{}]", step.index);
            if step
                .expect
                .as_ref()
                .is_some_and(|e| e.skip_unless.is_some())
            {
                self.error(
                    format!("{path}.expect.skip_unless"),
                    "`skip_unless` cannot be in a `finally` step: cleanup runs whatever happened, so it has nothing left to skip".into(),
                );
            }
            self.step(&path, step);
        }
    }

    fn step(&mut self, path: &str, step: &Step) {
        let loop_name = step
            .repeat
            .as_ref()
            .and_then(|repeat| self.repeat(path, step, repeat));
        self.step_body(path, step);
        if let Some(name) = loop_name {
            self.captured.remove(&name);
        }
    }

    /// Checks a `repeat`, and defines its iteration name for the step's own templates; returns
    /// the name when it was defined here, to forget after the step.
    fn repeat(&mut self, path: &str, step: &Step, repeat: &Repeat) -> Option<String> {
        let rp = format!("{path}.repeat");
        self.template(&format!("{rp}.count"), &repeat.count);
        if let Some(literal) = repeat.count.as_literal() {
            match Repeat::parse_count(literal) {
                Err(e) => self.error(format!("{rp}.count"), e),
                Ok(0) => self.error(
                    format!("{rp}.count"),
                    format!(
                        "`count: 0` repeats nothing: give 1 to {} (0 is allowed only as what a template renders)",
                        Repeat::MAX
                    ),
                ),
                Ok(_) => {}
            }
        }
        if step.request.is_none() {
            self.error(
                rp.clone(),
                "`repeat` runs a request step several times: it needs a `request` in the same step"
                    .into(),
            );
        }
        if step.eventually.is_some() {
            self.error(
                rp.clone(),
                "`repeat` and `eventually` do not combine: poll in a step of its own, before or after the loop".into(),
            );
        }
        let name = repeat.name.as_str();
        if !valid_name(name) {
            self.error(
                format!("{rp}.as"),
                format!("invalid name `{name}`: use letters, digits, `_` and `-`"),
            );
            return None;
        }
        let taken = self.captured.contains(name)
            || self
                .names
                .variables
                .as_ref()
                .is_some_and(|v| v.contains(name))
            || self
                .names
                .secrets
                .as_ref()
                .is_some_and(|v| v.contains(name))
            || step.capture.get(name).is_some();
        if taken {
            self.error(
                format!("{rp}.as"),
                format!("`{name}` is already a variable, secret or capture: name the iteration otherwise"),
            );
            return None;
        }
        self.captured.insert(name.to_owned());
        Some(name.to_owned())
    }

    /// Checks a `property` step: a request to apply the cases to, no credentials of its own (the
    /// family writes them), an `expect` every case must meet, and the family's `from` keys.
    fn property(&mut self, path: &str, step: &Step) {
        let Some(property) = &step.property else {
            return;
        };
        let pp = format!("{path}.property");
        match &step.request {
            None => self.error(
                pp.clone(),
                "a `property` step applies its cases to the step's `request`: add one".into(),
            ),
            Some(request) if property.family.writes_credentials() => {
                if request.auth.is_some() || request.token.is_some() || request.authorize.is_some()
                {
                    self.error(
                        format!("{path}.request"),
                        "a `property` step's family writes the credentials: remove the request's `auth`, `token` or `authorize`".into(),
                    );
                }
                if request
                    .headers
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case("authorization"))
                {
                    self.error(
                        format!("{path}.request.headers"),
                        "a `property` step's family writes the `Authorization` header: remove it"
                            .into(),
                    );
                }
            }
            // The family varies the key where the request carries it: a request with no API key
            // auth, no header and no query parameter cannot carry one. Whether one of them holds
            // the key is known once rendered: the run makes that step an error.
            Some(request)
                if property.family == super::model::PropertyFamily::ApiKey
                    && !matches!(request.auth, Some(AuthSpec::ApiKey(_)))
                    && request.headers.is_empty()
                    && request.query.is_empty() =>
            {
                self.error(
                    format!("{path}.request"),
                    "family `api_key` varies the key where the step's request carries it: send `from.key` with `auth: { api_key: … }`, a header or a query parameter".into(),
                );
            }
            Some(_) => {}
        }
        match &step.expect {
            None => self.error(
                pp.clone(),
                "a `property` step needs an `expect` every generated case must meet".into(),
            ),
            // Each case is judged on the documented checks alone: a note or a skip per case
            // would say nothing about the family as a whole.
            Some(expect) if expect.assumed.is_some() || expect.skip_unless.is_some() => self
                .error(
                    format!("{path}.expect"),
                    "a `property` step's cases are judged on documented checks only: remove `assumed` and `skip_unless`".into(),
                ),
            Some(_) => {}
        }
        if !step.capture.is_empty() || step.repeat.is_some() || step.eventually.is_some() {
            self.error(
                pp.clone(),
                "a `property` step takes no `capture`, `repeat` or `eventually`".into(),
            );
        }
        if property
            .cases
            .is_some_and(|n| n == 0 || n > PropertySpec::MAX_CASES)
        {
            self.error(
                format!("{pp}.cases"),
                format!(
                    "expected a number of cases from 1 to {}",
                    PropertySpec::MAX_CASES
                ),
            );
        }
        let (required, optional) = property.family.inputs();
        // A `json_credentials` step's keys name members of its body: checked there.
        let json_family = property.family == super::model::PropertyFamily::JsonCredentials;
        if json_family {
            self.json_credentials(path, step, property);
        }
        for key in property.from.keys() {
            if !json_family
                && !required.contains(&key.as_str())
                && !optional.contains(&key.as_str())
            {
                let known = required.iter().chain(optional).map(|k| format!("`{k}`"));
                self.error(
                    format!("{pp}.from.{key}"),
                    format!(
                        "unknown key `{key}` for family `{}`: expected {}",
                        property.family.as_str(),
                        known.collect::<Vec<_>>().join(", ")
                    ),
                );
            }
        }
        for key in required {
            if property.from.get(*key).is_none() {
                self.error(
                    format!("{pp}.from"),
                    format!("family `{}` needs `from.{key}`", property.family.as_str()),
                );
            }
        }
        self.property_authorize(path, step, property);
        self.property_except(&pp, property);
        if let Some(username) = property.from.get("username").and_then(|u| u.as_literal())
            && username.contains(':')
        {
            self.error(
                format!("{pp}.from.username"),
                "a Basic user-id cannot contain `:` (RFC 7617 §2)".into(),
            );
        }
        if let Some(ranges) = property.from.get("ranges").and_then(|r| r.as_literal())
            && let Err(e) = super::model::parse_ranges(ranges)
        {
            self.error(format!("{pp}.from.ranges"), e);
        }
        // The names `from` uses are checked and counted as the scenario's inputs like any
        // template's, so a target that leaves one out skips the scenario rather than erring.
        property.visit_templates(&pp, self);
        if property.family == super::model::PropertyFamily::Bearer
            && let Some(request) = &step.request
        {
            self.bearer_carried(&pp, property, request);
        }
    }

    /// Checks a property step's `except`: each a kind of its family, once, with a reason, and
    /// not every kind.
    fn property_except(&mut self, pp: &str, property: &PropertySpec) {
        let family = property.family;
        let kinds = family.kinds();
        let mut seen = Vec::new();
        for (i, exclusion) in property.except.iter().enumerate() {
            let at = format!("{pp}.except[{i}]");
            let kind = exclusion.kind.as_str();
            if !kinds.contains(&kind) {
                self.error(
                    format!("{at}.kind"),
                    format!(
                        "unknown kind `{kind}` for family `{}`: expected one of {}",
                        family.as_str(),
                        kinds
                            .iter()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            } else if seen.contains(&kind) {
                self.error(
                    format!("{at}.kind"),
                    format!("kind `{kind}` is already left out above"),
                );
            }
            seen.push(kind);
            if exclusion.because.trim().is_empty() {
                self.error(
                    format!("{at}.because"),
                    format!(
                        "say why `{kind}` is left out: the reports show the reason beside every kind not tried"
                    ),
                );
            }
        }
        if kinds.iter().all(|k| seen.contains(k)) {
            self.error(
                format!("{pp}.except"),
                format!(
                    "every kind of family `{}` is left out: the step would send no case; remove the step instead",
                    family.as_str()
                ),
            );
        }
    }

    /// Checks that a `bearer` step's request carries the token its cases replace: `from.token`'s
    /// template as `auth: { bearer }`, a header (alone or after a scheme), a query parameter or a
    /// form field; or, without `from.token`, an `auth: { bearer }` or `auth: { oauth2 }`. A token
    /// written another way is found, or not, when the step runs.
    fn bearer_carried(
        &mut self,
        pp: &str,
        property: &PropertySpec,
        request: &super::model::RequestSpec,
    ) {
        let Some(token) = property.from.get("token") else {
            if !matches!(
                request.auth,
                Some(AuthSpec::Bearer(_) | AuthSpec::Oauth2(_))
            ) {
                self.error(
                    format!("{pp}.from"),
                    "family `bearer` varies the request's token: give `from.token`, or send the token with `auth: { bearer }` or `auth: { oauth2 }`".into(),
                );
            }
            return;
        };
        let source = token.source();
        let same = |t: &Template| t.source() == source;
        let carried = matches!(&request.auth, Some(AuthSpec::Bearer(t)) if same(t))
            || request.query.iter().any(|(_, v)| same(v))
            || request.headers.iter().any(|(_, v)| {
                same(v)
                    || v.source().strip_suffix(source).is_some_and(|scheme| {
                        scheme.ends_with(' ') && !scheme.trim().contains(char::is_whitespace)
                    })
            })
            || matches!(&request.body, Some(super::model::Body::Form(fields)) if fields.iter().any(|(_, v)| same(v)));
        if !carried {
            self.error(
                format!("{pp}.from.token"),
                "the request does not carry `from.token`: send the same template as `auth: { bearer }`, a header, a query parameter or a form field".into(),
            );
        }
    }

    /// Checks a `json_credentials` step: its request has a JSON object body, and each `from` key
    /// is `other_<member>` for a member of that body.
    fn json_credentials(&mut self, path: &str, step: &Step, property: &PropertySpec) {
        let members = match step.request.as_ref().and_then(|r| r.body.as_ref()) {
            Some(super::model::Body::Json(serde_json::Value::Object(members))) => members,
            _ => {
                if step.request.is_some() {
                    self.error(
                        format!("{path}.request"),
                        "family `json_credentials` varies the credentials of the step's JSON body: give the request a `body: { json: { … } }` object".into(),
                    );
                }
                return;
            }
        };
        for key in property.from.keys() {
            let member = key.strip_prefix("other_");
            if !member.is_some_and(|m| members.contains_key(m)) {
                let known: Vec<String> = members.keys().map(|m| format!("`other_{m}`")).collect();
                self.error(
                    format!("{path}.property.from.{key}"),
                    format!(
                        "unknown key `{key}` for family `json_credentials`: expected `other_<member>` for a member of the JSON body ({})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// Checks a property step's per-case authorization request: present exactly for the
    /// families that run one, an authorization request with PKCE, before a token request.
    fn property_authorize(&mut self, path: &str, step: &Step, property: &PropertySpec) {
        let pp = format!("{path}.property");
        let family = property.family.as_str();
        let Some(request) = &property.authorize else {
            if property.family.authorizes_each_case() {
                self.error(
                    pp,
                    format!(
                        "family `{family}` runs an authorization request per case: add `authorize`, the request (with `authorize` and `pkce`) that gets each case its code"
                    ),
                );
            }
            return;
        };
        let ap = format!("{pp}.authorize");
        if !property.family.may_authorize_each_case() {
            self.error(
                ap,
                format!("family `{family}` runs no authorization request: remove `authorize`"),
            );
            return;
        }
        request.visit_templates(&ap, self);
        match &request.authorize {
            Some(authorize) => {
                self.authorize(&format!("{ap}.authorize"), authorize);
                if authorize.capture_as.is_some() {
                    self.error(
                        format!("{ap}.authorize.capture_as"),
                        "a case's own authorization captures nothing for later steps: remove `capture_as`".into(),
                    );
                }
                if authorize.pkce.is_none() && property.family.authorizes_each_case() {
                    self.error(
                        format!("{ap}.authorize"),
                        "each case sends its own PKCE challenge: add `pkce: {}` to this authorization request".into(),
                    );
                }
            }
            None => self.error(
                ap,
                "`property.authorize` must be an authorization request: give it an `authorize` block".into(),
            ),
        }
        if step.request.as_ref().is_some_and(|r| r.token.is_none()) {
            self.error(
                format!("{path}.request"),
                format!(
                    "family `{family}` puts each case's own code into a token request: give the step's request a `token` block"
                ),
            );
        }
    }

    fn step_body(&mut self, path: &str, step: &Step) {
        self.property(path, step);
        let kinds = usize::from(step.request.is_some())
            + usize::from(step.clock.is_some())
            + usize::from(!step.compute.is_empty());
        match kinds {
            0 => self.error(
                path.into(),
                "a step needs a `request`, a `clock` or a `compute`".into(),
            ),
            1 => {}
            _ => self.error(
                path.into(),
                "a step is one of a `request`, a `clock` or a `compute` step, not several".into(),
            ),
        }
        if !step.compute.is_empty() {
            if !step.capture.is_empty() || step.expect.is_some() {
                self.error(
                    format!("{path}.compute"),
                    "a `compute` step takes no `capture` or `expect`".into(),
                );
            }
            for (name, spec) in &step.compute {
                let cp = format!("{path}.compute.{name}");
                // Each value may use the ones computed before it in the same step.
                spec.visit_templates(&cp, self);
                self.compute(&cp, spec);
                let secret = spec.output_is_secret();
                if !valid_name(name) {
                    self.error(
                        cp.clone(),
                        format!("invalid name `{name}`: use letters, digits, `_` and `-`"),
                    );
                }
                self.define(&cp, name, secret);
            }
        }
        if let Some(clock) = &step.clock {
            if !step.capture.is_empty() || step.expect.is_some() {
                self.error(
                    path.into(),
                    "a `clock` step takes no `capture` or `expect`".into(),
                );
            }
            clock.visit_templates(&format!("{path}.clock"), self);
            if let Some(literal) = clock.advance.as_literal() {
                match super::model::DurationValue::parse(literal) {
                    Err(e) => self.error(format!("{path}.clock.advance"), e),
                    Ok(advance) if advance.0.is_zero() => self.error(
                        format!("{path}.clock.advance"),
                        "`advance: 0s` moves no time: give how long to wait, like `1800s`".into(),
                    ),
                    Ok(_) => {}
                }
            }
            if clock.plus.is_some_and(|p| p.0.is_zero()) {
                self.error(
                    format!("{path}.clock.plus"),
                    "`plus: 0s` adds nothing: give a margin like `1s`, or leave `plus` out".into(),
                );
            }
        }
        if let Some(request) = &step.request {
            let rp = format!("{path}.request");
            if request.timeout.is_some_and(|t| t.0.is_zero()) {
                self.error(
                    format!("{rp}.timeout"),
                    "`timeout: 0s` would end every exchange before it starts: give a duration above 0s, or leave it out for the target's `limits.request_timeout`".into(),
                );
            }
            if request.connect_timeout.is_some_and(|t| t.0.is_zero()) {
                self.error(
                    format!("{rp}.connect_timeout"),
                    "`connect_timeout: 0s` would end every connection attempt before it starts: give a duration above 0s, or leave it out".into(),
                );
            }
            request.visit_templates(&rp, self);
            for k in request.headers.keys() {
                if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
                    self.error(
                        format!("{rp}.headers"),
                        format!("invalid header name `{k}`"),
                    );
                }
            }
            match &request.auth {
                Some(AuthSpec::Basic(basic)) => {
                    if basic.username.as_literal().is_some_and(|u| u.contains(':')) {
                        self.error(
                            format!("{rp}.auth.basic.username"),
                            "a Basic user-id cannot contain `:` (RFC 7617 §2)".into(),
                        );
                    }
                }
                Some(AuthSpec::Oauth2(grant)) => {
                    self.oauth2(&format!("{rp}.auth.oauth2"), grant, true)
                }
                Some(AuthSpec::Bearer(_) | AuthSpec::ApiKey(_)) | None => {}
            }
            if let Some(grant) = &request.token {
                self.oauth2(&format!("{rp}.token"), grant, false);
                if request.body.is_some() || request.auth.is_some() {
                    self.error(
                        format!("{rp}.token"),
                        "`token` builds the form body and the client authentication: remove `body` and `auth`".into(),
                    );
                }
            }
            if let Some(authorize) = &request.authorize {
                self.authorize(&format!("{rp}.authorize"), authorize);
                if request.token.is_some() || request.body.is_some() {
                    self.error(
                        format!("{rp}.authorize"),
                        "an authorization request has no body: remove `body` or `token`".into(),
                    );
                }
            }
            if let Some(source) = &request.source
                && let Some(sources) = &self.names.sources
                && !sources.contains(source)
            {
                let mut known: Vec<&str> = sources.iter().map(String::as_str).collect();
                known.sort();
                self.error(
                    format!("{rp}.source"),
                    format!(
                        "unknown source `{source}`: the target defines {}",
                        if known.is_empty() {
                            "no sources".to_owned()
                        } else {
                            format!("`{}`", known.join("`, `"))
                        }
                    ),
                );
            }
        }
        if let Some(expect) = &step.expect {
            let ep = format!("{path}.expect");
            if expect.outcome != ExpectedOutcome::Response && expect.checks_response() {
                self.error(
                    format!("{ep}.outcome"),
                    format!(
                        "`outcome: {}` expects no valid HTTP response, so nothing of a response (`status`, `headers`, `json`, `body`, …) can be checked",
                        expect.outcome
                    ));
            }
            if expect.within.is_some_and(|w| w.0.is_zero()) {
                self.error(
                    format!("{ep}.within"),
                    "`within` must be longer than 0s: no exchange can finish in no time".into(),
                );
            }
            if expect.outcome == ExpectedOutcome::Timeout && expect.within.is_none() {
                self.error(
                    format!("{ep}.outcome"),
                    "`outcome: timeout` needs `within`: how long no answer may come (e.g. `within: 3s`)".into());
            }
            expect.visit_templates(&ep, self);
            if let Some(assumed) = &expect.assumed {
                self.assumed(&format!("{ep}.assumed"), assumed);
            }
            if let Some(skip_unless) = &expect.skip_unless {
                self.skip_unless(&format!("{ep}.skip_unless"), skip_unless);
            }
        }
        let assumed_same_as = step
            .expect
            .as_ref()
            .and_then(|e| e.assumed.as_ref())
            .and_then(|a| a.same_as.as_ref())
            .map(|same_as| (same_as, format!("{path}.expect.assumed.same_as.response")));
        let skip_unless_same_as = step
            .expect
            .as_ref()
            .and_then(|e| e.skip_unless.as_ref())
            .and_then(|a| a.same_as.as_ref())
            .map(|same_as| {
                (
                    same_as,
                    format!("{path}.expect.skip_unless.same_as.response"),
                )
            });
        let documented_same_as = step
            .expect
            .as_ref()
            .and_then(|e| e.same_as.as_ref())
            .map(|same_as| (same_as, format!("{path}.expect.same_as.response")));
        for (same_as, at) in documented_same_as
            .into_iter()
            .chain(assumed_same_as)
            .chain(skip_unless_same_as)
        {
            if self.responses.contains(&same_as.response) || !self.complete {
                continue;
            }
            let hint = nearest(&same_as.response, self.responses.iter().map(String::as_str))
                .map(|n| format!(". Did you mean `{n}`?"))
                .unwrap_or_default();
            self.error(
                at,
                format!(
                    "no earlier step captured a response as `{}` (`capture: {{ {}: {{ response: true }} }}`){hint}",
                    same_as.response, same_as.response
                ),
            );
        }
        if let Some(eventually) = &step.eventually {
            if step.request.is_none() || step.expect.is_none() {
                self.error(
                    format!("{path}.eventually"),
                    "`eventually` repeats a request until its `expect` holds: it needs both in the same step".into(),
                );
            }
            if eventually.within.0.is_zero() {
                self.error(
                    format!("{path}.eventually.within"),
                    "`within: 0s` leaves no time to poll: give how long the change may take, like `5m`".into(),
                );
            }
            if eventually.every.0.is_zero() {
                self.error(
                    format!("{path}.eventually.every"),
                    "`every: 0s` would poll without pause: give the interval between attempts"
                        .into(),
                );
            } else if eventually.every.0 > eventually.within.0 && !eventually.within.0.is_zero() {
                self.error(
                    format!("{path}.eventually.every"),
                    "`every` is longer than `within`: there would be a single attempt".into(),
                );
            }
        }
        if !step.capture.is_empty() && step.request.is_none() {
            self.error(
                path.into(),
                "`capture` needs a `request` in the same step".into(),
            );
        }
        for (name, capture) in &step.capture {
            self.capture(&format!("{path}.capture.{name}"), name, capture);
        }
        if let Some(authorize) = step.request.as_ref().and_then(|r| r.authorize.as_deref()) {
            // What the authorization step hands to later steps, under the names it gives.
            for (output, secret) in AUTHORIZE_OUTPUTS {
                if let Some(name) = authorize.capture_name(output) {
                    let at = if authorize.capture_as.is_some() {
                        format!("{path}.request.authorize.capture_as.{output}")
                    } else {
                        format!("{path}.request.authorize")
                    };
                    self.define(&at, name, *secret);
                }
            }
        }
    }

    fn compute(&mut self, path: &str, spec: &ComputeSpec) {
        match spec {
            ComputeSpec::JwtSign(sign) => {
                use super::model::JwtKey;
                let (form, alg) = match &sign.key {
                    JwtKey::SharedSecret(_) => ("shared_secret", "HS256"),
                    JwtKey::Pem(_) => ("pem", "RS256"),
                    JwtKey::Jwk(_) => ("jwk", "RS256"),
                    JwtKey::PemFile(_) => ("pem_file", "RS256"),
                    JwtKey::PrivateKey(_) => ("private_key", "RS256"),
                };
                if sign.alg != alg && ["HS256", "RS256"].contains(&sign.alg.as_str()) {
                    self.error(
                        format!("{path}.jwt_sign.key"),
                        format!("a `{form}` key signs `{alg}`, not `{}`", sign.alg),
                    );
                }
                if !["HS256", "RS256"].contains(&sign.alg.as_str()) {
                    self.error(
                        format!("{path}.jwt_sign.alg"),
                        format!(
                            "unsupported alg `{}`: expected `HS256` or `RS256`",
                            sign.alg
                        ),
                    );
                }
                if sign.expires_in.is_some() && sign.expired_for.is_some() {
                    self.error(
                        format!("{path}.jwt_sign"),
                        "give `expires_in` or `expired_for`, not both".into(),
                    );
                }
            }
            ComputeSpec::RandomId(r) => {
                if let Some(length) = r.length
                    && !(8..=64).contains(&length)
                {
                    self.error(
                        format!("{path}.random_id.length"),
                        format!("a random id has 8 to 64 characters, not {length}"),
                    );
                }
            }
            ComputeSpec::PkceVerifier(v) => {
                if let Some(length) = v.length
                    && !(43..=128).contains(&length)
                {
                    self.error(
                        format!("{path}.pkce_verifier.length"),
                        format!(
                            "a PKCE verifier has 43 to 128 characters (RFC 7636 §4.1), not {length}"
                        ),
                    );
                }
            }
            ComputeSpec::PkceChallenge(c) => {
                if let Some(method) = &c.method
                    && !["S256", "plain"].contains(&method.as_str())
                {
                    self.error(
                        format!("{path}.pkce_challenge.method"),
                        format!("unknown PKCE method `{method}`: expected `S256` or `plain`"),
                    );
                }
            }
            ComputeSpec::Digest(d) => {
                if d.chain.is_empty() {
                    self.error(
                        format!("{path}.digest.chain"),
                        "a digest chain needs at least one algorithm".into(),
                    );
                }
            }
            ComputeSpec::CanonicalSignature(c) => {
                use super::model::CanonicalSigner;
                if let CanonicalSigner::Digest(chain) = &c.then
                    && chain.is_empty()
                {
                    self.error(
                        format!("{path}.canonical_signature.then.digest"),
                        "a digest chain needs at least one algorithm".into(),
                    );
                }
            }
            ComputeSpec::Integer(expression) => {
                if let Some(literal) = expression.as_literal()
                    && let Err(e) = super::model::integer_sum(literal)
                {
                    self.error(format!("{path}.integer"), e);
                }
            }
            ComputeSpec::JwtForge(_) | ComputeSpec::Hmac(_) | ComputeSpec::BasicCredentials(_) => {}
        }
    }

    fn oauth2(&mut self, path: &str, grant: &OAuth2Spec, in_auth: bool) {
        match (in_auth, &grant.token_url) {
            (true, None) => self.error(
                path.into(),
                "`auth: { oauth2 }` needs `token_url`: where to obtain the token".into(),
            ),
            (false, Some(_)) => self.error(
                format!("{path}.token_url"),
                "a `token` request is sent to its own `url`: remove `token_url`".into(),
            ),
            _ => {}
        }
        if grant.fresh && !in_auth {
            self.error(
                format!("{path}.fresh"),
                "`fresh` is for `auth: { oauth2 }` (a `token` request never uses the cache)".into(),
            );
        }
        let needs: &[(&str, bool)] = match &grant.grant {
            GrantType::Password => &[
                ("username", grant.username.is_some()),
                ("password", grant.password.is_some()),
            ],
            GrantType::RefreshToken => &[("refresh_token", grant.refresh_token.is_some())],
            GrantType::AuthorizationCode => &[("code", grant.code.is_some())],
            GrantType::ClientCredentials | GrantType::Other(_) => &[],
        };
        for (field, present) in needs {
            if !present {
                self.error(
                    format!("{path}.grant"),
                    format!("the `{}` grant needs `{field}`", grant.grant.as_str()),
                );
            }
        }
        match (grant.client_auth, &grant.client_id, &grant.client_secret) {
            (Some(ClientAuth::None), _, Some(_)) => self.error(
                format!("{path}.client_auth"),
                "`client_auth: none` sends no secret: remove `client_secret`".into(),
            ),
            (Some(ClientAuth::ClientSecretBasic), id, secret)
                if id.is_none() || secret.is_none() =>
            {
                self.error(
                    format!("{path}.client_auth"),
                    "`client_secret_basic` needs `client_id` and `client_secret`".into(),
                )
            }
            (Some(ClientAuth::ClientSecretPost), None, _) => self.error(
                format!("{path}.client_auth"),
                "`client_secret_post` needs `client_id`".into(),
            ),
            (None, None, Some(_)) => self.error(
                format!("{path}.client_secret"),
                "a `client_secret` needs its `client_id`".into(),
            ),
            _ => {}
        }
    }

    /// Checks an `assumed:` block: a one-line reason, at least one check, and only response
    /// checks (the transport outcome and a duration are never left open by the docs' silence;
    /// a step expecting no response is refused with the step's other response checks).
    fn assumed(&mut self, path: &str, assumed: &Assumed) {
        for (key, given) in [
            ("outcome", assumed.outcome.is_some()),
            ("within", assumed.within.is_some()),
        ] {
            if given {
                self.error(
                    format!("{path}.{key}"),
                    format!("`{key}` cannot be assumed: put it in `expect` itself; `assumed` takes `because` and response checks (`status`, `headers`, `json`, `body`, `www_authenticate`, `oauth_error`, `problem`, `jwt`, `same_as`)"),
                );
            }
        }
        let because = assumed.because.trim();
        if because.is_empty() || because.contains('\n') {
            self.error(
                format!("{path}.because"),
                "`because` must be one line saying which choice the documentation does not make"
                    .into(),
            );
        }
        let checks = assumed.checks();
        if !checks.checks_response() {
            self.error(
                path.into(),
                "an empty `assumed` block: give at least one check (`status`, `headers`, `json`, `body`, `www_authenticate`, `oauth_error`, `problem`, `jwt`, `same_as`) beside `because`".into(),
            );
        }
    }

    /// Checks a `skip_unless:` block as an `assumed:` one: a one-line reason (what the server
    /// does not offer when a check fails), at least one check, and only response checks (a
    /// server that does not answer as expected has not said it lacks a feature).
    fn skip_unless(&mut self, path: &str, block: &Assumed) {
        for (key, given) in [
            ("outcome", block.outcome.is_some()),
            ("within", block.within.is_some()),
        ] {
            if given {
                self.error(
                    format!("{path}.{key}"),
                    format!("`{key}` cannot decide a skip: put it in `expect` itself; `skip_unless` takes `because` and response checks (`status`, `headers`, `json`, `body`, `www_authenticate`, `oauth_error`, `problem`, `jwt`, `same_as`)"),
                );
            }
        }
        let because = block.because.trim();
        if because.is_empty() || because.contains('\n') {
            self.error(
                format!("{path}.because"),
                "`because` must be one line saying what the server does not offer when a check fails"
                    .into(),
            );
        }
        if !block.checks().checks_response() {
            self.error(
                path.into(),
                "an empty `skip_unless` block: give at least one check (`status`, `headers`, `json`, `body`, `www_authenticate`, `oauth_error`, `problem`, `jwt`, `same_as`) beside `because`".into(),
            );
        }
    }

    fn authorize(&mut self, path: &str, authorize: &AuthorizeSpec) {
        if let Some(method) = authorize.pkce.as_ref().and_then(|p| p.method.as_ref())
            && !["S256", "plain", "omit"].contains(&method.as_str())
        {
            self.error(
                format!("{path}.pkce.method"),
                format!("unknown PKCE method `{method}`: expected `S256`, `plain` or `omit`"),
            );
        }
        if let Some(names) = &authorize.capture_as {
            let given = [
                ("code", &names.code),
                ("code_verifier", &names.code_verifier),
                ("code_challenge", &names.code_challenge),
                ("state", &names.state),
            ];
            if given.iter().all(|(_, name)| name.is_none()) {
                self.error(
                    format!("{path}.capture_as"),
                    "`capture_as` names none of `code`, `code_verifier`, `code_challenge`, `state`: name one, or remove it".into(),
                );
            }
            for (output, name) in given {
                let Some(name) = name else { continue };
                let valid = !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    self.error(
                        format!("{path}.capture_as.{output}"),
                        format!(
                            "expected a capture name (letters, digits, `_`, `-`), like `other_{output}`, found \"{name}\""
                        ),
                    );
                }
            }
        }
    }

    /// Defines a name for later steps, refusing to shadow a target variable or secret.
    fn define(&mut self, path: &str, name: &str, secret: bool) {
        let shadows_var = self
            .names
            .variables
            .as_ref()
            .is_some_and(|v| v.contains(name));
        let shadows_secret = self
            .names
            .secrets
            .as_ref()
            .is_some_and(|v| v.contains(name));
        if shadows_var || shadows_secret {
            let declared_by = self
                .names
                .declared_by
                .clone()
                .unwrap_or_else(|| "the target".to_owned());
            self.error(
                path.into(),
                format!(
                    "`{name}` would shadow the target's {} of that name ({declared_by} declares it): name the capture otherwise",
                    if shadows_secret { "secret" } else { "variable" }
                ),
            );
        }
        self.captured.insert(name.to_owned());
        if secret {
            self.secret_captures.insert(name.to_owned());
        }
    }

    fn capture(&mut self, path: &str, name: &str, capture: &Capture) {
        if capture.jsonpath.is_some() && capture.header.is_some() {
            self.error(
                path.into(),
                "a capture takes its value from `jsonpath` or `header`, not both".into(),
            );
        }
        if capture.response {
            if capture.jsonpath.is_some()
                || capture.header.is_some()
                || capture.regex.is_some()
                || capture.count
            {
                self.error(
                    path.into(),
                    "`response: true` keeps the whole response: it takes no `jsonpath`, `header`, `regex` or `count`".into(),
                );
            }
            if capture.secret {
                self.error(
                    path.into(),
                    "a whole response cannot be a secret: capture the secret value with `jsonpath` or `header` instead".into(),
                );
            }
            self.responses.insert(name.to_owned());
        } else if capture.count {
            if capture.jsonpath.is_none() || capture.header.is_some() || capture.regex.is_some() {
                self.error(
                    path.into(),
                    "`count: true` counts the values a `jsonpath` selects: give `jsonpath`, without `header` or `regex`".into(),
                );
            }
        } else if capture.jsonpath.is_none() && capture.header.is_none() && capture.regex.is_none()
        {
            self.error(
                path.into(),
                "a capture needs `jsonpath`, `header`, `regex` or `response: true`".into(),
            );
        }
        if !valid_name(name) {
            self.error(
                path.into(),
                format!("invalid capture name `{name}`: use letters, digits, `_` and `-`"),
            );
        }
        self.define(path, name, capture.secret);
    }

    fn template(&mut self, path: &str, template: &Template) {
        if !self.complete {
            return;
        }
        let declared_by = self
            .names
            .declared_by
            .clone()
            .unwrap_or_else(|| "the target".to_owned());
        let refs: Vec<VarRef> = template.refs().cloned().collect();
        for r in refs {
            match &r {
                VarRef::Var(name) => {
                    if self.captured.contains(name) {
                        continue;
                    }
                    self.inputs.insert(InputUse::Plain(name.clone()));
                    let Some(variables) = &self.names.variables else {
                        continue;
                    };
                    if !variables.contains(name) {
                        let hint = if self
                            .names
                            .secrets
                            .as_ref()
                            .is_some_and(|s| s.contains(name))
                        {
                            format!(". `{name}` is a secret: write `{{{{secret.{name}}}}}`")
                        } else {
                            let known = variables
                                .iter()
                                .chain(self.captured.iter())
                                .map(String::as_str);
                            nearest(name, known)
                                .map(|n| format!(". Did you mean `{n}`?"))
                                .unwrap_or_default()
                        };
                        self.error(
                            path.into(),
                            format!("undefined variable `{name}`: not a host or variable {declared_by} declares, nor captured by an earlier step{hint}"));
                    }
                }
                VarRef::Secret(name) => {
                    if self.secret_captures.contains(name) {
                        continue;
                    }
                    self.inputs.insert(InputUse::Secret(name.clone()));
                    let Some(secrets) = &self.names.secrets else {
                        continue;
                    };
                    if !secrets.contains(name) {
                        let known = secrets
                            .iter()
                            .chain(self.secret_captures.iter())
                            .map(String::as_str);
                        let hint = nearest(name, known)
                            .map(|n| format!(". Did you mean `{n}`?"))
                            .unwrap_or_default();
                        self.error(
                            path.into(),
                            format!("undefined secret `{name}`: not a secret {declared_by} declares, nor captured as secret by an earlier step{hint}"));
                    }
                }
            }
        }
    }
}

impl TemplateVisitor for Checker<'_> {
    fn template(&mut self, path: &str, template: &Template) {
        Checker::template(self, path, template);
    }

    fn invalid(&mut self, path: &str, error: String) {
        self.error(path.into(), error);
    }
}

/// Returns true for a name a template can refer to.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Returns the candidate within edit distance 2 of `wrong`, if any.
pub fn nearest<'a>(wrong: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(wrong, c), c))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, c)| c)
}

/// Parses a YAML document of any other input type (spec, target) into `T`.
pub fn parse_yaml<T: for<'de> Deserialize<'de>>(
    input: InputKind,
    file: &Path,
    text: &str,
) -> Result<T, Vec<LoadError>> {
    // Deserializing would keep one of two equal keys without a word.
    let duplicates = SpanIndex::build(text).duplicate_key_errors(input, file, text);
    if !duplicates.is_empty() {
        return Err(duplicates);
    }
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| vec![from_yaml_error(input, file, text, &e, None)])
}

/// Converts a serde_yaml error (wrapped with its document path) into a [`LoadError`], stripping
/// the position and path serde_yaml already put in its message, and suggesting the nearest field
/// for an unknown one. `origin` places an error of a scenario read on its own in its file.
fn from_yaml_error(
    input: InputKind,
    file: &Path,
    text: &str,
    error: &serde_path_to_error::Error<serde_yaml::Error>,
    origin: Option<&ItemOrigin>,
) -> LoadError {
    let inner = error.inner();
    let mut message = inner.to_string();
    // serde_yaml appends " at line L column C" and may prefix "path: ". A syntax error reads
    // "PROBLEM at line L column C, while CONTEXT at line L2 column C2": the first position is
    // the error's own location; the second says where the construct being read began.
    let syntax = regex::Regex::new(
        r"^(?s)(.*?) at line \d+ column \d+, (while [^,]*?) at line (\d+) column (\d+)$",
    )
    .expect("a valid regular expression");
    if let Some(caps) = syntax.captures(&message) {
        let line_offset = origin.map_or(0, |o| o.lines_before);
        let line = caps[3].parse::<usize>().map_or_else(
            |_| caps[3].to_owned(),
            |line| (line + line_offset).to_string(),
        );
        message = format!(
            "{}, {} that starts at {}:{}",
            &caps[1], &caps[2], line, &caps[4]
        );
    } else if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    let mut path = error.path().to_string();
    // A syntax error has no element yet: serde_path_to_error shows it as `?`.
    while let Some(stripped) = path.strip_suffix(".?").or_else(|| path.strip_suffix('?')) {
        path = stripped.to_owned();
    }
    if let Some((head, rest)) = message.split_once(": ")
        && !head.contains(' ')
        && (head.contains('.') || head.contains('[') || path.starts_with(head))
    {
        message = rest.to_owned();
    }
    message = diagnostic::suggest_field(&message);
    if let Some(origin) = origin {
        path = if path.is_empty() || path == "." {
            origin.path.clone()
        } else {
            format!("{}.{path}", origin.path)
        };
    }
    let mut load_error = LoadError::new(input, file, message).at_path(path);
    if inner.location().is_none()
        && inner.to_string().contains("more than one document")
        && let Some(second) = diagnostic::second_document(text)
    {
        load_error.message = "a second YAML document starts here: a file holds one document, so remove it or move it to a file of its own".into();
        load_error = load_error.at_location(text, second);
    }
    if let Some(loc) = inner.location() {
        // From the byte index, so lines count `\n` only, as the source-line display does
        // (serde_yaml's own line also counts U+2028, NEL and a lone CR).
        let mut offset = (origin.map_or(0, |o| o.byte) + loc.index()).min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        load_error = load_error.at_location(text, diagnostic::offset_location(text, offset));
    }
    load_error
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders what parsing found, to compare the two ways of reading a file.
    fn outcome(parsed: (Vec<ParsedScenario>, Vec<LoadError>)) -> (Vec<String>, Vec<String>) {
        let (scenarios, errors) = parsed;
        (
            scenarios
                .iter()
                .map(|p| format!("{} {} {:?}", p.index, p.complete, p.scenario))
                .collect(),
            errors.iter().map(ToString::to_string).collect(),
        )
    }

    const STEP: &str =
        "      - request: { url: \"{{api_base}}/x\" }\n        expect: { status: 200 }\n";

    /// Files whose scenarios can be read one at a time give exactly what reading them whole
    /// gives: the same scenarios, the same errors at the same line, column and path.
    #[test]
    fn scenarios_read_one_at_a_time_match_the_file_read_whole() {
        let scenario = |id: &str, extra: &str| {
            format!(
                "  - id: {id}\n    title: T é\n    requirements: [DEMO-1]\n{extra}    steps:\n{STEP}"
            )
        };
        let cases = [
            format!("scenarios:\n{}{}", scenario("a", ""), scenario("b", "")),
            // Broken steps in two scenarios, a scenario broken outside its steps, an unknown
            // key, a wrong type, comments and blank lines between items.
            format!(
                "# head\nscenarios:\n{}\n  # between\n{}{}{}",
                scenario("a", "").replace("status: 200", "status: fourohone"),
                scenario("b", "    tittle: x\n"),
                scenario("c", "").replace("url:", "urll:"),
                scenario("d", "").replace("[DEMO-1]", "DEMO-1")
                    + "      - request: { url: 3 }\n        expect: { status: 99 }\n",
            ),
            // An item that is not a scenario, a missing field, CRLF line ends, deeper `- `.
            format!(
                "scenarios:\r\n  - just text\r\n  -   id: e\r\n      title: x\r\n      steps: []\r\n{}",
                scenario("f", "").replace('\n', "\r\n")
            ),
            "scenarios:\n- id: g\n  title: t\n  requirements: [DEMO-1]\n  steps:\n  - clock: { advance: 1s, plus: 1 }\n".to_owned(),
        ];
        for (n, text) in cases.iter().enumerate() {
            let spans = SpanIndex::build(text);
            let items = scenario_items(text, &spans)
                .unwrap_or_else(|| panic!("case {n} reads one scenario at a time"));
            let file = Path::new("s.yaml");
            let one_at_a_time = outcome(parse_items(file, text, &items));
            let whole = outcome(parse_whole(file, text));
            assert_eq!(one_at_a_time, whole, "case {n}:\n{text}");
            if n > 0 {
                assert!(!whole.1.is_empty(), "case {n} has errors");
            }
        }
    }

    /// Every scenario file of the repository, good and broken (the bad-input fixtures too), reads
    /// the same one scenario at a time as whole.
    #[test]
    fn the_repository_scenario_files_read_the_same_either_way() {
        fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    yaml_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        yaml_files(Path::new("scenarios"), &mut files);
        yaml_files(Path::new("tests/fixtures"), &mut files);
        let mut split = 0;
        for file in &files {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            let spans = SpanIndex::build(&text);
            if !spans.duplicate_keys().is_empty() {
                continue;
            }
            let Some(items) = scenario_items(&text, &spans) else {
                continue;
            };
            split += 1;
            assert_eq!(
                outcome(parse_items(file, &text, &items)),
                outcome(parse_whole(file, &text)),
                "{}",
                file.display()
            );
        }
        assert!(split >= 20, "only {split} of {} files split", files.len());
    }

    /// Files where one item could depend on another, or whose layout is not one block list
    /// under `scenarios:`, are read whole.
    #[test]
    fn files_an_item_cannot_be_read_alone_from_are_read_whole() {
        let whole = [
            "scenarios:\n  - &a { id: a }\n  - *a\n",
            "scenarios:\n  - !tagged { id: a }\n",
            "scenarios: [ { id: a }, { id: b } ]\n",
            "scenarios:\n  - { id: a }\nother: 1\n",
            "scenario:\n  - { id: a }\n",
            "scenarios:\n  - { id: a }\n---\nscenarios: []\n",
            "scenarios:\n  - { id: a\n",
            "scenarios:\n  -\n    id: a\n",
        ];
        for text in whole {
            assert!(
                scenario_items(text, &SpanIndex::build(text)).is_none(),
                "{text}"
            );
        }
        let text = "scenarios:\n  - id: a\n  -   id: b\n";
        let items = scenario_items(text, &SpanIndex::build(text)).expect("a block list");
        let texts: Vec<String> = items
            .iter()
            .map(|i| {
                let mut item_text = "left from before".to_owned();
                i.write_text(text, &mut item_text);
                item_text
            })
            .collect();
        assert_eq!(texts, ["    id: a\n", "      id: b\n"]);
        assert_eq!(items[1].lines_before, 2);
    }

    /// Parses and checks one scenario whose `steps:` (and `finally:`) are `body`, against a
    /// target declaring `api_base` and the secret `token`; returns each error as
    /// `line:column path: message`.
    fn vocabulary_errors(body: &str) -> Vec<String> {
        let text = format!("scenarios:\n  - id: s\n    title: t\n    requirements: [R-1]\n{body}");
        let file = Path::new("s.yaml");
        let spans = SpanIndex::build(&text);
        let (parsed, mut errors) = parse_file(file, &text, &spans);
        let names = Names {
            requirements: HashSet::from(["R-1".to_owned()]),
            variables: Some(HashSet::from(["api_base".to_owned()])),
            secrets: Some(HashSet::from(["token".to_owned()])),
            ..Names::default()
        };
        for p in &parsed {
            errors.extend(check_scenario(file, &text, p, &names, &spans));
        }
        errors
            .iter()
            .map(|e| {
                let at = e
                    .location
                    .map(|l| format!("{}:{}", l.line, l.column))
                    .unwrap_or_default();
                format!(
                    "{at} {}: {}",
                    e.path.as_deref().unwrap_or_default(),
                    e.message
                )
            })
            .collect()
    }

    fn assert_one_error(body: &str, at: &str, fragment: &str) {
        let errors = vocabulary_errors(body);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(errors[0].starts_with(at), "{at:?}: {errors:#?}");
        assert!(errors[0].contains(fragment), "{fragment:?}: {errors:#?}");
    }

    #[test]
    fn the_vocabulary_loads() {
        let body = "    steps:\n\
            \x20     - request: { url: \"{{api_base}}/a\" }\n\
            \x20       capture:\n\
            \x20         old: { jsonpath: $.t, secret: true }\n\
            \x20         n: { jsonpath: \"$.k[*]\", count: true }\n\
            \x20     - compute: { left: { integer: \"40 - {{n}} + -2\" } }\n\
            \x20     - request: { url: \"{{api_base}}/b/{{i}}\", token: { grant: \"urn:x:y\" } }\n\
            \x20       repeat: { count: \"{{left}}\", as: i }\n\
            \x20       expect:\n\
            \x20         json:\n\
            \x20           $.t: [{ differs_from: old }, { not_equals: \"{{i}}\" }, { differs_from: secret.token }]\n\
            \x20           $.e: [{ le: \"{{left}}\" }, { gt: 1.5 }, { not_equals: { a: 1 } }]\n\
            \x20         headers: { etag: { differs_from: old } }\n\
            \x20         body: { not_equals: x }\n\
            \x20         oauth_error: { error: { not_equals: invalid_grant } }\n\
            \x20   finally:\n\
            \x20     - request: { method: DELETE, url: \"{{api_base}}/b/{{old}}\" }\n\
            \x20       repeat: { count: 2, as: i }\n";
        assert_eq!(vocabulary_errors(body), Vec::<String>::new());
    }

    #[test]
    fn differs_from_an_undefined_name_is_located() {
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        expect: { json: { $.t: { differs_from: olde } } }\n",
            "7:27 scenarios[0].steps[0].expect.json.$.t",
            "undefined variable `olde`",
        );
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        expect: { json: { $.t: { differs_from: \"a b\" } } }\n",
            "7:48 scenarios[0].steps[0].expect.json.$.t.differs_from",
            "expected the name of an earlier capture or a variable",
        );
    }

    #[test]
    fn a_numeric_bound_that_is_no_number_is_located() {
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        expect: { json: { $.t: { le: soon } } }\n",
            "7:38 scenarios[0].steps[0].expect.json.$.t.le",
            "expected a number, or a template rendering one",
        );
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        expect: { json: { $.t: { le: \"{{max}}\" } } }\n",
            "7:27 scenarios[0].steps[0].expect.json.$.t",
            "undefined variable `max`",
        );
    }

    #[test]
    fn a_grant_is_any_non_empty_string_and_known_ones_keep_their_fields() {
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\", token: { grant: \"\" } }\n",
            "6:59 scenarios[0].steps[0].request.token.grant",
            "expected a grant type (sent as `grant_type`), found an empty string",
        );
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\", token: { grant: password, username: u } }\n",
            "6:59 scenarios[0].steps[0].request.token.grant",
            "the `password` grant needs `password`",
        );
    }

    #[test]
    fn finally_steps_are_checked_against_what_steps_define() {
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        capture: { id: { jsonpath: $.id } }\n    finally:\n      - request: { url: \"{{api_base}}/{{idd}}\" }\n",
            "9:25 scenarios[0].finally[0].request.url",
            "undefined variable `idd`",
        );
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n    finally:\n      - request: { url: \"{{api_base}}/a\" }\n        expct: { status: 200 }\n",
            "9:9",
            "unknown field `expct`",
        );
    }

    #[test]
    fn repeat_errors_are_located() {
        let step = |repeat: &str| {
            format!(
                "    steps:\n      - request: {{ url: \"{{{{api_base}}}}/a\" }}\n        repeat: {repeat}\n"
            )
        };
        assert_one_error(
            &step("{ count: 0, as: i }"),
            "7:26 scenarios[0].steps[0].repeat.count",
            "`count: 0` repeats nothing",
        );
        assert_one_error(
            &step("{ count: 1001, as: i }"),
            "7:26 scenarios[0].steps[0].repeat.count",
            "expected a repeat count from 0 to 1000, found 1001",
        );
        assert_one_error(
            &step("{ count: many, as: i }"),
            "7:26",
            "expected a repeat count (an integer from 0 to 1000), found \"many\"",
        );
        assert_one_error(
            &step("{ count: 2, as: api_base }"),
            "7:33 scenarios[0].steps[0].repeat.as",
            "`api_base` is already a variable, secret or capture",
        );
        assert_one_error(
            &step("{ count: 2, as: i, every: 1s }"),
            "7:36 scenarios[0].steps[0].repeat.every",
            "unknown field `every`",
        );
        assert_one_error(
            &step(
                "{ count: 2, as: i }\n        expect: { status: 200 }\n        eventually: { within: 5s, every: 1s }",
            ),
            "7:9 scenarios[0].steps[0].repeat",
            "`repeat` and `eventually` do not combine",
        );
        // The iteration name exists in its own step only.
        assert_one_error(
            &format!(
                "{}      - request: {{ url: \"{{{{api_base}}}}/{{{{i}}}}\" }}\n",
                step("{ count: 2, as: i }")
            ),
            "8:25 scenarios[0].steps[1].request.url",
            "undefined variable `i`",
        );
    }

    #[test]
    fn count_captures_and_integer_computes_are_checked() {
        assert_one_error(
            "    steps:\n      - request: { url: \"{{api_base}}/a\" }\n        capture: { n: { header: x-n, count: true } }\n",
            "7:20 scenarios[0].steps[0].capture.n",
            "`count: true` counts the values a `jsonpath` selects",
        );
        assert_one_error(
            "    steps:\n      - compute: { n: { integer: \"4 * 2\" } }\n",
            "6:34 scenarios[0].steps[0].compute.n.integer",
            "expected integers joined by `+` or `-` (like `40 - 3`), found \"4 * 2\"",
        );
    }

    #[test]
    fn integer_sums_add_and_subtract_signed_integers() {
        use super::super::model::integer_sum;
        assert_eq!(integer_sum("40 - 3"), Ok(37));
        assert_eq!(integer_sum(" -2+5 - -1 "), Ok(4));
        assert_eq!(integer_sum("7"), Ok(7));
        assert!(integer_sum("").is_err());
        assert!(integer_sum("1 -").is_err());
        assert!(integer_sum("1.5 + 1").is_err());
        assert!(integer_sum("a").is_err());
        let max = i64::MAX.to_string();
        assert!(
            integer_sum(&format!("{max} + 1"))
                .unwrap_err()
                .contains("overflows")
        );
        assert!(
            integer_sum("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
    }
}
