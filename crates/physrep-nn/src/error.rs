//! [`NnError`]: the one error type of physrep-nn — invalid model configs, inputs a model cannot take,
//! invalid token masks, and checkpoint files that cannot be read or written.
//!
//! The messages are those of the per-model error types this replaced (`JepaError`, `VideoMaeError`,
//! `AvitError`, `ProbeConfigError`), word for word: where two models worded a problem differently,
//! each keeps its own variant (the variant documentation names the model).

/// Everything a physrep-nn model or loader can refuse.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// An invalid hyperparameter of `model` (`"conv JEPA"`, `"VideoMAE"`, `"attentive probe"`).
    #[error("invalid {model} config: {message}")]
    Config { model: &'static str, message: String },
    /// An invalid hyperparameter, by field (AViT, DISCO).
    #[error("invalid model config: {field} = {value}: expected {expected}")]
    ConfigField { field: &'static str, value: String, expected: String },
    /// An input whose shape the model cannot process (AViT, DISCO).
    #[error("invalid input `{name}` of shape {shape:?}: expected {expected}")]
    Input { name: &'static str, shape: Vec<usize>, expected: String },
    /// A clip of the wrong shape (conv JEPA).
    #[error("input clip has shape {got:?}, expected {expected}")]
    InputShape { got: Vec<usize>, expected: String },
    /// A clip of the wrong shape (VideoMAE).
    #[error("clip has shape {got:?}; expected (B, C, T, H, W) = (B, {channels}, {frames}, {size}, {size})")]
    ClipShape { got: Vec<usize>, channels: usize, frames: usize, size: usize },
    /// An invalid token mask (VideoMAE).
    #[error("invalid token mask: {0}")]
    Mask(String),
    /// A safetensors checkpoint that cannot be loaded or saved (VideoMAE).
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
    /// A file that cannot be read (conv JEPA safetensors).
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// Not a safetensors file (conv JEPA).
    #[error("{path}: not a safetensors file: {message}")]
    Format { path: String, message: String },
    /// A tensor of the wrong shape or dtype (conv JEPA).
    #[error("{path}: tensor `{name}` has shape {got:?} and dtype {dtype}, expected {expected:?} float32")]
    TensorShape { path: String, name: String, got: Vec<usize>, dtype: String, expected: Vec<usize> },
    /// A parameter missing from the file (conv JEPA).
    #[error("{path}: missing tensor `{name}`")]
    MissingTensor { path: String, name: String },
    /// Tensors in the file that are no parameters of the model (conv JEPA).
    #[error("{path}: unexpected tensors under `{prefix}` (not parameters of the model): {names:?}")]
    UnusedTensors { path: String, prefix: String, names: Vec<String> },
    /// Weights that could not be applied to the model (conv JEPA).
    #[error("{path}: could not apply weights: {message}")]
    Apply { path: String, message: String },
}

impl NnError {
    /// [`NnError::Config`] of `model`.
    pub(crate) fn config(model: &'static str, message: impl Into<String>) -> Self {
        Self::Config { model, message: message.into() }
    }

    /// [`NnError::ConfigField`]: `field = value`, expected `expected`.
    pub(crate) fn field(field: &'static str, value: impl ToString, expected: &str) -> Self {
        Self::ConfigField { field, value: value.to_string(), expected: expected.to_string() }
    }
}
