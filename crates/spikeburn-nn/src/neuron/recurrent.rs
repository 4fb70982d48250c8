//! LIF neurons with recurrent connections from the layer's own spikes of the previous step.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

use super::params::DecayFactor;
use super::{
    Decay, Reset, SpikeTrain, Threshold, check_neurons, check_sequence, check_step, fire_and_reset,
    scan, step_of, valid,
};
use crate::fused::{LifScan, recurrent_lif_sequence};
use crate::{Firing, NnError, SpikeMode};

/// Configuration of a [`RecurrentLif`] layer:
/// `v <- decay * v + input + W_rec s(t - 1)`, spike `H(v - threshold)`, then reset.
#[derive(Config, Debug)]
pub struct RecurrentLifConfig {
    /// Number of neurons.
    pub neurons: usize,
    /// Membrane decay per step, in `(0, 1]` (`(0, 1)` when learned). Default 0.95.
    #[config(default = 0.95)]
    pub decay: f64,
    /// Firing threshold, positive. Default 1.
    #[config(default = 1.0)]
    pub threshold: f64,
    /// What a spike does to the membrane. Default: subtract the threshold.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Learn one decay per neuron. Default false.
    #[config(default = false)]
    pub learn_decay: bool,
    /// Learn one threshold per neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the reset. Default false, as for [`LifConfig`](crate::neuron::LifConfig).
    #[config(default = false)]
    pub reset_gradient: bool,
    /// Escape noise, forward mode and surrogate scale. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
}

impl RecurrentLifConfig {
    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("RecurrentLif", self.neurons)?;
        Decay::check("RecurrentLif", "decay", self.decay, self.learn_decay)?;
        Threshold::check("RecurrentLif", self.threshold)
    }

    /// Builds the layer on `device`; the recurrent weights start as Burn's `Linear` default
    /// (Kaiming uniform, no bias).
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](RecurrentLifConfig::validate)).
    pub fn init(&self, device: &Device) -> RecurrentLif {
        valid(self.validate());
        let neurons = self.neurons;
        RecurrentLif {
            recurrent: LinearConfig::new(neurons, neurons)
                .with_bias(false)
                .init(device),
            decay: Decay::new(self.decay, self.learn_decay, neurons, device),
            threshold: Threshold::new(self.threshold, self.learn_threshold, neurons, device),
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            firing: self.firing,
            neurons,
        }
    }
}

/// A layer of recurrently connected LIF neurons. Built by [`RecurrentLifConfig::init`].
#[derive(Module, Debug)]
pub struct RecurrentLif {
    /// The recurrent weights, from the previous step's spikes, `[neurons, neurons]`.
    pub recurrent: Linear,
    /// The membrane decay.
    pub decay: Decay,
    /// The firing threshold.
    pub threshold: Threshold,
    /// The reset after a spike.
    #[module(skip)]
    pub reset: Reset,
    /// Whether the gradient flows through the reset.
    pub reset_gradient: bool,
    /// How the neurons fire.
    #[module(skip)]
    pub firing: Firing,
    /// Number of neurons.
    pub neurons: usize,
}

/// The state of a [`RecurrentLif`] layer between steps.
#[derive(Debug, Clone)]
pub struct RecurrentLifState {
    /// The membrane potential after the last reset, `[batch, neurons]`.
    pub membrane: Tensor<2>,
    /// The spikes of the last step, `[batch, neurons]`.
    pub spikes: Tensor<2>,
}

impl RecurrentLifState {
    /// The resting state: every membrane at 0, no previous spikes.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        RecurrentLifState {
            membrane: Tensor::zeros([batch, neurons], device),
            spikes: Tensor::zeros([batch, neurons], device),
        }
    }
}

impl RecurrentLif {
    /// One time step.
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: spikes `[batch, neurons]` and the new state
    pub fn forward_step(
        &self,
        input: Tensor<2>,
        state: RecurrentLifState,
    ) -> (Tensor<2>, RecurrentLifState) {
        check_step("RecurrentLif", &input, self.neurons);
        let constants = self.constants(&input.device());
        let (spikes, _, state) = self.step(input, state, &constants);

        (spikes, state)
    }

    /// A whole sequence, from `state` or from rest, as one fused op (see [`crate::fused`]): the
    /// recurrent input of each step comes from the previous step's active neurons inside the
    /// scan, and the backward adds `gu @ W^T` into the previous step's spike gradient.
    ///
    /// # Shapes
    /// - `input`: `[time, batch, neurons]`
    /// - returns: spikes `[time, batch, neurons]`, the membrane before each reset
    ///   `[time, batch, neurons]` when `record_membrane`, and the final state
    ///
    /// # Panics
    /// If the last axis of `input` is not `neurons`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentLifState>,
        record_membrane: bool,
    ) -> SpikeTrain<RecurrentLifState> {
        let [time, batch, neurons] = check_sequence("RecurrentLif", &input, self.neurons);
        let device = input.device();
        let state = state.unwrap_or_else(|| RecurrentLifState::zeros(batch, neurons, &device));
        // Escape noise and the expected mode run per step.
        if self.firing.mode != SpikeMode::Deterministic {
            return self.forward_per_step(input, Some(state), record_membrane);
        }
        let scan = LifScan {
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            surrogate: self.firing.surrogate(),
        };
        let current = match &self.recurrent.bias {
            Some(bias) => input + bias.val().unsqueeze(),
            None => input,
        };
        let (spikes, membrane, last) = recurrent_lif_sequence(
            current,
            self.recurrent.weight.val(),
            state.membrane,
            state.spikes,
            self.decay.values(neurons, &device),
            self.threshold.values(neurons, &device),
            scan,
        );
        SpikeTrain {
            spikes: spikes.clone(),
            membrane: record_membrane.then_some(membrane),
            state: RecurrentLifState {
                membrane: last,
                spikes: step_of(&spikes, time - 1),
            },
        }
    }

    /// [`forward`](RecurrentLif::forward) as a per-step loop: the reference the fused op is
    /// tested against.
    ///
    /// # Shapes
    /// - as [`forward`](RecurrentLif::forward)
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<RecurrentLifState>,
        record_membrane: bool,
    ) -> SpikeTrain<RecurrentLifState> {
        let [_, batch, _] = check_sequence("RecurrentLif", &input, self.neurons);
        let state =
            state.unwrap_or_else(|| RecurrentLifState::zeros(batch, self.neurons, &input.device()));

        let constants = self.constants(&input.device());

        scan(&input, state, record_membrane, |input, state| {
            self.step(input, state, &constants)
        })
    }

    /// The decay and the `[1, neurons]` threshold row, resolved once per sequence.
    fn constants(&self, device: &Device) -> (DecayFactor, Tensor<2>) {
        (
            self.decay.factor(),
            self.threshold.row(self.neurons, device),
        )
    }

    fn step(
        &self,
        input: Tensor<2>,
        state: RecurrentLifState,
        (decay, threshold): &(DecayFactor, Tensor<2>),
    ) -> (Tensor<2>, Tensor<2>, RecurrentLifState) {
        let feedback = self.recurrent.forward(state.spikes); // [batch, neurons]
        let integrated = decay.apply(state.membrane) + input + feedback;
        let (spikes, membrane) = fire_and_reset(
            &self.firing,
            integrated.clone(),
            threshold.clone(),
            self.reset,
            self.reset_gradient,
        );

        let state = RecurrentLifState {
            membrane,
            spikes: spikes.clone(),
        };
        (spikes, integrated, state)
    }
}
