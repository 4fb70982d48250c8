//! A second implementation of the spike op, from Burn's public tensor API alone.
//!
//! The forward is the Heaviside step as a float mask; the gradient comes from autodiff of the
//! noise CDF: `H(x + xi) + gain * (F(x) - detach(F(x)))`. The bracket is exactly zero in value
//! and has derivative `gain * p(x)`, so this computes what the backend extension computes by a
//! different route. Tests compare the two; it is not meant for training.

use burn::tensor::Tensor;

use super::{Firing, SpikeMode};
use crate::noise::{noise_cdf, sample_noise};

/// Spikes for `drive` under `firing`, computed from tensor ops.
///
/// `noise` is the sample `xi` added in [`SpikeMode::EscapeNoise`]; when it is `None` in that mode
/// one is drawn, as [`Firing::fire`] does. It is ignored in the other modes.
///
/// # Shapes
/// - `drive`: any
/// - `noise`: the shape of `drive`
/// - returns: the shape of `drive`
pub fn fire<const D: usize>(
    firing: &Firing,
    drive: Tensor<D>,
    noise: Option<Tensor<D>>,
) -> Tensor<D> {
    let perturbed = match firing.mode {
        SpikeMode::Expected => return noise_cdf(drive, &firing.noise),
        SpikeMode::Deterministic => drive.clone().detach(),
        SpikeMode::EscapeNoise => {
            let noise = noise
                .unwrap_or_else(|| sample_noise(&firing.noise, drive.shape(), &drive.device()));
            drive.clone().detach() + noise
        }
    };

    let spikes = perturbed.greater_equal_elem(0.0).float();
    let cdf = noise_cdf(drive, &firing.noise);
    let gain = firing.surrogate().gain;

    spikes + (cdf.clone() - cdf.detach()) * gain
}
