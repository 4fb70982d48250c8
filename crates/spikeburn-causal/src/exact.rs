//! Exact enumeration over spike configurations: the ground truth.

use crate::CausalError;
use crate::network::Network;
use crate::propagation::{PropagationMode, gradient_with, surrogate_backward};

/// The default and largest number of stochastic units (neurons times steps) enumerated.
pub const ENUMERATION_LIMIT: usize = 20;

/// Parameters of [`Enumeration`], unchecked.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumerationParams {
    limit: usize,
}

impl EnumerationParams {
    /// The largest number of stochastic units to enumerate; default and maximum
    /// [`ENUMERATION_LIMIT`] (`2^limit` configurations).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Validates the parameters.
    pub fn check(&self) -> Result<Enumeration, CausalError> {
        if self.limit == 0 || self.limit > ENUMERATION_LIMIT {
            return Err(CausalError::InvalidParameter {
                name: "limit",
                expected: "between 1 and 20",
                value: self.limit as f64,
            });
        }
        Ok(Enumeration { limit: self.limit })
    }
}

/// Exact expectations by summing over every spike configuration `s` of all nodes:
/// `E[f] = sum_s P(s) f(s)`, with `P(s) = prod_n F(x_n)^s_n (1 - F(x_n))^(1 - s_n)` and the
/// drives `x_n` fixed by the earlier spikes of `s`.
///
/// The exact gradient is `sum_s P(s) L(s) d log P(s) / dW` with
/// `d log P / dx_n = p(x_n) (s_n - F) / (F (1 - F))`, the score written as `p/F` or `-p/(1-F)`
/// so that configurations of positive probability never divide by zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Enumeration {
    limit: usize,
}

impl Enumeration {
    /// Parameters with their defaults.
    pub fn params() -> EnumerationParams {
        EnumerationParams {
            limit: ENUMERATION_LIMIT,
        }
    }

    /// Enumerates `network`; an error if it has more stochastic units than the limit.
    pub fn run(&self, network: &Network) -> Result<ExactExpectations, CausalError> {
        let nodes = network.nodes();
        if nodes > self.limit {
            return Err(CausalError::TooManyUnits {
                units: nodes,
                limit: self.limit,
            });
        }
        let weights = network.weight_count();
        let children = network.children();
        let mut expected_loss = 0.0;
        let mut gradient = vec![0.0; weights];
        let mut surrogate = vec![0.0; weights];
        let mut exact_difference = vec![0.0; weights];
        let mut configurations = 0;

        for mask in 0u64..(1u64 << nodes) {
            let mut probability = 1.0;
            let mut score = vec![0.0; nodes];
            let trajectory = network.run(None, |node, drive| {
                let spike = mask >> node & 1 == 1;
                let noise = network.node_noise(node);
                let (fire, density) = (noise.cdf(drive), noise.pdf(drive));
                if spike {
                    probability *= fire;
                    score[node] = if fire > 0.0 { density / fire } else { 0.0 };
                } else {
                    probability *= 1.0 - fire;
                    score[node] = if fire < 1.0 {
                        -density / (1.0 - fire)
                    } else {
                        0.0
                    };
                }
                spike
            });
            if probability == 0.0 {
                continue;
            }
            configurations += 1;

            let loss = trajectory.loss();
            expected_loss += probability * loss;
            let score_gradient = network.weight_gradient(trajectory.spikes(), &score);
            add_scaled(&mut gradient, probability * loss, &score_gradient);
            add_scaled(
                &mut surrogate,
                probability,
                &surrogate_backward(network, &trajectory),
            );
            let mode = PropagationMode::ExactDifference;
            let propagated = gradient_with(network, &children, &trajectory, mode);
            add_scaled(&mut exact_difference, probability, &propagated);
        }

        Ok(ExactExpectations {
            expected_loss,
            gradient,
            surrogate,
            exact_difference,
            configurations,
        })
    }
}

fn add_scaled(sum: &mut [f64], scale: f64, values: &[f64]) {
    for (total, value) in sum.iter_mut().zip(values) {
        *total += scale * value;
    }
}

/// What [`Enumeration::run`] computes, all gradients in flat weight order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactExpectations {
    expected_loss: f64,
    gradient: Vec<f64>,
    surrogate: Vec<f64>,
    exact_difference: Vec<f64>,
    configurations: usize,
}

impl ExactExpectations {
    /// `E[L]`.
    pub fn expected_loss(&self) -> f64 {
        self.expected_loss
    }

    /// The exact gradient `dE[L]/dW`.
    pub fn gradient(&self) -> &[f64] {
        &self.gradient
    }

    /// The expected surrogate gradient `E[SG]`, the surrogate backward averaged over the
    /// configurations.
    pub fn expected_surrogate(&self) -> &[f64] {
        &self.surrogate
    }

    /// The expected exact-difference propagation.
    pub fn exact_difference(&self) -> &[f64] {
        &self.exact_difference
    }

    /// The configurations of positive probability that were summed (one forward pass each).
    pub fn configurations(&self) -> usize {
        self.configurations
    }

    /// The forward passes spent: one per configuration of positive probability.
    pub fn forward_passes(&self) -> usize {
        self.configurations
    }
}

#[cfg(test)]
mod tests {
    use spikeburn_noise::Noise;

    use super::*;
    use crate::network::NetworkSpec;

    fn network(noise: Noise) -> Network {
        let text = r#"{"input": [[1.0], [0.5]],
            "layers": [{"weights": [[0.7], [-0.4]], "recurrent": [[0.0, 0.5], [0.6, 0.0]],
                        "threshold": 0.3, "decay": 0.6},
                       {"weights": [[1.0, -0.8]], "threshold": 0.2}],
            "loss": {"kind": "mse", "target": [1.0]}}"#;
        NetworkSpec::from_json(text)
            .unwrap()
            .check(Some(noise))
            .unwrap()
    }

    #[test]
    fn gradient_matches_finite_differences_of_the_expected_loss() {
        for noise in [Noise::logistic(0.3).unwrap(), Noise::gaussian(0.5).unwrap()] {
            let network = network(noise);
            let enumeration = Enumeration::params().check().unwrap();
            let exact = enumeration.run(&network).unwrap();
            assert_eq!(exact.configurations(), 64);
            let weights = network.weights();
            for (k, analytic) in exact.gradient().iter().enumerate() {
                let at = |delta: f64| {
                    let mut moved = weights.clone();
                    moved[k] += delta;
                    let moved = network.with_weights(&moved).unwrap();
                    enumeration.run(&moved).unwrap().expected_loss()
                };
                // Central difference, h = 1e-5: truncation ~1e-10, rounding ~1e-11.
                let numeric = (at(1e-5) - at(-1e-5)) / 2e-5;
                assert!(
                    (numeric - analytic).abs() < 1e-8,
                    "weight {k}: {numeric} {analytic}"
                );
            }
        }
    }

    #[test]
    fn limits_are_checked() {
        let error = Enumeration::params().limit(21).check().unwrap_err();
        assert!(error.to_string().contains("21"));
        let small = Enumeration::params().limit(3).check().unwrap();
        let error = small
            .run(&network(Noise::logistic(1.0).unwrap()))
            .unwrap_err();
        assert_eq!(error, CausalError::TooManyUnits { units: 6, limit: 3 });
    }

    #[test]
    fn bounded_noise_prunes_impossible_configurations() {
        // Uniform noise of half width 0.1 leaves most units certain to fire or stay silent.
        let exact = Enumeration::params()
            .check()
            .unwrap()
            .run(&network(Noise::uniform(0.1).unwrap()))
            .unwrap();
        assert!(exact.configurations() < 64);
        assert!(exact.gradient().iter().all(|g| g.is_finite()));
    }
}
