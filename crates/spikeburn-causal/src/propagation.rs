//! Downstream propagation of spike effects (THEORY.md section 2, steps 4 and 5), and the
//! hand-written surrogate-gradient backward it is checked against.

use serde::{Deserialize, Serialize};

use crate::network::Network;
use crate::simulate::Trajectory;

/// How a spike's effect is carried to its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropagationMode {
    /// `delta_i = sum_k [F(x_k with s_i = 1) - F(x_k with s_i = 0)] delta_k`, and the exact loss
    /// difference at the outputs.
    ExactDifference,
    /// `delta_i = sum_k (dx_k/ds_i) p(x_k) delta_k`, and `dL/ds` at the outputs: the surrogate
    /// gradient.
    Linearised,
}

/// The propagated effect `delta_n` of every node's spike on the loss, in flat node order.
///
/// Children are all later nodes whose drive depends directly on the spike (the next layer at the
/// same and later steps, and the same layer at later steps through recurrence and reset).
pub fn propagated_effects(
    network: &Network,
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> Vec<f64> {
    propagate_with(network, &network.children(), trajectory, mode)
}

/// The per-sample gradient estimate `sum_n p(x_n) delta_n dx_n/dW` of one trajectory, with
/// `delta` from [`propagated_effects`].
pub fn propagated_gradient(
    network: &Network,
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> Vec<f64> {
    gradient_with(network, &network.children(), trajectory, mode)
}

/// Every parameter's gradient estimate from one trajectory: the weights in flat order, the biases
/// per layer and unit, and the loss's own parameters ([`Loss::parameter_gradient`]).
///
/// [`Loss::parameter_gradient`]: crate::Loss::parameter_gradient
#[derive(Debug, Clone, PartialEq)]
pub struct ParameterGradient {
    /// `dL/dW` in flat weight order (see [`Network::weights`]).
    pub weights: Vec<f64>,
    /// `dL/db`, `[layer][unit]`.
    pub biases: Vec<Vec<f64>>,
    /// The gradient of the loss's parameters (a readout's weights, then its biases); empty for
    /// count losses. It does not depend on `mode`: the readout is deterministic.
    pub loss: Vec<f64>,
}

/// [`propagated_gradient`] with the bias and loss-parameter components too.
pub fn propagated_parameters(
    network: &Network,
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> ParameterGradient {
    propagated_parameters_with(network, &network.children(), trajectory, mode)
}

/// [`propagated_parameters`] of many trajectories of one network: the children lists are built
/// once.
pub fn propagated_parameters_all(
    network: &Network,
    trajectories: &[Trajectory],
    mode: PropagationMode,
) -> Vec<ParameterGradient> {
    let children = network.children();
    trajectories
        .iter()
        .map(|trajectory| propagated_parameters_with(network, &children, trajectory, mode))
        .collect()
}

fn propagated_parameters_with(
    network: &Network,
    children: &[Vec<(usize, f64)>],
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> ParameterGradient {
    let coefficient = coefficients(network, children, trajectory, mode);
    ParameterGradient {
        weights: network.weight_gradient(trajectory.spikes(), &coefficient),
        biases: network.bias_gradient(&coefficient),
        loss: network.loss().parameter_gradient(trajectory.output_train()),
    }
}

pub(crate) fn gradient_with(
    network: &Network,
    children: &[Vec<(usize, f64)>],
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> Vec<f64> {
    let coefficient = coefficients(network, children, trajectory, mode);
    network.weight_gradient(trajectory.spikes(), &coefficient)
}

/// `p(x_n) delta_n` for every node: how much its drive matters.
fn coefficients(
    network: &Network,
    children: &[Vec<(usize, f64)>],
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> Vec<f64> {
    let effects = propagate_with(network, children, trajectory, mode);
    effects
        .iter()
        .enumerate()
        .map(|(node, delta)| network.node_noise(node).pdf(trajectory.drives()[node]) * delta)
        .collect()
}

pub(crate) fn propagate_with(
    network: &Network,
    children: &[Vec<(usize, f64)>],
    trajectory: &Trajectory,
    mode: PropagationMode,
) -> Vec<f64> {
    let (spikes, drives) = (trajectory.spikes(), trajectory.drives());
    let last = network.layers().len() - 1;
    let train = trajectory.output_train();
    let at_outputs = match mode {
        PropagationMode::Linearised => network.loss().gradient(train),
        PropagationMode::ExactDifference => network.loss().flip_differences(train),
    };
    let mut effects = vec![0.0; network.nodes()];

    for node in (0..network.nodes()).rev() {
        let id = network.node(node);
        let spike = spikes[node];
        let mut delta = 0.0;
        if id.layer == last {
            delta += at_outputs[id.step][id.unit];
        }
        for &(child, c) in &children[node] {
            let noise = network.node_noise(child);
            let x = drives[child];
            let carried = match mode {
                PropagationMode::Linearised => c * noise.pdf(x),
                // x_child is affine in s: x(s = 1) = x + c (1 - s), x(s = 0) = x - c s.
                PropagationMode::ExactDifference if spike => noise.cdf(x) - noise.cdf(x - c),
                PropagationMode::ExactDifference => noise.cdf(x + c) - noise.cdf(x),
            };
            delta += carried * effects[child];
        }
        effects[node] = delta;
    }
    effects
}

/// The surrogate-gradient backward of one trajectory: backpropagation through time of the
/// network's computation with the Heaviside derivative replaced by the noise density at the
/// noise-free drive, `ds/dv = p(v - threshold)`. The reset is differentiated too
/// (`dv(t+1)/ds(t) = -decay threshold`); returns `dL/dW` in flat weight order.
///
/// Written as a reverse sweep over membranes, independently of [`propagated_effects`].
pub fn surrogate_backward(network: &Network, trajectory: &Trajectory) -> Vec<f64> {
    let units = network.neurons();
    let layers = network.layers();
    let (spikes, drives) = (trajectory.spikes(), trajectory.drives());
    let loss_gradient = network.loss().gradient(trajectory.output_train());
    let last = layers.len() - 1;

    let mut starts = Vec::with_capacity(layers.len());
    let mut start = 0;
    for layer in layers {
        starts.push(start);
        start += layer.weight_count();
    }
    let mut gradient = vec![0.0; start];
    // The adjoint of every membrane one step later, dL/dv(t + 1).
    let mut membrane_later = vec![0.0; units];

    for step in (0..network.steps()).rev() {
        let base = step * units;
        let mut membrane_now = vec![0.0; units];
        for (index, layer) in layers.iter().enumerate().rev() {
            let offset = network.layer_offset(index);
            for unit in 0..layer.units() {
                let global = offset + unit;
                let node = base + global;
                let (decay, threshold) = (layer.decay()[unit], layer.threshold()[unit]);

                // dL/ds_i(t): the loss, the next layer now, the own reset and recurrence later.
                let mut spike_adjoint = if index == last {
                    loss_gradient[step][unit]
                } else {
                    0.0
                };
                if let Some(next) = layers.get(index + 1) {
                    let next_offset = network.layer_offset(index + 1);
                    for (post, row) in next.weights().iter().enumerate() {
                        spike_adjoint += row[unit] * membrane_now[next_offset + post];
                    }
                }
                spike_adjoint -= decay * threshold * membrane_later[global];
                if let Some(recurrent) = layer.recurrent() {
                    for (post, row) in recurrent.iter().enumerate() {
                        spike_adjoint += row[unit] * membrane_later[offset + post];
                    }
                }

                // dL/dv_i(t) = dL/ds p(x) + decay dL/dv_i(t + 1)
                let density = layer.noise()[unit].pdf(drives[node]);
                let adjoint = spike_adjoint * density + decay * membrane_later[global];
                membrane_now[global] = adjoint;

                let fan_in = layer.fan_in();
                let row_start = starts[index] + unit * fan_in;
                for pre in 0..fan_in {
                    let input = match index.checked_sub(1) {
                        None => network.input()[step][pre],
                        Some(p) => spike_value(spikes[base + network.layer_offset(p) + pre]),
                    };
                    gradient[row_start + pre] += adjoint * input;
                }
                if let (Some(_), Some(before)) = (layer.recurrent(), step.checked_sub(1)) {
                    let rows = layer.units();
                    let row_start = starts[index] + rows * fan_in + unit * rows;
                    for pre in 0..rows {
                        let input = spike_value(spikes[before * units + offset + pre]);
                        gradient[row_start + pre] += adjoint * input;
                    }
                }
            }
        }
        membrane_later = membrane_now;
    }
    gradient
}

fn spike_value(spike: bool) -> f64 {
    f64::from(u8::from(spike))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use spikeburn_noise::Noise;

    use super::*;
    use crate::network::NetworkSpec;

    fn recurrent_lif() -> Network {
        let text = r#"{"input": [[1.0, 0.2], [0.0, 0.9], [0.5, 0.5]],
            "layers": [
              {"weights": [[0.8, -0.3], [0.4, 0.9], [0.2, 0.1]],
               "recurrent": [[0.1, -0.4, 0.2], [0.3, 0.0, -0.2], [0.5, 0.5, 0.1]],
               "threshold": [0.5, 0.7, 0.3], "decay": [0.9, 0.5, 0.0]},
              {"weights": [[1.0, -0.5, 0.7], [0.2, 0.6, -0.9]], "threshold": 0.4, "decay": 0.8}],
            "loss": {"kind": "cross_entropy", "target": 1}}"#;
        NetworkSpec::from_json(text)
            .unwrap()
            .check(Some(Noise::gaussian(0.4).unwrap()))
            .unwrap()
    }

    #[test]
    fn linearised_propagation_equals_the_surrogate_backward() {
        let network = recurrent_lif();
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..20 {
            let trajectory = network.simulate(&network.sample_noise(&mut rng));
            let propagated =
                propagated_gradient(&network, &trajectory, PropagationMode::Linearised);
            let backward = surrogate_backward(&network, &trajectory);
            for (a, b) in propagated.iter().zip(&backward) {
                // The same sums in a different order: rounding only, gradients are O(1).
                assert!((a - b).abs() < 1e-12, "{propagated:?}\n{backward:?}");
            }
        }
    }

    #[test]
    fn exact_difference_at_outputs_is_the_loss_difference() {
        let text = r#"{"input": [1.0], "layers": [{"weights": [[0.3], [-0.2]], "threshold": 0.0}],
            "loss": {"kind": "mse", "target": [1.0, 0.0]}}"#;
        let network = NetworkSpec::from_json(text)
            .unwrap()
            .check(Some(Noise::logistic(1.0).unwrap()))
            .unwrap();
        let trajectory = network.simulate(&network.sample_noise(&mut StdRng::seed_from_u64(1)));
        let effects = propagated_effects(&network, &trajectory, PropagationMode::ExactDifference);
        // L = ((c0 - 1)^2 + c1^2) / 2: L(c0 = 1) - L(c0 = 0) = -1/2, L(c1 = 1) - L(c1 = 0) = 1/2.
        assert_eq!(effects, vec![-0.5, 0.5]);
    }
}
