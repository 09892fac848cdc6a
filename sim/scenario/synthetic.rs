//! A synthetic estate of any size, written as a scenario file: what the scale benchmark and
//! `examples/estate.rs` run to measure wall time and memory against the number of sites and
//! the horizon.
//!
//! The estate is made of regions of up to ten sites, each laid out the same way: four cloud
//! sites (reserved, on-demand and spot H100s), two owned data centres (H100s with GPU failures
//! and repairs), a colocation cage (owned A100s) and three edge sites where users' requests
//! enter and small owned L4s stand by. Each region serves its own assistant from its cloud and
//! owned sites to its edge sites (EU regions with EU residency) with an edge cache as the
//! fallback, and runs fine-tuning jobs on owned and on-demand GPUs and preemptible batch jobs on
//! spot, all with checkpoints. Region hubs form a ring of long-haul links. Incidents recur
//! through the horizon in every region: a cloud site outage, a spot price spike, a degraded
//! link and an edge backhaul cut. So the work per request stays the same as regions are added
//! (a request is routed among its own region's sites), while the estate, the ledger and the
//! per-window figures grow with the sites.
//!
//! The text is a function of the shape alone: the same shape gives the same bytes.

use std::fmt::Write;

/// Sites per region.
const REGION: usize = 10;

/// What a region's site at each position is.
const LAYOUT: [Position; REGION] = [
    Position::Cloud,
    Position::Edge,
    Position::OnPrem,
    Position::Cloud,
    Position::Colo,
    Position::Edge,
    Position::Cloud,
    Position::OnPrem,
    Position::Edge,
    Position::Cloud,
];

/// Jurisdictions by area: regions cycle through the areas, and each area through its countries.
const AREAS: [(&str, &[&str]); 3] = [
    ("eu", &["de", "fr", "ie", "nl", "se", "pl", "it", "es"]),
    ("us", &["va", "oh", "or", "ca", "tx", "ga"]),
    ("ap", &["sg", "jp", "au", "in", "kr"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Cloud,
    OnPrem,
    Colo,
    Edge,
}

/// The size of a synthetic estate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstateShape {
    /// Sites in all (at least two: a region needs a cloud site and an edge site).
    pub sites: usize,
    /// Horizon in days.
    pub days: u32,
    /// Metrics window in minutes.
    pub window_minutes: u32,
    /// The master seed.
    pub seed: u64,
}

impl EstateShape {
    /// `sites` sites over `days` days, hour windows, seed 1.
    pub fn new(sites: usize, days: u32) -> Self {
        EstateShape {
            sites: sites.max(2),
            days: days.max(1),
            window_minutes: 60,
            seed: 1,
        }
    }

    fn regions(&self) -> usize {
        self.sites.div_ceil(REGION)
    }

    /// The sites of region `r`, with their positions, as `(name, position)`.
    fn region_sites(&self, r: usize) -> impl Iterator<Item = (String, Position)> + '_ {
        let first = r * REGION;
        let count = REGION.min(self.sites - first);
        LAYOUT[..count].iter().enumerate().map(move |(i, &position)| {
            let kind = match position {
                Position::Cloud => "cloud",
                Position::OnPrem => "dc",
                Position::Colo => "colo",
                Position::Edge => "edge",
            };
            (format!("r{r}-{kind}-{i}"), position)
        })
    }

    fn jurisdiction(r: usize) -> (&'static str, String) {
        let (area, countries) = AREAS[r % AREAS.len()];
        let country = countries[(r / AREAS.len()) % countries.len()];
        (area, format!("{area}/{country}"))
    }

    /// Requests a year the demand is expected to bring: three edge sites a region at a mean of
    /// 0.65 requests per second each.
    pub fn requests_per_year(&self) -> f64 {
        let edges: usize = (0..self.regions())
            .map(|r| self.region_sites(r).filter(|(_, p)| *p == Position::Edge).count())
            .sum();
        edges as f64 * 0.65 * 365.0 * 86_400.0
    }
}

/// The scenario file of `shape`, in RON.
pub fn estate(shape: &EstateShape) -> String {
    let mut out = String::with_capacity(1024 * shape.sites);
    let horizon_h = u64::from(shape.days) * 24;
    // Room for the demand and its events; memory keeps its default bound.
    let requests = (shape.requests_per_year() * f64::from(shape.days) / 365.0 * 2.0) as u64;
    let _ = write!(
        out,
        "#![enable(implicit_some)]\n(\n    name: \"estate-{sites}-sites-{days}d\",\n    \
         description: \"A synthetic hybrid estate of {sites} sites in {regions} regions over {days} days (scenario::synthetic).\",\n    \
         horizon: \"{horizon_h}h\",\n    seed: {seed},\n    metrics: (window: \"{window}m\"),\n    \
         limits: (requests: {requests}, events: {events}),\n    \
         accelerators: [(name: \"H100\", memory: \"80GB\"), (name: \"A100\", memory: \"80GB\", speed: {{fine_tuning: 0.5, batch_inference: 0.5}}), (name: \"L4\", memory: \"24GB\", speed: {{batch_inference: 0.2}})],\n",
        sites = shape.sites,
        regions = shape.regions(),
        days = shape.days,
        seed = shape.seed,
        window = shape.window_minutes,
        requests = requests.max(1_000_000),
        events = requests
            .max(1_000_000)
            .saturating_mul(20)
            .saturating_add(1_000_000_000),
    );
    write_sites(&mut out, shape);
    write_pools(&mut out, shape);
    write_links(&mut out, shape);
    write_services(&mut out, shape);
    write_jobs(&mut out, shape);
    write_incidents(&mut out, shape);
    out.push_str(")\n");
    out
}

fn write_sites(out: &mut String, shape: &EstateShape) {
    out.push_str("    sites: [\n");
    for r in 0..shape.regions() {
        let (_, jurisdiction) = EstateShape::jurisdiction(r);
        for (name, position) in shape.region_sites(r) {
            let (kind, egress) = match position {
                Position::Cloud => ("cloud", "0.09"),
                Position::OnPrem => ("on_prem", "0.00"),
                Position::Colo => ("colo", "0.02"),
                Position::Edge => ("edge", "0.00"),
            };
            let _ = writeln!(
                out,
                "        (name: \"{name}\", kind: {kind}, jurisdiction: \"{jurisdiction}\", egress_price: \"{egress} USD/GB\"),"
            );
        }
    }
    out.push_str("    ],\n");
}

fn write_pools(out: &mut String, shape: &EstateShape) {
    out.push_str("    pools: [\n");
    for r in 0..shape.regions() {
        for (name, position) in shape.region_sites(r) {
            let pool = match position {
                Position::Cloud => format!(
                    "(site: \"{name}\", accelerator: \"H100\", reserved: (count: 16, price: \"3.20 USD/h\"), \
                     on_demand: (limit: 64, price: \"6.98 USD/h\"), \
                     spot: (limit: 64, price: \"2.10 USD/h\", notice: \"2m\", preemption: rate(\"0.005/h\"), reclaimed_for: \"1h\"))"
                ),
                Position::OnPrem => format!(
                    "(site: \"{name}\", accelerator: \"H100\", size: 32, \
                     owned: (count: 32, capex_per_gpu: \"40000 USD\", lifetime: \"4y\", power_per_gpu: \"1.4kW\", pue: 1.3, energy_price: \"0.18 USD/kWh\"), \
                     failures: (gpu_mtbf: \"50000h\", repair: \"3d\"))"
                ),
                Position::Colo => format!(
                    "(site: \"{name}\", accelerator: \"A100\", size: 32, \
                     owned: (count: 32, capex_per_gpu: \"15000 USD\", lifetime: \"5y\", power_per_gpu: \"0.6kW\", pue: 1.4, energy_price: \"0.22 USD/kWh\"), \
                     failures: (gpu_mtbf: \"50000h\", repair: \"2d\"))"
                ),
                Position::Edge => format!(
                    "(site: \"{name}\", accelerator: \"L4\", size: 4, \
                     owned: (count: 4, capex_per_gpu: \"3500 USD\", lifetime: \"4y\", power_per_gpu: \"0.1kW\", pue: 1.6, energy_price: \"0.25 USD/kWh\"))"
                ),
            };
            let _ = writeln!(out, "        {pool},");
        }
    }
    out.push_str("    ],\n");
}

/// The region's hub (its first site) links to every other site of the region; an edge site also
/// links to the nearest compute site after it; compute sites are chained; hubs form a ring.
fn write_links(out: &mut String, shape: &EstateShape) {
    out.push_str("    links: [\n");
    let mut link = |a: &str, b: &str, bandwidth: &str, latency_ms: usize, price: &str| {
        let _ = writeln!(
            out,
            "        (a: \"{a}\", b: \"{b}\", bandwidth: \"{bandwidth}\", latency: \"{latency_ms}ms\", price: \"{price} USD/GB\"),"
        );
    };
    let hubs: Vec<String> = (0..shape.regions())
        .filter_map(|r| shape.region_sites(r).next().map(|(name, _)| name))
        .collect();
    for r in 0..shape.regions() {
        let sites: Vec<(String, Position)> = shape.region_sites(r).collect();
        let hub = &sites[0].0;
        let mut previous_compute: Option<&str> = None;
        for (i, (name, position)) in sites.iter().enumerate().skip(1) {
            match position {
                Position::Edge => {
                    link(hub, name, "1Gbps", 4 + i % 5, "0.00");
                    if let Some((next, _)) = sites[i + 1..].iter().find(|(_, p)| *p != Position::Edge) {
                        link(name, next, "1Gbps", 3 + i % 4, "0.00");
                    }
                }
                _ => {
                    link(hub, name, "40Gbps", 2 + i % 6, "0.02");
                    if let Some(before) = previous_compute {
                        link(before, name, "10Gbps", 3 + i % 3, "0.02");
                    }
                    previous_compute = Some(name);
                }
            }
        }
    }
    if hubs.len() > 1 {
        for (r, hub) in hubs.iter().enumerate() {
            let next = &hubs[(r + 1) % hubs.len()];
            if hubs.len() > 2 || r == 0 {
                link(hub, next, "100Gbps", 30 + (r * 7) % 50, "0.02");
            }
        }
    }
    out.push_str("    ],\n");
}

fn write_services(out: &mut String, shape: &EstateShape) {
    out.push_str("    services: [\n");
    for r in 0..shape.regions() {
        let (area, _) = EstateShape::jurisdiction(r);
        let sites: Vec<(String, Position)> = shape.region_sites(r).collect();
        let mut replicas = String::new();
        for (name, position) in &sites {
            let placement = match position {
                Position::Cloud => Some(("H100", "reserved", 2)),
                Position::OnPrem => Some(("H100", "owned", 2)),
                Position::Colo | Position::Edge => None,
            };
            if let Some((accelerator, tier, count)) = placement {
                let _ = write!(
                    replicas,
                    "(pool: \"{name}/{accelerator}\", tier: {tier}, count: {count}), "
                );
            }
        }
        let residency = if area == "eu" { ", residency: [\"eu\"]" } else { "" };
        let mut demand = String::new();
        for (i, (name, _)) in sites
            .iter()
            .enumerate()
            .filter(|(_, (_, p))| *p == Position::Edge)
        {
            let _ = write!(
                demand,
                "(origin: \"{name}\", arrivals: diurnal(peak: \"1/s\", trough: \"0.3/s\", peak_at: \"{}h\"){residency}), ",
                (10 + i) % 24
            );
        }
        let _ = writeln!(
            out,
            "        (name: \"assistant-r{r}\", model: (memory: \"140GB\", gpus_per_replica: 2, slots_per_replica: 16), \
             service_time: lognormal(median: \"2s\", sigma: 0.5), replicas: [{replicas}], demand: [{demand}], \
             slo: (percentile: 99.0, latency: \"8s\"), timeout: \"30s\", queue_limit: 64, \
             fallback: edge_cache(hit_ratio: 0.3, latency: \"40ms\")),"
        );
    }
    out.push_str("    ],\n");
}

fn write_jobs(out: &mut String, shape: &EstateShape) {
    out.push_str("    jobs: [\n");
    for r in 0..shape.regions() {
        let _ = writeln!(
            out,
            "        (name: \"ft-r{r}\", class: fine_tuning, priority: 5, tiers: [owned, on_demand], \
             arrivals: poisson(rate: \"2/d\", gpus: [(8, 0.7), (16, 0.3)], duration: lognormal(median: \"3h\", sigma: 0.6)), \
             checkpoint: (interval: \"30m\", write: \"1m\", restore: \"5m\")),"
        );
        let _ = writeln!(
            out,
            "        (name: \"batch-r{r}\", class: batch_inference, preemptible: true, tiers: [spot], \
             arrivals: poisson(rate: \"2/d\", gpus: [(8, 1.0)], duration: lognormal(median: \"2h\", sigma: 0.5)), \
             checkpoint: (interval: \"20m\", write: \"1m\", restore: \"2m\")),"
        );
    }
    out.push_str("    ],\n");
}

/// Every region has, each 30 days, a cloud outage, a spot price spike, a degraded link and an
/// edge backhaul cut, staggered so that regions do not all fail at once.
fn write_incidents(out: &mut String, shape: &EstateShape) {
    out.push_str("    incidents: [\n");
    let horizon_h = u64::from(shape.days) * 24;
    for r in 0..shape.regions() {
        let sites: Vec<(String, Position)> = shape.region_sites(r).collect();
        let cloud: Vec<&str> = sites
            .iter()
            .filter(|(_, p)| *p == Position::Cloud)
            .map(|(n, _)| n.as_str())
            .collect();
        let edge: Vec<&str> = sites
            .iter()
            .filter(|(_, p)| *p == Position::Edge)
            .map(|(n, _)| n.as_str())
            .collect();
        let hub = sites[0].0.as_str();
        let mut incident = |name: String, start: u64, duration: u64, kind: String| {
            if start + duration < horizon_h {
                let _ = writeln!(
                    out,
                    "        (name: \"{name}\", start: \"{start}h\", duration: \"{duration}h\", kind: {kind}),"
                );
            }
        };
        for month in 0..=horizon_h / 720 {
            let start = month * 720 + 24 + (r as u64 * 37) % 600;
            let outage = cloud[(month as usize) % cloud.len()];
            incident(
                format!("r{r} m{month} outage"),
                start,
                2,
                format!("site_outage(site: \"{outage}\")"),
            );
            incident(
                format!("r{r} m{month} spot spike"),
                start + 100,
                12,
                format!("price_shock(tier: spot, factor: 3.0, site: \"{outage}\")"),
            );
            if let Some(&site) = edge.get((month as usize) % edge.len().max(1)) {
                incident(
                    format!("r{r} m{month} backhaul"),
                    start + 200,
                    1,
                    format!("link_down(site: \"{site}\")"),
                );
                incident(
                    format!("r{r} m{month} congestion"),
                    start + 300,
                    3,
                    format!(
                        "link_degradation(link: \"{hub}--{site}\", bandwidth_factor: 0.2, added_latency: \"40ms\")"
                    ),
                );
            }
        }
    }
    out.push_str("    ],\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_shape_gives_the_same_text_and_sites_come_in_every_kind() {
        let shape = EstateShape::new(25, 40);
        let text = estate(&shape);
        assert_eq!(text, estate(&shape));
        for kind in ["cloud", "on_prem", "colo", "edge"] {
            assert!(text.contains(&format!("kind: {kind},")), "{kind}");
        }
        // Three regions: two of ten sites and one of five, with three, three and one edge sites.
        assert_eq!(shape.regions(), 3);
        assert_eq!(shape.requests_per_year(), 7.0 * 0.65 * 365.0 * 86_400.0);
    }
}
