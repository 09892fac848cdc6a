//! Judging `expect` assertions ([`Expectation`], written in the scenario file) against a run's
//! [`Summary`], for `hybridsim check`, the CI gate.
//!
//! Bounds: `below` and `above` are strict (a p99 of exactly 800 ms is not below 800 ms);
//! `at_least` and `at_most` are inclusive, so `at_most: 0` means none. A figure the summary gives
//! as `null` fails its assertion with the reason: a latency or an SLO attainment without requests,
//! a goodput without GPU-hours held, a recovery or a backlog drain that did not happen before the
//! end of the run (the summary's `notes` say why). An incident that broke no SLO and interrupted
//! no job recovered at once: its time to recover is 0, not `null`.
//!
//! An assertion that names a policy is judged on the run under that policy
//! ([`evaluate_by_policy`]) instead of the default (first-listed) policy's, and its text says so
//! (`slo_attainment(chat) under failover`).
//!
//! [`evaluate`] is a pure function of the assertions and the summary; names are resolved against
//! the scenario when it is loaded, so a typo never reaches a run.

use crate::kernel::SimDuration;
use crate::metrics::{LatencySummary, Summary};
use crate::scenario::expect::Expectation;

/// The judgement of one assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What was asserted, short: `latency(chat p99)`.
    pub assertion: String,
    /// The measured value with its unit (`1234 ms`), or `none` when the summary has no figure.
    pub measured: String,
    /// The bound with its comparison: `< 800 ms`, `> 0.99`, `≥ 10`, `≤ 100`.
    pub bound: String,
    /// Whether the assertion holds.
    pub passed: bool,
    /// One line naming the assertion and both values, or why there is no measured value:
    /// `latency(chat p99) measured 1234 ms, bound < 800 ms`.
    pub message: String,
}

/// Judges every assertion against `summary`, in order.
pub fn evaluate(expectations: &[Expectation], summary: &Summary) -> Vec<Verdict> {
    expectations.iter().map(|e| verdict(e, summary)).collect()
}

/// An assertion names a policy that `evaluate_by_policy` was given no run of (a bug of the
/// caller: the policies are checked when the scenario is loaded).
#[derive(Debug, thiserror::Error)]
#[error("no run under policy \"{0}\" to judge an assertion on")]
pub struct NoRun(pub String);

/// Judges every assertion on the run under its policy, in order. `runs` pairs policy names with
/// their runs' summaries, the default (first-listed) policy's first. An assertion without
/// `policy`, or naming the default, is judged on that run and written as by [`evaluate`]; one
/// naming another policy says so: `slo_attainment(chat) under failover`.
pub fn evaluate_by_policy(
    expectations: &[Expectation],
    runs: &[(&str, &Summary)],
) -> Result<Vec<Verdict>, NoRun> {
    let default = runs.first().map_or("", |(name, _)| *name);
    expectations
        .iter()
        .map(|expectation| {
            let other = expectation.policy().filter(|&policy| policy != default);
            let wanted = other.unwrap_or(default);
            let (_, summary) = runs
                .iter()
                .find(|(name, _)| *name == wanted)
                .ok_or_else(|| NoRun(wanted.to_string()))?;
            let assertion = match other {
                Some(policy) => format!("{} under {policy}", expectation.describe()),
                None => expectation.describe(),
            };
            Ok(judge_as(expectation, assertion, summary))
        })
        .collect()
}

fn quantile(latency: &LatencySummary, percentile: f64) -> Option<f64> {
    let at = |p: f64| (p - percentile).abs() < 1e-9;
    if at(50.0) {
        latency.p50
    } else if at(90.0) {
        latency.p90
    } else if at(95.0) {
        latency.p95
    } else if at(99.0) {
        latency.p99
    } else if at(99.9) {
        latency.p999
    } else {
        None
    }
}

/// A measured figure, or why there is none.
type Measured = Result<f64, String>;

/// The comparison an assertion makes.
#[derive(Clone, Copy)]
enum Bound {
    Below(f64),
    Above(f64),
    AtLeast(u64),
    AtMost(u64),
}

/// How values of an assertion are written.
#[derive(Clone, Copy)]
enum Unit {
    Millis,
    Duration,
    Usd,
    Share,
    Count,
}

impl Bound {
    fn holds(self, value: f64) -> bool {
        match self {
            Bound::Below(b) => value < b,
            Bound::Above(b) => value > b,
            Bound::AtLeast(n) => value >= n as f64,
            Bound::AtMost(n) => value <= n as f64,
        }
    }

    fn limit(self) -> f64 {
        match self {
            Bound::Below(b) | Bound::Above(b) => b,
            Bound::AtLeast(n) | Bound::AtMost(n) => n as f64,
        }
    }
}

impl Unit {
    /// `value` in this unit, with enough decimals that it does not read as `bound` unless it is.
    fn write(self, value: f64, bound: f64) -> String {
        match self {
            Unit::Millis => {
                let decimals = if value >= 100.0 {
                    0
                } else if value >= 10.0 {
                    1
                } else {
                    2
                };
                format!("{} ms", distinct(value, decimals, bound))
            }
            Unit::Duration => {
                let written = SimDuration::from_secs_f64(value).map(|d| d.to_string());
                written.unwrap_or_else(|_| format!("{value} s"))
            }
            Unit::Usd => format!("{} USD", distinct(value, 2, bound)),
            Unit::Share => distinct(value, 4, bound),
            Unit::Count => format!("{value:.0}"),
        }
    }

    /// The bound as written: `< 800 ms`, `> 0.99`, `≥ 10`.
    fn bound(self, bound: Bound) -> String {
        let sign = match bound {
            Bound::Below(_) => "<",
            Bound::Above(_) => ">",
            Bound::AtLeast(_) => "≥",
            Bound::AtMost(_) => "≤",
        };
        let value = bound.limit();
        let text = match self {
            Unit::Millis => format!("{value} ms"),
            Unit::Duration => {
                SimDuration::from_secs_f64(value).map_or_else(|_| format!("{value} s"), |d| d.to_string())
            }
            Unit::Usd => format!("{value} USD"),
            Unit::Share => format!("{value}"),
            Unit::Count => format!("{value:.0}"),
        };
        format!("{sign} {text}")
    }
}

/// `value` with at least `decimals` decimals, more (up to 9) while it would print as `bound`
/// without being equal to it.
fn distinct(value: f64, decimals: usize, bound: f64) -> String {
    let mut text = format!("{value:.decimals$}");
    for more in decimals + 1..=9 {
        if value == bound || text.parse::<f64>() != Ok(bound) {
            break;
        }
        text = format!("{value:.more$}");
    }
    text
}

fn judge(assertion: String, measured: Measured, bound: Bound, unit: Unit) -> Verdict {
    let bound_text = unit.bound(bound);
    match measured {
        Ok(value) => {
            let measured = unit.write(value, bound.limit());
            Verdict {
                message: format!("{assertion} measured {measured}, bound {bound_text}"),
                passed: bound.holds(value),
                assertion,
                measured,
                bound: bound_text,
            }
        }
        Err(reason) => Verdict {
            message: format!("{assertion} has no measured value ({reason}), bound {bound_text}"),
            passed: false,
            assertion,
            measured: "none".into(),
            bound: bound_text,
        },
    }
}

fn millis(d: SimDuration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Judges one assertion against `summary`.
pub fn verdict(expectation: &Expectation, summary: &Summary) -> Verdict {
    judge_as(expectation, expectation.describe(), summary)
}

/// Judges an assertion against `summary`, written as `assertion`.
fn judge_as(expectation: &Expectation, assertion: String, summary: &Summary) -> Verdict {
    let no_service = |name: &str| format!("the run has no service \"{name}\"");
    match expectation {
        Expectation::Latency {
            service,
            percentile,
            component,
            origin,
            below,
            ..
        } => {
            let measured = summary
                .services
                .get(service)
                .ok_or_else(|| no_service(service))
                .and_then(|s| match origin {
                    Some(origin) => s
                        .latency_ms_by_origin
                        .get(origin)
                        .ok_or_else(|| format!("service \"{service}\" has no demand from \"{origin}\"")),
                    None => s
                        .latency_ms
                        .get(component.as_str())
                        .ok_or_else(|| format!("no {} latency was recorded", component.as_str())),
                })
                .and_then(|latency| {
                    quantile(latency, *percentile).ok_or_else(|| "no request was measured".to_string())
                });
            judge(assertion, measured, Bound::Below(millis(*below)), Unit::Millis)
        }
        Expectation::SloAttainment { service, above, .. } => {
            let measured = summary
                .services
                .get(service)
                .ok_or_else(|| no_service(service))
                .and_then(|s| {
                    s.slo
                        .as_ref()
                        .ok_or_else(|| format!("service \"{service}\" has no SLO"))
                })
                .and_then(|slo| {
                    slo.attainment
                        .ok_or_else(|| "no request ended after the warm-up".to_string())
                });
            judge(assertion, measured, Bound::Above(*above), Unit::Share)
        }
        Expectation::Cost {
            category,
            tier,
            site,
            class,
            below,
            ..
        } => {
            let cost = &summary.cost;
            // A key missing from a breakdown was never charged: it cost nothing.
            let part = |map: Option<f64>| Ok(map.unwrap_or(0.0));
            let measured = if let Some(category) = category {
                part(cost.by_category.get(category.as_str()).copied())
            } else if let Some(tier) = tier {
                part(cost.by_tier.get(tier.as_str()).copied())
            } else if let Some(site) = site {
                part(cost.by_site.get(site).copied())
            } else if let Some(class) = class {
                part(cost.by_class.get(class.as_str()).copied())
            } else {
                Ok(cost.total_usd)
            };
            judge(assertion, measured, Bound::Below(below.usd()), Unit::Usd)
        }
        Expectation::TimeToRecover { incident, below, .. } => {
            let measured = incident_figure(summary, incident, "time_to_recover_s", |i| i.time_to_recover_s);
            judge(
                assertion,
                measured,
                Bound::Below(below.as_secs_f64()),
                Unit::Duration,
            )
        }
        Expectation::BacklogDrain { incident, below, .. } => {
            let measured = incident_figure(summary, incident, "backlog_drain_s", |i| i.backlog_drain_s);
            judge(
                assertion,
                measured,
                Bound::Below(below.as_secs_f64()),
                Unit::Duration,
            )
        }
        Expectation::Goodput { class, above, .. } => {
            let measured = match class {
                Some(class) => summary
                    .jobs
                    .get(class.as_str())
                    .ok_or_else(|| format!("no {} job was submitted", class.as_str()))
                    .and_then(|jobs| jobs.goodput.ok_or_else(|| "no GPU-hours were held".to_string())),
                None => {
                    let (useful, held) = summary.jobs.values().fold((0.0, 0.0), |(u, h), jobs| {
                        (u + jobs.gpu_hours.useful, h + jobs.gpu_hours.held)
                    });
                    if held > 0.0 {
                        Ok(useful / held)
                    } else {
                        Err("no GPU-hours were held by jobs".to_string())
                    }
                }
            };
            judge(assertion, measured, Bound::Above(*above), Unit::Share)
        }
        Expectation::JobsCompleted { class, at_least, .. } => {
            let completed: u64 = summary
                .jobs
                .iter()
                .filter(|(name, _)| class.is_none_or(|c| c.as_str() == **name))
                .map(|(_, jobs)| jobs.completed)
                .sum();
            judge(
                assertion,
                Ok(completed as f64),
                Bound::AtLeast(*at_least),
                Unit::Count,
            )
        }
        Expectation::RequestsFailed { service, at_most, .. } => {
            let measured = match service {
                Some(name) => summary
                    .services
                    .get(name)
                    .map(|s| s.requests.failed as f64)
                    .ok_or_else(|| no_service(name)),
                None => Ok(summary.services.values().map(|s| s.requests.failed).sum::<u64>() as f64),
            };
            judge(assertion, measured, Bound::AtMost(*at_most), Unit::Count)
        }
    }
}

/// A figure of the incident named `name`, or why there is none (the summary's note).
fn incident_figure(
    summary: &Summary,
    name: &str,
    key: &str,
    figure: impl Fn(&crate::metrics::recovery::IncidentSummary) -> Option<f64>,
) -> Measured {
    let incident = summary
        .incidents
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| format!("the run has no incident \"{name}\""))?;
    figure(incident).ok_or_else(|| {
        incident
            .notes
            .get(key)
            .cloned()
            .unwrap_or_else(|| "the summary gives no figure".to_string())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::kernel::{KernelStats, StopReason};
    use crate::metrics::job::{GpuHours, JobClassSummary};
    use crate::metrics::recovery::IncidentSummary;
    use crate::metrics::{
        CostSummary, EstateSummary, ReplicaSummary, RequestCounts, ServiceSummary, SloSummary,
    };

    fn latency(p99: Option<f64>) -> LatencySummary {
        LatencySummary {
            mean: p99.map(|_| 400.0),
            p50: p99.map(|_| 300.0),
            p90: p99.map(|_| 500.0),
            p95: p99.map(|_| 600.0),
            p99,
            p999: p99.map(|p| p * 2.0),
        }
    }

    fn service(failed: u64, p99: Option<f64>, attainment: Option<f64>) -> ServiceSummary {
        ServiceSummary {
            requests: RequestCounts {
                arrived: 1000,
                served: 1000 - failed,
                degraded: 0,
                failed,
                in_flight: 0,
            },
            failed_by_reason: BTreeMap::new(),
            latency_ms: [
                ("e2e", latency(p99)),
                ("ttft", latency(p99.map(|p| p / 10.0))),
                ("tpot", latency(p99.map(|p| p / 100.0))),
            ]
            .into_iter()
            .collect(),
            latency_ms_by_origin: [("users-eu".to_string(), latency(Some(1234.0)))]
                .into_iter()
                .collect(),
            slo: attainment.map(|a| SloSummary {
                target_ms: 800.0,
                percentile: 99.0,
                attainment: Some(a),
                measured_ms: p99,
                windows_met: None,
            }),
            cost_usd: 0.0,
            transfer: Default::default(),
            cost_per_1k_requests_usd: None,
            utilization: None,
            wait_probability: None,
            replicas: ReplicaSummary::default(),
            tokens: None,
        }
    }

    fn jobs(completed: u64, useful: f64, held: f64) -> JobClassSummary {
        JobClassSummary {
            submitted: completed + 1,
            completed,
            failed: 0,
            deadline_missed: 0,
            interrupted: 0,
            interruptions: BTreeMap::new(),
            waiting_at_end: 0,
            running_at_end: 1,
            gpu_hours: GpuHours {
                useful,
                held,
                ..GpuHours::default()
            },
            goodput: (held > 0.0).then(|| useful / held),
            wait_h: None,
            cost_usd: 0.0,
            transfer: Default::default(),
        }
    }

    fn incident(name: &str, recover: Option<f64>) -> IncidentSummary {
        let mut notes = BTreeMap::new();
        if recover.is_none() {
            notes.insert(
                "time_to_recover_s",
                "an interrupted job did not compute again".to_string(),
            );
        }
        IncidentSummary {
            name: name.into(),
            kind: "site_outage",
            start_s: 0.0,
            end_s: Some(600.0),
            time_to_detect_s: None,
            time_to_recover_s: recover,
            backlog_drain_s: Some(120.0),
            requests_failed: 0,
            requests_degraded: 0,
            jobs_interrupted: 0,
            jobs_failed_over: 0,
            gpu_hours_lost: 0.0,
            cost_during_usd: 0.0,
            affected_services: Vec::new(),
            notes,
        }
    }

    /// A hand-made summary: chat p99 812.5 ms (origin users-eu 1234 ms), attainment 0.985, 30
    /// failed; idle has no requests; total cost 5000 USD with 120 USD of egress; training jobs
    /// 12 completed at goodput 0.9, fine-tuning 3 at 0.5; "eu-outage" recovered in 900 s,
    /// "stuck" never.
    fn summary() -> Summary {
        Summary {
            schema_version: crate::metrics::SCHEMA_VERSION,
            scenario: "hand-made".into(),
            seed: 1,
            rng: "test",
            policy: "lowest_latency".into(),
            horizon_s: 3600.0,
            end_time_s: 3600.0,
            stop_reason: StopReason::Horizon,
            kernel: KernelStats {
                events_processed: 0,
                events_scheduled: 0,
                events_pending: 0,
                peak_queue_len: 0,
            },
            estate: EstateSummary {
                sites: 1,
                pools: 1,
                links: 0,
                datasets: 0,
                gpus: BTreeMap::new(),
            },
            cost: CostSummary {
                total_usd: 5000.0,
                by_category: [("compute", 4880.0), ("egress", 120.0)].into_iter().collect(),
                by_tier: [("spot", 700.0)].into_iter().collect(),
                by_site: [("fra".to_string(), 3000.0)].into_iter().collect(),
                by_class: [("training", 4000.0)].into_iter().collect(),
                transfer_share: Some(120.0 / 5000.0),
            },
            services: [
                ("chat".to_string(), service(30, Some(812.5), Some(0.985))),
                ("idle".to_string(), service(0, None, None)),
            ]
            .into_iter()
            .collect(),
            jobs: [
                ("training", jobs(12, 90.0, 100.0)),
                ("fine_tuning", jobs(3, 10.0, 20.0)),
            ]
            .into_iter()
            .collect(),
            incidents: vec![incident("eu-outage", Some(900.0)), incident("stuck", None)],
            invariants: crate::metrics::InvariantSummary::held(),
        }
    }

    fn parse(text: &str) -> Expectation {
        crate::vocab::ron_options()
            .from_str(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn judge(text: &str) -> Verdict {
        verdict(&parse(text), &summary())
    }

    #[test]
    fn every_kind_passes_and_fails_on_its_figure() {
        let cases: &[(&str, bool, &str)] = &[
            (
                r#"latency(service: "chat", percentile: 99.0, below: "900ms")"#,
                true,
                "812 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, below: "800ms")"#,
                false,
                "812 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.9, below: "1.6s")"#,
                false,
                "1625 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 50, below: "301ms")"#,
                true,
                "300 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, component: ttft, below: "82ms")"#,
                true,
                "81.2 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, component: ttft, below: "81ms")"#,
                false,
                "81.2 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, component: tpot, below: "9ms")"#,
                true,
                "8.12 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, component: tpot, below: "8ms")"#,
                false,
                "8.12 ms",
            ),
            (
                r#"latency(service: "chat", percentile: 99.0, origin: "users-eu", below: "1s")"#,
                false,
                "1234 ms",
            ),
            (r#"slo_attainment(service: "chat", above: 0.98)"#, true, "0.9850"),
            (r#"slo_attainment(service: "chat", above: 0.99)"#, false, "0.9850"),
            (r#"cost(below: "5001 USD")"#, true, "5000.00 USD"),
            (r#"cost(below: "4999.99 USD")"#, false, "5000.00 USD"),
            (r#"cost(category: egress, below: "100 USD")"#, false, "120.00 USD"),
            (r#"cost(category: storage, below: "1 USD")"#, true, "0.00 USD"),
            (r#"cost(tier: spot, below: "800 USD")"#, true, "700.00 USD"),
            (r#"cost(site: "fra", below: "2000 USD")"#, false, "3000.00 USD"),
            (r#"cost(class: training, below: "4500 USD")"#, true, "4000.00 USD"),
            (
                r#"time_to_recover(incident: "eu-outage", below: "15m 1s")"#,
                true,
                "15m",
            ),
            (
                r#"time_to_recover(incident: "eu-outage", below: "10m")"#,
                false,
                "15m",
            ),
            (r#"backlog_drain(incident: "eu-outage", below: "5m")"#, true, "2m"),
            (
                r#"backlog_drain(incident: "eu-outage", below: "1m")"#,
                false,
                "2m",
            ),
            ("goodput(class: training, above: 0.85)", true, "0.9000"),
            ("goodput(class: fine_tuning, above: 0.85)", false, "0.5000"),
            ("goodput(above: 0.8)", true, "0.8333"),
            ("goodput(above: 0.85)", false, "0.8333"),
            ("jobs_completed(class: training, at_least: 10)", true, "12"),
            ("jobs_completed(class: fine_tuning, at_least: 10)", false, "3"),
            ("jobs_completed(at_least: 15)", true, "15"),
            ("jobs_completed(at_least: 16)", false, "15"),
            (r#"requests_failed(service: "chat", at_most: 100)"#, true, "30"),
            (r#"requests_failed(service: "chat", at_most: 29)"#, false, "30"),
            (r#"requests_failed(service: "idle", at_most: 0)"#, true, "0"),
            ("requests_failed(at_most: 30)", true, "30"),
        ];
        for (text, passes, measured) in cases {
            let verdict = judge(text);
            assert_eq!(verdict.passed, *passes, "{text}: {verdict:?}");
            assert_eq!(verdict.measured, *measured, "{text}");
        }
    }

    #[test]
    fn below_and_above_are_strict_at_least_and_at_most_inclusive() {
        assert!(!judge(r#"latency(service: "chat", percentile: 99.0, below: "812.5ms")"#).passed);
        assert!(!judge(r#"cost(below: "5000 USD")"#).passed);
        assert!(!judge("goodput(class: training, above: 0.9)").passed);
        assert!(judge("jobs_completed(class: training, at_least: 12)").passed);
        assert!(judge(r#"requests_failed(service: "chat", at_most: 30)"#).passed);
        assert!(!judge(r#"time_to_recover(incident: "eu-outage", below: "15m")"#).passed);
    }

    #[test]
    fn a_failure_message_names_the_assertion_and_both_numbers() {
        let verdict = judge(r#"latency(service: "chat", percentile: 99.0, below: "800ms")"#);
        assert_eq!(verdict.assertion, "latency(chat p99)");
        assert_eq!(verdict.bound, "< 800 ms");
        assert_eq!(
            verdict.message,
            "latency(chat p99) measured 812 ms, bound < 800 ms"
        );
        let verdict = judge("jobs_completed(class: fine_tuning, at_least: 10)");
        assert_eq!(
            verdict.message,
            "jobs_completed(fine_tuning) measured 3, bound ≥ 10"
        );
        let verdict = judge(r#"cost(category: egress, below: "100 USD")"#);
        assert_eq!(
            verdict.message,
            "cost(category egress) measured 120.00 USD, bound < 100 USD"
        );
    }

    #[test]
    fn a_measured_value_near_its_bound_never_prints_as_the_bound() {
        let verdict = judge(r#"latency(service: "chat", percentile: 99.0, below: "812ms")"#);
        assert_eq!(verdict.measured, "812.5 ms");
        assert_eq!(distinct(0.98996, 4, 0.99), "0.98996");
        assert_eq!(distinct(0.985, 4, 0.99), "0.9850");
        assert_eq!(distinct(0.99, 4, 0.99), "0.9900");
        assert_eq!(distinct(4999.999, 2, 5000.0), "4999.999");
    }

    #[test]
    fn a_missing_figure_fails_with_the_reason() {
        let cases = [
            (
                r#"time_to_recover(incident: "stuck", below: "1h")"#,
                "did not compute again",
            ),
            (
                r#"latency(service: "idle", percentile: 99.0, below: "1s")"#,
                "no request was measured",
            ),
            (r#"slo_attainment(service: "idle", above: 0.5)"#, "has no SLO"),
            (
                "goodput(class: embedding, above: 0.5)",
                "no embedding job was submitted",
            ),
            (
                r#"requests_failed(service: "gone", at_most: 5)"#,
                "no service \"gone\"",
            ),
        ];
        for (text, reason) in cases {
            let verdict = judge(text);
            assert!(!verdict.passed, "{text}");
            assert_eq!(verdict.measured, "none");
            assert!(
                verdict.message.contains(reason) && verdict.message.contains("bound"),
                "{text}: {}",
                verdict.message
            );
        }
    }

    #[test]
    fn every_kind_takes_a_policy() {
        let kinds = [
            r#"latency(service: "chat", percentile: 99.0, below: "1s""#,
            r#"slo_attainment(service: "chat", above: 0.9"#,
            r#"cost(category: egress, below: "1 USD""#,
            r#"time_to_recover(incident: "eu-outage", below: "1h""#,
            r#"backlog_drain(incident: "eu-outage", below: "1h""#,
            "goodput(above: 0.5",
            "jobs_completed(class: training, at_least: 1",
            "requests_failed(at_most: 0",
        ];
        for kind in kinds {
            assert_eq!(parse(&format!("{kind})")).policy(), None, "{kind}");
            let named = parse(&format!(r#"{kind}, policy: "failover")"#));
            assert_eq!(named.policy(), Some("failover"), "{kind}");
            assert_eq!(named.describe(), parse(&format!("{kind})")).describe());
        }
    }

    #[test]
    fn each_assertion_is_judged_on_the_run_of_its_policy_and_says_which() {
        let default = summary();
        let mut failover = summary();
        failover.policy = "failover".into();
        failover.cost.total_usd = 9000.0;
        let expectations = [
            parse(r#"cost(below: "6000 USD")"#),
            parse(r#"cost(below: "6000 USD", policy: "failover")"#),
            parse(r#"cost(below: "6000 USD", policy: "lowest_latency")"#),
        ];
        let runs = [("lowest_latency", &default), ("failover", &failover)];
        let verdicts = evaluate_by_policy(&expectations, &runs).unwrap();
        let passed: Vec<bool> = verdicts.iter().map(|v| v.passed).collect();
        assert_eq!(passed, [true, false, true]);
        assert_eq!(
            verdicts[0],
            verdict(&parse(r#"cost(below: "6000 USD")"#), &default)
        );
        assert_eq!(verdicts[1].assertion, "cost(total) under failover");
        assert_eq!(
            verdicts[1].message,
            "cost(total) under failover measured 9000.00 USD, bound < 6000 USD"
        );
        assert_eq!(verdicts[2].assertion, "cost(total)", "the default is not named");
        let error = evaluate_by_policy(&expectations, &runs[..1]).unwrap_err();
        assert_eq!(error.0, "failover");
    }

    #[test]
    fn evaluate_keeps_the_order_of_the_assertions() {
        let expectations = [
            parse("jobs_completed(at_least: 1)"),
            parse(r#"cost(below: "1 USD")"#),
        ];
        let verdicts = evaluate(&expectations, &summary());
        let passed: Vec<bool> = verdicts.iter().map(|v| v.passed).collect();
        assert_eq!(passed, [true, false]);
        assert_eq!(verdicts[1].assertion, "cost(total)");
    }
}
