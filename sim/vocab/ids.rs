//! Typed ids: sites, links, pools, accelerators and datasets of the estate, and the jobs and
//! services of a run.
//!
//! Each id is the position of its item in the `Vec` that holds it (the estate's arenas, the run's
//! jobs in scenario then arrival order, the scenario's services), wrapped so that a site index
//! cannot be passed where a link index is expected.

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        pub struct $name(pub u32);

        impl $name {
            /// The position of the item in the arena that holds it.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

typed_id! {
    /// A site: a cloud region, on-prem data centre, colocation facility or edge location.
    SiteId
}
typed_id! {
    /// A network link between two sites.
    LinkId
}
typed_id! {
    /// A GPU pool: one accelerator type at one site, with its capacity tiers.
    PoolId
}
typed_id! {
    /// An accelerator type (H100, A100, L4, …).
    AcceleratorId
}
typed_id! {
    /// A dataset with a home site and optional residency constraints.
    DatasetId
}
typed_id! {
    /// A job, by its index in the run (scenario order, then generated jobs in arrival order).
    JobId
}
typed_id! {
    /// A service, by its index in the scenario.
    ServiceId
}
