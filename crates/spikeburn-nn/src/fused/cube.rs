//! The LIF-family scans as CubeCL kernels, for the GPU backends. For the feed-forward and
//! adaptive LIF scans and the leaky integrator, one thread per lane (`batch x neurons`) runs the
//! whole time loop, forward or in reverse, so a sequence costs one kernel launch instead of a
//! handful per step. The recurrent scan keeps Burn's matmul for each step's feedback and runs
//! the rest of the step as one kernel.
//!
//! The surrogate density of every step is one elementwise pass before the reverse scan (the
//! same [`surrogate_density`] the primitive ops use), so the kernels know no noise family.

use burn::backend::cubecl::dtype_to_elem_type;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Slice, TensorMetadata};
use burn::tensor::Shape;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

use super::primitive::parameter_gradient;
use super::{Adaptation, AdaptiveOutput, LifOutput, LifScan, Needs};
use crate::neuron::Reset;
use crate::spike::backend::surrogate_density;

/// Threads per cube: lanes are independent, so any width that fills the device works.
const CUBE_WIDTH: u32 = 256;

/// The reset as two coefficients, `v = u - s * (by_threshold * threshold + by_membrane * u)`,
/// as in the native loops.
fn reset_coefficients(kind: Reset) -> (f32, f32) {
    match kind {
        Reset::Subtract => (1.0, 0.0),
        Reset::Zero => (0.0, 1.0),
        Reset::None => (0.0, 0.0),
    }
}

/// The spike for a drive `u - threshold (+ noise)`: 1 at or above zero. The drive is written as
/// the reference writes it: `u >= threshold` differs where `u - threshold` flushes to zero.
#[cube]
fn fire<F: Float>(drive: F) -> F {
    let mut s = F::new(0.0);
    if drive >= F::new(0.0) {
        s = F::new(1.0);
    }
    s
}

/// The membrane after the reset, `u - s * (by_threshold * threshold + by_membrane * u)`.
#[cube]
fn after_reset<F: Float>(u: F, s: F, threshold: F, by_threshold: F, by_membrane: F) -> F {
    u - s * (by_threshold * threshold + by_membrane * u)
}

/// The gradients one reverse step finds: of the membrane before the reset, and of the
/// (effective) threshold.
#[derive(CubeType)]
struct StepGradient<F: Float> {
    membrane: F,
    threshold: F,
}

/// One reverse step of a LIF lane (see [`super::primitive::lif_scan_backward`]): from `lambda`
/// (`dL/dv` after this step's reset), the gradients arriving at the spike (`spike`: upstream,
/// recurrent feedback, adaptation) and at the membrane, and the surrogate density `p`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn reverse_step<F: Float>(
    lambda: F,
    spike: F,
    membrane: F,
    u: F,
    s: F,
    p: F,
    threshold: F,
    by_threshold: F,
    by_membrane: F,
    through_reset: F,
) -> StepGradient<F> {
    let gs = spike - (by_threshold * threshold + by_membrane * u) * through_reset * lambda;
    let gu = lambda * (F::new(1.0) - by_membrane * s) + membrane + gs * p;
    StepGradient::<F> {
        membrane: gu,
        threshold: -by_threshold * s * lambda - gs * p,
    }
}

/// The LIF scan of one lane (`ABSOLUTE_POS`) over `[steps, lanes]` sequences: see
/// [`SequenceBackend::lif_scan`](super::SequenceBackend::lif_scan). With `noisy`, `noise` is
/// added to the drive `u - threshold` before the spike; without, it is not read.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn lif_forward_kernel<F: Float>(
    current: &Tensor<F>,
    noise: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    last: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    #[comptime] noisy: bool,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let mut v = initial[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        let u = v * d + current[at];
        let mut drive = u - theta;
        if comptime!(noisy) {
            drive += noise[at];
        }
        let s = fire::<F>(drive);
        spikes[at] = s;
        membrane[at] = u;
        v = after_reset::<F>(u, s, theta, bt, bm);
    }
    last[lane] = v;
}

/// The reverse-time scan of one lane: see [`super::primitive::lif_scan_backward`] for the rule.
/// `grad` is the gradient of the spikes (`output` 0), the membranes (1) or the final membrane
/// (2, one value per lane).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn lif_backward_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let mut lambda = F::new(0.0);
    if comptime!(output == 2) {
        lambda = grad[lane];
    }
    let mut decay_sum = F::new(0.0);
    let mut threshold_sum = F::new(0.0);
    let count = steps as usize;
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        let mut g_spike = F::new(0.0);
        let mut g_membrane = F::new(0.0);
        if comptime!(output == 0) {
            g_spike = grad[at];
        }
        if comptime!(output == 1) {
            g_membrane = grad[at];
        }
        let step = reverse_step::<F>(
            lambda,
            g_spike,
            g_membrane,
            membrane[at],
            spikes[at],
            density[at],
            theta,
            bt,
            bm,
            through,
        );
        threshold_sum += step.threshold;
        let mut previous = initial[lane];
        if t > 0 {
            previous = after_reset::<F>(membrane[at - lanes], spikes[at - lanes], theta, bt, bm);
        }
        decay_sum += step.membrane * previous;
        grad_current[at] = step.membrane;
        lambda = d * step.membrane;
    }
    grad_initial[lane] = lambda;
    decay_lanes[lane] = decay_sum;
    threshold_lanes[lane] = threshold_sum;
}

/// One step of a recurrent LIF scan for one lane: `u = v * decay + current + feedback`, where
/// `feedback` is the previous step's spikes times the recurrent weight; writes step `step` of
/// the spikes and membranes and the lane's membrane after the reset to `v`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn recurrent_step_kernel<F: Float>(
    current: &Tensor<F>,
    feedback: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    v: &mut Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    step: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let at = (step as usize) * lanes + lane;
    let u = v[lane] * decay[neuron] + current[at] + feedback[lane];
    let s = fire::<F>(u - theta);
    spikes[at] = s;
    membrane[at] = u;
    v[lane] = after_reset::<F>(u, s, theta, bt, bm);
}

/// One reverse step of a recurrent LIF scan for one lane: [`lif_backward_kernel`]'s loop body
/// at step `step`, with `feedback` the gradient of this step's spikes through the recurrent
/// weight into the next step. `lambda` and the parameter sums carry over between steps.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn recurrent_backward_step_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    feedback: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    lambda: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    step: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let t = step as usize;
    let at = t * lanes + lane;
    let mut g_spike = feedback[lane];
    let mut g_membrane = F::new(0.0);
    if comptime!(output == 0) {
        g_spike += grad[at];
    }
    if comptime!(output == 1) {
        g_membrane = grad[at];
    }
    let step = reverse_step::<F>(
        lambda[lane],
        g_spike,
        g_membrane,
        membrane[at],
        spikes[at],
        density[at],
        theta,
        bt,
        bm,
        through,
    );
    threshold_lanes[lane] += step.threshold;
    let mut previous = initial[lane];
    if t > 0 {
        previous = after_reset::<F>(membrane[at - lanes], spikes[at - lanes], theta, bt, bm);
    }
    decay_lanes[lane] += step.membrane * previous;
    grad_current[at] = step.membrane;
    lambda[lane] = decay[neuron] * step.membrane;
}

/// The adaptive LIF scan of one lane: [`lif_forward_kernel`] against the threshold
/// `a * strength + threshold`, with `a = a * rho + s` after every step (see
/// [`super::primitive::adaptive_scan`]).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adaptive_forward_kernel<F: Float>(
    current: &Tensor<F>,
    initial: &Tensor<F>,
    initial_adaptation: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    spikes: &mut Tensor<F>,
    membrane: &mut Tensor<F>,
    last: &mut Tensor<F>,
    adaptations: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    strength: f32,
    rho: f32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let (beta, rho) = (F::cast_from(strength), F::cast_from(rho));
    let mut v = initial[lane];
    let mut a = initial_adaptation[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        let u = v * d + current[at];
        let effective = a * beta + theta;
        let s = fire::<F>(u - effective);
        v = after_reset::<F>(u, s, effective, bt, bm);
        a = a * rho + s;
        spikes[at] = s;
        membrane[at] = u;
        adaptations[at] = a;
    }
    last[lane] = v;
}

/// The reverse-time scan of one adaptive lane: see
/// [`super::primitive::adaptive_scan_backward`] for the rule. `output` is 0 for the spikes, 1
/// the membranes, 2 the final membrane (`grad` one value per lane), 3 the adaptations.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn adaptive_backward_kernel<F: Float>(
    spikes: &Tensor<F>,
    membrane: &Tensor<F>,
    adaptations: &Tensor<F>,
    density: &Tensor<F>,
    initial: &Tensor<F>,
    initial_adaptation: &Tensor<F>,
    decay: &Tensor<F>,
    threshold: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    grad_initial_adaptation: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    threshold_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    by_threshold: f32,
    by_membrane: f32,
    through_reset: f32,
    strength: f32,
    rho: f32,
    #[comptime] output: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let neuron = lane % (neurons as usize);
    let d = decay[neuron];
    let theta = threshold[neuron];
    let (bt, bm) = (F::cast_from(by_threshold), F::cast_from(by_membrane));
    let through = F::cast_from(through_reset);
    let (beta, rho) = (F::cast_from(strength), F::cast_from(rho));
    let mut lambda = F::new(0.0);
    if comptime!(output == 2) {
        lambda = grad[lane];
    }
    let mut kappa = F::new(0.0);
    let mut decay_sum = F::new(0.0);
    let mut threshold_sum = F::new(0.0);
    let count = steps as usize;
    // The effective threshold of step t, `a_{t-1} * strength + threshold`, and of step t - 1
    // once the loop has computed it for the decay's gradient.
    let mut effective = theta;
    if count > 0 {
        let mut before = initial_adaptation[lane];
        if count > 1 {
            before = adaptations[(count - 2) * lanes + lane];
        }
        effective = before * beta + theta;
    }
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        if comptime!(output == 3) {
            kappa += grad[at];
        }
        // The adaptation counts the spike, so its gradient reaches the spike.
        let mut g_spike = kappa;
        let mut g_membrane = F::new(0.0);
        if comptime!(output == 0) {
            g_spike += grad[at];
        }
        if comptime!(output == 1) {
            g_membrane = grad[at];
        }
        let step = reverse_step::<F>(
            lambda,
            g_spike,
            g_membrane,
            membrane[at],
            spikes[at],
            density[at],
            effective,
            bt,
            bm,
            through,
        );
        threshold_sum += step.threshold;
        let mut previous = initial[lane];
        if t > 0 {
            let mut earlier = initial_adaptation[lane];
            if t > 1 {
                earlier = adaptations[at - 2 * lanes];
            }
            effective = earlier * beta + theta;
            previous =
                after_reset::<F>(membrane[at - lanes], spikes[at - lanes], effective, bt, bm);
        }
        decay_sum += step.membrane * previous;
        kappa = kappa * rho + step.threshold * beta;
        grad_current[at] = step.membrane;
        lambda = step.membrane * d;
    }
    grad_initial[lane] = lambda;
    grad_initial_adaptation[lane] = kappa;
    decay_lanes[lane] = decay_sum;
    threshold_lanes[lane] = threshold_sum;
}

/// The leaky integrator of one lane over `[steps, lanes]` sequences.
#[cube(launch)]
fn leaky_forward_kernel<F: Float>(
    current: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    membrane: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let d = decay[lane % (neurons as usize)];
    let mut u = initial[lane];
    for t in 0..steps as usize {
        let at = t * lanes + lane;
        u = u * d + current[at];
        membrane[at] = u;
    }
}

/// The reverse-time scan of a leaky integrator's lane: see
/// [`super::primitive::leaky_scan_backward`].
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn leaky_backward_kernel<F: Float>(
    membrane: &Tensor<F>,
    initial: &Tensor<F>,
    decay: &Tensor<F>,
    grad: &Tensor<F>,
    grad_current: &mut Tensor<F>,
    grad_initial: &mut Tensor<F>,
    decay_lanes: &mut Tensor<F>,
    steps: u32,
    lanes: u32,
    neurons: u32,
    #[define(F)] _dtype: ElemType,
) {
    let lane = ABSOLUTE_POS;
    let lanes = lanes as usize;
    if lane >= lanes {
        terminate!();
    }
    let d = decay[lane % (neurons as usize)];
    let mut lambda = F::new(0.0);
    let mut decay_sum = F::new(0.0);
    let count = steps as usize;
    for k in 0..count {
        let t = count - 1 - k;
        let at = t * lanes + lane;
        let total = grad[at] + lambda;
        let mut previous = initial[lane];
        if t > 0 {
            previous = membrane[at - lanes];
        }
        decay_sum += total * previous;
        grad_current[at] = total;
        lambda = total * d;
    }
    grad_initial[lane] = lambda;
    decay_lanes[lane] = decay_sum;
}

/// The surrogate density `p(u - threshold)` of every step, `[time, batch, neurons]`.
fn densities<B: Backend>(
    membrane: FloatTensor<B>,
    threshold: FloatTensor<B>,
    scan: &LifScan,
) -> FloatTensor<B> {
    let neurons = threshold.shape()[0];
    let row = B::float_reshape(threshold, Shape::new([1, 1, neurons]));
    surrogate_density::<B>(B::float_sub(membrane, row), &scan.surrogate)
}

/// The element type to launch the kernels for: the dtype all of `tensors` share.
///
/// # Panics
/// If the tensors differ in dtype, or one has more elements than the kernels' `u32` sizes
/// hold.
fn elem_type(tensors: &[&CubeTensor]) -> ElemType {
    let dtype = tensors[0].dtype;
    for tensor in tensors {
        assert_eq!(
            tensor.dtype, dtype,
            "Spikeburn's GPU scans take tensors of one float dtype"
        );
        let elements = tensor.shape().num_elements();
        assert!(
            elements <= u32::MAX as usize,
            "a tensor of {elements} elements is too large for Spikeburn's GPU scans (at most {})",
            u32::MAX
        );
    }
    dtype_to_elem_type(dtype)
}

/// An uninitialised tensor of `shape` on `tensor`'s device, in its dtype.
fn empty_like(tensor: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_dtype(
        tensor.client.clone(),
        tensor.device.clone(),
        shape,
        tensor.dtype,
    )
}

/// One thread per lane.
fn cube_count(lanes: usize) -> (CubeCount, CubeDim) {
    let cubes = (lanes as u32).div_ceil(CUBE_WIDTH).max(1);
    (CubeCount::Static(cubes, 1, 1), CubeDim::new_1d(CUBE_WIDTH))
}

/// [`SequenceBackend::lif_scan`](super::SequenceBackend::lif_scan) (with `noise`,
/// [`lif_scan_noisy`](super::SequenceBackend::lif_scan_noisy)) as one kernel.
pub(crate) fn lif_scan(
    current: CubeTensor,
    noise: Option<CubeTensor>,
    initial: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [current, initial, decay, threshold] =
        [current, initial, decay, threshold].map(into_contiguous);
    let noisy = noise.is_some();
    // Without noise the kernel reads no noise; the current stands in for the argument.
    let noise = into_contiguous(noise.unwrap_or_else(|| current.clone()));
    let dtype = elem_type(&[&current, &noise, &initial, &decay, &threshold]);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape);
    let last = empty_like(&initial, initial.shape());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    lif_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        noise.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.into_tensor_arg(),
        threshold.into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        last.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        noisy,
        dtype,
    );
    (spikes, membrane, last)
}

/// [`SequenceBackend::lif_scan_backward`](super::SequenceBackend::lif_scan_backward) as one
/// elementwise density pass and one kernel, then the batch sums of the parameter gradients.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lif_scan_backward(
    spikes: CubeTensor,
    membrane: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: LifOutput,
    scan: &LifScan,
    needs: Needs,
) -> (CubeTensor, CubeTensor, CubeTensor, CubeTensor) {
    type B = CubeBackend;
    let [spikes, membrane, initial, decay, threshold, grad] =
        [spikes, membrane, initial, decay, threshold, grad].map(into_contiguous);
    let dtype = elem_type(&[&spikes, &membrane, &initial, &decay, &threshold, &grad]);
    let shape = spikes.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    let lanes = batch * neurons;
    let density = into_contiguous(densities::<B>(membrane.clone(), threshold.clone(), scan));
    let grad_current = empty_like(&spikes, shape);
    let state = initial.shape();
    let grad_initial = empty_like(&initial, state.clone());
    let decay_lanes = empty_like(&initial, state.clone());
    let threshold_lanes = empty_like(&initial, state);
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        LifOutput::Spikes => 0,
        LifOutput::Membrane => 1,
        LifOutput::Last => 2,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    lif_backward_kernel::launch(
        &client,
        count,
        dim,
        spikes.into_tensor_arg(),
        membrane.into_tensor_arg(),
        density.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        threshold.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        threshold_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        through_reset,
        output,
        dtype,
    );
    (
        grad_current,
        grad_initial,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    )
}

/// [`SequenceBackend::leaky_scan`](super::SequenceBackend::leaky_scan) as one kernel.
pub(crate) fn leaky_scan(
    current: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
) -> CubeTensor {
    let [current, initial, decay] = [current, initial, decay].map(into_contiguous);
    let dtype = elem_type(&[&current, &initial, &decay]);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let membrane = empty_like(&current, shape);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    leaky_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        dtype,
    );
    membrane
}

/// [`SequenceBackend::leaky_scan_backward`](super::SequenceBackend::leaky_scan_backward) as one
/// kernel, then the batch sum of the decay's gradient.
pub(crate) fn leaky_scan_backward(
    membrane: CubeTensor,
    initial: CubeTensor,
    decay: CubeTensor,
    grad: CubeTensor,
    needs_decay: bool,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    let [membrane, initial, decay, grad] = [membrane, initial, decay, grad].map(into_contiguous);
    let dtype = elem_type(&[&membrane, &initial, &decay, &grad]);
    let shape = membrane.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let grad_current = empty_like(&membrane, shape);
    let state = initial.shape();
    let grad_initial = empty_like(&initial, state.clone());
    let decay_lanes = empty_like(&initial, state);
    let (count, dim) = cube_count(lanes);
    let client = membrane.client.clone();
    leaky_backward_kernel::launch(
        &client,
        count,
        dim,
        membrane.into_tensor_arg(),
        initial.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        dtype,
    );
    (
        grad_current,
        grad_initial,
        parameter_gradient::<CubeBackend>(decay_lanes, needs_decay, &decay),
    )
}

/// The surrogate density `p(u - a_{t-1} * strength - threshold)` of every step of an adaptive
/// scan, `[time, batch, neurons]`.
fn adaptive_densities<B: Backend>(
    membrane: FloatTensor<B>,
    adaptations: FloatTensor<B>,
    initial_adaptation: FloatTensor<B>,
    threshold: FloatTensor<B>,
    strength: f64,
    scan: &LifScan,
) -> FloatTensor<B> {
    let shape = membrane.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    // The adaptation before every step: the initial one, then all but the last step's.
    let first = B::float_reshape(initial_adaptation, Shape::new([1, batch, neurons]));
    let before = if steps > 1 {
        let earlier = B::float_slice(
            adaptations,
            &[Slice::from(0..steps - 1), Slice::from(..), Slice::from(..)],
        );
        B::float_cat(vec![first, earlier], 0)
    } else {
        first
    };
    let row = B::float_reshape(threshold, Shape::new([1, 1, neurons]));
    // The reference's order: a * beta + threshold.
    let effective = B::float_add(B::float_mul_scalar(before, strength.into()), row);
    surrogate_density::<B>(B::float_sub(membrane, effective), &scan.surrogate)
}

/// [`SequenceBackend::adaptive_lif_scan`](super::SequenceBackend::adaptive_lif_scan) as one
/// kernel: the spikes, membranes, final membrane and adaptations.
pub(crate) fn adaptive_scan(
    current: CubeTensor,
    initial: CubeTensor,
    initial_adaptation: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
    adaptation: &Adaptation,
) -> [CubeTensor; 4] {
    let [current, initial, initial_adaptation, decay, threshold] =
        [current, initial, initial_adaptation, decay, threshold].map(into_contiguous);
    let dtype = elem_type(&[&current, &initial, &initial_adaptation, &decay, &threshold]);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape.clone());
    let adaptations = empty_like(&current, shape);
    let last = empty_like(&initial, initial.shape());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    adaptive_forward_kernel::launch(
        &client,
        count,
        dim,
        current.into_tensor_arg(),
        initial.into_tensor_arg(),
        initial_adaptation.into_tensor_arg(),
        decay.into_tensor_arg(),
        threshold.into_tensor_arg(),
        spikes.clone().into_tensor_arg(),
        membrane.clone().into_tensor_arg(),
        last.clone().into_tensor_arg(),
        adaptations.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        adaptation.strength as f32,
        adaptation.decay as f32,
        dtype,
    );
    [spikes, membrane, last, adaptations]
}

/// The backward of [`adaptive_scan`] as one elementwise density pass and one kernel: gradients
/// of the current, the initial membrane, the initial adaptation, the decay and the threshold.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adaptive_scan_backward(
    [spikes, membrane, adaptations]: [CubeTensor; 3],
    initial: CubeTensor,
    initial_adaptation: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: AdaptiveOutput,
    scan: &LifScan,
    adaptation: &Adaptation,
    needs: Needs,
) -> [CubeTensor; 5] {
    type B = CubeBackend;
    let [
        spikes,
        membrane,
        adaptations,
        initial,
        initial_adaptation,
        decay,
        threshold,
        grad,
    ] = [
        spikes,
        membrane,
        adaptations,
        initial,
        initial_adaptation,
        decay,
        threshold,
        grad,
    ]
    .map(into_contiguous);
    let dtype = elem_type(&[
        &spikes,
        &membrane,
        &adaptations,
        &initial,
        &initial_adaptation,
        &decay,
        &threshold,
        &grad,
    ]);
    let shape = spikes.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let density = into_contiguous(adaptive_densities::<B>(
        membrane.clone(),
        adaptations.clone(),
        initial_adaptation.clone(),
        threshold.clone(),
        adaptation.strength,
        scan,
    ));
    let grad_current = empty_like(&spikes, shape);
    let state = initial.shape();
    let [
        grad_initial,
        grad_initial_adaptation,
        decay_lanes,
        threshold_lanes,
    ] = [(); 4].map(|_| empty_like(&initial, state.clone()));
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        AdaptiveOutput::Spikes => 0,
        AdaptiveOutput::Membrane => 1,
        AdaptiveOutput::Last => 2,
        AdaptiveOutput::Adaptation => 3,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    adaptive_backward_kernel::launch(
        &client,
        count,
        dim,
        spikes.into_tensor_arg(),
        membrane.into_tensor_arg(),
        adaptations.into_tensor_arg(),
        density.into_tensor_arg(),
        initial.into_tensor_arg(),
        initial_adaptation.into_tensor_arg(),
        decay.clone().into_tensor_arg(),
        threshold.clone().into_tensor_arg(),
        grad.into_tensor_arg(),
        grad_current.clone().into_tensor_arg(),
        grad_initial.clone().into_tensor_arg(),
        grad_initial_adaptation.clone().into_tensor_arg(),
        decay_lanes.clone().into_tensor_arg(),
        threshold_lanes.clone().into_tensor_arg(),
        steps as u32,
        lanes as u32,
        neurons as u32,
        by_threshold,
        by_membrane,
        through_reset,
        adaptation.strength as f32,
        adaptation.decay as f32,
        output,
        dtype,
    );
    [
        grad_current,
        grad_initial,
        grad_initial_adaptation,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    ]
}

/// Step `t` of a `[time, batch, neurons]` tensor, as `[batch, neurons]`.
fn step_of<B: Backend>(sequence: FloatTensor<B>, t: usize) -> FloatTensor<B> {
    let shape = sequence.shape();
    let slices = [Slice::from(t..t + 1), Slice::from(..), Slice::from(..)];
    B::float_reshape(
        B::float_slice(sequence, &slices),
        Shape::new([shape[1], shape[2]]),
    )
}

/// [`SequenceBackend::recurrent_lif_scan`](super::SequenceBackend::recurrent_lif_scan): per
/// step, the previous spikes times the weight (Burn's matmul) and one kernel for the rest.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recurrent_scan(
    current: CubeTensor,
    weight: CubeTensor,
    initial: CubeTensor,
    initial_spikes: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    scan: &LifScan,
) -> (CubeTensor, CubeTensor, CubeTensor) {
    type B = CubeBackend;
    let [current, weight, initial, initial_spikes, decay, threshold] =
        [current, weight, initial, initial_spikes, decay, threshold].map(into_contiguous);
    let dtype = elem_type(&[
        &current,
        &weight,
        &initial,
        &initial_spikes,
        &decay,
        &threshold,
    ]);
    let shape = current.shape();
    let (steps, lanes, neurons) = (shape[0], shape[1] * shape[2], shape[2]);
    let spikes = empty_like(&current, shape.clone());
    let membrane = empty_like(&current, shape);
    // The membrane after each step's reset, updated in place by every step's kernel.
    let v = into_contiguous(B::float_add_scalar(initial, 0.0.into()));
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let (count, dim) = cube_count(lanes);
    let client = current.client.clone();
    let mut previous = initial_spikes;
    for t in 0..steps {
        let feedback = into_contiguous(B::float_matmul(previous, weight.clone()));
        recurrent_step_kernel::launch(
            &client,
            count.clone(),
            dim,
            current.clone().into_tensor_arg(),
            feedback.into_tensor_arg(),
            decay.clone().into_tensor_arg(),
            threshold.clone().into_tensor_arg(),
            v.clone().into_tensor_arg(),
            spikes.clone().into_tensor_arg(),
            membrane.clone().into_tensor_arg(),
            t as u32,
            lanes as u32,
            neurons as u32,
            by_threshold,
            by_membrane,
            dtype,
        );
        previous = into_contiguous(step_of::<B>(spikes.clone(), t));
    }
    (spikes, membrane, v)
}

/// The backward of [`recurrent_scan`]: per step one kernel and the spikes' gradient through the
/// weight (Burn's matmul); the weight's gradient is one matmul over all steps at the end.
/// Returns the gradients of the current, the weight, the initial membrane, the initial spikes,
/// the decay and the threshold.
#[allow(clippy::too_many_arguments)]
pub(crate) fn recurrent_scan_backward(
    [spikes, membrane, weight]: [CubeTensor; 3],
    initial: CubeTensor,
    initial_spikes: CubeTensor,
    decay: CubeTensor,
    threshold: CubeTensor,
    grad: CubeTensor,
    output: LifOutput,
    scan: &LifScan,
    needs: Needs,
) -> [CubeTensor; 6] {
    type B = CubeBackend;
    let [
        spikes,
        membrane,
        weight,
        initial,
        initial_spikes,
        decay,
        threshold,
        grad,
    ] = [
        spikes,
        membrane,
        weight,
        initial,
        initial_spikes,
        decay,
        threshold,
        grad,
    ]
    .map(into_contiguous);
    let dtype = elem_type(&[
        &spikes,
        &membrane,
        &weight,
        &initial,
        &initial_spikes,
        &decay,
        &threshold,
        &grad,
    ]);
    let shape = spikes.shape();
    let (steps, batch, neurons) = (shape[0], shape[1], shape[2]);
    let lanes = batch * neurons;
    let density = into_contiguous(densities::<B>(membrane.clone(), threshold.clone(), scan));
    let grad_current = empty_like(&spikes, shape);
    let zeros = || into_contiguous(B::float_mul_scalar(initial.clone(), 0.0.into()));
    let lambda = match output {
        LifOutput::Last => into_contiguous(B::float_add_scalar(grad.clone(), 0.0.into())),
        LifOutput::Spikes | LifOutput::Membrane => zeros(),
    };
    let (decay_lanes, threshold_lanes) = (zeros(), zeros());
    let (by_threshold, by_membrane) = reset_coefficients(scan.reset);
    let through_reset = if scan.reset_gradient { 1.0 } else { 0.0 };
    let output = match output {
        LifOutput::Spikes => 0,
        LifOutput::Membrane => 1,
        LifOutput::Last => 2,
    };
    let (count, dim) = cube_count(lanes);
    let client = spikes.client.clone();
    let transposed = B::float_transpose(weight.clone());
    let mut feedback = zeros();
    for t in (0..steps).rev() {
        recurrent_backward_step_kernel::launch(
            &client,
            count.clone(),
            dim,
            spikes.clone().into_tensor_arg(),
            membrane.clone().into_tensor_arg(),
            density.clone().into_tensor_arg(),
            initial.clone().into_tensor_arg(),
            decay.clone().into_tensor_arg(),
            threshold.clone().into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            feedback.into_tensor_arg(),
            grad_current.clone().into_tensor_arg(),
            lambda.clone().into_tensor_arg(),
            decay_lanes.clone().into_tensor_arg(),
            threshold_lanes.clone().into_tensor_arg(),
            t as u32,
            lanes as u32,
            neurons as u32,
            by_threshold,
            by_membrane,
            through_reset,
            output,
            dtype,
        );
        let gu = step_of::<B>(grad_current.clone(), t);
        feedback = into_contiguous(B::float_matmul(gu, transposed.clone()));
    }
    let weight_grad = if needs.weight {
        // sum over t of s_{t-1}^T @ gu_t, with s_{-1} the initial spikes: one product of the
        // shifted spikes and the current's gradient, both as [time * batch, neurons].
        let first = B::float_reshape(initial_spikes, Shape::new([1, batch, neurons]));
        let before = if steps > 1 {
            let earlier = B::float_slice(
                spikes,
                &[Slice::from(0..steps - 1), Slice::from(..), Slice::from(..)],
            );
            B::float_cat(vec![first, earlier], 0)
        } else {
            first
        };
        let rows = Shape::new([steps * batch, neurons]);
        B::float_matmul(
            B::float_transpose(B::float_reshape(before, rows.clone())),
            B::float_reshape(grad_current.clone(), rows),
        )
    } else {
        B::float_mul_scalar(weight, 0.0.into())
    };
    [
        grad_current,
        weight_grad,
        lambda,
        feedback,
        parameter_gradient::<B>(decay_lanes, needs.decay, &decay),
        parameter_gradient::<B>(threshold_lanes, needs.threshold, &threshold),
    ]
}
