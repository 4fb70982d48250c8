#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod noise;
pub mod spike;

pub use spike::{Firing, SpikeBackend, SpikeMode, Surrogate, SurrogateScale, spike};

/// Errors from reading `spikeburn-nn` settings given by a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NnError {
    /// A spike mode name that is not one of [`SpikeMode::NAMES`].
    #[error("unknown spike mode `{0}`, expected one of: {modes}", modes = SpikeMode::NAMES.join(", "))]
    UnknownSpikeMode(String),
}
