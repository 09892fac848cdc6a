//! The events of the serving subsystem and the ids they carry.

use crate::vocab::ServiceId;

/// A deployment: one service's replicas in one pool, by its position among all services'
/// deployments (services in scenario order, then each service's deployments in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeploymentId(pub u32);

/// A demand stream: one service's requests from one origin, by its position among all
/// services' streams (services in scenario order, then each service's streams in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DemandId(pub u32);

/// A slot of the request slab. Slots are reused; the generation that goes with a slot in every
/// event tells a live request from one that ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestSlot(pub u32);

impl RequestSlot {
    /// The slot's position in the slab.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What happens to services and their requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingEvent {
    /// A request of a service arrives from one of its demand streams.
    Arrival {
        /// The demand stream.
        demand: DemandId,
        /// The stream's epoch when it was scheduled; an arrival of an earlier epoch was
        /// withdrawn by a rate change and is ignored.
        epoch: u32,
    },
    /// A request reaches the site that will serve it.
    ReachSite {
        /// Request slot.
        request: RequestSlot,
        /// The slot's generation; an event of an earlier one is stale and ignored.
        generation: u32,
    },
    /// A request finishes service.
    ServiceDone {
        /// Request slot.
        request: RequestSlot,
        /// The slot's generation; an event of an earlier one is stale and ignored.
        generation: u32,
    },
    /// A run of iterations of a replica of a batched service ends.
    StepDone {
        /// The deployment.
        deployment: DeploymentId,
        /// Replica id within the deployment.
        replica: u32,
        /// The run's number on its replica; an event of a run that was cut short is stale.
        run: u32,
    },
    /// The oldest waiting request of a deployment reaches its deadline.
    QueueTimeout {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// A new replica finished its cold start.
    ReplicaReady {
        /// The deployment.
        deployment: DeploymentId,
        /// Replica id within the deployment.
        replica: u32,
    },
    /// A service's autoscaler evaluates.
    Autoscale {
        /// The service.
        service: ServiceId,
    },
}
