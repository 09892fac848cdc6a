//! The output folder, written atomically, and what goes into it whatever the model: the facts
//! about one execution ([`RunInfo`]) and Parquet copies of CSV tables ([`parquet`]).
//!
//! Files are written into a hidden staging folder beside the target and the staging folder is
//! renamed onto the target only when every file is complete. A run that fails half-way leaves no
//! partial folder behind: the staging folder is removed when [`OutputDir`] is dropped uncommitted.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod parquet;

/// Facts about one execution that are not part of the simulated result: they differ between
/// two runs of the same scenario and seed, so they are kept out of `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Version of hybridsim that ran.
    pub hybridsim_version: &'static str,
    /// The scenario file.
    pub scenario_path: String,
    /// Wall-clock seconds spent simulating.
    pub wall_clock_s: f64,
    /// Events delivered per wall-clock second.
    pub events_per_wall_second: f64,
}

/// An I/O failure while writing results, naming the path involved.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct OutputError {
    /// The file or folder that could not be written.
    pub path: PathBuf,
    /// The operating system's reason.
    #[source]
    pub source: std::io::Error,
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError {
        path: path.to_path_buf(),
        source,
    }
}

/// A staging folder that becomes `target` on [`OutputDir::commit`].
#[derive(Debug)]
pub struct OutputDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl OutputDir {
    /// Starts writing a new version of `target`. The previous contents of `target`, if any, stay
    /// untouched until the commit.
    pub fn create(target: &Path) -> Result<Self, OutputError> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(at(parent))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(at(&staging))?;
        }
        fs::create_dir(&staging).map_err(at(&staging))?;
        Ok(OutputDir {
            target: target.to_path_buf(),
            staging,
            committed: false,
        })
    }

    /// The folder the results will have after the commit.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the folder `name` inside the staging folder.
    pub fn create_folder(&self, name: &str) -> Result<(), OutputError> {
        let path = self.staging.join(name);
        fs::create_dir_all(&path).map_err(at(&path))
    }

    /// Where the file `name` is while the folder is being written: for files written as a
    /// stream, and read back before the commit.
    pub fn staged(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Creates the file `name` in the staging folder for writing as a stream.
    pub fn create_file(&self, name: &str) -> Result<fs::File, OutputError> {
        let path = self.staging.join(name);
        fs::File::create(&path).map_err(at(&path))
    }

    /// Writes `bytes` to the file `name` in the staging folder.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let path = self.staging.join(name);
        let mut file = fs::File::create(&path).map_err(at(&path))?;
        file.write_all(bytes).map_err(at(&path))?;
        file.sync_all().map_err(at(&path))
    }

    /// Writes `value` as pretty JSON with a trailing newline.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), OutputError> {
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| OutputError {
            path: self.staging.join(name),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        self.write_bytes(name, &bytes)
    }

    /// Replaces `target` with the staging folder.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let previous = self.staging.with_extension("previous");
        if self.target.exists() {
            fs::rename(&self.target, &previous).map_err(at(&self.target))?;
        }
        fs::rename(&self.staging, &self.target).map_err(at(&self.target))?;
        self.committed = true;
        if previous.exists() {
            fs::remove_dir_all(&previous).map_err(at(&previous))?;
        }
        Ok(self.target.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover hidden folder is harmless, a partial visible one is not.
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_visible_until_commit_and_an_abandoned_run_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("results");
        {
            let out = OutputDir::create(&target).unwrap();
            out.write_bytes("a.txt", b"1").unwrap();
            assert!(!target.exists());
        }
        assert_eq!(
            fs::read_dir(root.path()).unwrap().count(),
            0,
            "staging folder removed"
        );

        let out = OutputDir::create(&target).unwrap();
        out.write_json("b.json", &serde_json::json!({"x": 1})).unwrap();
        out.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join("b.json")).unwrap(),
            "{\n  \"x\": 1\n}\n"
        );

        let out = OutputDir::create(&target).unwrap();
        out.write_bytes("c.txt", b"2").unwrap();
        out.commit().unwrap();
        assert!(
            !target.join("b.json").exists(),
            "a new run replaces the old folder whole"
        );
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
