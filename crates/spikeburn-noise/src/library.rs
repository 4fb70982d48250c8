//! Constructors from the surrogate parameters of snnTorch and SpikingJelly.
//!
//! Each constructor returns the noise whose density equals that library's surrogate derivative,
//! except snnTorch's fast sigmoid, which is a constant multiple of a density (see
//! [`Noise::snntorch_fast_sigmoid_gain`]).

use core::f64::consts::{PI, SQRT_2};

use crate::{Family, Noise, NoiseError};

/// Checks a library parameter (slope, alpha) before it is turned into a scale.
fn positive(name: &'static str, value: f64) -> Result<f64, NoiseError> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(NoiseError::InvalidParameter { name, value })
    }
}

impl Noise {
    /// snnTorch `surrogate.atan(alpha)`: derivative `(alpha / 2) / (1 + (pi alpha x / 2)^2)`,
    /// the density of Cauchy noise with `gamma = 2 / (pi alpha)`.
    pub fn snntorch_atan(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Cauchy, 2.0 / (PI * alpha))
    }

    /// snnTorch `surrogate.sigmoid(slope)`: derivative `slope sigmoid(slope x) (1 - sigmoid)`,
    /// the density of logistic noise with scale `1 / slope`.
    pub fn snntorch_sigmoid(slope: f64) -> Result<Self, NoiseError> {
        let slope = positive("slope", slope)?;
        Noise::new(Family::Logistic, 1.0 / slope)
    }

    /// snnTorch `surrogate.fast_sigmoid(slope)` (SuperSpike): derivative
    /// `1 / (slope |x| + 1)^2`, which is `2 / slope` times the density of fast-sigmoid noise with
    /// scale `1 / slope`. Use [`snntorch_fast_sigmoid_gain`](Noise::snntorch_fast_sigmoid_gain)
    /// to reproduce snnTorch's unnormalised backward.
    pub fn snntorch_fast_sigmoid(slope: f64) -> Result<Self, NoiseError> {
        let slope = positive("slope", slope)?;
        Noise::new(Family::FastSigmoid, 1.0 / slope)
    }

    /// The factor between snnTorch's fast-sigmoid surrogate and the density of
    /// [`snntorch_fast_sigmoid`](Noise::snntorch_fast_sigmoid): `2 / slope = 2 scale`, which
    /// makes the peak 1.
    pub fn snntorch_fast_sigmoid_gain(&self) -> f64 {
        2.0 * self.scale
    }

    /// SpikingJelly `surrogate.Sigmoid(alpha)`: derivative `alpha sigmoid(alpha x) (1 - ...)`,
    /// logistic noise with scale `1 / alpha`.
    pub fn spikingjelly_sigmoid(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Logistic, 1.0 / alpha)
    }

    /// SpikingJelly `surrogate.ATan(alpha)`: derivative `(alpha / 2) / (1 + (pi alpha x / 2)^2)`,
    /// Cauchy noise with `gamma = 2 / (pi alpha)`.
    pub fn spikingjelly_atan(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Cauchy, 2.0 / (PI * alpha))
    }

    /// SpikingJelly `surrogate.Erf(alpha)`: derivative `alpha / sqrt(pi) exp(-(alpha x)^2)`,
    /// Gaussian noise with `sigma = 1 / (alpha sqrt 2)`.
    pub fn spikingjelly_erf(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Gaussian, 1.0 / (alpha * SQRT_2))
    }

    /// SpikingJelly `surrogate.PiecewiseExp(alpha)`: derivative `(alpha / 2) exp(-alpha |x|)`,
    /// Laplace noise with `b = 1 / alpha`.
    pub fn spikingjelly_piecewise_exp(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Laplace, 1.0 / alpha)
    }

    /// SpikingJelly `surrogate.Rect(alpha)`: derivative `alpha` on `|x| < 1 / (2 alpha)`,
    /// uniform noise on `[-a, a]` with `a = 1 / (2 alpha)`.
    pub fn spikingjelly_rect(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Uniform, 1.0 / (2.0 * alpha))
    }

    /// SpikingJelly `surrogate.PiecewiseQuadratic(alpha)`: derivative `alpha - alpha^2 |x|` on
    /// `|x| <= 1 / alpha`, triangular noise with `a = 1 / alpha`.
    pub fn spikingjelly_piecewise_quadratic(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::Triangular, 1.0 / alpha)
    }

    /// SpikingJelly `surrogate.SoftSign(alpha)`: derivative `alpha / (2 (1 + alpha |x|)^2)`,
    /// fast-sigmoid noise with `a = 1 / alpha`.
    pub fn spikingjelly_soft_sign(alpha: f64) -> Result<Self, NoiseError> {
        let alpha = positive("alpha", alpha)?;
        Noise::new(Family::FastSigmoid, 1.0 / alpha)
    }
}
