//! Writes a synthetic hybrid estate of any size as a scenario file: regions of ten sites (cloud,
//! on-prem, colocation, edge) with services, job streams, GPU failures, spot preemption and
//! incidents recurring through the horizon (`hybridsim::scenario::synthetic`). It is what the
//! README's scale table was measured on:
//!
//! ```text
//! cargo run --release --example estate -- --sites 100 --days 365 > estate.ron
//! /usr/bin/time -v target/release/hybridsim run estate.ron --out runs/estate
//! ```

use clap::Parser;
use hybridsim::scenario::synthetic::{EstateShape, estate};

/// A synthetic estate as a scenario file on standard output.
#[derive(Parser)]
struct Args {
    /// Sites in all, in regions of ten.
    #[arg(long, default_value_t = 20)]
    sites: usize,
    /// Horizon in days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Metrics window in minutes.
    #[arg(long, default_value_t = 60)]
    window_minutes: u32,
    /// The master seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() {
    let args = Args::parse();
    let shape = EstateShape {
        window_minutes: args.window_minutes.max(1),
        seed: args.seed,
        ..EstateShape::new(args.sites, args.days)
    };
    print!("{}", estate(&shape));
}
