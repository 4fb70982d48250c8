//! The spike op: a threshold crossing whose surrogate gradient is an escape-noise density.
//!
//! A neuron with membrane `v` and threshold `theta` has drive `x = v - theta`. With private noise
//! `xi` of CDF `F` and density `p` it fires `H(x + xi)`, so it fires with probability `F(x)` and
//! `dF/dx = p(x)`. Every mode below backpropagates `p` at the noise-free drive (THEORY.md
//! section 2, step 5); they differ only in what the forward computes.

pub(crate) mod backend;
pub mod reference;

use core::fmt;
use core::str::FromStr;

use burn::backend::Dispatch;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use spikeburn_noise::Noise;

pub use backend::{SpikeBackend, Surrogate};

use crate::NnError;
use crate::noise::{noise_cdf, sample_noise};

/// What the forward pass of a spike computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikeMode {
    /// `H(x)`: the neuron fires when its drive reaches zero. The default.
    #[default]
    Deterministic,
    /// `H(x + xi)` with a fresh noise sample `xi` per element: the neuron fires with
    /// probability `F(x)`.
    EscapeNoise,
    /// `F(x)`: the expected spike, for analysis. Its gradient is the exact derivative `p(x)`.
    Expected,
}

impl SpikeMode {
    /// The names used in JSON and on command lines.
    pub const NAMES: [&'static str; 3] = ["deterministic", "escape_noise", "expected"];

    /// The mode's name as written in JSON and on command lines.
    pub fn name(self) -> &'static str {
        match self {
            SpikeMode::Deterministic => "deterministic",
            SpikeMode::EscapeNoise => "escape_noise",
            SpikeMode::Expected => "expected",
        }
    }
}

impl fmt::Display for SpikeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SpikeMode {
    type Err = NnError;

    /// Reads a mode name; `escape` is accepted for `escape_noise`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.trim() {
            "deterministic" => Ok(SpikeMode::Deterministic),
            "escape_noise" | "escape" => Ok(SpikeMode::EscapeNoise),
            "expected" => Ok(SpikeMode::Expected),
            other => Err(NnError::UnknownSpikeMode(other.to_string())),
        }
    }
}

/// The constant the surrogate density is multiplied by in the backward pass.
///
/// Spikeburn's surrogate is the noise density itself, which integrates to 1. Some libraries use
/// a multiple of it; because a constant factor per layer changes the relative learning rates of
/// layers, matching one of them is an explicit choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurrogateScale {
    /// The density `p(x)`. The default.
    #[default]
    Density,
    /// `p(x) / p(0)`, whose peak is 1: snnTorch's `fast_sigmoid` (SuperSpike) convention.
    UnitPeak,
}

impl SurrogateScale {
    /// The gain that this convention applies to the density of `noise`.
    pub fn gain(self, noise: &Noise) -> f64 {
        match self {
            SurrogateScale::Density => 1.0,
            SurrogateScale::UnitPeak => noise.unit_peak_gain(),
        }
    }
}

/// How a layer of neurons fires: its escape noise, the forward mode and the backward scale.
///
/// The same [`Noise`] value defines the surrogate (`p`), the stochastic forward (`xi ~ p`) and
/// the expected forward (`F`).
///
/// ```
/// # #[allow(deprecated)] fn main() {
/// use burn::tensor::{Device, Tensor};
/// use spikeburn_nn::{Firing, SpikeMode};
/// use spikeburn_noise::Noise;
///
/// let device = Device::ndarray().autodiff();
/// let firing = Firing::new(Noise::logistic(0.25).unwrap(), SpikeMode::Deterministic);
/// let drive = Tensor::<1>::from_floats([-0.5, 0.0, 0.5], &device).require_grad();
/// let spikes = firing.fire(drive.clone());
/// assert_eq!(spikes.to_data().try_to_vec::<f32>().unwrap(), vec![0.0, 1.0, 1.0]);
///
/// // The gradient is the logistic density: 1 / (4 * 0.25) = 1 at zero drive.
/// let gradient = drive.grad(&spikes.sum().backward()).unwrap();
/// assert!((gradient.to_data().try_to_vec::<f32>().unwrap()[1] - 1.0).abs() < 1e-6);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The escape noise whose density is the surrogate.
    pub noise: Noise,
    /// What the forward computes. Default: [`SpikeMode::Deterministic`].
    #[serde(default)]
    pub mode: SpikeMode,
    /// The constant on the backward density. Default: [`SurrogateScale::Density`].
    #[serde(default)]
    pub scale: SurrogateScale,
    /// The noise the forward draws (escape mode) or averages over (expected mode), when it is
    /// not `noise`: a network can fire under one noise and be trained with the density of
    /// another. Default `None`: `noise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Noise>,
}

impl Default for Firing {
    /// Deterministic firing with snnTorch's default surrogate, `atan(alpha = 2)`: Cauchy noise of
    /// half width `1 / pi`, peak density 1, suited to a threshold of 1.
    fn default() -> Self {
        let noise = Noise::snntorch_atan(2.0).expect("alpha = 2 is a valid parameter");
        Firing::new(noise, SpikeMode::Deterministic)
    }
}

impl Firing {
    /// Fires under `noise` in `mode`, with the density itself as surrogate.
    pub fn new(noise: Noise, mode: SpikeMode) -> Self {
        Firing {
            noise,
            mode,
            scale: SurrogateScale::Density,
            sampling: None,
        }
    }

    /// The same firing with the forward drawing `sampling` instead of the surrogate's noise.
    pub fn with_sampling(self, sampling: Noise) -> Self {
        let sampling = (sampling != self.noise).then_some(sampling);
        Firing { sampling, ..self }
    }

    /// The noise the forward fires under: `sampling` if set, else `noise`.
    pub fn forward_noise(&self) -> Noise {
        self.sampling.unwrap_or(self.noise)
    }

    /// The same firing with the backward scaled by `scale`.
    pub fn with_scale(self, scale: SurrogateScale) -> Self {
        Firing { scale, ..self }
    }

    /// The backward rule: the density of the noise times the scale's gain.
    pub fn surrogate(&self) -> Surrogate {
        Surrogate {
            noise: self.noise,
            gain: self.scale.gain(&self.noise),
        }
    }

    /// Spikes for the drive `x = v - threshold`, elementwise.
    ///
    /// In [`SpikeMode::EscapeNoise`] the noise is drawn from the drive's device generator; use
    /// [`fire_with_noise`](Firing::fire_with_noise) to supply it.
    ///
    /// # Shapes
    /// - `drive`: any, e.g. `[batch, neurons]`
    /// - returns: the shape of `drive`; 0 or 1, or `F(x)` in [`SpikeMode::Expected`]
    pub fn fire<const D: usize>(&self, drive: Tensor<D>) -> Tensor<D> {
        match self.mode {
            SpikeMode::Deterministic => self.heaviside(drive, None),
            SpikeMode::EscapeNoise => {
                let noise = sample_noise(&self.forward_noise(), drive.shape(), &drive.device());
                self.heaviside(drive, Some(noise))
            }
            SpikeMode::Expected => noise_cdf(drive, &self.forward_noise()),
        }
    }

    /// Spikes `H(x + xi)` for the drive `x` and a given noise sample `xi`, whatever the mode.
    ///
    /// This replays a noise realisation exactly, e.g. to compare with an estimator that
    /// simulated the same noise. The gradient reaches `drive` only, as the density at `x`.
    ///
    /// # Shapes
    /// - `drive`: any
    /// - `noise`: the shape of `drive`
    /// - returns: the shape of `drive`, 0 or 1
    ///
    /// # Panics
    /// If the shapes differ.
    pub fn fire_with_noise<const D: usize>(&self, drive: Tensor<D>, noise: Tensor<D>) -> Tensor<D> {
        assert_eq!(
            drive.dims(),
            noise.dims(),
            "the noise sample must have the shape of the drive"
        );
        self.heaviside(drive, Some(noise))
    }

    fn heaviside<const D: usize>(&self, drive: Tensor<D>, noise: Option<Tensor<D>>) -> Tensor<D> {
        let drive = drive.into_dispatch();
        let surrogate = self.surrogate();
        let spikes = match noise {
            None => <Dispatch as SpikeBackend>::spike_heaviside(drive, surrogate),
            Some(noise) => <Dispatch as SpikeBackend>::spike_heaviside_perturbed(
                drive,
                noise.into_dispatch(),
                surrogate,
            ),
        };

        Tensor::from_dispatch(spikes)
    }
}

/// Spikes for the drive `x = v - threshold` under `noise` in `mode`, with the density of `noise`
/// as surrogate gradient. Shorthand for `Firing::new(*noise, mode).fire(drive)`.
///
/// # Shapes
/// - `drive`: any
/// - returns: the shape of `drive`
pub fn spike<const D: usize>(drive: Tensor<D>, noise: &Noise, mode: SpikeMode) -> Tensor<D> {
    Firing::new(*noise, mode).fire(drive)
}

#[cfg(all(test, feature = "ndarray"))]
mod tests;
