//! [`Plan`]: specs + scenarios + target, checked together. Loading is the only stage that returns
//! `Err`, with every problem found in every file.
//!
//! The plan also decides what can be known before running: which scenarios are skipped on this
//! target (provider not configured, an input its spec declares that the target does not supply,
//! a real wait longer than `max_wait`), and which requirements no scenario covers.
//!
//! Every scenario is checked against its spec's `inputs`, whether or not the target configures
//! its provider, and a target configuring a provider may name only inputs its spec declares.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{InputKind, LoadError, LoadErrors, SpanIndex};
pub use crate::input::yaml_files;
use crate::input::{hidden, input_files, unreadable, yaml_name};
use crate::registry::MockRegistry;
use crate::scenario::load::{InputUse, Names, check_scenario_inputs, parse_file};
use crate::scenario::model::{DurationValue, ExpectedOutcome, Scenario, ScenarioKind};
use crate::spec::{Catalogue, InputGroup, Inputs, load_catalogue};
use crate::target::{HostSpec, Target};

/// A scenario ready to run, with where it came from.
#[derive(Debug, Clone)]
pub struct PlannedScenario {
    /// The provider: the folder under `scenarios/`.
    pub provider: String,
    /// The file stem, e.g. `allowlist`.
    pub file: String,
    /// The file path, for messages.
    pub path: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// Why it will not run on this target, when known before running.
    pub skip: Option<String>,
    /// The provider inputs it uses: names it takes from the target, not from earlier steps;
    /// sorted, each once (a slice: a set's node would reserve room for eleven).
    pub inputs: Box<[InputUse]>,
}

impl PlannedScenario {
    /// Returns the trial name `provider::file::scenario-id`.
    pub fn trial_name(&self) -> String {
        format!("{}::{}::{}", self.provider, self.file, self.scenario.id)
    }

    /// Returns how long the scenario is known to wait in real time whatever the clock: the
    /// windows of its timeout expectations, which only a real wait can show. A run starts the
    /// longest waits first, so they overlap with everything else rather than end the run.
    pub fn known_real_wait(&self) -> std::time::Duration {
        self.scenario
            .all_steps()
            .filter_map(|step| step.expect.as_ref())
            .filter(|expect| expect.outcome == crate::scenario::model::ExpectedOutcome::Timeout)
            .filter_map(|expect| expect.within.map(|w| w.0))
            .sum()
    }

    /// Returns the JUnit classname `provider.file`.
    pub fn classname(&self) -> String {
        format!("{}.{}", self.provider, self.file)
    }

    /// Returns the scenario's `kind` when it gives one; otherwise `negative` when a step expects a
    /// failure (status ≥ 400 or no response), `happy` otherwise.
    pub fn kind(&self) -> ScenarioKind {
        if let Some(kind) = self.scenario.kind {
            return kind;
        }
        let negative = self
            .scenario
            .steps
            .iter()
            .filter_map(|s| s.expect.as_ref())
            .any(|e| {
                e.outcome != ExpectedOutcome::Response
                    || e.status
                        .as_ref()
                        .is_some_and(|s| s.0.iter().all(|c| c.lowest() >= 400))
            });
        if negative {
            ScenarioKind::Negative
        } else {
            ScenarioKind::Happy
        }
    }
}

/// Everything a run needs, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenarios, sorted by trial name.
    pub scenarios: Vec<Arc<PlannedScenario>>,
    /// The requirement catalogue.
    pub catalogue: Catalogue,
    /// The target.
    pub target: Arc<Target>,
}

/// An input the target does not supply for a provider it configures: the scenarios using it are
/// skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingInput {
    /// The provider.
    pub provider: String,
    /// Where the target would supply it.
    pub group: InputGroup,
    /// Its name.
    pub name: String,
    /// Its description, from the spec.
    pub description: String,
    /// True when the spec declares it optional: leaving it out is a choice, not an oversight.
    pub optional: bool,
    /// How many scenarios use it (and are skipped for it).
    pub scenarios: usize,
}

impl Plan {
    /// Returns the inputs the spec of each provider the target configures declares but the
    /// target does not supply, with how many scenarios use each (they are skipped).
    pub fn missing_inputs(&self) -> Vec<MissingInput> {
        let mut missing = Vec::new();
        for provider in self.target.providers.keys() {
            let Some((_, spec)) = self.catalogue.spec(provider) else {
                continue;
            };
            let Some(inputs) = &spec.inputs else {
                continue;
            };
            for (group, name, decl) in inputs.iter() {
                if supplies(&self.target, provider, group, name) {
                    continue;
                }
                missing.push(MissingInput {
                    provider: provider.clone(),
                    group,
                    name: name.to_owned(),
                    description: decl.description.clone(),
                    optional: decl.optional,
                    scenarios: self.users(provider, group, name),
                });
            }
        }
        missing
    }

    /// Returns the inputs a spec declares that none of its provider's scenarios uses, as
    /// (provider, group, name), for providers with scenarios.
    pub fn unused_inputs(&self) -> Vec<(String, InputGroup, String)> {
        let mut unused = Vec::new();
        for (_, spec) in &self.catalogue.specs {
            let provider = &spec.provider;
            let has_scenarios = self.scenarios.iter().any(|s| &s.provider == provider);
            let Some(inputs) = spec.inputs.as_ref().filter(|_| has_scenarios) else {
                continue;
            };
            for (group, name, _) in inputs.iter() {
                if self.users(provider, group, name) == 0 {
                    unused.push((provider.clone(), group, name.to_owned()));
                }
            }
        }
        unused
    }

    /// Returns how many scenarios of `provider` use its input `name` of `group`.
    fn users(&self, provider: &str, group: InputGroup, name: &str) -> usize {
        self.scenarios
            .iter()
            .filter(|s| {
                s.provider == provider && s.inputs.iter().any(|u| is_use_of(u, group, name))
            })
            .count()
    }

    /// Returns requirement ids no scenario cites, in catalogue order.
    pub fn uncovered(&self) -> Vec<String> {
        let cited: HashSet<&str> = self
            .scenarios
            .iter()
            .flat_map(|s| s.scenario.requirements.iter().map(String::as_str))
            .collect();
        self.catalogue
            .requirements
            .keys()
            .filter(|id| !cited.contains(id.as_str()))
            .cloned()
            .collect()
    }

    /// Returns requirement id → trial names of the scenarios citing it.
    pub fn traceability(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = self
            .catalogue
            .requirements
            .keys()
            .map(|k| (k.clone(), BTreeSet::new()))
            .collect();
        for s in &self.scenarios {
            for r in &s.scenario.requirements {
                map.entry(r.clone()).or_default().insert(s.trial_name());
            }
        }
        map
    }
}

/// Loads specs, scenarios and the target into a [`Plan`], reporting every problem.
///
/// `mocks` are the mock providers the run may start: a target's `{ mock: <host> }` must name a
/// host of its provider's entry there.
pub fn load_plan(
    specs_dir: &Path,
    scenarios_dir: &Path,
    mut target: Target,
    mocks: &MockRegistry,
) -> Result<Plan, LoadErrors> {
    let mut errors = Vec::new();
    let catalogue = load_catalogue(specs_dir).unwrap_or_else(|e| {
        errors.extend(e);
        Catalogue::default()
    });
    apply_defaults(&mut target, &catalogue);
    let spec_errors = !errors.is_empty();
    let mut names = Names {
        requirements: catalogue.requirements.keys().cloned().collect(),
        ..Names::default()
    };
    let mut scenarios = Vec::new();
    let entries = match std::fs::read_dir(scenarios_dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(LoadError::new(
                InputKind::Scenario,
                scenarios_dir,
                format!("cannot read the scenarios folder: {e}"),
            ));
            return Err(LoadErrors(errors));
        }
    };
    let mut providers: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => providers.push(entry.path()),
            Err(e) => errors.push(LoadError::new(
                InputKind::Scenario,
                scenarios_dir,
                format!("cannot list the scenarios folder: {e}"),
            )),
        }
    }
    providers.sort();
    for entry in providers {
        if hidden(&entry) {
            continue;
        }
        match std::fs::metadata(&entry) {
            Err(e) => {
                errors.push(unreadable(InputKind::Scenario, &entry, &e));
                continue;
            }
            Ok(meta) if !meta.is_dir() => {
                if yaml_name(&entry) {
                    errors.push(LoadError::new(
                        InputKind::Scenario,
                        &entry,
                        "scenario files belong in a provider folder: scenarios/<provider>/<flow>.yaml",
                    ));
                }
                continue;
            }
            Ok(_) => {}
        }
        let provider = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let spec = catalogue.spec(&provider);
        let inputs = spec.and_then(|(_, spec)| spec.inputs.as_ref());
        names.variables = inputs.map(Inputs::plain_names);
        names.secrets = inputs.map(Inputs::secret_names);
        names.declared_by = Some(format!("the `{provider}` spec"));
        names.sources = target
            .providers
            .contains_key(&provider)
            .then(|| target.sources.keys().cloned().collect());
        // Inputs every scenario of this provider uses, for the checks after the folder.
        let mut used: BTreeSet<InputUse> = BTreeSet::new();
        let mut has_scenarios = false;
        let (files, listing_errors) = input_files(
            InputKind::Scenario,
            &entry,
            "a folder inside a provider folder: scenario files go directly in scenarios/<provider>/, nested folders are not read",
        );
        errors.extend(listing_errors);
        for file in files {
            let text = match crate::diagnostic::read_input(InputKind::Scenario, &file) {
                Ok(text) => text,
                Err(e) => {
                    errors.push(*e);
                    continue;
                }
            };
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let spans = SpanIndex::build(&text);
            let (parsed, parse_errors) = parse_file(&file, &text, &spans);
            errors.extend(parse_errors);
            let mut seen = HashSet::new();
            // Each scenario moves into the plan: the file's list is not kept beside it.
            for p in parsed {
                if !seen.insert(p.scenario.id.clone()) {
                    errors.push(
                        LoadError::new(
                            InputKind::Scenario,
                            &file,
                            format!("duplicate scenario id `{}` in this file", p.scenario.id),
                        )
                        .at(
                            &spans,
                            &text,
                            format!("scenarios[{}].id", p.index),
                        ),
                    );
                }
                if spec_errors {
                    // Unknown-requirement errors would only repeat the spec errors.
                    names
                        .requirements
                        .extend(p.scenario.requirements.iter().cloned());
                }
                let check = check_scenario_inputs(&file, &text, &p, &names, &spans);
                errors.extend(check.errors);
                has_scenarios = true;
                used.extend(check.inputs.iter().cloned());
                if !p.complete {
                    continue;
                }
                let skip = skip_reason(&target, &provider, &p.scenario).or_else(|| {
                    inputs.and_then(|inputs| {
                        unsupplied_reason(&target, &provider, inputs, &check.inputs)
                    })
                });
                scenarios.push(Arc::new(PlannedScenario {
                    provider: provider.clone(),
                    file: stem.clone(),
                    path: file.clone(),
                    skip,
                    scenario: p.scenario,
                    inputs: check.inputs.into_iter().collect(),
                }));
            }
        }
        if spec_errors || !has_scenarios {
            continue;
        }
        match spec {
            None => errors.push(LoadError::new(
                InputKind::Scenario,
                &entry,
                format!(
                    "no spec defines provider `{provider}`: add `{provider}.yaml` to the specs folder with `provider: {provider}`, its requirements and the `inputs` its scenarios use{}",
                    used_summary(&used)
                ),
            )),
            Some((file, spec)) if spec.inputs.is_none() => errors.push(spec.error_at(
                file,
                "provider",
                format!(
                    "the spec of `{provider}` declares no `inputs`: a spec whose provider has scenarios lists the hosts, variables and secrets a target must supply for them{}",
                    used_summary(&used)
                ),
            )),
            Some(_) => {}
        }
    }
    errors.extend(check_mock_hosts(&target, mocks));
    if !spec_errors && !target.is_embedded() {
        errors.extend(check_target_providers(&target, &catalogue));
    }
    if !spec_errors {
        errors.extend(check_target_inputs(&target, &catalogue));
        errors.extend(check_templated_methods(&target, &catalogue, &scenarios));
    }
    if !errors.is_empty() {
        // Stable: file order first, then position; errors without a position keep their place.
        errors.sort_by_key(|e| (e.file.clone(), e.location.map(|l| (l.line, l.column))));
        return Err(LoadErrors(errors));
    }
    // One name per scenario, not two per comparison.
    scenarios.sort_by_cached_key(|s| s.trial_name());
    Ok(Plan {
        scenarios,
        catalogue,
        target: Arc::new(target),
    })
}

/// Returns the source names the scenarios of `provider` under `scenarios_dir` send from, sorted;
/// files that cannot be read or parsed are passed over (`validate` reports them).
pub fn sources_used(scenarios_dir: &Path, provider: &str) -> BTreeSet<String> {
    let (files, _) = input_files(InputKind::Scenario, &scenarios_dir.join(provider), "");
    let mut sources = BTreeSet::new();
    for file in files {
        let Ok(text) = crate::diagnostic::read_input(InputKind::Scenario, &file) else {
            continue;
        };
        let (parsed, _) = parse_file(&file, &text, &SpanIndex::build(&text));
        sources.extend(
            parsed
                .iter()
                .flat_map(|p| p.scenario.all_steps())
                .filter_map(|step| step.request.as_ref()?.source.clone()),
        );
    }
    sources
}

/// Names the inputs scenarios use, for the message asking for a declaration.
fn used_summary(used: &BTreeSet<InputUse>) -> String {
    let list = |secret: bool| {
        used.iter()
            .filter(|u| matches!(u, InputUse::Secret(_)) == secret)
            .map(|u| format!("`{}`", u.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (plain, secrets) = (list(false), list(true));
    match (plain.is_empty(), secrets.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" (its scenarios use hosts or variables {plain})"),
        (true, false) => format!(" (its scenarios use secrets {secrets})"),
        (false, false) => {
            format!(" (its scenarios use hosts or variables {plain}, and secrets {secrets})")
        }
    }
}

/// Returns true when `used` refers to the input `name` of `group`: `{{secret.name}}` to a secret,
/// `{{name}}` to a host or a variable.
fn is_use_of(used: &InputUse, group: InputGroup, name: &str) -> bool {
    used.name() == name && matches!(used, InputUse::Secret(_)) == (group == InputGroup::Secret)
}

/// Gives each provider the target configures the spec's `default` of every path and variable it
/// leaves out, and records which ones it got, so the run and the evidence use the same values.
fn apply_defaults(target: &mut Target, catalogue: &Catalogue) {
    for (provider, config) in &mut target.providers {
        let Some(inputs) = catalogue
            .spec(provider)
            .and_then(|(_, spec)| spec.inputs.as_ref())
        else {
            continue;
        };
        for (group, name, decl) in inputs.iter() {
            let (Some(default), Some(values)) = (
                &decl.default,
                match group {
                    InputGroup::Path => Some(&mut config.paths),
                    InputGroup::Variable => Some(&mut config.variables),
                    InputGroup::Host | InputGroup::Secret => None,
                },
            ) else {
                continue;
            };
            if !values.contains_key(name) {
                values.insert(name.to_owned(), default.clone());
                config.defaulted.insert(name.to_owned());
            }
        }
    }
}

/// Returns true when the target supplies `name` in `group` for `provider`.
fn supplies(target: &Target, provider: &str, group: InputGroup, name: &str) -> bool {
    target.providers.get(provider).is_some_and(|p| match group {
        InputGroup::Host => p.hosts.contains_key(name),
        InputGroup::Path => p.paths.contains_key(name),
        InputGroup::Variable => p.variables.contains_key(name),
        InputGroup::Secret => p.secrets.contains_key(name),
    })
}

/// Says which declared inputs a scenario uses that the target, configuring its provider, does
/// not supply: the scenario cannot run there, and is skipped rather than failed.
fn unsupplied_reason(
    target: &Target,
    provider: &str,
    inputs: &Inputs,
    used: &BTreeSet<InputUse>,
) -> Option<String> {
    let missing: Vec<String> = used
        .iter()
        .filter_map(|u| {
            let (group, decl) = inputs.get(u.name())?;
            // A use of the wrong kind is a load error already.
            if !is_use_of(u, group, u.name()) || supplies(target, provider, group, u.name()) {
                return None;
            }
            let optional = if decl.optional { "optional " } else { "" };
            Some(format!(
                "{optional}{group} `{}` ({})",
                u.name(),
                decl.description
            ))
        })
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "target `{}` does not supply {}",
            target.name,
            missing.join(", nor ")
        )
    })
}

/// Checks that a target names, for each provider whose spec declares inputs, only declared
/// inputs, each in its group: a misspelt name would otherwise leave the real input unsupplied
/// and its scenarios skipped.
fn check_target_inputs(target: &Target, catalogue: &Catalogue) -> Vec<LoadError> {
    let mut errors = Vec::new();
    for (provider, config) in &target.providers {
        let Some((spec_file, spec)) = catalogue.spec(provider) else {
            continue;
        };
        let Some(inputs) = &spec.inputs else {
            continue;
        };
        let supplied = config
            .hosts
            .keys()
            .map(|n| (InputGroup::Host, n))
            .chain(config.paths.keys().map(|n| (InputGroup::Path, n)))
            .chain(config.variables.keys().map(|n| (InputGroup::Variable, n)))
            .chain(config.secrets.keys().map(|n| (InputGroup::Secret, n)));
        for (group, name) in supplied {
            let message = match inputs.get(name) {
                Some((declared, _)) if declared == group => continue,
                Some((declared, _)) => format!(
                    "`{name}` is a {declared} of `{provider}`, not a {group}: move it under `{}`",
                    declared.key()
                ),
                None => {
                    let declared: Vec<&str> =
                        inputs.group(group).keys().map(String::as_str).collect();
                    let hint = crate::scenario::load::nearest(name, declared.iter().copied())
                        .or_else(|| {
                            crate::scenario::load::nearest(name, inputs.iter().map(|(_, n, _)| n))
                        })
                        .map(|n| format!(". Did you mean `{n}`?"))
                        .unwrap_or_default();
                    let known = if declared.is_empty() {
                        format!("it declares no {}", group.key())
                    } else {
                        format!("it declares `{}`", declared.join("`, `"))
                    };
                    format!(
                        "unknown {group} `{name}`: `{}` declares no such input for `{provider}` ({known}){hint}",
                        spec_file.display()
                    )
                }
            };
            let mut error = target.error_at(
                &format!("providers.{provider}.{}.{name}", group.key()),
                message,
            );
            if group == InputGroup::Secret {
                // The line may hold an inline (mock) secret value.
                error.source_line = None;
            }
            errors.push(error);
        }
    }
    errors
}

/// Checks each `method: "{{name}}"` whose variable the target (or its spec's default) supplies
/// is a method: a wrong value is the target's (or the spec's) error at its position, found
/// before anything runs.
fn check_templated_methods(
    target: &Target,
    catalogue: &Catalogue,
    scenarios: &[Arc<PlannedScenario>],
) -> Vec<LoadError> {
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    for planned in scenarios {
        let Some(config) = target.providers.get(&planned.provider) else {
            continue;
        };
        let requests = planned
            .scenario
            .steps
            .iter()
            .filter_map(|s| s.request.as_ref());
        for request in requests {
            let crate::scenario::model::Method::Templated(template) = &request.method else {
                continue;
            };
            let mut refs = template.refs();
            let (Some(crate::scenario::VarRef::Var(name)), None) = (refs.next(), refs.next())
            else {
                continue;
            };
            let Some(value) = config.variables.get(name) else {
                continue;
            };
            let rendered = template
                .render(|_| Ok::<_, std::convert::Infallible>(value.clone()))
                .unwrap_or_else(|never| match never {});
            let Err(message) = crate::scenario::model::Method::parse_token(&rendered) else {
                continue;
            };
            if !seen.insert((planned.provider.clone(), name.clone())) {
                continue;
            }
            let message = format!("`{name}` is used as a request method: {message}");
            let spec = catalogue.spec(&planned.provider);
            errors.push(match spec {
                Some((file, spec)) if config.defaulted.contains(name) => {
                    spec.error_at(file, &format!("inputs.variables.{name}.default"), message)
                }
                _ => target.error_at(
                    &format!("providers.{}.variables.{name}", planned.provider),
                    message,
                ),
            });
        }
    }
    errors
}

/// Decides the skips that are known before running.
fn skip_reason(target: &Target, provider: &str, scenario: &Scenario) -> Option<String> {
    if !target.providers.contains_key(provider) {
        return Some(format!(
            "target `{}` does not configure provider `{provider}`",
            target.name
        ));
    }
    if !target.is_virtual() {
        let waits = scenario
            .all_steps()
            .filter_map(|s| s.clock.as_ref())
            .filter_map(|c| {
                c.advance
                    .as_literal()
                    .and_then(|l| DurationValue::parse(l).ok())
            })
            .map(|d| d.0)
            // Polling for an eventual change may wait up to its bound.
            .chain(scenario.all_steps().filter_map(|s| {
                let propagation = target.limits.propagation.map(|d| d.0);
                s.eventually.map(|e| e.window(propagation).0)
            }));
        let total: std::time::Duration = waits.sum();
        let allowed = target.max_real_wait();
        if total > allowed {
            return Some(format!(
                "needs a real wait of {} but target `{}` allows at most {} (limits.max_wait)",
                humantime::format_duration(total),
                target.name,
                humantime::format_duration(allowed)
            ));
        }
    }
    None
}

/// Checks that every `{ mock: … }` host names a host of that provider's mock in `mocks`.
fn check_mock_hosts(target: &Target, mocks: &MockRegistry) -> Vec<LoadError> {
    let mut errors = Vec::new();
    for (provider, config) in &target.providers {
        for (name, host) in &config.hosts {
            let HostSpec::Mock(mock_host) = host else {
                continue;
            };
            let message = match mocks.get(provider) {
                None => format!("there is no embedded mock for provider `{provider}`"),
                Some(mock) if mock.hosts().contains(mock_host) => continue,
                Some(mock) if mock.hosts().is_empty() => {
                    format!("the embedded `{provider}` mock has no hosts")
                }
                Some(mock) => format!(
                    "the embedded `{provider}` mock has no host `{mock_host}`: it has `{}`",
                    mock.hosts().join("`, `")
                ),
            };
            errors
                .push(target.error_at(&format!("providers.{provider}.hosts.{name}.mock"), message));
        }
    }
    errors
}

/// Checks that every provider the target configures is defined by a spec: a misspelt provider
/// would otherwise leave every scenario of the real one skipped, and the run green.
fn check_target_providers(target: &Target, catalogue: &Catalogue) -> Vec<LoadError> {
    let defined: BTreeSet<&str> = catalogue
        .specs
        .iter()
        .map(|(_, spec)| spec.provider.as_str())
        .collect();
    target
        .providers
        .keys()
        .filter(|provider| !defined.contains(provider.as_str()))
        .map(|provider| {
            let hint = crate::scenario::load::nearest(provider, defined.iter().copied())
                .map(|n| format!(". Did you mean `{n}`?"))
                .unwrap_or_default();
            let known = if defined.is_empty() {
                "no spec defines any".to_owned()
            } else {
                format!(
                    "the specs define `{}`",
                    defined.iter().copied().collect::<Vec<_>>().join("`, `")
                )
            };
            target.error_at(
                &format!("providers.{provider}"),
                format!("unknown provider `{provider}`: no spec in the specs folder defines it ({known}){hint}"),
            )
        })
        .collect()
}
