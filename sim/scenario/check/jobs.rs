//! Checks of the jobs and job sources: sizes, arrival processes, tiers, checkpoints and
//! where their checkpoints may be replicated.

use super::{MAX_GPUS_PER_TIER, MAX_ITEMS, Names, bounded_count, unique, within_residency};
use crate::scenario::diagnostic::Diagnostics;
use crate::scenario::schema::ScenarioSpec;
use crate::vocab::WorkloadClass;

/// Most jobs a Poisson source may be expected to create over the horizon.
pub(super) const MAX_EXPECTED_JOBS: f64 = 1_000_000.0;
/// Most reference GPU-hours of work one job may have (a 100,000-GPU job running ten years).
pub(super) const MAX_JOB_WORK_GPU_HOURS: f64 = 1e10;

/// Checks the jobs and job sources.
pub(super) fn check_jobs(spec: &ScenarioSpec, diags: &mut Diagnostics) {
    use crate::workload::job::JobArrivals;
    unique(diags, "jobs", "job", spec.jobs.iter().map(|j| j.name.as_str()));
    bounded_count(diags, "jobs", spec.jobs.len(), MAX_ITEMS);
    let accelerators = Names::collect(
        "accelerator",
        "accelerators",
        spec.accelerators.iter().map(|a| a.name.as_str()),
    );
    let sites = Names::collect("site", "sites", spec.sites.iter().map(|s| s.name.as_str()));
    let datasets = Names::collect(
        "dataset",
        "datasets",
        spec.datasets.iter().map(|d| d.name.as_str()),
    );
    for (i, job) in spec.jobs.iter().enumerate() {
        let at = |field: &str| format!("jobs[{i}].{field}");
        if job.class == WorkloadClass::Inference {
            diags.at_path(
                &at("class"),
                "a job cannot be of class inference",
                Some("online inference is a service (under `services`); jobs are training, fine_tuning, batch_inference, embedding or evaluation".into()),
            );
        }
        match &job.arrivals {
            None => check_single_job(diags, i, job.gpus, job.work),
            Some(arrivals) => {
                for (field, given) in [("gpus", job.gpus.is_some()), ("work", job.work.is_some())] {
                    if given {
                        diags.at_path(
                            &at(field),
                            format!("`{field}` is set but the jobs come from `arrivals`"),
                            Some("a source gives each job's size itself; remove the field".into()),
                        );
                    }
                }
                if let JobArrivals::Poisson {
                    rate,
                    gpus,
                    duration,
                    count,
                } = arrivals
                {
                    check_poisson_jobs(spec, diags, i, rate.per_sec(), gpus, duration, *count);
                }
            }
        }
        for (a, name) in job.accelerators.iter().enumerate() {
            accelerators.resolve(diags, &at(&format!("accelerators[{a}]")), name);
        }
        if let Some(dataset) = &job.dataset {
            datasets.resolve(diags, &at("dataset"), dataset);
        }
        check_job_tiers(diags, i, job);
        if let Some(checkpoint) = &job.checkpoint {
            check_checkpoint(diags, &sites, i, checkpoint);
            check_replica_residency(spec, diags, i, job);
        }
    }
}

/// A checkpoint holds a model trained on the job's dataset: its replica site must be one the
/// dataset may be in.
fn check_replica_residency(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    i: usize,
    job: &crate::workload::job::JobSpec,
) {
    let (Some(dataset), Some(replica)) = (
        job.dataset
            .as_ref()
            .and_then(|d| spec.datasets.iter().find(|x| &x.name == d)),
        job.checkpoint.as_ref().and_then(|c| c.replicate_to.as_ref()),
    ) else {
        return;
    };
    let Some(site) = spec.sites.iter().find(|s| &s.name == replica) else {
        return;
    };
    if !within_residency(&site.jurisdiction, &dataset.residency) {
        diags.at_path(
            &format!("jobs[{i}].checkpoint.replicate_to"),
            format!(
                "checkpoints of a model trained on dataset \"{}\" may only be in {}; {} is in {}",
                dataset.name,
                dataset.residency.join(", "),
                site.name,
                site.jurisdiction
            ),
            Some("replicate to a site within the dataset's residency".into()),
        );
    }
}

fn check_single_job(diags: &mut Diagnostics, i: usize, gpus: Option<u32>, work: Option<f64>) {
    let at = |field: &str| format!("jobs[{i}].{field}");
    match gpus {
        None => diags.at_path(
            &format!("jobs[{i}]"),
            "a job needs `gpus` (or `arrivals` for a source of jobs)",
            Some("e.g. gpus: 8".into()),
        ),
        Some(0) => diags.at_path(&at("gpus"), "a job needs at least one GPU", None),
        Some(g) if u64::from(g) > MAX_GPUS_PER_TIER => diags.at_path(
            &at("gpus"),
            format!("{g} GPUs is more than any tier may hold ({MAX_GPUS_PER_TIER})"),
            None,
        ),
        Some(_) => {}
    }
    match work {
        None => diags.at_path(
            &format!("jobs[{i}]"),
            "a job needs `work` in reference GPU-hours",
            Some("e.g. work: 1000 for 1000 GPU-hours on the reference accelerator".into()),
        ),
        Some(w) if !(w.is_finite() && w > 0.0 && w <= MAX_JOB_WORK_GPU_HOURS) => diags.at_path(
            &at("work"),
            format!("work {w} is not between 0 and {MAX_JOB_WORK_GPU_HOURS:e} GPU-hours"),
            Some("work is reference GPU-hours: runtime on the reference accelerator × GPUs".into()),
        ),
        Some(_) => {}
    }
}

fn check_poisson_jobs(
    spec: &ScenarioSpec,
    diags: &mut Diagnostics,
    i: usize,
    rate_per_sec: f64,
    gpus: &[(u32, f64)],
    duration: &crate::workload::job::DurationDist,
    count: Option<u64>,
) {
    let at = |field: &str| format!("jobs[{i}].arrivals.{field}");
    if rate_per_sec.is_nan() || rate_per_sec <= 0.0 {
        diags.at_path(&at("rate"), "the arrival rate must be positive", None);
    }
    let weights_ok = gpus.iter().all(|(_, w)| w.is_finite() && *w >= 0.0);
    if gpus.is_empty() || !weights_ok || gpus.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
        diags.at_path(
            &at("gpus"),
            "GPU counts need non-negative weights that sum to more than zero",
            Some("e.g. gpus: [(8, 0.7), (16, 0.3)]".into()),
        );
    }
    if let Some((g, _)) = gpus
        .iter()
        .find(|(g, _)| *g == 0 || u64::from(*g) > MAX_GPUS_PER_TIER)
    {
        diags.at_path(&at("gpus"), format!("a job of {g} GPUs cannot run"), None);
    }
    if let Some(problem) = duration.problem() {
        diags.at_path(&at("duration"), problem, None);
    }
    let expected = rate_per_sec * spec.horizon.as_secs_f64();
    let bounded = count.is_some_and(|c| c as f64 <= MAX_EXPECTED_JOBS);
    if !bounded && expected > MAX_EXPECTED_JOBS {
        diags.at_path(
            &at("rate"),
            format!("about {expected:.0} jobs over the horizon, more than this tool accepts ({MAX_EXPECTED_JOBS:.0})"),
            Some("lower the rate, shorten the horizon or set `count`".into()),
        );
    }
}

fn check_job_tiers(diags: &mut Diagnostics, i: usize, job: &crate::workload::job::JobSpec) {
    use crate::vocab::Tier;
    for (t, tier) in job.tiers.iter().enumerate() {
        if job.tiers[..t].contains(tier) {
            diags.at_path(
                &format!("jobs[{i}].tiers[{t}]"),
                format!("tier {} is listed twice", tier.as_str()),
                None,
            );
        }
        if *tier == Tier::Spot && !job.preemptible && job.arrivals.is_none() {
            diags.at_path(
                &format!("jobs[{i}].tiers[{t}]"),
                "a job that is not preemptible cannot run on spot capacity",
                Some("set `preemptible: true` or remove spot".into()),
            );
        }
    }
}

fn check_checkpoint(
    diags: &mut Diagnostics,
    sites: &Names<'_>,
    i: usize,
    checkpoint: &crate::workload::job::CheckpointSpec,
) {
    let at = |field: &str| format!("jobs[{i}].checkpoint.{field}");
    if checkpoint.interval.is_zero() {
        diags.at_path(
            &at("interval"),
            "a checkpoint interval must be positive",
            Some("e.g. \"1h\"".into()),
        );
    }
    let by_size = checkpoint.size.is_some() && checkpoint.write_bandwidth.is_some();
    if checkpoint.write.is_some() == by_size
        || (checkpoint.write_bandwidth.is_some() && checkpoint.size.is_none())
    {
        diags.at_path(
            &format!("jobs[{i}].checkpoint"),
            "say how long a checkpoint write takes: either `write` or `size` with `write_bandwidth`",
            Some("e.g. write: \"2m\", or size: \"2TB\", write_bandwidth: \"100Gbps\"".into()),
        );
    }
    if let Some(site) = &checkpoint.replicate_to {
        sites.resolve(diags, &at("replicate_to"), site);
        if checkpoint.size.is_none() {
            diags.at_path(
                &at("replicate_to"),
                "replicating a checkpoint needs its `size`",
                Some("add e.g. size: \"2TB\"".into()),
            );
        }
    }
}
