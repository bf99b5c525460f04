//! The requirement catalogue: `specs/<provider>.yaml`, one [`Spec`] per provider, each
//! [`Requirement`] with a stable id, a statement in our words, its sources, and whether the
//! provider documents it, an RFC mandates it, or we assume it; and its [`Inputs`]: the hosts,
//! variables and secrets its scenarios use, each with a one-line description, which every
//! scenario is checked against and every target configuring the provider must supply.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

use crate::diagnostic::{InputKind, LoadError, SpanIndex};
use crate::scenario::load::parse_yaml;

/// One provider's (or one standard's) requirements.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The provider id, equal to the file stem and to the `scenarios/<provider>/` folder.
    pub provider: String,
    /// A human title.
    pub title: String,
    /// The documents the requirements come from.
    #[serde(default)]
    pub documents: Vec<Document>,
    /// The requirements.
    pub requirements: Vec<Requirement>,
    /// What a target configuring this provider supplies. Required once the provider has
    /// scenarios (checked by the planner, which knows them); absent, nothing is checked against
    /// it.
    #[serde(default)]
    pub inputs: Option<Inputs>,
    /// The text it was parsed from, so checks made later (by the planner) point into it.
    #[serde(skip)]
    text: String,
}

impl Spec {
    /// Returns an error about this spec (read from `file`) at `path` inside it.
    pub fn error_at(&self, file: &Path, path: &str, message: impl Into<String>) -> LoadError {
        let spans = SpanIndex::build(&self.text);
        LoadError::new(InputKind::Spec, file, message).at(&spans, &self.text, path)
    }
}

/// The names a provider's scenarios may use from a target, each with a one-line description of
/// what to fill in: the contract between the spec's scenarios and every target for it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Base URLs (`{{name}}`), supplied under the target's `hosts`.
    #[serde(default)]
    pub hosts: IndexMap<String, InputDecl>,
    /// URL paths (`{{name}}`), supplied under the target's `paths`: where an environment puts an
    /// endpoint the documentation does not fix. Inserted into a URL as path text.
    #[serde(default)]
    pub paths: IndexMap<String, InputDecl>,
    /// Plain values (`{{name}}`), supplied under the target's `variables`.
    #[serde(default)]
    pub variables: IndexMap<String, InputDecl>,
    /// Credentials and key material (`{{secret.name}}`), supplied under the target's `secrets`
    /// (by environment variable on a live target).
    #[serde(default)]
    pub secrets: IndexMap<String, InputDecl>,
}

/// One declared input: `name: description`, or
/// `name: { description: …, default: …, optional: true }`.
///
/// A `default` (paths and variables only) is what a target that leaves the input out gets: the
/// documented or usual value, so a target overrides it only where its environment differs. An
/// `optional` input left out skips the scenarios using it, as any missing input does, and
/// `validate` and `init-target` present it as optional rather than as something forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDecl {
    /// One line saying what a target fills in.
    pub description: String,
    /// The value a target that leaves the input out gets.
    pub default: Option<String>,
    /// True when a target may leave it out (its scenarios are then skipped).
    pub optional: bool,
}

/// [`InputDecl`]'s long form as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputDeclFile {
    description: String,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    optional: bool,
}

impl<'de> Deserialize<'de> for InputDecl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = InputDecl;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a one-line description, or `{ description: …, default: …, optional: true }`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<InputDecl, E> {
                Ok(InputDecl {
                    description: v.to_owned(),
                    default: None,
                    optional: false,
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<InputDecl, A::Error> {
                let file =
                    InputDeclFile::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(InputDecl {
                    description: file.description,
                    default: file.default,
                    optional: file.optional,
                })
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Which of a target's groups an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputGroup {
    /// A base URL under `hosts`.
    Host,
    /// A URL path under `paths`.
    Path,
    /// A plain value under `variables`.
    Variable,
    /// A credential under `secrets`.
    Secret,
}

impl InputGroup {
    /// Every group, in the order a target lists them.
    pub const ALL: [InputGroup; 4] = [
        InputGroup::Host,
        InputGroup::Path,
        InputGroup::Variable,
        InputGroup::Secret,
    ];

    /// Returns the singular word for messages: `host`, `path`, `variable`, `secret`.
    pub fn as_str(self) -> &'static str {
        match self {
            InputGroup::Host => "host",
            InputGroup::Path => "path",
            InputGroup::Variable => "variable",
            InputGroup::Secret => "secret",
        }
    }

    /// Returns the key of the group in a spec's `inputs` and a target's provider entry.
    pub fn key(self) -> &'static str {
        match self {
            InputGroup::Host => "hosts",
            InputGroup::Path => "paths",
            InputGroup::Variable => "variables",
            InputGroup::Secret => "secrets",
        }
    }
}

impl fmt::Display for InputGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Inputs {
    /// Returns the declarations of one group: name → declaration.
    pub fn group(&self, group: InputGroup) -> &IndexMap<String, InputDecl> {
        match group {
            InputGroup::Host => &self.hosts,
            InputGroup::Path => &self.paths,
            InputGroup::Variable => &self.variables,
            InputGroup::Secret => &self.secrets,
        }
    }

    /// Returns every declaration as (group, name, declaration), hosts first.
    pub fn iter(&self) -> impl Iterator<Item = (InputGroup, &str, &InputDecl)> {
        InputGroup::ALL.into_iter().flat_map(move |group| {
            self.group(group)
                .iter()
                .map(move |(name, decl)| (group, name.as_str(), decl))
        })
    }

    /// Returns the group and declaration of `name`, when declared.
    pub fn get(&self, name: &str) -> Option<(InputGroup, &InputDecl)> {
        InputGroup::ALL
            .into_iter()
            .find_map(|group| self.group(group).get(name).map(|decl| (group, decl)))
    }

    /// Returns the names a scenario writes as `{{name}}`: hosts, paths and variables.
    pub fn plain_names(&self) -> std::collections::HashSet<String> {
        self.hosts
            .keys()
            .chain(self.paths.keys())
            .chain(self.variables.keys())
            .cloned()
            .collect()
    }

    /// Returns the names a scenario writes as `{{secret.name}}`.
    pub fn secret_names(&self) -> std::collections::HashSet<String> {
        self.secrets.keys().cloned().collect()
    }
}

/// Checks a URL path a target or a default supplies: empty (nothing inserted) or starting with
/// `/`, without a query, fragment, `.`/`..` segment or empty segment, since it is inserted into
/// URLs as path text and must not climb out of the base path or change what follows it.
pub fn check_path_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    let Some(rest) = value.strip_prefix('/') else {
        return Err(format!(
            "expected a URL path starting with `/` (or empty), found \"{value}\""
        ));
    };
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '?' | '#' | '\\') || c.is_control())
    {
        return Err(format!(
            "a path holds no `?`, `#`, `\\` or control character, found {c:?} in \"{value}\""
        ));
    }
    if rest
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(format!(
            "a path has no empty, `.` or `..` segment (and no trailing `/`), found \"{value}\""
        ));
    }
    Ok(())
}

/// A source document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Short key that requirements cite.
    pub id: String,
    /// Title of the document.
    pub title: String,
    /// Where it is published.
    #[serde(default)]
    pub url: Option<String>,
}

/// One requirement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Stable id such as `ELEC-IP-02`.
    pub id: String,
    /// What must hold, in our words.
    pub statement: String,
    /// Where it is stated: document section, RFC section, or why it is assumed.
    pub source: String,
    /// Who says so.
    pub kind: RequirementKind,
}

/// Who says a requirement holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequirementKind {
    /// The provider's documentation states it.
    Doc,
    /// A standard the provider relies on mandates it.
    #[serde(rename = "RFC")]
    Rfc,
    /// Not documented: the mock's choice, flagged so an auditor can tell.
    Assumed,
}

impl fmt::Display for RequirementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequirementKind::Doc => "Doc",
            RequirementKind::Rfc => "RFC",
            RequirementKind::Assumed => "Assumed",
        })
    }
}

/// Every spec, indexed by requirement id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// The specs in file order.
    pub specs: Vec<(PathBuf, Spec)>,
    /// Requirement id → (provider, requirement).
    pub requirements: BTreeMap<String, (String, Requirement)>,
}

impl Catalogue {
    /// Returns the spec of `provider` and the file it came from.
    pub fn spec(&self, provider: &str) -> Option<(&Path, &Spec)> {
        self.specs
            .iter()
            .find(|(_, spec)| spec.provider == provider)
            .map(|(file, spec)| (file.as_path(), spec))
    }
}

fn valid_requirement_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let first_ok = parts.next().is_some_and(|p| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    let rest: Vec<&str> = parts.collect();
    first_ok
        && !rest.is_empty()
        && rest
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
}

/// Loads every `*.yaml` under `dir`, reporting every problem.
pub fn load_catalogue(dir: &Path) -> Result<Catalogue, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut catalogue = Catalogue::default();
    if let Err(e) = std::fs::read_dir(dir) {
        return Err(vec![LoadError::new(
            InputKind::Spec,
            dir,
            format!("cannot read the specs folder: {e}"),
        )]);
    }
    let (files, listing_errors) = crate::input::spec_files(dir);
    errors.extend(listing_errors);
    for file in files {
        let text = match crate::diagnostic::read_input(InputKind::Spec, &file) {
            Ok(text) => text,
            Err(e) => {
                errors.push(*e);
                continue;
            }
        };
        let mut spec: Spec = match parse_yaml(InputKind::Spec, &file, &text) {
            Ok(spec) => spec,
            Err(e) => {
                errors.extend(e);
                continue;
            }
        };
        let spans = SpanIndex::build(&text);
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if spec.provider != stem {
            errors.push(
                LoadError::new(
                    InputKind::Spec,
                    &file,
                    format!(
                        "`provider: {}` must equal the file name `{stem}`",
                        spec.provider
                    ),
                )
                .at(&spans, &text, "provider"),
            );
        }
        for (i, req) in spec.requirements.iter().enumerate() {
            let at = |message: String| {
                LoadError::new(InputKind::Spec, &file, message).at(
                    &spans,
                    &text,
                    format!("requirements[{i}].id"),
                )
            };
            if !valid_requirement_id(&req.id) {
                errors.push(at(format!(
                    "invalid requirement id `{}`: expected uppercase words joined by `-`, like `ELEC-IP-02`",
                    req.id
                )));
            } else if let Some((other, _)) = catalogue.requirements.get(&req.id) {
                errors.push(at(format!(
                    "duplicate requirement id `{}` (also in spec `{other}`)",
                    req.id
                )));
            } else {
                catalogue
                    .requirements
                    .insert(req.id.clone(), (spec.provider.clone(), req.clone()));
            }
        }
        if let Some(inputs) = &spec.inputs {
            errors.extend(check_inputs(&file, &text, &spans, inputs));
        }
        spec.text = text;
        catalogue.specs.push((file, spec));
    }
    if errors.is_empty() {
        Ok(catalogue)
    } else {
        Err(errors)
    }
}

/// The placeholder a generated template puts where the user must fill in a value.
pub const PLACEHOLDER: &str = "REPLACE-ME";

/// Returns the environment variable a generated template names for `secret` of `provider`:
/// both in upper snake case, `we-platform` + `api_key` → `WE_PLATFORM_API_KEY`.
pub fn env_name(provider: &str, secret: &str) -> String {
    format!("{provider}_{secret}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes `text` as `#` comment lines indented by `indent`, wrapped near 100 columns.
fn comment(out: &mut String, indent: &str, text: &str) {
    let width = 100usize.saturating_sub(indent.len() + 2).max(40);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&format!("{indent}# {line}\n"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{indent}# {line}\n"));
    }
}

/// Returns a commented live-target template for `spec`'s provider: every declared input with its
/// description, hosts and variables as [`PLACEHOLDER`]s, secrets as environment variable names
/// (never values), and `sources`, the source names its scenarios send from besides `default`.
///
/// ```text
/// providers:
///   pledg:
///     hosts:
///       # Pledg's back-office API base URL, e.g. https://staging.back.ecard.pledg.co
///       back_base: { url: "https://REPLACE-ME.example" }
///     secrets:
///       # Client API key for POST /api/token, issued by Pledg on request
///       api_key: { env: PLEDG_API_KEY }
/// ```
pub fn live_target_template(spec: &Spec, inputs: &Inputs, sources: &[String]) -> String {
    let provider = &spec.provider;
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    let mut out = String::new();
    comment(
        &mut out,
        "",
        &format!(
            "A live target for `{provider}` ({}), from the inputs its spec declares. Save it \
             (e.g. as targets/my-{provider}.yaml), replace every {PLACEHOLDER}, export the \
             environment variables named under `secrets`, then run",
            spec.title
        ),
    );
    out.push_str(&format!(
        "#   authconform validate --target targets/my-{provider}.yaml\n\
         #   authconform run --target targets/my-{provider}.yaml\n"
    ));
    comment(
        &mut out,
        "",
        "Secrets are never written here: each names the environment variable holding it. A \
         scenario that needs a secret whose variable is unset ends as an error (\"could not \
         run\"), never as a pass; one that needs an input this file does not supply is skipped \
         with the reason.",
    );
    out.push_str(&format!("name: {provider}-live\n"));
    out.push_str(&format!(
        "description: {}\n",
        quoted(&format!("Live environment: {}", spec.title))
    ));
    out.push_str("clock: real\nlimits:\n  request_timeout: 30s\n");
    comment(
        &mut out,
        "  ",
        "Longest real wait one scenario may take (clock steps and polling); scenarios needing \
         more are skipped with that reason.",
    );
    out.push_str("  max_wait: 5m\n");
    comment(
        &mut out,
        "  ",
        "How long this environment takes at most to apply a change (a new or revoked key): it \
         replaces the documented bound of polling steps marked `propagation: true`, so they fit \
         a shorter max_wait. Left out, they poll for the documented bound.",
    );
    out.push_str("  # propagation: 10s\nsources:\n");
    comment(
        &mut out,
        "  ",
        "Where requests leave from: a local address to bind, or `proxy: http://egress:3128`.",
    );
    out.push_str("  default: { bind: 0.0.0.0 }\n");
    for source in sources.iter().filter(|s| s.as_str() != "default") {
        comment(
            &mut out,
            "  ",
            &format!(
                "`source: {source}` in the scenarios: bind that address, or proxy through it."
            ),
        );
        out.push_str(&format!(
            "  {source}: {{ proxy: \"http://{PLACEHOLDER}.example:3128\" }}\n"
        ));
    }
    out.push_str(&format!("providers:\n  {provider}:\n"));
    let mut env_names = std::collections::BTreeSet::new();
    for group in InputGroup::ALL {
        let declared = inputs.group(group);
        if declared.is_empty() {
            continue;
        }
        // A group of defaults only is commented out whole: an empty key would be `null`.
        let defaults_only = declared.values().all(|decl| decl.default.is_some());
        let commented = if defaults_only { "# " } else { "" };
        out.push_str(&format!("    {commented}{}:\n", group.key()));
        if group == InputGroup::Host {
            comment(
                &mut out,
                "      ",
                "An https host whose certificate a private CA signed, or that asks for a client \
                 certificate, adds `tls: { ca_file: ca.pem, client_cert_file: client.pem, \
                 client_key_file: client-key.pem }` (paths relative to this file; each key \
                 optional, the two client files together).",
            );
        }
        for (name, decl) in declared {
            comment(&mut out, "      ", &decl.description);
            if let Some(default) = &decl.default {
                // Shown commented out: left so, the target gets the default, recorded as such.
                comment(
                    &mut out,
                    "      ",
                    "Default (used when left out): override only where your environment differs.",
                );
                out.push_str(&format!("      # {name}: {}\n", quoted(default)));
                continue;
            }
            if decl.optional {
                comment(
                    &mut out,
                    "      ",
                    "Optional: left out, the scenarios using it are skipped with that reason.",
                );
            }
            let value = match group {
                InputGroup::Host => format!("{{ url: \"https://{PLACEHOLDER}.example\" }}"),
                InputGroup::Path => quoted(&format!("/{PLACEHOLDER}")),
                InputGroup::Variable => PLACEHOLDER.to_owned(),
                InputGroup::Secret => {
                    // Two names that differ only in case or punctuation get distinct variables.
                    let base = env_name(provider, name);
                    let mut env = base.clone();
                    let mut n = 2;
                    while !env_names.insert(env.clone()) {
                        env = format!("{base}_{n}");
                        n += 1;
                    }
                    format!("{{ env: {env} }}")
                }
            };
            out.push_str(&format!("      {name}: {value}\n"));
        }
    }
    out
}

/// Returns true for a name a template can refer to (as the scenario loader requires).
fn valid_input_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks an `inputs` block: valid names, a one-line description each, and no name in two
/// groups (a template could not tell which is meant, and a target would supply it twice).
fn check_inputs(file: &Path, text: &str, spans: &SpanIndex, inputs: &Inputs) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<&str, InputGroup> = BTreeMap::new();
    for (group, name, decl) in inputs.iter() {
        let description = decl.description.as_str();
        let path = format!("inputs.{}.{name}", group.key());
        let mut error = |message: String, at: &str| {
            errors.push(LoadError::new(InputKind::Spec, file, message).at(
                spans,
                text,
                format!("{path}{at}"),
            ));
        };
        if !valid_input_name(name) {
            error(
                format!("invalid input name `{name}`: use letters, digits, `_` and `-`"),
                "",
            );
        }
        if description.trim().is_empty() {
            error(
                format!(
                    "the {group} `{name}` needs a description: one line saying what a target fills in, like `Client API key, issued by the provider on request`"
                ),
                "",
            );
        } else if description.trim().contains('\n') {
            error(
                format!(
                    "the description of the {group} `{name}` is one line: it is shown in skip reasons and as a comment in `init-target` templates"
                ),
                "",
            );
        }
        if let Some(default) = &decl.default {
            match group {
                InputGroup::Host => error(
                    format!(
                        "the host `{name}` takes no `default`: a live run must never reach a base URL its target did not name"
                    ),
                    ".default",
                ),
                InputGroup::Secret => error(
                    format!("the secret `{name}` takes no `default`: a spec holds no secret value"),
                    ".default",
                ),
                InputGroup::Path => {
                    if let Err(message) = check_path_value(default) {
                        error(
                            format!("invalid default of the path `{name}`: {message}"),
                            ".default",
                        );
                    }
                }
                InputGroup::Variable if default.contains('\n') => error(
                    format!("the default of the variable `{name}` is one line"),
                    ".default",
                ),
                InputGroup::Variable => {}
            }
            if decl.optional {
                error(
                    format!(
                        "`{name}` has a `default`, so a target never lacks it: drop `optional: true`"
                    ),
                    ".optional",
                );
            }
        }
        if let Some(first) = seen.insert(name, group) {
            error(
                format!(
                    "`{name}` is declared twice, as a {first} and as a {group}: a name is one input"
                ),
                "",
            );
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_ids_follow_the_pattern() {
        assert!(valid_requirement_id("ELEC-IP-02"));
        assert!(valid_requirement_id("RFC6750-3.1"));
        assert!(!valid_requirement_id("elec-ip"));
        assert!(!valid_requirement_id("ELEC"));
        assert!(!valid_requirement_id("ELEC--1"));
    }

    #[test]
    fn path_values_are_empty_or_clean_absolute_paths() {
        for ok in ["", "/auth", "/api/merchants/me", "/a b/%41"] {
            assert_eq!(check_path_value(ok), Ok(()), "{ok:?}");
        }
        for (bad, why) in [
            ("auth", "starting with `/`"),
            ("/", "no empty"),
            ("/a//b", "no empty"),
            ("/a/", "trailing `/`"),
            ("/a/../b", "`..`"),
            ("/./b", "`.`"),
            ("/a?x=1", "`?`"),
            ("/a#f", "`#`"),
            ("/a\\b", "`\\`"),
            ("/a\nb", "control"),
        ] {
            let message = check_path_value(bad).unwrap_err();
            assert!(message.contains(why), "{bad:?}: {message}");
        }
    }

    #[test]
    fn an_input_is_a_description_or_its_long_form() {
        let inputs: Inputs = serde_yaml::from_str(
            "paths:\n  entry: { description: The entry, default: /e }\nvariables:\n  other: { description: Another client, optional: true }\n  plain: Plain\n",
        )
        .unwrap();
        assert_eq!(
            inputs.get("entry"),
            Some((
                InputGroup::Path,
                &InputDecl {
                    description: "The entry".into(),
                    default: Some("/e".into()),
                    optional: false,
                }
            ))
        );
        assert!(inputs.get("other").unwrap().1.optional);
        assert_eq!(inputs.get("plain").unwrap().1.description, "Plain");
        let unknown =
            serde_yaml::from_str::<Inputs>("paths:\n  entry: { description: E, dflt: /e }\n")
                .unwrap_err()
                .to_string();
        assert!(unknown.contains("unknown field `dflt`"), "{unknown}");
    }

    #[test]
    fn env_names_are_upper_snake_case() {
        assert_eq!(env_name("pledg", "api_key"), "PLEDG_API_KEY");
        assert_eq!(env_name("we-platform", "api_key"), "WE_PLATFORM_API_KEY");
        assert_eq!(env_name("acme", "signing-key"), "ACME_SIGNING_KEY");
    }

    #[test]
    fn template_secrets_get_distinct_variables_and_descriptions_wrap() {
        let long = "word ".repeat(40);
        let spec: Spec = serde_yaml::from_str(&format!(
            "provider: p\ntitle: \"P: a title\"\nrequirements: []\ninputs:\n  secrets:\n    api-key: {long}\n    api_key: The other key\n"
        ))
        .unwrap();
        let inputs = spec.inputs.clone().unwrap();
        let template = live_target_template(&spec, &inputs, &[]);
        assert!(
            template.contains("api-key: { env: P_API_KEY }\n"),
            "{template}"
        );
        assert!(
            template.contains("api_key: { env: P_API_KEY_2 }\n"),
            "{template}"
        );
        assert!(
            template.contains("description: \"Live environment: P: a title\"\n"),
            "{template}"
        );
        assert!(template.lines().all(|l| l.len() <= 100), "{template}");
        let parsed: serde_yaml::Value = serde_yaml::from_str(&template).unwrap();
        assert_eq!(
            parsed["providers"]["p"]["secrets"]["api_key"]["env"],
            "P_API_KEY_2"
        );
    }
}
