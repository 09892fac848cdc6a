//! The estate: sites, accelerators, GPU pools in capacity tiers, network links, routes and
//! bulk-transfer flows, datasets with residency rules, GPU allocations and their billing into
//! the cost [`ledger`]; and the estate as a scenario file writes it ([`spec`]).
pub mod estate;
pub mod ledger;
pub mod metering;
pub mod network;
pub mod pool;
pub mod spec;
