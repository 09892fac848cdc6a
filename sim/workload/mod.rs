//! Workloads: inference services with their request streams and service times, arrival
//! processes, and trace readers.
pub mod arrivals;
pub mod service;
pub mod trace;
