//! Building the jobs of a scenario: the jobs written one by one and the sources that create
//! more, with their random streams and traces.

use std::collections::BTreeSet;

use crate::kernel::{RngStreams, SimTime};
use crate::scenario::{Names, Resolved};
use crate::workload::job::{Checkpointing, JobArrivals, JobDef, JobSpec, default_tiers, work_ns};

use super::*;

impl Jobs {
    /// Builds the jobs and job sources of a resolved scenario.
    pub fn build(resolved: &Resolved, streams: &RngStreams) -> Self {
        let mut jobs = JobStore::default();
        let mut sources = Vec::new();
        for (index, spec) in resolved.spec().jobs.iter().enumerate() {
            let template = template(spec, resolved.names());
            let kind = match &spec.arrivals {
                None => {
                    jobs.push(JobState::new(template));
                    continue;
                }
                Some(JobArrivals::Poisson {
                    rate,
                    gpus,
                    duration,
                    count,
                }) => SourceKind::Poisson {
                    rate_per_sec: rate.per_sec(),
                    gpus: gpus.clone(),
                    duration: *duration,
                    remaining: *count,
                    rng: streams.stream(&format!("jobs/{}", spec.name)),
                },
                Some(JobArrivals::Trace(_)) => match resolved.job_trace(index) {
                    Some(trace) => SourceKind::Trace {
                        trace: trace.clone(),
                        next: 0,
                    },
                    // Resolving loads every job trace, so this does not happen; without its
                    // trace a source makes no jobs.
                    None => continue,
                },
            };
            sources.push(Source {
                name: spec.name.clone(),
                template,
                explicit_tiers: !spec.tiers.is_empty(),
                kind,
                made: 0,
            });
        }
        Jobs {
            singles: jobs.made(),
            jobs,
            rows: JobRows::default(),
            ended: Vec::new(),
            horizon: SimTime::ZERO.saturating_add(resolved.spec().horizon),
            interruptions: Vec::new(),
            sources,
            waiting: Vec::new(),
            staged: BTreeSet::new(),
            retry_pending: false,
        }
    }
}

fn template(spec: &JobSpec, names: &Names) -> JobDef {
    let accelerators = spec
        .accelerators
        .iter()
        .filter_map(|a| names.accelerators.get(a))
        .collect();
    let checkpoint = spec.checkpoint.as_ref().map(|c| {
        let replica = c.replicate_to.as_deref().and_then(|s| names.sites.get(s));
        Checkpointing::new(c, replica)
    });
    let submit = SimTime::ZERO.saturating_add(spec.submit);
    JobDef {
        name: spec.name.clone(),
        class: spec.class,
        gpus: spec.gpus.unwrap_or(1),
        accelerators,
        work_ns: work_ns(spec.work.unwrap_or(0.0), spec.gpus.unwrap_or(1)),
        submit,
        priority: spec.priority,
        preemptible: spec.preemptible,
        deadline: spec.deadline.map(|d| submit.saturating_add(d)),
        dataset: spec.dataset.as_deref().and_then(|d| names.datasets.get(d)),
        checkpoint,
        tiers: if spec.tiers.is_empty() {
            default_tiers(spec.preemptible)
        } else {
            spec.tiers.clone()
        },
        max_interruptions: spec.max_interruptions,
    }
}
