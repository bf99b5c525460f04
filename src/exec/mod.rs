//! The executor: runs a [`PlannedScenario`] step by step and always yields a [`ScenarioResult`]
//! (running never returns `Err`: could-not-run is [`Verdict::Error`]).
//!
//! On a virtual-clock target every scenario gets its own [`VirtualClock`] and its own instances of
//! the mocks its provider's hosts name, started from the [`MockRegistry`] the runner was handed,
//! so scenarios run concurrently without sharing state or time.

pub mod check;
mod compute;
mod login;
mod oauth2;
mod property;
pub mod result;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::auth::oauth2::TokenCache;
use crate::clock::{Clock, VirtualClock};
use crate::net::{ClientPool, ConnectionUse, Exchange, SourceAddr};
use crate::plan::PlannedScenario;
use crate::registry::{MockConfig, MockRegistry};
use crate::scenario::model::{
    AuthSpec, Body, Capture, ClockStep, DurationValue, ExpectedOutcome, Method, Repeat,
    RequestSpec, Step,
};
use crate::scenario::{Template, VarRef};
use crate::secret::{
    CREDENTIAL_HEADERS, Secret, SecretBase, SecretRegistry, SecretScope, redact_credential_text,
};
use crate::target::{HostSpec, SecretSource, Target};
pub use result::{
    AssumptionNote, PropertyRecord, ScenarioResult, StepResult, Transcript, Verdict, WaiverNote,
};

/// How much of a body a transcript keeps.
const BODY_EXCERPT: usize = 2048;

/// Options for the embedded mocks of a run.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// Named deviations from the documented behaviour (for tests proving scenarios catch them).
    pub deviations: Vec<String>,
}

/// Runs scenarios against one target. Shared by all scenarios of a run.
pub struct Runner {
    target: Arc<Target>,
    secrets: Arc<SecretRegistry>,
    /// The automata over the target's secrets, which each scenario's [`SecretScope`] scans first.
    secret_base: Option<SecretBase>,
    /// provider → secret name → value, or why it is missing.
    secret_values: HashMap<String, HashMap<String, Result<Secret, String>>>,
    clients: ClientPool,
    tokens: TokenCache,
    mocks: MockRegistry,
    mock_options: MockOptions,
    /// Scenarios on embedded mocks running at once: each starts its own servers (a thread
    /// each), and their work is all on this machine's cores, so more at once than the cores can
    /// serve only adds memory. Scenarios against live hosts wait on the network and take every
    /// slot `--jobs` gives.
    mock_slots: tokio::sync::Semaphore,
    /// The run's seed, from which each `property` step's cases are drawn (`--seed`).
    seed: u64,
}

/// Scenarios on embedded mocks that run at once per core (see `Runner::mock_slots`): enough
/// that one waiting for a real timeout leaves the cores busy with others.
const MOCK_SCENARIOS_PER_CORE: usize = 4;

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("target", &self.target.name)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// Resolves the target's secrets (environment variables, or mock values) and registers them.
    /// `mocks` are the mock providers the target's `{ mock: <host> }` hosts are started from.
    pub fn new(target: Arc<Target>, mocks: MockRegistry, mock_options: MockOptions) -> Self {
        let secrets = Arc::new(SecretRegistry::new());
        let mut secret_values = HashMap::new();
        for (provider, config) in &target.providers {
            let mut values = HashMap::new();
            for (name, source) in &config.secrets {
                let Ok(secret_name) = name.parse() else {
                    continue;
                };
                let value = match source {
                    SecretSource::Value(v) => Ok(v.clone()),
                    SecretSource::Env(var) => match std::env::var(var) {
                        Ok(v) if !v.is_empty() => Ok(v),
                        _ => Err(format!(
                            "secret `{name}` is not set: environment variable `{var}` is empty or unset"
                        )),
                    },
                };
                let value = value.map(|v| {
                    let secret = Secret::new(secret_name, v);
                    secrets.register(&secret);
                    secret
                });
                values.insert(name.clone(), value);
            }
            secret_values.insert(provider.clone(), values);
        }
        let tls_hosts = target.tls_hosts();
        Self {
            target,
            secret_base: secrets.base(),
            secrets,
            secret_values,
            clients: ClientPool::with_tls_hosts(tls_hosts),
            tokens: TokenCache::new(),
            mocks,
            mock_options,
            mock_slots: tokio::sync::Semaphore::new(
                MOCK_SCENARIOS_PER_CORE
                    * std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ),
            seed: rand::random(),
        }
    }

    /// Sets the run's seed (`--seed`), so `property` steps draw the cases of an earlier run.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Returns the run's seed (random unless [`Runner::with_seed`] set it).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Returns the run's secret registry (every sink redacts through it).
    pub fn secrets(&self) -> &Arc<SecretRegistry> {
        &self.secrets
    }

    /// Returns the target.
    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// Runs one scenario. Never fails: problems become the verdict.
    pub async fn run(&self, planned: &PlannedScenario) -> ScenarioResult {
        self.run_observed(planned, &|_| {}).await
    }

    /// Runs one scenario as [`Runner::run`] does, handing each step's result to `on_step` as
    /// soon as the step ends (a run's `StepFinished` events).
    pub async fn run_observed(
        &self,
        planned: &PlannedScenario,
        on_step: &(dyn Fn(&StepResult) + Sync),
    ) -> ScenarioResult {
        let on_mocks = planned.skip.is_none()
            && self
                .target
                .providers
                .get(&planned.provider)
                .is_some_and(|config| {
                    config
                        .hosts
                        .values()
                        .any(|h| matches!(h, HostSpec::Mock(_)))
                });
        // Taken before the scenario's clock starts, so its duration is its own; never closed,
        // so acquiring only waits.
        let _mock_slot = if on_mocks {
            self.mock_slots.acquire().await.ok()
        } else {
            None
        };
        let started = SystemTime::now();
        let wall = Instant::now();
        let mut result = ScenarioResult {
            trial_name: planned.trial_name(),
            classname: planned.classname(),
            provider: planned.provider.clone(),
            id: planned.scenario.id.to_string(),
            title: planned.scenario.title.clone(),
            requirements: planned.scenario.requirements.clone(),
            verdict: Verdict::Pass,
            steps: Vec::new(),
            started,
            duration: Duration::ZERO,
        };
        let secrets = SecretScope::new(self.secrets.clone(), self.secret_base.as_ref());
        result.verdict = match &planned.skip {
            Some(reason) => Verdict::Skipped {
                reason: reason.clone(),
            },
            None => {
                self.run_steps(planned, &secrets, &mut result.steps, on_step)
                    .await
            }
        };
        result.verdict = judge_assumptions(result.verdict, &result.steps);
        if let Verdict::Fail { message, .. }
        | Verdict::Error { message, .. }
        | Verdict::DiffersFromAssumption { message } = &mut result.verdict
        {
            *message = secrets.redact(message);
        }
        result.duration = wall.elapsed();
        result
    }

    async fn run_steps(
        &self,
        planned: &PlannedScenario,
        secrets: &SecretScope,
        steps: &mut Vec<StepResult>,
        on_step: &(dyn Fn(&StepResult) + Sync),
    ) -> Verdict {
        let provider = &planned.provider;
        let Some(config) = self.target.providers.get(provider) else {
            return Verdict::Skipped {
                reason: format!(
                    "target `{}` does not configure provider `{provider}`",
                    self.target.name
                ),
            };
        };
        let clock = if self.target.is_virtual() {
            Clock::Virtual(Arc::new(VirtualClock::new()))
        } else {
            Clock::Real
        };
        let mut scope = Scope {
            runner: self,
            secrets,
            provider,
            vars: config
                .variables
                .iter()
                .chain(&config.paths)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            secret_captures: HashMap::new(),
            cookies: planned.scenario.has_session().then(HashMap::new),
            responses: HashMap::new(),
            waited: Duration::ZERO,
            attempt_deadline: None,
            clock: clock.clone(),
            trial_name: planned.trial_name(),
        };
        // Keeps the scenario's mock servers alive until the scenario ends.
        let mut _mocks = None;
        if config
            .hosts
            .values()
            .any(|h| matches!(h, HostSpec::Mock(_)))
        {
            let Clock::Virtual(virtual_clock) = &clock else {
                return Verdict::Error {
                    step: None,
                    message: "embedded mock hosts need a target with `clock: virtual`".into(),
                };
            };
            let mock_secrets: HashMap<String, String> = self
                .secret_values
                .get(provider)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| {
                            v.as_ref().ok().map(|s| (k.clone(), s.expose().to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let Some(mock) = self.mocks.get(provider) else {
                return Verdict::Error {
                    step: None,
                    message: format!("there is no embedded mock for provider `{provider}`"),
                };
            };
            let config = MockConfig {
                clock: virtual_clock.clone(),
                secrets: mock_secrets,
                deviations: self.mock_options.deviations.clone(),
            };
            match mock.start(config).await {
                Ok(running) => {
                    for (name, host) in &self.target.providers[provider].hosts {
                        if let HostSpec::Mock(mock_host) = host
                            && let Some(url) = running.url(mock_host)
                        {
                            scope.vars.insert(name.clone(), url);
                        }
                    }
                    _mocks = Some(running);
                }
                Err(e) => {
                    return Verdict::Error {
                        step: None,
                        message: format!("the embedded `{provider}` mock did not start: {e}"),
                    };
                }
            }
        }
        for (name, host) in &config.hosts {
            if let HostSpec::Url(url) = host {
                scope
                    .vars
                    .insert(name.clone(), url.trim_end_matches('/').to_owned());
            }
        }
        let scenario = &planned.scenario;
        let verdict = scope
            .run_step_list(&scenario.steps, 0, false, steps, on_step)
            .await
            .unwrap_or(Verdict::Pass);
        if scenario.finally.is_empty() {
            return verdict;
        }
        // Numbered after the last step that ran (the iterations of a `repeat` share a number).
        let first = steps.last().map_or(0, |step| step.index + 1);
        let cleanup = scope
            .run_step_list(&scenario.finally, first, true, steps, on_step)
            .await;
        match (verdict, cleanup) {
            // A cleanup step whose assumed check failed still cleaned up: its notes are judged
            // with the others.
            (verdict, None | Some(Verdict::DiffersFromAssumption { .. })) => verdict,
            // The scenario's own verdict says more than its cleanup; the cleanup's problem stays
            // in its step's record.
            (
                verdict @ (Verdict::Fail { .. } | Verdict::Error { .. } | Verdict::Waived { .. }),
                Some(_),
            ) => verdict,
            (
                Verdict::Pass | Verdict::Skipped { .. } | Verdict::DiffersFromAssumption { .. },
                Some(problem),
            ) => {
                let (step, why) = match problem {
                    Verdict::Fail { step, message } => (Some(step), message),
                    Verdict::Error { step, message } => (step, message),
                    Verdict::Skipped { reason } => (None, reason),
                    Verdict::Pass
                    | Verdict::DiffersFromAssumption { .. }
                    | Verdict::Waived { .. } => (None, String::new()),
                };
                Verdict::Error {
                    step,
                    message: format!(
                        "a cleanup step could not complete, so state may be left behind: {why}"
                    ),
                }
            }
        }
    }
}

impl Scope<'_> {
    /// Runs `list` in order, recording each step's result as number `first + i`; the first
    /// step that does not pass ends the list (`steps`), or is remembered while the rest still
    /// run (`cleanup`, where each step undoes something of its own).
    async fn run_step_list(
        &mut self,
        list: &[Step],
        first: usize,
        cleanup: bool,
        steps: &mut Vec<StepResult>,
        on_step: &(dyn Fn(&StepResult) + Sync),
    ) -> Option<Verdict> {
        let mut outcome = None;
        for (position, step) in list.iter().enumerate() {
            let index = first + position;
            let mut step_result = StepResult {
                index,
                name: step
                    .name
                    .as_deref()
                    .map_or_else(|| describe(step), str::to_owned),
                cleanup,
                ..StepResult::default()
            };
            let clock = self.clock.clone();
            let verdict = if let (Some(request), Some(repeat)) = (&step.request, &step.repeat) {
                self.repeat_step(index, step, request, repeat, step_result, steps, on_step)
                    .await
            } else {
                let mut verdict = if let Some(clock_step) = &step.clock {
                    self.clock_step(index, clock_step, &clock, &mut step_result)
                        .await
                } else if !step.compute.is_empty() {
                    self.compute_step(index, &step.compute, &mut step_result)
                } else if let (Some(property), Some(request)) = (&step.property, &step.request) {
                    // Boxed: a property step's future (its cases, shrinking, a flow per case)
                    // is large, and inline it would grow every scenario's future with it.
                    Box::pin(self.property_step(index, step, property, request, &mut step_result))
                        .await
                } else if let Some(request) = &step.request {
                    self.request_step(index, step, request, &mut step_result)
                        .await
                } else {
                    None
                };
                self.settle(&mut verdict, &mut step_result);
                on_step(&step_result);
                steps.push(step_result);
                verdict
            };
            if let Some(verdict) = verdict {
                if !cleanup {
                    return Some(verdict);
                }
                outcome.get_or_insert(verdict);
            }
        }
        outcome
    }

    /// Records an error's cause in the step's result and names the step in its message.
    fn settle(&self, verdict: &mut Option<Verdict>, result: &mut StepResult) {
        if let Some(Verdict::Error { message, .. }) = verdict {
            result.error = Some(self.secrets.redact(message));
            *message = format!("step {} ({}): {message}", result.index + 1, result.name);
        }
    }

    /// Runs a request step `repeat.count` times, the iteration's number in `{{<as>}}`, each
    /// iteration judged and recorded as `name (i/count)`; the first that does not pass ends the
    /// step. Each iteration's captures overwrite the previous one's. Reports keep the first
    /// [`RECORDED_ITERATIONS`] iterations and the last (or the one that ended the step); the next
    /// recorded iteration says how many held in between.
    #[allow(clippy::too_many_arguments)]
    async fn repeat_step(
        &mut self,
        index: usize,
        step: &Step,
        request: &RequestSpec,
        repeat: &Repeat,
        base: StepResult,
        steps: &mut Vec<StepResult>,
        on_step: &(dyn Fn(&StepResult) + Sync),
    ) -> Option<Verdict> {
        let count = match self
            .render(&repeat.count)
            .and_then(|text| Repeat::parse_count(&text))
        {
            Ok(count) => count,
            Err(e) => {
                let mut result = base;
                let mut verdict = Some(Verdict::Error {
                    step: Some(index),
                    message: format!("`repeat.count`: {e}"),
                });
                self.settle(&mut verdict, &mut result);
                on_step(&result);
                steps.push(result);
                return verdict;
            }
        };
        if count == 0 {
            let mut result = base;
            result.passed.push(format!(
                "not sent: `repeat.count` ({}) rendered 0",
                repeat.count.source()
            ));
            on_step(&result);
            steps.push(result);
            return None;
        }
        let earlier = self.vars.remove(&repeat.name);
        let mut unrecorded = 0;
        let mut verdict = None;
        for iteration in 1..=count {
            self.vars.insert(repeat.name.clone(), iteration.to_string());
            let mut result = base.clone();
            result.name = format!("{} ({iteration}/{count})", base.name);
            verdict = self.request_step(index, step, request, &mut result).await;
            self.settle(&mut verdict, &mut result);
            let last = verdict.is_some() || iteration == count;
            if iteration > RECORDED_ITERATIONS && !last {
                unrecorded += 1;
                continue;
            }
            if unrecorded > 0 {
                result.passed.insert(
                    0,
                    format!(
                        "iterations {} to {} held (not recorded, to keep reports small)",
                        iteration - unrecorded,
                        iteration - 1
                    ),
                );
            }
            on_step(&result);
            steps.push(result);
            if verdict.is_some() {
                break;
            }
        }
        self.vars.remove(&repeat.name);
        if let Some(value) = earlier {
            self.vars.insert(repeat.name.clone(), value);
        }
        verdict
    }
}

/// Turns a scenario's verdict into one that tells documented failures from assumed ones: a
/// scenario whose documented checks all held but whose steps hold notes (failed `assumed:`
/// checks) differs from an assumption.
///
/// Only a check marked `assumed:` is an assumption. A requirement of kind `Assumed` does not make
/// its scenario's checks assumptions: such a requirement often bundles a documented refusal with
/// an assumed status, and a provider accepting an expired token must fail, not differ.
fn judge_assumptions(verdict: Verdict, steps: &[StepResult]) -> Verdict {
    if !matches!(
        verdict,
        Verdict::Pass | Verdict::DiffersFromAssumption { .. }
    ) {
        return verdict;
    }
    let notes: Vec<String> = steps
        .iter()
        .flat_map(|step| {
            step.assumed.iter().map(move |note| {
                format!(
                    "step {} ({}): {} (assumed: {})",
                    step.index + 1,
                    step.name,
                    note.check,
                    note.because
                )
            })
        })
        .collect();
    if notes.is_empty() {
        Verdict::Pass
    } else {
        Verdict::DiffersFromAssumption {
            message: notes.join("; "),
        }
    }
}

/// Iterations of a `repeat` recorded in full before only the last is: 1,000 iterations would
/// otherwise put 1,000 transcripts in every report.
const RECORDED_ITERATIONS: u64 = 10;

/// Describes a step that has no name.
fn describe(step: &Step) -> String {
    match (&step.request, &step.clock) {
        (Some(r), _) if step.property.is_some() => format!(
            "{} {} with generated `{}` cases",
            r.method,
            r.url.source(),
            step.property.as_ref().map_or("", |p| p.family.as_str())
        ),
        (Some(r), _) => format!("{} {}", r.method, r.url.source()),
        (_, Some(c)) => format!("advance the clock by {}", c.advance.source()),
        _ if !step.compute.is_empty() => format!(
            "compute {}",
            step.compute.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => "empty step".into(),
    }
}

/// A request ready to send, with what its step needs afterwards.
struct Prepared {
    request: reqwest::Request,
    transcript: Transcript,
    /// For an authorization request: what to check the redirect against.
    authorize: Option<oauth2::AuthorizeState>,
}

/// The variables of one scenario run.
struct Scope<'a> {
    runner: &'a Runner,
    /// What this scenario's output is redacted through; its registrations reach the run's too.
    secrets: &'a SecretScope,
    provider: &'a str,
    vars: HashMap<String, String>,
    secret_captures: HashMap<String, Secret>,
    /// The scenario's cookie jars by origin (`http://host:port`), when it has a session.
    cookies: Option<HashMap<String, cookie_store::CookieStore>>,
    /// Whole responses captured for later `same_as` comparisons.
    responses: HashMap<String, crate::net::ResponseData>,
    waited: Duration,
    /// When the current `eventually` attempt must end: its window closes then.
    attempt_deadline: Option<Instant>,
    clock: Clock,
    /// `provider::file::id`: what a `property` step's seed derives from, and the replay filter.
    trial_name: String,
}

impl check::Render for Scope<'_> {
    fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    fn render(&self, template: &Template) -> Result<String, String> {
        template.render(|r| self.lookup(r))
    }

    fn render_json(&self, value: &serde_json::Value) -> Result<serde_json::Value, String> {
        Ok(match value {
            serde_json::Value::String(s) => {
                serde_json::Value::String(self.render(&Template::parse(s)?)?)
            }
            serde_json::Value::Array(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v))
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }

    fn captured_response(&self, name: &str) -> Option<&crate::net::ResponseData> {
        self.responses.get(name)
    }

    fn is_secret(&self, name: &crate::scenario::model::CaptureRef) -> bool {
        name.0.refs().any(|r| match r {
            VarRef::Secret(_) => true,
            VarRef::Var(var) => self.secret_captures.contains_key(var),
        })
    }
}

impl Scope<'_> {
    /// Returns true when `r` renders a secret: a target secret or a secret capture.
    fn is_secret_ref(&self, r: &VarRef) -> bool {
        match r {
            VarRef::Secret(_) => true,
            VarRef::Var(name) => self.secret_captures.contains_key(name),
        }
    }

    /// Returns true when `r` names one of the target's `paths` inputs, inserted as path text.
    fn is_path(&self, r: &VarRef) -> bool {
        matches!(r, VarRef::Var(name) if self.runner.target.providers
            .get(self.provider)
            .is_some_and(|config| config.paths.contains_key(name)))
    }

    fn lookup(&self, r: &VarRef) -> Result<String, String> {
        match r {
            VarRef::Var(name) => self
                .vars
                .get(name)
                .cloned()
                .or_else(|| {
                    self.secret_captures
                        .get(name)
                        .map(|s| s.expose().to_owned())
                })
                .ok_or_else(|| format!("undefined variable `{name}`")),
            VarRef::Secret(name) => {
                if let Some(secret) = self.secret_captures.get(name) {
                    return Ok(secret.expose().to_owned());
                }
                match self
                    .runner
                    .secret_values
                    .get(self.provider)
                    .and_then(|m| m.get(name))
                {
                    Some(Ok(secret)) => Ok(secret.expose().to_owned()),
                    Some(Err(why)) => Err(why.clone()),
                    None => Err(format!("undefined secret `{name}`")),
                }
            }
        }
    }

    fn render(&self, template: &Template) -> Result<String, String> {
        check::Render::render(self, template)
    }

    async fn clock_step(
        &mut self,
        index: usize,
        step: &ClockStep,
        clock: &Clock,
        out: &mut StepResult,
    ) -> Option<Verdict> {
        let text = match self.render(&step.advance) {
            Ok(text) => text,
            Err(e) => {
                return Some(Verdict::Error {
                    step: Some(index),
                    message: e,
                });
            }
        };
        let mut by = match DurationValue::parse(&text) {
            Ok(d) => d.0,
            Err(e) => {
                return Some(Verdict::Error {
                    step: Some(index),
                    message: format!("clock.advance rendered to `{text}`: {e}"),
                });
            }
        };
        if let Some(plus) = step.plus {
            by += plus.0;
        }
        let shown = humantime::format_duration(by);
        match clock {
            Clock::Virtual(_) => {
                clock.pass(by).await;
                out.clock = Some(format!("advanced the virtual clock by {shown}"));
            }
            Clock::Real => {
                let allowed = self.runner.target.max_real_wait();
                if self.waited + by > allowed {
                    return Some(Verdict::Skipped {
                        reason: format!(
                            "needs a real wait of {} in all, but target `{}` allows at most {} (limits.max_wait)",
                            humantime::format_duration(self.waited + by),
                            self.runner.target.name,
                            humantime::format_duration(allowed)
                        ),
                    });
                }
                self.waited += by;
                clock.pass(by).await;
                out.clock = Some(format!("waited {shown} in real time"));
            }
        }
        None
    }

    fn source_addr(&self, request: &RequestSpec) -> Result<(SourceAddr, Option<String>), String> {
        let name = request.source.as_deref().unwrap_or("default");
        match self.runner.target.sources.get(name) {
            Some(spec) => match (&spec.bind, &spec.proxy) {
                (Some(ip), _) => Ok((SourceAddr::Bind(*ip), Some(ip.to_string()))),
                (None, Some(proxy)) => Ok((
                    SourceAddr::Proxy(proxy.clone()),
                    Some(format!("proxy {name}")),
                )),
                (None, None) => Ok((SourceAddr::Any, None)),
            },
            None if request.source.is_none() => Ok((SourceAddr::Any, None)),
            None => Err(format!("unknown source `{name}`")),
        }
    }

    /// Runs a request step: once, or with `eventually` until its expectations hold, attempts
    /// `every` apart on the scenario's clock, for at most `within`.
    ///
    /// The window bounds the whole step: the time each attempt takes counts against it, and each
    /// attempt's timeout is capped by the time left, so a silent host cannot stretch a 4 s window
    /// into attempts of a full request timeout each. On a real clock the window is also capped by
    /// what `limits.max_wait` has left, and everything the step spends counts against it.
    async fn request_step(
        &mut self,
        index: usize,
        step: &Step,
        spec: &RequestSpec,
        out: &mut StepResult,
    ) -> Option<Verdict> {
        let Some(eventually) = step.eventually else {
            return self.attempt_request(index, step, spec, out).await;
        };
        let (within, every) = eventually.window(self.runner.target.limits.propagation.map(|d| d.0));
        let budget = match &self.clock {
            Clock::Virtual(_) => within,
            Clock::Real => self
                .runner
                .target
                .max_real_wait()
                .saturating_sub(self.waited),
        };
        let window = within.min(budget);
        // A timeout expectation is only shown by an attempt that waits its whole `within`.
        let attempt_needs = step
            .expect
            .as_ref()
            .filter(|e| e.outcome == ExpectedOutcome::Timeout)
            .and_then(|e| e.within)
            .map_or(Duration::ZERO, |w| w.0);
        let over_budget = || {
            format!(
                " (target `{}` allows no longer real wait: limits.max_wait)",
                self.runner.target.name
            )
        };
        if window.is_zero() || window < attempt_needs {
            if window < within {
                return Some(Verdict::Skipped {
                    reason: format!(
                        "step {} ({}) polls for up to {}, but only {} of real wait is left{}",
                        index + 1,
                        out.name,
                        humantime::format_duration(within),
                        humantime::format_duration(window),
                        over_budget()
                    ),
                });
            }
            return Some(Verdict::Error {
                step: Some(index),
                message: format!(
                    "`eventually.within` ({}) is shorter than the timeout each attempt must wait ({})",
                    humantime::format_duration(within),
                    humantime::format_duration(attempt_needs)
                ),
            });
        }
        // `spent` is what the window has used (pauses and attempts); `polled` the pauses alone,
        // which is when an attempt was due and what the step reports.
        let mut spent = Duration::ZERO;
        let mut polled = Duration::ZERO;
        let mut attempts = 0;
        loop {
            attempts += 1;
            out.transcript = None;
            out.passed.clear();
            out.failed.clear();
            out.assumed.clear();
            out.auxiliary.clear();
            out.hops.clear();
            let started = Instant::now();
            self.attempt_deadline = Some(started + (window - spent));
            let verdict = self.attempt_request(index, step, spec, out).await;
            self.attempt_deadline = None;
            let took = started.elapsed();
            spent += took;
            if matches!(self.clock, Clock::Real) {
                self.waited += took;
            }
            // Only the documented checks decide whether to poll on, and only while assumed
            // ones fail too does a held step keep polling for the assumed shape.
            let held = verdict.is_none() && out.assumed.is_empty();
            if !matches!(verdict, Some(Verdict::Fail { .. }) | None) {
                return verdict;
            }
            if held {
                out.passed.push(format!(
                    "held at attempt {attempts} (after {} of at most {})",
                    humantime::format_duration(polled),
                    humantime::format_duration(within)
                ));
                return None;
            }
            // The next attempt starts after the pause and must still have time to wait for.
            if spent + every + attempt_needs >= window {
                // No verdict: the documented checks held, and the assumed ones stay as notes.
                verdict.as_ref()?;
                let why = if window < within {
                    over_budget()
                } else {
                    String::new()
                };
                out.failed.push(format!(
                    "still not met after {attempts} attempt(s) in a window of {}, every {}{why}",
                    humantime::format_duration(window),
                    humantime::format_duration(every)
                ));
                return Some(self.failed(index, out));
            }
            if matches!(self.clock, Clock::Real) {
                self.waited += every;
            }
            self.clock.pass(every).await;
            spent += every;
            polled += every;
        }
    }

    /// Caps a request's total timeout by what its `eventually` window has left.
    fn capped(&self, timeout: Duration) -> Duration {
        match self.attempt_deadline {
            Some(deadline) => timeout.min(deadline.saturating_duration_since(Instant::now())),
            None => timeout,
        }
    }

    /// The verdict of a step whose checks did not all hold: `step N (name): each; failed; check`.
    fn failed(&self, index: usize, out: &StepResult) -> Verdict {
        let message = format!(
            "step {} ({}): {}",
            index + 1,
            out.name,
            out.failed.join("; ")
        );
        Verdict::Fail {
            step: index,
            message: self.secrets.redact(&message),
        }
    }

    /// Sends a request step's request once and checks its expectations and captures.
    async fn attempt_request(
        &mut self,
        index: usize,
        step: &Step,
        spec: &RequestSpec,
        out: &mut StepResult,
    ) -> Option<Verdict> {
        let error = |message: String| {
            Some(Verdict::Error {
                step: Some(index),
                message,
            })
        };
        let expect = step.expect.clone().unwrap_or_default();
        let within = expect.within.map(|d| d.0);
        let total = match (expect.outcome, within) {
            (ExpectedOutcome::Timeout, Some(w)) => w,
            (_, Some(w)) => spec.timeout.map_or(w, |t| t.0.min(w)),
            (_, None) => spec
                .timeout
                .map_or(self.runner.target.limits.request_timeout.0, |t| t.0),
        };
        // Never below the total: a connect timeout firing early would report a timeout shorter
        // than the one the step waits for. When the total fires first while connecting, `net`
        // still classifies it as a connect timeout. Clients are keyed by their connect timeout,
        // so it comes from the uncapped total: an `eventually` window's cap (below) varies by
        // attempt and would otherwise build a client per attempt.
        let connect_timeout = spec.connect_timeout.map_or(total, |d| d.0).min(total);
        let total = self.capped(total);
        let (source, source_text) = match self.source_addr(spec) {
            Ok(s) => s,
            Err(e) => return error(e),
        };
        let clients = match self.runner.clients.client(&source, connect_timeout).await {
            Ok(c) => c,
            Err(e) => return error(e),
        };
        let client = clients.pooled();
        let bearer = match &spec.auth {
            Some(AuthSpec::Oauth2(grant)) => {
                match self.obtain_token(index, grant, &clients, total, out).await {
                    Ok(token) => Some(token),
                    Err(verdict) => return Some(verdict),
                }
            }
            _ => None,
        };
        let prepared = match self.build_request(client, spec, bearer.as_deref()) {
            Ok(r) => r,
            Err(e) => return error(e),
        };
        let (request, transcript) = (prepared.request, prepared.transcript);
        // A transport outcome is evidence only on a connection opened for this request.
        let connection = if expect.outcome == ExpectedOutcome::Response {
            ConnectionUse::Reuse
        } else {
            ConnectionUse::Fresh
        };
        let sent_url = request.url().clone();
        let first: Exchange =
            crate::net::send_on(&clients, request, self.capped(total), connection).await;
        self.store_cookies(&sent_url, &first);
        if prepared.authorize.is_some() {
            // Whatever happens to the redirect next, its code never reaches a transcript.
            self.register_redirect_code(&first);
        }
        // The first exchange goes into the step's transcript; the checks read the flow's last.
        let mut first_exchange = None;
        let mut flow_failure = None;
        let exchange = match (&prepared.authorize, &spec.authorize) {
            (Some(state), Some(authorize)) => {
                first_exchange = Some(first.clone());
                let (last, failure) = self
                    .follow_flow(authorize, state, first, &clients, self.capped(total), out)
                    .await;
                flow_failure = failure;
                last
            }
            _ => first,
        };
        let first_exchange = first_exchange.filter(|_| !out.hops.is_empty());
        let shown = first_exchange.as_ref().unwrap_or(&exchange);
        let mut report = check::check(&expect, &exchange, within, self);
        match flow_failure {
            Some(login::FlowEnd::Failed(failure)) => {
                report.passed.clear();
                report.failed = vec![failure];
            }
            Some(login::FlowEnd::CouldNotRun(error)) => {
                report.passed.clear();
                report.error = Some(error);
            }
            None => {}
        }
        let mut notes = Vec::new();
        if let Some(assumed) = &expect.assumed
            && report.error.is_none()
            && exchange.response.is_some()
        {
            let judged = check::check(&assumed.checks(), &exchange, None, self);
            report.error = judged.error;
            report
                .passed
                .extend(judged.passed.into_iter().map(|p| format!("{p} (assumed)")));
            notes.extend(judged.failed.into_iter().map(|check| AssumptionNote {
                check,
                because: assumed.because.trim().to_owned(),
            }));
        }
        // What the server offers is asked only of an answer that met the documented checks.
        let mut skip_reason = None;
        if let Some(block) = &expect.skip_unless
            && report.error.is_none()
            && report.failed.is_empty()
            && exchange.response.is_some()
        {
            let judged = check::check(&block.checks(), &exchange, None, self);
            report.error = judged.error;
            report.passed.extend(
                judged
                    .passed
                    .into_iter()
                    .map(|p| format!("{p} (skip_unless)")),
            );
            if !judged.failed.is_empty() {
                skip_reason = Some(format!(
                    "{}: {}",
                    block.because.trim(),
                    judged.failed.join("; ")
                ));
            }
        }
        if spec.token.is_some() {
            self.register_token_response(&exchange);
        }
        if let Some(authorize) = &prepared.authorize
            && report.failed.is_empty()
            && report.error.is_none()
        {
            let explicit = step.expect.is_some();
            self.finish_authorize(authorize, &exchange, explicit, &mut report);
        }
        let mut transcript = transcript;
        transcript.source = source_text;
        transcript.outcome = shown.outcome.class();
        let registry = &self.secrets;
        transcript.outcome_detail = shown.outcome.detail().map(|d| registry.redact(d));
        transcript.resent = shown.resent.as_deref().map(|r| registry.redact(r));
        transcript.elapsed = shown.elapsed;
        transcript.record_connection(shown);
        out.passed = report.passed;
        out.failed = report.failed;
        let mut capture_failed = Vec::new();
        if out.failed.is_empty() && report.error.is_none() && skip_reason.is_none() {
            for (name, capture) in &step.capture {
                if capture.response
                    && let Some(response) = &exchange.response
                {
                    self.responses.insert(name.clone(), response.clone());
                }
                match capture_value(capture, &exchange) {
                    Ok(value) if capture.secret => {
                        if let Ok(secret_name) = name.parse() {
                            let secret = Secret::new(secret_name, value);
                            self.secrets.register(&secret);
                            self.secret_captures.insert(name.clone(), secret);
                        }
                    }
                    Ok(value) => {
                        self.vars.insert(name.clone(), value);
                    }
                    Err(e) => capture_failed.push(format!("capture `{name}`: {e}")),
                }
            }
        }
        // A capture failing where an assumed check failed rested on the assumed shape.
        let capture_differs = !notes.is_empty() && !capture_failed.is_empty();
        if capture_differs {
            let because = notes[0].because.clone();
            notes.extend(capture_failed.drain(..).map(|check| AssumptionNote {
                check,
                because: because.clone(),
            }));
        }
        out.failed.extend(capture_failed);
        if let Some(response) = &shown.response {
            record_response_head(&mut transcript, response);
            transcript.response_body = Some(redact_credential_text(&response.text()));
        }
        let registry = &self.secrets;
        redact_transcript(&mut transcript, registry);
        out.transcript = Some(transcript);
        out.passed = out.passed.iter().map(|t| registry.redact(t)).collect();
        out.failed = out.failed.iter().map(|t| registry.redact(t)).collect();
        out.assumed = notes
            .into_iter()
            .map(|note| AssumptionNote {
                check: registry.redact(&note.check),
                because: registry.redact(&note.because),
            })
            .collect();
        if let Some(e) = report.error {
            return error(registry.redact(&e));
        }
        if !out.failed.is_empty() {
            return Some(self.failed(index, out));
        }
        if let Some(reason) = skip_reason {
            // The scenario stops here: what it would check next is not offered.
            return Some(Verdict::Skipped {
                reason: registry.redact(&reason),
            });
        }
        if capture_differs {
            // The scenario cannot go on without the value; the documented checks held.
            return Some(Verdict::DiffersFromAssumption {
                message: String::new(),
            });
        }
        None
    }

    /// Renders `template` for display: secrets (and secret captures) become `[redacted:NAME]`.
    fn shown(&self, template: &Template) -> String {
        let rendered: Result<String, ()> = template.render(|r| {
            Ok(match r {
                VarRef::Secret(name) => format!("[redacted:{name}]"),
                VarRef::Var(name) if self.secret_captures.contains_key(name) => {
                    format!("[redacted:{name}]")
                }
                VarRef::Var(name) => self.vars.get(name).cloned().unwrap_or_default(),
            })
        });
        rendered.unwrap_or_default()
    }

    /// Renders the string leaves of a JSON body for display.
    fn shown_json(&self, value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(
                Template::parse(s).map_or_else(|_| s.clone(), |t| self.shown(&t)),
            ),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|v| self.shown_json(v)).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.shown_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Builds the request, and its transcript from templates rendered for display (so a secret
    /// never enters the transcript, in whatever encoding the URL or body would give it).
    fn build_request(
        &self,
        client: &reqwest::Client,
        spec: &RequestSpec,
        bearer: Option<&str>,
    ) -> Result<Prepared, String> {
        let url_text = spec
            .url
            .render_url_with_paths(|r| self.lookup(r), |r| self.is_path(r))?;
        let mut shown_url = self.shown(&spec.url);
        let mut url =
            url::Url::parse(&url_text).map_err(|e| format!("invalid URL `{shown_url}`: {e}"))?;
        let mut authorize = match &spec.authorize {
            Some(a) => Some(self.prepare_authorize(a)?),
            None => None,
        };
        if let Some(a) = &mut authorize {
            a.base = Some(url.clone());
        }
        let authorize_query = authorize
            .as_ref()
            .map(|a| a.query.clone())
            .unwrap_or_default();
        if !spec.query.is_empty() || !authorize_query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            let mut shown_pairs = Vec::new();
            for (k, value, shown) in &authorize_query {
                pairs.append_pair(k, value);
                let encoded: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                shown_pairs.push(format!("{encoded}={}", self.shown_as_sent(value, shown)));
            }
            for (k, v) in &spec.query {
                let value = self.render(v)?;
                pairs.append_pair(k, &value);
                let encoded: String = url::form_urlencoded::byte_serialize(k.as_bytes()).collect();
                shown_pairs.push(format!(
                    "{encoded}={}",
                    self.shown_as_sent(&value, &self.shown(v))
                ));
            }
            let separator = if shown_url.contains('?') { '&' } else { '?' };
            shown_url = format!("{shown_url}{separator}{}", shown_pairs.join("&"));
        }
        let method = match &spec.method {
            Method::Fixed(method) => method.clone(),
            Method::Templated(template) => Method::parse_token(&self.render(template)?)
                .map_err(|e| format!("`method: {}`: {e}", template.source()))?,
        };
        let mut builder = client.request(method.clone(), url.clone());
        // (name, value sent, value shown)
        let mut headers: Vec<(String, String, String)> = Vec::new();
        if let Some((sent, shown)) = self.cookie_header(&url)
            && !spec
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        {
            headers.push(("cookie".into(), sent, shown));
        }
        for (name, value) in &spec.headers {
            headers.push((
                name.to_ascii_lowercase(),
                self.render(value)?,
                self.shown(value),
            ));
        }
        match &spec.auth {
            Some(AuthSpec::Basic(basic)) => {
                let user = self.render(&basic.username)?;
                let password = self.render(&basic.password)?;
                let value = crate::auth::basic::header_value(&user, &password)
                    .map_err(|e| e.to_string())?;
                self.secrets
                    .register_value("basic_credentials", &format!("{user}:{password}"));
                headers.push(("authorization".into(), value, "Basic [redacted]".into()));
            }
            Some(AuthSpec::Bearer(token)) => {
                let value = format!("Bearer {}", self.render(token)?);
                headers.push(("authorization".into(), value, "Bearer [redacted]".into()));
            }
            Some(AuthSpec::ApiKey(key)) => {
                let name = key.header.0.as_str().to_owned();
                headers.push((name, self.render(&key.value)?, "[redacted]".into()));
            }
            Some(AuthSpec::Oauth2(_)) => {
                let token = bearer.ok_or("no token was obtained for `auth: { oauth2 }`")?;
                headers.push((
                    "authorization".into(),
                    format!("Bearer {token}"),
                    "Bearer [redacted]".into(),
                ));
            }
            None => {}
        }
        let mut token_form = None;
        if let Some(grant) = &spec.token {
            let parts = self.token_request_parts(grant)?;
            if let Some(authorization) = parts.authorization {
                headers.push((
                    "authorization".into(),
                    authorization,
                    "Basic [redacted]".into(),
                ));
            }
            headers.push((
                "accept".into(),
                "application/json".into(),
                "application/json".into(),
            ));
            token_form = Some(parts.form);
        }
        let mut body_text = None;
        let mut content_type = None;
        if let Some(form) = token_form {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            serializer.extend_pairs(form.iter());
            let encoded = serializer.finish();
            body_text = Some(redact_credential_text(&encoded));
            content_type = Some("application/x-www-form-urlencoded");
            builder = builder.body(encoded);
        }
        match &spec.body {
            Some(Body::Form(fields)) => {
                let mut serializer = url::form_urlencoded::Serializer::new(String::new());
                let mut shown = Vec::new();
                for (k, v) in fields {
                    serializer.append_pair(k, &self.render(v)?);
                    shown.push(format!("{k}={}", self.shown(v)));
                }
                body_text = Some(redact_credential_text(&shown.join("&")));
                content_type = Some("application/x-www-form-urlencoded");
                builder = builder.body(serializer.finish());
            }
            Some(Body::Json(value)) => {
                let rendered = check::Render::render_json(self, value)?;
                body_text = Some(redact_credential_text(&self.shown_json(value).to_string()));
                content_type = Some("application/json");
                builder = builder.body(rendered.to_string());
            }
            Some(Body::Raw(template)) => {
                body_text = Some(redact_credential_text(&self.shown(template)));
                builder = builder.body(self.render(template)?);
            }
            None => {}
        }
        if let Some(content_type) = content_type
            && !headers.iter().any(|(n, _, _)| n == "content-type")
        {
            headers.push((
                "content-type".into(),
                content_type.into(),
                content_type.into(),
            ));
        }
        for (name, value, _) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .build()
            .map_err(|e| format!("cannot build the request: {}", e.without_url()))?;
        let transcript = Transcript {
            method: method.to_string(),
            url: shown_url,
            request_headers: headers
                .iter()
                .map(|(n, _, shown)| (n.clone(), redact_header(n, shown)))
                .collect(),
            request_body: body_text,
            ..Transcript::default()
        };
        Ok(Prepared {
            request,
            transcript,
            authorize,
        })
    }
}

fn capture_value(capture: &Capture, exchange: &Exchange) -> Result<String, String> {
    let Some(response) = &exchange.response else {
        return Err("no response to capture from".into());
    };
    let subject = if let Some(path) = &capture.jsonpath {
        let document: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| format!("body is not JSON ({e})"))?;
        let nodes = path.compiled().query(&document).all();
        if capture.count {
            return Ok(nodes.len().to_string());
        }
        match nodes.as_slice() {
            [one] => match one {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            },
            [] => return Err(format!("{} selected nothing", path.source())),
            many => {
                return Err(format!(
                    "{} selected {} values, expected one",
                    path.source(),
                    many.len()
                ));
            }
        }
    } else if let Some(header) = &capture.header {
        match response.header_values(header.0.as_str()).first() {
            Some(v) => (*v).to_owned(),
            None => return Err(format!("header `{header}` is absent")),
        }
    } else {
        response.text()
    };
    match &capture.regex {
        None => Ok(subject),
        Some(re) => {
            let caps =
                re.0.captures(&subject)
                    .ok_or_else(|| format!("/{}/ does not match", re.0.as_str()))?;
            Ok(caps
                .get(1)
                .or_else(|| caps.get(0))
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default())
        }
    }
}

/// Records a response's status and headers in `transcript`, cookie values redacted.
fn record_response_head(transcript: &mut Transcript, response: &crate::net::ResponseData) {
    transcript.status = Some(response.status);
    transcript.response_headers = response
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), redact_header(n, v)))
        .collect();
}

fn redact_header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    // Cookie names say which state a request carried; their values are credentials.
    if lower == "cookie" {
        return value
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{}=[redacted]", name.trim()),
                None => "[redacted]".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    if lower == "set-cookie" {
        let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
        let name = pair.split_once('=').map_or("", |(n, _)| n.trim());
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(";{attributes}")
        };
        return format!("{name}=[redacted]{attributes}");
    }
    if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
        // Keep the scheme: it is part of what is being verified.
        match value.split_once(' ') {
            Some((scheme, _)) if lower.ends_with("authorization") => format!("{scheme} [redacted]"),
            _ => "[redacted]".to_owned(),
        }
    } else {
        value.to_owned()
    }
}

/// Cuts an already redacted body to [`BODY_EXCERPT`] bytes, never inside a redaction marker.
fn truncate(text: &str) -> String {
    let kept = crate::secret::prefix_outside_markers(text, BODY_EXCERPT);
    if kept.len() == text.len() {
        return text.to_owned();
    }
    format!("{kept}… ({} bytes in all)", text.len())
}

fn redact_transcript(t: &mut Transcript, registry: &impl crate::secret::Redact) {
    t.url = registry.redact(&t.url);
    for text in [&mut t.outcome_detail, &mut t.resent].into_iter().flatten() {
        *text = registry.redact(text);
    }
    for (_, v) in t
        .request_headers
        .iter_mut()
        .chain(t.response_headers.iter_mut())
    {
        *v = registry.redact(v);
    }
    // Redacted whole, then cut: a cut first could split a secret so its start no longer matches.
    if let Some(b) = &mut t.request_body {
        *b = truncate(&registry.redact(b));
    }
    if let Some(b) = &mut t.response_body {
        *b = truncate(&registry.redact(b));
    }
}
