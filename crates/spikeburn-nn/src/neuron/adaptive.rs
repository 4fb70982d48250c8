//! LIF neurons whose threshold rises with each spike and relaxes back (Bellec et al. 2018).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::params::DecayFactor;
use super::{
    Decay, Reset, SpikeTrain, Threshold, check_neurons, check_sequence, check_step, fire_and_reset,
    scan, step_of, valid,
};
use crate::fused::{Adaptation, LifScan, adaptive_lif_sequence};
use crate::{Firing, NnError, SpikeMode};

/// Configuration of an [`AdaptiveLif`] layer, after
/// [Bellec et al. (2018)](https://arxiv.org/abs/1803.09574):
/// `v <- decay * v + input`, spike `H(v - (threshold + adaptation * a))`, reset against that
/// effective threshold, then `a <- adaptation_decay * a + spikes`.
#[derive(Config, Debug)]
pub struct AdaptiveLifConfig {
    /// Number of neurons.
    pub neurons: usize,
    /// Membrane decay per step, in `(0, 1]` (`(0, 1)` when learned). Default 0.95.
    #[config(default = 0.95)]
    pub decay: f64,
    /// Baseline firing threshold, positive. Default 1.
    #[config(default = 1.0)]
    pub threshold: f64,
    /// Threshold increase per unit of adaptation, non-negative. Default 0.2.
    #[config(default = 0.2)]
    pub adaptation: f64,
    /// Decay of the adaptation variable per step, in `(0, 1]`. Default 0.98.
    #[config(default = 0.98)]
    pub adaptation_decay: f64,
    /// What a spike does to the membrane. Default: subtract the effective threshold.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Learn one membrane decay per neuron. Default false.
    #[config(default = false)]
    pub learn_decay: bool,
    /// Learn one baseline threshold per neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the reset. Default false, as for [`LifConfig`](crate::neuron::LifConfig).
    #[config(default = false)]
    pub reset_gradient: bool,
    /// Escape noise, forward mode and surrogate scale. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
}

impl AdaptiveLifConfig {
    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("AdaptiveLif", self.neurons)?;
        Decay::check("AdaptiveLif", "decay", self.decay, self.learn_decay)?;
        Decay::check(
            "AdaptiveLif",
            "adaptation_decay",
            self.adaptation_decay,
            false,
        )?;
        Threshold::check("AdaptiveLif", self.threshold)?;
        if !(self.adaptation >= 0.0 && self.adaptation.is_finite()) {
            return Err(NnError::InvalidConfig {
                layer: "AdaptiveLif",
                field: "adaptation",
                value: self.adaptation.to_string(),
                expected: "a non-negative, finite threshold increase",
            });
        }
        Ok(())
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](AdaptiveLifConfig::validate)).
    pub fn init(&self, device: &Device) -> AdaptiveLif {
        valid(self.validate());
        let neurons = self.neurons;
        AdaptiveLif {
            decay: Decay::new(self.decay, self.learn_decay, neurons, device),
            threshold: Threshold::new(self.threshold, self.learn_threshold, neurons, device),
            adaptation: self.adaptation,
            adaptation_decay: self.adaptation_decay,
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            firing: self.firing,
            neurons,
        }
    }
}

/// A layer of adaptive-threshold LIF neurons. Built by [`AdaptiveLifConfig::init`].
#[derive(Module, Debug)]
pub struct AdaptiveLif {
    /// The membrane decay.
    pub decay: Decay,
    /// The baseline threshold.
    pub threshold: Threshold,
    /// Threshold increase per unit of adaptation.
    pub adaptation: f64,
    /// Decay of the adaptation variable.
    pub adaptation_decay: f64,
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

/// The state of an [`AdaptiveLif`] layer between steps.
#[derive(Debug, Clone)]
pub struct AdaptiveLifState {
    /// The membrane potential after the last reset, `[batch, neurons]`.
    pub membrane: Tensor<2>,
    /// The adaptation variable `a`, a decaying count of recent spikes, `[batch, neurons]`.
    pub adaptation: Tensor<2>,
}

impl AdaptiveLifState {
    /// The resting state: every membrane at 0, no adaptation.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        AdaptiveLifState {
            membrane: Tensor::zeros([batch, neurons], device),
            adaptation: Tensor::zeros([batch, neurons], device),
        }
    }
}

impl AdaptiveLif {
    /// One time step.
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: spikes `[batch, neurons]` and the new state
    pub fn forward_step(
        &self,
        input: Tensor<2>,
        state: AdaptiveLifState,
    ) -> (Tensor<2>, AdaptiveLifState) {
        check_step("AdaptiveLif", &input, self.neurons);
        let constants = self.constants(&input.device());
        let (spikes, _, state) = self.step(input, state, &constants);

        (spikes, state)
    }

    /// A whole sequence, from `state` or from rest.
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
        state: Option<AdaptiveLifState>,
        record_membrane: bool,
    ) -> SpikeTrain<AdaptiveLifState> {
        if self.firing.mode != SpikeMode::Deterministic {
            // Escape noise and expected spikes go through the per-step loop.
            return self.forward_per_step(input, state, record_membrane);
        }
        let [_, batch, _] = check_sequence("AdaptiveLif", &input, self.neurons);
        let device = input.device();
        let state = state.unwrap_or_else(|| AdaptiveLifState::zeros(batch, self.neurons, &device));
        let scan = LifScan {
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            surrogate: self.firing.surrogate(),
        };
        let adaptation = Adaptation {
            strength: self.adaptation,
            decay: self.adaptation_decay,
        };
        let (spikes, membrane, last, adaptations) = adaptive_lif_sequence(
            input,
            state.membrane,
            state.adaptation,
            self.decay.values(self.neurons, &device),
            self.threshold.values(self.neurons, &device),
            scan,
            adaptation,
        );
        let time = adaptations.dims()[0];
        SpikeTrain {
            spikes,
            membrane: record_membrane.then_some(membrane),
            state: AdaptiveLifState {
                membrane: last,
                adaptation: step_of(&adaptations, time - 1),
            },
        }
    }

    /// [`forward`](AdaptiveLif::forward) as a loop over
    /// [`forward_step`](AdaptiveLif::forward_step)'s arithmetic, one autodiff node per op: the
    /// reference the fused op is tested against, and the path of the noisy firing modes.
    ///
    /// # Shapes
    /// - as [`forward`](AdaptiveLif::forward)
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<AdaptiveLifState>,
        record_membrane: bool,
    ) -> SpikeTrain<AdaptiveLifState> {
        let [_, batch, _] = check_sequence("AdaptiveLif", &input, self.neurons);
        let state =
            state.unwrap_or_else(|| AdaptiveLifState::zeros(batch, self.neurons, &input.device()));

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
        state: AdaptiveLifState,
        (decay, threshold): &(DecayFactor, Tensor<2>),
    ) -> (Tensor<2>, Tensor<2>, AdaptiveLifState) {
        let integrated = decay.apply(state.membrane) + input; // [batch, neurons]
        let threshold = state.adaptation.clone() * self.adaptation + threshold.clone();
        let (spikes, membrane) = fire_and_reset(
            &self.firing,
            integrated.clone(),
            threshold,
            self.reset,
            self.reset_gradient,
        );

        let adaptation = state.adaptation * self.adaptation_decay + spikes.clone();
        (
            spikes,
            integrated,
            AdaptiveLifState {
                membrane,
                adaptation,
            },
        )
    }
}
