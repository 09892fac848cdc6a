//! Output folders as the command line leaves them when runs overlap or are killed: always a
//! whole result at the folder's name (or a backup the next run restores), and nothing left
//! beside it once the next run has gone through. Also: a folder name too long to write is
//! refused before simulating.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const QUICKSTART: &str = "scenarios/quickstart.ron";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `hybridsim run` of the quickstart under `seed` into `out`, started and not waited for.
fn start_run(out: &Path, seed: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(["run", QUICKSTART, "--quiet", "--seed", &seed.to_string(), "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn run(out: &Path, seed: u64) -> Output {
    start_run(out, seed).wait_with_output().expect("the binary runs")
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The seed of the whole result in `folder`: every file a run writes is there and
/// `summary.json` and `run.json` are complete JSON.
fn whole_result(folder: &Path) -> u64 {
    let mut files: Vec<&str> = hybridsim::report::RUN_FILES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    files.push("recovery.png");
    for file in files {
        let path = folder.join(file);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert!(len > 0, "{} is empty", path.display());
    }
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(folder.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name} in {}: {e}", folder.display()))
    };
    assert!(json("run.json")["wall_clock_s"].is_number());
    json("summary.json")["seed"].as_u64().expect("a seed")
}

/// What a clean folder beside `qs` holds: the result and its lock file.
fn clean() -> Vec<String> {
    vec![".qs.lock".to_string(), "qs".to_string()]
}

#[test]
fn two_runs_into_one_folder_at_once_both_succeed_and_leave_one_whole_result() {
    for round in 0..5 {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("qs");
        let (a, b) = (start_run(&out, 1), start_run(&out, 2));
        for (seed, child) in [(1, a), (2, b)] {
            let result = child.wait_with_output().unwrap();
            assert_eq!(
                result.status.code(),
                Some(0),
                "round {round}, seed {seed}: {}",
                text(&result.stderr)
            );
        }
        let seed = whole_result(&out);
        assert!([1, 2].contains(&seed), "round {round}: seed {seed}");
        assert_eq!(listing(root.path()), clean(), "round {round}");
    }
}

/// Kills a run into `out` (seed 2) as soon as its staging folder appears beside `out`, and
/// says whether it caught it there.
fn kill_while_writing(out: &Path) -> bool {
    let parent = out.parent().unwrap();
    let mut child = start_run(out, 2);
    let started = Instant::now();
    let mut caught = false;
    while started.elapsed() < Duration::from_secs(60) {
        if listing(parent).iter().any(|n| n.starts_with(".qs.partial-")) {
            caught = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // SIGKILL on Unix: no destructor, no clean-up of any kind.
    let _ = child.kill();
    child.wait().unwrap();
    caught
}

#[test]
fn a_run_killed_while_writing_loses_nothing_and_the_next_run_tidies_up() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("qs");
    let first = run(&out, 1);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(whole_result(&out), 1);

    let caught = kill_while_writing(&out);
    assert!(caught, "the run was killed while its staging folder existed");
    // Whenever the kill came, the folder holds a whole result, or the old one waits in a
    // backup for the next run.
    let backups: Vec<PathBuf> = listing(root.path())
        .iter()
        .filter(|n| n.starts_with(".qs.previous-"))
        .map(|n| root.path().join(n))
        .collect();
    if out.exists() {
        assert!([1, 2].contains(&whole_result(&out)));
    } else {
        assert_eq!(backups.len(), 1, "{:?}", listing(root.path()));
        assert_eq!(whole_result(&backups[0]), 1, "the old result is in the backup");
    }
    let leftovers: Vec<String> = listing(root.path())
        .into_iter()
        .filter(|n| !clean().contains(n))
        .collect();
    assert!(!leftovers.is_empty(), "the killed run left its staging folder");

    let next = run(&out, 3);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    let stderr = text(&next.stderr);
    for leftover in &leftovers {
        assert!(
            stderr.lines().any(|l| l.contains(leftover.as_str())),
            "the next run says what it did about {leftover}: {stderr}"
        );
    }
    assert_eq!(whole_result(&out), 3);
    assert_eq!(listing(root.path()), clean());
}

#[test]
fn a_folder_moved_aside_by_a_killed_commit_is_restored_and_reported() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("qs");
    assert_eq!(run(&out, 1).status.code(), Some(0));
    // The state between a commit's two renames: the old result moved aside, no target, and
    // the new result still staged by a process that is gone.
    let backup = root.path().join(".qs.previous-4194305-1");
    std::fs::rename(&out, &backup).unwrap();
    let staging = root.path().join(".qs.partial-4194305-2");
    std::fs::create_dir(&staging).unwrap();

    let done = hybridsim::output::recover(&out).unwrap();
    assert_eq!(done.len(), 2, "{done:?}");
    assert_eq!(whole_result(&out), 1, "the old result is back under its name");
    assert_eq!(listing(root.path()), clean());

    // The same through the command line, which says so on stderr.
    std::fs::rename(&out, &backup).unwrap();
    let next = run(&out, 3);
    assert_eq!(next.status.code(), Some(0), "{}", text(&next.stderr));
    let stderr = text(&next.stderr);
    assert!(
        stderr.contains(&format!("restored {}", out.display())),
        "{stderr}"
    );
    assert_eq!(whole_result(&out), 3);
    assert_eq!(listing(root.path()), clean());
}

#[test]
fn a_backup_left_after_a_commit_no_longer_blocks_later_runs() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("qs");
    // What earlier versions left when killed after their commit: a fixed-name backup.
    let legacy = root.path().join(".qs.previous");
    std::fs::create_dir(&legacy).unwrap();
    std::fs::write(legacy.join("summary.json"), "{}").unwrap();
    for seed in [1, 2] {
        let result = run(&out, seed);
        assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
        assert_eq!(whole_result(&out), seed);
    }
    assert_eq!(listing(root.path()), clean());
}

#[test]
fn an_overlong_scenario_name_is_refused_before_simulating_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let quickstart = std::fs::read_to_string(QUICKSTART).unwrap();
    let long = "a".repeat(250);
    let scenario = root.path().join("long.ron");
    std::fs::write(
        &scenario,
        quickstart.replacen("name: \"quickstart\"", &format!("name: \"{long}\""), 1),
    )
    .unwrap();
    let started = Instant::now();
    let result = Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(["run", "--quiet"])
        .arg(&scenario)
        .current_dir(root.path())
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: the scenario name is 250 characters long"),
        "{stderr}"
    );
    assert!(stderr.contains("shorten `name`"), "{stderr}");
    assert!(!root.path().join("outputs").exists());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "refused without simulating"
    );

    // A folder given with --out is checked too, before the run.
    let out = root.path().join("b".repeat(230));
    let result = Command::new(env!("CARGO_BIN_EXE_hybridsim"))
        .args(["run", QUICKSTART, "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = text(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is 230 bytes long"), "{stderr}");
    assert!(stderr.contains("--out"), "{stderr}");
    assert_eq!(listing(root.path()), ["long.ron"]);
}
