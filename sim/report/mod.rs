//! Everything written to the output folder.
mod output;

pub use output::{OutputDir, OutputError};
