//! Wall time per request against the size of the estate: six hours of the synthetic estate
//! (`hybridsim::scenario::synthetic`, what `examples/estate.rs` writes) at 10, 20, 50, 100 and
//! 200 sites, run through `world::simulate` with all metrics on. Criterion reports requests per
//! second of wall time for each size; the request path is flat when the figures are equal, since
//! each request is routed among its own region's sites whatever the estate's size.
//!
//! Memory against the horizon is measured on whole runs through the CLI (peak RSS is a property
//! of the process, not of an iteration): the README's scale table gives the commands.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hybridsim::scenario::load_str;
use hybridsim::scenario::synthetic::{EstateShape, estate};
use hybridsim::world::simulate;

fn requests_per_second_against_sites(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    for sites in [10, 20, 50, 100, 200] {
        let shape = EstateShape::new(sites, 1);
        let text = estate(&shape).replace("horizon: \"24h\"", "horizon: \"6h\"");
        let scenario = load_str(&text, "estate.ron".as_ref()).expect("the synthetic estate is valid");
        let resolved = scenario.resolve().expect("it reads no file");
        let requests: u64 = simulate(&resolved, shape.seed)
            .expect("runs")
            .summary
            .services
            .values()
            .map(|s| s.requests.arrived)
            .sum();
        group.throughput(Throughput::Elements(requests));
        group.bench_function(format!("estate/{sites}-sites/6h"), |b| {
            b.iter(|| black_box(simulate(&resolved, shape.seed)))
        });
    }
    group.finish();
}

criterion_group!(benches, requests_per_second_against_sites);
criterion_main!(benches);
