//! Fused whole-sequence ops: a layer's time loop as one op with its own reverse-time backward,
//! and input projections computed from the active inputs of sparse spike trains.
//!
//! A per-step loop records about ten small ops per step for autodiff, and slicing a tracked
//! `[time, batch, neurons]` tensor per step makes its backward quadratic in time (each slice's
//! backward fills a full-size tensor). The ops here run the loop on the inner backend and record
//! one node per output, whose backward is the reverse-time scan:
//! - on NdArray and Flex, native loops over the lanes `batch x neurons`, on all cores;
//! - on the CubeCL backends (wgpu), CubeCL kernels (`fused/cube.rs`): one thread per lane for
//!   the whole sequence, except that the recurrent scan runs one kernel and one matmul per step;
//! - on every other backend, in Burn's primitive ops, a few kernels per step.
//!
//! The `forward` of `Lif`, `If`, `Synaptic`, `RecurrentLif`, `AdaptiveLif` and `LeakyReadout`
//! goes through here; their `forward_per_step` keeps the per-step loop as the reference the
//! tests compare against.

// `NdArray` is deprecated in Burn 0.22 but still Spikeburn's default CPU backend.
#![allow(deprecated)]

mod autodiff;
#[cfg(feature = "wgpu")]
mod cube;
mod host;
mod primitive;

use std::any::Any;
use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::nn::Linear;
use burn::tensor::{Shape, Tensor};
use serde::{Deserialize, Serialize};

use crate::neuron::Reset;
use crate::spike::Surrogate;

/// The fixed settings of a LIF scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifScan {
    /// What a spike does to the membrane.
    pub reset: Reset,
    /// Whether the gradient flows through the reset.
    pub reset_gradient: bool,
    /// The backward density of a spike.
    pub surrogate: Surrogate,
}

/// Which parameter gradients a backward must compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// The decay's.
    pub decay: bool,
    /// The threshold's.
    pub threshold: bool,
    /// The recurrent weight's.
    pub weight: bool,
}

/// One output of a LIF scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifOutput {
    /// The spikes, `[time, batch, neurons]`.
    Spikes,
    /// The membranes before the reset, `[time, batch, neurons]`.
    Membrane,
    /// The membrane after the last step's reset, `[batch, neurons]`.
    Last,
}

/// The threshold adaptation of an adaptive LIF scan: the threshold is raised by
/// `strength * a`, and `a <- decay * a + s` after every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adaptation {
    /// Threshold increase per unit of adaptation.
    pub strength: f64,
    /// Decay of the adaptation per step.
    pub decay: f64,
}

/// One output of an adaptive LIF scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdaptiveOutput {
    /// The spikes, `[time, batch, neurons]`.
    Spikes,
    /// The membranes before the reset, `[time, batch, neurons]`.
    Membrane,
    /// The membrane after the last step's reset, `[batch, neurons]`.
    Last,
    /// The adaptation after every step, `[time, batch, neurons]`.
    Adaptation,
}

/// When an input projection uses the active inputs only.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparseInput {
    /// Sparse when at most [`SparseInput::AUTO_DENSITY`] of the input is nonzero, measured on
    /// each call. The default.
    #[default]
    Auto,
    /// Always from the nonzero entries.
    Always,
    /// Always the dense product.
    Never,
}

impl SparseInput {
    /// The largest fraction of nonzero inputs for which [`SparseInput::Auto`] goes sparse.
    ///
    /// The sparse path scans the input once and then costs in proportion to the density; the
    /// dense product does not depend on it. On W1's input projection (6400 x 700 at 5%
    /// density, into 256) they took 6.9 and 14.1 ms, which puts the crossing near 10%.
    pub const AUTO_DENSITY: f64 = 0.10;

    /// The largest density at which the sparse path is taken.
    fn max_density(self) -> f64 {
        match self {
            SparseInput::Auto => Self::AUTO_DENSITY,
            SparseInput::Always => 1.0,
            SparseInput::Never => -1.0,
        }
    }
}

/// What a backend's [`spike_linear`](SequenceBackend::spike_linear) keeps for the weight
/// gradient of the same product, so that the active inputs are found once per training step.
///
/// The autodiff backend creates one per product and hands it to both calls; a backend that
/// keeps nothing leaves it empty.
#[derive(Clone, Default)]
pub struct SparseCache(Arc<Mutex<Option<Arc<dyn Any + Send + Sync>>>>);

impl SparseCache {
    /// Keeps `value`, replacing what was kept.
    pub fn put<T: Any + Send + Sync>(&self, value: T) {
        *self.0.lock().unwrap_or_else(|poison| poison.into_inner()) = Some(Arc::new(value));
    }

    /// What was kept, if it is a `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let kept = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        kept.clone().and_then(|value| value.downcast::<T>().ok())
    }
}

impl core::fmt::Debug for SparseCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SparseCache")
    }
}

/// Backends that can run the fused sequence ops.
///
/// Implemented for NdArray and Flex (native loops), the CubeCL backends (kernels for the
/// scans, primitive ops for the rest) and `Autodiff` over any of them. Call it through the
/// layers rather than directly.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
)]
pub trait SequenceBackend: Backend {
    /// A LIF layer over a sequence: for every step `u = decay * v + current`, spike
    /// `H(u - threshold + noise)`, reset `v`. Returns the spikes, the membranes `u` and the final
    /// `v`.
    ///
    /// # Shapes
    /// - `current`, `noise`: `[time, batch, neurons]`; `initial`: `[batch, neurons]`
    /// - `decay`, `threshold`: `[neurons]`
    /// - returns: `[time, batch, neurons]` twice and `[batch, neurons]`
    fn lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        primitive::lif_scan::<Self>(current, None, None, initial, decay, threshold, &scan)
    }

    /// [`lif_scan`](SequenceBackend::lif_scan) for a caller that reads no membrane: the spikes
    /// and the final membrane. The native loops then write no membrane sequence; under
    /// `Autodiff` the membranes are still kept for the backward.
    ///
    /// # Shapes
    /// - as [`lif_scan`](SequenceBackend::lif_scan); returns `[time, batch, neurons]` and
    ///   `[batch, neurons]`
    fn lif_scan_spikes(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let (spikes, _, last) = Self::lif_scan(current, initial, decay, threshold, scan);
        (spikes, last)
    }

    /// [`lif_scan`](SequenceBackend::lif_scan) with escape noise: the neurons fire
    /// `H(u - threshold + noise)`, and the backward takes the density at the noise-free drive.
    ///
    /// # Shapes
    /// - `noise`: `[time, batch, neurons]`; the rest as in
    ///   [`lif_scan`](SequenceBackend::lif_scan)
    fn lif_scan_noisy(
        current: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        primitive::lif_scan::<Self>(current, Some(noise), None, initial, decay, threshold, &scan)
    }

    /// The backward of [`lif_scan`](SequenceBackend::lif_scan) from its saved spikes and
    /// membranes, for the gradient `grad` of one of its outputs: gradients of the current, the
    /// initial membrane, the decay and the threshold (zeros for those `needs` leaves out).
    #[allow(clippy::too_many_arguments)]
    fn lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: LifOutput,
        scan: LifScan,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [current, initial, decay, threshold, _, _] = primitive::lif_scan_backward::<Self>(
            spikes, membrane, initial, decay, threshold, grad, output, &scan, needs, None,
        );
        (current, initial, decay, threshold)
    }

    /// A recurrent LIF layer over a sequence: [`lif_scan`](SequenceBackend::lif_scan) with
    /// `u = decay * v + current + s_{t-1} @ weight`, where `s_{-1}` is `initial_spikes`.
    ///
    /// # Shapes
    /// - `weight`: `[neurons, neurons]`; `initial_spikes`: `[batch, neurons]`; the rest as in
    ///   [`lif_scan`](SequenceBackend::lif_scan)
    fn recurrent_lif_scan(
        current: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_spikes: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let recurrent = primitive::Recurrent {
            weight,
            initial_spikes,
        };
        primitive::lif_scan::<Self>(
            current,
            None,
            Some(recurrent),
            initial,
            decay,
            threshold,
            &scan,
        )
    }

    /// The backward of [`recurrent_lif_scan`](SequenceBackend::recurrent_lif_scan): gradients
    /// of the current, the recurrent weight, the initial membrane, the initial spikes, the
    /// decay and the threshold.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn recurrent_lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_spikes: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: LifOutput,
        scan: LifScan,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let recurrent = primitive::Recurrent {
            weight,
            initial_spikes,
        };
        let [current, initial, decay, threshold, weight, initial_spikes] =
            primitive::lif_scan_backward::<Self>(
                spikes,
                membrane,
                initial,
                decay,
                threshold,
                grad,
                output,
                &scan,
                needs,
                Some(&recurrent),
            );
        (current, weight, initial, initial_spikes, decay, threshold)
    }

    /// An adaptive LIF layer over a sequence: [`lif_scan`](SequenceBackend::lif_scan) against
    /// the threshold `threshold + strength * a`, with `a <- decay * a + s` after each step.
    /// Returns the spikes, the membranes, the final membrane and the adaptation after every
    /// step. NdArray and Flex run native loops, the CubeCL backends a kernel.
    ///
    /// # Shapes
    /// - `initial_adaptation`: `[batch, neurons]`; the rest as in
    ///   [`lif_scan`](SequenceBackend::lif_scan)
    /// - returns: `[time, batch, neurons]` twice, `[batch, neurons]`, `[time, batch, neurons]`
    #[allow(clippy::too_many_arguments)]
    fn adaptive_lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_adaptation: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
        adaptation: Adaptation,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [spikes, membrane, last, adaptations] = primitive::adaptive_scan::<Self>(
            current,
            initial,
            initial_adaptation,
            decay,
            threshold,
            &scan,
            &adaptation,
        );
        (spikes, membrane, last, adaptations)
    }

    /// The backward of [`adaptive_lif_scan`](SequenceBackend::adaptive_lif_scan) for the
    /// gradient `grad` of its output `output`: gradients of the current, the initial membrane,
    /// the initial adaptation, the decay and the threshold.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn adaptive_lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        adaptations: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_adaptation: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: AdaptiveOutput,
        scan: LifScan,
        adaptation: Adaptation,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [current, initial, initial_adaptation, decay, threshold] =
            primitive::adaptive_scan_backward::<Self>(
                [spikes, membrane, adaptations],
                initial,
                initial_adaptation,
                decay,
                threshold,
                grad,
                output,
                &scan,
                &adaptation,
                needs,
            );
        (current, initial, initial_adaptation, decay, threshold)
    }

    /// A leaky integrator over a sequence: `u = decay * u + current` at every step; returns
    /// every `u`.
    ///
    /// # Shapes
    /// - `current`: `[time, batch, neurons]`; `initial`: `[batch, neurons]`; `decay`: `[neurons]`
    /// - returns: `[time, batch, neurons]`
    fn leaky_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        primitive::leaky_scan::<Self>(current, initial, decay)
    }

    /// The backward of [`leaky_scan`](SequenceBackend::leaky_scan): gradients of the current,
    /// the initial membrane and the decay.
    fn leaky_scan_backward(
        membrane: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_decay: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let [current, initial, decay] =
            primitive::leaky_scan_backward::<Self>(membrane, initial, decay, grad, needs_decay);
        (current, initial, decay)
    }

    /// `input @ weight`, from the nonzero inputs when `sparse` allows it.
    ///
    /// # Shapes
    /// - `input`: `[rows, inputs]`; `weight`: `[inputs, outputs]`
    /// - returns: `[rows, outputs]`
    fn spike_linear(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        sparse: SparseInput,
        cache: SparseCache,
    ) -> FloatTensor<Self> {
        let _ = (sparse, cache);
        Self::float_matmul(input, weight)
    }

    /// `input^T @ grad`, the weight gradient of [`spike_linear`](SequenceBackend::spike_linear),
    /// from the nonzero inputs when `sparse` allows it.
    fn spike_linear_weight_grad(
        input: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        sparse: SparseInput,
        cache: SparseCache,
    ) -> FloatTensor<Self> {
        let _ = (sparse, cache);
        primitive::linear_weight_grad::<Self>(input, grad)
    }
}

/// The LIF-family scans run as CubeCL kernels (`fused/cube.rs`; the recurrent one with Burn's
/// matmul per step); the projections keep the primitive-op bodies.
#[cfg(feature = "wgpu")]
impl SequenceBackend for burn::backend::Cube {
    fn lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        cube::lif_scan(current, None, initial, decay, threshold, &scan)
    }

    fn lif_scan_noisy(
        current: FloatTensor<Self>,
        noise: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        cube::lif_scan(current, Some(noise), initial, decay, threshold, &scan)
    }

    fn lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: LifOutput,
        scan: LifScan,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        cube::lif_scan_backward(
            spikes, membrane, initial, decay, threshold, grad, output, &scan, needs,
        )
    }

    fn recurrent_lif_scan(
        current: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_spikes: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        cube::recurrent_scan(
            current,
            weight,
            initial,
            initial_spikes,
            decay,
            threshold,
            &scan,
        )
    }

    fn recurrent_lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_spikes: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: LifOutput,
        scan: LifScan,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [current, weight, initial, initial_spikes, decay, threshold] =
            cube::recurrent_scan_backward(
                [spikes, membrane, weight],
                initial,
                initial_spikes,
                decay,
                threshold,
                grad,
                output,
                &scan,
                needs,
            );
        (current, weight, initial, initial_spikes, decay, threshold)
    }

    fn adaptive_lif_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_adaptation: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        scan: LifScan,
        adaptation: Adaptation,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [spikes, membrane, last, adaptations] = cube::adaptive_scan(
            current,
            initial,
            initial_adaptation,
            decay,
            threshold,
            &scan,
            &adaptation,
        );
        (spikes, membrane, last, adaptations)
    }

    fn adaptive_lif_scan_backward(
        spikes: FloatTensor<Self>,
        membrane: FloatTensor<Self>,
        adaptations: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        initial_adaptation: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        output: AdaptiveOutput,
        scan: LifScan,
        adaptation: Adaptation,
        needs: Needs,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let [current, initial, initial_adaptation, decay, threshold] = cube::adaptive_scan_backward(
            [spikes, membrane, adaptations],
            initial,
            initial_adaptation,
            decay,
            threshold,
            grad,
            output,
            &scan,
            &adaptation,
            needs,
        );
        (current, initial, initial_adaptation, decay, threshold)
    }

    fn leaky_scan(
        current: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        cube::leaky_scan(current, initial, decay)
    }

    fn leaky_scan_backward(
        membrane: FloatTensor<Self>,
        initial: FloatTensor<Self>,
        decay: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        needs_decay: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        cube::leaky_scan_backward(membrane, initial, decay, grad, needs_decay)
    }
}

/// Native versions of the fused ops for a CPU backend whose tensors can be read as `f32`
/// slices in place.
macro_rules! host_sequence_backend {
    ($backend:ty) => {
        impl SequenceBackend for $backend {
            fn lif_scan(
                current: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                scan: LifScan,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                if !all_f32(&[&current, &initial, &decay, &threshold]) {
                    return primitive::lif_scan::<Self>(
                        current, None, None, initial, decay, threshold, &scan,
                    );
                }
                host_lif_scan(current, None, &initial, &decay, &threshold, &scan)
            }

            fn lif_scan_spikes(
                current: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                scan: LifScan,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                if !all_f32(&[&current, &initial, &decay, &threshold]) {
                    let (spikes, _, last) = primitive::lif_scan::<Self>(
                        current, None, None, initial, decay, threshold, &scan,
                    );
                    return (spikes, last);
                }
                let (shape, state_shape) = (current.shape(), initial.shape());
                // The scan writes its spikes into the current's buffer.
                let current_values = Cow::Owned(current.into_values());
                let inputs =
                    lif_inputs(current_values, shape[2], None, &initial, &decay, &threshold);
                let (spikes, _, last) = host::lif_scan(inputs, &scan, false);
                (tensor(spikes, shape), tensor(last, state_shape))
            }

            fn adaptive_lif_scan(
                current: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                initial_adaptation: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                scan: LifScan,
                adaptation: Adaptation,
            ) -> (
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
            ) {
                if !all_f32(&[&current, &initial, &initial_adaptation, &decay, &threshold]) {
                    let [spikes, membrane, last, adaptations] = primitive::adaptive_scan::<Self>(
                        current,
                        initial,
                        initial_adaptation,
                        decay,
                        threshold,
                        &scan,
                        &adaptation,
                    );
                    return (spikes, membrane, last, adaptations);
                }
                let (shape, state_shape) = (current.shape(), initial.shape());
                let inputs = host::AdaptiveInputs {
                    lif: lif_inputs(
                        values(&current),
                        shape[2],
                        None,
                        &initial,
                        &decay,
                        &threshold,
                    ),
                    initial_adaptation: values(&initial_adaptation),
                    strength: adaptation.strength as f32,
                    decay: adaptation.decay as f32,
                };
                let [spikes, membrane, last, adaptations] = host::adaptive_scan(&inputs, &scan);
                (
                    tensor(spikes, shape.clone()),
                    tensor(membrane, shape.clone()),
                    tensor(last, state_shape),
                    tensor(adaptations, shape),
                )
            }

            fn adaptive_lif_scan_backward(
                spikes: FloatTensor<Self>,
                membrane: FloatTensor<Self>,
                adaptations: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                initial_adaptation: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                output: AdaptiveOutput,
                scan: LifScan,
                adaptation: Adaptation,
                needs: Needs,
            ) -> (
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
            ) {
                let all = [
                    &spikes,
                    &membrane,
                    &adaptations,
                    &initial,
                    &initial_adaptation,
                    &decay,
                    &threshold,
                    &grad,
                ];
                if !all_f32(&all) {
                    let [current, initial, initial_adaptation, decay, threshold] =
                        primitive::adaptive_scan_backward::<Self>(
                            [spikes, membrane, adaptations],
                            initial,
                            initial_adaptation,
                            decay,
                            threshold,
                            grad,
                            output,
                            &scan,
                            &adaptation,
                            needs,
                        );
                    return (current, initial, initial_adaptation, decay, threshold);
                }
                let (shape, state_shape) = (spikes.shape(), initial.shape());
                let parameter_shape = decay.shape();
                let inputs = host::AdaptiveInputs {
                    lif: host::LifInputs {
                        current: Cow::Borrowed(&[]),
                        initial: values(&initial),
                        decay: values(&decay),
                        threshold: values(&threshold),
                        noise: None,
                        recurrent: None,
                        neurons: shape[2],
                    },
                    initial_adaptation: values(&initial_adaptation),
                    strength: adaptation.strength as f32,
                    decay: adaptation.decay as f32,
                };
                let saved = host::AdaptiveSaved {
                    spikes: values(&spikes),
                    membrane: values(&membrane),
                    adaptations: values(&adaptations),
                    grad: values(&grad),
                    output,
                };
                let [current, initial, initial_adaptation, decay, threshold] =
                    host::adaptive_scan_backward(&inputs, &saved, &scan, needs);
                (
                    tensor(current, shape),
                    tensor(initial, state_shape.clone()),
                    tensor(initial_adaptation, state_shape),
                    tensor(decay, parameter_shape.clone()),
                    tensor(threshold, parameter_shape),
                )
            }

            fn lif_scan_noisy(
                current: FloatTensor<Self>,
                noise: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                scan: LifScan,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                if !all_f32(&[&current, &noise, &initial, &decay, &threshold]) {
                    let noise = Some(noise);
                    return primitive::lif_scan::<Self>(
                        current, noise, None, initial, decay, threshold, &scan,
                    );
                }
                host_lif_scan(current, Some(&noise), &initial, &decay, &threshold, &scan)
            }

            fn lif_scan_backward(
                spikes: FloatTensor<Self>,
                membrane: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                output: LifOutput,
                scan: LifScan,
                needs: Needs,
            ) -> (
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
            ) {
                if !all_f32(&[&spikes, &membrane, &initial, &decay, &threshold, &grad]) {
                    let [current, initial, decay, threshold, _, _] =
                        primitive::lif_scan_backward::<Self>(
                            spikes, membrane, initial, decay, threshold, grad, output, &scan,
                            needs, None,
                        );
                    return (current, initial, decay, threshold);
                }
                let (shape, state_shape) = (spikes.shape(), initial.shape());
                let parameter_shape = decay.shape();
                let inputs = host::LifInputs {
                    current: Cow::Borrowed(&[]),
                    initial: values(&initial),
                    decay: values(&decay),
                    threshold: values(&threshold),
                    noise: None,
                    recurrent: None,
                    neurons: shape[2],
                };
                let saved = host::LifSaved {
                    spikes: values(&spikes),
                    membrane: values(&membrane),
                    grad: Cow::Owned(grad.into_values()),
                    output,
                };
                let grads = host::lif_scan_backward(&inputs, saved, &scan, needs);
                (
                    tensor(grads.current, shape),
                    tensor(grads.initial, state_shape),
                    tensor(grads.decay, parameter_shape.clone()),
                    tensor(grads.threshold, parameter_shape),
                )
            }

            fn recurrent_lif_scan(
                current: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                initial_spikes: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                scan: LifScan,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                if !all_f32(&[
                    &current,
                    &weight,
                    &initial,
                    &initial_spikes,
                    &decay,
                    &threshold,
                ]) {
                    let recurrent = primitive::Recurrent {
                        weight,
                        initial_spikes,
                    };
                    return primitive::lif_scan::<Self>(
                        current,
                        None,
                        Some(recurrent),
                        initial,
                        decay,
                        threshold,
                        &scan,
                    );
                }
                let (shape, state_shape) = (current.shape(), initial.shape());
                let inputs = host::LifInputs {
                    current: Cow::Owned(current.into_values()),
                    initial: values(&initial),
                    decay: values(&decay),
                    threshold: values(&threshold),
                    noise: None,
                    recurrent: Some(host::HostRecurrent {
                        weight: values(&weight),
                        initial_spikes: values(&initial_spikes),
                    }),
                    neurons: shape[2],
                };
                let (spikes, membrane, last) = host::lif_scan(inputs, &scan, true);
                (
                    tensor(spikes, shape.clone()),
                    tensor(membrane, shape),
                    tensor(last, state_shape),
                )
            }

            #[allow(clippy::type_complexity)]
            fn recurrent_lif_scan_backward(
                spikes: FloatTensor<Self>,
                membrane: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                initial_spikes: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                output: LifOutput,
                scan: LifScan,
                needs: Needs,
            ) -> (
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
                FloatTensor<Self>,
            ) {
                let tensors = [&spikes, &membrane, &weight, &initial, &initial_spikes];
                if !all_f32(&tensors) || !all_f32(&[&decay, &threshold, &grad]) {
                    let recurrent = primitive::Recurrent {
                        weight,
                        initial_spikes,
                    };
                    let [current, initial, decay, threshold, weight, initial_spikes] =
                        primitive::lif_scan_backward::<Self>(
                            spikes,
                            membrane,
                            initial,
                            decay,
                            threshold,
                            grad,
                            output,
                            &scan,
                            needs,
                            Some(&recurrent),
                        );
                    return (current, weight, initial, initial_spikes, decay, threshold);
                }
                let (shape, state_shape) = (spikes.shape(), initial.shape());
                let (parameter_shape, weight_shape) = (decay.shape(), weight.shape());
                let inputs = host::LifInputs {
                    current: Cow::Borrowed(&[]),
                    initial: values(&initial),
                    decay: values(&decay),
                    threshold: values(&threshold),
                    noise: None,
                    recurrent: Some(host::HostRecurrent {
                        weight: values(&weight),
                        initial_spikes: values(&initial_spikes),
                    }),
                    neurons: shape[2],
                };
                let saved = host::LifSaved {
                    spikes: values(&spikes),
                    membrane: values(&membrane),
                    grad: Cow::Owned(grad.into_values()),
                    output,
                };
                let mut grads = host::lif_scan_backward(&inputs, saved, &scan, needs);
                if grads.weight.is_empty() {
                    grads.weight = vec![0.0; weight_shape.num_elements()];
                }
                (
                    tensor(grads.current, shape),
                    tensor(grads.weight, weight_shape),
                    tensor(grads.initial, state_shape.clone()),
                    tensor(grads.initial_spikes, state_shape),
                    tensor(grads.decay, parameter_shape.clone()),
                    tensor(grads.threshold, parameter_shape),
                )
            }

            fn leaky_scan(
                current: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                if !all_f32(&[&current, &initial, &decay]) {
                    return primitive::leaky_scan::<Self>(current, initial, decay);
                }
                let shape = current.shape();
                let membrane =
                    host::leaky_scan(&values(&current), &values(&initial), &values(&decay));
                tensor(membrane, shape)
            }

            fn leaky_scan_backward(
                membrane: FloatTensor<Self>,
                initial: FloatTensor<Self>,
                decay: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                needs_decay: bool,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                if !all_f32(&[&membrane, &initial, &decay, &grad]) {
                    let [current, initial, decay] = primitive::leaky_scan_backward::<Self>(
                        membrane,
                        initial,
                        decay,
                        grad,
                        needs_decay,
                    );
                    return (current, initial, decay);
                }
                let (shape, state_shape) = (membrane.shape(), initial.shape());
                let parameter_shape = decay.shape();
                let (current, initial, decay) = host::leaky_scan_backward(
                    &values(&membrane),
                    &values(&initial),
                    &values(&decay),
                    &values(&grad),
                    shape[2],
                    needs_decay,
                );
                (
                    tensor(current, shape),
                    tensor(initial, state_shape),
                    tensor(decay, parameter_shape),
                )
            }

            fn spike_linear(
                input: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                sparse: SparseInput,
                cache: SparseCache,
            ) -> FloatTensor<Self> {
                let (rows, width) = (input.shape()[0], input.shape()[1]);
                let outputs = weight.shape()[1];
                let found = all_f32(&[&input, &weight])
                    .then(|| host::SparseRows::find(&values(&input), width, sparse.max_density()))
                    .flatten();
                match found {
                    Some(active) => {
                        let out = active.matmul(&values(&weight), outputs);
                        cache.put(active);
                        tensor(out, Shape::new([rows, outputs]))
                    }
                    None => {
                        cache.put(host::DenseInput);
                        <Self as burn::backend::ops::FloatTensorOps<Self>>::float_matmul(
                            input, weight,
                        )
                    }
                }
            }

            fn spike_linear_weight_grad(
                input: FloatTensor<Self>,
                grad: FloatTensor<Self>,
                sparse: SparseInput,
                cache: SparseCache,
            ) -> FloatTensor<Self> {
                let width = input.shape()[1];
                let outputs = grad.shape()[1];
                if !all_f32(&[&input, &grad]) {
                    return primitive::linear_weight_grad::<Self>(input, grad);
                }
                let found = match cache.get::<host::DenseInput>() {
                    Some(_) => None,
                    None => cache.get::<host::SparseRows>().or_else(|| {
                        host::SparseRows::find(&values(&input), width, sparse.max_density())
                            .map(Arc::new)
                    }),
                };
                let (input, grad) = (values(&input), values(&grad));
                let out = match found {
                    Some(active) => active.transpose_matmul(&grad, outputs),
                    None => host::dense_weight_grad(&input, &grad, width, outputs),
                };
                tensor(out, Shape::new([width, outputs]))
            }
        }
    };
}

#[cfg(feature = "ndarray")]
host_sequence_backend!(burn::backend::NdArray);

#[cfg(feature = "flex")]
host_sequence_backend!(burn::backend::Flex);

/// A whole LIF sequence as one op; see [`SequenceBackend::lif_scan`].
pub(crate) fn lif_sequence(
    current: Tensor<3>,
    initial: Tensor<2>,
    decay: Tensor<1>,
    threshold: Tensor<1>,
    noise: Option<Tensor<3>>,
    scan: LifScan,
    record_membrane: bool,
) -> (Tensor<3>, Option<Tensor<3>>, Tensor<2>) {
    let (current, initial) = (current.into_dispatch(), initial.into_dispatch());
    let (decay, threshold) = (decay.into_dispatch(), threshold.into_dispatch());
    let (spikes, membrane, last) = match noise {
        None if !record_membrane => {
            let (spikes, last) = <Dispatch as SequenceBackend>::lif_scan_spikes(
                current, initial, decay, threshold, scan,
            );
            (spikes, None, last)
        }
        None => {
            let (spikes, membrane, last) =
                <Dispatch as SequenceBackend>::lif_scan(current, initial, decay, threshold, scan);
            (spikes, Some(membrane), last)
        }
        Some(noise) => {
            let (spikes, membrane, last) = <Dispatch as SequenceBackend>::lif_scan_noisy(
                current,
                noise.into_dispatch(),
                initial,
                decay,
                threshold,
                scan,
            );
            (spikes, record_membrane.then_some(membrane), last)
        }
    };
    (
        Tensor::from_dispatch(spikes),
        membrane.map(Tensor::from_dispatch),
        Tensor::from_dispatch(last),
    )
}

/// A whole recurrent LIF sequence as one op; see [`SequenceBackend::recurrent_lif_scan`].
pub(crate) fn recurrent_lif_sequence(
    current: Tensor<3>,
    weight: Tensor<2>,
    initial: Tensor<2>,
    initial_spikes: Tensor<2>,
    decay: Tensor<1>,
    threshold: Tensor<1>,
    scan: LifScan,
) -> (Tensor<3>, Tensor<3>, Tensor<2>) {
    let (spikes, membrane, last) = <Dispatch as SequenceBackend>::recurrent_lif_scan(
        current.into_dispatch(),
        weight.into_dispatch(),
        initial.into_dispatch(),
        initial_spikes.into_dispatch(),
        decay.into_dispatch(),
        threshold.into_dispatch(),
        scan,
    );
    (
        Tensor::from_dispatch(spikes),
        Tensor::from_dispatch(membrane),
        Tensor::from_dispatch(last),
    )
}

/// A whole adaptive LIF sequence as one op; see [`SequenceBackend::adaptive_lif_scan`].
pub(crate) fn adaptive_lif_sequence(
    current: Tensor<3>,
    initial: Tensor<2>,
    initial_adaptation: Tensor<2>,
    decay: Tensor<1>,
    threshold: Tensor<1>,
    scan: LifScan,
    adaptation: Adaptation,
) -> (Tensor<3>, Tensor<3>, Tensor<2>, Tensor<3>) {
    let (spikes, membrane, last, adaptations) = <Dispatch as SequenceBackend>::adaptive_lif_scan(
        current.into_dispatch(),
        initial.into_dispatch(),
        initial_adaptation.into_dispatch(),
        decay.into_dispatch(),
        threshold.into_dispatch(),
        scan,
        adaptation,
    );
    (
        Tensor::from_dispatch(spikes),
        Tensor::from_dispatch(membrane),
        Tensor::from_dispatch(last),
        Tensor::from_dispatch(adaptations),
    )
}

/// A whole leaky-integrator sequence as one op; see [`SequenceBackend::leaky_scan`].
pub(crate) fn leaky_sequence(
    current: Tensor<3>,
    initial: Tensor<2>,
    decay: Tensor<1>,
) -> Tensor<3> {
    Tensor::from_dispatch(<Dispatch as SequenceBackend>::leaky_scan(
        current.into_dispatch(),
        initial.into_dispatch(),
        decay.into_dispatch(),
    ))
}

/// A `Linear` layer applied to every step of a sequence, from the nonzero inputs when `sparse`
/// allows it: for 5% input spikes the projection and its weight gradient cost a twentieth of
/// the dense products. The input's own gradient (when it is tracked) is always the dense
/// `grad @ weight^T`.
///
/// # Shapes
/// - `input`: `[time, batch, inputs]`
/// - returns: `[time, batch, outputs]`
///
/// # Panics
/// If the last axis of `input` is not the layer's input width.
pub fn project(linear: &Linear, input: Tensor<3>, sparse: SparseInput) -> Tensor<3> {
    let [time, batch, inputs] = input.dims();
    let [expected, outputs] = linear.weight.dims();
    assert_eq!(
        inputs, expected,
        "project: the Linear layer takes {expected} inputs, got input [time, batch, {inputs}]"
    );
    let rows = input.reshape([time * batch, inputs]);
    let output = Tensor::<2>::from_dispatch(<Dispatch as SequenceBackend>::spike_linear(
        rows.into_dispatch(),
        linear.weight.val().into_dispatch(),
        sparse,
        SparseCache::default(),
    ));
    let output = match &linear.bias {
        Some(bias) => output + bias.val().unsqueeze(),
        None => output,
    };
    output.reshape([time, batch, outputs])
}

/// A CPU tensor whose `f32` values can be read and written in place.
trait HostTensor: Sized {
    /// The values in row-major order: borrowed when the tensor is contiguous, else copied.
    fn values(&self) -> Cow<'_, [f32]>;
    /// The values in row-major order, owned: the tensor's own buffer when nothing else holds it
    /// and it is contiguous, else a copy.
    fn into_values(self) -> Vec<f32>;
    /// A tensor of `shape` holding `values`, without copying them.
    fn from_values(values: Vec<f32>, shape: Shape) -> Self;
}

/// Whether every tensor holds `f32`, the dtype the native loops run in; the others take the
/// primitive-op path.
fn all_f32<T: TensorMetadata>(tensors: &[&T]) -> bool {
    tensors
        .iter()
        .all(|tensor| tensor.dtype() == burn::tensor::DType::F32)
}

fn values<T: HostTensor>(tensor: &T) -> Cow<'_, [f32]> {
    tensor.values()
}

fn tensor<T: HostTensor>(values: Vec<f32>, shape: Shape) -> T {
    T::from_values(values, shape)
}

/// The native LIF scan of a CPU backend.
fn host_lif_scan<T: HostTensor + TensorMetadata>(
    current: T,
    noise: Option<&T>,
    initial: &T,
    decay: &T,
    threshold: &T,
    scan: &LifScan,
) -> (T, T, T) {
    let (shape, state_shape) = (current.shape(), initial.shape());
    let neurons = current.shape()[2];
    // The scan writes its membranes into the current's buffer.
    let current = Cow::Owned(current.into_values());
    let inputs = lif_inputs(current, neurons, noise, initial, decay, threshold);
    let (spikes, membrane, last) = host::lif_scan(inputs, scan, true);
    (
        tensor(spikes, shape.clone()),
        tensor(membrane, shape),
        tensor(last, state_shape),
    )
}

/// The slices of a feed-forward LIF scan's inputs, the current's given (`neurons` wide).
fn lif_inputs<'a, T: HostTensor + TensorMetadata>(
    current: Cow<'a, [f32]>,
    neurons: usize,
    noise: Option<&'a T>,
    initial: &'a T,
    decay: &'a T,
    threshold: &'a T,
) -> host::LifInputs<'a> {
    host::LifInputs {
        current,
        initial: values(initial),
        decay: values(decay),
        threshold: values(threshold),
        noise: noise.map(values),
        recurrent: None,
        neurons,
    }
}

#[cfg(feature = "ndarray")]
impl HostTensor for burn_ndarray::NdArrayTensor {
    fn values(&self) -> Cow<'_, [f32]> {
        match self {
            burn_ndarray::NdArrayTensor::F32(storage) => {
                let view = storage.view();
                if let Some(slice) = view.to_slice() {
                    return Cow::Borrowed(slice);
                }
                // A permuted layout (e.g. the gradient of a max over time): its memory is
                // contiguous in another axis order, and a strided gather reads it in ours.
                let strides: Option<Vec<usize>> = view
                    .strides()
                    .iter()
                    .map(|&stride| usize::try_from(stride).ok())
                    .collect();
                if let Some(strides) = strides {
                    let mut order: Vec<usize> = (0..strides.len()).collect();
                    order.sort_by_key(|&axis| core::cmp::Reverse(strides[axis]));
                    let permuted = view.clone().permuted_axes(order.as_slice());
                    if let Some(memory) = permuted.to_slice() {
                        return Cow::Owned(host::gather(memory, view.shape(), &strides));
                    }
                }
                Cow::Owned(view.iter().copied().collect())
            }
            other => panic!(
                "Spikeburn's fused ops run in f32, got a {:?} tensor",
                other.dtype()
            ),
        }
    }

    fn into_values(self) -> Vec<f32> {
        if let burn_ndarray::NdArrayTensor::F32(storage) = &self
            && storage.is_unique()
            && storage.view().is_standard_layout()
            && let burn_ndarray::NdArrayTensor::F32(storage) = self
        {
            let array = storage
                .into_owned()
                .try_into_owned_nocopy()
                .expect("a unique array is owned without a copy");
            let len = array.len();
            let (mut values, offset) = array.into_raw_vec_and_offset();
            let offset = offset.unwrap_or(0);
            if offset > 0 || values.len() != len {
                // A view into a larger buffer: keep only its elements.
                values.drain(..offset);
                values.truncate(len);
            }
            return values;
        }
        self.values().into_owned()
    }

    fn from_values(values: Vec<f32>, shape: Shape) -> Self {
        burn_ndarray::NdArrayTensor::from_data(burn::tensor::TensorData::new(values, shape))
    }
}

#[cfg(feature = "flex")]
impl HostTensor for burn_flex::FlexTensor {
    fn values(&self) -> Cow<'_, [f32]> {
        let dtype = self.dtype();
        assert!(
            dtype == burn::tensor::DType::F32,
            "Spikeburn's fused ops run in f32, got a {dtype:?} tensor"
        );
        match self.as_slice::<f32>() {
            Some(slice) => Cow::Borrowed(slice),
            None => Cow::Owned(
                self.to_contiguous()
                    .as_slice::<f32>()
                    .expect("a contiguous tensor has a slice")
                    .to_vec(),
            ),
        }
    }

    fn into_values(self) -> Vec<f32> {
        let dtype = self.dtype();
        self.into_data().into_vec::<f32>().unwrap_or_else(|error| {
            panic!("Spikeburn's fused ops run in f32, got {dtype:?}: {error:?}")
        })
    }

    fn from_values(values: Vec<f32>, shape: Shape) -> Self {
        burn_flex::FlexTensor::from_data(burn::tensor::TensorData::new(values, shape))
    }
}

#[cfg(test)]
mod tests;
