//! The fused ops written with Burn's primitive tensor ops: the default bodies, which every
//! backend runs unless it has a native version (the GPU backends do; on them each step is a
//! handful of kernels over `[batch, neurons]`, with no autodiff graph in between).

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Slice, TensorMetadata, get_or_init_device_settings};
use burn::tensor::Shape;

use super::{Adaptation, AdaptiveOutput, LifOutput, LifScan, Needs};
use crate::neuron::Reset;
use crate::spike::backend::surrogate_density;

/// Step `t` of a `[time, batch, neurons]` tensor, as `[batch, neurons]`.
fn step<B: Backend>(sequence: &FloatTensor<B>, t: usize) -> FloatTensor<B> {
    let dims = sequence.shape();
    let (batch, neurons) = (dims[1], dims[2]);
    let slices = [Slice::from(t..t + 1), Slice::from(..), Slice::from(..)];
    B::float_reshape(
        B::float_slice(sequence.clone(), &slices),
        Shape::new([batch, neurons]),
    )
}

/// `[batch, neurons]` steps stacked into `[time, batch, neurons]`.
fn stack<B: Backend>(steps: Vec<FloatTensor<B>>) -> FloatTensor<B> {
    let steps = steps
        .into_iter()
        .map(|step| {
            let dims = step.shape();
            B::float_reshape(step, Shape::new([1, dims[0], dims[1]]))
        })
        .collect();
    B::float_cat(steps, 0)
}

/// A `[neurons]` vector as a `[1, neurons]` row.
fn row<B: Backend>(vector: FloatTensor<B>) -> FloatTensor<B> {
    let neurons = vector.shape()[0];
    B::float_reshape(vector, Shape::new([1, neurons]))
}

/// Sums `[batch, neurons]` over the batch into `[neurons]`.
fn batch_sum<B: Backend>(lanes: FloatTensor<B>) -> FloatTensor<B> {
    let neurons = lanes.shape()[1];
    B::float_reshape(B::float_sum_dim(lanes, 0), Shape::new([neurons]))
}

fn heaviside<B: Backend>(z: FloatTensor<B>) -> FloatTensor<B> {
    let dtype = z.dtype();
    let bool_dtype = get_or_init_device_settings::<B>(&z.device()).bool_dtype;
    B::bool_into_float(
        B::float_greater_equal_elem(z, 0.0.into(), bool_dtype),
        dtype.into(),
    )
}

/// The membrane after the reset, for the membrane `u` before it and the spikes `s`.
fn reset<B: Backend>(
    kind: Reset,
    u: FloatTensor<B>,
    s: FloatTensor<B>,
    threshold: &FloatTensor<B>,
) -> FloatTensor<B> {
    match kind {
        Reset::Subtract => B::float_sub(u, B::float_mul(s, threshold.clone())),
        Reset::Zero => B::float_mul(u, B::float_add_scalar(B::float_neg(s), 1.0.into())),
        Reset::None => u,
    }
}

/// The recurrent connections of a LIF scan: `u` gains `s_{t-1} @ weight`, with `s_{-1}` the
/// initial spikes.
#[derive(Debug, Clone)]
pub(crate) struct Recurrent<B: Backend> {
    /// `[neurons, neurons]`, from the previous step's spikes to this step's membranes.
    pub weight: FloatTensor<B>,
    /// `[batch, neurons]`.
    pub initial_spikes: FloatTensor<B>,
}

/// The LIF scan: spikes, membranes before the reset, and the final membrane.
pub(crate) fn lif_scan<B: Backend>(
    current: FloatTensor<B>,
    noise: Option<FloatTensor<B>>,
    recurrent: Option<Recurrent<B>>,
    initial: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: &LifScan,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let time = current.shape()[0];
    let (decay, threshold) = (row::<B>(decay), row::<B>(threshold));
    let mut v = initial;
    let mut previous = recurrent.as_ref().map(|r| r.initial_spikes.clone());
    let (mut spikes, mut membranes) = (Vec::with_capacity(time), Vec::with_capacity(time));
    for t in 0..time {
        let mut u = B::float_add(B::float_mul(v, decay.clone()), step::<B>(&current, t));
        if let (Some(recurrent), Some(previous)) = (&recurrent, previous.take()) {
            u = B::float_add(u, B::float_matmul(previous, recurrent.weight.clone()));
        }
        let drive = B::float_sub(u.clone(), threshold.clone());
        let drive = match &noise {
            Some(noise) => B::float_add(drive, step::<B>(noise, t)),
            None => drive,
        };
        let s = heaviside::<B>(drive);
        v = reset::<B>(scan.reset, u.clone(), s.clone(), &threshold);
        if recurrent.is_some() {
            previous = Some(s.clone());
        }
        spikes.push(s);
        membranes.push(u);
    }
    (stack::<B>(spikes), stack::<B>(membranes), v)
}

/// The reverse-time scan of [`lif_scan`]: gradients of the current, the initial membrane, the
/// decay and the threshold (zeros where `needs` says they are not wanted).
///
/// With `lambda = dL/dv_t` for the membrane after step `t`'s reset, and `(du, ds, dtheta)` the
/// partials of the reset:
/// - `gs = dL/ds_t + lambda * ds` (the reset term only with `reset_gradient`);
/// - `gu = dL/du_t + lambda * du + gs * p(u_t - threshold)`;
/// - the current gets `gu`, the decay `gu * v_{t-1}`, the threshold `lambda * dtheta - gs * p`;
/// - `lambda` for step `t - 1` is `decay * gu`, and after step 0 it is the initial membrane's;
/// - with recurrent weights `W`, `dL/ds_{t-1}` gains `gu @ W^T` and `W` gets `s_{t-1}^T @ gu`.
///
/// Returns the gradients of the current, the initial membrane, the decay, the threshold, the
/// recurrent weight and the initial spikes (the last two zeros without recurrence).
#[allow(clippy::too_many_arguments)]
pub(crate) fn lif_scan_backward<B: Backend>(
    spikes: FloatTensor<B>,
    membrane: FloatTensor<B>,
    initial: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    grad: FloatTensor<B>,
    output: LifOutput,
    scan: &LifScan,
    needs: Needs,
    recurrent: Option<&Recurrent<B>>,
) -> [FloatTensor<B>; 6] {
    let time = spikes.shape()[0];
    let (decay_vector, threshold_vector) = (decay.clone(), threshold.clone());
    let (decay, threshold) = (row::<B>(decay), row::<B>(threshold));
    let (grad_spikes, grad_membrane, grad_last) = match output {
        LifOutput::Spikes => (Some(grad), None, None),
        LifOutput::Membrane => (None, Some(grad), None),
        LifOutput::Last => (None, None, Some(grad)),
    };
    let mut lambda = grad_last.unwrap_or_else(|| zeros_like::<B>(&initial));
    let mut decay_sum = zeros_like::<B>(&initial);
    let mut threshold_sum = zeros_like::<B>(&initial);
    // dL/ds_t through the recurrent weights into step t + 1, and their gradient.
    let mut feedback = zeros_like::<B>(&initial);
    let mut weight_sum = recurrent.map(|r| zeros_like::<B>(&r.weight));
    let mut grad_current = Vec::with_capacity(time);
    for t in (0..time).rev() {
        let (u, s) = (step::<B>(&membrane, t), step::<B>(&spikes, t));
        let p = surrogate_density::<B>(B::float_sub(u.clone(), threshold.clone()), &scan.surrogate);
        let (du, ds, dthreshold) = match scan.reset {
            Reset::Subtract => (
                None,
                Some(B::float_neg(threshold.clone())),
                Some(B::float_neg(s.clone())),
            ),
            Reset::Zero => (
                Some(B::float_add_scalar(B::float_neg(s.clone()), 1.0.into())),
                Some(B::float_neg(u.clone())),
                None,
            ),
            Reset::None => (None, None, None),
        };
        let mut gs = match &grad_spikes {
            Some(g) => B::float_add(step::<B>(g, t), feedback.clone()),
            None => feedback.clone(),
        };
        if scan.reset_gradient
            && let Some(ds) = ds
        {
            gs = B::float_add(gs, B::float_mul(lambda.clone(), ds));
        }
        let gs_p = B::float_mul(gs, p);
        let through_reset = match du {
            Some(du) => B::float_mul(lambda.clone(), du),
            None => lambda.clone(),
        };
        let mut gu = B::float_add(through_reset, gs_p.clone());
        if let Some(g) = &grad_membrane {
            gu = B::float_add(gu, step::<B>(g, t));
        }
        if needs.threshold {
            let from_reset = match dthreshold {
                Some(d) => B::float_mul(lambda.clone(), d),
                None => zeros_like::<B>(&s),
            };
            threshold_sum = B::float_add(threshold_sum, B::float_sub(from_reset, gs_p));
        }
        if needs.decay {
            let previous = if t > 0 {
                let (u, s) = (step::<B>(&membrane, t - 1), step::<B>(&spikes, t - 1));
                reset::<B>(scan.reset, u, s, &threshold)
            } else {
                initial.clone()
            };
            decay_sum = B::float_add(decay_sum, B::float_mul(gu.clone(), previous));
        }
        if let (Some(recurrent), Some(sum)) = (recurrent, weight_sum.take()) {
            let previous = if t > 0 {
                step::<B>(&spikes, t - 1)
            } else {
                recurrent.initial_spikes.clone()
            };
            let outer = B::float_matmul(B::float_transpose(previous), gu.clone());
            weight_sum = Some(B::float_add(sum, outer));
            feedback = B::float_matmul(gu.clone(), B::float_transpose(recurrent.weight.clone()));
        }
        lambda = B::float_mul(gu.clone(), decay.clone());
        grad_current.push(gu);
    }
    grad_current.reverse();

    let weight = weight_sum.unwrap_or_else(|| zeros_like::<B>(&decay_vector));
    [
        stack::<B>(grad_current),
        lambda,
        parameter_gradient::<B>(decay_sum, needs.decay, &decay_vector),
        parameter_gradient::<B>(threshold_sum, needs.threshold, &threshold_vector),
        weight,
        feedback,
    ]
}

/// The membranes `u_t = decay * u_{t-1} + current_t` of a leaky integrator.
pub(crate) fn leaky_scan<B: Backend>(
    current: FloatTensor<B>,
    initial: FloatTensor<B>,
    decay: FloatTensor<B>,
) -> FloatTensor<B> {
    let time = current.shape()[0];
    let decay = row::<B>(decay);
    let mut u = initial;
    let mut membranes = Vec::with_capacity(time);
    for t in 0..time {
        u = B::float_add(B::float_mul(u, decay.clone()), step::<B>(&current, t));
        membranes.push(u.clone());
    }
    stack::<B>(membranes)
}

/// The reverse-time scan of [`leaky_scan`]: gradients of the current, the initial membrane and
/// the decay (zeros unless `needs_decay`).
pub(crate) fn leaky_scan_backward<B: Backend>(
    membrane: FloatTensor<B>,
    initial: FloatTensor<B>,
    decay: FloatTensor<B>,
    grad: FloatTensor<B>,
    needs_decay: bool,
) -> [FloatTensor<B>; 3] {
    let time = membrane.shape()[0];
    let decay_vector = decay.clone();
    let decay = row::<B>(decay);
    let mut lambda = zeros_like::<B>(&initial);
    let mut decay_sum = zeros_like::<B>(&initial);
    let mut grad_current = Vec::with_capacity(time);
    for t in (0..time).rev() {
        let total = B::float_add(step::<B>(&grad, t), lambda);
        if needs_decay {
            let previous = if t > 0 {
                step::<B>(&membrane, t - 1)
            } else {
                initial.clone()
            };
            decay_sum = B::float_add(decay_sum, B::float_mul(total.clone(), previous));
        }
        lambda = B::float_mul(total.clone(), decay.clone());
        grad_current.push(total);
    }
    grad_current.reverse();
    let grad_decay = if needs_decay {
        batch_sum::<B>(decay_sum)
    } else {
        zeros_like::<B>(&decay_vector)
    };
    [stack::<B>(grad_current), lambda, grad_decay]
}

/// `input^T @ grad`: the weight gradient of [`linear`].
pub(crate) fn linear_weight_grad<B: Backend>(
    input: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    B::float_matmul(B::float_transpose(input), grad)
}

/// The adaptive LIF scan: [`lif_scan`] against the threshold `threshold + beta * a_{t-1}`, with
/// `a_t = rho * a_{t-1} + s_t`. Returns the spikes, the membranes before the reset, the final
/// membrane and the adaptation after every step.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adaptive_scan<B: Backend>(
    current: FloatTensor<B>,
    initial: FloatTensor<B>,
    initial_adaptation: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: &LifScan,
    adaptation: &Adaptation,
) -> [FloatTensor<B>; 4] {
    let time = current.shape()[0];
    let (decay, threshold) = (row::<B>(decay), row::<B>(threshold));
    let (mut v, mut a) = (initial, initial_adaptation);
    let mut outputs = [(); 3].map(|_| Vec::with_capacity(time));
    for t in 0..time {
        let u = B::float_add(B::float_mul(v, decay.clone()), step::<B>(&current, t));
        // The reference's order: a * beta + threshold.
        let effective = B::float_add(
            B::float_mul_scalar(a.clone(), adaptation.strength.into()),
            threshold.clone(),
        );
        let s = heaviside::<B>(B::float_sub(u.clone(), effective.clone()));
        v = reset::<B>(scan.reset, u.clone(), s.clone(), &effective);
        a = B::float_add(B::float_mul_scalar(a, adaptation.decay.into()), s.clone());
        let [spikes, membranes, adaptations] = &mut outputs;
        spikes.push(s);
        membranes.push(u);
        adaptations.push(a.clone());
    }
    let [spikes, membranes, adaptations] = outputs;
    [
        stack::<B>(spikes),
        stack::<B>(membranes),
        v,
        stack::<B>(adaptations),
    ]
}

/// The reverse-time scan of [`adaptive_scan`], for the gradient `grad` of its output `output`:
/// gradients of the current, the initial membrane, the initial adaptation, the decay and the
/// threshold (zeros for the last two unless `needs` asks).
///
/// With `lambda = dL/dv_t`, `kappa = dL/da_t` and the effective threshold `theta_t`:
/// - `gs = dL/ds_t + kappa` (the adaptation counts the spike) `+ lambda * ds` with
///   `reset_gradient`;
/// - `gu = dL/du_t + lambda * du + gs * p(u_t - theta_t)`;
/// - `dtheta_t = lambda * dtheta - gs * p`, which the threshold collects;
/// - `kappa` for step `t - 1` is `rho * kappa + beta * dtheta_t`, `lambda` is `decay * gu`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adaptive_scan_backward<B: Backend>(
    saved: [FloatTensor<B>; 3],
    initial: FloatTensor<B>,
    initial_adaptation: FloatTensor<B>,
    decay: FloatTensor<B>,
    threshold: FloatTensor<B>,
    grad: FloatTensor<B>,
    output: AdaptiveOutput,
    scan: &LifScan,
    adaptation: &Adaptation,
    needs: Needs,
) -> [FloatTensor<B>; 5] {
    let [spikes, membrane, adaptations] = saved;
    let time = spikes.shape()[0];
    let (decay_vector, threshold_vector) = (decay.clone(), threshold.clone());
    let (decay, threshold) = (row::<B>(decay), row::<B>(threshold));
    let mut lambda = match output {
        AdaptiveOutput::Last => grad.clone(),
        _ => zeros_like::<B>(&initial),
    };
    let mut kappa = zeros_like::<B>(&initial);
    let mut decay_sum = zeros_like::<B>(&initial);
    let mut threshold_sum = zeros_like::<B>(&initial);
    // The adaptation before step t, and the effective threshold it sets.
    let adaptation_before = |t: usize| {
        if t > 0 {
            step::<B>(&adaptations, t - 1)
        } else {
            initial_adaptation.clone()
        }
    };
    let effective = |t: usize| {
        B::float_add(
            B::float_mul_scalar(adaptation_before(t), adaptation.strength.into()),
            threshold.clone(),
        )
    };
    let mut grad_current = Vec::with_capacity(time);
    // The effective threshold of step t when step t + 1 already computed it for its decay.
    let mut computed = None;
    for t in (0..time).rev() {
        if output == AdaptiveOutput::Adaptation {
            kappa = B::float_add(kappa, step::<B>(&grad, t));
        }
        let theta = computed.take().unwrap_or_else(|| effective(t));
        let (u, s) = (step::<B>(&membrane, t), step::<B>(&spikes, t));
        let p = surrogate_density::<B>(B::float_sub(u.clone(), theta.clone()), &scan.surrogate);
        let mut gs = kappa.clone();
        if output == AdaptiveOutput::Spikes {
            gs = B::float_add(gs, step::<B>(&grad, t));
        }
        let (du, ds, dtheta) = match scan.reset {
            Reset::Subtract => (None, Some(B::float_neg(theta)), Some(B::float_neg(s))),
            Reset::Zero => (
                Some(B::float_add_scalar(B::float_neg(s), 1.0.into())),
                Some(B::float_neg(u.clone())),
                None,
            ),
            Reset::None => (None, None, None),
        };
        if scan.reset_gradient
            && let Some(ds) = ds
        {
            gs = B::float_add(gs, B::float_mul(lambda.clone(), ds));
        }
        let gs_p = B::float_mul(gs, p);
        let mut gu = match du {
            Some(du) => B::float_mul(lambda.clone(), du),
            None => lambda.clone(),
        };
        gu = B::float_add(gu, gs_p.clone());
        if output == AdaptiveOutput::Membrane {
            gu = B::float_add(gu, step::<B>(&grad, t));
        }
        let grad_theta = match dtheta {
            Some(d) => B::float_sub(B::float_mul(lambda.clone(), d), gs_p),
            None => B::float_neg(gs_p),
        };
        if needs.threshold {
            threshold_sum = B::float_add(threshold_sum, grad_theta.clone());
        }
        if needs.decay {
            let previous = if t > 0 {
                let (u, s) = (step::<B>(&membrane, t - 1), step::<B>(&spikes, t - 1));
                let theta = effective(t - 1);
                let previous = reset::<B>(scan.reset, u, s, &theta);
                computed = Some(theta);
                previous
            } else {
                initial.clone()
            };
            decay_sum = B::float_add(decay_sum, B::float_mul(gu.clone(), previous));
        }
        kappa = B::float_add(
            B::float_mul_scalar(kappa, adaptation.decay.into()),
            B::float_mul_scalar(grad_theta, adaptation.strength.into()),
        );
        lambda = B::float_mul(gu.clone(), decay.clone());
        grad_current.push(gu);
    }
    grad_current.reverse();

    [
        stack::<B>(grad_current),
        lambda,
        kappa,
        parameter_gradient::<B>(decay_sum, needs.decay, &decay_vector),
        parameter_gradient::<B>(threshold_sum, needs.threshold, &threshold_vector),
    ]
}

/// The gradient of a per-neuron parameter from its per-lane sums `[batch, neurons]`, or zeros
/// shaped like the parameter `like` when it is not `wanted`.
pub(crate) fn parameter_gradient<B: Backend>(
    sum: FloatTensor<B>,
    wanted: bool,
    like: &FloatTensor<B>,
) -> FloatTensor<B> {
    if wanted {
        batch_sum::<B>(sum)
    } else {
        zeros_like::<B>(like)
    }
}

/// Zeros of the shape of `like`.
fn zeros_like<B: Backend>(like: &FloatTensor<B>) -> FloatTensor<B> {
    B::float_mul_scalar(like.clone(), 0.0.into())
}
