//! Leaky integrate-and-fire neurons, and integrate-and-fire as their decay-1 case.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::params::DecayFactor;
use super::{
    Decay, Reset, SpikeTrain, Threshold, check_neurons, check_noise, check_sequence, check_step,
    fire_and_reset_with, scan, step_of, valid,
};
use crate::fused::{LifScan, lif_sequence};
use crate::noise::sample_noise;
use crate::{Firing, NnError, SpikeMode};

/// Configuration of a [`Lif`] layer: `v <- decay * v + input`, spike `H(v - threshold)` through
/// the layer's [`Firing`], then reset.
#[derive(Config, Debug)]
pub struct LifConfig {
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
    /// Learn one decay per neuron (through a sigmoid of a free logit). Default false.
    #[config(default = false)]
    pub learn_decay: bool,
    /// Learn one threshold per neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the reset. Default false: that path multiplies another
    /// surrogate factor into every later step, and cutting it trains better (Zenke and Vogels
    /// 2021).
    #[config(default = false)]
    pub reset_gradient: bool,
    /// Escape noise, forward mode and surrogate scale. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
}

impl LifConfig {
    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("Lif", self.neurons)?;
        Decay::check("Lif", "decay", self.decay, self.learn_decay)?;
        Threshold::check("Lif", self.threshold)
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](LifConfig::validate)).
    pub fn init(&self, device: &Device) -> Lif {
        valid(self.validate());
        Lif {
            decay: Decay::new(self.decay, self.learn_decay, self.neurons, device),
            threshold: Threshold::new(self.threshold, self.learn_threshold, self.neurons, device),
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            firing: self.firing,
            neurons: self.neurons,
        }
    }
}

/// A layer of leaky integrate-and-fire neurons. Built by [`LifConfig::init`].
#[derive(Module, Debug)]
pub struct Lif {
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

/// The state of a [`Lif`] layer between steps.
#[derive(Debug, Clone)]
pub struct LifState {
    /// The membrane potential after the last reset, `[batch, neurons]`.
    pub membrane: Tensor<2>,
}

impl LifState {
    /// The resting state: every membrane at 0.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        LifState {
            membrane: Tensor::zeros([batch, neurons], device),
        }
    }
}

impl Lif {
    /// One time step.
    ///
    /// # Arguments
    /// - `input`: the input current of this step.
    /// - `state`: the state after the previous step ([`LifState::zeros`] to start).
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: spikes `[batch, neurons]` and the new state
    pub fn forward_step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        check_step("Lif", &input, self.neurons);
        let (decay, threshold) = self.constants(&input.device());
        let (spikes, membrane, _) = self.step(input, state.membrane, &decay, &threshold, None);

        (spikes, LifState { membrane })
    }

    /// A whole sequence, from `state` or from rest, as one fused op (see [`crate::fused`]).
    ///
    /// # Arguments
    /// - `input`: the input current at every step.
    /// - `state`: where to start; `None` for the resting state.
    /// - `record_membrane`: also return the membrane before each reset.
    ///
    /// # Shapes
    /// - `input`: `[time, batch, neurons]`
    /// - returns: spikes `[time, batch, neurons]`, the membrane `[time, batch, neurons]` when
    ///   recorded, and the state after the last step
    ///
    /// # Panics
    /// If the last axis of `input` is not `neurons`.
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        let [_, batch, _] = check_sequence("Lif", &input, self.neurons);
        let state = state.unwrap_or_else(|| LifState::zeros(batch, self.neurons, &input.device()));
        let noise = match self.firing.mode {
            SpikeMode::Deterministic => None,
            SpikeMode::EscapeNoise => Some(sample_noise(
                &self.firing.forward_noise(),
                input.shape(),
                &input.device(),
            )),
            // `F(u - threshold)` is not a spike: the per-step loop computes it.
            SpikeMode::Expected => {
                return self.forward_per_step(input, Some(state), record_membrane);
            }
        };
        self.fused(input, noise, state, record_membrane)
    }

    /// [`forward`](Lif::forward) as a loop over [`forward_step`](Lif::forward_step)'s
    /// arithmetic, one autodiff node per op: the reference the fused op is tested against.
    ///
    /// # Shapes
    /// - as [`forward`](Lif::forward)
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        let [_, batch, _] = check_sequence("Lif", &input, self.neurons);
        let state = state.unwrap_or_else(|| LifState::zeros(batch, self.neurons, &input.device()));
        let (decay, threshold) = self.constants(&input.device());

        scan(&input, state, record_membrane, |input, state| {
            let (spikes, membrane, integrated) =
                self.step(input, state.membrane, &decay, &threshold, None);
            (spikes, integrated, LifState { membrane })
        })
    }

    /// A whole sequence with a given escape-noise sample: every neuron fires `H(v - threshold +
    /// xi)` with `xi` read from `noise`, whatever the firing's mode. This replays a noise
    /// realisation exactly, e.g. one that an estimator of `spikeburn-causal` simulated.
    ///
    /// # Shapes
    /// - `input`, `noise`: `[time, batch, neurons]`
    /// - returns: as [`forward`](Lif::forward)
    ///
    /// # Panics
    /// If the last axis of `input` is not `neurons` or `noise` has another shape than `input`.
    pub fn forward_with_noise(
        &self,
        input: Tensor<3>,
        noise: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        let [_, batch, neurons] = check_noise("Lif", &input, &noise, self.neurons);
        let state = state.unwrap_or_else(|| LifState::zeros(batch, neurons, &input.device()));
        self.fused(input, Some(noise), state, record_membrane)
    }

    /// [`forward_with_noise`](Lif::forward_with_noise) as a per-step loop: the reference.
    ///
    /// # Shapes
    /// - as [`forward_with_noise`](Lif::forward_with_noise)
    pub fn forward_with_noise_per_step(
        &self,
        input: Tensor<3>,
        noise: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        let [_, batch, neurons] = check_noise("Lif", &input, &noise, self.neurons);
        let state = state.unwrap_or_else(|| LifState::zeros(batch, neurons, &input.device()));
        let (decay, threshold) = self.constants(&input.device());

        // The spike op cuts the noise from the graph, so slicing it per step adds nothing to the
        // backward (slicing the input and noise side by side would double its cost).
        let mut steps = (0..noise.dims()[0]).map(|t| step_of(&noise, t));
        scan(&input, state, record_membrane, |input, state| {
            let noise = steps.next().expect("the noise has one step per input step");
            let (spikes, membrane, integrated) =
                self.step(input, state.membrane, &decay, &threshold, Some(noise));
            (spikes, integrated, LifState { membrane })
        })
    }

    /// The fused sequence, firing under `noise` when given.
    fn fused(
        &self,
        input: Tensor<3>,
        noise: Option<Tensor<3>>,
        state: LifState,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        let device = input.device();
        let scan = LifScan {
            reset: self.reset,
            reset_gradient: self.reset_gradient,
            surrogate: self.firing.surrogate(),
        };
        let (spikes, membrane, last) = lif_sequence(
            input,
            state.membrane,
            self.decay.values(self.neurons, &device),
            self.threshold.values(self.neurons, &device),
            noise,
            scan,
            record_membrane,
        );
        SpikeTrain {
            spikes,
            membrane,
            state: LifState { membrane: last },
        }
    }

    /// The decay and the `[1, neurons]` threshold row, resolved once per sequence.
    fn constants(&self, device: &Device) -> (DecayFactor, Tensor<2>) {
        (
            self.decay.factor(),
            self.threshold.row(self.neurons, device),
        )
    }

    /// Integrates, fires and resets; returns the spikes, the reset membrane and the membrane
    /// before the reset.
    fn step(
        &self,
        input: Tensor<2>,
        membrane: Tensor<2>,
        decay: &DecayFactor,
        threshold: &Tensor<2>,
        noise: Option<Tensor<2>>,
    ) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
        let integrated = decay.apply(membrane) + input; // [batch, neurons]
        let (spikes, reset) = fire_and_reset_with(
            &self.firing,
            integrated.clone(),
            threshold.clone(),
            self.reset,
            self.reset_gradient,
            noise,
        );

        (spikes, reset, integrated)
    }
}

/// Configuration of an [`If`] layer: integrate-and-fire, `v <- v + input`, with no leak.
#[derive(Config, Debug)]
pub struct IfConfig {
    /// Number of neurons.
    pub neurons: usize,
    /// Firing threshold, positive. Default 1.
    #[config(default = 1.0)]
    pub threshold: f64,
    /// What a spike does to the membrane. Default: subtract the threshold.
    #[config(default = "Reset::Subtract")]
    pub reset: Reset,
    /// Learn one threshold per neuron. Default false.
    #[config(default = false)]
    pub learn_threshold: bool,
    /// Let the gradient flow through the reset. Default false, as for [`LifConfig`].
    #[config(default = false)]
    pub reset_gradient: bool,
    /// Escape noise, forward mode and surrogate scale. Default: [`Firing::default`].
    #[config(default = "Firing::default()")]
    pub firing: Firing,
}

impl IfConfig {
    /// The equivalent [`LifConfig`], with decay 1.
    pub fn as_lif(&self) -> LifConfig {
        LifConfig::new(self.neurons)
            .with_decay(1.0)
            .with_threshold(self.threshold)
            .with_reset(self.reset)
            .with_learn_threshold(self.learn_threshold)
            .with_reset_gradient(self.reset_gradient)
            .with_firing(self.firing)
    }

    /// Checks every field, naming the first bad one with its value and valid range.
    pub fn validate(&self) -> Result<(), NnError> {
        check_neurons("If", self.neurons)?;
        Threshold::check("If", self.threshold)
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`validate`](IfConfig::validate)).
    pub fn init(&self, device: &Device) -> If {
        valid(self.validate());
        If {
            lif: self.as_lif().init(device),
        }
    }
}

/// A layer of integrate-and-fire neurons: a [`Lif`] whose decay is 1. Built by
/// [`IfConfig::init`].
#[derive(Module, Debug)]
pub struct If {
    /// The neurons, as LIF neurons with decay 1.
    pub lif: Lif,
}

impl If {
    /// One time step; see [`Lif::forward_step`].
    ///
    /// # Shapes
    /// - `input`: `[batch, neurons]`
    /// - returns: spikes `[batch, neurons]` and the new state
    pub fn forward_step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        self.lif.forward_step(input, state)
    }

    /// A whole sequence; see [`Lif::forward`].
    ///
    /// # Shapes
    /// - `input`: `[time, batch, neurons]`
    /// - returns: spikes `[time, batch, neurons]`, the optional membrane trace and the final
    ///   state
    pub fn forward(
        &self,
        input: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        self.lif.forward(input, state, record_membrane)
    }

    /// The per-step reference; see [`Lif::forward_per_step`].
    pub fn forward_per_step(
        &self,
        input: Tensor<3>,
        state: Option<LifState>,
        record_membrane: bool,
    ) -> SpikeTrain<LifState> {
        self.lif.forward_per_step(input, state, record_membrane)
    }
}
