//! The shared vocabulary of the simulator: typed ids, human units, workload classes, site kinds,
//! capacity tiers and the options scenario files are read with.
//!
//! A leaf: it imports nothing from the rest of the crate (not even [`crate::kernel`], which sits
//! beside it), so every domain module can use these words without importing another domain.
//! What belongs here is a noun two or more domains speak of; behaviour stays with its domain.

mod class;
pub mod format;
pub mod ids;
mod names;
mod site;
mod tier;
pub mod units;

pub use class::WorkloadClass;
pub use format::ron_options;
pub use ids::{AcceleratorId, DatasetId, JobId, LinkId, PoolId, ServiceId, SiteId};
pub use names::NameTable;
pub use site::SiteKind;
pub use tier::Tier;
