//! `cargo bench`: the reference workloads' forward pass and training iteration, timed by divan.
//!
//! The same networks as `examples/bench` (which prints the comparison table with peak memory);
//! here divan reports the median and spread of each. The large workloads (W3, the Open
//! Neuromorphic ones) are left to the example, whose iteration counts suit them.
//!
//! ```text
//! cargo bench --bench layers
//! ```

#![allow(deprecated)] // Device::ndarray(), Burn's CPU device by name

#[path = "../examples/common/workload.rs"]
#[allow(dead_code)] // the example reads fields the bench does not
mod workload;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use spikeburn::nn::loss::cross_entropy;

use workload::{Net, Workload};

/// The allocator of the examples (see `examples/common/mod.rs`): glibc's malloc returns each
/// fused op's multi-megabyte outputs to the system and faults them back in on the next call.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

fn workload(name: &str) -> Workload {
    Workload::named(name).expect("a workload of the reference")
}

/// One forward pass, without autodiff.
#[divan::bench(args = ["W1", "W2", "W1inf"], sample_count = 10)]
fn forward(bencher: divan::Bencher, name: &str) {
    let workload = workload(name);
    let device = Device::ndarray();
    let (input, _) = workload.data(&device);
    let network = Net::new(&workload, &device);
    bencher.bench_local(|| network.forward(input.clone()).into_data());
}

/// One training iteration: forward, backward and an Adam step.
#[divan::bench(args = ["W1", "W2"], sample_count = 10)]
fn train(bencher: divan::Bencher, name: &str) {
    let workload = workload(name);
    let device = Device::ndarray().autodiff();
    let (input, labels) = workload.data(&device);
    let mut network = Net::new(&workload, &device);
    let mut optimizer = AdamConfig::new().init();
    bencher.bench_local(|| {
        let loss = cross_entropy(network.forward(input.clone()), labels.clone());
        let gradients = GradientsParams::from_grads(loss.backward(), &network);
        network = optimizer.step(1e-3, network.clone(), gradients);
    });
}
