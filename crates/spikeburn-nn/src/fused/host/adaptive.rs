//! The adaptive LIF scan and its reverse-time backward as native loops: the LIF loops of the
//! parent module with one more state per lane, the adaptation `a`, which raises the threshold
//! to `threshold + strength * a` and decays by `decay` after adding each spike.

use std::borrow::Cow;

use rayon::prelude::*;

use super::{DensityUser, LifInputs, ResetRule, lane_ranges, per_neuron, simd, split_all};
use crate::fused::{AdaptiveOutput, LifScan, Needs};

/// The inputs of an adaptive LIF scan, as slices.
pub(crate) struct AdaptiveInputs<'a> {
    /// The current, initial membrane, decay and threshold (no noise, no recurrence).
    pub lif: LifInputs<'a>,
    /// `[batch, neurons]`.
    pub initial_adaptation: Cow<'a, [f32]>,
    /// Threshold increase per unit of adaptation.
    pub strength: f32,
    /// Decay of the adaptation per step.
    pub decay: f32,
}

/// Spikes, membranes before the reset, the final membrane and the adaptation after every step.
pub(crate) fn adaptive_scan(inputs: &AdaptiveInputs, scan: &LifScan) -> [Vec<f32>; 4] {
    let lif = &inputs.lif;
    let (lanes, neurons) = (lif.initial.len(), lif.neurons);
    let mut spikes = vec![0.0; lif.current.len()];
    let mut membrane = vec![0.0; lif.current.len()];
    let mut adaptations = vec![0.0; lif.current.len()];
    let mut last = lif.initial.to_vec();
    let mut adaptation = inputs.initial_adaptation.to_vec();
    let ranges = lane_ranges(lanes, neurons);
    let parts = split_all(
        [
            &mut spikes,
            &mut membrane,
            &mut adaptations,
            &mut last,
            &mut adaptation,
        ],
        lanes,
        &ranges,
    );
    let work = ranges
        .iter()
        .zip(parts)
        .map(|(range, [s, u, a, mut v, mut state])| {
            let rows = ForwardRows {
                spikes: s,
                membrane: u,
                adaptations: a,
            };
            (range.start, rows, v.remove(0), state.remove(0))
        })
        .collect::<Vec<_>>();
    work.into_par_iter().for_each(|(start, mut rows, v, a)| {
        simd(
            #[inline(always)]
            || forward_chunk(inputs, scan, start, &mut rows, v, a),
        )
    });
    [spikes, membrane, last, adaptations]
}

/// A thread's pieces of the rows of every step of the forward outputs.
struct ForwardRows<'a> {
    spikes: Vec<&'a mut [f32]>,
    membrane: Vec<&'a mut [f32]>,
    adaptations: Vec<&'a mut [f32]>,
}

/// The whole forward scan of the lanes `start..start + v.len()` (whole batch rows), whose
/// membranes are `v` and adaptations `a`.
#[inline(always)]
fn forward_chunk(
    inputs: &AdaptiveInputs,
    scan: &LifScan,
    start: usize,
    rows: &mut ForwardRows,
    v: &mut [f32],
    a: &mut [f32],
) {
    let lif = &inputs.lif;
    let (lanes, neurons, width) = (lif.initial.len(), lif.neurons, v.len());
    let rule = ResetRule::of(scan.reset);
    let (strength, decay_a) = (inputs.strength, inputs.decay);
    for t in 0..rows.spikes.len() {
        let current = &lif.current[t * lanes + start..t * lanes + start + width];
        let (spikes, membrane) = (&mut *rows.spikes[t], &mut *rows.membrane[t]);
        let adaptations = &mut *rows.adaptations[t];
        for b in 0..width / neurons {
            let row = b * neurons..(b + 1) * neurons;
            let (v, a) = (&mut v[row.clone()], &mut a[row.clone()]);
            let n = v.len();
            let (current, decay, threshold) =
                (&current[row.clone()], &lif.decay[..n], &lif.threshold[..n]);
            let (spikes, membrane) = (&mut spikes[row.clone()], &mut membrane[row.clone()]);
            let adaptations = &mut adaptations[row];
            for j in 0..n {
                let u = v[j] * decay[j] + current[j];
                let theta = a[j] * strength + threshold[j];
                let s = if u - theta >= 0.0 { 1.0 } else { 0.0 };
                v[j] = rule.apply(u, s, theta);
                a[j] = a[j] * decay_a + s;
                spikes[j] = s;
                membrane[j] = u;
                adaptations[j] = a[j];
            }
        }
    }
}

/// The saved forward of an adaptive LIF scan and the gradient arriving at one of its outputs.
pub(crate) struct AdaptiveSaved<'a> {
    /// `[time, batch, neurons]`.
    pub spikes: Cow<'a, [f32]>,
    /// `[time, batch, neurons]`, before the reset.
    pub membrane: Cow<'a, [f32]>,
    /// `[time, batch, neurons]`, after each step.
    pub adaptations: Cow<'a, [f32]>,
    /// The upstream gradient of `output`.
    pub grad: Cow<'a, [f32]>,
    /// Which output `grad` belongs to.
    pub output: AdaptiveOutput,
}

/// Gradients of the current, the initial membrane, the initial adaptation, and the decay's and
/// threshold's per-neuron sums (zeros unless `needs` asks for them).
///
/// With `lambda = dL/dv_t`, `kappa = dL/da_t` and the effective threshold `theta_t`, the rule
/// the primitive-op version writes with tensor ops: `gs = dL/ds_t + kappa (+ lambda * ds)`,
/// `gu = dL/du_t + lambda * du + gs * p`, `dtheta_t = lambda * dtheta - gs * p`, then
/// `kappa <- decay_a * kappa + strength * dtheta_t` and `lambda <- decay * gu`.
pub(crate) fn adaptive_scan_backward(
    inputs: &AdaptiveInputs,
    saved: &AdaptiveSaved,
    scan: &LifScan,
    needs: Needs,
) -> [Vec<f32>; 5] {
    struct Backward<'a, 'b> {
        inputs: &'a AdaptiveInputs<'b>,
        saved: &'a AdaptiveSaved<'b>,
        scan: &'a LifScan,
        needs: Needs,
    }

    impl DensityUser for Backward<'_, '_> {
        type Output = [Vec<f32>; 5];

        fn run<P: Fn(f32) -> f32 + Sync + Copy>(self, density: P) -> [Vec<f32>; 5] {
            let Backward {
                inputs,
                saved,
                scan,
                needs,
            } = self;
            let (lanes, neurons) = (inputs.lif.initial.len(), inputs.lif.neurons);
            let mut grad_current = vec![0.0; saved.spikes.len()];
            let mut lambda = vec![0.0; lanes];
            let mut kappa = vec![0.0; lanes];
            let mut decay_sum = vec![0.0; lanes];
            let mut threshold_sum = vec![0.0; lanes];
            let ranges = lane_ranges(lanes, neurons);
            let parts = split_all(
                [
                    &mut grad_current,
                    &mut lambda,
                    &mut kappa,
                    &mut decay_sum,
                    &mut threshold_sum,
                ],
                lanes,
                &ranges,
            );
            let work = ranges
                .iter()
                .zip(parts)
                .map(|(range, [current, l, k, d, th])| {
                    let [l, k, d, th] = [l, k, d, th].map(|mut part| part.remove(0));
                    let sums = LaneSums {
                        lambda: l,
                        kappa: k,
                        decay: d,
                        threshold: th,
                    };
                    (range.start, current, sums)
                })
                .collect::<Vec<_>>();
            work.into_par_iter()
                .for_each(|(start, mut current_rows, mut sums)| {
                    simd(
                        #[inline(always)]
                        || {
                            backward_chunk(
                                inputs,
                                saved,
                                scan,
                                needs,
                                density,
                                start,
                                &mut current_rows,
                                &mut sums,
                            )
                        },
                    )
                });
            [
                grad_current,
                lambda,
                kappa,
                per_neuron(&decay_sum, neurons),
                per_neuron(&threshold_sum, neurons),
            ]
        }
    }

    super::with_density(
        &scan.surrogate,
        Backward {
            inputs,
            saved,
            scan,
            needs,
        },
    )
}

/// A thread's lanes of the per-lane results of the backward: `dL/dv`, `dL/da` (after the scan,
/// the initial state's gradients) and the decay's and threshold's per-lane sums.
struct LaneSums<'a> {
    lambda: &'a mut [f32],
    kappa: &'a mut [f32],
    decay: &'a mut [f32],
    threshold: &'a mut [f32],
}

/// The reverse-time scan of the lanes `start..` (whole batch rows).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_chunk<P: Fn(f32) -> f32 + Copy>(
    inputs: &AdaptiveInputs,
    saved: &AdaptiveSaved,
    scan: &LifScan,
    needs: Needs,
    density: P,
    start: usize,
    current_rows: &mut [&mut [f32]],
    sums: &mut LaneSums,
) {
    let lif = &inputs.lif;
    let (lanes, width) = (lif.initial.len(), sums.lambda.len());
    let here = |t: usize| t * lanes + start..t * lanes + start + width;
    let initial = &lif.initial[start..start + width];
    let initial_adaptation = &inputs.initial_adaptation[start..start + width];
    // The adaptation before step t: the saved one after step t - 1, or the initial one.
    let before = |t: usize| match t {
        0 => initial_adaptation,
        _ => &saved.adaptations[here(t - 1)],
    };
    let zeros = vec![0.0; width];
    let grad_of = |output: AdaptiveOutput, t: usize| {
        if saved.output == output {
            &saved.grad[here(t)]
        } else {
            &zeros[..]
        }
    };
    if saved.output == AdaptiveOutput::Last {
        sums.lambda
            .copy_from_slice(&saved.grad[start..start + width]);
    }
    let rule = StepRule {
        reset: ResetRule::of(scan.reset),
        through_reset: if scan.reset_gradient { 1.0 } else { 0.0 },
        strength: inputs.strength,
        decay_a: inputs.decay,
    };
    for t in (0..current_rows.len()).rev() {
        let (spikes, membrane) = (&saved.spikes[here(t)], &saved.membrane[here(t)]);
        let a_before = before(t);
        let (grad_spikes, grad_membrane) = (
            grad_of(AdaptiveOutput::Spikes, t),
            grad_of(AdaptiveOutput::Membrane, t),
        );
        let grad_adaptation = grad_of(AdaptiveOutput::Adaptation, t);
        // The membrane this step decayed from is the previous step's after its reset; before
        // step 0 it is the initial one (no spike, so the reset leaves it as it is).
        let (previous_spikes, previous_membrane, previous_adaptation) = match t {
            0 => (&zeros[..], initial, initial_adaptation),
            _ => {
                let there = here(t - 1);
                (
                    &saved.spikes[there.clone()],
                    &saved.membrane[there],
                    before(t - 1),
                )
            }
        };
        let out = &mut *current_rows[t];
        let neurons = lif.neurons;
        for b in 0..width / neurons {
            let row = b * neurons..(b + 1) * neurons;
            let step = StepRow {
                spikes: &spikes[row.clone()],
                membrane: &membrane[row.clone()],
                adaptation: &a_before[row.clone()],
                grad_spikes: &grad_spikes[row.clone()],
                grad_membrane: &grad_membrane[row.clone()],
                grad_adaptation: &grad_adaptation[row.clone()],
                previous_spikes: &previous_spikes[row.clone()],
                previous_membrane: &previous_membrane[row.clone()],
                previous_adaptation: &previous_adaptation[row.clone()],
            };
            let lanes = LaneSums {
                lambda: &mut sums.lambda[row.clone()],
                kappa: &mut sums.kappa[row.clone()],
                decay: &mut sums.decay[row.clone()],
                threshold: &mut sums.threshold[row.clone()],
            };
            let out = &mut out[row];
            match (needs.decay, needs.threshold) {
                (false, false) => {
                    row_backward::<P, false, false>(inputs, rule, density, step, lanes, out)
                }
                (false, true) => {
                    row_backward::<P, false, true>(inputs, rule, density, step, lanes, out)
                }
                (true, false) => {
                    row_backward::<P, true, false>(inputs, rule, density, step, lanes, out)
                }
                (true, true) => {
                    row_backward::<P, true, true>(inputs, rule, density, step, lanes, out)
                }
            }
        }
    }
}

/// What one batch row of one step of the backward reads: `adaptation` is the one before the
/// step, `previous_*` the previous step's (before step 0: no spikes, the initial state).
struct StepRow<'a> {
    spikes: &'a [f32],
    membrane: &'a [f32],
    adaptation: &'a [f32],
    grad_spikes: &'a [f32],
    grad_membrane: &'a [f32],
    grad_adaptation: &'a [f32],
    previous_spikes: &'a [f32],
    previous_membrane: &'a [f32],
    previous_adaptation: &'a [f32],
}

/// The constants of the backward's rule.
#[derive(Clone, Copy)]
struct StepRule {
    reset: ResetRule,
    /// 1 with `reset_gradient`, else 0.
    through_reset: f32,
    strength: f32,
    decay_a: f32,
}

/// One step of one batch row of the backward, with the parameter sums it adds to fixed
/// (`DECAY`, `THRESHOLD`) so that the loop has no branch.
#[inline(always)]
fn row_backward<P: Fn(f32) -> f32, const DECAY: bool, const THRESHOLD: bool>(
    inputs: &AdaptiveInputs,
    rule: StepRule,
    density: P,
    step: StepRow,
    sums: LaneSums,
    out: &mut [f32],
) {
    let n = out.len();
    let (decay, threshold) = (&inputs.lif.decay[..n], &inputs.lif.threshold[..n]);
    let (spikes, membrane, adaptation) = (
        &step.spikes[..n],
        &step.membrane[..n],
        &step.adaptation[..n],
    );
    let (grad_spikes, grad_membrane) = (&step.grad_spikes[..n], &step.grad_membrane[..n]);
    let grad_adaptation = &step.grad_adaptation[..n];
    let (previous_spikes, previous_membrane, previous_adaptation) = (
        &step.previous_spikes[..n],
        &step.previous_membrane[..n],
        &step.previous_adaptation[..n],
    );
    let (lambda, kappa_sum) = (&mut sums.lambda[..n], &mut sums.kappa[..n]);
    let (decay_sum, threshold_sum) = (&mut sums.decay[..n], &mut sums.threshold[..n]);
    let reset = rule.reset;
    for j in 0..n {
        let (u, s, l) = (membrane[j], spikes[j], lambda[j]);
        let theta = adaptation[j] * rule.strength + threshold[j];
        let p = density(u - theta);
        let kappa = kappa_sum[j] + grad_adaptation[j];
        let gs = grad_spikes[j] + kappa - l * reset.drop(u, theta) * rule.through_reset;
        let gu = grad_membrane[j] + l * (1.0 - reset.by_membrane * s) + gs * p;
        let grad_theta = -l * reset.by_threshold * s - gs * p;
        if THRESHOLD {
            threshold_sum[j] += grad_theta;
        }
        if DECAY {
            let theta = previous_adaptation[j] * rule.strength + threshold[j];
            let v_previous = reset.apply(previous_membrane[j], previous_spikes[j], theta);
            decay_sum[j] += gu * v_previous;
        }
        kappa_sum[j] = kappa * rule.decay_a + grad_theta * rule.strength;
        lambda[j] = decay[j] * gu;
        out[j] = gu;
    }
}
