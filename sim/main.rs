//! The `hybridsim` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hybridsim::experiment::compare::{
    CHARTED_RUNS, CompareError, Comparison, RunFigures, RunPlan, Seeds, plan, resolve_all, run_plan,
};
use hybridsim::metrics::Summary;
use hybridsim::output::{self, Notice, RunInfo};
use hybridsim::report::figures::RunCurves;
use hybridsim::report::{ComparedRun, begin_comparison, finish_comparison, write_compared_run, write_run};
use hybridsim::scenario::{self, Resolved, Scenario, TraceCache};
use hybridsim::world::{PROGRESS_STEPS, RunError};
use hybridsim::{exit, world};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

/// The scenario `run` uses when none is given; compiled in so the binary works from any folder.
const QUICKSTART: &str = include_str!("../scenarios/quickstart.ron");
const QUICKSTART_PATH: &str = "scenarios/quickstart.ron";

/// Freed memory goes back to the system, so peak RSS follows live memory rather than the run's
/// length (see `Cargo.toml`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 2's `mi_option_purge_delay` (its `mimalloc.h`), which the `-sys` crate does not
/// name: how many milliseconds freed memory is kept before it goes back to the system (10 by
/// default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Returns freed memory to the system at once. Writing a run's outputs frees large buffers in
/// quick succession (tables, then each chart); with the default delay they were still held when
/// the next was allocated, and peak RSS grew with the outputs (28.8 → 32.6 MB for 10 sites at a
/// hundredth of the synthetic estate's demand, one month → four years, against 25.1 → 27.8 MB
/// at once), for no measurable CPU time.
fn return_freed_memory_at_once() {
    // SAFETY: sets one integer option, which mimalloc allows at any time and from any thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[derive(Parser)]
#[command(
    name = "hybridsim",
    version,
    about = "Deterministic simulator for hybrid AI infrastructure: latency, cost and recovery time under what-if scenarios",
    long_about = None,
    after_help = "Examples:\n  hybridsim init my-estate                   # a commented starter scenario → my-estate.ron\n  hybridsim run                              # the bundled quickstart → outputs/quickstart/\n  hybridsim run scenarios/quickstart.ron --seed 7 --out /tmp/qs\n  hybridsim run scenarios/drills/eu-outage-dual.ron --policy lowest_latency,cheapest,failover\n  hybridsim compare scenarios/drills/eu-outage-single.ron scenarios/drills/eu-outage-dual.ron\n  hybridsim compare scenarios/quickstart.ron --replications 10   # means with 95% confidence intervals\n  hybridsim validate my-estate.ron\n  hybridsim check scenarios/ --junit check.xml   # CI: judge every scenario's `expect` assertions\n  hybridsim sweep scenarios/studies/own-vs-rent.study.ron   # a study: parameter grid, intervals, break-even\n  hybridsim merge shards/* --out results          # the shards of a study run on a batch engine\n\nExit codes: 0 ok, 1 an expectation failed, 2 invalid input, 3 internal error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and write its results (summary.json, run.json) to a folder.
    Run {
        /// Scenario file (RON). Without one, the bundled quickstart runs.
        scenario: Option<PathBuf>,
        /// Master seed of the random streams; overrides the scenario's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder; default `outputs/<scenario name>/`. Replaced atomically.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
        /// Placement and routing policy; overrides the scenario's `policy`. Several (repeated or
        /// comma-separated) are compared under common random numbers: one folder per policy
        /// and a comparison table.
        #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(hybridsim::policy::BUILT_IN))]
        policy: Vec<String>,
    },
    /// Compare runs side by side: several scenarios, or one under several policies or seeds.
    #[command(
        long_about = "Compare runs side by side: several scenarios, or one scenario under several policies or seeds, or any product of these.\n\nEvery scenario runs under every policy given (default: each scenario's own `policy` list) and every seed given (default: its own `seed`); runs go in parallel. One folder is written: a folder per run (named by what varies: `cheapest`, `eu-outage-dual.cheapest`, `seed-7`) with its full set of files, `comparison.csv` and `comparison.json` with a row per run, `replications.csv` with means and 95% confidence intervals when a scenario and policy ran under several seeds, the charts with every run on the same axes, and `report.html`.",
        after_help = "Examples:\n  hybridsim compare scenarios/drills/eu-outage-single.ron scenarios/drills/eu-outage-dual.ron\n  hybridsim compare scenarios/drills/pattern-b.ron --policy lowest_latency,failover\n  hybridsim compare scenarios/quickstart.ron --replications 10\n\nExit codes: 0 ok, 2 invalid input (a scenario, a trace, or more than 100,000 runs), 3 internal error."
    )]
    Compare {
        /// Scenario files (RON), one or more.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Policies every scenario runs under (repeated or comma-separated); default: each
        /// scenario's own `policy` list.
        #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(hybridsim::policy::BUILT_IN))]
        policy: Vec<String>,
        /// Master seeds every run is repeated under (repeated or comma-separated); default:
        /// each scenario's own `seed`.
        #[arg(long, value_delimiter = ',', conflicts_with = "replications")]
        seed: Vec<u64>,
        /// Independent replications: each scenario's own seed and the next N−1.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        replications: Option<u64>,
        /// Output folder; default `outputs/<scenario>-compare/` for one scenario,
        /// `outputs/<a>-vs-<b>…/` for several. Replaced atomically.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Run a study: a base scenario over parameter values, variants, policies and seeds.
    #[command(
        long_about = "Run a study: a base scenario over a grid of parameter values, variants, policies and seeds, on every core.\n\nWrites runs.csv and runs.parquet (a row per run, written as runs finish), points.csv and points.parquet (per point and policy: n, mean, 95% Student-t half-width, min and max of every figure), study.json with the break-even answers, a chart per metric asked for, and report.html. The same study gives the same bytes whatever the number of threads.\n\nWith --shard, runs a deterministic share of the runs (for a batch engine's job array) and writes runs.csv and shard.json; `hybridsim merge` turns the shards into exactly the files of a whole sweep.",
        after_help = "Examples:\n  hybridsim sweep scenarios/studies/own-vs-rent.ron\n  hybridsim sweep study.ron --shard 2/8 --out shards/2     # shards 0/8 … 7/8\n  hybridsim sweep study.ron --shard slurm --out shards/$SLURM_ARRAY_TASK_ID\n  hybridsim sweep study.ron --shard k8s/8 --out /data/shards/$JOB_COMPLETION_INDEX\n  hybridsim merge shards/* --out results\n\nExit codes: 0 ok, 2 invalid input (the study, its scenario, or an invalid point with --stop-on-invalid), 3 internal error."
    )]
    Sweep {
        /// Study file (RON).
        study: PathBuf,
        /// Output folder; default `outputs/<study name>/`. Replaced atomically.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run a share of the runs: `i/n` (0 ≤ i < n), `slurm` (from SLURM_ARRAY_TASK_ID and
        /// SLURM_ARRAY_TASK_COUNT) or `k8s/n` (from JOB_COMPLETION_INDEX).
        #[arg(long)]
        shard: Option<String>,
        /// Keep the full output folder of the first K runs, under runs/<number>/.
        #[arg(long, value_name = "K", default_value_t = 0)]
        keep_runs: u64,
        /// Stop at the first point that makes the scenario invalid, instead of recording it.
        #[arg(long)]
        stop_on_invalid: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Merge the shard folders of a study into the files a whole sweep writes.
    Merge {
        /// Shard folders, one per shard, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder. Replaced atomically.
        #[arg(long)]
        out: PathBuf,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a commented starter scenario to edit: NAME.ron, never over an existing file.
    #[command(
        long_about = "Write a commented starter scenario to edit: one cloud region, one owned data centre, an inference service with its demand, SLO and fallback, a training job with checkpoints, an incident and a policy, each with a comment saying what it means.\n\nThe file is NAME.ron (or NAME as given when it ends in .ron, e.g. studies/plant-b.ron), and the scenario is named after it. An existing file is never overwritten.",
        after_help = "Examples:\n  hybridsim init                     # my-estate.ron\n  hybridsim init plant-b             # plant-b.ron, scenario \"plant-b\"\n  hybridsim init studies/plant-b.ron\n\nExit codes: 0 written, 2 the file exists, the name cannot name a scenario, or the file cannot be written."
    )]
    Init {
        /// The scenario's name, or a path ending in .ron; default my-estate.
        #[arg(default_value = hybridsim::scenario::starter::DEFAULT_NAME)]
        name: String,
    },
    /// Check a scenario file and print a summary of its estate and its warnings, or its errors.
    Validate {
        /// Scenario file (RON).
        scenario: PathBuf,
    },
    /// Run scenarios and judge their `expect` assertions: a CI gate.
    #[command(
        long_about = "Run scenarios and judge their `expect` assertions: a CI gate.\n\nPrints a table (scenario, assertion, measured, bound, result) and a line of counts; writes nothing unless --junit is given. Every scenario is reported: one that fails to load is listed with its errors and the others still run. A scenario without assertions is validated but not run, and reported as \"no assertions\" (skipped in JUnit). An assertion with `policy: \"name\"` is judged on the scenario's run under that policy, with the same seed.",
        after_help = "Exit codes: 0 every assertion held, 1 an assertion failed, 2 invalid input (a scenario, trace or path), 3 internal error; the most severe wins."
    )]
    Check {
        /// Scenario files, or folders searched recursively for *.ron files (in sorted order; study
        /// files, *.study.ron, are left out).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Master seed for every scenario; overrides each scenario's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Also write a JUnit XML report: a testsuite per scenario, a testcase per assertion.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Print only failures and errors.
        #[arg(long, short)]
        quiet: bool,
    },
}

fn main() -> ExitCode {
    return_freed_memory_at_once();
    let cli = Cli::parse();
    match std::panic::catch_unwind(|| dispatch(cli)) {
        Ok(Ok(())) => ExitCode::from(exit::OK),
        Ok(Err(error)) => {
            let code = error
                .downcast_ref::<hybridsim::Error>()
                .map_or(exit::INTERNAL, |e| e.exit_code());
            // Located scenario errors render their own `error:` heading; give every other one
            // the same start, so a reader (or a script) finds them the same way.
            let text = format!("{error:#}");
            if text.starts_with("error") {
                eprintln!("{text}");
            } else {
                eprintln!("error: {text}");
            }
            ExitCode::from(code)
        }
        Err(_) => {
            eprintln!(
                "internal error: hybridsim panicked; this is a bug, please report it with the scenario"
            );
            ExitCode::from(exit::INTERNAL)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            scenario,
            seed,
            out,
            quiet,
            policy,
        } => run(scenario.as_deref(), seed, out, quiet, policy),
        Command::Compare {
            scenarios,
            policy,
            seed,
            replications,
            out,
            quiet,
        } => {
            let seeds = match replications {
                Some(n) => Seeds::Replications(n),
                None if seed.is_empty() => Seeds::Own,
                None => Seeds::These(seed),
            };
            compare(&scenarios, &policy, &seeds, out, quiet)
        }
        Command::Sweep {
            study,
            out,
            shard,
            keep_runs,
            stop_on_invalid,
            quiet,
        } => sweep(&study, out, shard.as_deref(), keep_runs, stop_on_invalid, quiet),
        Command::Merge { shards, out, quiet } => {
            output::check_target(&out).map_err(hybridsim::Error::from)?;
            let folder = hybridsim::experiment::study::sweep::merge(
                &shards,
                &out,
                &hybridsim::report::StudyReport,
                &notices(quiet),
            )
            .map_err(hybridsim::Error::from)?;
            if !quiet {
                println!("merged {} shards into {}/", shards.len(), folder.display());
            }
            Ok(())
        }
        Command::Init { name } => init(&name),
        Command::Validate { scenario } => validate(&scenario),
        Command::Check {
            paths,
            seed,
            junit,
            quiet,
        } => check(&paths, seed, junit.as_deref(), quiet),
    }
}

fn load(path: Option<&Path>) -> Result<Scenario, hybridsim::Error> {
    Ok(match path {
        Some(path) => scenario::load(path)?,
        None => scenario::load_str(QUICKSTART, Path::new(QUICKSTART_PATH))?,
    })
}

fn run(
    path: Option<&Path>,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    policy: Vec<String>,
) -> anyhow::Result<()> {
    let scenario = load(path)?;
    warn(&scenario.warnings_under(&policy), quiet);
    let seeds = seed.map_or(Seeds::Own, |seed| Seeds::These(vec![seed]));
    let runs = plan(&[&scenario], &policy, &seeds).map_err(hybridsim::Error::from)?;
    let target = out.unwrap_or_else(|| Path::new("outputs").join(&scenario.spec.name));
    output::check_target(&target).map_err(hybridsim::Error::from)?;
    let resolved = scenario.resolve().map_err(hybridsim::Error::from)?;
    execute(&[&resolved], &runs, &target, quiet)
}

fn compare(
    paths: &[PathBuf],
    policy: &[String],
    seeds: &Seeds,
    out: Option<PathBuf>,
    quiet: bool,
) -> anyhow::Result<()> {
    let scenarios = paths
        .iter()
        .map(|path| load(Some(path)))
        .collect::<Result<Vec<_>, _>>()?;
    let scenarios: Vec<&Scenario> = scenarios.iter().collect();
    for scenario in &scenarios {
        warn(&scenario.warnings_under(policy), quiet);
    }
    let runs = plan(&scenarios, policy, seeds).map_err(hybridsim::Error::from)?;
    if runs.len() < 2 {
        return Err(hybridsim::Error::from(CompareError::NothingToCompare).into());
    }
    let target = out.unwrap_or_else(|| Path::new("outputs").join(comparison_folder(&scenarios)));
    output::check_target(&target).map_err(hybridsim::Error::from)?;
    let resolved = resolve_all(&scenarios, &mut TraceCache::default()).map_err(hybridsim::Error::from)?;
    let resolved: Vec<&Resolved> = resolved.iter().collect();
    execute(&resolved, &runs, &target, quiet)
}

/// The default folder of a comparison: `<a>-compare`, `<a>-vs-<b>`, `<a>-vs-<b>-and-N-more`.
fn comparison_folder(scenarios: &[&Scenario]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for scenario in scenarios {
        if !names.contains(&scenario.spec.name.as_str()) {
            names.push(&scenario.spec.name);
        }
    }
    match names.as_slice() {
        [one] => format!("{one}-compare"),
        [a, b] => format!("{a}-vs-{b}"),
        [a, b, rest @ ..] => format!("{a}-vs-{b}-and-{}-more", rest.len()),
        [] => "compare".to_string(),
    }
}

/// Runs `runs` of the resolved `scenarios` in parallel and writes them into `target`: one run's
/// folder, or a comparison of several.
fn execute(resolved: &[&Resolved], runs: &[RunPlan], target: &Path, quiet: bool) -> anyhow::Result<()> {
    if let [run] = runs {
        return execute_one(resolved, run, target, quiet);
    }
    let scenarios: Vec<&Scenario> = resolved.iter().map(|r| r.scenario()).collect();
    let context = || format!("writing results into {}", target.display());
    let out = begin_comparison(target, &notices(quiet))
        .map_err(hybridsim::Error::from)
        .with_context(context)?;
    let bars = if runs.len() <= MAX_BARS {
        let labels: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
        progress_bars(&labels, quiet)
    } else {
        let bar = progress_bars(&["runs"], quiet).remove(0);
        bar.set_length(runs.len() as u64);
        vec![bar]
    };
    // Runs go in chunks; each writes its folder as it ends and keeps only its figures (and, for
    // the first CHARTED_RUNS, what the charts draw), so memory does not grow with its model.
    let chunk = rayon::current_num_threads().max(1) * 4;
    let mut figures = Vec::with_capacity(runs.len());
    let mut charted: Vec<(Summary, RunCurves)> = Vec::new();
    let mut done = 0u64;
    for (c, plans) in runs.chunks(chunk).enumerate() {
        let results: Vec<Result<Finished, hybridsim::Error>> = plans
            .par_iter()
            .enumerate()
            .map(|(i, run)| {
                let index = c * chunk + i;
                let started = Instant::now();
                let bar = bars.get(index).filter(|_| bars.len() > 1);
                let outcome = run_plan(resolved, run, &mut |share| {
                    if let Some(bar) = bar {
                        bar.set_position((share * PROGRESS_STEPS as f64).round() as u64);
                    }
                })?;
                let wall = started.elapsed().as_secs_f64();
                let info = run_info(scenarios[run.scenario], &outcome, wall);
                write_compared_run(&out, &run.label, scenarios[run.scenario], &outcome, &info)?;
                let kept = match index < CHARTED_RUNS {
                    true => Some((
                        outcome.summary.clone(),
                        RunCurves::of(&outcome).map_err(RunError::Spill)?,
                    )),
                    false => None,
                };
                Ok(Finished {
                    figures: RunFigures::of(&run.label, &outcome.summary),
                    kept,
                    wall,
                })
            })
            .collect();
        for result in results {
            let finished = result.with_context(context)?;
            if !quiet && runs.len() <= MAX_BARS {
                // One line per run, as a single run prints, while there are few.
                if let Some((summary, _)) = &finished.kept {
                    let scenario = scenarios[runs[figures.len()].scenario];
                    print_summary(summary, scenario, finished.wall);
                }
            }
            figures.push(finished.figures);
            charted.extend(finished.kept);
        }
        done += plans.len() as u64;
        if bars.len() == 1 {
            bars[0].set_position(done);
        }
    }
    bars.iter().for_each(ProgressBar::finish_and_clear);
    let comparison = Comparison::of_figures(figures);
    let compared: Vec<ComparedRun> = runs
        .iter()
        .zip(&charted)
        .map(|(run, (summary, curves))| ComparedRun {
            label: &run.label,
            scenario: scenarios[run.scenario],
            summary,
            curves,
        })
        .collect();
    let written = finish_comparison(out, &compared, &comparison)
        .map_err(hybridsim::Error::from)
        .with_context(context)?;
    if !quiet {
        let how = if scenarios.len() == 1 && comparison.same_seed() {
            " (same seed: same arrivals and failures)"
        } else {
            ""
        };
        println!("\nruns side by side{how}:");
        print!("{}", comparison.text());
        if runs.len() > CHARTED_RUNS {
            println!(
                "  the charts and the page's run sections show the first {CHARTED_RUNS} of {} runs",
                runs.len()
            );
        }
        println!("  results in {}/", written.display());
    }
    Ok(())
}

/// More runs than this share one progress bar, and their summaries are not printed one by one.
const MAX_BARS: usize = 16;

/// What a compared run leaves behind once its folder is written.
struct Finished {
    figures: RunFigures,
    kept: Option<(Summary, RunCurves)>,
    wall: f64,
}

fn run_info(scenario: &Scenario, outcome: &world::RunOutcome, wall: f64) -> RunInfo {
    RunInfo {
        hybridsim_version: env!("CARGO_PKG_VERSION"),
        scenario_path: scenario.path.display().to_string(),
        wall_clock_s: wall,
        events_per_wall_second: outcome.summary.kernel.events_processed as f64 / wall.max(1e-9),
    }
}

/// One run into its own folder.
fn execute_one(resolved: &[&Resolved], run: &RunPlan, target: &Path, quiet: bool) -> anyhow::Result<()> {
    let bar = progress_bars(&[run.label.as_str()], quiet).remove(0);
    let started = Instant::now();
    let outcome = run_plan(resolved, run, &mut |share| {
        bar.set_position((share * PROGRESS_STEPS as f64).round() as u64)
    })
    .map_err(hybridsim::Error::from)?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let scenario = resolved[run.scenario].scenario();
    let info = run_info(scenario, &outcome, wall);
    let written = write_run(target, scenario, &outcome, &info, &notices(quiet))
        .map_err(hybridsim::Error::from)
        .with_context(|| format!("writing results into {}", target.display()))?;
    if !quiet {
        print_summary(&outcome.summary, scenario, wall);
        println!("  results in {}/", written.display());
    }
    Ok(())
}

/// Prints a scenario's warnings on stderr (not with `--quiet`). They change no exit code and no
/// output file.
fn warn(warnings: &scenario::Warnings, quiet: bool) {
    if !quiet && !warnings.is_empty() {
        eprint!("{warnings}");
    }
}

/// Prints what the writing of an output folder tells on stderr: a wait for another run writing
/// the same folder (not with `--quiet`), and, always, what was done about a killed run's
/// leftovers, since it changes the user's files.
fn notices(quiet: bool) -> impl Fn(&Notice) + Sync {
    move |notice| {
        if !(quiet && matches!(notice, Notice::Waiting { .. })) {
            eprintln!("{notice}");
        }
    }
}

/// One progress bar per run, drawn on stderr when it is a terminal (never with `--quiet`).
fn progress_bars(names: &[&str], quiet: bool) -> Vec<ProgressBar> {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let multi = MultiProgress::with_draw_target(target);
    let style =
        ProgressStyle::with_template("{prefix:>16} [{bar:40}] {percent:>3}% of simulated time, {elapsed}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    names
        .iter()
        .map(|name| {
            let bar = multi.add(ProgressBar::new(PROGRESS_STEPS));
            bar.set_style(style.clone());
            bar.set_prefix(name.to_string());
            bar
        })
        .collect()
}

fn print_summary(s: &hybridsim::metrics::Summary, scenario: &Scenario, wall: f64) {
    println!(
        "{} under {}: simulated {} (seed {}) in {wall:.3} s wall, {} events",
        s.scenario, s.policy, scenario.spec.horizon, s.seed, s.kernel.events_processed
    );
    for (name, service) in &s.services {
        let r = &service.requests;
        let p99 = service.latency_ms["e2e"]
            .p99
            .map_or("-".to_string(), |ms| format!("{:.0} ms", ms));
        let slo = service.slo.as_ref().and_then(|slo| {
            slo.attainment
                .map(|a| format!(", {:.2}% within {:.0} ms", a * 100.0, slo.target_ms))
        });
        println!(
            "  {name}: {} arrived, {} served, {} degraded, {} failed; p99 {p99}{}",
            r.arrived,
            r.served,
            r.degraded,
            r.failed,
            slo.unwrap_or_default()
        );
    }
    for (class, jobs) in &s.jobs {
        let goodput = jobs
            .goodput
            .map_or("-".to_string(), |g| format!("{:.1}%", g * 100.0));
        println!(
            "  {class} jobs: {} submitted, {} completed, {} failed, {} waiting; {} interruptions; goodput {goodput}",
            jobs.submitted, jobs.completed, jobs.failed, jobs.waiting_at_end, jobs.interrupted
        );
    }
    for incident in &s.incidents {
        let figure = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("{:.0} s", v));
        println!(
            "  incident {} ({}): detected {}, recovered {}, backlog drained {}; {} requests failed, {} jobs interrupted",
            incident.name,
            incident.kind,
            figure(incident.time_to_detect_s),
            figure(incident.time_to_recover_s),
            figure(incident.backlog_drain_s),
            incident.requests_failed,
            incident.jobs_interrupted
        );
    }
    println!("  total cost {:.2} USD", s.cost.total_usd);
}

fn sweep(
    path: &Path,
    out: Option<PathBuf>,
    shard: Option<&str>,
    keep_runs: u64,
    stop_on_invalid: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    use hybridsim::experiment::study::{self, sweep};
    let study = study::load(path).map_err(hybridsim::Error::from)?;
    warn(&study.base.warnings_under(&study.spec.policies), quiet);
    let env = |name: &str| std::env::var(name).ok();
    let shard = match shard {
        Some(text) => sweep::Shard::parse(text, &env).map_err(hybridsim::Error::from)?,
        None => sweep::Shard::WHOLE,
    };
    let target = out.unwrap_or_else(|| Path::new("outputs").join(&study.spec.name));
    output::check_target(&target).map_err(hybridsim::Error::from)?;
    let total = shard.runs(study.runs()).count() as u64;
    let bar = progress_bars(&["runs"], quiet).remove(0);
    bar.set_length(total);
    let options = sweep::SweepOptions {
        shard,
        keep_runs,
        stop_on_invalid,
        progress: &|done, _| bar.set_position(done),
        files: &hybridsim::report::StudyReport,
        notify: &notices(quiet),
    };
    let report = sweep::sweep(&study, &target, &options).map_err(hybridsim::Error::from)?;
    bar.finish_and_clear();
    if !quiet {
        println!(
            "{}: {} runs ({} at invalid points) in {:.1} s wall, {:.1} runs/s",
            study.spec.name,
            report.runs,
            report.invalid,
            report.wall_s,
            report.runs as f64 / report.wall_s.max(1e-9)
        );
        for statement in &report.break_even {
            println!("  {statement}");
        }
        println!("  results in {}/", report.folder.display());
    }
    Ok(())
}

/// Writes the starter scenario and says what to do next.
fn init(name: &str) -> anyhow::Result<()> {
    let starter = hybridsim::scenario::starter::Starter::new(name).map_err(hybridsim::Error::from)?;
    starter.write().map_err(hybridsim::Error::from)?;
    let file = starter.path.display();
    println!(
        "wrote {file}: a starter scenario \"{}\" (a cloud region, an owned data centre, an LLM service, a training job, an incident and a policy), each part commented",
        starter.name
    );
    println!("next:");
    println!("  hybridsim validate {file}    # check it and see what it describes");
    println!(
        "  hybridsim run {file}         # simulate it; results in outputs/{}/",
        starter.name
    );
    println!("  hybridsim check {file}       # judge its expect assertions, as a CI gate would");
    println!("  then edit {file} to describe your own estate, and run it again");
    Ok(())
}

fn validate(path: &Path) -> anyhow::Result<()> {
    let scenario = load(Some(path))?;
    warn(&scenario.warnings, false);
    // Resolving reads every trace file, so a bad row is reported here too.
    let resolved = scenario.resolve().map_err(hybridsim::Error::from)?;
    print!("{}", hybridsim::scenario::describe(&scenario));
    println!(
        "\nbudget: about {:.3e} requests expected (limit {}, `limits.requests`), at most {} events (`limits.events`)",
        resolved.expected_requests(),
        scenario.spec.limits.requests,
        resolved.event_budget()
    );
    let memory = hybridsim::scenario::memory::MemoryEstimate::of(&scenario.spec);
    println!(
        "        about {} held in memory (limit {}, `limits.memory`) and {} of per-window figures and ledger on disk while it runs, at most {} requests alive at once (`limits.in_flight`)",
        hybridsim::scenario::memory::human_bytes(memory.total()),
        scenario.spec.limits.memory,
        hybridsim::scenario::memory::human_bytes(memory.disk_bytes),
        scenario.spec.limits.in_flight
    );
    Ok(())
}

fn check(paths: &[PathBuf], seed: Option<u64>, junit: Option<&Path>, quiet: bool) -> anyhow::Result<()> {
    use hybridsim::experiment::gate::{self, Outcome, Tally};
    let targets = gate::find(paths).map_err(hybridsim::Error::from)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let reports = gate::check_all(&targets, seed, threads);
    for report in &reports {
        if let Outcome::Invalid(text) | Outcome::Crashed(text) = &report.outcome {
            eprintln!("{text}\n");
        }
        warn(&report.warnings, quiet);
    }
    if !quiet {
        print!("{}", gate::table(&reports));
    }
    for failure in reports.iter().flat_map(|r| r.failures()) {
        eprintln!("FAIL {failure}");
    }
    if let Some(path) = junit {
        hybridsim::report::write_junit(path, &reports).map_err(hybridsim::Error::from)?;
    }
    let tally = Tally::of(&reports);
    if !quiet {
        println!("{}", tally.line());
    }
    tally.result().map_err(hybridsim::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option set is mimalloc's purge delay: it starts at the delay its header documents,
    /// and takes the new value. A renumbered option would fail here rather than set another.
    #[test]
    fn the_purge_delay_is_the_option_set() {
        // SAFETY: reads and sets one integer option, allowed at any time.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, 10, "mimalloc's default purge delay");
        return_freed_memory_at_once();
        // SAFETY: as above.
        assert_eq!(
            unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
            0
        );
    }
}
