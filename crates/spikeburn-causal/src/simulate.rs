//! Simulation with explicit noise streams and interventions.
//!
//! Every node (a unit at a step) has its own noise value, drawn once into [`NoiseStreams`].
//! Re-simulating with the same streams replays identical noise (common random numbers), so the
//! difference between two runs is caused only by the intervention that separates them.

use rand::Rng;

use crate::CausalError;
use crate::network::{Network, NodeId, Synapse};

/// One noise value per node, in the network's flat node order.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseStreams {
    values: Vec<f64>,
}

impl NoiseStreams {
    /// Noise streams from explicit values, one per node of `network`.
    pub fn from_values(network: &Network, values: Vec<f64>) -> Result<Self, CausalError> {
        if values.len() != network.nodes() {
            let (name, expected, found) = ("noise".to_string(), network.nodes(), values.len());
            return Err(CausalError::LengthMismatch {
                name,
                expected,
                found,
            });
        }
        if let Some(index) = values.iter().position(|value| !value.is_finite()) {
            let field = format!("noise[{index}]");
            return Err(CausalError::NonFinite {
                field,
                value: values[index],
            });
        }
        Ok(NoiseStreams { values })
    }

    /// The noise of each node.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// An intervention on one node during a simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intervention {
    /// `do(s = spike)`: the node's spike is set, whatever its drive and noise. Its reset and all
    /// its descendants (later layers, later steps) follow from the set value.
    Spike {
        /// The node.
        node: NodeId,
        /// The value it is set to.
        spike: bool,
    },
    /// Adds `current` to the node's membrane at its step (it then decays like any input).
    Inject {
        /// The node.
        node: NodeId,
        /// The added current.
        current: f64,
    },
}

/// The result of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    spikes: Vec<bool>,
    drives: Vec<f64>,
    train: Vec<Vec<f64>>,
    counts: Vec<f64>,
    loss: f64,
}

impl Trajectory {
    /// The spike of each node, in flat node order.
    pub fn spikes(&self) -> &[bool] {
        &self.spikes
    }

    /// The noise-free drive `x = v - threshold` of each node, in flat node order.
    pub fn drives(&self) -> &[f64] {
        &self.drives
    }

    /// The output layer's spikes as numbers, `[steps][outputs]`: what the loss reads.
    pub fn output_train(&self) -> &[Vec<f64>] {
        &self.train
    }

    /// The spike count of each output unit over all steps.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// The loss.
    pub fn loss(&self) -> f64 {
        self.loss
    }
}

impl Network {
    /// Draws one noise value per node from the node's noise.
    pub fn sample_noise<R: Rng + ?Sized>(&self, rng: &mut R) -> NoiseStreams {
        let values = (0..self.nodes())
            .map(|index| self.node_noise(index).sample(rng))
            .collect();
        NoiseStreams { values }
    }

    /// Simulates the network with the given noise: `s = H(x + xi)`.
    pub fn simulate(&self, noise: &NoiseStreams) -> Trajectory {
        self.run(None, |index, drive| drive + noise.values[index] > 0.0)
    }

    /// Simulates the network with the given noise and interventions.
    pub fn simulate_with(
        &self,
        noise: &NoiseStreams,
        interventions: &[Intervention],
    ) -> Result<Trajectory, CausalError> {
        let mut forced = vec![None; self.nodes()];
        let mut injection = vec![0.0; self.nodes()];
        for intervention in interventions {
            match *intervention {
                Intervention::Spike { node, spike } => forced[self.node_index(node)?] = Some(spike),
                Intervention::Inject { node, current } => {
                    if !current.is_finite() {
                        let field = format!("inject({node:?})");
                        return Err(CausalError::NonFinite {
                            field,
                            value: current,
                        });
                    }
                    injection[self.node_index(node)?] += current;
                }
            }
        }

        Ok(self.run(Some(&injection), |index, drive| {
            forced[index].unwrap_or(drive + noise.values[index] > 0.0)
        }))
    }

    /// The noise of the unit behind a flat node index.
    pub fn node_noise(&self, index: usize) -> spikeburn_noise::Noise {
        let node = self.node(index);
        self.layers()[node.layer].noise()[node.unit]
    }

    /// The simulation engine: `decide(node, drive)` returns each node's spike, in node order.
    pub(crate) fn run(
        &self,
        injection: Option<&[f64]>,
        mut decide: impl FnMut(usize, f64) -> bool,
    ) -> Trajectory {
        let units = self.neurons();
        let mut spikes = vec![false; self.nodes()];
        let mut drives = vec![0.0; self.nodes()];
        // The membrane after the previous step's reset, v(t-1) - threshold s(t-1).
        let mut membrane = vec![0.0; units];

        for step in 0..self.steps() {
            let base = step * units;
            for (index, layer) in self.layers().iter().enumerate() {
                let offset = self.layer_offset(index);
                let previous = index.checked_sub(1).map(|p| self.layer_offset(p));
                for unit in 0..layer.units() {
                    let global = offset + unit;
                    let node = base + global;
                    let weights = &layer.weights()[unit];
                    let mut v = layer.decay()[unit] * membrane[global];
                    v += match previous {
                        None => dot(weights, &self.input()[step]),
                        Some(from) => spike_dot(weights, &spikes[base + from..]),
                    };
                    if let (Some(recurrent), Some(before)) =
                        (layer.recurrent(), step.checked_sub(1))
                    {
                        v += spike_dot(&recurrent[unit], &spikes[before * units + offset..]);
                    }
                    if let Some(injection) = injection {
                        v += injection[node];
                    }
                    v += layer.bias()[unit];

                    let threshold = layer.threshold()[unit];
                    let drive = v - threshold;
                    let spike = decide(node, drive);
                    drives[node] = drive;
                    spikes[node] = spike;
                    membrane[global] = if spike { v - threshold } else { v };
                }
            }
        }

        let train = self.output_train(&spikes);
        let loss = self.loss().value(&train);
        let mut counts = vec![0.0; self.outputs()];
        for step in &train {
            for (count, spike) in counts.iter_mut().zip(step) {
                *count += spike;
            }
        }
        Trajectory {
            spikes,
            drives,
            train,
            counts,
            loss,
        }
    }

    /// The output units' spikes as numbers, `[steps][outputs]`.
    pub(crate) fn output_train(&self, spikes: &[bool]) -> Vec<Vec<f64>> {
        let offset = self.layer_offset(self.layers().len() - 1);
        (0..self.steps())
            .map(|step| {
                let base = step * self.neurons() + offset;
                let outputs = &spikes[base..base + self.outputs()];
                outputs.iter().map(|&s| f64::from(u8::from(s))).collect()
            })
            .collect()
    }

    /// `sum_n coefficient[n] dx_n/dW` for every weight `W`, holding all spikes fixed.
    ///
    /// `dx_i(t)/dW_ij = sum_{tau <= t} decay_i^(t - tau) in_j(tau)` (feed-forward) and
    /// `dx_i(t)/dR_ij = sum_{tau < t} decay_i^(t - 1 - tau) s_j(tau)` (recurrent).
    pub(crate) fn weight_gradient(&self, spikes: &[bool], coefficient: &[f64]) -> Vec<f64> {
        let units = self.neurons();
        let mut gradient = vec![0.0; self.weight_count()];
        let mut start = 0;

        for (index, layer) in self.layers().iter().enumerate() {
            let (rows, fan_in) = (layer.units(), layer.fan_in());
            let offset = self.layer_offset(index);
            let previous = index.checked_sub(1).map(|p| self.layer_offset(p));
            let recurrent_start = start + rows * fan_in;
            let mut feedforward = vec![0.0; rows * fan_in];
            let mut recurrent = vec![
                0.0;
                if layer.recurrent().is_some() {
                    rows * rows
                } else {
                    0
                }
            ];

            for step in 0..self.steps() {
                let base = step * units;
                for unit in 0..rows {
                    let decay = layer.decay()[unit];
                    let c = coefficient[base + offset + unit];
                    for pre in 0..fan_in {
                        let input = match previous {
                            None => self.input()[step][pre],
                            Some(from) => f64::from(u8::from(spikes[base + from + pre])),
                        };
                        let trace = &mut feedforward[unit * fan_in + pre];
                        *trace = decay * *trace + input;
                        gradient[start + unit * fan_in + pre] += c * *trace;
                    }
                    if layer.recurrent().is_none() {
                        continue;
                    }
                    for pre in 0..rows {
                        let input = match step.checked_sub(1) {
                            Some(before) => {
                                f64::from(u8::from(spikes[before * units + offset + pre]))
                            }
                            None => 0.0,
                        };
                        let trace = &mut recurrent[unit * rows + pre];
                        *trace = decay * *trace + input;
                        gradient[recurrent_start + unit * rows + pre] += c * *trace;
                    }
                }
            }
            start += layer.weight_count();
        }
        gradient
    }

    /// `sum_n coefficient[n] dx_n/db` for every unit's bias `b`, `[layer][unit]`:
    /// `dx_i(t)/db_i = sum_{tau <= t} decay_i^(t - tau)`.
    pub(crate) fn bias_gradient(&self, coefficient: &[f64]) -> Vec<Vec<f64>> {
        let units = self.neurons();
        self.layers()
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let offset = self.layer_offset(index);
                (0..layer.units())
                    .map(|unit| {
                        let (decay, mut trace, mut sum) = (layer.decay()[unit], 0.0, 0.0);
                        for step in 0..self.steps() {
                            trace = decay * trace + 1.0;
                            sum += coefficient[step * units + offset + unit] * trace;
                        }
                        sum
                    })
                    .collect()
            })
            .collect()
    }

    /// For every node, its children `(node, dx_child/ds_node)`: the nodes whose drive depends
    /// directly (holding the other spikes fixed) on its spike, with the coefficient of that
    /// dependence. Drives are affine in each spike, so the coefficient is exact.
    pub(crate) fn children(&self) -> Vec<Vec<(usize, f64)>> {
        let units = self.neurons();
        let steps = self.steps();
        let mut children = vec![Vec::new(); self.nodes()];

        for (node, list) in children.iter_mut().enumerate() {
            let id = self.node(node);
            let layer = &self.layers()[id.layer];
            // The next layer, at this step and (through its membranes) later steps.
            if let Some(next) = self.layers().get(id.layer + 1) {
                let offset = self.layer_offset(id.layer + 1);
                for later in id.step..steps {
                    for post in 0..next.units() {
                        let decay = next.decay()[post].powi((later - id.step) as i32);
                        let c = decay * next.weights()[post][id.unit];
                        if c != 0.0 {
                            list.push((later * units + offset + post, c));
                        }
                    }
                }
            }
            // The same layer at later steps: recurrent weights and the unit's own reset.
            let offset = self.layer_offset(id.layer);
            // Without recurrence only the unit itself is a child (through its reset).
            let posts = match layer.recurrent() {
                Some(_) => 0..layer.units(),
                None => id.unit..id.unit + 1,
            };
            for later in id.step + 1..steps {
                for post in posts.clone() {
                    let decay = layer.decay()[post];
                    let lag = (later - id.step) as i32;
                    let mut c = match layer.recurrent() {
                        Some(recurrent) => decay.powi(lag - 1) * recurrent[post][id.unit],
                        None => 0.0,
                    };
                    if post == id.unit {
                        c -= layer.threshold()[post] * decay.powi(lag);
                    }
                    if c != 0.0 {
                        list.push((later * units + offset + post, c));
                    }
                }
            }
        }
        children
    }

    /// The flat index of a weight.
    pub fn weight_index(&self, id: crate::WeightId) -> Result<usize, CausalError> {
        let ids = self.weight_ids();
        let len = ids.len();
        ids.iter()
            .position(|known| *known == id)
            .ok_or(CausalError::OutOfRange {
                what: match id.synapse {
                    Synapse::Feedforward => "feed-forward weight",
                    Synapse::Recurrent => "recurrent weight",
                },
                index: id.post,
                len,
            })
    }
}

fn dot(weights: &[f64], input: &[f64]) -> f64 {
    weights.iter().zip(input).map(|(w, x)| w * x).sum()
}

fn spike_dot(weights: &[f64], spikes: &[bool]) -> f64 {
    weights
        .iter()
        .zip(spikes)
        .filter(|(_, spike)| **spike)
        .map(|(w, _)| w)
        .sum()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use spikeburn_noise::Noise;

    use super::*;
    use crate::network::NetworkSpec;

    /// One LIF unit with recurrent self-excitation, four steps of constant input.
    fn lif() -> Network {
        let text = r#"{"input": [[0.6], [0.6], [0.6], [0.6]],
            "layers": [{"weights": [[1.0], [0.5]], "recurrent": [[0.0, 0.3], [0.2, 0.0]],
                        "threshold": 1.0, "decay": 0.5}],
            "loss": {"kind": "output", "unit": 0}}"#;
        NetworkSpec::from_json(text)
            .unwrap()
            .check(Some(Noise::logistic(0.2).unwrap()))
            .unwrap()
    }

    #[test]
    fn membrane_follows_the_recurrence_by_hand() {
        let network = lif();
        let zero = NoiseStreams::from_values(&network, vec![0.0; 8]).unwrap();
        let trajectory = network.simulate(&zero);
        // Unit 0: v = 0.6 (no spike), 0.9 (no), 1.05 (spike), 0.5 * 0.05 + 0.6 + 0 = 0.625.
        // Unit 1 never reaches 1: 0.3, 0.45, 0.525, then 0.2625 + 0.3 + 0.2 (unit 0 spiked)
        // = 0.7625.
        let drives: Vec<f64> = trajectory.drives().iter().map(|x| x + 1.0).collect();
        let expected = [0.6, 0.3, 0.9, 0.45, 1.05, 0.525, 0.625, 0.7625];
        for (got, want) in drives.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{drives:?}");
        }
        assert_eq!(trajectory.counts(), &[1.0, 0.0]);
    }

    #[test]
    fn spike_intervention_replays_the_past_and_resets_the_future() {
        let network = lif();
        let noise = network.sample_noise(&mut StdRng::seed_from_u64(7));
        let factual = network.simulate(&noise);
        let node = NodeId {
            layer: 0,
            unit: 0,
            step: 1,
        };
        let set = Intervention::Spike { node, spike: true };
        let forced = network.simulate_with(&noise, &[set]).unwrap();
        let index = network.node_index(node).unwrap();
        assert_eq!(forced.spikes()[..index], factual.spikes()[..index]);
        assert!(forced.spikes()[index]);
        // The forced spike resets unit 0 by its threshold: its drive at step 2 drops by
        // decay * threshold (1 - factual spike) relative to the factual run.
        let later = network.node_index(NodeId { step: 2, ..node }).unwrap();
        let shift = if factual.spikes()[index] { 0.0 } else { -0.5 };
        assert!((forced.drives()[later] - factual.drives()[later] - shift).abs() < 1e-12);
        // Same noise, no intervention: the same trajectory.
        assert_eq!(network.simulate_with(&noise, &[]).unwrap(), factual);
    }

    #[test]
    fn weight_gradient_is_the_derivative_of_the_drives() {
        let network = lif();
        let noise = network.sample_noise(&mut StdRng::seed_from_u64(3));
        let spikes = network.simulate(&noise).spikes().to_vec();
        let forced = |net: &Network| net.run(None, |index, _| spikes[index]).drives().to_vec();
        let base = network.weights();
        for node in 0..network.nodes() {
            let mut coefficient = vec![0.0; network.nodes()];
            coefficient[node] = 1.0;
            let analytic = network.weight_gradient(&spikes, &coefficient);
            for (k, value) in analytic.iter().enumerate() {
                let mut up = base.clone();
                up[k] += 1.0;
                // Drives are affine in each weight when spikes are held fixed.
                let numeric =
                    forced(&network.with_weights(&up).unwrap())[node] - forced(&network)[node];
                assert!((numeric - value).abs() < 1e-12, "node {node} weight {k}");
            }
        }
    }

    #[test]
    fn children_coefficients_are_drive_differences() {
        let network = lif();
        let noise = network.sample_noise(&mut StdRng::seed_from_u64(5));
        let spikes = network.simulate(&noise).spikes().to_vec();
        let children = network.children();
        for node in 0..network.nodes() {
            let with = |value: bool| {
                let mut forced = spikes.clone();
                forced[node] = value;
                network
                    .run(None, |index, _| forced[index])
                    .drives()
                    .to_vec()
            };
            let (high, low) = (with(true), with(false));
            for child in 0..network.nodes() {
                let listed = children[node]
                    .iter()
                    .find(|(m, _)| *m == child)
                    .map_or(0.0, |c| c.1);
                assert!(
                    (high[child] - low[child] - listed).abs() < 1e-12,
                    "{node} -> {child}"
                );
            }
        }
    }
}
