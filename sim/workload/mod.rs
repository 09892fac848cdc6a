//! Workloads: inference services with their request streams and service times, jobs (training,
//! fine-tuning, batch) and their sources, arrival processes, and trace readers.
pub mod arrivals;
pub mod batched;
pub mod job;
pub mod service;
pub mod trace;
