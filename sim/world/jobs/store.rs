//! Where the run keeps its jobs' state: the jobs alive, by index. A job's index (its
//! [`JobId`], the payer's workload in the ledger) is given in order of creation and never
//! reused; once a job has ended and nothing of it is in flight it leaves the store (its row
//! goes to the run's spill of job rows), so the store holds the jobs alive, not every job ever
//! made. An event for a job that has left finds nothing and is ignored.

use std::collections::BTreeMap;
use std::ops::{Index, IndexMut};

use crate::vocab::JobId;

use super::JobState;

/// The jobs alive, by index, and how many were ever made.
#[derive(Debug, Default)]
pub struct JobStore {
    live: BTreeMap<u32, JobState>,
    made: u32,
}

impl JobStore {
    /// Jobs made so far, alive or not: the index the next one gets.
    pub fn made(&self) -> usize {
        self.made as usize
    }

    /// Jobs alive.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no job is alive.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// The job at `index`, if it is alive.
    pub fn get(&self, index: usize) -> Option<&JobState> {
        self.live.get(&u32::try_from(index).ok()?)
    }

    /// The job at `index`, if it is alive.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut JobState> {
        self.live.get_mut(&u32::try_from(index).ok()?)
    }

    /// The jobs alive, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &JobState> {
        self.live.values()
    }

    /// The jobs alive with their ids, in index order.
    pub fn indexed(&self) -> impl Iterator<Item = (JobId, &JobState)> {
        self.live.iter().map(|(&j, state)| (JobId(j), state))
    }

    /// The jobs alive, in index order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut JobState> {
        self.live.values_mut()
    }

    /// The ids of the jobs alive, in index order, as a list (so the caller may change jobs
    /// while going through it).
    pub fn ids(&self) -> Vec<JobId> {
        self.live.keys().map(|&j| JobId(j)).collect()
    }

    /// Adds a job under the next index, and returns its id.
    pub(super) fn push(&mut self, state: JobState) -> JobId {
        let id = JobId(self.made);
        self.live.insert(self.made, state);
        self.made += 1;
        id
    }

    /// Takes the job at `job` out of the store.
    pub(super) fn remove(&mut self, job: JobId) -> Option<JobState> {
        self.live.remove(&job.0)
    }
}

/// A job that is not alive is a bug in the caller, as an index out of bounds would be.
impl Index<usize> for JobStore {
    type Output = JobState;

    fn index(&self, index: usize) -> &JobState {
        match self.get(index) {
            Some(state) => state,
            None => panic!("job {index} is not alive"),
        }
    }
}

impl IndexMut<usize> for JobStore {
    fn index_mut(&mut self, index: usize) -> &mut JobState {
        match self.get_mut(index) {
            Some(state) => state,
            None => panic!("job {index} is not alive"),
        }
    }
}
