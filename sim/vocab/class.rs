//! The workload classes: what accelerators have speed factors for, and what jobs and costs are
//! grouped by.

use serde::{Deserialize, Serialize};

/// The workload classes that accelerators have speed factors for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadClass {
    /// Pre-training and large training runs.
    Training,
    /// Fine-tuning runs.
    FineTuning,
    /// Offline batch inference.
    BatchInference,
    /// Embedding generation.
    Embedding,
    /// Evaluation runs.
    Evaluation,
    /// Online inference services.
    Inference,
}

impl WorkloadClass {
    /// Every class, in a fixed order.
    pub const ALL: [WorkloadClass; 6] = [
        WorkloadClass::Training,
        WorkloadClass::FineTuning,
        WorkloadClass::BatchInference,
        WorkloadClass::Embedding,
        WorkloadClass::Evaluation,
        WorkloadClass::Inference,
    ];

    /// The name used in files and outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadClass::Training => "training",
            WorkloadClass::FineTuning => "fine_tuning",
            WorkloadClass::BatchInference => "batch_inference",
            WorkloadClass::Embedding => "embedding",
            WorkloadClass::Evaluation => "evaluation",
            WorkloadClass::Inference => "inference",
        }
    }
}
