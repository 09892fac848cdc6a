//! A study on a real Slurm cluster: the bundled colo-vs-cloud study submitted with the shipped
//! scripts (`deploy/slurm/submit`: a job array of 4 sweep tasks and a dependent merge job) must
//! give, byte for byte, the files of the same study swept in one process.
//!
//! It needs a running Slurm controller and node (`deploy/slurm/local-cluster` starts one on this
//! machine, as root; `.ci/run` does). Without one the test shows as ignored, with the reason
//! printed; under `CI=true` a missing cluster is a failure.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

const STUDY: &str = "scenarios/studies/colo-vs-cloud.study.ron";
const TASKS: u32 = 4;

fn main() {
    let arguments = Arguments::from_args();
    let cluster = cluster_up();
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if let Err(why) = &cluster
        && !in_ci
    {
        println!("note: the Slurm test is ignored: {why}; start one with `sudo deploy/slurm/local-cluster`");
    }
    let ignored = cluster.is_err() && !in_ci;
    let trial = Trial::test(
        "a_study_on_a_slurm_job_array_merges_to_the_single_process_sweep",
        move || {
            if let Err(why) = cluster {
                return Err(Failed::from(format!(
                    "{why}; CI=true requires the Slurm test: .ci/run starts deploy/slurm/local-cluster"
                )));
            }
            a_study_on_a_slurm_job_array_merges_to_the_single_process_sweep()
        },
    )
    .with_ignored_flag(ignored);
    libtest_mimic::run(&arguments, vec![trial]).exit();
}

/// Whether a Slurm cluster answers and has a node to run on.
fn cluster_up() -> Result<(), String> {
    let output = Command::new("timeout")
        .args([
            "10",
            "sinfo",
            "--noheader",
            "--states=idle,mixed,allocated",
            "--format=%N",
        ])
        .output()
        .map_err(|e| format!("sinfo cannot be run ({e})"))?;
    if !output.status.success() || output.stdout.iter().all(u8::is_ascii_whitespace) {
        return Err("no Slurm cluster answers with a node up".into());
    }
    Ok(())
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn a_study_on_a_slurm_job_array_merges_to_the_single_process_sweep() -> Result<(), Failed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let binary = env!("CARGO_BIN_EXE_hybridsim");
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let local = work.path().join("local");
    let swept = Command::new(binary)
        .args(["sweep", "--quiet", STUDY, "--out"])
        .arg(&local)
        .current_dir(root)
        .status()
        .map_err(|e| e.to_string())?;
    assert!(swept.success(), "the single-process sweep failed");

    let on_slurm = work.path().join("slurm");
    let submitted = Command::new(root.join("deploy/slurm/submit"))
        .arg(STUDY)
        .arg(&on_slurm)
        .arg(TASKS.to_string())
        .env("HYBRIDSIM", binary)
        .current_dir(root)
        .output()
        .map_err(|e| e.to_string())?;
    let ids = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    assert!(
        submitted.status.success(),
        "submit failed: {}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let jobs: Vec<&str> = ids.split_whitespace().collect();
    assert_eq!(
        jobs.len(),
        2,
        "submit prints the array's and the merge's job ids: {ids}"
    );

    let started = Instant::now();
    loop {
        let queue = Command::new("timeout")
            .args(["10", "squeue", "--noheader", "--jobs", &jobs.join(",")])
            .output()
            .map_err(|e| e.to_string())?;
        if queue.status.success() && queue.stdout.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let _ = Command::new("scancel").args(&jobs).status();
            return Err(Failed::from(format!(
                "jobs {ids} did not finish within 10 minutes"
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs = on_slurm.join("logs");
    let log = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    for task in 0..TASKS {
        assert!(
            on_slurm.join(format!("shards/{task}/shard.json")).exists(),
            "array task {task} wrote no shard:\n{}",
            log(&format!("sweep-{task}.out"))
        );
    }
    let results = on_slurm.join("results");
    assert!(
        results.exists(),
        "the merge job wrote no results:\n{}",
        log("merge.out")
    );
    let (expected, merged) = (files(&local), files(&results));
    assert_eq!(
        merged.iter().map(|f| &f.0).collect::<Vec<_>>(),
        expected.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in expected.iter().zip(&merged) {
        assert!(
            a == b,
            "{name} differs between the Slurm run and the single-process sweep"
        );
    }
    Ok(())
}
