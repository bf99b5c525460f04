//! The requirement catalogue: `specs/<provider>.yaml`, one [`Spec`] per provider, each
//! [`Requirement`] with a stable id, a statement in our words, its sources, and whether the
//! provider documents it, an RFC mandates it, or we assume it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

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
        let spec: Spec = match parse_yaml(InputKind::Spec, &file, &text) {
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
        catalogue.specs.push((file, spec));
    }
    if errors.is_empty() {
        Ok(catalogue)
    } else {
        Err(errors)
    }
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
}
