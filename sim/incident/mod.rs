//! Incidents: scripted events on a timeline (a tabletop drill) and stochastic failure
//! processes. This module owns what a scenario says about them, what each kind does as a list
//! of primitive, reversible effects ([`IncidentKind::effects`], [`effect`]) and the random
//! draws; the engine in `world::incidents` applies the effects to the estate and its workloads,
//! and undoes them when their `duration` ends (no duration: until the end of the run).
//!
//! ```ron
//! pools: [(site: "fra", accelerator: "H100", reserved: (count: 512, price: "2 USD/h"),
//!          failures: (gpu_mtbf: "50000h", repair: "4h", shape: 0.8))],
//! incidents: [
//!     (name: "fra down", start: "2h", duration: "3h", kind: site_outage(site: "fra")),
//!     (name: "H100 shortage", start: "1d", duration: "6h",
//!      kind: capacity_shock(pool: "aws/H100", tier: on_demand, to: fraction(0.3))),
//!     (name: "spot spike", start: "2d", duration: "12h", kind: price_shock(tier: spot, factor: 4.0)),
//!     (name: "congestion", start: "3h", duration: "1h",
//!      kind: link_degradation(link: "fra--ams", bandwidth_factor: 0.2, added_latency: "20ms")),
//!     (name: "backhaul cut", start: "5h", duration: "2h", kind: link_down(site: "factory")),
//!     (name: "launch", start: "6h", duration: "2h", kind: demand_surge(service: "chat", factor: 3.0)),
//!     (name: "node-7 dies", start: "3h", kind: gpu_failure(pool: "fra/H100", job: "pretrain")),
//!     (name: "spot reclaim", start: "5h", kind: spot_preemption(pool: "us/H100")),
//! ]
//! ```
//!
//! Spot holders are reclaimed at a rate per GPU (the tier keeps its capacity: a job may get spot
//! GPUs again at once), or the tier's capacity follows an availability trace ([`spot`]); spot
//! prices may move over a run ([`price`]).

pub mod effect;
pub mod price;
pub mod spot;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_distr::{Distribution, Exp, Weibull};
use serde::{Deserialize, Serialize};

use crate::kernel::{SimDuration, SimTime, StreamRng};
use crate::vocab::SiteKind;
use crate::vocab::Tier;
use crate::vocab::ids::LinkId;

use effect::{Effect, IncidentNames, LinkChange};

/// A scripted incident.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentSpec {
    /// The name used in reports and the decision log.
    pub name: String,
    /// When it happens, from the start of the run.
    pub start: SimDuration,
    /// How long it lasts; without one it lasts until the end of the run. Instant incidents
    /// (`gpu_failure`, `spot_preemption`) take none.
    #[serde(default)]
    pub duration: Option<SimDuration>,
    /// What happens.
    pub kind: IncidentKind,
}

impl IncidentSpec {
    /// When it ends, if it is not instant and does not last to the end of the run.
    pub fn end(&self) -> Option<SimDuration> {
        self.duration.map(|d| self.start.saturating_add(d))
    }
}

/// What a scripted incident does.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IncidentKind {
    /// Everything at a site stops: its links go down, its jobs are interrupted, its replicas
    /// are lost and requests go elsewhere or fail.
    SiteOutage {
        /// The site.
        site: String,
    },
    /// A pool tier shrinks; holders above the new capacity are interrupted, jobs with the
    /// lowest priority first, then inference replicas.
    CapacityShock {
        /// The pool.
        pool: String,
        /// The tier.
        tier: Tier,
        /// What is left: a count or a fraction of the capacity at the start of the shock.
        to: CapacityTarget,
    },
    /// A tier's price is multiplied by a factor, in one pool, at one site, at every site of a
    /// kind, or (none given) everywhere.
    PriceShock {
        /// The tier.
        tier: Tier,
        /// The multiplier, e.g. 4.0.
        factor: f64,
        /// Only this pool.
        #[serde(default)]
        pool: Option<String>,
        /// Only pools at this site.
        #[serde(default)]
        site: Option<String>,
        /// Only pools at sites of this kind.
        #[serde(default)]
        site_kind: Option<SiteKind>,
    },
    /// A link slows down: less bandwidth, more latency, more loss.
    LinkDegradation {
        /// The link's name.
        link: String,
        /// Multiplies its bandwidth.
        #[serde(default = "one")]
        bandwidth_factor: f64,
        /// Added one-way latency.
        #[serde(default)]
        added_latency: SimDuration,
        /// Added loss probability.
        #[serde(default)]
        loss: f64,
    },
    /// A link is cut, or every link of a site (an edge site's backhaul).
    LinkDown {
        /// The link's name.
        #[serde(default)]
        link: Option<String>,
        /// Every link of this site.
        #[serde(default)]
        site: Option<String>,
    },
    /// A service's arrival rate is multiplied by a factor, from one origin or all.
    DemandSurge {
        /// The service.
        service: String,
        /// Only demand from this origin site.
        #[serde(default)]
        origin: Option<String>,
        /// The multiplier.
        factor: f64,
    },
    /// One GPU of a pool fails: a GPU of the named job if it runs there, otherwise a GPU drawn
    /// at random. The job holding it is interrupted; an owned or reserved GPU goes to repair
    /// for the pool's repair time.
    GpuFailure {
        /// The pool.
        pool: String,
        /// The job whose GPU fails, if a particular one.
        #[serde(default)]
        job: Option<String>,
    },
    /// The provider reclaims spot GPUs of a pool with the pool's notice: the named job's, or
    /// every spot holder's.
    SpotPreemption {
        /// The pool.
        pool: String,
        /// The job preempted, if a particular one.
        #[serde(default)]
        job: Option<String>,
    },
}

fn one() -> f64 {
    1.0
}

/// What a capacity shock leaves.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityTarget {
    /// This many GPUs.
    Count(u64),
    /// This share of the capacity at the start of the shock, rounded down.
    Fraction(f64),
}

impl IncidentKind {
    /// The name used in outputs.
    pub fn as_str(&self) -> &'static str {
        match self {
            IncidentKind::SiteOutage { .. } => "site_outage",
            IncidentKind::CapacityShock { .. } => "capacity_shock",
            IncidentKind::PriceShock { .. } => "price_shock",
            IncidentKind::LinkDegradation { .. } => "link_degradation",
            IncidentKind::LinkDown { .. } => "link_down",
            IncidentKind::DemandSurge { .. } => "demand_surge",
            IncidentKind::GpuFailure { .. } => "gpu_failure",
            IncidentKind::SpotPreemption { .. } => "spot_preemption",
        }
    }

    /// Whether it happens at an instant rather than over a period.
    pub fn is_instant(&self) -> bool {
        matches!(
            self,
            IncidentKind::GpuFailure { .. } | IncidentKind::SpotPreemption { .. }
        )
    }

    /// What it does, as primitive effects on the ids `names` resolves; a name that does not
    /// resolve contributes nothing. Its start applies them in order, its end undoes them in
    /// reverse order.
    pub fn effects(&self, names: &impl IncidentNames) -> Vec<Effect> {
        match self {
            IncidentKind::SiteOutage { site } => names
                .site(site)
                .map(|site| Effect::SiteDown { site })
                .into_iter()
                .collect(),
            IncidentKind::CapacityShock { pool, tier, to } => names
                .pool(pool)
                .map(|pool| Effect::ShrinkTier {
                    pool,
                    tier: *tier,
                    to: *to,
                })
                .into_iter()
                .collect(),
            IncidentKind::PriceShock {
                tier,
                factor,
                pool,
                site,
                site_kind,
            } => {
                let targets = names
                    .pools()
                    .into_iter()
                    .filter(|&(p, _, _)| names.has_tier(p, *tier))
                    .filter(|&(p, _, _)| pool.as_deref().is_none_or(|name| names.pool(name) == Some(p)))
                    .filter(|&(_, s, _)| site.as_deref().is_none_or(|name| names.site(name) == Some(s)))
                    .filter(|&(_, _, kind)| site_kind.is_none_or(|wanted| kind == wanted))
                    .map(|(p, _, _)| (p, *tier))
                    .collect();
                vec![Effect::ScalePrices {
                    targets,
                    factor: *factor,
                }]
            }
            IncidentKind::LinkDegradation {
                link,
                bandwidth_factor,
                added_latency,
                loss,
            } => {
                let link = names.link(link);
                vec![Effect::SetLinks {
                    links: link.into_iter().collect(),
                    change: LinkChange::Degrade {
                        bandwidth_factor: *bandwidth_factor,
                        added_latency: *added_latency,
                        loss: *loss,
                    },
                    sites: link.map(|l| names.ends_of(l)).unwrap_or_default(),
                }]
            }
            IncidentKind::LinkDown { link, site } => {
                let named = link.as_deref().and_then(|name| names.link(name));
                let site = site.as_deref().and_then(|name| names.site(name));
                let mut links: Vec<LinkId> = site.map(|s| names.links_of(s)).unwrap_or_default();
                links.extend(named);
                links.sort_unstable();
                links.dedup();
                // A named link reaches the sites at its ends; a site's links, the site.
                let sites = match link {
                    Some(_) => named.map(|l| names.ends_of(l)).unwrap_or_default(),
                    None => site.into_iter().collect(),
                };
                vec![Effect::SetLinks {
                    links,
                    change: LinkChange::Down,
                    sites,
                }]
            }
            IncidentKind::DemandSurge {
                service,
                origin,
                factor,
            } => names
                .service(service)
                .map(|service| Effect::ScaleDemand {
                    service,
                    origin: origin.as_deref().and_then(|o| names.site(o)),
                    factor: *factor,
                })
                .into_iter()
                .collect(),
            IncidentKind::GpuFailure { pool, job } => names
                .pool(pool)
                .map(|pool| Effect::FailGpu {
                    pool,
                    job: job.as_deref().and_then(|j| names.job(j)),
                })
                .into_iter()
                .collect(),
            IncidentKind::SpotPreemption { pool, job } => {
                let job = job.as_deref().map(|j| names.job(j));
                // A named job that does not resolve is preempted nowhere, not everywhere.
                match (names.pool(pool), job) {
                    (Some(pool), None | Some(Some(_))) => vec![Effect::PreemptSpot {
                        pool,
                        job: job.flatten(),
                        notice: names.spot_notice(pool),
                    }],
                    (Some(_), Some(None)) | (None, _) => Vec::new(),
                }
            }
        }
    }
}

/// Random failures of a pool's GPUs.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureSpec {
    /// Mean time between failures of one GPU (e.g. Llama 3: ≈ 16,384 × 3.1 h ≈ 50,000 h).
    pub gpu_mtbf: SimDuration,
    /// How long a failed owned or reserved GPU is out of service; cloud on-demand and spot
    /// GPUs are swapped by the provider at once.
    #[serde(default)]
    pub repair: SimDuration,
    /// Weibull shape of the time between failures of one GPU: below 1 early failures dominate
    /// (infant mortality), above 1 wear-out; 1 or none is exponential.
    #[serde(default)]
    pub shape: Option<f64>,
}

/// The failure process of one pool.
///
/// Exponential: the pool's `gpus` GPUs fail as a superposed Poisson process of rate
/// `gpus / mtbf`, each failure hitting a GPU drawn uniformly. A hit on a GPU already in repair
/// is void, which thins the process so that every working GPU fails at exactly `1 / mtbf` (the
/// memoryless property makes this exact).
///
/// Weibull: each of the `gpus` positions is a renewal process — a lifetime drawn from the
/// Weibull distribution with mean `mtbf`, a failure, the repair, a new lifetime — with every
/// GPU new at time 0. Its next failure times are kept in a heap.
#[derive(Debug, Clone)]
pub enum FailureProcess {
    /// Memoryless failures.
    Exponential {
        /// Time to the next failure in the pool.
        gap: Exp<f64>,
        /// GPUs in the pool.
        gpus: u64,
    },
    /// Renewal processes with Weibull lifetimes.
    Weibull {
        /// Lifetime of one GPU, in seconds.
        life: Weibull<f64>,
        /// Next failure time (ns) of each position.
        clocks: BinaryHeap<Reverse<(u64, u64)>>,
    },
}

impl FailureProcess {
    /// The process of a pool with `gpus` GPUs; `None` when it cannot fail (no GPUs or an
    /// unusable MTBF or shape).
    pub fn new(spec: &FailureSpec, gpus: u64, rng: &mut StreamRng) -> Option<Self> {
        let mtbf_s = spec.gpu_mtbf.as_secs_f64();
        if gpus == 0 || mtbf_s <= 0.0 {
            return None;
        }
        match spec.shape {
            Some(shape) if shape != 1.0 => {
                let scale = mtbf_s / statrs::function::gamma::gamma(1.0 + 1.0 / shape);
                let life = Weibull::new(scale, shape).ok()?;
                let clocks = (0..gpus)
                    .map(|position| Reverse((seconds_to_ns(life.sample(rng)), position)))
                    .collect();
                Some(FailureProcess::Weibull { life, clocks })
            }
            _ => Some(FailureProcess::Exponential {
                gap: Exp::new(gpus as f64 / mtbf_s).ok()?,
                gpus,
            }),
        }
    }

    /// The next failure after `now`: when, and which of the pool's GPUs (an index in
    /// `0..gpus`). A Weibull position stays silent until [`renew`](Self::renew) gives it a new
    /// life.
    pub fn next_failure(&mut self, now: SimTime, rng: &mut StreamRng) -> Option<(SimTime, u64)> {
        match self {
            FailureProcess::Exponential { gap, gpus } => {
                let at = now.saturating_add(SimDuration::from_nanos(seconds_to_ns(gap.sample(rng))));
                Some((at, rng.random_range(0..*gpus)))
            }
            FailureProcess::Weibull { clocks, .. } => {
                let Reverse((at, position)) = clocks.pop()?;
                Some((SimTime::from_nanos(at.max(now.as_nanos())), position))
            }
        }
    }

    /// The GPU at `position` starts a new life at `from` (after its repair).
    pub fn renew(&mut self, position: u64, from: SimTime, rng: &mut StreamRng) {
        if let FailureProcess::Weibull { life, clocks } = self {
            let at = from.as_nanos().saturating_add(seconds_to_ns(life.sample(rng)));
            clocks.push(Reverse((at, position)));
        }
    }
}

fn seconds_to_ns(seconds: f64) -> u64 {
    (seconds * 1e9).round().clamp(0.0, 1e18) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::RngStreams;
    use crate::vocab::ids::{PoolId, SiteId};
    use crate::vocab::{JobId, ServiceId};

    /// Two sites (`a` cloud, `b` on-prem), a pool at each, one link between them, a service
    /// `chat` and a job `train`.
    struct Names;

    impl IncidentNames for Names {
        fn site(&self, name: &str) -> Option<SiteId> {
            ["a", "b"]
                .iter()
                .position(|s| *s == name)
                .map(|i| SiteId(i as u32))
        }
        fn pool(&self, name: &str) -> Option<PoolId> {
            ["a/H100", "b/H100"]
                .iter()
                .position(|p| *p == name)
                .map(|i| PoolId(i as u32))
        }
        fn link(&self, name: &str) -> Option<LinkId> {
            (name == "a--b").then_some(LinkId(0))
        }
        fn service(&self, name: &str) -> Option<ServiceId> {
            (name == "chat").then_some(ServiceId(0))
        }
        fn job(&self, name: &str) -> Option<JobId> {
            (name == "train").then_some(JobId(0))
        }
        fn pools(&self) -> Vec<(PoolId, SiteId, SiteKind)> {
            vec![
                (PoolId(0), SiteId(0), SiteKind::Cloud),
                (PoolId(1), SiteId(1), SiteKind::OnPrem),
            ]
        }
        fn has_tier(&self, pool: PoolId, tier: Tier) -> bool {
            tier != Tier::Spot || pool == PoolId(0)
        }
        fn links_of(&self, _site: SiteId) -> Vec<LinkId> {
            vec![LinkId(0)]
        }
        fn ends_of(&self, _link: LinkId) -> Vec<SiteId> {
            vec![SiteId(0), SiteId(1)]
        }
        fn spot_notice(&self, _pool: PoolId) -> SimDuration {
            SimDuration::from_secs(120)
        }
    }

    fn kind(ron: &str) -> IncidentKind {
        match crate::vocab::ron_options().from_str(ron) {
            Ok(kind) => kind,
            Err(e) => panic!("{ron}: {e}"),
        }
    }

    #[test]
    fn each_kind_maps_to_its_effects_on_resolved_ids() {
        let cases: Vec<(&str, Vec<Effect>)> = vec![
            (
                "site_outage(site: \"b\")",
                vec![Effect::SiteDown { site: SiteId(1) }],
            ),
            (
                "capacity_shock(pool: \"a/H100\", tier: on_demand, to: count(3))",
                vec![Effect::ShrinkTier {
                    pool: PoolId(0),
                    tier: Tier::OnDemand,
                    to: CapacityTarget::Count(3),
                }],
            ),
            (
                "price_shock(tier: spot, factor: 4.0)",
                vec![Effect::ScalePrices {
                    targets: vec![(PoolId(0), Tier::Spot)],
                    factor: 4.0,
                }],
            ),
            (
                "price_shock(tier: on_demand, factor: 2.0, site_kind: on_prem)",
                vec![Effect::ScalePrices {
                    targets: vec![(PoolId(1), Tier::OnDemand)],
                    factor: 2.0,
                }],
            ),
            (
                "link_down(site: \"a\")",
                vec![Effect::SetLinks {
                    links: vec![LinkId(0)],
                    change: LinkChange::Down,
                    sites: vec![SiteId(0)],
                }],
            ),
            (
                "link_degradation(link: \"a--b\", bandwidth_factor: 0.5)",
                vec![Effect::SetLinks {
                    links: vec![LinkId(0)],
                    change: LinkChange::Degrade {
                        bandwidth_factor: 0.5,
                        added_latency: SimDuration::ZERO,
                        loss: 0.0,
                    },
                    sites: vec![SiteId(0), SiteId(1)],
                }],
            ),
            (
                "demand_surge(service: \"chat\", origin: \"b\", factor: 3.0)",
                vec![Effect::ScaleDemand {
                    service: ServiceId(0),
                    origin: Some(SiteId(1)),
                    factor: 3.0,
                }],
            ),
            (
                "gpu_failure(pool: \"b/H100\", job: \"train\")",
                vec![Effect::FailGpu {
                    pool: PoolId(1),
                    job: Some(JobId(0)),
                }],
            ),
            (
                "spot_preemption(pool: \"a/H100\")",
                vec![Effect::PreemptSpot {
                    pool: PoolId(0),
                    job: None,
                    notice: SimDuration::from_secs(120),
                }],
            ),
            ("site_outage(site: \"nowhere\")", vec![]),
            ("spot_preemption(pool: \"a/H100\", job: \"nobody\")", vec![]),
        ];
        for (ron, expected) in cases {
            assert_eq!(kind(ron).effects(&Names), expected, "{ron}");
        }
    }

    #[test]
    fn pool_failures_arrive_at_gpus_over_mtbf() {
        let spec = FailureSpec {
            gpu_mtbf: SimDuration::from_hours(1_000),
            repair: SimDuration::ZERO,
            shape: None,
        };
        let mut rng = RngStreams::new(7).stream("failures");
        let mut process = FailureProcess::new(&spec, 100, &mut rng).expect("a pool that can fail");
        let n = 20_000u32;
        let mut now = SimTime::ZERO;
        let mut hit = [0u32; 100];
        for _ in 0..n {
            let (at, victim) = process.next_failure(now, &mut rng).unwrap();
            hit[victim as usize] += 1;
            now = at;
        }
        let mean_h = now.as_secs_f64() / 3_600.0 / f64::from(n);
        assert!(
            hit.iter().all(|&h| h > 100),
            "victims are spread over the pool: {hit:?}"
        );
        // Exponential: standard error of the mean is mean/√n; 4 standard errors.
        let expected = 10.0;
        assert!(
            (mean_h - expected).abs() < 4.0 * expected / f64::from(n).sqrt(),
            "{mean_h}"
        );
        assert!(FailureProcess::new(&spec, 0, &mut rng).is_none());
    }

    /// Coefficient of variation of a Weibull distribution of shape `k`.
    fn weibull_cv(k: f64) -> f64 {
        use statrs::function::gamma::gamma;
        (gamma(1.0 + 2.0 / k) / gamma(1.0 + 1.0 / k).powi(2) - 1.0).sqrt()
    }

    /// Standard error of the sample coefficient of variation of `n` Weibull draws of shape
    /// `k`, by the delta method on s²/x̄² with the distribution's central moments.
    fn weibull_cv_standard_error(k: f64, n: f64) -> f64 {
        use statrs::function::gamma::gamma;
        let m = |j: f64| gamma(1.0 + j / k);
        let (m1, m2, m3, m4) = (m(1.0), m(2.0), m(3.0), m(4.0));
        let var = m2 - m1 * m1;
        let mu3 = m3 - 3.0 * m1 * m2 + 2.0 * m1.powi(3);
        let mu4 = m4 - 4.0 * m1 * m3 + 6.0 * m1 * m1 * m2 - 3.0 * m1.powi(4);
        let relative_var_of_cv2 =
            (mu4 - var * var) / (var * var) + 4.0 * var / (m1 * m1) - 4.0 * mu3 / (var * m1);
        (var.sqrt() / m1) * (relative_var_of_cv2 / n).sqrt() / 2.0
    }

    #[test]
    fn weibull_shape_sets_the_spread_of_lifetimes_and_the_mean_stays_the_mtbf() {
        for shape in [0.5, 1.0, 2.0] {
            let spec = FailureSpec {
                gpu_mtbf: SimDuration::from_hours(100),
                repair: SimDuration::ZERO,
                shape: Some(shape),
            };
            let mut rng = RngStreams::new(3).stream("failures");
            let mut process = FailureProcess::new(&spec, 1, &mut rng).unwrap();
            let mut now = SimTime::ZERO;
            let mut gaps = Vec::with_capacity(40_000);
            for _ in 0..40_000 {
                let (at, gpu) = process.next_failure(now, &mut rng).unwrap();
                gaps.push(at.saturating_since(now).as_secs_f64() / 3_600.0);
                process.renew(gpu, at, &mut rng);
                now = at;
            }
            let n = gaps.len() as f64;
            let mean = gaps.iter().sum::<f64>() / n;
            let std_dev = (gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            // 99.9 % two-sided normal quantile: with 40,000 draws Student's t is the same.
            let half_width = 3.2905 * std_dev / n.sqrt();
            assert!(
                (mean - 100.0).abs() <= half_width,
                "shape {shape}: mean {mean} ± {half_width}"
            );
            let cv = std_dev / mean;
            let expected = weibull_cv(shape);
            let se = weibull_cv_standard_error(shape, n);
            assert!(
                (cv - expected).abs() < 4.0 * se,
                "shape {shape}: cv {cv} vs {expected} ± {se}"
            );
        }
    }
}
