//! Building the jobs of a scenario: the jobs written one by one and the sources that create
//! more, with their random streams and traces.

use std::collections::BTreeSet;

use crate::infra::estate::Estate;
use crate::kernel::{RngStreams, SimTime};
use crate::scenario::Scenario;
use crate::vocab::ids::{DatasetId, SiteId};
use crate::workload::job::{Checkpointing, JobArrivals, JobDef, JobSpec, default_tiers, work_ns};
use crate::workload::trace::JobTrace;

use super::*;

impl Jobs {
    /// Builds the jobs and job sources of a checked scenario.
    pub fn build(scenario: &Scenario, estate: &Estate, streams: &RngStreams) -> Result<Self, JobsError> {
        let mut jobs = Vec::new();
        let mut sources = Vec::new();
        for spec in &scenario.spec.jobs {
            let template = template(spec, estate);
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
                Some(JobArrivals::Trace(trace)) => {
                    let trace = JobTrace::load(&scenario.resolve_path(&trace.path), trace)?;
                    if trace.jobs().len() > MAX_JOBS {
                        return Err(JobsError::TooMany {
                            source_name: spec.name.clone(),
                        });
                    }
                    SourceKind::Trace { trace, next: 0 }
                }
            };
            sources.push(Source {
                name: spec.name.clone(),
                template,
                explicit_tiers: !spec.tiers.is_empty(),
                kind,
                made: 0,
            });
        }
        Ok(Jobs {
            singles: jobs.len(),
            jobs,
            interruptions: Vec::new(),
            sources,
            waiting: Vec::new(),
            staged: BTreeSet::new(),
            retry_pending: false,
        })
    }
}

fn template(spec: &JobSpec, estate: &Estate) -> JobDef {
    let accelerators = spec
        .accelerators
        .iter()
        .filter_map(|a| find(estate.accelerators.iter().map(|x| x.name.clone()), a))
        .map(crate::vocab::ids::AcceleratorId)
        .collect();
    let checkpoint = spec.checkpoint.as_ref().map(|c| {
        let replica = c
            .replicate_to
            .as_deref()
            .and_then(|s| find(estate.sites.iter().map(|x| x.name.clone()), s))
            .map(SiteId);
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
        dataset: spec
            .dataset
            .as_deref()
            .and_then(|d| find(estate.datasets.iter().map(|x| x.name.clone()), d))
            .map(DatasetId),
        checkpoint,
        tiers: if spec.tiers.is_empty() {
            default_tiers(spec.preemptible)
        } else {
            spec.tiers.clone()
        },
        max_interruptions: spec.max_interruptions,
    }
}
