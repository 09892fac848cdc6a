//! Experiments on runs: the closed-form results of queueing and checkpointing models that
//! simulated runs are compared with ([`closed_form`]), comparisons of scenarios, policies and seeds
//! ([`compare`]), the `expect` assertions a scenario makes about its
//! own results ([`expect`]), and the `hybridsim check` gate that runs scenarios and judges them
//! ([`gate`]), and studies: parameter sweeps with intervals and break-even answers ([`study`]).
pub mod closed_form;
pub mod compare;
pub mod expect;
pub mod gate;
pub mod study;
