//! The crate's error type.

use spikeburn_noise::Family;

/// Everything that can go wrong when reading a network or estimating an effect.
///
/// Undefined estimates (zero density, no positivity, an undefined score) are errors rather than
/// NaN, and every message names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CausalError {
    /// The network JSON could not be read; the message is serde's, naming the field and position.
    #[error("cannot read network JSON: {0}")]
    Json(String),
    /// The network has no layers.
    #[error("the network needs at least one layer, got none")]
    NoLayers,
    /// The input has no time steps or no channels.
    #[error("`input` must have at least one step and one channel, got {steps} steps of {channels}")]
    EmptyInput {
        /// The number of steps given.
        steps: usize,
        /// The number of channels in the first step.
        channels: usize,
    },
    /// One input step has a different number of channels than the first.
    #[error("`input[{step}]` has {found} channels, expected {expected} like `input[0]`")]
    RaggedInput {
        /// The step.
        step: usize,
        /// Channels in the first step.
        expected: usize,
        /// Channels in this step.
        found: usize,
    },
    /// A layer has no units (its `weights` has no rows).
    #[error("`layers[{layer}].weights` has no rows: a layer needs at least one unit")]
    EmptyLayer {
        /// The layer.
        layer: usize,
    },
    /// A row of a weight matrix has the wrong length.
    #[error("`layers[{layer}].{field}[{row}]` has {found} entries, expected {expected}")]
    WeightRow {
        /// The layer.
        layer: usize,
        /// `weights` or `recurrent`.
        field: &'static str,
        /// The row (the post-synaptic unit).
        row: usize,
        /// The fan-in the row must have.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A per-unit field (recurrent rows, thresholds, decays, noises) has the wrong length.
    #[error("`layers[{layer}].{field}` has {found} entries, expected one per unit ({expected})")]
    PerUnitLength {
        /// The layer.
        layer: usize,
        /// The field.
        field: &'static str,
        /// The number of units.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A number that must be finite is not.
    #[error("`{field}` must be finite, got {value}")]
    NonFinite {
        /// Where the value sits, as a JSON path.
        field: String,
        /// The value.
        value: f64,
    },
    /// A membrane decay outside `[0, 1]`.
    #[error("`layers[{layer}].decay` must lie in [0, 1], got {value} for unit {unit}")]
    InvalidDecay {
        /// The layer.
        layer: usize,
        /// The unit.
        unit: usize,
        /// The value.
        value: f64,
    },
    /// A readout decay outside `[0, 1]`.
    #[error("`loss.decay` must lie in [0, 1], got {value}")]
    InvalidReadoutDecay {
        /// The value.
        value: f64,
    },
    /// A layer without noise, when the caller gave no default noise either.
    #[error("`layers[{layer}]` has no `noise` and no default noise was given")]
    MissingNoise {
        /// The layer.
        layer: usize,
    },
    /// The loss names an output unit that does not exist.
    #[error("`loss.{field}` is {unit} but the output layer has {outputs} units")]
    OutputUnit {
        /// `unit` or `target`.
        field: &'static str,
        /// The unit named.
        unit: usize,
        /// The number of output units.
        outputs: usize,
    },
    /// A loss vector or matrix has the wrong size.
    #[error("`loss.{field}` has {found} entries, expected {expected}")]
    LossShape {
        /// `target`, `readout` or `readout[i]`.
        field: String,
        /// The size it must have.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// A weight, node or step index outside the network.
    #[error("{what} index {index} is out of range (the network has {len})")]
    OutOfRange {
        /// What was indexed.
        what: &'static str,
        /// The index.
        index: usize,
        /// How many there are.
        len: usize,
    },
    /// Exact enumeration was asked of a network with too many stochastic units.
    #[error(
        "exact enumeration needs at most {limit} stochastic units (neurons x steps), the network \
         has {units}"
    )]
    TooManyUnits {
        /// Neurons times steps.
        units: usize,
        /// The limit.
        limit: usize,
    },
    /// An estimator name that is not one of [`EstimatorKind::ALL`](crate::EstimatorKind::ALL).
    #[error(
        "unknown estimator `{0}`, expected one of: {names}",
        names = crate::EstimatorKind::ALL.map(|kind| kind.name()).join(", ")
    )]
    UnknownEstimator(String),
    /// A hyper-parameter outside its valid range.
    #[error("`{name}` must be {expected}, got {value}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The valid range, in words.
        expected: &'static str,
        /// The value given.
        value: f64,
    },
    /// Node perturbation with a noise whose score `-p'/p` is undefined (uniform).
    #[error("node perturbation needs a defined score -p'/p, which {family} noise does not have")]
    ScoreUndefined {
        /// The family.
        family: Family,
    },
    /// An effect that must be divided by the density where the density is zero.
    #[error("the noise density is zero at drive {drive} of {node}: the effect is not identified")]
    ZeroDensity {
        /// The node, in words.
        node: String,
        /// The noise-free drive.
        drive: f64,
    },
    /// A propensity of 0 or 1: one treatment arm is never observed.
    #[error("no positivity: the firing probability of {node} is {probability}")]
    NoPositivity {
        /// The node, in words.
        node: String,
        /// The firing probability.
        probability: f64,
    },
    /// The instrument does not move the treatment (zero first-stage covariance).
    #[error("the instrument does not move the treatment: first-stage covariance {covariance}")]
    WeakInstrument {
        /// The sample covariance of treatment and instrument.
        covariance: f64,
    },
    /// A regression whose design matrix is singular (for example a constant treatment).
    #[error("the {what} regression is singular: its design has rank below {columns}")]
    Singular {
        /// Which regression.
        what: &'static str,
        /// The number of columns.
        columns: usize,
    },
    /// A regression-discontinuity window with too few samples on one side of the threshold.
    #[error(
        "the window of half width {bandwidth} holds {found} samples {side} the threshold, \
         needs {needed}"
    )]
    EmptyWindow {
        /// `below` or `above`.
        side: &'static str,
        /// The half width.
        bandwidth: f64,
        /// Samples found.
        found: usize,
        /// Samples needed.
        needed: usize,
    },
    /// Data columns of different lengths.
    #[error("`{name}` has {found} samples, expected {expected}")]
    LengthMismatch {
        /// The column.
        name: String,
        /// The common length.
        expected: usize,
        /// Its length.
        found: usize,
    },
}
