//! Input folders: which entries of `specs/` and `scenarios/<provider>/` are read, and a located
//! error for every entry that looks like input but cannot be read (a broken or looping symbolic
//! link, a folder named `*.yaml`, a nested folder). Shared by the spec and plan loaders.

use std::path::{Path, PathBuf};

use crate::diagnostic::{InputKind, LoadError};

/// Lists `*.yaml` / `*.yml` files directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::read_dir(dir)?;
    Ok(input_files(InputKind::Scenario, dir, "").0)
}

/// Returns true for a file name the loader reads (`*.yaml`, `*.yml`).
pub(crate) fn yaml_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Returns true for a name starting with `.`: editors keep swap files and lock links there, so
/// hidden entries are never input.
pub(crate) fn hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Says why `path` (which `std::fs::metadata` could not follow) cannot be read.
pub(crate) fn unreadable(input: InputKind, path: &Path, error: &std::io::Error) -> LoadError {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let message = match (link, error.kind()) {
        (true, std::io::ErrorKind::NotFound) => {
            "a symbolic link to nothing: what it points to does not exist".to_owned()
        }
        (true, _) => {
            format!("a symbolic link that cannot be followed (a loop, or no permission): {error}")
        }
        (false, _) => format!("cannot read: {error}"),
    };
    LoadError::new(input, path, message)
}

/// Lists the YAML files directly in `dir`, sorted, and every entry that looks like input but
/// cannot be read: a broken or looping symbolic link, a folder named `*.yaml`, a nested folder
/// (`nested` says where files belong instead). Other files and hidden entries are ignored.
pub(crate) fn input_files(
    input: InputKind,
    dir: &Path,
    nested: &str,
) -> (Vec<PathBuf>, Vec<LoadError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return (files, vec![unreadable(input, dir, &e)]),
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                errors.push(LoadError::new(
                    input,
                    dir,
                    format!("cannot list the folder: {e}"),
                ));
                continue;
            }
        };
        if hidden(&path) {
            continue;
        }
        match std::fs::metadata(&path) {
            Err(e) if yaml_name(&path) => errors.push(unreadable(input, &path, &e)),
            Err(e) if !nested.is_empty() => {
                // A link without a YAML name may have been a folder: say so rather than guess.
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    errors.push(unreadable(input, &path, &e));
                }
            }
            Err(_) => {}
            Ok(meta) if meta.is_dir() && yaml_name(&path) => errors.push(LoadError::new(
                input,
                &path,
                "a folder named like a YAML file: input files must be regular files",
            )),
            Ok(meta) if meta.is_dir() => {
                if !nested.is_empty() {
                    errors.push(LoadError::new(input, &path, nested));
                }
            }
            Ok(meta) if yaml_name(&path) && !meta.is_file() => errors.push(LoadError::new(
                input,
                &path,
                "not a regular file: input files must be regular files",
            )),
            Ok(_) if yaml_name(&path) => files.push(path),
            Ok(_) => {}
        }
    }
    files.sort();
    errors.sort_by(|a, b| a.file.cmp(&b.file));
    (files, errors)
}

/// Lists the spec files in `dir`, reporting every entry that cannot be one.
pub fn spec_files(dir: &Path) -> (Vec<PathBuf>, Vec<LoadError>) {
    input_files(
        InputKind::Spec,
        dir,
        "a folder inside specs/: spec files go directly in specs/ (specs/<provider>.yaml), nested folders are not read",
    )
}
