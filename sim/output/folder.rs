//! The names beside an output folder, its lock, and the recovery of what killed runs left
//! there. Why the names and the order of the renames make a kill harmless is in the parent
//! module's documentation.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Notice, OutputError, at};

/// Where `/proc` cannot tell whether a staging folder's process lives, a staging folder left
/// untouched this long is taken for a killed run's.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The names beside one output folder.
#[derive(Debug, Clone)]
pub(super) struct FolderNames {
    /// The output folder.
    pub(super) target: PathBuf,
    /// The folder it is in, where its staging folders, backups and lock file are.
    pub(super) parent: PathBuf,
    /// Its last component.
    name: String,
}

/// A leftover of a killed run, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leftover {
    /// A staging folder, with the id of the process that made it.
    Staging(u32),
    /// An old result moved aside by a commit.
    Backup,
}

impl FolderNames {
    /// The last component of `target`, which the names beside it are made of.
    pub(super) fn folder_name(target: &Path) -> String {
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into())
    }

    pub(super) fn of(target: &Path) -> Self {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        FolderNames {
            target: target.to_path_buf(),
            parent,
            name: Self::folder_name(target),
        }
    }

    /// The lock file: `.NAME.lock`.
    pub(super) fn lock_file(&self) -> PathBuf {
        self.parent.join(format!(".{}.lock", self.name))
    }

    /// A staging name no folder has yet: `.NAME.partial-PID-SUFFIX`.
    fn fresh_staging(&self) -> PathBuf {
        self.parent
            .join(format!(".{}.partial-{}", self.name, unique_suffix()))
    }

    /// Makes a new, empty staging folder; `create_dir` fails rather than reuse one.
    pub(super) fn new_staging(&self) -> Result<PathBuf, OutputError> {
        loop {
            let staging = self.fresh_staging();
            match fs::create_dir(&staging) {
                Ok(()) => return Ok(staging),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(at(&staging)(e)),
            }
        }
    }

    /// A backup name nothing has: `.NAME.previous-PID-SUFFIX`. Only a holder of the lock
    /// makes backups, so the name is still free when it renames onto it.
    pub(super) fn new_backup(&self) -> PathBuf {
        loop {
            let backup = self
                .parent
                .join(format!(".{}.previous-{}", self.name, unique_suffix()));
            if fs::symlink_metadata(&backup).is_err() {
                return backup;
            }
        }
    }

    /// What the entry `name` beside the target is, if it is a leftover of this folder's
    /// writing. `.NAME.partial-PID` and `.NAME.previous` are the names earlier versions used.
    fn classify(&self, name: &str) -> Option<Leftover> {
        let rest = name.strip_prefix('.')?.strip_prefix(self.name.as_str())?;
        if let Some(owner) = rest.strip_prefix(".partial-") {
            return owner_pid(owner).map(Leftover::Staging);
        }
        if rest == ".previous" {
            return Some(Leftover::Backup);
        }
        rest.strip_prefix(".previous-")
            .and_then(owner_pid)
            .map(|_| Leftover::Backup)
    }
}

/// `PID-SUFFIX`, unique within this process and, through the process id, among the processes
/// alive: a clock reading plus a counter, in hexadecimal.
fn unique_suffix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{:x}", std::process::id(), clock.wrapping_add(count))
}

/// The process id in `PID` or `PID-SUFFIX` (hexadecimal suffix), or `None` for anything else.
fn owner_pid(owner: &str) -> Option<u32> {
    let (pid, suffix) = match owner.split_once('-') {
        Some((pid, suffix)) => (pid, Some(suffix)),
        None => (owner, None),
    };
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if !digits(pid, 10) || suffix.is_some_and(|s| !digits(s, 16)) {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid`, which made the staging folder `folder`, may still be writing
/// it: on Linux, whether `/proc/PID` exists; elsewhere, whether the folder changed in the last
/// hour. This process's own folders count as alive.
fn owner_alive(pid: u32, folder: &Path) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") && Path::new("/proc/self").exists() {
        return Path::new("/proc").join(pid.to_string()).exists();
    }
    fs::symlink_metadata(folder)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age < STALE_AFTER)
}

/// What [`recover`] did about one leftover of a killed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Removed the staging folder of a process that is gone: an unfinished result.
    RemovedStaging {
        /// The folder removed.
        folder: PathBuf,
        /// The process that made it.
        pid: u32,
    },
    /// Renamed a backup back to the target, which was missing: a run was killed between
    /// moving the old result aside and putting the new one in its place.
    Restored {
        /// The backup's name.
        backup: PathBuf,
        /// The output folder, now the old result again.
        target: PathBuf,
    },
    /// Removed a backup whose target exists: a run was killed after putting its result in
    /// place, before removing the old one.
    RemovedBackup {
        /// The folder removed.
        folder: PathBuf,
    },
    /// A leftover that could not be tidied up; the write goes on without it.
    Failed {
        /// The leftover.
        folder: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::RemovedStaging { folder, pid } => write!(
                f,
                "removed {}: the unfinished output of a run (process {pid}) that was killed",
                folder.display()
            ),
            Recovery::Restored { backup, target } => write!(
                f,
                "restored {} from {}: a run was killed while replacing it, so the previous result is back",
                target.display(),
                backup.display()
            ),
            Recovery::RemovedBackup { folder } => write!(
                f,
                "removed {}: the previous result left by a run killed after writing its own",
                folder.display()
            ),
            Recovery::Failed { folder, reason } => write!(
                f,
                "warning: cannot tidy up {} ({reason}); remove it by hand",
                folder.display()
            ),
        }
    }
}

/// The lock on an output folder: an exclusive advisory lock on its lock file, released when
/// this is dropped or its process ends. The lock file is never removed (see the module's
/// documentation of the parent).
#[derive(Debug)]
pub(super) struct TargetLock {
    _file: Option<File>,
}

impl TargetLock {
    /// Takes the lock of `names`' folder, telling `notify` once when it has to wait for it. On
    /// a file system that cannot lock, goes on without it after a [`Notice::Unlocked`].
    pub(super) fn acquire(names: &FolderNames, notify: &dyn Fn(&Notice)) -> Result<Self, OutputError> {
        let path = names.lock_file();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(at(&path))?;
        let error = match file.try_lock() {
            Ok(()) => None,
            Err(TryLockError::WouldBlock) => {
                notify(&Notice::Waiting {
                    target: names.target.clone(),
                });
                file.lock().err()
            }
            Err(TryLockError::Error(e)) => Some(e),
        };
        match error {
            None => Ok(TargetLock { _file: Some(file) }),
            Some(e) if cannot_lock_here(&e) => {
                notify(&Notice::Unlocked {
                    lock: path,
                    reason: e.to_string(),
                });
                Ok(TargetLock { _file: None })
            }
            Some(e) => Err(at(&path)(e)),
        }
    }
}

/// Whether `e` says the file system has no locks (some network file systems), rather than
/// that locking failed.
fn cannot_lock_here(e: &std::io::Error) -> bool {
    /// `ENOLCK` on Linux: no lock manager (NFS without `lockd`).
    const ENOLCK: i32 = 37;
    e.kind() == std::io::ErrorKind::Unsupported
        || (cfg!(target_os = "linux") && e.raw_os_error() == Some(ENOLCK))
}

/// Tidies up what killed runs left beside `target`, under its lock (waiting for it), and says
/// what was done. [`super::OutputDir::create`] does the same before every write.
///
/// - a staging folder (`.NAME.partial-PID-…`) whose process is gone is removed;
/// - a backup (`.NAME.previous-…`) is renamed back to `target` if `target` is missing (the
///   newest backup, if there are several), and removed otherwise.
pub fn recover(target: &Path) -> Result<Vec<Recovery>, OutputError> {
    let names = FolderNames::of(target);
    if !names.parent.is_dir() {
        return Ok(Vec::new());
    }
    let _lock = TargetLock::acquire(&names, &|_| {})?;
    recover_locked(&names)
}

/// [`recover`], for a caller that holds the lock.
pub(super) fn recover_locked(names: &FolderNames) -> Result<Vec<Recovery>, OutputError> {
    let mut done = Vec::new();
    let mut backups: Vec<(Option<SystemTime>, PathBuf)> = Vec::new();
    for entry in fs::read_dir(&names.parent).map_err(at(&names.parent))? {
        let entry = entry.map_err(at(&names.parent))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let file_name = entry.file_name();
        let Some(leftover) = file_name.to_str().and_then(|n| names.classify(n)) else {
            continue;
        };
        let path = entry.path();
        match leftover {
            Leftover::Staging(pid) if !owner_alive(pid, &path) => {
                done.push(match fs::remove_dir_all(&path) {
                    Ok(()) => Recovery::RemovedStaging { folder: path, pid },
                    Err(e) => failed(path, &e),
                });
            }
            Leftover::Staging(_) => {}
            Leftover::Backup => {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                backups.push((modified, path));
            }
        }
    }
    // Newest first: with the target missing, the most recent old result is the one to restore.
    backups.sort_by(|a, b| b.cmp(a));
    for (_, backup) in backups {
        if fs::symlink_metadata(&names.target).is_err() {
            done.push(match fs::rename(&backup, &names.target) {
                Ok(()) => Recovery::Restored {
                    backup,
                    target: names.target.clone(),
                },
                Err(e) => failed(backup, &e),
            });
        } else {
            // Renamed to a staging name first, so that a kill half-way through the removal
            // leaves something that is removed, never restored.
            let doomed = names.fresh_staging();
            let removed = fs::rename(&backup, &doomed).and_then(|()| fs::remove_dir_all(&doomed));
            done.push(match removed {
                Ok(()) => Recovery::RemovedBackup { folder: backup },
                Err(e) => failed(backup, &e),
            });
        }
    }
    if !done.is_empty() {
        sync_dir(&names.parent);
    }
    Ok(done)
}

fn failed(folder: PathBuf, e: &std::io::Error) -> Recovery {
    Recovery::Failed {
        folder,
        reason: e.to_string(),
    }
}

/// Makes the renames in `dir` durable (best effort; only Unix can sync a folder).
pub(super) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process id no process has: above the largest the kernel hands out.
    fn dead_pid() -> u32 {
        fs::read_to_string("/proc/sys/kernel/pid_max")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .map_or(4_194_305, |max| max + 1)
    }

    /// A folder `name` in `dir` holding `file` with `text`, last changed two hours ago (so it
    /// is stale where only its age tells).
    fn folder(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::create_dir(&path).unwrap();
        fs::write(path.join("summary.json"), text).unwrap();
        #[cfg(unix)]
        {
            let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
            File::open(&path).unwrap().set_modified(two_hours_ago).unwrap();
        }
        path
    }

    use super::super::tests::entries as listing;

    #[test]
    fn a_staging_folder_of_a_dead_process_is_removed_and_a_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("qs");
        let dead = dead_pid();
        let stale = folder(root.path(), &format!(".qs.partial-{dead}-1f"), "half");
        let legacy = folder(root.path(), &format!(".qs.partial-{dead}"), "half");
        let mine = folder(
            root.path(),
            &format!(".qs.partial-{}-2e", std::process::id()),
            "being written",
        );
        let done = recover(&target).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        for folder in [&stale, &legacy] {
            assert!(done.contains(&Recovery::RemovedStaging {
                folder: folder.clone(),
                pid: dead
            }));
        }
        assert!(done[0].to_string().contains("was killed"), "{}", done[0]);
        assert!(mine.exists(), "this process's folder is alive");
        assert!(!target.exists(), "a staging folder is never promoted");
        assert!(recover(&target).unwrap().is_empty(), "nothing left to do");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_staging_folder_of_a_live_process_is_kept_whatever_its_age() {
        let root = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let live = folder(root.path(), &format!(".qs.partial-{}-5", child.id()), "x");
        let done = recover(&root.path().join("qs"));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(done.unwrap(), []);
        assert!(live.exists());
        // Reaped: the same folder is now a dead process's.
        let done = recover(&root.path().join("qs")).unwrap();
        assert_eq!(
            done,
            [Recovery::RemovedStaging {
                folder: live,
                pid: child.id()
            }]
        );
    }

    #[test]
    fn a_backup_whose_target_is_missing_is_restored() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("qs");
        let backup = folder(root.path(), &format!(".qs.previous-{}-a0", dead_pid()), "old");
        let staging = folder(root.path(), &format!(".qs.partial-{}-a1", dead_pid()), "new");
        let done = recover(&target).unwrap();
        assert_eq!(
            done,
            [
                Recovery::RemovedStaging {
                    folder: staging,
                    pid: dead_pid()
                },
                Recovery::Restored {
                    backup,
                    target: target.clone()
                }
            ]
        );
        assert!(done[1].to_string().starts_with("restored "), "{}", done[1]);
        assert_eq!(fs::read_to_string(target.join("summary.json")).unwrap(), "old");
        assert_eq!(listing(root.path()), ["qs"]);
    }

    #[test]
    fn a_backup_whose_target_exists_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let target = folder(root.path(), "qs", "new");
        let backup = folder(root.path(), &format!(".qs.previous-{}-b", dead_pid()), "old");
        let done = recover(&target).unwrap();
        assert_eq!(done, [Recovery::RemovedBackup { folder: backup }]);
        assert_eq!(fs::read_to_string(target.join("summary.json")).unwrap(), "new");
        assert_eq!(listing(root.path()), ["qs"]);
    }

    #[test]
    fn the_fixed_backup_name_of_earlier_versions_is_recovered_too() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("qs");
        let legacy = folder(root.path(), ".qs.previous", "old");
        assert_eq!(
            recover(&target).unwrap(),
            [Recovery::Restored {
                backup: legacy,
                target: target.clone()
            }]
        );
        assert_eq!(fs::read_to_string(target.join("summary.json")).unwrap(), "old");
    }

    #[test]
    fn of_several_backups_the_newest_is_restored_and_the_others_removed() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("qs");
        let older = folder(root.path(), ".qs.previous-7-1", "older");
        let newer = folder(root.path(), ".qs.previous-7-2", "newer");
        File::open(&older)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(9000))
            .unwrap();
        let done = recover(&target).unwrap();
        assert_eq!(
            done,
            [
                Recovery::Restored {
                    backup: newer,
                    target: target.clone()
                },
                Recovery::RemovedBackup { folder: older }
            ]
        );
        assert_eq!(fs::read_to_string(target.join("summary.json")).unwrap(), "newer");
    }

    #[test]
    fn other_folders_and_files_are_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dead = dead_pid();
        let keep = [
            format!(".qsx.partial-{dead}-1"),
            format!(".qs.partial-{dead}-xyz"),
            format!(".qs.partial-{dead}.previous"),
            ".qs.previous-".to_string(),
            format!(".q.partial-{dead}"),
            "qs-old".to_string(),
        ];
        for name in &keep {
            folder(root.path(), name, "keep");
        }
        fs::write(root.path().join(format!(".qs.partial-{dead}-2")), "a file").unwrap();
        assert_eq!(recover(&root.path().join("qs")).unwrap(), []);
        assert_eq!(listing(root.path()).len(), keep.len() + 1);
    }

    #[test]
    fn owners_are_read_from_names() {
        assert_eq!(owner_pid("123"), Some(123));
        assert_eq!(owner_pid("123-1a2b"), Some(123));
        for bad in ["", "-1", "12-", "12-xyz", "1.2", "99999999999"] {
            assert_eq!(owner_pid(bad), None, "{bad}");
        }
        let names = FolderNames::of(Path::new("out/qs"));
        assert_eq!(names.lock_file(), Path::new("out/.qs.lock"));
        assert_eq!(names.classify(".qs.partial-5-f"), Some(Leftover::Staging(5)));
        assert_eq!(names.classify(".qs.previous-5-f"), Some(Leftover::Backup));
        assert_eq!(names.classify(".qs.lock"), None);
        assert_eq!(names.classify("qs"), None);
    }
}
