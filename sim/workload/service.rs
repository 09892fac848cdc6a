//! Inference services as a scenario describes them, and their service-time models.
//!
//! A service is a model deployed as replicas on GPU pools. Each replica holds
//! `gpus_per_replica` GPUs of one tier and serves `slots_per_replica` requests at once; a
//! request occupies one slot for its service time. For LLMs the service time is
//! `overhead + prefill_per_token × context + decode_per_token × generated`, divided by the
//! accelerator's inference speed factor; the time to first token is the part before decoding.
//! In these models a slot is one concurrent request whose time does not depend on the others;
//! the `batched` model ([`super::batched`]) batches at the iteration level instead, bounded by
//! the KV cache, and its replicas take `max_batch` sequences in place of `slots_per_replica`.

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::{Deserialize, Serialize};

use crate::kernel::{SimDuration, StreamRng};
use crate::vocab::Tier;
use crate::vocab::units::{Bandwidth, DataSize};
use crate::workload::arrivals::ArrivalSpec;
use crate::workload::batched::BatchedSpec;

/// An inference service.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Unique name.
    pub name: String,
    /// The model served.
    pub model: ModelSpec,
    /// How long a request holds a slot.
    pub service_time: ServiceTimeSpec,
    /// Replicas deployed at the start.
    #[serde(default)]
    pub replicas: Vec<ReplicaSpec>,
    /// Request streams, one per origin.
    #[serde(default)]
    pub demand: Vec<DemandSpec>,
    /// The latency objective.
    #[serde(default)]
    pub slo: Option<SloSpec>,
    /// A request not finished this long after it arrived has failed (or goes to the fallback).
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
    /// Most requests waiting at one site; more are refused as `queue_full`.
    #[serde(default = "default_queue_limit")]
    pub queue_limit: u32,
    /// Where requests go when this service cannot serve them.
    #[serde(default)]
    pub fallback: Option<FallbackSpec>,
    /// Replica autoscaling.
    #[serde(default)]
    pub autoscaling: Option<AutoscaleSpec>,
}

fn default_timeout() -> SimDuration {
    SimDuration::from_secs(60)
}

fn default_queue_limit() -> u32 {
    10_000
}

/// The model a service runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Memory the model needs on the replica's GPUs together (weights + cache); also the
    /// amount loaded at a cold start.
    pub memory: DataSize,
    /// GPUs a replica holds.
    #[serde(default = "one")]
    pub gpus_per_replica: u32,
    /// Requests a replica serves concurrently.
    #[serde(default = "one")]
    pub slots_per_replica: u32,
}

fn one() -> u32 {
    1
}

/// Service time of one request on the reference accelerator.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceTimeSpec {
    /// Exponentially distributed with this mean.
    Exponential {
        /// Mean service time.
        mean: SimDuration,
    },
    /// Always the same.
    Deterministic {
        /// The service time.
        time: SimDuration,
    },
    /// Lognormal with this median and shape σ.
    Lognormal {
        /// Median service time.
        median: SimDuration,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// One of these values, each equally likely (e.g. measured samples).
    Empirical {
        /// The samples.
        values: Vec<SimDuration>,
    },
    /// LLM: fixed overhead, prefill per context token, decode per generated token.
    Llm {
        /// Time per prompt (context) token.
        prefill_per_token: SimDuration,
        /// Time per generated token.
        decode_per_token: SimDuration,
        /// Fixed time per request.
        #[serde(default)]
        overhead: SimDuration,
    },
    /// LLM with continuous batching and a KV cache ([`BatchedSpec`]).
    Batched(BatchedSpec),
}

/// Replicas of a service in one pool.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSpec {
    /// The pool's name (`"<site>/<accelerator>"` unless named).
    pub pool: String,
    /// The capacity tier the GPUs come from.
    pub tier: Tier,
    /// Number of replicas.
    #[serde(default = "one")]
    pub count: u32,
    /// Replicas the autoscaler keeps here however idle they are: a warm standby. Without it,
    /// the service's `autoscaling.min` applies to this deployment like to every other.
    #[serde(default)]
    pub keep_warm: Option<u32>,
}

/// Requests from one origin.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DemandSpec {
    /// The site where requests originate (users near it).
    pub origin: String,
    /// When requests arrive.
    pub arrivals: ArrivalSpec,
    /// Jurisdictions allowed to serve these requests (prefixes); empty = anywhere.
    #[serde(default)]
    pub residency: Vec<String>,
    /// Prompt length of synthetic requests (traces carry their own).
    #[serde(default)]
    pub context_tokens: u32,
    /// Output length of synthetic requests (traces carry their own).
    #[serde(default)]
    pub generated_tokens: u32,
    /// The bytes each request and response carries; none: payloads are not modelled.
    #[serde(default)]
    pub payload: Option<PayloadSpec>,
}

/// The bytes a request and its response carry over the network. A request served at another
/// site than its origin sends its request bytes there and its response bytes back; each
/// crossing is billed like a bulk transfer: the sending site's egress price plus every link's
/// per-GB price, under the service that served it. Optionally the bytes also take time: size ÷
/// the route's bottleneck bandwidth, once each way (no sharing with other traffic).
///
/// ```ron
/// payload: (request_bytes: "2KB", response_bytes: "1KB",
///           bytes_per_context_token: "4B", bytes_per_generated_token: "4B")
/// ```
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PayloadSpec {
    /// Bytes of every request, besides its tokens.
    #[serde(default)]
    pub request_bytes: DataSize,
    /// Bytes of every response, besides its tokens.
    #[serde(default)]
    pub response_bytes: DataSize,
    /// Request bytes per context (prompt) token.
    #[serde(default)]
    pub bytes_per_context_token: DataSize,
    /// Response bytes per generated token.
    #[serde(default)]
    pub bytes_per_generated_token: DataSize,
    /// Whether sending the bytes takes time: size ÷ the bottleneck bandwidth, each way.
    #[serde(default)]
    pub serialization: bool,
}

impl PayloadSpec {
    /// Request and response bytes of a request with `context` prompt and `generated` output
    /// tokens (saturating: the scenario checks bound every part).
    pub fn bytes(&self, context: u32, generated: u32) -> (u64, u64) {
        let per = |size: DataSize, tokens: u32| size.bytes().saturating_mul(u64::from(tokens));
        (
            self.request_bytes
                .bytes()
                .saturating_add(per(self.bytes_per_context_token, context)),
            self.response_bytes
                .bytes()
                .saturating_add(per(self.bytes_per_generated_token, generated)),
        )
    }
}

/// A latency objective: the `percentile` of end-to-end latency is at most `latency`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// e.g. 99.0 for p99.
    pub percentile: f64,
    /// The bound.
    pub latency: SimDuration,
}

/// Graceful degradation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FallbackSpec {
    /// Send the request to another (smaller, cheaper) service.
    Service {
        /// The fallback service's name.
        name: String,
    },
    /// An edge cache answers a share of requests at a fixed latency.
    EdgeCache {
        /// Share of requests the cache can answer.
        hit_ratio: f64,
        /// Latency of a cache answer.
        latency: SimDuration,
    },
}

/// Replica autoscaling at each site where the service runs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleSpec {
    /// Busy share of slots the scaler aims for.
    pub target_utilization: f64,
    /// Fewest replicas per site.
    #[serde(default = "one")]
    pub min: u32,
    /// Most replicas per site.
    pub max: u32,
    /// How often utilization is evaluated.
    #[serde(default = "default_interval")]
    pub interval: SimDuration,
    /// Least time between two scaling actions at a site.
    #[serde(default = "default_cooldown")]
    pub cooldown: SimDuration,
    /// Tier new replicas take GPUs from.
    #[serde(default = "default_scale_tier")]
    pub tier: Tier,
    /// Speed of loading the model onto a new replica.
    pub load_bandwidth: Bandwidth,
    /// Fixed start-up time of a new replica (container, runtime, warm-up).
    #[serde(default)]
    pub start_overhead: SimDuration,
}

fn default_interval() -> SimDuration {
    SimDuration::from_secs(60)
}

fn default_cooldown() -> SimDuration {
    SimDuration::from_secs(300)
}

fn default_scale_tier() -> Tier {
    Tier::OnDemand
}

/// A service-time model ready to draw from; all times in ns on the reference accelerator.
#[derive(Debug, Clone)]
pub enum ServiceTime {
    /// Exponential.
    Exponential {
        /// The distribution.
        dist: Exp<f64>,
        /// Its mean.
        mean: f64,
    },
    /// Constant.
    Deterministic(f64),
    /// Lognormal.
    Lognormal {
        /// The distribution.
        dist: LogNormal<f64>,
        /// Its mean, median·e^(σ²/2).
        mean: f64,
    },
    /// Equally likely samples.
    Empirical {
        /// The samples.
        values: Vec<f64>,
        /// Their mean.
        mean: f64,
    },
    /// LLM coefficients.
    Llm {
        /// Per context token.
        prefill: f64,
        /// Per generated token.
        decode: f64,
        /// Per request.
        overhead: f64,
    },
    /// Iteration-level batching: the serving engine runs the batches; the draws here are the
    /// time of a request alone on a replica (for routing estimates).
    Batched(BatchedSpec),
}

/// Why a service-time spec cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ServiceTimeError(pub String);

fn invalid(message: &str) -> ServiceTimeError {
    ServiceTimeError(message.to_string())
}

/// `first` and `total` on an accelerator `speed` times as fast as the reference. Out of line:
/// inlined, the compiler computes both divisions ahead of the test for speed 1 and then picks,
/// which puts their latency on the path of every request, on every accelerator.
#[inline(never)]
fn at_speed(first: f64, total: f64, speed: f64) -> (f64, f64) {
    (first / speed, total / speed)
}

/// A non-negative time in ns rounded to the nearest ns: adding ½ and truncating is cheaper
/// than `round()`. Out of line: inlined, the compiler converts the first token's time ahead of
/// the test that it equals the total and then picks, which costs every request a conversion.
#[inline(never)]
fn nearest_ns(t: f64) -> u64 {
    (t + 0.5) as u64
}

impl ServiceTime {
    /// Builds the model of `spec`.
    pub fn new(spec: &ServiceTimeSpec) -> Result<Self, ServiceTimeError> {
        let ns = |d: &SimDuration| d.as_nanos() as f64;
        Ok(match spec {
            ServiceTimeSpec::Exponential { mean } => {
                let mean = ns(mean);
                let dist = Exp::new(1.0 / mean)
                    .ok()
                    .filter(|_| mean > 0.0)
                    .ok_or_else(|| invalid("an exponential service time needs a positive mean"))?;
                ServiceTime::Exponential { dist, mean }
            }
            ServiceTimeSpec::Deterministic { time } => ServiceTime::Deterministic(ns(time)),
            ServiceTimeSpec::Lognormal { median, sigma } => {
                let dist = LogNormal::new(ns(median).ln(), *sigma)
                    .ok()
                    .filter(|_| !median.is_zero() && sigma.is_finite())
                    .ok_or_else(|| {
                        invalid("a lognormal service time needs a positive median and sigma ≥ 0")
                    })?;
                ServiceTime::Lognormal {
                    dist,
                    mean: ns(median) * (sigma * sigma / 2.0).exp(),
                }
            }
            ServiceTimeSpec::Empirical { values } if values.is_empty() => {
                return Err(invalid("an empirical service time needs at least one value"));
            }
            ServiceTimeSpec::Empirical { values } => {
                let values: Vec<f64> = values.iter().map(ns).collect();
                let mean = values.iter().sum::<f64>() / values.len() as f64;
                ServiceTime::Empirical { values, mean }
            }
            ServiceTimeSpec::Llm {
                prefill_per_token,
                decode_per_token,
                overhead,
            } => ServiceTime::Llm {
                prefill: ns(prefill_per_token),
                decode: ns(decode_per_token),
                overhead: ns(overhead),
            },
            ServiceTimeSpec::Batched(spec) => match spec.problem() {
                Some(problem) => return Err(invalid(problem)),
                None => ServiceTime::Batched(*spec),
            },
        })
    }

    /// Draws `(time to first token, total service time)` in ns on an accelerator `speed` times
    /// as fast as the reference.
    pub fn draw(&self, rng: &mut StreamRng, context: u32, generated: u32, speed: f64) -> (u64, u64) {
        let (first, total) = match self {
            ServiceTime::Exponential { dist, .. } => {
                let t = dist.sample(rng);
                (t, t)
            }
            ServiceTime::Deterministic(t) => (*t, *t),
            ServiceTime::Lognormal { dist, .. } => {
                let t = dist.sample(rng);
                (t, t)
            }
            ServiceTime::Empirical { values, .. } => {
                let t = values[rng.random_range(0..values.len())];
                (t, t)
            }
            ServiceTime::Llm {
                prefill,
                decode,
                overhead,
            } => {
                let first = overhead + prefill * f64::from(context);
                (first, first + decode * f64::from(generated))
            }
            ServiceTime::Batched(spec) => {
                let first = spec.alone_ns(context, 1);
                (first, spec.alone_ns(context, generated))
            }
        };
        // On the reference accelerator (speed 1, the common case) the divisions, the costliest
        // instructions of a request's path, are skipped: dividing by 1 changes nothing.
        let (first, total) = if speed == 1.0 {
            (first, total)
        } else {
            at_speed(first, total, speed)
        };
        // Only LLM services have a first token before the end: the others convert once.
        let total_ns = nearest_ns(total);
        let first_ns = if first == total {
            total_ns
        } else {
            nearest_ns(first)
        };
        (first_ns, total_ns)
    }

    /// Mean service time in ns for requests of the given size on the reference accelerator.
    pub fn mean_ns(&self, context: u32, generated: u32) -> f64 {
        match self {
            ServiceTime::Exponential { mean, .. }
            | ServiceTime::Lognormal { mean, .. }
            | ServiceTime::Empirical { mean, .. } => *mean,
            ServiceTime::Deterministic(t) => *t,
            ServiceTime::Llm {
                prefill,
                decode,
                overhead,
            } => overhead + prefill * f64::from(context) + decode * f64::from(generated),
            ServiceTime::Batched(spec) => spec.alone_ns(context, generated),
        }
    }

    /// The batched model, if this is one.
    pub fn batched(&self) -> Option<&BatchedSpec> {
        match self {
            ServiceTime::Batched(spec) => Some(spec),
            _ => None,
        }
    }
}
