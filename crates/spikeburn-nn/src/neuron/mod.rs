//! Spiking neuron layers: leaky and non-leaky integrate-and-fire, current-based synaptic,
//! recurrent and adaptive-threshold LIF, and a non-spiking leaky readout.
//!
//! Every layer is a Burn `Config` + `Module` pair with an explicit state type. A layer holds
//! only the neuron dynamics; synaptic weights come from Burn's `Linear` in front of it (see
//! [`SpikingMlp`](crate::SpikingMlp)). Each threshold crossing goes through the layer's
//! [`Firing`], so the surrogate gradient is always the layer's noise density.
//!
//! Sequences are `[time, batch, neurons]`; one step is `[batch, neurons]`.

mod adaptive;
mod lif;
mod params;
mod readout;
mod recurrent;
mod synaptic;
#[cfg(all(test, feature = "ndarray"))]
mod tests;

pub use adaptive::{AdaptiveLif, AdaptiveLifConfig, AdaptiveLifState};
pub use lif::{If, IfConfig, Lif, LifConfig, LifState};
pub use params::{Decay, Threshold};
pub use readout::{LeakyReadout, LeakyReadoutConfig, LeakyReadoutState};
pub use recurrent::{RecurrentLif, RecurrentLifConfig, RecurrentLifState};
pub use synaptic::{Synaptic, SynapticConfig, SynapticState};

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::{Firing, NnError};

/// What happens to the membrane of a neuron that has just spiked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// `v <- v - threshold`: keeps the overshoot. The default.
    #[default]
    Subtract,
    /// `v <- 0`.
    Zero,
    /// The membrane is left as it is.
    None,
}

/// The whole-sequence result of a spiking layer.
#[derive(Debug, Clone)]
pub struct SpikeTrain<S> {
    /// The spikes, `[time, batch, neurons]`.
    pub spikes: Tensor<3>,
    /// The membrane potential after integration and before the reset, `[time, batch, neurons]`,
    /// when it was asked for.
    pub membrane: Option<Tensor<3>>,
    /// The state after the last step, to continue the sequence.
    pub state: S,
}

/// Fires the neurons of `membrane` against `threshold` and resets them.
///
/// Returns the spikes and the membrane after the reset. The reset uses detached spikes unless
/// `reset_gradient`: with it, the gradient also flows through `v - s * threshold`, a path whose
/// surrogate factor compounds across steps and which most SNN work cuts (Zenke and Vogels
/// 2021) because it makes the surrogate gradient noisier without improving it.
///
/// # Shapes
/// - `membrane`, `threshold`: `[batch, neurons]` (or broadcastable to it)
/// - returns: `[batch, neurons]` twice
pub(crate) fn fire_and_reset(
    firing: &Firing,
    membrane: Tensor<2>,
    threshold: Tensor<2>,
    reset: Reset,
    reset_gradient: bool,
) -> (Tensor<2>, Tensor<2>) {
    fire_and_reset_with(firing, membrane, threshold, reset, reset_gradient, None)
}

/// [`fire_and_reset`] with an optional given noise sample `[batch, neurons]`, which replaces
/// the firing's own (see [`Firing::fire_with_noise`]).
pub(crate) fn fire_and_reset_with(
    firing: &Firing,
    membrane: Tensor<2>,
    threshold: Tensor<2>,
    reset: Reset,
    reset_gradient: bool,
    noise: Option<Tensor<2>>,
) -> (Tensor<2>, Tensor<2>) {
    let drive = membrane.clone() - threshold.clone();
    let spikes = match noise {
        Some(noise) => firing.fire_with_noise(drive, noise),
        None => firing.fire(drive),
    };
    let reset_spikes = if reset_gradient {
        spikes.clone()
    } else {
        spikes.clone().detach()
    };

    let membrane = match reset {
        Reset::Subtract => membrane - reset_spikes * threshold,
        Reset::Zero => membrane * (reset_spikes.neg() + 1.0),
        Reset::None => membrane,
    };

    (spikes, membrane)
}

/// Checks the `[time, batch, features]` input of a layer with `features` inputs per step.
pub(crate) fn check_sequence(layer: &str, input: &Tensor<3>, features: usize) -> [usize; 3] {
    let dims = input.dims();
    assert!(
        dims[2] == features,
        "{layer} expects input [time, batch, {features}], got {dims:?}"
    );
    dims
}

/// Checks a layer's `[time, batch, neurons]` input and a noise sample of the same shape.
pub(crate) fn check_noise(
    layer: &str,
    input: &Tensor<3>,
    noise: &Tensor<3>,
    neurons: usize,
) -> [usize; 3] {
    let dims = check_sequence(layer, input, neurons);
    assert_eq!(
        noise.dims(),
        dims,
        "{layer}: the noise must have the input's shape [time, batch, neurons]"
    );
    dims
}

/// Checks one `[batch, features]` step of a layer with `features` inputs.
pub(crate) fn check_step(layer: &str, input: &Tensor<2>, features: usize) -> [usize; 2] {
    let dims = input.dims();
    assert!(
        dims[1] == features,
        "{layer} expects input [batch, {features}], got {dims:?}"
    );
    dims
}

/// Runs `step` over the time axis of `input` from `state`, stacking what it returns.
///
/// `step` maps one input step and the state to the step's output (spikes, or the membrane of a
/// readout), the membrane before any reset, and the next state. The layers' per-step reference
/// paths (and the layers without a fused op) go through here.
///
/// # Shapes
/// - `input`: `[time, batch, features]`
/// - returns: outputs and (when `record_membrane`) membranes as `[time, batch, neurons]`
pub(crate) fn scan<S>(
    input: &Tensor<3>,
    mut state: S,
    record_membrane: bool,
    mut step: impl FnMut(Tensor<2>, S) -> (Tensor<2>, Tensor<2>, S),
) -> SpikeTrain<S> {
    let time = input.dims()[0];
    let mut outputs = Vec::with_capacity(time);
    let mut membranes = Vec::with_capacity(if record_membrane { time } else { 0 });
    for t in 0..time {
        let (output, membrane, next) = step(step_of(input, t), state);
        outputs.push(output);
        if record_membrane {
            membranes.push(membrane);
        }
        state = next;
    }

    SpikeTrain {
        spikes: Tensor::stack(outputs, 0),
        membrane: record_membrane.then(|| Tensor::stack(membranes, 0)),
        state,
    }
}

/// Step `t` of a `[time, batch, features]` sequence, as `[batch, features]`.
pub(crate) fn step_of(sequence: &Tensor<3>, t: usize) -> Tensor<2> {
    let [_, batch, features] = sequence.dims();
    sequence.clone().narrow(0, t, 1).reshape([batch, features])
}

/// Panics with `error` if it is one: configs are checked when a layer is built.
pub(crate) fn valid(result: Result<(), NnError>) {
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Checks that a layer has at least one neuron.
pub(crate) fn check_neurons(layer: &'static str, neurons: usize) -> Result<(), NnError> {
    if neurons == 0 {
        return Err(NnError::InvalidConfig {
            layer,
            field: "neurons",
            value: "0".into(),
            expected: "at least 1",
        });
    }
    Ok(())
}
