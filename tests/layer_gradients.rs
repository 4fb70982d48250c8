//! Gradients through spiking layers: autodiff against central finite differences (expected
//! mode, where the forward is smooth) and against a hand-written f64 BPTT with the noise density
//! as the spike derivative (deterministic mode).

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor};
use spikeburn::nn::{SpikingMlp, SpikingMlpConfig};
use spikeburn::{Firing, Noise, SpikeMode};

const TIME: usize = 5;
const BATCH: usize = 2;
const SIZES: [usize; 3] = [3, 4, 2];

fn device() -> Device {
    spikeburn::device(spikeburn::backend::COMPILED[0]).unwrap()
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    let data = tensor.into_data().try_into_vec::<f32>().unwrap();
    data.into_iter().map(f64::from).collect()
}

/// A 3 -> 4 LIF -> 2 readout network with logistic noise of scale 0.5, its input spikes and the
/// weights `c` of the loss `L = sum_{t, b, k} c[t, b, k] m_t[b, k]` on the readout membrane.
fn network(mode: SpikeMode, device: &Device) -> (SpikingMlp, Tensor<3>, Tensor<3>) {
    device.seed(21);
    let firing = Firing::new(Noise::logistic(0.5).unwrap(), mode);
    let model = SpikingMlpConfig::new(SIZES.to_vec())
        .with_decay(0.8)
        .with_readout_decay(0.7)
        .with_threshold(0.5)
        .with_firing(firing)
        .init(device);
    let input = Tensor::<3>::random(
        [TIME, BATCH, SIZES[0]],
        Distribution::Bernoulli(0.6),
        device,
    );
    let loss_weights = Tensor::<3>::random(
        [TIME, BATCH, SIZES[2]],
        Distribution::Uniform(-1.0, 1.0),
        device,
    );

    (model, input, loss_weights)
}

fn loss(model: &SpikingMlp, input: &Tensor<3>, loss_weights: &Tensor<3>) -> Tensor<1> {
    (model.forward(input.clone()).membrane * loss_weights.clone()).sum()
}

/// Every parameter tensor of the network, in a fixed order: W1, b1, W2, b2.
fn parameters(model: &SpikingMlp) -> [&Param<Tensor<2>>; 2] {
    [&model.linears[0].weight, &model.linears[1].weight]
}

fn biases(model: &SpikingMlp) -> [&Param<Tensor<1>>; 2] {
    [
        model.linears[0].bias.as_ref().unwrap(),
        model.linears[1].bias.as_ref().unwrap(),
    ]
}

/// Asserts `got` equals `want` componentwise to `tolerance` times the largest `|want|`: small
/// components are compared at the precision the large ones set, since a central difference in
/// f32 has an absolute, not a relative, rounding error.
fn assert_gradient(got: &[f64], want: &[f64], tolerance: f64, context: &str) {
    let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs()));
    assert!(scale > 1e-3, "{context}: gradient vanishes ({scale})");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * scale,
            "{context}[{i}]: autodiff {g}, reference {w} (scale {scale})"
        );
    }
}

#[test]
fn expected_mode_gradients_equal_central_differences() {
    let device = device().autodiff();
    let (mut model, input, loss_weights) = network(SpikeMode::Expected, &device);
    model.lifs[0].reset_gradient = true; // so the autodiff path matches what the loss sees
    let gradients = loss(&model, &input, &loss_weights).backward();

    let step = 5e-3;
    for layer in 0..2 {
        let weight = parameters(&model)[layer].val();
        let bias = biases(&model)[layer].val();
        let autodiff_weight = values(parameters(&model)[layer].grad(&gradients).unwrap());
        let autodiff_bias = values(biases(&model)[layer].grad(&gradients).unwrap());

        let central = |set: &dyn Fn(&mut SpikingMlp, f64)| {
            let mut shifted = model.clone();
            set(&mut shifted, step);
            let up = values(loss(&shifted, &input, &loss_weights))[0];
            let mut shifted = model.clone();
            set(&mut shifted, -step);
            let down = values(loss(&shifted, &input, &loss_weights))[0];
            (up - down) / (2.0 * step)
        };

        let [rows, columns] = weight.dims();
        let mut differences = vec![];
        for index in 0..rows * columns {
            differences.push(central(&|shifted: &mut SpikingMlp, delta: f64| {
                let bump = one_hot(index, rows * columns, delta, &device).reshape([rows, columns]);
                shifted.linears[layer].weight =
                    Param::from_tensor((weight.clone() + bump).detach());
            }));
        }
        assert_gradient(
            &autodiff_weight,
            &differences,
            1e-3,
            &format!("W{}", layer + 1),
        );

        let mut differences = vec![];
        for index in 0..columns {
            differences.push(central(&|shifted: &mut SpikingMlp, delta: f64| {
                let bump = one_hot(index, columns, delta, &device);
                shifted.linears[layer].bias =
                    Some(Param::from_tensor((bias.clone() + bump).detach()));
            }));
        }
        assert_gradient(
            &autodiff_bias,
            &differences,
            1e-3,
            &format!("b{}", layer + 1),
        );
    }
}

fn one_hot(index: usize, length: usize, value: f64, device: &Device) -> Tensor<1> {
    let mut data = vec![0.0f32; length];
    data[index] = value as f32;
    Tensor::from_floats(data.as_slice(), device)
}

/// The same network in f64 with its backward written out (the readout bias only shifts the
/// membrane, so it does not enter the backward): BPTT where `dH(x)/dx` is replaced by
/// the noise density `p(x)` and the subtractive reset is treated as a constant.
struct HandBptt {
    w1: Vec<f64>, // [inputs, hidden]
    b1: Vec<f64>,
    w2: Vec<f64>, // [hidden, outputs]
    decay: f64,
    readout_decay: f64,
    threshold: f64,
    noise: Noise,
}

/// Gradients of the loss with respect to W1, b1, W2, b2.
type Grads = [Vec<f64>; 4];

impl HandBptt {
    fn gradients(&self, input: &[f64], loss_weights: &[f64]) -> Grads {
        let [n_in, n_hidden, n_out] = SIZES;
        let at = |t: usize, b: usize, width: usize, k: usize| (t * BATCH + b) * width + k;

        // Forward: keep the pre-reset membrane and the spikes of every step.
        let mut membrane = vec![0.0; BATCH * n_hidden];
        let (mut drives, mut spikes) = (vec![0.0; TIME * BATCH * n_hidden], vec![]);
        for t in 0..TIME {
            for b in 0..BATCH {
                for h in 0..n_hidden {
                    let current: f64 = self.b1[h]
                        + (0..n_in)
                            .map(|i| input[at(t, b, n_in, i)] * self.w1[i * n_hidden + h])
                            .sum::<f64>();
                    let v = self.decay * membrane[b * n_hidden + h] + current;
                    let spike = if v - self.threshold >= 0.0 { 1.0 } else { 0.0 };
                    drives[at(t, b, n_hidden, h)] = v - self.threshold;
                    spikes.push(spike);
                    membrane[b * n_hidden + h] = v - spike * self.threshold;
                }
            }
        }

        // Backward through the readout: g_m[t] = c[t] + readout_decay * g_m[t + 1].
        let mut grads: Grads = [
            vec![0.0; n_in * n_hidden],
            vec![0.0; n_hidden],
            vec![0.0; n_hidden * n_out],
            vec![0.0; n_out],
        ];
        let mut g_readout = vec![0.0; BATCH * n_out];
        let mut g_membrane = vec![0.0; BATCH * n_hidden];
        for t in (0..TIME).rev() {
            for b in 0..BATCH {
                for k in 0..n_out {
                    let g = loss_weights[at(t, b, n_out, k)]
                        + self.readout_decay * g_readout[b * n_out + k];
                    g_readout[b * n_out + k] = g;
                    grads[3][k] += g;
                    for h in 0..n_hidden {
                        grads[2][h * n_out + k] += spikes[at(t, b, n_hidden, h)] * g;
                    }
                }
                for h in 0..n_hidden {
                    let g_spike: f64 = (0..n_out)
                        .map(|k| self.w2[h * n_out + k] * g_readout[b * n_out + k])
                        .sum();
                    // g_v[t] = g_s[t] p(v_t - theta) + decay * g_v[t + 1]
                    let density = self.noise.pdf(drives[at(t, b, n_hidden, h)]);
                    let g = g_spike * density + self.decay * g_membrane[b * n_hidden + h];
                    g_membrane[b * n_hidden + h] = g;
                    grads[1][h] += g;
                    for i in 0..n_in {
                        grads[0][i * n_hidden + h] += input[at(t, b, n_in, i)] * g;
                    }
                }
            }
        }
        grads
    }
}

#[test]
fn deterministic_mode_gradients_equal_hand_written_bptt() {
    let device = device().autodiff();
    let (model, input, loss_weights) = network(SpikeMode::Deterministic, &device);
    let gradients = loss(&model, &input, &loss_weights).backward();

    let hand = HandBptt {
        w1: values(model.linears[0].weight.val()),
        b1: values(biases(&model)[0].val()),
        w2: values(model.linears[1].weight.val()),
        decay: 0.8,
        readout_decay: 0.7,
        threshold: 0.5,
        noise: Noise::logistic(0.5).unwrap(),
    };
    let expected = hand.gradients(&values(input), &values(loss_weights));

    let autodiff = [
        values(parameters(&model)[0].grad(&gradients).unwrap()),
        values(biases(&model)[0].grad(&gradients).unwrap()),
        values(parameters(&model)[1].grad(&gradients).unwrap()),
        values(biases(&model)[1].grad(&gradients).unwrap()),
    ];
    // f32 autodiff against f64: a few ulps of the largest component.
    for ((got, want), name) in autodiff.iter().zip(&expected).zip(["W1", "b1", "W2", "b2"]) {
        assert_gradient(got, want, 1e-5, name);
    }
}
