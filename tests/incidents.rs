//! Incidents on small hand-computed cases: each kind applied and reverted (what stops, what
//! moves, what bills), recovery times with known answers, and failure processes against their
//! configured rates.

use approx::assert_relative_eq;
use hybridsim::infra::ledger::CostCategory;
use hybridsim::kernel::{SimDuration as SimDurationExt, SimTime};
use hybridsim::metrics::job::JobOutcome;
use hybridsim::scenario::load_str;
use hybridsim::world::{RunOutcome, World, simulate, simulate_with_model};

fn run(text: &str) -> RunOutcome {
    let scenario = load_str(text, "incidents.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

/// [`run`], with the model as it ended.
fn run_with_model(text: &str) -> (RunOutcome, World) {
    let scenario = load_str(text, "incidents.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    simulate_with_model(&scenario.resolve().unwrap(), scenario.spec.seed).unwrap()
}

fn secs(t: Option<hybridsim::kernel::SimTime>) -> f64 {
    t.map_or(f64::NAN, |t| t.as_secs_f64())
}

/// Two sites; `body` adds pools, jobs and incidents.
fn estate(horizon: &str, body: &str) -> String {
    format!(
        r#"#![enable(implicit_some)]
(
    name: "incidents", horizon: "{horizon}", seed: 3, metrics: (window: "5m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "fra", kind: cloud, jurisdiction: "eu/de", egress_price: "0.01 USD/GB"),
            (name: "ams", kind: cloud, jurisdiction: "eu/nl")],
    links: [(a: "fra", b: "ams", bandwidth: "10Gbps", latency: "10ms")],
    {body}
)"#
    )
}

#[test]
fn a_site_outage_interrupts_its_jobs_which_wait_for_it_and_recovery_is_exact() {
    // 8 GPUs at fra only. The job (4 h on 8 GPUs, checkpoint every hour, 1 min writes, 5 min
    // restores) is cut at 1h30m, 29 min after its first checkpoint became durable at 61 min.
    // fra is down 2 h; the job comes back at 3h30m, restores to 3h35m and computes again: time
    // to recover 2h05m. No GPU-hour is billed while the site is down.
    let outcome = run(&estate(
        "12h",
        r#"pools: [(site: "fra", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h"))],
    jobs: [(name: "train", class: training, gpus: 8, work: 32,
            checkpoint: (interval: "1h", write: "1m", restore: "5m"))],
    incidents: [(name: "fra down", start: "90m", duration: "2h", kind: site_outage(site: "fra"))],"#,
    ));
    let job = &outcome.record.jobs.rows().unwrap()[0];
    assert_eq!(job.outcome, JobOutcome::Completed);
    assert_eq!(job.record.interruptions.iter().sum::<u32>(), 1);
    assert_eq!(job.record.lost_gpu_ns, 8 * 29 * 60 * 1_000_000_000);
    // Remaining 3 h of work (one hour was durable) + 4 writes... 3 writes after the restart.
    assert_eq!(secs(job.record.ended), (3.5 * 3600.0) + 300.0 + 3.0 * 3660.0);
    let incident = &outcome.summary.incidents[0];
    assert_eq!(incident.kind, "site_outage");
    assert_eq!(incident.jobs_interrupted, 1);
    assert_eq!(incident.jobs_failed_over, 0);
    assert_eq!(incident.time_to_recover_s, Some(2.0 * 3600.0 + 300.0));
    assert_relative_eq!(incident.gpu_hours_lost, 8.0 * 29.0 / 60.0, max_relative = 1e-12);
    let billed_while_down: f64 = outcome
        .record
        .ledger
        .read_all()
        .unwrap()
        .iter()
        .filter(|e| e.category == CostCategory::Compute)
        .map(|e| {
            let (from, to) = (
                e.start.as_secs_f64().max(5400.0),
                e.end.as_secs_f64().min(12_600.0),
            );
            (to - from).max(0.0)
        })
        .sum();
    assert_eq!(billed_while_down, 0.0);
}

#[test]
fn with_a_replicated_checkpoint_the_job_fails_over_to_the_other_site() {
    // Same job; each checkpoint (100 GB) is copied to ams over 10 Gbps (80 s). At 1h30m fra goes
    // down for good; the copy of the 1 h checkpoint is at ams, so the job restarts there at
    // once: it fetches nothing (the copy is local to ams), restores 5 min and computes again.
    let outcome = run(&estate(
        "12h",
        r#"pools: [(site: "fra", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h")),
            (site: "ams", accelerator: "H100", on_demand: (limit: 8, price: "2 USD/h"))],
    jobs: [(name: "train", class: training, gpus: 8, work: 32,
            checkpoint: (interval: "1h", write: "1m", restore: "5m", size: "100GB", replicate_to: "ams"))],
    incidents: [(name: "fra lost", start: "90m", kind: site_outage(site: "fra"))],"#,
    ));
    let job = &outcome.record.jobs.rows().unwrap()[0];
    assert_eq!(job.outcome, JobOutcome::Completed);
    let (pool, _) = job.placed.unwrap();
    assert_eq!(outcome.record.estate.pool(pool), "ams/H100");
    let incident = &outcome.summary.incidents[0];
    assert_eq!((incident.jobs_interrupted, incident.jobs_failed_over), (1, 1));
    assert_eq!(incident.time_to_recover_s, Some(300.0));
    assert_eq!(incident.end_s, None);
    assert!(incident.backlog_drain_s.is_none() && incident.notes.contains_key("backlog_drain_s"));
    assert_eq!(secs(job.record.ended), 5400.0 + 300.0 + 3.0 * 3660.0);
}

#[test]
fn a_capacity_shock_preempts_the_lowest_priority_holder_and_gives_the_capacity_back() {
    // 16 on-demand GPUs; two 8-GPU jobs of 2 h. At 30 min the tier drops to half for 1 h: the
    // priority-0 job is interrupted (no checkpoints: all 30 min lost) and waits; at 1h30m the
    // capacity is back and it starts over, ending at 3h30m.
    let (outcome, world) = run_with_model(&estate(
        "6h",
        r#"pools: [(site: "fra", accelerator: "H100", on_demand: (limit: 16, price: "1 USD/h"))],
    jobs: [(name: "low", class: fine_tuning, gpus: 8, work: 16, priority: 0),
           (name: "high", class: fine_tuning, gpus: 8, work: 16, priority: 5)],
    incidents: [(name: "shortage", start: "30m", duration: "1h",
                 kind: capacity_shock(pool: "fra/H100", tier: on_demand, to: fraction(0.5)))],"#,
    ));
    let jobs = &outcome.record.jobs.rows().unwrap();
    assert_eq!(
        secs(jobs[1].record.ended),
        2.0 * 3600.0,
        "the high-priority job runs through"
    );
    assert_eq!(jobs[0].record.interruptions.iter().sum::<u32>(), 1);
    assert_eq!(secs(jobs[0].record.ended), 3.5 * 3600.0);
    let incident = &outcome.summary.incidents[0];
    assert_eq!(incident.time_to_recover_s, Some(3600.0));
    assert_eq!(
        incident.backlog_drain_s,
        Some(0.0),
        "the job was placed the instant the shock ended"
    );
    assert_relative_eq!(incident.gpu_hours_lost, 4.0, max_relative = 1e-12);
    let pool = &world.estate.pools[0];
    assert_eq!(pool.tier(hybridsim::vocab::Tier::OnDemand).unwrap().capacity, 16);
}

#[test]
fn a_price_shock_bills_its_period_at_the_shocked_price_and_then_reverts() {
    // One 8-GPU spot job of 6 h at 1 USD/h per GPU; ×4 from 2 h to 4 h: 8 × (4 × 1 + 2 × 4) = 96.
    let (outcome, world) = run_with_model(&estate(
        "8h",
        r#"pools: [(site: "fra", accelerator: "H100", spot: (limit: 8, price: "1 USD/h"))],
    jobs: [(name: "batch", class: batch_inference, gpus: 8, work: 48, preemptible: true, tiers: [spot])],
    incidents: [(name: "spike", start: "2h", duration: "2h", kind: price_shock(tier: spot, factor: 4.0, site_kind: cloud))],"#,
    ));
    assert_relative_eq!(outcome.summary.cost.total_usd, 96.0, max_relative = 1e-12);
    let pool = &world.estate.pools[0];
    assert_eq!(
        pool.tier(hybridsim::vocab::Tier::Spot)
            .unwrap()
            .price_per_gpu_hour,
        1.0
    );
    let incident = &outcome.summary.incidents[0];
    assert_relative_eq!(incident.cost_during_usd, 64.0, max_relative = 1e-12);
    assert!(incident.time_to_detect_s.is_none() && incident.affected_services.is_empty());
}

/// A 100 GB dataset at fra staged to an 8-GPU job at ams over the 10 Gbps link (80 s).
fn staging(incident: &str) -> RunOutcome {
    run(&estate(
        "2h",
        &format!(
            r#"pools: [(site: "ams", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h"))],
    datasets: [(name: "corpus", size: "100GB", home: "fra")],
    jobs: [(name: "ft", class: fine_tuning, gpus: 8, work: 8, dataset: "corpus")],
    incidents: [{incident}],"#
        ),
    ))
}

#[test]
fn link_degradation_and_link_down_slow_and_stall_a_transfer_exactly() {
    let start = |outcome: &RunOutcome| {
        outcome.record.jobs.rows().unwrap()[0]
            .record
            .ended
            .unwrap()
            .as_secs_f64()
            - 3600.0
    };
    // Bandwidth ×0.5 from 40 s to 100 s: 50 GB by 40 s, 37.5 GB by 100 s, the last 12.5 GB at
    // full speed in 10 s: running from 110 s.
    let slowed = staging(
        r#"(name: "congestion", start: "40s", duration: "60s", kind: link_degradation(link: "fra--ams", bandwidth_factor: 0.5))"#,
    );
    assert_relative_eq!(start(&slowed), 110.0, max_relative = 1e-9);
    // Every link of ams down from 40 s for 60 s: the flow stalls and resumes; running from 140 s.
    let cut = staging(r#"(name: "backhaul", start: "40s", duration: "60s", kind: link_down(site: "ams"))"#);
    assert_relative_eq!(start(&cut), 140.0, max_relative = 1e-9);
    let undisturbed =
        staging(r#"(name: "late", start: "90m", duration: "1m", kind: link_down(link: "fra--ams"))"#);
    assert_relative_eq!(start(&undisturbed), 80.0, max_relative = 1e-9);
}

#[test]
fn gpu_failures_over_a_long_run_match_the_configured_rate() {
    // 1,000 owned GPUs that nobody uses, each failing after a lifetime of mean 1,000 h and
    // coefficient of variation `cv` (exponential: 1; Weibull shape 2: 0.5227; shape 0.7:
    // 1.4624), then in repair for 10 h. Each GPU is a renewal process started new, with
    // inter-renewal mean μ = 1,010 h and variance σ² = (cv · 1,000 h)², so over T its expected
    // count is T/μ + (σ² − μ²)/(2μ²) and its variance T·σ²/μ³ (renewal theory); GPUs are
    // independent.
    const N: f64 = 1_000.0;
    const T: f64 = 20_000.0;
    for (shape, cv) in [(1.0_f64, 1.0_f64), (2.0, 0.5227), (0.7, 1.4624)] {
        let text = format!(
            r#"#![enable(implicit_some)]
(
    name: "failures", horizon: "20000h", seed: 21, metrics: (window: "1d"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "dc", kind: on_prem, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100",
             owned: (count: 1000, capex_per_gpu: "30000 USD", lifetime: "4y", power_per_gpu: "1kW", energy_price: "0.1 USD/kWh"),
             failures: (gpu_mtbf: "1000h", repair: "10h", shape: {shape}))],
)"#
        );
        let (_, world) = run_with_model(&text);
        let counts = world.incidents.counts[0];
        let observed = counts.idle as f64;
        let (mu, variance) = (1_010.0_f64, (cv * 1_000.0_f64).powi(2));
        let mean = N * (T / mu + (variance - mu * mu) / (2.0 * mu * mu));
        let spread = (N * T * variance / mu.powi(3)).sqrt();
        assert!(
            (observed - mean).abs() < 4.0 * spread,
            "shape {shape}: {observed} failures, expected {mean:.0} ± {spread:.0}"
        );
        assert_eq!(counts.on_jobs + counts.on_replicas, 0);
    }
}

const SPOT_TRACE: &str = "tests/fixtures/cant_be_late_1k80_us-east-1c.json";

#[test]
fn spot_capacity_follows_an_availability_trace_exactly() {
    // The real Can't Be Late trace (one instance, 600 s steps, 1 = preempted) scaled to 8-GPU
    // instances; the tier's capacity must equal the trace at every instant of the replay.
    let text = format!(
        r#"#![enable(implicit_some)]
(
    name: "spot-trace", horizon: "60h", seed: 1, metrics: (window: "1h"),
    accelerators: [(name: "K80", memory: "12GB")],
    sites: [(name: "us-east-1c", kind: cloud, jurisdiction: "us")],
    pools: [(site: "us-east-1c", accelerator: "K80",
             spot: (limit: 8, price: "0.27 USD/h", notice: "2m",
                    preemption: availability(path: "{SPOT_TRACE}", gpus_per_instance: 8)))],
    jobs: [(name: "sweep", class: batch_inference, gpus: 8, work: 400, preemptible: true, tiers: [spot],
            checkpoint: (interval: "30m", write: "1m", restore: "2m"))],
)"#
    );
    let scenario = load_str(&text, "spot.ron".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let spec = hybridsim::incident::spot::AvailabilityTraceSpec {
        gpus_per_instance: 8,
        ..hybridsim::incident::spot::AvailabilityTraceSpec::new(SPOT_TRACE)
    };
    let trace = hybridsim::incident::spot::AvailabilityTrace::load(SPOT_TRACE.as_ref(), &spec).unwrap();
    let resolved = scenario.resolve().unwrap();
    let (mut sim, horizon) = hybridsim::world::prepare(&resolved, 1).unwrap();
    // Probe at every change of the trace and halfway through every step: running until an
    // instant delivers every event at it.
    let step = trace.gap().as_nanos();
    let mut probes: Vec<u64> = (0..trace.steps() as u64).map(|k| k * step + step / 2).collect();
    let mut after = SimDurationExt::ZERO;
    while let Some((at, _)) = trace.next_change(after) {
        probes.push(at.as_nanos());
        after = at;
    }
    probes.sort_unstable();
    let mut stop = hybridsim::kernel::StopReason::Horizon;
    for &t in probes.iter().filter(|&&t| t <= horizon.as_nanos()) {
        stop = sim
            .run(hybridsim::kernel::RunLimits::until(SimTime::from_nanos(t)))
            .unwrap();
        let capacity = sim.model().estate.pools[0]
            .tier(hybridsim::vocab::Tier::Spot)
            .unwrap()
            .capacity;
        assert_eq!(
            capacity,
            trace.gpus_at(SimDurationExt::from_nanos(t)),
            "at {t} ns"
        );
    }
    assert!(probes.len() > 300);
    stop = if stop == hybridsim::kernel::StopReason::Drained {
        stop
    } else {
        sim.run(hybridsim::kernel::RunLimits::until(horizon)).unwrap()
    };
    let outcome = hybridsim::world::conclude(&resolved, 1, sim, stop).unwrap();
    let batch = &outcome.summary.jobs["batch_inference"];
    assert!(batch.interruptions["spot_preemption"] > 0, "{batch:?}");
}

#[test]
fn spot_reclaims_come_at_the_configured_rate() {
    // An 8-GPU gang held on spot around the clock (restarting at once after each reclaim: 0 s
    // notice, and the GPU offered again at once); each GPU is reclaimed at 1 per 100 h, so the
    // gang at 8 per 100 h: over 5,000 h 400 reclaims, Poisson, standard deviation 20.
    let outcome = run(&estate(
        "5000h",
        r#"pools: [(site: "fra", accelerator: "H100",
             spot: (limit: 8, price: "1 USD/h", notice: "0s", preemption: rate("0.01/h"), reclaimed_for: "0s"))],
    jobs: [(name: "forever", class: training, gpus: 8, work: 1000000, preemptible: true, tiers: [spot])],"#,
    ));
    let reclaims = f64::from(
        outcome.record.jobs.rows().unwrap()[0]
            .record
            .interruptions
            .iter()
            .sum::<u32>(),
    );
    assert!((reclaims - 400.0).abs() < 4.0 * 20.0, "{reclaims} reclaims");
}

#[test]
fn a_reclaimed_spot_gpu_is_out_of_the_tier_until_it_returns() {
    // As above, but a reclaimed GPU comes back only after 1 h: the gang (8 of the tier's 8
    // GPUs) cannot restart until then. Each cycle is an exponential run of mean 12.5 h and one
    // hour waiting, so over 5,000 h the reclaims are a renewal count of mean 5,000 / 13.5 =
    // 370.4 and variance t·σ²/μ³ = 5,000 × 12.5² / 13.5³ = 317.5 (sd 17.8). The GPUs are
    // held for exactly the time not spent waiting: 5,000 h less an hour per reclaim (the last
    // wait may be cut by the horizon).
    let outcome = run(&estate(
        "5000h",
        r#"pools: [(site: "fra", accelerator: "H100",
             spot: (limit: 8, price: "1 USD/h", notice: "0s", preemption: rate("0.01/h"), reclaimed_for: "1h"))],
    jobs: [(name: "forever", class: training, gpus: 8, work: 1000000, preemptible: true, tiers: [spot])],"#,
    ));
    let record = &outcome.record.jobs.rows().unwrap()[0].record;
    let reclaims = record.interruptions.iter().sum::<u32>();
    let expected = 5000.0 / 13.5;
    let sd = (5000.0 * 12.5f64.powi(2) / 13.5f64.powi(3)).sqrt();
    assert!(
        (f64::from(reclaims) - expected).abs() < 4.0 * sd,
        "{reclaims} reclaims"
    );
    let hour_ns = 3600 * 1_000_000_000u128;
    let held_hours_if_every_wait_ends = 8 * (5000 - u128::from(reclaims)) * hour_ns;
    assert!(
        (held_hours_if_every_wait_ends..held_hours_if_every_wait_ends + 8 * hour_ns)
            .contains(&record.held_gpu_ns),
        "{} GPU-ns held, {reclaims} reclaims",
        record.held_gpu_ns
    );
}

#[test]
fn reclaimed_for_is_refused_without_a_reclaim_rate() {
    let text = estate(
        "1h",
        r#"pools: [(site: "fra", accelerator: "H100", spot: (limit: 8, price: "1 USD/h", reclaimed_for: "1h"))],"#,
    );
    let error = load_str(&text, "incidents.ron".as_ref()).unwrap_err().to_string();
    assert!(
        error.contains("reclaimed_for applies to reclaims at a rate"),
        "{error}"
    );
    assert!(error.contains("incidents.ron:"), "{error}");
}

#[test]
fn checkpoint_replication_goes_on_after_a_failover_so_a_second_loss_finds_a_copy() {
    // fra, ams and par, 10 Gbps apart. The job runs at fra and copies each checkpoint to ams.
    // fra is lost at 1h30m: the job restores the 1 h copy at ams (5 min) and computes from
    // 1h35m. Its own site is now the copy site, so its checkpoints go to the nearest other site
    // where it could run: par (fra is down). The 3 h checkpoint is durable at 3h37m and at par
    // 80 s later. ams is lost at 4 h: the job restores the 3 h copy at par (5 min) and does its
    // last hour of work and its write by 4h05m + 61m = 18,360 s.
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "replication", horizon: "12h", seed: 3, metrics: (window: "5m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "fra", kind: cloud, jurisdiction: "eu/de"), (name: "ams", kind: cloud, jurisdiction: "eu/nl"),
            (name: "par", kind: cloud, jurisdiction: "eu/fr")],
    links: [(a: "fra", b: "ams", bandwidth: "10Gbps", latency: "10ms"),
            (a: "ams", b: "par", bandwidth: "10Gbps", latency: "10ms"),
            (a: "fra", b: "par", bandwidth: "10Gbps", latency: "15ms")],
    pools: [(site: "fra", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h")),
            (site: "ams", accelerator: "H100", on_demand: (limit: 8, price: "2 USD/h")),
            (site: "par", accelerator: "H100", on_demand: (limit: 8, price: "3 USD/h"))],
    jobs: [(name: "train", class: training, gpus: 8, work: 32,
            checkpoint: (interval: "1h", write: "1m", restore: "5m", size: "100GB", replicate_to: "ams"))],
    incidents: [(name: "fra lost", start: "90m", kind: site_outage(site: "fra")),
                (name: "ams lost", start: "4h", kind: site_outage(site: "ams"))],
)"#);
    let job = &outcome.record.jobs.rows().unwrap()[0];
    assert_eq!(job.outcome, JobOutcome::Completed);
    let (pool, _) = job.placed.unwrap();
    assert_eq!(outcome.record.estate.pool(pool), "par/H100");
    let second = &outcome.summary.incidents[1];
    assert_eq!((second.jobs_interrupted, second.jobs_failed_over), (1, 1));
    assert_eq!(second.time_to_recover_s, Some(300.0));
    assert_eq!(secs(job.record.ended), 4.0 * 3600.0 + 300.0 + 3660.0);
}

#[test]
fn a_spot_price_trace_sets_what_holders_pay() {
    // Prices 1 → 3 at 1 h → 0.5 at 2 h; an 8-GPU job holds spot GPUs for 3 h:
    // 8 × (1 + 3 + 0.5) = 36 USD.
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.csv");
    std::fs::write(&prices, "time_s,price_usd_per_hour\n0,1\n3600,3\n7200,0.5\n").unwrap();
    let outcome = run(&estate(
        "5h",
        &format!(
            r#"pools: [(site: "fra", accelerator: "H100",
             spot: (limit: 8, price: "2 USD/h", price_process: trace(path: "{}")))],
    jobs: [(name: "batch", class: batch_inference, gpus: 8, work: 24, preemptible: true, tiers: [spot])],"#,
            prices.display()
        ),
    ));
    assert_relative_eq!(outcome.summary.cost.total_usd, 36.0, max_relative = 1e-12);
}

#[test]
fn a_service_recovers_when_its_replicas_are_back_after_the_cold_start() {
    // Users at `users` are served from fra only. fra is down from 10 min to 40 min; its two
    // replicas restart when it is back and are ready 5 min later (1 GB at 8 Gbps = 1 s, plus a
    // 299 s start). Requests fail from 10 min to 45 min, so the SLO breaks in the window
    // [10 min, 11 min) (detected after 60 s) and holds again from 45 min on: time to recover
    // 35 min. Nothing waits once it is back, so the backlog is drained at the first window end
    // after the outage.
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "service-recovery", horizon: "2h", seed: 5, metrics: (window: "1m", recovery_windows: 3),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "fra", kind: cloud, jurisdiction: "eu"), (name: "users", kind: edge, jurisdiction: "eu")],
    links: [(a: "users", b: "fra", bandwidth: "10Gbps", latency: "10ms")],
    pools: [(site: "fra", accelerator: "H100", reserved: (count: 4, price: "2 USD/h"))],
    services: [(
        name: "chat",
        model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 8),
        service_time: deterministic(time: "100ms"),
        replicas: [(pool: "fra/H100", tier: reserved, count: 2)],
        demand: [(origin: "users", arrivals: poisson(rate: "5/s"))],
        slo: (percentile: 99.0, latency: "1s"),
        timeout: "30s",
        autoscaling: (target_utilization: 0.7, min: 2, max: 2, tier: reserved,
                      load_bandwidth: "8Gbps", start_overhead: "299s"),
    )],
    incidents: [(name: "fra down", start: "10m", duration: "30m", kind: site_outage(site: "fra"))],
)"#);
    let incident = &outcome.summary.incidents[0];
    assert_eq!(incident.affected_services, ["chat"]);
    assert_eq!(incident.time_to_detect_s, Some(60.0));
    assert_eq!(incident.time_to_recover_s, Some(35.0 * 60.0));
    assert_eq!(incident.backlog_drain_s, Some(0.0));
    let chat = &outcome.summary.services["chat"];
    // About 5/s × 35 min = 10,500 requests fail, all of them inside the incident's period.
    assert_eq!(incident.requests_failed, chat.requests.failed);
    let expected = 5.0 * 35.0 * 60.0;
    assert!(
        (chat.requests.failed as f64 - expected).abs() < 4.0 * expected.sqrt(),
        "{}",
        chat.requests.failed
    );
}

#[test]
fn a_demand_surge_multiplies_arrivals_while_it_lasts_and_only_then() {
    // 4/s from `users`, ×3 from 20 min to 40 min: per 1-minute window 240 arrivals outside the
    // surge and 720 inside, each Poisson (± 4√n).
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "surge", horizon: "1h", seed: 9, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "fra", kind: cloud, jurisdiction: "eu"), (name: "users", kind: edge, jurisdiction: "eu")],
    links: [(a: "users", b: "fra", bandwidth: "10Gbps", latency: "10ms")],
    pools: [(site: "fra", accelerator: "H100", reserved: (count: 4, price: "2 USD/h"))],
    services: [(
        name: "chat",
        model: (memory: "1GB", gpus_per_replica: 1, slots_per_replica: 64),
        service_time: deterministic(time: "100ms"),
        replicas: [(pool: "fra/H100", tier: reserved, count: 4)],
        demand: [(origin: "users", arrivals: poisson(rate: "4/s"))],
        timeout: "30s",
    )],
    incidents: [(name: "launch", start: "20m", duration: "20m", kind: demand_surge(service: "chat", factor: 3.0))],
)"#);
    let windows = outcome.record.windows.service_windows(0).unwrap();
    let count = |range: std::ops::Range<usize>| windows[range].iter().map(|w| w.arrived).sum::<u64>() as f64;
    for (range, per_window) in [(0..20, 240.0), (20..40, 720.0), (40..60, 240.0)] {
        let expected = per_window * range.len() as f64;
        let observed = count(range.clone());
        assert!(
            (observed - expected).abs() < 4.0 * expected.sqrt(),
            "{range:?}: {observed} vs {expected}"
        );
    }
}

#[test]
fn a_request_that_fails_at_its_fallback_too_counts_once_in_the_incident() {
    // The primary's site is down for 30 min; its requests go to a one-replica fallback that
    // cannot keep up, so many fail there too. Each user request is one failure.
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "fallback-double-count", horizon: "2h", seed: 1, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"),
            (name: "big", kind: cloud, jurisdiction: "eu"),
            (name: "small", kind: edge, jurisdiction: "eu")],
    pools: [(site: "big", accelerator: "H100", on_demand: (limit: 8, price: "1 USD/h")),
            (site: "small", accelerator: "H100", on_demand: (limit: 1, price: "1 USD/h"))],
    links: [(a: "users", b: "big", bandwidth: "10Gbps", latency: "5ms"),
            (a: "users", b: "small", bandwidth: "10Gbps", latency: "2ms")],
    services: [(name: "primary", model: (memory: "40GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "big/H100", tier: on_demand, count: 4)],
                demand: [(origin: "users", arrivals: poisson(rate: "2/s"))],
                slo: (percentile: 99.0, latency: "5s"), timeout: "10s",
                fallback: service(name: "backup")),
               (name: "backup", model: (memory: "40GB"), service_time: deterministic(time: "1s"),
                replicas: [(pool: "small/H100", tier: on_demand, count: 1)], timeout: "10s")],
    incidents: [(name: "big down", start: "30m", duration: "30m", kind: site_outage(site: "big"))],
)"#);
    let incident = &outcome.summary.incidents[0];
    let primary = &outcome.summary.services["primary"];
    assert!(primary.requests.failed > 100, "{:?}", primary.requests);
    assert!(outcome.summary.services["backup"].requests.failed > 100);
    assert_eq!(incident.requests_failed, primary.requests.failed);
}

#[test]
fn replicas_restarting_after_an_outage_are_not_scaled_away_while_they_start() {
    let outcome = run(r#"#![enable(implicit_some)]
(
    name: "autoscale-restart", horizon: "3h", seed: 1, metrics: (window: "1m"),
    accelerators: [(name: "H100", memory: "80GB")],
    sites: [(name: "users", kind: edge, jurisdiction: "eu"),
            (name: "dc", kind: cloud, jurisdiction: "eu")],
    pools: [(site: "dc", accelerator: "H100", on_demand: (limit: 16, price: "1 USD/h"))],
    links: [(a: "users", b: "dc", bandwidth: "10Gbps", latency: "5ms")],
    services: [(name: "chat", model: (memory: "40GB", gpus_per_replica: 1, slots_per_replica: 4),
                service_time: deterministic(time: "2s"),
                replicas: [(pool: "dc/H100", tier: on_demand, count: 3)],
                demand: [(origin: "users", arrivals: poisson(rate: "4/s"))],
                autoscaling: (target_utilization: 0.7, min: 1, max: 8, tier: on_demand,
                              load_bandwidth: "1Gbps", start_overhead: "2m"))],
    incidents: [(name: "dc down", start: "1h", duration: "30m", kind: site_outage(site: "dc"))],
)"#);
    let removed: Vec<_> = outcome
        .record
        .decisions
        .entries()
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == hybridsim::policy::DecisionKind::Scale && d.choice.starts_with('-'))
        .map(|d| (d.time.as_secs_f64(), d.choice.clone()))
        .collect();
    // dc is back at 1h30m; its replicas start for 40 GB ÷ 1 Gbps + 2 min = 440 s.
    let back = outcome.summary.incidents[0].end_s.unwrap();
    assert!(
        removed.iter().all(|(t, _)| !(back..=back + 440.0).contains(t)),
        "scaled down while they started: {removed:?}"
    );
    let restarted = outcome.record.decisions.entries().unwrap().iter().any(|d| {
        d.kind == hybridsim::policy::DecisionKind::Scale
            && d.time.as_secs_f64() == back
            && d.choice.starts_with("+3")
    });
    assert!(restarted, "the three replicas restart when the site is back");
}
