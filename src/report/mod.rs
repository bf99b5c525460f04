//! Reporters: sinks for [`ScenarioResult`]s. Each takes the run's
//! [`SecretRegistry`](crate::secret::SecretRegistry) and redacts everything it writes.

pub mod console;
pub mod evidence;
pub mod html;
pub mod junit;

use std::io::Write as _;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a reader
/// never sees a half-written report.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
