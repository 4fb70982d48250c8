//! Escape noise as tensors: samples on a device, and the firing probability `F(x)`.
//!
//! These use only Burn's public tensor API, so they run on every backend and, for
//! [`noise_cdf`], differentiate through autodiff like any other tensor expression.

use core::f64::consts::{FRAC_1_SQRT_2, PI};

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Shape, Tensor};
use spikeburn_noise::{Family, Noise};

/// Independent samples of `noise`, one per element of `shape`, drawn with the device's
/// random number generator (seed it with `device.seed(..)` for reproducible runs).
///
/// Gaussian and uniform noise are drawn directly; the other families invert their CDF at a
/// uniform number `u` in `[0, 1)` (THEORY.md section 1). A `u` of exactly 0 gives an infinite
/// sample for the unbounded families, which still fires correctly under `H(x + xi)`.
///
/// # Shapes
/// - returns: `shape`
pub fn sample_noise<const D: usize>(
    noise: &Noise,
    shape: impl Into<Shape>,
    device: &Device,
) -> Tensor<D> {
    let shape = shape.into();
    let scale = noise.scale();
    let uniform = || Tensor::<D>::random(shape.clone(), Distribution::Default, device);

    let unit_sample = match noise.family() {
        Family::Gaussian => return Tensor::random(shape, Distribution::Normal(0.0, scale), device),
        Family::Uniform => {
            return Tensor::random(shape, Distribution::Uniform(-scale, scale), device);
        }
        // ln(u / (1 - u))
        Family::Logistic => {
            let u = uniform();
            (u.clone() / (u.neg() + 1.0)).log()
        }
        // tan(pi (u - 1/2))
        Family::Cauchy => ((uniform() - 0.5) * PI).tan(),
        // -sign(c) ln(1 - |c|), c = 2u - 1
        Family::Laplace => {
            let centred = uniform() * 2.0 - 1.0;
            let magnitude = (centred.clone().abs().neg() + 1.0).log().neg();
            centred.sign() * magnitude
        }
        // u1 + u2 - 1: the sum of two uniforms is triangular.
        Family::Triangular => uniform() + uniform() - 1.0,
        // c / (1 - |c|), c = 2u - 1
        Family::FastSigmoid => {
            let centred = uniform() * 2.0 - 1.0;
            centred.clone() / (centred.abs().neg() + 1.0)
        }
        // c / sqrt(1 - c^2), c = 2u - 1
        Family::StudentT2 => {
            let centred = uniform() * 2.0 - 1.0;
            centred.clone() / (centred.powi_scalar(2).neg() + 1.0).sqrt()
        }
    };

    unit_sample * scale
}

/// The firing probability `F(x)` of a neuron with noise-free drive `x` under `noise`, the noise
/// CDF, elementwise.
///
/// Written so that autodiff differentiates it to the density `p(x)` everywhere except at the
/// kinks of the Laplace and triangular densities (`x = 0`), where the derivative of `|x|` is
/// taken as 0.
///
/// # Shapes
/// - `drive`: any
/// - returns: the shape of `drive`, values in `[0, 1]`
pub fn noise_cdf<const D: usize>(drive: Tensor<D>, noise: &Noise) -> Tensor<D> {
    let z = drive / noise.scale();

    match noise.family() {
        // (1 + erf(z / sqrt 2)) / 2
        Family::Gaussian => ((z * FRAC_1_SQRT_2).erf() + 1.0) * 0.5,
        Family::Logistic => sigmoid(z),
        // 1/2 + atan(z) / pi
        Family::Cauchy => z.atan() / PI + 0.5,
        // 1/2 + sign(z) (1 - exp(-|z|)) / 2
        Family::Laplace => {
            let mass = z.clone().abs().neg().exp().neg() + 1.0;
            z.sign() * mass * 0.5 + 0.5
        }
        // clamp((z + 1) / 2, 0, 1)
        Family::Uniform => ((z + 1.0) * 0.5).clamp(0.0, 1.0),
        // 1/2 + sign(z) (1 - (1 - min(|z|, 1))^2) / 2
        Family::Triangular => {
            let remaining = z.clone().abs().clamp_max(1.0).neg() + 1.0;
            let mass = remaining.powi_scalar(2).neg() + 1.0;
            z.sign() * mass * 0.5 + 0.5
        }
        // 1/2 + z / (2 (1 + |z|))
        Family::FastSigmoid => z.clone() / (z.abs() + 1.0) * 0.5 + 0.5,
        // 1/2 + z / (2 sqrt(z^2 + 1))
        Family::StudentT2 => z.clone() / (z.powi_scalar(2) + 1.0).sqrt() * 0.5 + 0.5,
    }
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    use super::*;

    #[allow(deprecated)]
    fn device() -> Device {
        Device::ndarray()
    }

    #[test]
    fn tensor_cdf_matches_the_f64_cdf() {
        let points = [-3.7, -1.2, -0.45, -0.05, 0.0, 0.05, 0.3, 0.95, 2.4];
        for family in Family::ALL {
            let noise = Noise::new(family, 0.7).unwrap();
            let drive = Tensor::<1>::from_floats(points, &device());
            let cdf = noise_cdf(drive, &noise)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            for (&x, &value) in points.iter().zip(&cdf) {
                let expected = noise.cdf(x);
                assert!(
                    (value as f64 - expected).abs() < 1e-6,
                    "{noise}: F({x}) = {value}, expected {expected}"
                );
            }
        }
    }
}
