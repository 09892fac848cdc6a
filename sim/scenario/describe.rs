//! The one-screen description of a valid scenario that `hybridsim validate` prints: its estate,
//! links, services, datasets, jobs, incidents, policies and `expect` assertions.

use std::fmt::Write as _;

use super::Scenario;
use super::expect::Expectation;
use super::schema::ScenarioSpec;
use crate::infra::estate::Estate;
use crate::vocab::Tier;
use crate::workload::job::JobArrivals;

/// A one-screen summary of a scenario's estate, as `hybridsim validate` prints it.
pub fn describe(scenario: &Scenario) -> String {
    let estate = Estate::build(scenario.spec.estate());
    let spec = &scenario.spec;
    let mut out = String::new();
    let _ = writeln!(out, "{} — valid ({})", spec.name, scenario.path.display());
    if !spec.description.is_empty() {
        let first_line = spec
            .description
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let _ = writeln!(out, "  {}", first_line.trim());
    }
    let _ = writeln!(
        out,
        "horizon {}, seed {}, metrics window {}",
        spec.horizon, spec.seed, spec.metrics.window
    );
    let _ = writeln!(out, "\nsites ({}):", estate.sites.len());
    for site in &estate.sites {
        let gpus: u64 = estate
            .pools
            .iter()
            .filter(|p| p.site == site.id)
            .map(|p| p.capacity())
            .sum();
        let _ = writeln!(
            out,
            "  {:<24} {:<8} {:<10} {:>7} GPUs  egress {:.3} USD/GB",
            site.name,
            site.kind.as_str(),
            site.jurisdiction,
            gpus,
            site.egress_usd_per_gb
        );
    }
    let _ = writeln!(out, "\npools ({}):", estate.pools.len());
    for pool in &estate.pools {
        let tiers: Vec<String> = pool
            .tiers()
            .map(|(tier, s)| {
                format!(
                    "{} {} @ {:.2} USD/h",
                    tier.as_str(),
                    s.capacity,
                    s.price_per_gpu_hour
                )
            })
            .collect();
        let accelerator = &estate.accelerators[pool.accelerator.index()].name;
        let _ = writeln!(out, "  {:<24} {:<8} {}", pool.name, accelerator, tiers.join(", "));
    }
    let per_tier = estate.gpus_per_tier();
    let totals: Vec<String> = Tier::ALL
        .iter()
        .map(|t| format!("{} {}", t.as_str(), per_tier[*t as usize]))
        .collect();
    let _ = writeln!(out, "  GPUs per tier: {}", totals.join(", "));
    let _ = writeln!(out, "\nlinks ({}):", spec.links.len());
    for (link, name) in spec.links.iter().zip(&estate.link_names) {
        let _ = writeln!(
            out,
            "  {:<32} {:>10} {:>8} one-way, loss {}",
            name, link.bandwidth, link.latency, link.loss
        );
    }
    let _ = writeln!(out, "\nservices ({}):", spec.services.len());
    for service in &spec.services {
        let replicas: Vec<String> = service
            .replicas
            .iter()
            .map(|r| format!("{}×{} {}", r.count, r.pool, r.tier.as_str()))
            .collect();
        let origins: Vec<&str> = service.demand.iter().map(|d| d.origin.as_str()).collect();
        let slo = service.slo.as_ref().map_or("no SLO".to_string(), |s| {
            format!("p{} ≤ {}", s.percentile, s.latency)
        });
        let _ = writeln!(
            out,
            "  {:<24} replicas {}; demand from {}; {slo}",
            service.name,
            if replicas.is_empty() {
                "none".to_string()
            } else {
                replicas.join(", ")
            },
            if origins.is_empty() {
                "nowhere".to_string()
            } else {
                origins.join(", ")
            },
        );
    }
    let _ = writeln!(out, "\ndatasets ({}):", estate.datasets.len());
    for data in &estate.datasets {
        let residency = if data.residency.is_empty() {
            "anywhere".to_string()
        } else {
            data.residency.join(", ")
        };
        let home = &estate.sites[data.home.index()].name;
        let size = &spec.datasets[data.id.index()].size;
        let _ = writeln!(
            out,
            "  {:<24} {:>10} at {home}, may live in: {residency}",
            data.name, size
        );
    }
    describe_jobs(spec, &mut out);
    describe_incidents(spec, &mut out);
    let names = spec.policy_names();
    let _ = writeln!(
        out,
        "\npolicies: {}{}",
        names.join(", "),
        if spec.policy.is_none() {
            " (the default)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "\nexpect ({}):", spec.expect.len());
    for expectation in &spec.expect {
        let _ = writeln!(out, "  {}", as_written(expectation));
    }
    out
}

fn describe_jobs(spec: &ScenarioSpec, out: &mut String) {
    let _ = writeln!(out, "\njobs ({}):", spec.jobs.len());
    for job in &spec.jobs {
        let arrives = match &job.arrivals {
            None => format!("submitted at {}", job.submit),
            Some(JobArrivals::Poisson { rate, count, .. }) => match count {
                Some(count) => format!("{count} arriving at {rate}"),
                None => format!("arriving at {rate}"),
            },
            Some(JobArrivals::Trace(trace)) => format!("from trace {}", trace.path),
        };
        let gpus = job.gpus.map_or(String::new(), |g| format!(", {g} GPUs"));
        let _ = writeln!(
            out,
            "  {:<24} {:<12} {arrives}{gpus}",
            job.name,
            job.class.as_str()
        );
    }
}

fn describe_incidents(spec: &ScenarioSpec, out: &mut String) {
    let _ = writeln!(out, "\nincidents ({}):", spec.incidents.len());
    for incident in &spec.incidents {
        let lasting = incident
            .duration
            .map_or("until the end".to_string(), |d| format!("for {d}"));
        let _ = writeln!(
            out,
            "  {:<24} {:<18} at {} {lasting}",
            incident.name,
            incident.kind.as_str(),
            incident.start
        );
    }
}

/// An assertion as a scenario writes it, e.g. `latency(service: "chat", percentile: 99.0,
/// below: "800ms")`.
fn as_written(expectation: &Expectation) -> String {
    let config = ron::ser::PrettyConfig::default()
        .extensions(ron::extensions::Extensions::IMPLICIT_SOME)
        .compact_structs(true)
        .separator(" ");
    match ron::ser::to_string_pretty(expectation, config) {
        // The text starts with the `#![enable(implicit_some)]` line the extension needs.
        Ok(text) => text
            .lines()
            .filter(|l| !l.starts_with("#!"))
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => expectation.describe(),
    }
}
