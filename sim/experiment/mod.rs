//! Experiments that check the simulator against theory: the closed-form results of queueing and
//! checkpointing models ([`closed_form`]) that simulated runs are compared with, and comparisons
//! of policies on one scenario under common random numbers ([`compare`]).
pub mod closed_form;
pub mod compare;
