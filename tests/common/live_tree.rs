//! A temporary tree holding one spec, one scenario file and a live target on a loopback server,
//! whose one secret (`api_key`) comes from an environment variable, and runs of the binary on it.

use std::path::PathBuf;

use super::{Run, authconform_with_env};

/// `specs/<provider>.yaml`, `scenarios/<provider>/<flow>.yaml` and a target at `target`.
pub struct LiveTree {
    dir: tempfile::TempDir,
    target: &'static str,
    /// The variable the target reads `api_key` from, and the value runs give it.
    key: (&'static str, &'static str),
}

/// What a [`LiveTree`] holds.
pub struct LiveTreeFiles {
    pub provider: &'static str,
    pub spec: &'static str,
    pub flow: &'static str,
    pub scenarios: &'static str,
    /// The target's path in the tree (a folder of its own when files go beside it).
    pub target: &'static str,
    pub key_env: &'static str,
    pub key: &'static str,
}

impl LiveTree {
    /// Writes `files` into a new temporary folder, the target's one host `api_base` at `server`.
    pub fn new(server: &str, files: LiveTreeFiles) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path();
        let provider = files.provider;
        let target = root.join(files.target);
        std::fs::create_dir_all(root.join("specs")).unwrap();
        std::fs::create_dir_all(root.join("scenarios").join(provider)).unwrap();
        std::fs::create_dir_all(target.parent().expect("a target file in a folder")).unwrap();
        std::fs::write(root.join(format!("specs/{provider}.yaml")), files.spec).unwrap();
        std::fs::write(
            root.join(format!("scenarios/{provider}/{}.yaml", files.flow)),
            files.scenarios,
        )
        .unwrap();
        std::fs::write(
            target,
            format!(
                "name: {provider}-loopback\nclock: real\nlimits:\n  request_timeout: 5s\n  max_wait: 5s\n\
                 sources:\n  default: {{ bind: 127.0.0.1 }}\nproviders:\n  {provider}:\n    hosts:\n      \
                 api_base: {{ url: \"{server}\" }}\n    secrets:\n      api_key: {{ env: {} }}\n",
                files.key_env
            ),
        )
        .unwrap();
        Self {
            dir,
            target: files.target,
            key: (files.key_env, files.key),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `text` at `relative` in the tree and returns its path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let file = self.path(relative);
        std::fs::write(&file, text).unwrap();
        file
    }

    /// The `--specs`, `--scenarios` and `--target` arguments of the tree.
    pub fn paths(&self) -> [String; 3] {
        ["specs", "scenarios", self.target].map(|p| self.path(p).display().to_string())
    }

    /// Runs `authconform COMMAND` on the tree with `extra` arguments (filters, `--strict`), the
    /// secret in its variable.
    pub fn command(&self, command: &str, extra: &[&str]) -> Run {
        let [specs, scenarios, target] = self.paths();
        let mut args = vec![
            command,
            "--specs",
            &specs,
            "--scenarios",
            &scenarios,
            "--target",
            &target,
        ];
        args.extend_from_slice(extra);
        authconform_with_env(&args, &[self.key])
    }
}
