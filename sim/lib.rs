//! hybridsim: a deterministic discrete-event simulator for hybrid AI infrastructure.
//!
//! The crate is laid out the way a study flows: [`kernel`] (time, events, random streams) runs a
//! model built from a scenario; [`metrics`] records what happened; [`report`] writes it out.
pub mod kernel;
pub mod metrics;
pub mod report;
