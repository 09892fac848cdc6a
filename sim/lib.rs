//! hybridsim: a deterministic discrete-event simulator for hybrid AI infrastructure.
//!
//! The crate is laid out the way a study flows: [`scenario`] reads and checks a RON file into a
//! [`scenario::Scenario`] and resolves it once (traces loaded, names as ids) into a
//! [`scenario::Resolved`]; [`world`] builds the model of the estate ([`infra`]) and runs it on
//! the [`kernel`] (integer time, typed events, named random streams); [`metrics`] records what
//! happened; [`report`] writes it out.
//!
//! ```no_run
//! let scenario = hybridsim::scenario::load("scenarios/quickstart.ron".as_ref())?;
//! let outcome = hybridsim::world::simulate(&scenario.resolve()?, scenario.spec.seed)?;
//! println!("total cost: {:.2} USD", outcome.summary.cost.total_usd);
//! # Ok::<(), hybridsim::Error>(())
//! ```
// Every public item is documented, and `pub` means reachable from outside the crate: what
// only the crate uses says `pub(crate)`. Clippy runs with `-D warnings`, which makes both binding.
#![warn(missing_docs, unreachable_pub)]

pub mod experiment;
pub mod incident;
pub mod infra;
pub mod kernel;
pub mod metrics;
pub mod output;
pub mod policy;
pub mod report;
pub mod scenario;
pub mod vocab;
pub mod workload;
pub mod world;

/// Process exit codes of the `hybridsim` command.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// An `expect` assertion failed.
    pub const EXPECTATION_FAILED: u8 = 1;
    /// Invalid input: scenario, trace or arguments.
    pub const INVALID_INPUT: u8 = 2;
    /// An internal error (a bug): please report it.
    pub const INTERNAL: u8 = 3;
}

/// Anything that can stop a study.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scenario file is unreadable or invalid.
    #[error(transparent)]
    Scenario(#[from] scenario::ScenarioError),
    /// A trace or other input the scenario names cannot be read or used.
    #[error(transparent)]
    Resolve(#[from] scenario::ResolveError),
    /// Results could not be written.
    #[error(transparent)]
    Output(#[from] output::OutputError),
    /// The simulation itself failed.
    #[error(transparent)]
    Run(#[from] world::RunError),
    /// The runs asked for cannot be compared.
    #[error(transparent)]
    Compare(#[from] experiment::compare::CompareError),
    /// `hybridsim check` found failed assertions, invalid scenarios or internal errors.
    #[error(transparent)]
    Check(#[from] experiment::gate::GateError),
    /// A study could not be loaded, run or merged.
    #[error(transparent)]
    Study(#[from] experiment::study::StudyError),
    /// `hybridsim init` did not write its starter scenario (the file exists, the name is not
    /// one, or the file cannot be written).
    #[error(transparent)]
    Init(#[from] scenario::starter::InitError),
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_)
            | Error::Resolve(_)
            | Error::Output(_)
            | Error::Compare(_)
            | Error::Init(_) => exit::INVALID_INPUT,
            Error::Run(error) if error.is_input_error() => exit::INVALID_INPUT,
            Error::Run(_) => exit::INTERNAL,
            Error::Check(error) => error.exit_code(),
            Error::Study(error) if error.is_input_error() => exit::INVALID_INPUT,
            Error::Study(_) => exit::INTERNAL,
        }
    }
}
