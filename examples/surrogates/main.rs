//! Prints, for every noise family, its scale and peak and the spike op's autodiff gradient next
//! to the analytic density at a few drives.
//!
//! Run: `cargo run --release --example surrogates [-- --device ndarray|flex|wgpu] [--peak 1.0]`
//!
//! Every family is set to the same peak height `p(0)`, the fair way to compare surrogates.

use std::process::ExitCode;

use burn::tensor::Tensor;
use spikeburn::{Family, Firing, Noise, SpikeMode};

/// Drives at which the gradient is shown.
const DRIVES: [f32; 7] = [-1.5, -0.5, -0.1, 0.0, 0.1, 0.5, 1.5];

struct Options {
    device: String,
    peak: f64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        device: "ndarray".to_string(),
        peak: 1.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("`{flag}` needs a value"));
        match flag.as_str() {
            "--device" => options.device = value()?,
            "--peak" => {
                let text = value()?;
                options.peak = text
                    .parse()
                    .map_err(|_| format!("`--peak` needs a number, got `{text}`"))?;
            }
            "--help" | "-h" => {
                return Err("usage: surrogates [--device ndarray|flex|wgpu] [--peak P]".into());
            }
            other => return Err(format!("unknown argument `{other}`; try --help")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = parse_options()?;
    let device = spikeburn::device(&options.device)
        .map_err(|e| e.to_string())?
        .autodiff();

    println!(
        "Spike op gradient (autodiff on `{}`) against the noise density p(x), every family at \
         peak p(0) = {}\n",
        options.device, options.peak
    );
    println!(
        "| family | scale | peak | x | autodiff gradient | p(x) | relative error |\n\
         | --- | --- | --- | --- | --- | --- | --- |"
    );

    let mut worst: f64 = 0.0;
    for family in Family::ALL {
        let noise = Noise::with_peak(family, options.peak).map_err(|e| e.to_string())?;
        let firing = Firing::new(noise, SpikeMode::Deterministic);

        let drive = Tensor::<1>::from_floats(DRIVES, &device).require_grad();
        let spikes = firing.fire(drive.clone());
        let gradient = drive
            .grad(&spikes.sum().backward())
            .expect("the drive is tracked");
        let gradient = gradient
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 gradient");

        for (&x, &g) in DRIVES.iter().zip(&gradient) {
            let density = noise.pdf(x as f64);
            let error = if density > 0.0 {
                (g as f64 - density).abs() / density
            } else {
                g.abs() as f64
            };
            worst = worst.max(error);
            println!(
                "| {family} | {:.4} | {:.4} | {x:+.2} | {g:.6} | {density:.6} | {error:.1e} |",
                noise.scale(),
                noise.peak()
            );
        }
    }
    println!("\nlargest relative error: {worst:.1e}");

    Ok(())
}
