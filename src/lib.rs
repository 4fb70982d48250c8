#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod backend;
pub mod bridge;

pub use backend::{BackendError, device};
pub use spikeburn_causal as causal;
pub use spikeburn_data as data;
pub use spikeburn_nn as nn;
pub use spikeburn_noise as noise;
pub use spikeburn_noise::{Family, Noise, NoiseError};

pub use spikeburn_nn::{Firing, SpikeMode, SurrogateScale, spike};
