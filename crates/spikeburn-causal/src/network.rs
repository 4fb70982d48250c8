//! Network descriptions: the serde form ([`NetworkSpec`]) and the checked form ([`Network`]).
//!
//! A network is a stack of layers of stochastic spiking units run for `steps` time steps. Unit
//! `i` of a layer keeps a membrane `v_i` and, at step `t`,
//!
//! ```text
//! v_i(t) = decay_i (v_i(t-1) - threshold_i s_i(t-1)) + sum_j W_ij in_j(t) + sum_j R_ij s_j(t-1) + b_i
//! s_i(t) = H(v_i(t) - threshold_i + xi_i(t))
//! ```
//!
//! where `in(t)` is the network input (first layer) or the previous layer's spikes at the same
//! step, `R` the optional recurrent weights, `b` an optional constant current (a bias), `xi`
//! private noise and the reset is by subtraction. With one step this is the layered binary
//! network `s = H(W s_prev - threshold + xi)`.
//!
//! The loss reads the last layer's spike train `[steps][outputs]`: its counts, or a leaky
//! non-spiking readout of it ([`Readout`]).

use serde::{Deserialize, Serialize};
use spikeburn_noise::Noise;

use crate::CausalError;

/// A threshold or decay given once for a layer or once per unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerUnit {
    /// The same value for every unit of the layer.
    Shared(f64),
    /// One value per unit.
    Each(Vec<f64>),
}

/// The network input: one vector (one step) or one vector per step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InputSpec {
    /// A single step.
    Single(Vec<f64>),
    /// `[steps][channels]`.
    Sequence(Vec<Vec<f64>>),
}

/// One layer as written in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// `weights[i][j]`: from unit `j` of the previous layer (or input channel `j`) into unit `i`.
    pub weights: Vec<Vec<f64>>,
    /// Optional recurrent weights `[units][units]`, acting on the layer's spikes one step back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrent: Option<Vec<Vec<f64>>>,
    /// The firing threshold, per layer or per unit.
    pub threshold: PerUnit,
    /// The membrane decay in `[0, 1]`, per layer or per unit; default 0 (no memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay: Option<PerUnit>,
    /// A constant current added to the membrane at every step, per layer or per unit; default
    /// 0. It is what a `Linear` layer's bias becomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<PerUnit>,
    /// The layer's escape noise; default: the noise given to [`NetworkSpec::check`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<Noise>,
}

/// A loss as written in JSON, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossSpec {
    /// `L = c_unit`, the spike count of one output unit (its spike, for one step).
    Output {
        /// The output unit.
        unit: usize,
    },
    /// `L = |y - target|^2 / 2` with `y = readout c` (or `y = c` without a readout), `c` the
    /// output spike counts.
    Mse {
        /// The target, one per output (or per readout row).
        target: Vec<f64>,
        /// An optional fixed linear readout `[targets][outputs]`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        readout: Option<Vec<Vec<f64>>>,
    },
    /// `L = log sum_k exp(c_k) - c_target`, cross-entropy of the softmax of the counts.
    CrossEntropy {
        /// The target class (an output unit).
        target: usize,
    },
    /// Cross-entropy of the maximum over time of a leaky readout of the output spikes:
    /// `m(t) = decay m(t-1) + weights s(t) + bias`, `z_k = max_t m_k(t)`,
    /// `L = log sum_k exp(z_k) - z_target`. This is [`SpikingMlp`]'s readout and loss.
    ///
    /// [`SpikingMlp`]: https://docs.rs/spikeburn-nn
    MaxReadout {
        /// `weights[k][j]`, from output unit `j` into class `k`.
        weights: Vec<Vec<f64>>,
        /// One constant current per class; default 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bias: Option<Vec<f64>>,
        /// The readout's decay per step, in `[0, 1]`.
        decay: f64,
        /// The target class.
        target: usize,
    },
}

/// A network as written in JSON; [`check`](NetworkSpec::check) validates it into a [`Network`].
///
/// The layered form of THEORY.md's diamond network:
/// `{"input": [1.0], "layers": [{"weights": [[1.0]], "threshold": 0.0}, ...],
/// "loss": {"kind": "output", "unit": 0}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The input, one vector (one step) or `[steps][channels]`.
    pub input: InputSpec,
    /// The layers, input side first.
    pub layers: Vec<LayerSpec>,
    /// The loss on the last layer's spike train.
    pub loss: LossSpec,
}

impl NetworkSpec {
    /// Reads a network from JSON. Errors name the offending field and position.
    pub fn from_json(text: &str) -> Result<Self, CausalError> {
        serde_json::from_str(text).map_err(|error| CausalError::Json(error.to_string()))
    }

    /// Validates the description; `noise` is used for every layer that names none.
    pub fn check(&self, noise: Option<Noise>) -> Result<Network, CausalError> {
        let input = match &self.input {
            InputSpec::Single(step) => vec![step.clone()],
            InputSpec::Sequence(steps) => steps.clone(),
        };
        let channels = input.first().map_or(0, Vec::len);
        if channels == 0 {
            return Err(CausalError::EmptyInput {
                steps: input.len(),
                channels,
            });
        }
        for (step, values) in input.iter().enumerate() {
            if values.len() != channels {
                return Err(CausalError::RaggedInput {
                    step,
                    expected: channels,
                    found: values.len(),
                });
            }
            finite_all(values, |j| format!("input[{step}][{j}]"))?;
        }
        if self.layers.is_empty() {
            return Err(CausalError::NoLayers);
        }

        let mut layers = Vec::with_capacity(self.layers.len());
        let mut fan_in = channels;
        for (index, spec) in self.layers.iter().enumerate() {
            let layer = check_layer(index, spec, fan_in, noise)?;
            fan_in = layer.units();
            layers.push(layer);
        }
        let loss = check_loss(&self.loss, fan_in)?;

        Ok(Network::from_parts(input, layers, loss))
    }
}

fn finite_all(values: &[f64], field: impl Fn(usize) -> String) -> Result<(), CausalError> {
    match values.iter().position(|value| !value.is_finite()) {
        Some(j) => Err(CausalError::NonFinite {
            field: field(j),
            value: values[j],
        }),
        None => Ok(()),
    }
}

fn check_matrix(
    layer: usize,
    field: &'static str,
    rows: &[Vec<f64>],
    columns: usize,
) -> Result<(), CausalError> {
    for (row, values) in rows.iter().enumerate() {
        if values.len() != columns {
            let found = values.len();
            return Err(CausalError::WeightRow {
                layer,
                field,
                row,
                expected: columns,
                found,
            });
        }
        finite_all(values, |j| format!("layers[{layer}].{field}[{row}][{j}]"))?;
    }
    Ok(())
}

fn per_unit(
    layer: usize,
    field: &'static str,
    value: &PerUnit,
    units: usize,
) -> Result<Vec<f64>, CausalError> {
    let values = match value {
        PerUnit::Shared(shared) => vec![*shared; units],
        PerUnit::Each(each) if each.len() == units => each.clone(),
        PerUnit::Each(each) => {
            let found = each.len();
            return Err(CausalError::PerUnitLength {
                layer,
                field,
                expected: units,
                found,
            });
        }
    };
    finite_all(&values, |unit| format!("layers[{layer}].{field}[{unit}]"))?;
    Ok(values)
}

fn check_layer(
    index: usize,
    spec: &LayerSpec,
    fan_in: usize,
    noise: Option<Noise>,
) -> Result<Layer, CausalError> {
    let units = spec.weights.len();
    if units == 0 {
        return Err(CausalError::EmptyLayer { layer: index });
    }
    check_matrix(index, "weights", &spec.weights, fan_in)?;
    if let Some(recurrent) = &spec.recurrent {
        if recurrent.len() != units {
            let found = recurrent.len();
            let field = "recurrent";
            return Err(CausalError::PerUnitLength {
                layer: index,
                field,
                expected: units,
                found,
            });
        }
        check_matrix(index, "recurrent", recurrent, units)?;
    }

    let threshold = per_unit(index, "threshold", &spec.threshold, units)?;
    let decay = match &spec.decay {
        Some(decay) => per_unit(index, "decay", decay, units)?,
        None => vec![0.0; units],
    };
    if let Some(unit) = decay.iter().position(|d| !(0.0..=1.0).contains(d)) {
        return Err(CausalError::InvalidDecay {
            layer: index,
            unit,
            value: decay[unit],
        });
    }
    let bias = match &spec.bias {
        Some(bias) => per_unit(index, "bias", bias, units)?,
        None => vec![0.0; units],
    };
    let noise = spec
        .noise
        .or(noise)
        .ok_or(CausalError::MissingNoise { layer: index })?;

    Ok(Layer {
        weights: spec.weights.clone(),
        recurrent: spec.recurrent.clone(),
        threshold,
        decay,
        bias,
        noise: vec![noise; units],
    })
}

fn check_loss(spec: &LossSpec, outputs: usize) -> Result<Loss, CausalError> {
    match spec {
        LossSpec::Output { unit } if *unit < outputs => Ok(Loss::Output { unit: *unit }),
        LossSpec::Output { unit } => Err(CausalError::OutputUnit {
            field: "unit",
            unit: *unit,
            outputs,
        }),
        LossSpec::CrossEntropy { target } if *target < outputs => {
            Ok(Loss::CrossEntropy { target: *target })
        }
        LossSpec::CrossEntropy { target } => Err(CausalError::OutputUnit {
            field: "target",
            unit: *target,
            outputs,
        }),
        LossSpec::MaxReadout {
            weights,
            bias,
            decay,
            target,
        } => Readout::new(weights, bias.as_deref(), *decay, *target, outputs).map(Loss::MaxReadout),
        LossSpec::Mse { target, readout } => {
            let rows = readout.as_ref().map_or(outputs, Vec::len);
            if target.len() != rows {
                let field = "target".to_string();
                return Err(CausalError::LossShape {
                    field,
                    expected: rows,
                    found: target.len(),
                });
            }
            finite_all(target, |j| format!("loss.target[{j}]"))?;
            if let Some(readout) = readout {
                for (row, values) in readout.iter().enumerate() {
                    if values.len() != outputs {
                        let field = format!("readout[{row}]");
                        let found = values.len();
                        return Err(CausalError::LossShape {
                            field,
                            expected: outputs,
                            found,
                        });
                    }
                    finite_all(values, |j| format!("loss.readout[{row}][{j}]"))?;
                }
            }
            Ok(Loss::Mse {
                target: target.clone(),
                readout: readout.clone(),
            })
        }
    }
}

/// One checked layer. Built through [`NetworkSpec::check`] or [`Layer::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    weights: Vec<Vec<f64>>,
    recurrent: Option<Vec<Vec<f64>>>,
    threshold: Vec<f64>,
    decay: Vec<f64>,
    bias: Vec<f64>,
    noise: Vec<Noise>,
}

impl Layer {
    /// The number of units.
    pub fn units(&self) -> usize {
        self.weights.len()
    }

    /// The number of inputs of each unit.
    pub fn fan_in(&self) -> usize {
        self.weights[0].len()
    }

    /// `weights[i][j]`, from presynaptic `j` into unit `i`.
    pub fn weights(&self) -> &[Vec<f64>] {
        &self.weights
    }

    /// The recurrent weights `[units][units]`, if any.
    pub fn recurrent(&self) -> Option<&[Vec<f64>]> {
        self.recurrent.as_deref()
    }

    /// The thresholds, one per unit.
    pub fn threshold(&self) -> &[f64] {
        &self.threshold
    }

    /// The membrane decays, one per unit.
    pub fn decay(&self) -> &[f64] {
        &self.decay
    }

    /// The constant current of each unit (0 without a bias).
    pub fn bias(&self) -> &[f64] {
        &self.bias
    }

    /// The escape noise, one per unit.
    pub fn noise(&self) -> &[Noise] {
        &self.noise
    }

    /// How many weights the layer has (feed-forward, then recurrent).
    pub fn weight_count(&self) -> usize {
        let units = self.units();
        units * self.fan_in() + self.recurrent.as_ref().map_or(0, |_| units * units)
    }
}

/// A checked loss on the output spike train `s[t][j]`, or on its counts `c_j = sum_t s[t][j]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Loss {
    /// `L = c_unit`.
    Output {
        /// The output unit.
        unit: usize,
    },
    /// `L = |y - target|^2 / 2`, `y = readout c` or `y = c`.
    Mse {
        /// The target.
        target: Vec<f64>,
        /// The optional readout `[targets][outputs]`.
        readout: Option<Vec<Vec<f64>>>,
    },
    /// `L = log sum_k exp(c_k) - c_target`.
    CrossEntropy {
        /// The target class.
        target: usize,
    },
    /// Cross-entropy of the maximum over time of a leaky readout; see [`Readout`].
    MaxReadout(Readout),
}

impl Loss {
    /// The loss of an output spike train `[steps][outputs]`.
    pub fn value(&self, train: &[Vec<f64>]) -> f64 {
        match self {
            Loss::MaxReadout(readout) => readout.value(train),
            _ => self.value_of_counts(&counts_of(train)),
        }
    }

    /// `dL/ds[t][j]` for every step and output unit, `[steps][outputs]`.
    pub fn gradient(&self, train: &[Vec<f64>]) -> Vec<Vec<f64>> {
        match self {
            Loss::MaxReadout(readout) => readout.spike_gradient(train),
            _ => {
                let per_count = self.gradient_of_counts(&counts_of(train));
                vec![per_count; train.len()]
            }
        }
    }

    /// `L(s[t][j] = 1) - L(s[t][j] = 0)` for every step and output unit, the rest of the binary
    /// train held fixed: the exact effect of each output spike on the loss, `[steps][outputs]`.
    pub fn flip_differences(&self, train: &[Vec<f64>]) -> Vec<Vec<f64>> {
        if let Loss::MaxReadout(readout) = self {
            return readout.flip_differences(train);
        }
        let counts = counts_of(train);
        train
            .iter()
            .map(|spikes| {
                (0..counts.len())
                    .map(|unit| {
                        let others = counts[unit] - spikes[unit];
                        let mut with = counts.clone();
                        with[unit] = others + 1.0;
                        let high = self.value_of_counts(&with);
                        with[unit] = others;
                        high - self.value_of_counts(&with)
                    })
                    .collect()
            })
            .collect()
    }

    /// The gradient of the loss with respect to its own parameters, for a given train: the
    /// readout's weights (row-major) then its biases; empty for the count losses.
    pub fn parameter_gradient(&self, train: &[Vec<f64>]) -> Vec<f64> {
        match self {
            Loss::MaxReadout(readout) => readout.parameter_gradient(train),
            _ => Vec::new(),
        }
    }

    /// The loss of the output counts, for the losses that read counts only.
    fn value_of_counts(&self, counts: &[f64]) -> f64 {
        match self {
            Loss::Output { unit } => counts[*unit],
            Loss::Mse { target, readout } => {
                let y = readout_of(readout.as_deref(), counts);
                0.5 * y
                    .iter()
                    .zip(target)
                    .map(|(y, t)| (y - t) * (y - t))
                    .sum::<f64>()
            }
            Loss::CrossEntropy { target } => log_sum_exp(counts) - counts[*target],
            Loss::MaxReadout(_) => unreachable!("a readout reads the train, not its counts"),
        }
    }

    /// The derivative `dL/dc` of a count loss with respect to the output counts.
    fn gradient_of_counts(&self, counts: &[f64]) -> Vec<f64> {
        match self {
            Loss::Output { unit } => {
                let mut gradient = vec![0.0; counts.len()];
                gradient[*unit] = 1.0;
                gradient
            }
            Loss::Mse { target, readout } => {
                let y = readout_of(readout.as_deref(), counts);
                let residual: Vec<f64> = y.iter().zip(target).map(|(y, t)| y - t).collect();
                match readout {
                    None => residual,
                    // dL/dc = readout^T (y - target)
                    Some(readout) => (0..counts.len())
                        .map(|k| {
                            readout
                                .iter()
                                .zip(&residual)
                                .map(|(row, r)| row[k] * r)
                                .sum()
                        })
                        .collect(),
                }
            }
            Loss::CrossEntropy { target } => {
                let normaliser = log_sum_exp(counts);
                let mut gradient: Vec<f64> =
                    counts.iter().map(|c| (c - normaliser).exp()).collect();
                gradient[*target] -= 1.0;
                gradient
            }
            Loss::MaxReadout(_) => unreachable!("a readout reads the train, not its counts"),
        }
    }
}

/// The spike count of each output over a train `[steps][outputs]`.
fn counts_of(train: &[Vec<f64>]) -> Vec<f64> {
    let outputs = train.first().map_or(0, Vec::len);
    let mut counts = vec![0.0; outputs];
    for spikes in train {
        for (count, spike) in counts.iter_mut().zip(spikes) {
            *count += spike;
        }
    }
    counts
}

/// A leaky, non-spiking readout of the output spikes with cross-entropy on its maximum over
/// time:
///
/// ```text
/// m_k(t) = decay m_k(t-1) + sum_j weights[k][j] s_j(t) + bias_k,   m_k(-1) = 0
/// z_k = max_t m_k(t)       L = log sum_k exp(z_k) - z_target
/// ```
///
/// The maximum's derivative goes to the first step that attains it, as in Burn's `max_dim`.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    weights: Vec<Vec<f64>>,
    bias: Vec<f64>,
    decay: f64,
    target: usize,
}

impl Readout {
    /// Checks a readout of `outputs` spiking units.
    pub fn new(
        weights: &[Vec<f64>],
        bias: Option<&[f64]>,
        decay: f64,
        target: usize,
        outputs: usize,
    ) -> Result<Self, CausalError> {
        let classes = weights.len();
        if classes == 0 {
            let field = "weights".to_string();
            return Err(CausalError::LossShape {
                field,
                expected: 1,
                found: 0,
            });
        }
        for (row, values) in weights.iter().enumerate() {
            if values.len() != outputs {
                let field = format!("weights[{row}]");
                let found = values.len();
                return Err(CausalError::LossShape {
                    field,
                    expected: outputs,
                    found,
                });
            }
            finite_all(values, |j| format!("loss.weights[{row}][{j}]"))?;
        }
        let bias = match bias {
            Some(bias) if bias.len() != classes => {
                let field = "bias".to_string();
                let found = bias.len();
                return Err(CausalError::LossShape {
                    field,
                    expected: classes,
                    found,
                });
            }
            Some(bias) => bias.to_vec(),
            None => vec![0.0; classes],
        };
        finite_all(&bias, |k| format!("loss.bias[{k}]"))?;
        if !(0.0..=1.0).contains(&decay) {
            return Err(CausalError::InvalidReadoutDecay { value: decay });
        }
        if target >= classes {
            return Err(CausalError::OutputUnit {
                field: "target",
                unit: target,
                outputs: classes,
            });
        }
        Ok(Readout {
            weights: weights.to_vec(),
            bias,
            decay,
            target,
        })
    }

    /// `weights[k][j]`.
    pub fn weights(&self) -> &[Vec<f64>] {
        &self.weights
    }

    /// The bias of each class.
    pub fn bias(&self) -> &[f64] {
        &self.bias
    }

    /// The decay per step.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// The target class.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The membrane of every class at every step, `[steps][classes]`.
    pub fn membranes(&self, train: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let mut membrane = vec![0.0; self.weights.len()];
        train
            .iter()
            .map(|spikes| {
                for ((m, row), b) in membrane.iter_mut().zip(&self.weights).zip(&self.bias) {
                    let drive: f64 = row.iter().zip(spikes).map(|(w, s)| w * s).sum();
                    *m = self.decay * *m + drive + b;
                }
                membrane.clone()
            })
            .collect()
    }

    /// The logits `z_k = max_t m_k(t)` and the first step attaining each.
    fn logits(&self, membranes: &[Vec<f64>]) -> (Vec<f64>, Vec<usize>) {
        let classes = self.weights.len();
        let (mut logits, mut argmax) = (vec![f64::NEG_INFINITY; classes], vec![0; classes]);
        for (step, membrane) in membranes.iter().enumerate() {
            for k in 0..classes {
                if membrane[k] > logits[k] {
                    logits[k] = membrane[k];
                    argmax[k] = step;
                }
            }
        }
        (logits, argmax)
    }

    fn cross_entropy(&self, logits: &[f64]) -> f64 {
        log_sum_exp(logits) - logits[self.target]
    }

    /// `dL/dz_k = softmax(z)_k - [k = target]`.
    fn logit_gradient(&self, logits: &[f64]) -> Vec<f64> {
        let normaliser = log_sum_exp(logits);
        let mut gradient: Vec<f64> = logits.iter().map(|z| (z - normaliser).exp()).collect();
        gradient[self.target] -= 1.0;
        gradient
    }

    fn value(&self, train: &[Vec<f64>]) -> f64 {
        let (logits, _) = self.logits(&self.membranes(train));
        self.cross_entropy(&logits)
    }

    /// `dL/ds_j(t) = sum_k dL/dz_k weights[k][j] decay^(t*_k - t)` for `t <= t*_k`.
    fn spike_gradient(&self, train: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let (logits, argmax) = self.logits(&self.membranes(train));
        let outer = self.logit_gradient(&logits);
        let outputs = train.first().map_or(0, Vec::len);
        (0..train.len())
            .map(|step| {
                let mut row = vec![0.0; outputs];
                for (k, (&g, &peak)) in outer.iter().zip(&argmax).enumerate() {
                    if step > peak {
                        continue;
                    }
                    let factor = g * self.decay.powi((peak - step) as i32);
                    for (r, w) in row.iter_mut().zip(&self.weights[k]) {
                        *r += factor * w;
                    }
                }
                row
            })
            .collect()
    }

    /// Flipping `s_j(t)` moves `m_k(tau)` by `weights[k][j] decay^(tau - t)` for `tau >= t`;
    /// the maxima are recomputed from the factual membranes in `O(steps classes)` per spike.
    fn flip_differences(&self, train: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let membranes = self.membranes(train);
        let (steps, classes) = (train.len(), self.weights.len());
        // The maximum of each class's membrane over the steps before `t`.
        let mut before = vec![vec![f64::NEG_INFINITY; classes]; steps + 1];
        for step in 0..steps {
            for k in 0..classes {
                before[step + 1][k] = before[step][k].max(membranes[step][k]);
            }
        }
        let mut logits = vec![0.0; classes];
        let mut differences = Vec::with_capacity(steps);
        for (step, spikes) in train.iter().enumerate() {
            let mut row = Vec::with_capacity(spikes.len());
            for (j, &spike) in spikes.iter().enumerate() {
                let mut loss = [0.0; 2];
                for (value, slot) in loss.iter_mut().enumerate() {
                    let shift = value as f64 - spike;
                    for k in 0..classes {
                        let mut push = shift * self.weights[k][j];
                        let mut peak = before[step][k];
                        for membrane in &membranes[step..] {
                            peak = peak.max(membrane[k] + push);
                            push *= self.decay;
                        }
                        logits[k] = peak;
                    }
                    *slot = self.cross_entropy(&logits);
                }
                row.push(loss[1] - loss[0]);
            }
            differences.push(row);
        }
        differences
    }

    /// `dL/dweights[k][j] = dL/dz_k sum_{t <= t*_k} decay^(t*_k - t) s_j(t)` (row-major), then
    /// `dL/dbias_k = dL/dz_k sum_{t <= t*_k} decay^(t*_k - t)`.
    fn parameter_gradient(&self, train: &[Vec<f64>]) -> Vec<f64> {
        let (logits, argmax) = self.logits(&self.membranes(train));
        let outer = self.logit_gradient(&logits);
        let outputs = train.first().map_or(0, Vec::len);
        let classes = self.weights.len();
        let mut gradient = vec![0.0; classes * (outputs + 1)];
        for k in 0..classes {
            let mut trace = vec![0.0; outputs];
            let mut constant = 0.0;
            for spikes in &train[..=argmax[k]] {
                for (t, s) in trace.iter_mut().zip(spikes) {
                    *t = self.decay * *t + s;
                }
                constant = self.decay * constant + 1.0;
            }
            for (j, t) in trace.iter().enumerate() {
                gradient[k * outputs + j] = outer[k] * t;
            }
            gradient[classes * outputs + k] = outer[k] * constant;
        }
        gradient
    }
}

fn readout_of(readout: Option<&[Vec<f64>]>, counts: &[f64]) -> Vec<f64> {
    match readout {
        None => counts.to_vec(),
        Some(rows) => rows
            .iter()
            .map(|row| row.iter().zip(counts).map(|(u, c)| u * c).sum())
            .collect(),
    }
}

fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// A stochastic unit at one time step: `(layer, unit, step)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId {
    /// The layer.
    pub layer: usize,
    /// The unit within the layer.
    pub unit: usize,
    /// The time step.
    pub step: usize,
}

/// Which matrix a weight belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synapse {
    /// `weights`, from the previous layer or the input.
    Feedforward,
    /// `recurrent`, from the same layer one step back.
    Recurrent,
}

/// One weight: `layer`'s `synapse` matrix at `[post][pre]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeightId {
    /// The layer.
    pub layer: usize,
    /// The matrix.
    pub synapse: Synapse,
    /// The post-synaptic unit (row).
    pub post: usize,
    /// The pre-synaptic unit or input channel (column).
    pub pre: usize,
}

/// A checked network: shapes agree, numbers are finite, decays lie in `[0, 1]`.
///
/// Weights are addressed by [`WeightId`] or by a flat index: layer by layer, the feed-forward
/// matrix row-major and then the recurrent one. Nodes (units at a step) have a flat index too:
/// step-major, then layer, then unit, which is the order of simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    input: Vec<Vec<f64>>,
    layers: Vec<Layer>,
    loss: Loss,
    offsets: Vec<usize>,
    units: usize,
}

impl Network {
    fn from_parts(input: Vec<Vec<f64>>, layers: Vec<Layer>, loss: Loss) -> Self {
        let mut offsets = Vec::with_capacity(layers.len());
        let mut units = 0;
        for layer in &layers {
            offsets.push(units);
            units += layer.units();
        }
        Network {
            input,
            layers,
            loss,
            offsets,
            units,
        }
    }

    /// The input, `[steps][channels]`.
    pub fn input(&self) -> &[Vec<f64>] {
        &self.input
    }

    /// The layers.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The loss.
    pub fn loss(&self) -> &Loss {
        &self.loss
    }

    /// The number of time steps.
    pub fn steps(&self) -> usize {
        self.input.len()
    }

    /// The number of neurons over all layers.
    pub fn neurons(&self) -> usize {
        self.units
    }

    /// The number of stochastic units, neurons times steps.
    pub fn nodes(&self) -> usize {
        self.units * self.steps()
    }

    /// The number of output units.
    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].units()
    }

    /// The flat index of a node.
    pub fn node_index(&self, node: NodeId) -> Result<usize, CausalError> {
        let layers = self.layers.len();
        let layer = self.layers.get(node.layer).ok_or(CausalError::OutOfRange {
            what: "layer",
            index: node.layer,
            len: layers,
        })?;
        if node.unit >= layer.units() {
            let len = layer.units();
            return Err(CausalError::OutOfRange {
                what: "unit",
                index: node.unit,
                len,
            });
        }
        if node.step >= self.steps() {
            let len = self.steps();
            return Err(CausalError::OutOfRange {
                what: "step",
                index: node.step,
                len,
            });
        }
        Ok(node.step * self.units + self.offsets[node.layer] + node.unit)
    }

    /// The node at a flat index.
    ///
    /// # Panics
    /// If `index >= self.nodes()`.
    pub fn node(&self, index: usize) -> NodeId {
        assert!(
            index < self.nodes(),
            "node index {index} out of range {}",
            self.nodes()
        );
        let (step, global) = (index / self.units, index % self.units);
        let layer = self
            .offsets
            .iter()
            .rposition(|&offset| offset <= global)
            .unwrap_or(0);
        NodeId {
            layer,
            unit: global - self.offsets[layer],
            step,
        }
    }

    /// The offset of `layer`'s first unit among all neurons.
    pub fn layer_offset(&self, layer: usize) -> usize {
        self.offsets[layer]
    }

    /// The total number of weights.
    pub fn weight_count(&self) -> usize {
        self.layers.iter().map(Layer::weight_count).sum()
    }

    /// Every weight in flat order.
    pub fn weight_ids(&self) -> Vec<WeightId> {
        let mut ids = Vec::with_capacity(self.weight_count());
        for (index, layer) in self.layers.iter().enumerate() {
            for post in 0..layer.units() {
                for pre in 0..layer.fan_in() {
                    ids.push(WeightId {
                        layer: index,
                        synapse: Synapse::Feedforward,
                        post,
                        pre,
                    });
                }
            }
            if layer.recurrent.is_some() {
                for post in 0..layer.units() {
                    for pre in 0..layer.units() {
                        ids.push(WeightId {
                            layer: index,
                            synapse: Synapse::Recurrent,
                            post,
                            pre,
                        });
                    }
                }
            }
        }
        ids
    }

    /// All weights in flat order.
    pub fn weights(&self) -> Vec<f64> {
        let mut weights = Vec::with_capacity(self.weight_count());
        for layer in &self.layers {
            weights.extend(layer.weights.iter().flatten());
            if let Some(recurrent) = &layer.recurrent {
                weights.extend(recurrent.iter().flatten());
            }
        }
        weights
    }

    /// The network with all weights replaced, in flat order: `do(w)` for every weight at once.
    pub fn with_weights(&self, weights: &[f64]) -> Result<Network, CausalError> {
        let expected = self.weight_count();
        if weights.len() != expected {
            let name = "weights".to_string();
            return Err(CausalError::LengthMismatch {
                name,
                expected,
                found: weights.len(),
            });
        }
        finite_all(weights, |j| format!("weights[{j}]"))?;

        let mut network = self.clone();
        let mut values = weights.iter().copied();
        for layer in &mut network.layers {
            let rows = layer
                .weights
                .iter_mut()
                .chain(layer.recurrent.iter_mut().flatten());
            for value in rows.flatten() {
                *value = values.next().expect("length checked above");
            }
        }
        Ok(network)
    }

    /// The network with one weight set to `value`: the intervention `do(w = value)`.
    pub fn with_weight(&self, index: usize, value: f64) -> Result<Network, CausalError> {
        let mut weights = self.weights();
        let len = weights.len();
        let slot = weights.get_mut(index).ok_or(CausalError::OutOfRange {
            what: "weight",
            index,
            len,
        })?;
        *slot = value;
        self.with_weights(&weights)
    }

    /// The network with every layer's noise replaced by `noise`.
    pub fn with_noise(&self, noise: Noise) -> Network {
        let mut network = self.clone();
        for layer in &mut network.layers {
            layer.noise.fill(noise);
        }
        network
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIAMOND: &str = r#"{"input": [1.0], "layers": [{"weights": [[1.0]], "threshold": 0.0},
        {"weights": [[0.05], [0.1]], "threshold": 0.0},
        {"weights": [[1.0, -1.0]], "threshold": 0.0}], "loss": {"kind": "output", "unit": 0}}"#;

    fn logistic() -> Noise {
        Noise::logistic(1.0).unwrap()
    }

    #[test]
    fn diamond_reads_and_indexes() {
        let network = NetworkSpec::from_json(DIAMOND)
            .unwrap()
            .check(Some(logistic()))
            .unwrap();
        assert_eq!(network.neurons(), 4);
        assert_eq!(network.steps(), 1);
        assert_eq!(network.weights(), vec![1.0, 0.05, 0.1, 1.0, -1.0]);
        let ids = network.weight_ids();
        assert_eq!(
            ids[4],
            WeightId {
                layer: 2,
                synapse: Synapse::Feedforward,
                post: 0,
                pre: 1
            }
        );
        for index in 0..network.nodes() {
            assert_eq!(network.node_index(network.node(index)).unwrap(), index);
        }
        let changed = network.with_weight(2, 0.7).unwrap();
        assert_eq!(changed.layers()[1].weights()[1][0], 0.7);
    }

    #[test]
    fn malformed_shapes_name_field_and_sizes() {
        let bad = DIAMOND.replace("[[1.0, -1.0]]", "[[1.0, -1.0, 2.0]]");
        let error = NetworkSpec::from_json(&bad)
            .unwrap()
            .check(Some(logistic()))
            .unwrap_err();
        let expected = CausalError::WeightRow {
            layer: 2,
            field: "weights",
            row: 0,
            expected: 2,
            found: 3,
        };
        assert_eq!(error, expected);
        assert_eq!(
            error.to_string(),
            "`layers[2].weights[0]` has 3 entries, expected 2"
        );

        let bad = DIAMOND.replace(
            "\"threshold\": 0.0},\n        {\"weights\": [[0.05]",
            "\"threshold\": [0.0, 1.0]},\n        {\"weights\": [[0.05]",
        );
        let error = NetworkSpec::from_json(&bad)
            .unwrap()
            .check(Some(logistic()))
            .unwrap_err();
        assert!(matches!(
            error,
            CausalError::PerUnitLength {
                layer: 0,
                field: "threshold",
                ..
            }
        ));

        let error = NetworkSpec::from_json(DIAMOND)
            .unwrap()
            .check(None)
            .unwrap_err();
        assert_eq!(error, CausalError::MissingNoise { layer: 0 });

        let bad = DIAMOND.replace("\"unit\": 0", "\"unit\": 3");
        let error = NetworkSpec::from_json(&bad)
            .unwrap()
            .check(Some(logistic()))
            .unwrap_err();
        assert_eq!(
            error,
            CausalError::OutputUnit {
                field: "unit",
                unit: 3,
                outputs: 1
            }
        );
    }

    #[test]
    fn json_errors_name_the_field() {
        let error = NetworkSpec::from_json(r#"{"input": [1.0], "layers": []}"#).unwrap_err();
        assert!(
            error.to_string().contains("missing field `loss`"),
            "{error}"
        );
        let text = r#"{"input": [1.0], "layers": [{"weight": [[1.0]], "threshold": 0.0}],
            "loss": {"kind": "output", "unit": 0}}"#;
        let error = NetworkSpec::from_json(text).unwrap_err();
        assert!(error.to_string().contains("weight"), "{error}");
    }

    fn readout() -> Readout {
        let weights = vec![vec![0.5, -1.0, 2.0], vec![-0.3, 0.8, 0.1]];
        Readout::new(&weights, Some(&[0.05, -0.02]), 0.8, 1, 3).unwrap()
    }

    #[test]
    fn loss_gradients_match_finite_differences() {
        // A train of real numbers, so that central differences are defined.
        let train = vec![
            vec![1.0, 0.0, 0.7],
            vec![0.2, 1.0, 1.3],
            vec![0.0, 0.4, 0.1],
        ];
        let losses = [
            Loss::Output { unit: 2 },
            Loss::Mse {
                target: vec![0.5, 1.0, 1.0],
                readout: None,
            },
            Loss::Mse {
                target: vec![0.3],
                readout: Some(vec![vec![0.5, -1.0, 2.0]]),
            },
            Loss::CrossEntropy { target: 1 },
            Loss::MaxReadout(readout()),
        ];
        for loss in losses {
            let gradient = loss.gradient(&train);
            for step in 0..train.len() {
                for k in 0..train[0].len() {
                    let (mut up, mut down) = (train.clone(), train.clone());
                    up[step][k] += 1e-6;
                    down[step][k] -= 1e-6;
                    let numeric = (loss.value(&up) - loss.value(&down)) / 2e-6;
                    // Central differences of these smooth losses are accurate to ~1e-9.
                    let analytic = gradient[step][k];
                    assert!((numeric - analytic).abs() < 1e-8, "{loss:?} {step} {k}");
                }
            }
        }
    }

    #[test]
    fn flip_differences_recompute_the_loss() {
        let train = vec![
            vec![1.0, 0.0, 1.0],
            vec![0.0, 1.0, 1.0],
            vec![0.0, 0.0, 1.0],
        ];
        let losses = [
            Loss::Mse {
                target: vec![0.3],
                readout: Some(vec![vec![0.5, -1.0, 2.0]]),
            },
            Loss::CrossEntropy { target: 0 },
            Loss::MaxReadout(readout()),
        ];
        for loss in losses {
            let differences = loss.flip_differences(&train);
            for step in 0..train.len() {
                for k in 0..train[0].len() {
                    let (mut high, mut low) = (train.clone(), train.clone());
                    high[step][k] = 1.0;
                    low[step][k] = 0.0;
                    let direct = loss.value(&high) - loss.value(&low);
                    assert!((differences[step][k] - direct).abs() < 1e-12, "{loss:?}");
                }
            }
        }
    }

    #[test]
    fn readout_parameter_gradient_matches_finite_differences() {
        let train = vec![
            vec![1.0, 0.0, 1.0],
            vec![0.0, 1.0, 1.0],
            vec![1.0, 0.0, 0.0],
        ];
        let base = readout();
        let gradient = base.parameter_gradient(&train);
        let (classes, outputs) = (2, 3);
        assert_eq!(gradient.len(), classes * (outputs + 1));
        let moved = |index: usize, by: f64| {
            let (mut weights, mut bias) = (base.weights().to_vec(), base.bias().to_vec());
            if index < classes * outputs {
                weights[index / outputs][index % outputs] += by;
            } else {
                bias[index - classes * outputs] += by;
            }
            Readout::new(&weights, Some(&bias), base.decay(), base.target(), outputs)
                .unwrap()
                .value(&train)
        };
        for (index, analytic) in gradient.iter().enumerate() {
            let numeric = (moved(index, 1e-6) - moved(index, -1e-6)) / 2e-6;
            assert!(
                (numeric - analytic).abs() < 1e-8,
                "{index}: {numeric} {analytic}"
            );
        }
    }

    #[test]
    fn bad_readouts_are_named() {
        let weights = vec![vec![1.0, 2.0]];
        let error = Readout::new(&weights, None, 0.9, 0, 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`loss.weights[0]` has 2 entries, expected 3"
        );
        let weights = vec![vec![1.0, 2.0, 3.0]];
        let error = Readout::new(&weights, None, 1.5, 0, 3).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`loss.decay` must lie in [0, 1], got 1.5"
        );
        let error = Readout::new(&weights, None, 0.5, 1, 3).unwrap_err();
        assert!(matches!(error, CausalError::OutputUnit { unit: 1, .. }));
    }
}
