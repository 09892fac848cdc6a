//! The output folder, written atomically, and what goes into it whatever the model: the facts
//! about one execution ([`RunInfo`]) and Parquet copies of CSV tables ([`parquet`]).
//!
//! This module owns every name beside an output folder `NAME`: the lock file `.NAME.lock`, the
//! staging folders `.NAME.partial-PID-SUFFIX` and the backups `.NAME.previous-PID-SUFFIX`
//! (`SUFFIX` is unique to the process: a clock reading and a counter, and the folder is made
//! with `create_dir`, which fails rather than reuse one). Nothing else in the crate creates or
//! removes them.
//!
//! # Writing
//!
//! [`OutputDir::create`] takes the folder's lock (waiting, after one [`Notice::Waiting`], while
//! another process holds it), tidies up what killed runs left ([`recover`], one
//! [`Notice::Recovered`] each), and makes a fresh staging folder. Files are written there, and
//! [`OutputDir::commit`] puts the staging folder in place of the target:
//!
//! 1. rename the old target, if any, to a fresh backup name;
//! 2. rename the staging folder to the target;
//! 3. rename the backup to the (now free) staging name and remove it;
//!
//! then releases the lock. A run that fails half-way removes its staging folder when
//! [`OutputDir`] is dropped uncommitted.
//!
//! # Why a killed run never loses a result
//!
//! Each step is one `rename` (atomic on a local file system) or the removal of a folder that is
//! no longer at the target name, so a process killed at any instant leaves one of:
//!
//! - before step 1: the old result at the target and a staging folder;
//! - between steps 1 and 2: no target, the old result as a backup and a staging folder;
//! - after step 2: the new result at the target, and the old one as a backup or, during step 3,
//!   as a half-removed folder under the staging name.
//!
//! The next writer of the folder runs [`recover`] under the lock before anything else: a backup
//! whose target is missing is renamed back to the target (the old result returns), a backup
//! whose target exists is removed, and a staging folder whose process is dead is removed. A
//! half-removed old result is only ever under a staging name, so it is removed, never restored.
//! So at every instant the target holds the old or the new result, or a backup holds the old
//! one and the next run puts it back. The parent folder is synced after the renames, so they
//! survive a power cut too.
//!
//! # The lock covers the whole write
//!
//! The lock is held from [`OutputDir::create`] to the commit (or the drop), not only around
//! the commit. While it is held no other hybridsim process is writing the folder, so every
//! staging folder [`recover`] finds belongs to a dead process: a live run is never tidied away,
//! even where process ids cannot tell (another PID namespace on a shared volume, or a platform
//! without `/proc`, where only a leftover older than an hour is removed). It costs little:
//! `hybridsim run` simulates before it creates its folder, so two runs to one folder simulate
//! side by side and only their writing takes turns; a comparison or a sweep holds the lock
//! while it runs, and a second one to the same folder waits for it. The lock is advisory
//! (`flock` on Unix), released by the operating system when its process dies, and the lock
//! file is never removed: removing a lock file another process has open would let a third one
//! lock a new file of the same name while the second still holds the old one.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

mod folder;
pub mod parquet;
pub mod spill;

use folder::{FolderNames, TargetLock};
pub use folder::{Recovery, recover};

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

/// The longest name, in bytes, an output folder may have: the staging and backup folders
/// beside it add up to 38 bytes to it, and most file systems refuse names over 255 bytes.
pub const MAX_FOLDER_NAME: usize = 200;

/// A failure to write results.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An I/O failure, naming the path involved.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or folder that could not be written.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The output folder's name is too long for the file system once the staging suffix is
    /// added.
    #[error(
        "the output folder name \"{name}\" is {bytes} bytes long; at most {max} fit beside its \
         staging folder. Choose a shorter folder with --out, or shorten the name it comes from \
         (the scenario's or study's `name`)"
    )]
    NameTooLong {
        /// The folder's name (its last component).
        name: String,
        /// Its length in bytes.
        bytes: usize,
        /// The most allowed ([`MAX_FOLDER_NAME`]).
        max: usize,
    },
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks that `target` can be an output folder: its name fits [`MAX_FOLDER_NAME`]. The
/// command line calls it before simulating, so a name that cannot be written is refused before
/// the work is done; [`OutputDir::create`] checks it again.
pub fn check_target(target: &Path) -> Result<(), OutputError> {
    let name = FolderNames::folder_name(target);
    if name.len() > MAX_FOLDER_NAME {
        return Err(OutputError::NameTooLong {
            bytes: name.len(),
            name,
            max: MAX_FOLDER_NAME,
        });
    }
    Ok(())
}

/// Something the writing of an output folder tells its user: the command line prints it on
/// stderr, a library caller may ignore it (`&|_| {}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Another process is writing the folder; this one waits for its lock.
    Waiting {
        /// The folder.
        target: PathBuf,
    },
    /// What a killed run left behind was tidied up.
    Recovered(Recovery),
    /// The file system cannot lock the folder's lock file: concurrent writers of the folder
    /// are not kept apart.
    Unlocked {
        /// The lock file.
        lock: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Waiting { target } => {
                write!(f, "waiting for another run writing {}", target.display())
            }
            Notice::Recovered(recovery) => recovery.fmt(f),
            Notice::Unlocked { lock, reason } => write!(
                f,
                "warning: cannot lock {} ({reason}); runs writing the same folder at the same time may fail",
                lock.display()
            ),
        }
    }
}

/// A staging folder that becomes `target` on [`OutputDir::commit`], holding the folder's lock
/// until then.
#[derive(Debug)]
pub struct OutputDir {
    names: FolderNames,
    staging: PathBuf,
    committed: bool,
    // Dropped after `Drop::drop` has removed an uncommitted staging folder.
    _lock: TargetLock,
}

impl OutputDir {
    /// Starts writing a new version of `target`: takes its lock (calling `notify` with
    /// [`Notice::Waiting`] once if another process holds it, then waiting), tidies up what
    /// killed runs left beside it (a [`Notice::Recovered`] each) and makes a fresh staging
    /// folder. The previous contents of `target`, if any, stay untouched until the commit.
    ///
    /// The lock is per open file, so a second `OutputDir` for the same target in the same
    /// thread waits forever: finish or drop the first.
    pub fn create(target: &Path, notify: &dyn Fn(&Notice)) -> Result<Self, OutputError> {
        check_target(target)?;
        let names = FolderNames::of(target);
        fs::create_dir_all(&names.parent).map_err(at(&names.parent))?;
        let lock = TargetLock::acquire(&names, notify)?;
        for recovery in folder::recover_locked(&names)? {
            notify(&Notice::Recovered(recovery));
        }
        let staging = names.new_staging()?;
        Ok(OutputDir {
            names,
            staging,
            committed: false,
            _lock: lock,
        })
    }

    /// The folder the results will have after the commit.
    pub fn target(&self) -> &Path {
        &self.names.target
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

    /// Writes the file `name` in the staging folder as a stream: `write` gets a buffered
    /// writer, and the file is flushed and synced after it returns. For tables too big to
    /// build in memory first.
    pub fn write_stream<E>(
        &self,
        name: &str,
        write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> Result<(), E>,
    ) -> Result<(), OutputError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = self.staging.join(name);
        let file = fs::File::create(&path).map_err(at(&path))?;
        let mut buffered = std::io::BufWriter::with_capacity(spill::BUFFER, file);
        write(&mut buffered).map_err(|e| OutputError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let file = buffered.into_inner().map_err(|e| OutputError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(at(&path))
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
        let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| OutputError::Io {
            path: self.staging.join(name),
            source: std::io::Error::other(e),
        })?;
        bytes.push(b'\n');
        self.write_bytes(name, &bytes)
    }

    /// Replaces `target` with the staging folder (the steps and why a kill at any point loses
    /// nothing are in the module's documentation) and releases the lock. Returns the folder.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let target = self.names.target.clone();
        let backup = if fs::symlink_metadata(&target).is_ok() {
            let backup = self.names.new_backup();
            fs::rename(&target, &backup).map_err(at(&target))?;
            Some(backup)
        } else {
            None
        };
        if let Err(e) = fs::rename(&self.staging, &target) {
            if let Some(backup) = &backup {
                // Put the old result back; should this fail too, the next run restores it.
                let _ = fs::rename(backup, &target);
            }
            return Err(at(&target)(e));
        }
        self.committed = true;
        if let Some(backup) = backup {
            // Under the staging name a half-removed old result is never mistaken for a backup
            // to restore. The new result is in place whatever happens here: a folder that
            // cannot be removed now is removed by the next run, once this process is gone.
            if fs::rename(&backup, &self.staging).is_ok() {
                let _ = fs::remove_dir_all(&self.staging);
            }
        }
        folder::sync_dir(&self.names.parent);
        Ok(target)
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover hidden folder is removed by the next run, a partial
            // visible one would be mistaken for a result.
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries of `dir` but the lock file, sorted.
    pub(super) fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn nothing_is_visible_until_commit_and_an_abandoned_run_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("results");
        {
            let out = OutputDir::create(&target, &|_| {}).unwrap();
            out.write_bytes("a.txt", b"1").unwrap();
            assert!(!target.exists());
        }
        assert!(entries(root.path()).is_empty(), "staging folder removed");

        let out = OutputDir::create(&target, &|_| {}).unwrap();
        out.write_json("b.json", &serde_json::json!({"x": 1})).unwrap();
        out.commit().unwrap();
        assert_eq!(
            fs::read_to_string(target.join("b.json")).unwrap(),
            "{\n  \"x\": 1\n}\n"
        );

        let out = OutputDir::create(&target, &|_| {}).unwrap();
        out.write_bytes("c.txt", b"2").unwrap();
        out.commit().unwrap();
        assert!(
            !target.join("b.json").exists(),
            "a new run replaces the old folder whole"
        );
        assert_eq!(entries(root.path()), ["results"]);
        assert!(root.path().join(".results.lock").is_file(), "the lock file stays");
    }

    #[test]
    fn staging_folders_of_one_process_never_collide() {
        let root = tempfile::tempdir().unwrap();
        let names = FolderNames::of(&root.path().join("r"));
        let a = names.new_staging().unwrap();
        let b = names.new_staging().unwrap();
        assert_ne!(a, b);
        let pid = std::process::id().to_string();
        for staging in [&a, &b] {
            let name = staging.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with(&format!(".r.partial-{pid}-")), "{name}");
        }
        assert_ne!(names.new_backup(), names.new_backup());
    }

    #[test]
    fn a_second_writer_waits_for_the_first_and_commits_after_it() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("results");
        let first = OutputDir::create(&target, &|_| {}).unwrap();
        first.write_bytes("who", b"first").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let second = {
            let target = target.clone();
            std::thread::spawn(move || {
                let out = OutputDir::create(&target, &|n| tx.send(n.clone()).unwrap()).unwrap();
                out.write_bytes("who", b"second").unwrap();
                out.commit().unwrap();
            })
        };
        let notice = rx.recv().unwrap();
        assert_eq!(
            notice,
            Notice::Waiting {
                target: target.clone()
            }
        );
        assert_eq!(
            notice.to_string(),
            format!("waiting for another run writing {}", target.display())
        );
        first.commit().unwrap();
        second.join().unwrap();
        assert_eq!(fs::read_to_string(target.join("who")).unwrap(), "second");
        assert_eq!(entries(root.path()), ["results"]);
        assert!(rx.try_recv().is_err(), "one notice only");
    }

    #[test]
    fn a_name_too_long_for_the_staging_folder_is_refused_before_anything_is_made() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("sub").join("a".repeat(MAX_FOLDER_NAME + 1));
        let error = OutputDir::create(&target, &|_| {}).unwrap_err();
        assert!(
            matches!(error, OutputError::NameTooLong { bytes: 201, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("--out"), "{error}");
        assert!(!root.path().join("sub").exists());
        check_target(&root.path().join("a".repeat(MAX_FOLDER_NAME))).unwrap();
    }
}
