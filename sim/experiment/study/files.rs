//! The files of a study that are drawn rather than tabulated: a kept run's folder, and the
//! study's charts and page. A sweep decides when they are written; the report knows how
//! (`crate::report::study::StudyReport`), so the study asks through this trait instead of
//! importing the report.

use super::Study;
use super::results::StudyResults;
use crate::output::{OutputDir, OutputError, RunInfo};
use crate::scenario::Scenario;
use crate::world::RunOutcome;

/// Writes the drawn files of a study into its output folder.
pub trait StudyFiles: Sync {
    /// Writes one kept run's full set of files into `folder` (ending in `/`) of `out`.
    fn run_files(
        &self,
        out: &OutputDir,
        folder: &str,
        scenario: &Scenario,
        outcome: &RunOutcome,
        info: &RunInfo,
    ) -> Result<(), OutputError>;

    /// Writes the study's charts and page from its results into `out`.
    fn study_files(&self, out: &OutputDir, study: &Study, results: &StudyResults) -> Result<(), OutputError>;
}
