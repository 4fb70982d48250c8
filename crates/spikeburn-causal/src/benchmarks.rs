//! The networks of THEORY.md's claims, shared by the tests and the experiment examples.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use spikeburn_noise::Noise;

use crate::CausalError;
use crate::network::{InputSpec, LayerSpec, LossSpec, Network, NetworkSpec, PerUnit};

/// THEORY.md's diamond network (claim C3): `g = H(w x + xi)`, `h_k = H(v_k g + xi)`,
/// `y = H(u_1 h_1 + u_2 h_2 + xi)`, `L = y`, thresholds 0, `x = 1`, and weights
/// `(w, v_1, v_2, u_1, u_2) = (1, 0.05, 0.1, 1, -1)`.
pub const DIAMOND_JSON: &str = r#"{"input": [1.0], "layers": [
    {"weights": [[1.0]], "threshold": 0.0},
    {"weights": [[0.05], [0.1]], "threshold": 0.0},
    {"weights": [[1.0, -1.0]], "threshold": 0.0}],
    "loss": {"kind": "output", "unit": 0}}"#;

/// The diamond network of [`DIAMOND_JSON`] with `noise` at every unit.
pub fn diamond(noise: Noise) -> Network {
    NetworkSpec::from_json(DIAMOND_JSON)
        .and_then(|spec| spec.check(Some(noise)))
        .expect("the diamond network is valid")
}

/// A layered one-step network of binary units with the given widths (`sizes[0]` input
/// channels, then one layer per entry), random weights `U(-2, 2) / sqrt(fan_in)`, thresholds 0,
/// inputs `U(-1, 1)` and the loss `L = y`, the spike of the single output unit.
///
/// # Errors
/// If `sizes` has fewer than two entries, a zero width, or more than one output.
pub fn layered(sizes: &[usize], seed: u64) -> Result<NetworkSpec, CausalError> {
    if sizes.len() < 2 || sizes.contains(&0) || sizes[sizes.len() - 1] != 1 {
        return Err(CausalError::InvalidParameter {
            name: "sizes",
            expected: "at least two positive widths, the last one 1",
            value: sizes.len() as f64,
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let input: Vec<f64> = (0..sizes[0]).map(|_| rng.random_range(-1.0..1.0)).collect();
    let layers = sizes
        .windows(2)
        .map(|pair| {
            let bound = 2.0 / (pair[0] as f64).sqrt();
            let weights = (0..pair[1])
                .map(|_| {
                    (0..pair[0])
                        .map(|_| rng.random_range(-bound..bound))
                        .collect()
                })
                .collect();
            LayerSpec {
                bias: None,
                weights,
                recurrent: None,
                threshold: PerUnit::Shared(0.0),
                decay: None,
                noise: None,
            }
        })
        .collect();

    Ok(NetworkSpec {
        input: InputSpec::Single(input),
        layers,
        loss: LossSpec::Output { unit: 0 },
    })
}

/// One hidden layer of `width` units driven by `x = 1`, a fixed linear readout
/// `y = sum_j u_j s_j` and `L = (y - t)^2 / 2` (claims C4 and C6). The units are independent
/// given the input, so the exact gradient and expected loss have closed forms for any width.
#[derive(Debug, Clone, PartialEq)]
pub struct WideReadout {
    /// The weights `w_j` from the input into each unit.
    pub weights: Vec<f64>,
    /// The readout `u_j`.
    pub readout: Vec<f64>,
    /// The target `t`.
    pub target: f64,
}

impl WideReadout {
    /// `width` units with weights spread over `[-0.4, 0.4)` by the golden ratio, readouts
    /// alternating `1` and `-1/2` over `sqrt(width)`, and target `-1`.
    pub fn new(width: usize) -> Self {
        let weights = (0..width)
            .map(|j| 0.8 * ((j as f64 * 0.618).fract() - 0.5))
            .collect();
        let readout = (0..width)
            .map(|j| if j % 2 == 0 { 1.0 } else { -0.5 } / (width as f64).sqrt())
            .collect();

        WideReadout {
            weights,
            readout,
            target: -1.0,
        }
    }

    /// The network, with `noise` at every unit.
    pub fn network(&self, noise: Noise) -> Network {
        let spec = NetworkSpec {
            input: InputSpec::Single(vec![1.0]),
            layers: vec![LayerSpec {
                bias: None,
                weights: self.weights.iter().map(|&w| vec![w]).collect(),
                recurrent: None,
                threshold: PerUnit::Shared(0.0),
                decay: None,
                noise: None,
            }],
            loss: LossSpec::Mse {
                target: vec![self.target],
                readout: Some(vec![self.readout.clone()]),
            },
        };
        spec.check(Some(noise)).expect("the wide network is valid")
    }

    /// `dE[L]/dw_j = p_j (u_j (E[y] - u_j F_j - t) + u_j^2 / 2)`, with `F_j = F(w_j)` and
    /// `p_j = p(w_j)`: the effect of unit `j`'s spike averaged over the others.
    pub fn gradient(&self, noise: Noise) -> Vec<f64> {
        let fire: Vec<f64> = self.weights.iter().map(|&w| noise.cdf(w)).collect();
        let mean_output: f64 = self.readout.iter().zip(&fire).map(|(u, f)| u * f).sum();

        self.weights
            .iter()
            .zip(&self.readout)
            .zip(&fire)
            .map(|((&w, &u), &f)| {
                let others = mean_output - u * f;
                noise.pdf(w) * (u * (others - self.target) + 0.5 * u * u)
            })
            .collect()
    }

    /// `E[L] = ((E[y] - t)^2 + Var[y]) / 2`.
    pub fn expected_loss(&self, noise: Noise) -> f64 {
        let fire: Vec<f64> = self.weights.iter().map(|&w| noise.cdf(w)).collect();
        let mean_output: f64 = self.readout.iter().zip(&fire).map(|(u, f)| u * f).sum();
        let variance: f64 = self
            .readout
            .iter()
            .zip(&fire)
            .map(|(u, f)| u * u * f * (1.0 - f))
            .sum();

        0.5 * ((mean_output - self.target).powi(2) + variance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Enumeration;

    #[test]
    fn wide_readout_closed_forms_match_enumeration() {
        let noise = Noise::laplace(0.3).unwrap();
        let wide = WideReadout::new(6);
        let exact = Enumeration::params()
            .check()
            .unwrap()
            .run(&wide.network(noise))
            .unwrap();
        for (a, b) in exact.gradient().iter().zip(wide.gradient(noise)) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        assert!((exact.expected_loss() - wide.expected_loss(noise)).abs() < 1e-12);
    }

    #[test]
    fn layered_networks_have_the_asked_shape() {
        let spec = layered(&[4, 8, 8, 1], 3).unwrap();
        let network = spec.check(Some(Noise::logistic(0.3).unwrap())).unwrap();
        assert_eq!(network.nodes(), 17);
        assert_eq!(network.weight_count(), 4 * 8 + 8 * 8 + 8);
        assert!(layered(&[4, 2], 0).is_err());
        assert!(layered(&[4, 0, 1], 0).is_err());
    }
}
