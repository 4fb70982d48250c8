//! Monte Carlo gradient estimators of `dE[L]/dW` (THEORY.md section 3).
//!
//! Each estimator is built from its parameters through `check`, which returns a typed error for
//! values outside their range, and returns a [`GradientEstimate`].

use rand::Rng;
use spikeburn_noise::{Family, Noise};

use crate::CausalError;
use crate::network::Network;
use crate::propagation::{PropagationMode, gradient_with};
use crate::simulate::{NoiseStreams, Trajectory};
use crate::stats::{LeastSquares, Moments};

/// A Monte Carlo gradient estimate, in flat weight order.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientEstimate {
    estimate: Vec<f64>,
    std_error: Vec<f64>,
    samples: usize,
    forward_passes: usize,
    infinite_variance: bool,
    clipped: usize,
}

impl GradientEstimate {
    pub(crate) fn from_moments(moments: &Moments, samples: usize, forward_passes: usize) -> Self {
        GradientEstimate {
            estimate: moments.mean(),
            std_error: moments.std_error(),
            samples,
            forward_passes,
            infinite_variance: false,
            clipped: 0,
        }
    }

    /// The estimate of each weight's gradient.
    pub fn estimate(&self) -> &[f64] {
        &self.estimate
    }

    /// The standard error of each component, from the spread of the per-sample estimates.
    pub fn std_error(&self) -> &[f64] {
        &self.std_error
    }

    /// The Monte Carlo samples drawn.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The forward passes (full or partial simulations) spent.
    pub fn forward_passes(&self) -> usize {
        self.forward_passes
    }

    /// Whether the estimator's variance is infinite for this noise (node perturbation with
    /// triangular noise), so the standard error does not converge.
    pub fn infinite_variance(&self) -> bool {
        self.infinite_variance
    }

    /// How many propensities were clipped to `[clip, 1 - clip]` (REINFORCE, doubly robust).
    pub fn clipped(&self) -> usize {
        self.clipped
    }
}

fn check_samples(samples: usize) -> Result<usize, CausalError> {
    if samples >= 2 {
        Ok(samples)
    } else {
        let (name, expected) = ("samples", "at least 2");
        Err(CausalError::InvalidParameter {
            name,
            expected,
            value: samples as f64,
        })
    }
}

fn check_positive(name: &'static str, value: f64) -> Result<f64, CausalError> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(CausalError::InvalidParameter {
            name,
            expected: "positive and finite",
            value,
        })
    }
}

fn density(network: &Network, trajectory: &Trajectory, node: usize) -> f64 {
    network.node_noise(node).pdf(trajectory.drives()[node])
}

/// The baseline subtracted from the loss by the score-function estimators.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Baseline {
    /// No baseline.
    None,
    /// A fixed value, for example the exact `E[L]`.
    Constant(f64),
    /// The mean loss of the samples drawn before the current one (0 for the first), which keeps
    /// the estimate unbiased. The default.
    #[default]
    RunningMean,
}

struct RunningMean {
    count: usize,
    mean: f64,
}

impl RunningMean {
    fn new() -> Self {
        RunningMean {
            count: 0,
            mean: 0.0,
        }
    }

    /// The baseline for the next sample, then folds its loss in.
    fn next(&mut self, baseline: Baseline, loss: f64) -> f64 {
        let value = match baseline {
            Baseline::None => 0.0,
            Baseline::Constant(value) => value,
            Baseline::RunningMean => self.mean,
        };
        self.count += 1;
        self.mean += (loss - self.mean) / self.count as f64;
        value
    }
}

/// Parameters of [`FiniteDifference`].
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteDifferenceParams {
    samples: usize,
    step: f64,
}

impl FiniteDifferenceParams {
    /// The noise samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The weight step `h`; default 0.05, positive.
    pub fn step(mut self, step: f64) -> Self {
        self.step = step;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<FiniteDifference, CausalError> {
        Ok(FiniteDifference {
            samples: check_samples(self.samples)?,
            step: check_positive("step", self.step)?,
        })
    }
}

/// Central weight finite differences with common random numbers:
/// `[L(w + h e_k; xi) - L(w - h e_k; xi)] / 2h`, the same noise on both sides.
///
/// Unbiased for the central difference of `E[L]`, so its bias is `O(h^2)`; its variance grows
/// like `1/h` because only spike flips contribute.
#[derive(Debug, Clone, PartialEq)]
pub struct FiniteDifference {
    samples: usize,
    step: f64,
}

impl FiniteDifference {
    /// Parameters with their defaults.
    pub fn params() -> FiniteDifferenceParams {
        FiniteDifferenceParams {
            samples: 1000,
            step: 0.05,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let weights = network.weights();
        let mut moved = Vec::with_capacity(2 * weights.len());
        for (k, &weight) in weights.iter().enumerate() {
            for sign in [1.0, -1.0] {
                moved.push(network.with_weight(k, weight + sign * self.step)?);
            }
        }

        let mut moments = Moments::new(weights.len());
        for _ in 0..self.samples {
            let noise = network.sample_noise(rng);
            let sample: Vec<f64> = moved
                .chunks(2)
                .map(|pair| {
                    let up = pair[0].simulate(&noise).loss();
                    let down = pair[1].simulate(&noise).loss();
                    (up - down) / (2.0 * self.step)
                })
                .collect();
            moments.push(&sample);
        }
        let passes = self.samples * moved.len();
        Ok(GradientEstimate::from_moments(
            &moments,
            self.samples,
            passes,
        ))
    }
}

/// Parameters of [`SpikeIntervention`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeInterventionParams {
    samples: usize,
}

impl SpikeInterventionParams {
    /// The noise samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<SpikeIntervention, CausalError> {
        Ok(SpikeIntervention {
            samples: check_samples(self.samples)?,
        })
    }
}

/// The counterfactual estimator `sum_n p(x_n) [L(do s_n = 1) - L(do s_n = 0)] dx_n/dW`: each
/// node's spike is set both ways and the descendants (for LIF, the resets from that step on)
/// re-simulated with the same noise. Unbiased at any depth.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeIntervention {
    samples: usize,
}

impl SpikeIntervention {
    /// Parameters with their defaults.
    pub fn params() -> SpikeInterventionParams {
        SpikeInterventionParams { samples: 1000 }
    }

    /// The noise samples per estimate.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let mut moments = Moments::new(network.weight_count());
        let mut passes = 0;
        for _ in 0..self.samples {
            let noise = network.sample_noise(rng);
            let factual = network.simulate(&noise);
            passes += 1;
            let coefficient = self.coefficients(network, &noise, &factual, &mut passes);
            moments.push(&network.weight_gradient(factual.spikes(), &coefficient));
        }
        Ok(GradientEstimate::from_moments(
            &moments,
            self.samples,
            passes,
        ))
    }

    /// `p(x_n) delta_n` for every node, `delta_n` by re-simulation with the factual noise.
    fn coefficients(
        &self,
        network: &Network,
        noise: &NoiseStreams,
        factual: &Trajectory,
        passes: &mut usize,
    ) -> Vec<f64> {
        let mut coefficient = vec![0.0; network.nodes()];
        for (node, slot) in coefficient.iter_mut().enumerate() {
            let density = density(network, factual, node);
            if density == 0.0 {
                continue;
            }
            let flipped_spike = !factual.spikes()[node];
            let flipped = network.run(None, |index, drive| {
                if index == node {
                    flipped_spike
                } else {
                    drive + noise.values()[index] > 0.0
                }
            });
            *passes += 1;
            let (high, low) = if flipped_spike {
                (flipped.loss(), factual.loss())
            } else {
                (factual.loss(), flipped.loss())
            };
            *slot = density * (high - low);
        }
        coefficient
    }
}

/// Parameters of [`Reinforce`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReinforceParams {
    samples: usize,
    baseline: Baseline,
    clip: f64,
}

impl ReinforceParams {
    /// The noise samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The baseline; default [`Baseline::RunningMean`].
    pub fn baseline(mut self, baseline: Baseline) -> Self {
        self.baseline = baseline;
        self
    }

    /// Propensities are clipped to `[clip, 1 - clip]`; default 1e-9, in `(0, 0.5)`.
    pub fn clip(mut self, clip: f64) -> Self {
        self.clip = clip;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<Reinforce, CausalError> {
        if !(self.clip > 0.0 && self.clip < 0.5) {
            let (name, expected) = ("clip", "in (0, 0.5)");
            return Err(CausalError::InvalidParameter {
                name,
                expected,
                value: self.clip,
            });
        }
        Ok(Reinforce {
            samples: check_samples(self.samples)?,
            baseline: self.baseline,
            clip: self.clip,
        })
    }
}

/// REINFORCE, inverse-propensity weighting of the spikes:
/// `sum_n (L - b) p(x_n) (s_n - F_n) / (F_n (1 - F_n)) dx_n/dW` (Williams 1992).
///
/// A node with zero density contributes nothing (its firing probability does not move); the
/// propensity `F` of the others is clipped to `[clip, 1 - clip]` and the clips are counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Reinforce {
    samples: usize,
    baseline: Baseline,
    clip: f64,
}

impl Reinforce {
    /// Parameters with their defaults.
    pub fn params() -> ReinforceParams {
        ReinforceParams {
            samples: 1000,
            baseline: Baseline::RunningMean,
            clip: 1e-9,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let mut moments = Moments::new(network.weight_count());
        let mut running = RunningMean::new();
        let mut clipped = 0;
        for _ in 0..self.samples {
            let trajectory = network.simulate(&network.sample_noise(rng));
            let centred = trajectory.loss() - running.next(self.baseline, trajectory.loss());
            let scores = propensity_scores(network, &trajectory, self.clip, &mut clipped);
            let coefficient: Vec<f64> = scores.iter().map(|score| centred * score).collect();
            moments.push(&network.weight_gradient(trajectory.spikes(), &coefficient));
        }
        let mut estimate = GradientEstimate::from_moments(&moments, self.samples, self.samples);
        estimate.clipped = clipped;
        Ok(estimate)
    }
}

/// `p(x_n) (s_n - F_n) / (F_n (1 - F_n))` for every node, `F` clipped.
fn propensity_scores(
    network: &Network,
    trajectory: &Trajectory,
    clip: f64,
    clipped: &mut usize,
) -> Vec<f64> {
    (0..network.nodes())
        .map(|node| {
            let noise = network.node_noise(node);
            let drive = trajectory.drives()[node];
            let density = noise.pdf(drive);
            if density == 0.0 {
                return 0.0;
            }
            let raw = noise.cdf(drive);
            let fire = raw.clamp(clip, 1.0 - clip);
            *clipped += usize::from(fire != raw);
            let spike = f64::from(u8::from(trajectory.spikes()[node]));
            density * (spike - fire) / (fire * (1.0 - fire))
        })
        .collect()
}

/// Parameters of [`DoublyRobust`].
#[derive(Debug, Clone, PartialEq)]
pub struct DoublyRobustParams {
    samples: usize,
    clip: f64,
    ridge: f64,
}

impl DoublyRobustParams {
    /// The noise samples, split into two folds; default 1000, at least 4.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// Propensities are clipped to `[clip, 1 - clip]`; default 1e-9, in `(0, 0.5)`.
    pub fn clip(mut self, clip: f64) -> Self {
        self.clip = clip;
        self
    }

    /// The ridge added to the outcome regressions; default 1e-6, non-negative.
    pub fn ridge(mut self, ridge: f64) -> Self {
        self.ridge = ridge;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<DoublyRobust, CausalError> {
        let clip = ReinforceParams {
            samples: 2,
            baseline: Baseline::None,
            clip: self.clip,
        };
        clip.check()?;
        if !(self.ridge >= 0.0 && self.ridge.is_finite()) {
            let (name, expected) = ("ridge", "non-negative and finite");
            return Err(CausalError::InvalidParameter {
                name,
                expected,
                value: self.ridge,
            });
        }
        if self.samples < 4 {
            let (name, expected) = ("samples", "at least 4 (two folds of two)");
            return Err(CausalError::InvalidParameter {
                name,
                expected,
                value: self.samples as f64,
            });
        }
        Ok(DoublyRobust {
            samples: self.samples,
            clip: self.clip,
            ridge: self.ridge,
        })
    }
}

/// The doubly robust form of REINFORCE: `sum_n (L - m_n) p (s_n - F_n) / (F_n (1 - F_n))`,
/// where the outcome model `m_n` is a linear regression of `L` on the node's parents (its
/// presynaptic spikes at that step, a non-descendant set), cross-fitted on the other half of the
/// samples so that it stays unbiased. With a constant model this is REINFORCE with a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct DoublyRobust {
    samples: usize,
    clip: f64,
    ridge: f64,
}

impl DoublyRobust {
    /// Parameters with their defaults.
    pub fn params() -> DoublyRobustParams {
        DoublyRobustParams {
            samples: 1000,
            clip: 1e-9,
            ridge: 1e-6,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let trajectories: Vec<Trajectory> = (0..self.samples)
            .map(|_| network.simulate(&network.sample_noise(rng)))
            .collect();
        let half = self.samples / 2;
        let folds = [&trajectories[..half], &trajectories[half..]];
        let models = [self.fit(network, folds[0])?, self.fit(network, folds[1])?];

        let mut moments = Moments::new(network.weight_count());
        let mut clipped = 0;
        for (fold, trajectories) in folds.iter().enumerate() {
            // Each fold is scored with the model fitted on the other.
            let models = &models[1 - fold];
            for trajectory in trajectories.iter() {
                let scores = propensity_scores(network, trajectory, self.clip, &mut clipped);
                let coefficient: Vec<f64> = (0..network.nodes())
                    .map(|node| {
                        let outcome = models[node].predict(&parent_row(network, trajectory, node));
                        (trajectory.loss() - outcome) * scores[node]
                    })
                    .collect();
                moments.push(&network.weight_gradient(trajectory.spikes(), &coefficient));
            }
        }
        let mut estimate = GradientEstimate::from_moments(&moments, self.samples, self.samples);
        estimate.clipped = clipped;
        Ok(estimate)
    }

    fn fit(
        &self,
        network: &Network,
        trajectories: &[Trajectory],
    ) -> Result<Vec<LeastSquares>, CausalError> {
        let losses: Vec<f64> = trajectories.iter().map(Trajectory::loss).collect();
        (0..network.nodes())
            .map(|node| {
                let rows: Vec<Vec<f64>> = trajectories
                    .iter()
                    .map(|t| parent_row(network, t, node))
                    .collect();
                LeastSquares::fit("outcome model", &rows, &losses, self.ridge)
            })
            .collect()
    }
}

/// `[1, presynaptic spikes]` of a node; the first layer's presynaptic input is the network
/// input, which is fixed, so its row is `[1]`.
pub(crate) fn parent_row(network: &Network, trajectory: &Trajectory, node: usize) -> Vec<f64> {
    let id = network.node(node);
    let mut row = vec![1.0];
    if id.layer > 0 {
        let start = id.step * network.neurons() + network.layer_offset(id.layer - 1);
        let units = network.layers()[id.layer - 1].units();
        let spikes = &trajectory.spikes()[start..start + units];
        row.extend(spikes.iter().map(|&spike| f64::from(u8::from(spike))));
    }
    row
}

/// Parameters of [`NodePerturbation`].
#[derive(Debug, Clone, PartialEq)]
pub struct NodePerturbationParams {
    samples: usize,
    baseline: Baseline,
}

impl NodePerturbationParams {
    /// The noise samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The baseline; default [`Baseline::RunningMean`].
    pub fn baseline(mut self, baseline: Baseline) -> Self {
        self.baseline = baseline;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<NodePerturbation, CausalError> {
        Ok(NodePerturbation {
            samples: check_samples(self.samples)?,
            baseline: self.baseline,
        })
    }
}

/// Node perturbation, `sum_n (L - b) psi(xi_n) dx_n/dW` with the score `psi = -p'/p` of each
/// node's own noise sample: `E[L psi(xi_n)] = dE[L]/dx_n` (Fiete and Seung 2006).
///
/// Refuses uniform noise (undefined score) and flags triangular noise, whose score has infinite
/// variance.
#[derive(Debug, Clone, PartialEq)]
pub struct NodePerturbation {
    samples: usize,
    baseline: Baseline,
}

impl NodePerturbation {
    /// Parameters with their defaults.
    pub fn params() -> NodePerturbationParams {
        NodePerturbationParams {
            samples: 1000,
            baseline: Baseline::RunningMean,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let families: Vec<Family> = network
            .layers()
            .iter()
            .flat_map(|layer| layer.noise().iter().map(Noise::family))
            .collect();
        if let Some(&family) = families.iter().find(|&&family| family == Family::Uniform) {
            return Err(CausalError::ScoreUndefined { family });
        }

        let mut moments = Moments::new(network.weight_count());
        let mut running = RunningMean::new();
        for _ in 0..self.samples {
            let noise = network.sample_noise(rng);
            let trajectory = network.simulate(&noise);
            let centred = trajectory.loss() - running.next(self.baseline, trajectory.loss());
            let mut coefficient = Vec::with_capacity(network.nodes());
            for (node, &value) in noise.values().iter().enumerate() {
                let family = network.node_noise(node).family();
                let score = network.node_noise(node).score(value);
                coefficient.push(centred * score.ok_or(CausalError::ScoreUndefined { family })?);
            }
            moments.push(&network.weight_gradient(trajectory.spikes(), &coefficient));
        }
        let mut estimate = GradientEstimate::from_moments(&moments, self.samples, self.samples);
        estimate.infinite_variance = families.contains(&Family::Triangular);
        Ok(estimate)
    }
}

/// Parameters of [`WeightPerturbation`].
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPerturbationParams {
    samples: usize,
    sigma: f64,
}

impl WeightPerturbationParams {
    /// The samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The standard deviation of the Gaussian weight noise; default 0.05, positive.
    pub fn sigma(mut self, sigma: f64) -> Self {
        self.sigma = sigma;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<WeightPerturbation, CausalError> {
        Ok(WeightPerturbation {
            samples: check_samples(self.samples)?,
            sigma: check_positive("sigma", self.sigma)?,
        })
    }
}

/// Weight perturbation with antithetic Gaussian weight noise and common spike noise:
/// `[L(w + eps; xi) - L(w - eps; xi)] eps / (2 sigma^2)`, `eps ~ N(0, sigma^2 I)`. Unbiased for
/// the gradient of the Gaussian-smoothed `E[L]`, so its bias is `O(sigma^2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightPerturbation {
    samples: usize,
    sigma: f64,
}

impl WeightPerturbation {
    /// Parameters with their defaults.
    pub fn params() -> WeightPerturbationParams {
        WeightPerturbationParams {
            samples: 1000,
            sigma: 0.05,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let weights = network.weights();
        let gaussian = Noise::gaussian(self.sigma).expect("sigma checked positive");
        let mut moments = Moments::new(weights.len());
        for _ in 0..self.samples {
            let noise = network.sample_noise(rng);
            let perturbation: Vec<f64> = weights.iter().map(|_| gaussian.sample(rng)).collect();
            let moved = |sign: f64| -> Result<f64, CausalError> {
                let moved: Vec<f64> = weights
                    .iter()
                    .zip(&perturbation)
                    .map(|(w, e)| w + sign * e)
                    .collect();
                Ok(network.with_weights(&moved)?.simulate(&noise).loss())
            };
            let difference = moved(1.0)? - moved(-1.0)?;
            let scale = difference / (2.0 * self.sigma * self.sigma);
            let sample: Vec<f64> = perturbation.iter().map(|e| scale * e).collect();
            moments.push(&sample);
        }
        Ok(GradientEstimate::from_moments(
            &moments,
            self.samples,
            2 * self.samples,
        ))
    }
}

/// Parameters of [`Propagation`].
#[derive(Debug, Clone, PartialEq)]
pub struct PropagationParams {
    samples: usize,
    mode: PropagationMode,
}

impl PropagationParams {
    /// The samples; default 1000, at least 2.
    pub fn samples(mut self, samples: usize) -> Self {
        self.samples = samples;
        self
    }

    /// The mode; default [`PropagationMode::ExactDifference`].
    pub fn mode(mut self, mode: PropagationMode) -> Self {
        self.mode = mode;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<Propagation, CausalError> {
        Ok(Propagation {
            samples: check_samples(self.samples)?,
            mode: self.mode,
        })
    }
}

/// Downstream propagation averaged over samples; [`PropagationMode::Linearised`] is the Monte
/// Carlo surrogate gradient. Biased (by the first-order or linear approximation), one forward
/// pass per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Propagation {
    samples: usize,
    mode: PropagationMode,
}

impl Propagation {
    /// Parameters with their defaults.
    pub fn params() -> PropagationParams {
        PropagationParams {
            samples: 1000,
            mode: PropagationMode::ExactDifference,
        }
    }

    /// Estimates the gradient of `network`'s expected loss.
    pub fn estimate<R: Rng + ?Sized>(
        &self,
        network: &Network,
        rng: &mut R,
    ) -> Result<GradientEstimate, CausalError> {
        let children = network.children();
        let mut moments = Moments::new(network.weight_count());
        for _ in 0..self.samples {
            let trajectory = network.simulate(&network.sample_noise(rng));
            moments.push(&gradient_with(network, &children, &trajectory, self.mode));
        }
        Ok(GradientEstimate::from_moments(
            &moments,
            self.samples,
            self.samples,
        ))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::network::NetworkSpec;

    fn single(noise: Noise) -> Network {
        let text = r#"{"input": [0.5], "layers": [{"weights": [[1.0]], "threshold": 0.2}],
            "loss": {"kind": "output", "unit": 0}}"#;
        NetworkSpec::from_json(text)
            .unwrap()
            .check(Some(noise))
            .unwrap()
    }

    #[test]
    fn parameters_are_checked() {
        let error = FiniteDifference::params().step(0.0).check().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`step` must be positive and finite, got 0"
        );
        assert!(Reinforce::params().samples(1).check().is_err());
        assert!(Reinforce::params().clip(0.5).check().is_err());
        assert!(
            WeightPerturbation::params()
                .sigma(f64::NAN)
                .check()
                .is_err()
        );
        assert!(DoublyRobust::params().samples(3).check().is_err());
    }

    #[test]
    fn node_perturbation_refuses_uniform_and_flags_triangular() {
        let mut rng = StdRng::seed_from_u64(0);
        let estimator = NodePerturbation::params().samples(10).check().unwrap();
        let error = estimator
            .estimate(&single(Noise::uniform(1.0).unwrap()), &mut rng)
            .unwrap_err();
        assert_eq!(
            error,
            CausalError::ScoreUndefined {
                family: Family::Uniform
            }
        );
        let flagged = estimator
            .estimate(&single(Noise::triangular(1.0).unwrap()), &mut rng)
            .unwrap();
        assert!(flagged.infinite_variance());
        let fine = estimator
            .estimate(&single(Noise::gaussian(1.0).unwrap()), &mut rng)
            .unwrap();
        assert!(!fine.infinite_variance());
    }

    #[test]
    fn dead_units_contribute_nothing_instead_of_nan() {
        // Uniform noise of half width 0.1 and drive 0.3: the unit always fires, p = 0.
        let network = single(Noise::uniform(0.1).unwrap());
        let mut rng = StdRng::seed_from_u64(0);
        let estimate = Reinforce::params().samples(50).check().unwrap();
        let estimate = estimate.estimate(&network, &mut rng).unwrap();
        assert_eq!(estimate.estimate(), &[0.0]);
        let intervention = SpikeIntervention::params().samples(50).check().unwrap();
        let intervention = intervention.estimate(&network, &mut rng).unwrap();
        assert_eq!(intervention.estimate(), &[0.0]);
        assert_eq!(intervention.forward_passes(), 50);
    }
}
