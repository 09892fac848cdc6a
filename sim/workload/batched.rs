//! The `batched` service model: an LLM server that batches at the iteration level, as vLLM,
//! TensorRT-LLM and SGLang do, bounded by the KV-cache memory of each replica.
//!
//! ```ron
//! service_time: batched(
//!     step: (base: "12ms", per_sequence: "0.35ms", per_prefill_token: "0.08ms"),
//!     max_batch: 64,
//!     prefill_chunk: 2048,
//!     kv_cache: (layers: 80, kv_heads: 8, head_dim: 128, dtype_bytes: 2, memory_utilization: 0.9),
//! ),
//! ```
//!
//! Each replica runs one iteration after another while it has sequences. An iteration takes
//! `base + per_sequence × d + per_prefill_token × p`, divided by the accelerator's inference
//! speed, where `d` is the number of sequences that decode in it (one token each) and `p` the
//! prompt tokens it prefills: whole prompts, or with `prefill_chunk` at most that many tokens
//! per iteration, given to the prefilling sequences in admission order (chunked prefill, which
//! lets decodes go on while a long prompt is read). A sequence's first token comes at the end of
//! the iteration that finishes its prompt, and each later iteration adds one; it ends with its
//! last generated token, and its response leaves then.
//!
//! Admission is first come, first served, at the end of each iteration (or at once on an idle
//! replica): the head of the deployment's queue joins a replica whose batch has fewer than
//! `max_batch` sequences and whose KV cache can hold the request's whole context and output
//! (`context + generated` tokens, reserved at admission and freed when it ends). When the head
//! does not fit, it and everything behind it wait: no running sequence is ever evicted, the
//! policy TensorRT-LLM calls guaranteed-no-evict. vLLM's alternative, admitting on the prompt
//! alone and preempting the newest sequence for recomputation when the cache fills, is not
//! implemented. A request larger than an empty replica's cache fails as `too_large`.
//!
//! The KV cache of a replica is `memory_utilization` of its GPUs' memory less the model's
//! weights (`model.memory`), divided by the bytes one token takes: `bytes_per_token`, or
//! `2 × layers × kv_heads × head_dim × dtype_bytes` (keys and values of every layer). Without
//! `kv_cache` the cache is unbounded and only `max_batch` limits the batch.
//!
//! One iteration is one event per replica, whatever the batch: the cost of a run grows with the
//! iterations, not with the tokens.

use serde::{Deserialize, Serialize};

use crate::kernel::SimDuration;
use crate::vocab::units::DataSize;

/// The most sequences a replica may batch.
pub const MAX_BATCH: u32 = 100_000;

/// The time of one iteration, as its parts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Every iteration: reading the weights once, launching kernels.
    pub base: SimDuration,
    /// Per sequence that decodes a token in the iteration (its attention over its KV cache).
    #[serde(default)]
    pub per_sequence: SimDuration,
    /// Per prompt token prefilled in the iteration.
    #[serde(default)]
    pub per_prefill_token: SimDuration,
}

/// The KV cache of each replica.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KvCacheSpec {
    /// KV bytes per token, when given directly.
    #[serde(default)]
    pub bytes_per_token: Option<DataSize>,
    /// Transformer layers (to derive the bytes per token).
    #[serde(default)]
    pub layers: u32,
    /// Key-value heads per layer (grouped-query attention has fewer than query heads).
    #[serde(default)]
    pub kv_heads: u32,
    /// Dimension of each head.
    #[serde(default)]
    pub head_dim: u32,
    /// Bytes per stored value: 2 for fp16/bf16, 1 for fp8.
    #[serde(default = "two")]
    pub dtype_bytes: u32,
    /// Share of the GPUs' memory the server may use, weights included (vLLM's
    /// `gpu_memory_utilization`, 0.9 by default there and here).
    #[serde(default = "default_memory_utilization")]
    pub memory_utilization: f64,
}

fn two() -> u32 {
    2
}

fn default_memory_utilization() -> f64 {
    0.9
}

impl KvCacheSpec {
    /// Bytes of KV cache per token: given, or keys and values of every layer and head.
    pub fn bytes_per_token(&self) -> u64 {
        self.bytes_per_token.map_or_else(
            || {
                2 * u64::from(self.layers)
                    * u64::from(self.kv_heads)
                    * u64::from(self.head_dim)
                    * u64::from(self.dtype_bytes)
            },
            DataSize::bytes,
        )
    }

    /// Tokens a replica's cache holds, with `gpu_memory` bytes of GPU memory and `weights`
    /// bytes of weights; 0 when the weights leave no room.
    pub fn capacity_tokens(&self, gpu_memory: u64, weights: u64) -> u64 {
        let usable = (gpu_memory as f64 * self.memory_utilization).floor();
        let room = usable - weights as f64;
        match self.bytes_per_token() {
            0 => 0,
            per if room > 0.0 => (room / per as f64).floor() as u64,
            _ => 0,
        }
    }

    /// What is wrong with the parameters, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        let derived = self.layers > 0 && self.kv_heads > 0 && self.head_dim > 0 && self.dtype_bytes > 0;
        if self.bytes_per_token.is_some_and(|b| b.bytes() == 0) {
            return Some("kv_cache.bytes_per_token must be positive");
        }
        if self.bytes_per_token.is_none() && !derived {
            return Some(
                "kv_cache needs bytes_per_token, or layers, kv_heads and head_dim (and dtype_bytes) to derive it",
            );
        }
        if !(self.memory_utilization > 0.0 && self.memory_utilization <= 1.0) {
            return Some("kv_cache.memory_utilization must be in (0, 1]");
        }
        None
    }
}

/// The batched model of a service, as the scenario gives it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatchedSpec {
    /// The time of one iteration.
    pub step: StepSpec,
    /// The most sequences in one replica's batch.
    pub max_batch: u32,
    /// The most prompt tokens prefilled in one iteration; none: whole prompts.
    #[serde(default)]
    pub prefill_chunk: Option<u32>,
    /// The KV cache that bounds the tokens in flight; none: unbounded.
    #[serde(default)]
    pub kv_cache: Option<KvCacheSpec>,
}

impl BatchedSpec {
    /// What is wrong with the parameters, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        if self.step.base.is_zero() {
            return Some("a batched model needs a positive step.base: every iteration takes time");
        }
        if self.max_batch == 0 || self.max_batch > MAX_BATCH {
            return Some("max_batch must be between 1 and 100000");
        }
        if self.prefill_chunk == Some(0) {
            return Some("prefill_chunk must be at least 1 token");
        }
        self.kv_cache.as_ref().and_then(KvCacheSpec::problem)
    }

    /// The iteration time in ns on the reference accelerator for `decoding` sequences and
    /// `prefill_tokens` prompt tokens.
    pub fn step_ns(&self, decoding: u32, prefill_tokens: u64) -> u64 {
        let step = &self.step;
        step.base
            .as_nanos()
            .saturating_add(step.per_sequence.as_nanos().saturating_mul(u64::from(decoding)))
            .saturating_add(step.per_prefill_token.as_nanos().saturating_mul(prefill_tokens))
    }

    /// The time in ns of a request of `context` prompt and `generated` output tokens alone on a
    /// replica of the reference accelerator: its prefill iterations, then one decode iteration
    /// per further token.
    pub fn alone_ns(&self, context: u32, generated: u32) -> f64 {
        let chunk = self.prefill_chunk.unwrap_or(u32::MAX).max(1);
        let prefill_steps = u64::from(context.div_ceil(chunk).max(1));
        let prefill = self.step.base.as_nanos() as f64 * prefill_steps as f64
            + self.step.per_prefill_token.as_nanos() as f64 * f64::from(context);
        let decodes = f64::from(generated.saturating_sub(1));
        prefill + decodes * self.step_ns(1, 0) as f64
    }
}
