//! The batched Burn-tensor simulation of `spikeburn-causal` against its `f64` path, on every
//! compiled-in backend: same noise streams, same spikes, drives and losses (up to `f32`
//! rounding), with and without interventions, and the same spike-intervention estimate.

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use spikeburn::Noise;
use spikeburn::causal::benchmarks::DIAMOND_JSON;
use spikeburn::causal::{
    BatchedIntervention, BatchedNetwork, Intervention, Network, NetworkSpec, NoiseStreams,
    SpikeIntervention,
};

/// Samples per batch.
const SAMPLES: usize = 300;

/// A drive plus noise this close to zero may fire differently in `f32` and `f64`.
const TIE: f64 = 1e-4;

/// Two LIF layers over five steps, the first recurrent, with an MSE loss on a readout.
const LIF_JSON: &str = r#"{
    "input": [[1.0, 0.0], [0.5, 1.0], [0.0, 1.0], [1.0, 1.0], [0.2, 0.0]],
    "layers": [
        {"weights": [[0.8, -0.3], [0.4, 0.9], [-0.5, 0.7]],
         "recurrent": [[0.0, 0.3, -0.2], [0.5, 0.0, 0.1], [-0.4, 0.2, 0.0]],
         "threshold": [0.5, 0.6, 0.4], "decay": 0.8},
        {"weights": [[1.0, -0.6, 0.5], [0.3, 0.7, -0.8]], "threshold": 0.3, "decay": [0.9, 0.5]}
    ],
    "loss": {"kind": "mse", "target": [1.5], "readout": [[1.0, -0.5]]}
}"#;

/// One step, three classes, a cross-entropy loss on the counts.
const CROSS_ENTROPY_JSON: &str = r#"{
    "input": [0.7, -0.2],
    "layers": [
        {"weights": [[1.0, 0.5], [-0.4, 0.8]], "threshold": 0.1},
        {"weights": [[0.9, -0.2], [0.1, 0.6], [-0.7, 0.4]], "threshold": 0.2}
    ],
    "loss": {"kind": "cross_entropy", "target": 2}
}"#;

/// One LIF layer with biases, read out by a leaky integrator's maximum over time: the form a
/// bridged `SpikingMlp` takes.
const MAX_READOUT_JSON: &str = r#"{
    "input": [[1.0, 0.0], [0.5, 1.0], [0.0, 1.0], [1.0, 1.0]],
    "layers": [
        {"weights": [[0.8, -0.3], [0.4, 0.9], [-0.5, 0.7]], "threshold": 0.5, "decay": 0.8,
         "bias": [0.1, -0.2, 0.05]}
    ],
    "loss": {"kind": "max_readout", "weights": [[1.0, -0.5, 0.3], [0.2, 0.6, -0.4]],
             "bias": [0.05, -0.1], "decay": 0.9, "target": 1}
}"#;

fn networks() -> Vec<(&'static str, Network)> {
    let read = |text: &str, noise: Noise| NetworkSpec::from_json(text)?.check(Some(noise));
    vec![
        (
            "diamond",
            read(DIAMOND_JSON, Noise::logistic(0.3).unwrap()).unwrap(),
        ),
        (
            "lif",
            read(LIF_JSON, Noise::gaussian(0.4).unwrap()).unwrap(),
        ),
        (
            "cross_entropy",
            read(CROSS_ENTROPY_JSON, Noise::laplace(0.3).unwrap()).unwrap(),
        ),
        (
            "max_readout",
            read(MAX_READOUT_JSON, Noise::cauchy(0.2).unwrap()).unwrap(),
        ),
    ]
}

fn host<const D: usize>(tensor: Tensor<D>) -> Vec<f64> {
    let values = tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    values.into_iter().map(f64::from).collect()
}

/// Whether any node of a sample sits within rounding of its threshold.
fn has_tie(network: &Network, streams: &NoiseStreams) -> bool {
    let trajectory = network.simulate(streams);
    let noise = streams.values();
    trajectory
        .drives()
        .iter()
        .zip(noise)
        .any(|(drive, xi)| (drive + xi).abs() < TIE)
}

/// Compares a batch with the `f64` simulations of the same streams, sample by sample.
fn assert_same_runs(
    name: &str,
    network: &Network,
    streams: &[NoiseStreams],
    batched: &spikeburn::causal::BatchedTrajectory,
    intervention: Option<Intervention>,
) -> usize {
    let nodes = network.nodes();
    let spikes = host(batched.spikes.clone());
    let drives = host(batched.drives.clone());
    let losses = host(batched.losses.clone());
    let mut compared = 0;
    for (sample, stream) in streams.iter().enumerate() {
        if has_tie(network, stream) {
            continue;
        }
        let reference = match intervention {
            None => network.simulate(stream),
            Some(intervention) => network.simulate_with(stream, &[intervention]).unwrap(),
        };
        let row = sample * nodes;
        for node in 0..nodes {
            let spike = spikes[row + node] > 0.5;
            assert_eq!(
                spike,
                reference.spikes()[node],
                "{name} sample {sample} node {node}"
            );
            let (got, want) = (drives[row + node], reference.drives()[node]);
            assert!(
                (got - want).abs() < 1e-5,
                "{name} drive {sample}/{node}: {got} vs {want}"
            );
        }
        let (got, want) = (losses[sample], reference.loss());
        assert!(
            (got - want).abs() < 1e-5 * want.abs().max(1.0),
            "{name} loss {got} vs {want}"
        );
        compared += 1;
    }
    compared
}

fn batched_runs_match_the_f64_path(device: &Device) {
    let mut rng = StdRng::seed_from_u64(41);
    for (name, network) in networks() {
        let batched = BatchedNetwork::new(&network, device);
        let streams = batched.sample_noise(SAMPLES, &mut rng);
        let noise = batched.noise(&streams);

        let runs = batched.simulate(&noise, None);
        let compared = assert_same_runs(name, &network, &streams, &runs, None);
        assert!(
            compared > SAMPLES * 9 / 10,
            "{name}: only {compared} samples without ties"
        );

        // do(s_n = 1) and do(s_n = 0) on a node in the middle of the network.
        let node = network.nodes() / 2;
        for value in [0.0f32, 1.0] {
            let intervention = BatchedIntervention {
                node,
                spikes: Tensor::full([SAMPLES], value, device),
            };
            let runs = batched.simulate(&noise, Some(&intervention));
            let reference = Intervention::Spike {
                node: network.node(node),
                spike: value == 1.0,
            };
            assert_same_runs(name, &network, &streams, &runs, Some(reference));
        }
    }
}

fn batched_spike_intervention_equals_the_f64_estimate(device: &Device) {
    let estimator = SpikeIntervention::params()
        .samples(SAMPLES)
        .check()
        .unwrap();
    for (name, network) in networks() {
        let batched = BatchedNetwork::new(&network, device);
        // The same seed gives the same noise streams to both paths.
        let reference = estimator
            .estimate(&network, &mut StdRng::seed_from_u64(42))
            .unwrap();
        let estimate = estimator
            .estimate_batched(&batched, &mut StdRng::seed_from_u64(42))
            .unwrap();
        assert_eq!(
            estimate.forward_passes(),
            reference.forward_passes(),
            "{name}"
        );

        let scale = reference
            .estimate()
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let pairs = estimate.estimate().iter().zip(reference.estimate());
        for (k, (got, want)) in pairs.enumerate() {
            assert!(
                (got - want).abs() <= 1e-4 * scale,
                "{name} weight {k}: batched {got}, f64 {want}"
            );
        }
    }
}

macro_rules! backend_suite {
    ($backend:ident, $feature:literal) => {
        #[cfg(feature = $feature)]
        mod $backend {
            fn device() -> burn::tensor::Device {
                spikeburn::device(stringify!($backend)).unwrap()
            }

            #[test]
            fn batched_runs_match_the_f64_path() {
                super::batched_runs_match_the_f64_path(&device());
            }

            #[test]
            fn batched_spike_intervention_equals_the_f64_estimate() {
                super::batched_spike_intervention_equals_the_f64_estimate(&device());
            }
        }
    };
}

backend_suite!(ndarray, "ndarray");
backend_suite!(flex, "flex");
backend_suite!(wgpu, "wgpu");
