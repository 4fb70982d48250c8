#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod gaussian;
mod library;

use core::f64::consts::PI;
use core::fmt;
use core::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Errors from constructing or parsing a noise distribution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoiseError {
    /// The scale (or the parameter it was derived from) is zero, negative, infinite or NaN.
    #[error("noise scale must be positive and finite, got {0}")]
    InvalidScale(f64),
    /// A library parameter (slope, alpha) that must be positive and finite is not.
    #[error("{name} must be positive and finite, got {value}")]
    InvalidParameter {
        /// The parameter's name in the library it comes from.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A peak height that must be positive and finite is not.
    #[error("peak height must be positive and finite, got {0}")]
    InvalidPeak(f64),
    /// A family name that is not one of the eight families.
    #[error(
        "unknown noise family `{0}`, expected one of: {families}",
        families = Family::NAMES.join(", ")
    )]
    UnknownFamily(String),
    /// A `family:scale` string without the colon or with an unreadable scale.
    #[error("cannot read noise `{0}`: expected `family:scale`, e.g. `logistic:0.1`")]
    Malformed(String),
}

/// A family of symmetric escape-noise distributions; [`Noise`] adds the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// Normal noise; the scale is the standard deviation.
    Gaussian,
    /// Logistic noise; `F` is the sigmoid of `x / scale`.
    Logistic,
    /// Cauchy noise; the scale is the half width at half maximum. Infinite variance.
    Cauchy,
    /// Laplace (double exponential) noise; the scale is the mean absolute deviation.
    Laplace,
    /// Uniform noise on `[-scale, scale]`. Its score is undefined.
    Uniform,
    /// Triangular noise on `[-scale, scale]`. Its score has infinite variance.
    Triangular,
    /// The SoftSign / fast-sigmoid distribution: `F(x) = (1 + x / (scale + |x|)) / 2`.
    /// Infinite variance.
    FastSigmoid,
    /// Student-t with two degrees of freedom, scaled so that `p(x) ∝ (x² + scale²)^(-3/2)`.
    /// Infinite variance.
    StudentT2,
}

impl Family {
    /// Every family, in the order of THEORY.md's table.
    pub const ALL: [Family; 8] = [
        Family::Gaussian,
        Family::Logistic,
        Family::Cauchy,
        Family::Laplace,
        Family::Uniform,
        Family::Triangular,
        Family::FastSigmoid,
        Family::StudentT2,
    ];

    /// The names used in JSON and on command lines, in the order of [`Family::ALL`].
    pub const NAMES: [&'static str; 8] = [
        "gaussian",
        "logistic",
        "cauchy",
        "laplace",
        "uniform",
        "triangular",
        "fast_sigmoid",
        "student_t2",
    ];

    /// The family's name as written in JSON and on command lines.
    pub fn name(self) -> &'static str {
        let index = Family::ALL.iter().position(|&family| family == self);
        Family::NAMES[index.expect("every family is listed in Family::ALL")]
    }

    /// The density at zero of this family with scale 1; the density at zero of any scale `s` is
    /// this divided by `s`.
    pub fn unit_peak(self) -> f64 {
        match self {
            Family::Gaussian => 1.0 / (2.0 * PI).sqrt(),
            Family::Logistic => 0.25,
            Family::Cauchy => 1.0 / PI,
            Family::Laplace | Family::Uniform | Family::FastSigmoid | Family::StudentT2 => 0.5,
            Family::Triangular => 1.0,
        }
    }

    /// Half the width of the support for scale 1, or `None` when the support is unbounded.
    pub fn unit_support(self) -> Option<f64> {
        match self {
            Family::Uniform | Family::Triangular => Some(1.0),
            _ => None,
        }
    }

    /// Whether the distribution has a finite variance.
    pub fn has_finite_variance(self) -> bool {
        !matches!(
            self,
            Family::Cauchy | Family::FastSigmoid | Family::StudentT2
        )
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Family {
    type Err = NoiseError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let index = Family::NAMES.iter().position(|&known| known == name);
        index
            .map(|index| Family::ALL[index])
            .ok_or_else(|| NoiseError::UnknownFamily(name.to_string()))
    }
}

/// An escape-noise distribution: a [`Family`] and a positive, finite scale.
///
/// A neuron with noise-free drive `x = v - threshold` and private noise `xi` from this
/// distribution fires `H(x + xi)`, with probability [`cdf(x)`](Noise::cdf); the derivative of that
/// probability, [`pdf(x)`](Noise::pdf), is the surrogate gradient.
///
/// In JSON a noise is `{"family": "logistic", "scale": 0.1}`; on a command line `logistic:0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "NoiseFields", into = "NoiseFields")]
pub struct Noise {
    family: Family,
    scale: f64,
}

/// The serialised form of [`Noise`], validated on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoiseFields {
    family: Family,
    scale: f64,
}

impl TryFrom<NoiseFields> for Noise {
    type Error = NoiseError;

    fn try_from(fields: NoiseFields) -> Result<Self, Self::Error> {
        Noise::new(fields.family, fields.scale)
    }
}

impl From<Noise> for NoiseFields {
    fn from(noise: Noise) -> Self {
        NoiseFields {
            family: noise.family,
            scale: noise.scale,
        }
    }
}

impl Noise {
    /// A noise of `family` with `scale`, which must be positive and finite.
    pub fn new(family: Family, scale: f64) -> Result<Self, NoiseError> {
        if scale > 0.0 && scale.is_finite() {
            Ok(Noise { family, scale })
        } else {
            Err(NoiseError::InvalidScale(scale))
        }
    }

    /// The noise of `family` whose density at zero is `peak`.
    ///
    /// Compare families at equal peak height rather than equal variance: the Cauchy,
    /// fast-sigmoid and Student-t families have no finite variance.
    pub fn with_peak(family: Family, peak: f64) -> Result<Self, NoiseError> {
        if !(peak > 0.0 && peak.is_finite()) {
            return Err(NoiseError::InvalidPeak(peak));
        }
        Noise::new(family, family.unit_peak() / peak)
    }

    /// Gaussian noise with standard deviation `sigma`.
    pub fn gaussian(sigma: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Gaussian, sigma)
    }

    /// Logistic noise with scale `s`.
    pub fn logistic(s: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Logistic, s)
    }

    /// Cauchy noise with half width `gamma`.
    pub fn cauchy(gamma: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Cauchy, gamma)
    }

    /// Laplace noise with scale `b`.
    pub fn laplace(b: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Laplace, b)
    }

    /// Uniform noise on `[-a, a]`.
    pub fn uniform(a: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Uniform, a)
    }

    /// Triangular noise on `[-a, a]`.
    pub fn triangular(a: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::Triangular, a)
    }

    /// Fast-sigmoid (SoftSign) noise with scale `a`.
    pub fn fast_sigmoid(a: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::FastSigmoid, a)
    }

    /// Student-t noise with two degrees of freedom and scale `a`.
    pub fn student_t2(a: f64) -> Result<Self, NoiseError> {
        Noise::new(Family::StudentT2, a)
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The density at zero, `p(0)`: the largest value the surrogate takes.
    pub fn peak(&self) -> f64 {
        self.family.unit_peak() / self.scale
    }

    /// Half the width of the support, or `None` when the support is the whole line.
    pub fn support(&self) -> Option<f64> {
        self.family
            .unit_support()
            .map(|half_width| half_width * self.scale)
    }

    /// The gain that turns the density into a surrogate of peak 1: `1 / p(0)`.
    ///
    /// snnTorch's sigmoid, SpikingJelly's and others' unnormalised ("peak-1") surrogates are this
    /// gain times the density. A constant gain per layer changes the relative learning rates of
    /// layers, so Spikeburn leaves it off unless asked.
    pub fn unit_peak_gain(&self) -> f64 {
        1.0 / self.peak()
    }

    /// The cumulative distribution function `F(x) = P(xi <= x)`; the firing probability of a
    /// neuron whose drive is `x`.
    pub fn cdf(&self, x: f64) -> f64 {
        let z = x / self.scale;
        match self.family {
            Family::Gaussian => 0.5 * libm::erfc(-z / core::f64::consts::SQRT_2),
            Family::Logistic => logistic_sigmoid(z),
            Family::Cauchy => 0.5 + z.atan() / PI,
            Family::Laplace if z < 0.0 => 0.5 * z.exp(),
            Family::Laplace => 1.0 - 0.5 * (-z).exp(),
            Family::Uniform => ((z + 1.0) / 2.0).clamp(0.0, 1.0),
            Family::Triangular if z <= -1.0 => 0.0,
            Family::Triangular if z < 0.0 => 0.5 * (1.0 + z) * (1.0 + z),
            Family::Triangular if z < 1.0 => 1.0 - 0.5 * (1.0 - z) * (1.0 - z),
            Family::Triangular => 1.0,
            Family::FastSigmoid => 0.5 * (1.0 + z / (1.0 + z.abs())),
            Family::StudentT2 => 0.5 + 0.5 * z / (z * z + 1.0).sqrt(),
        }
    }

    /// The probability density function `p(x)`: the surrogate gradient at drive `x`.
    pub fn pdf(&self, x: f64) -> f64 {
        let z = x / self.scale;
        let unit_density = match self.family {
            Family::Gaussian => (-0.5 * z * z).exp() / (2.0 * PI).sqrt(),
            Family::Logistic => {
                let sigmoid = logistic_sigmoid(z);
                sigmoid * (1.0 - sigmoid)
            }
            Family::Cauchy => 1.0 / (PI * (1.0 + z * z)),
            Family::Laplace => 0.5 * (-z.abs()).exp(),
            Family::Uniform if z.abs() <= 1.0 => 0.5,
            Family::Triangular if z.abs() <= 1.0 => 1.0 - z.abs(),
            Family::Uniform | Family::Triangular => 0.0,
            Family::FastSigmoid => 0.5 / ((1.0 + z.abs()) * (1.0 + z.abs())),
            Family::StudentT2 => 0.5 * (z * z + 1.0).powf(-1.5),
        };
        unit_density / self.scale
    }

    /// The score `psi(x) = -p'(x) / p(x)`, the weight node perturbation puts on a noise sample.
    ///
    /// `None` where the score is undefined: everywhere for uniform noise (its density is flat
    /// with jumps), and outside the support of triangular noise. At the kinks of the Laplace,
    /// triangular and fast-sigmoid densities (`x = 0`) the score is given its symmetric value 0.
    pub fn score(&self, x: f64) -> Option<f64> {
        let s = self.scale;
        let z = x / s;
        let unit_score = match self.family {
            Family::Gaussian => z,
            Family::Logistic => (0.5 * z).tanh(),
            Family::Cauchy => 2.0 * z / (1.0 + z * z),
            Family::Laplace => sign(z),
            Family::Uniform => return None,
            Family::Triangular if z.abs() < 1.0 => sign(z) / (1.0 - z.abs()),
            Family::Triangular => return None,
            Family::FastSigmoid => 2.0 * sign(z) / (1.0 + z.abs()),
            Family::StudentT2 => 3.0 * z / (1.0 + z * z),
        };
        Some(unit_score / s)
    }

    /// The quantile function, the inverse of [`cdf`](Noise::cdf): the `x` with `F(x) = u`.
    ///
    /// `u` must lie in `[0, 1]`; the ends map to the ends of the support (infinite for unbounded
    /// families).
    ///
    /// # Panics
    /// If `u` is outside `[0, 1]` or NaN.
    pub fn quantile(&self, u: f64) -> f64 {
        assert!(
            (0.0..=1.0).contains(&u),
            "quantile needs a probability in [0, 1], got {u}"
        );
        let centred = 2.0 * u - 1.0;
        let unit_quantile = match self.family {
            Family::Gaussian => gaussian::standard_normal_quantile(u),
            Family::Logistic => (u / (1.0 - u)).ln(),
            Family::Cauchy if u == 0.0 => f64::NEG_INFINITY,
            Family::Cauchy if u == 1.0 => f64::INFINITY,
            Family::Cauchy => (PI * (u - 0.5)).tan(),
            Family::Laplace if u < 0.5 => (2.0 * u).ln(),
            Family::Laplace => -(2.0 * (1.0 - u)).ln(),
            Family::Uniform => centred,
            Family::Triangular if u < 0.5 => (2.0 * u).sqrt() - 1.0,
            Family::Triangular => 1.0 - (2.0 * (1.0 - u)).sqrt(),
            Family::FastSigmoid => centred / (1.0 - centred.abs()),
            Family::StudentT2 => centred / (1.0 - centred * centred).sqrt(),
        };
        unit_quantile * self.scale
    }

    /// Draws one noise sample by inverting the CDF at a uniform number in the open interval
    /// `(0, 1)`, so every sample is finite.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        self.quantile(open_unit_uniform(rng))
    }

    /// Fills `out` with independent noise samples.
    pub fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        for value in out.iter_mut() {
            *value = self.sample(rng);
        }
    }
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.family, self.scale)
    }
}

impl FromStr for Noise {
    type Err = NoiseError;

    /// Reads `family:scale`, e.g. `logistic:0.1`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (family, scale) = text
            .split_once(':')
            .ok_or_else(|| NoiseError::Malformed(text.to_string()))?;
        let family: Family = family.trim().parse()?;
        let scale: f64 = scale
            .trim()
            .parse()
            .map_err(|_| NoiseError::Malformed(text.to_string()))?;
        Noise::new(family, scale)
    }
}

/// A uniform number in the open interval `(0, 1)`, from the top 53 bits of one draw.
pub fn open_unit_uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let bits = rng.next_u64() >> 11;
    (bits as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// The logistic sigmoid, written to stay accurate for large `|z|`.
fn logistic_sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// The sign of `z`, with `sign(0) = 0`.
fn sign(z: f64) -> f64 {
    if z > 0.0 {
        1.0
    } else if z < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests;
