//! Experiments that check the simulator against theory: the closed-form results of queueing and
//! checkpointing models ([`closed_form`]) that simulated runs are compared with.
pub mod closed_form;
