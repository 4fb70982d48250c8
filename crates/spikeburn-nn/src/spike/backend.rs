//! The spike op as a Burn backend extension, with its surrogate backward on `Autodiff`.
//!
//! Concrete backends run the default bodies below, written with Burn's primitive ops, so NdArray,
//! Flex and every CubeCL runtime (wgpu) share one forward and one density. `Autodiff<B, C>`
//! records a [`Backward`] step that multiplies the upstream gradient by the surrogate density
//! `gain * p(x)` at the noise-free drive `x`.

// `NdArray` is deprecated in Burn 0.22 but still Spikeburn's default CPU backend.
#![allow(deprecated)]

use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata, backend_extension, get_or_init_device_settings};
use spikeburn_noise::{Family, Noise};

/// The backward rule of a spike: the upstream gradient is multiplied by `gain * noise.pdf(x)`.
///
/// `gain` is 1 for the density itself; see [`SurrogateScale`](crate::SurrogateScale) for the
/// library conventions that use another constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surrogate {
    /// The noise whose density is the surrogate.
    pub noise: Noise,
    /// The constant the density is multiplied by.
    pub gain: f64,
}

/// Backends that can run the spike op.
///
/// Implemented for NdArray (feature `ndarray`), Flex (feature `flex`), the CubeCL backends
/// (feature `wgpu`) and `Autodiff` over any of them. Call it through
/// [`Firing::fire`](crate::Firing::fire) or [`spike`](fn@crate::spike) rather than directly.
#[backend_extension(
    Autodiff,
    NdArray: cfg(feature = "ndarray"),
    Flex: cfg(feature = "flex"),
    Cube: cfg(feature = "wgpu"),
)]
pub trait SpikeBackend: Backend {
    /// Fires `H(drive)` elementwise, with `H(z) = 1` for `z >= 0` and 0 otherwise.
    ///
    /// On an autodiff backend the gradient with respect to `drive` is the upstream gradient
    /// times `surrogate.gain * surrogate.noise.pdf(drive)`.
    fn spike_heaviside(drive: FloatTensor<Self>, surrogate: Surrogate) -> FloatTensor<Self> {
        let _ = surrogate;
        heaviside::<Self>(drive)
    }

    /// Fires `H(drive + perturbation)` elementwise: escape noise with a given sample.
    ///
    /// On an autodiff backend the gradient with respect to `drive` is the upstream gradient
    /// times `surrogate.gain * surrogate.noise.pdf(drive)`: the density at the noise-free drive.
    /// The perturbation receives no gradient.
    fn spike_heaviside_perturbed(
        drive: FloatTensor<Self>,
        perturbation: FloatTensor<Self>,
        surrogate: Surrogate,
    ) -> FloatTensor<Self> {
        let _ = surrogate;
        heaviside::<Self>(Self::float_add(drive, perturbation))
    }
}

#[cfg(feature = "ndarray")]
impl SpikeBackend for burn::backend::NdArray {}

#[cfg(feature = "flex")]
impl SpikeBackend for burn::backend::Flex {}

#[cfg(feature = "wgpu")]
impl SpikeBackend for burn::backend::Cube {}

impl<B: SpikeBackend, C: CheckpointStrategy> SpikeBackend for Autodiff<B, C> {
    fn spike_heaviside(drive: FloatTensor<Self>, surrogate: Surrogate) -> FloatTensor<Self> {
        record_spike::<B, C>(drive, surrogate, |drive| {
            B::spike_heaviside(drive, surrogate)
        })
    }

    fn spike_heaviside_perturbed(
        drive: FloatTensor<Self>,
        perturbation: FloatTensor<Self>,
        surrogate: Surrogate,
    ) -> FloatTensor<Self> {
        // The perturbation is a constant: its graph, if any, is cut here.
        let perturbation = perturbation.into_primitive();
        record_spike::<B, C>(drive, surrogate, |drive| {
            B::spike_heaviside_perturbed(drive, perturbation, surrogate)
        })
    }
}

/// Runs `forward` on the inner backend and, when `drive` is tracked, records the surrogate
/// backward: the upstream gradient times `gain * p(drive)`.
fn record_spike<B: Backend, C: CheckpointStrategy>(
    drive: FloatTensor<Autodiff<B, C>>,
    surrogate: Surrogate,
    forward: impl FnOnce(FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    #[derive(Debug)]
    struct SpikeBackward;

    impl<B: Backend> Backward<B, 1> for SpikeBackward {
        /// The noise-free drive and the rule that turns it into a surrogate.
        type State = (FloatTensor<B>, Surrogate);

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let (drive, surrogate) = ops.state;
            unary::<B, _>(ops.parents, ops.node, grads, |grad| {
                // d spike / d drive := gain * p(drive), at the noise-free drive.
                B::float_mul(grad, surrogate_density::<B>(drive, &surrogate))
            });
        }
    }

    let (drive, guard) = drive.into_parts();
    match SpikeBackward
        .prepare::<C>([guard])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let spikes = forward(drive.clone());
            prep.finish((drive, surrogate), spikes)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(drive)),
    }
}

/// `H(z)`: 1 where `z >= 0`, else 0, in the dtype of `z`.
fn heaviside<B: Backend>(z: FloatTensor<B>) -> FloatTensor<B> {
    let dtype = z.dtype();
    let bool_dtype = get_or_init_device_settings::<B>(&z.device()).bool_dtype;
    let fires = B::float_greater_equal_elem(z, 0.0.into(), bool_dtype);

    B::bool_into_float(fires, dtype.into())
}

/// `gain * p(x)` for every element of `drive`, written with primitive ops so that it runs on
/// any backend. The formulas are THEORY.md section 1 in units of the scale, `z = x / scale`.
pub(crate) fn surrogate_density<B: Backend>(
    drive: FloatTensor<B>,
    surrogate: &Surrogate,
) -> FloatTensor<B> {
    let noise = surrogate.noise;
    let scale = noise.scale();
    let z = B::float_div_scalar(drive, scale.into());

    // Each arm computes `p(z) / c` for a constant `c` folded into the final multiply.
    let (unit_density, constant) = match noise.family() {
        // exp(-z^2 / 2) / sqrt(2 pi)
        Family::Gaussian => {
            let exponent = B::float_mul_scalar(square::<B>(z), (-0.5).into());
            (
                B::float_exp(exponent),
                1.0 / (2.0 * core::f64::consts::PI).sqrt(),
            )
        }
        // sigmoid(z) (1 - sigmoid(z)) = e / (1 + e)^2 with e = exp(-|z|), which avoids the
        // cancellation in 1 - sigmoid(z) for large z.
        Family::Logistic => {
            let e = B::float_exp(B::float_neg(B::float_abs(z)));
            let denominator = square::<B>(B::float_add_scalar(e.clone(), 1.0.into()));
            (B::float_div(e, denominator), 1.0)
        }
        // 1 / (pi (1 + z^2))
        Family::Cauchy => {
            let denominator = B::float_add_scalar(square::<B>(z), 1.0.into());
            (B::float_recip(denominator), 1.0 / core::f64::consts::PI)
        }
        // exp(-|z|) / 2
        Family::Laplace => (B::float_exp(B::float_neg(B::float_abs(z))), 0.5),
        // 1/2 on |z| <= 1
        Family::Uniform => {
            let dtype = z.dtype();
            let bool_dtype = get_or_init_device_settings::<B>(&z.device()).bool_dtype;
            let inside = B::float_lower_equal_elem(B::float_abs(z), 1.0.into(), bool_dtype);
            (B::bool_into_float(inside, dtype.into()), 0.5)
        }
        // max(1 - |z|, 0)
        Family::Triangular => {
            let tent = B::float_add_scalar(B::float_neg(B::float_abs(z)), 1.0.into());
            (B::float_clamp_min(tent, 0.0.into()), 1.0)
        }
        // 1 / (2 (1 + |z|)^2)
        Family::FastSigmoid => {
            let denominator = square::<B>(B::float_add_scalar(B::float_abs(z), 1.0.into()));
            (B::float_recip(denominator), 0.5)
        }
        // (1 + z^2)^(-3/2) / 2
        Family::StudentT2 => {
            let base = B::float_add_scalar(square::<B>(z), 1.0.into());
            (B::float_powf_scalar(base, (-1.5).into()), 0.5)
        }
    };

    B::float_mul_scalar(unit_density, (surrogate.gain * constant / scale).into())
}

fn square<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_mul(x.clone(), x)
}
