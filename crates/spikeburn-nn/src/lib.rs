#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod encode;
pub mod fused;
pub mod loss;
mod model;
pub mod neuron;
pub mod noise;
pub mod spike;

pub use model::{SpikingMlp, SpikingMlpConfig, SpikingMlpOutput};

pub use neuron::{
    AdaptiveLif, AdaptiveLifConfig, AdaptiveLifState, If, IfConfig, LeakyReadout,
    LeakyReadoutConfig, LeakyReadoutState, Lif, LifConfig, LifState, RecurrentLif,
    RecurrentLifConfig, RecurrentLifState, Reset, SpikeTrain, Synaptic, SynapticConfig,
    SynapticState,
};
pub use spike::{Firing, SpikeBackend, SpikeMode, Surrogate, SurrogateScale, spike};

/// Errors from reading `spikeburn-nn` settings given by a user or a config file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NnError {
    /// A spike mode name that is not one of [`SpikeMode::NAMES`].
    #[error(
        "unknown spike mode `{0}`, expected one of: {modes}",
        modes = SpikeMode::NAMES.join(", ")
    )]
    UnknownSpikeMode(String),
    /// A layer setting outside its valid range.
    #[error("{layer}: {field} must be {expected}, got {value}")]
    InvalidConfig {
        /// The layer's type.
        layer: &'static str,
        /// The setting's name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What the setting accepts.
        expected: &'static str,
    },
}
