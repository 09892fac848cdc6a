//! How fast flows move: max-min fair sharing of (link, direction) bandwidth by progressive
//! filling, and the Mathis et al. TCP bound for a route's loss and round trip.

use crate::kernel::SimDuration;

/// Maximum segment size assumed by the loss cap, in bytes.
const MSS_BYTES: f64 = 1460.0;
/// The constant of the Mathis et al. (1997) formula.
const MATHIS_CONSTANT: f64 = 1.22;

/// Max-min fair rates by progressive filling.
///
/// `capacities[r]` is resource `r`'s capacity, `flow_paths[f]` the resources flow `f` uses (a
/// resource listed twice carries the flow twice), `flow_caps[f]` flow `f`'s own limit (missing
/// caps are unlimited). All unfrozen flows rise together; a flow freezes when it reaches its cap
/// or when a resource on its path fills up. A flow with an empty path gets its cap (possibly
/// `f64::INFINITY`); a flow naming a resource beyond `capacities` gets 0. Negative or NaN
/// capacities and caps count as 0.
pub fn max_min_rates(capacities: &[f64], flow_paths: &[Vec<usize>], flow_caps: &[f64]) -> Vec<f64> {
    let caps: Vec<f64> = (0..flow_paths.len())
        .map(|f| {
            flow_caps
                .get(f)
                .map_or(f64::INFINITY, |&c| non_negative_or_inf(c))
        })
        .collect();
    let mut left: Vec<f64> = capacities.iter().map(|&c| non_negative_or_inf(c)).collect();
    let mut rates = vec![0.0; flow_paths.len()];
    let mut frozen: Vec<bool> = flow_paths
        .iter()
        .map(|path| path.iter().any(|&r| r >= left.len()))
        .collect();
    for (f, path) in flow_paths.iter().enumerate() {
        if path.is_empty() {
            rates[f] = caps[f];
            frozen[f] = true;
        }
    }
    while frozen.contains(&false) {
        let users = count_users(left.len(), flow_paths, &frozen);
        let step = fill_step(&left, &users, &caps, &rates, &frozen);
        let saturated: Vec<bool> = left
            .iter()
            .zip(&users)
            .map(|(&l, &u)| u > 0 && l / u as f64 <= step)
            .collect();
        for ((l, &u), &full) in left.iter_mut().zip(&users).zip(&saturated) {
            *l = if full {
                0.0
            } else {
                (*l - step * u as f64).max(0.0)
            };
        }
        for (f, path) in flow_paths.iter().enumerate() {
            if frozen[f] {
                continue;
            }
            let at_cap = caps[f] - rates[f] <= step;
            rates[f] = if at_cap { caps[f] } else { rates[f] + step };
            frozen[f] = at_cap || path.iter().any(|&r| saturated[r]);
        }
    }
    rates
}

/// How many times unfrozen flows use each resource.
fn count_users(resources: usize, flow_paths: &[Vec<usize>], frozen: &[bool]) -> Vec<usize> {
    let mut users = vec![0; resources];
    for (path, _) in flow_paths.iter().zip(frozen).filter(|(_, frozen)| !**frozen) {
        for &r in path {
            users[r] += 1;
        }
    }
    users
}

/// The largest common raise of all unfrozen flows: until a resource fills or a flow hits its cap.
fn fill_step(left: &[f64], users: &[usize], caps: &[f64], rates: &[f64], frozen: &[bool]) -> f64 {
    let by_resource = left
        .iter()
        .zip(users)
        .filter(|(_, u)| **u > 0)
        .map(|(&l, &u)| l / u as f64);
    let by_cap = caps
        .iter()
        .zip(rates)
        .zip(frozen)
        .filter(|(_, frozen)| !**frozen)
        .map(|((c, r), _)| c - r);
    by_resource.chain(by_cap).fold(f64::INFINITY, f64::min)
}

/// The Mathis et al. bound in bits per second: `streams × MSS·8 / RTT × 1.22 / √p`; unlimited
/// when `p = 0` or `RTT = 0`.
pub(super) fn loss_cap_bps(streams: u32, rtt: SimDuration, loss: f64) -> f64 {
    let rtt_seconds = rtt.as_secs_f64();
    if loss <= 0.0 || rtt_seconds <= 0.0 {
        return f64::INFINITY;
    }
    f64::from(streams.max(1)) * MSS_BYTES * 8.0 / rtt_seconds * MATHIS_CONSTANT / loss.sqrt()
}

/// `x` if non-negative (infinity included), else 0 (NaN included).
fn non_negative_or_inf(x: f64) -> f64 {
    if x >= 0.0 { x } else { 0.0 }
}
