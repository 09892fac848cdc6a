//! Study throughput: 16 day-long runs of the `eu-outage-single` drill swept on one thread (the
//! baseline) and on two, so the parallel speed-up is read as a ratio measured in the same run;
//! and the merge of 100 shard folders of a 100-run study, against sweeping it whole.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hybridsim::experiment::study::{self, sweep};

const STUDY: &str = "benches/fixtures/drill-replications.study.ron";

fn options(shard: sweep::Shard) -> sweep::SweepOptions<'static> {
    sweep::SweepOptions {
        shard,
        keep_runs: 0,
        stop_on_invalid: true,
        progress: &|_, _| {},
        files: &hybridsim::report::StudyReport,
        notify: &|_| {},
    }
}

fn threads(c: &mut Criterion) {
    let study = study::load(Path::new(STUDY)).expect("the benchmark study is valid");
    let out = tempfile::tempdir().expect("a temp folder");
    let mut group = c.benchmark_group("sweep 16 day-long drill runs");
    group.sample_size(10).measurement_time(Duration::from_secs(60));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool");
        group.bench_function(format!("{threads} thread(s)"), |b| {
            b.iter(|| {
                pool.install(|| sweep::sweep(&study, &out.path().join("s"), &options(sweep::Shard::WHOLE)))
            })
        });
    }
    group.finish();
}

fn merge(c: &mut Criterion) {
    // 100 runs of a tiny study, so that the shards' bookkeeping dominates.
    let dir = tempfile::tempdir().expect("a temp folder");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/validation/mmc.ron");
    let text = format!(
        "(name: \"merge\", scenario: \"{}\", parameters: [(name: \"horizon\", path: \"horizon\", values: [\"5m\"])], replications: 100)",
        base.display()
    );
    let path = dir.path().join("merge.study.ron");
    std::fs::write(&path, text).expect("the study is written");
    let study = study::load(&path).expect("the merge study is valid");
    let shards: Vec<_> = (0..100)
        .map(|index| {
            let folder = dir.path().join(format!("shard-{index}"));
            sweep::sweep(&study, &folder, &options(sweep::Shard { index, count: 100 })).expect("a shard");
            folder
        })
        .collect();
    let mut group = c.benchmark_group("100 shards of a 100-run study");
    group.sample_size(10);
    group.bench_function("sweep whole (baseline)", |b| {
        b.iter(|| sweep::sweep(&study, &dir.path().join("whole"), &options(sweep::Shard::WHOLE)))
    });
    group.bench_function("merge the shards", |b| {
        b.iter(|| {
            sweep::merge(
                &shards,
                &dir.path().join("merged"),
                &hybridsim::report::StudyReport,
                &|_| {},
            )
        })
    });
    group.finish();
}

criterion_group!(benches, threads, merge);
criterion_main!(benches);
