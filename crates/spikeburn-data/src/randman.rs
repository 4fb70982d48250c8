//! Random manifold spike trains after Zenke and Vogels (2021),
//! <https://doi.org/10.1162/neco_a_01367>.
//!
//! Each class is a smooth random map from a low-dimensional cube of coordinates to the firing
//! times of a population of units. A sample picks a point of the cube; every unit fires exactly
//! once, at the time its class's map gives. The classes overlap in rate and spike count and
//! differ only in spike timing, and the difficulty grows with the manifold dimension and
//! roughness, which makes the task a controllable benchmark for learning from spike times.

use std::f64::consts::TAU;

use burn::data::dataset::{Dataset, DatasetError};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::seed::stream_rng;
use crate::{DataError, SpikeSample};

/// Points per coordinate of the grid on which each map's range is measured.
const RANGE_GRID: usize = 1024;

/// The settings of a randman dataset; every field has a default, so JSON may give only some.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandmanConfig {
    /// Number of classes, each its own manifold (default 10).
    pub classes: usize,
    /// Number of input units, each firing once per sample (default 100).
    pub units: usize,
    /// Time steps of a sample (default 100).
    pub steps: usize,
    /// Dimension of the manifold coordinates `u` (default 2).
    pub dimension: usize,
    /// Decay exponent of the Fourier amplitudes: larger is smoother (default 2.0, must be > 0).
    pub alpha: f64,
    /// Number of Fourier frequencies `K` per coordinate (default 5).
    pub frequencies: usize,
    /// Samples drawn from each class (default 1000).
    pub samples_per_class: usize,
    /// Fraction of each class's samples that goes to the training split (default 0.8).
    pub train_fraction: f64,
    /// Seed of the manifolds, the sample coordinates and the split shuffles (default 0).
    pub seed: u64,
}

impl Default for RandmanConfig {
    fn default() -> Self {
        Self {
            classes: 10,
            units: 100,
            steps: 100,
            dimension: 2,
            alpha: 2.0,
            frequencies: 5,
            samples_per_class: 1000,
            train_fraction: 0.8,
            seed: 0,
        }
    }
}

impl RandmanConfig {
    /// Checks every setting, naming the first one out of range.
    pub fn validate(&self) -> Result<(), DataError> {
        let counts = [
            ("classes", self.classes),
            ("units", self.units),
            ("steps", self.steps),
            ("dimension", self.dimension),
            ("frequencies", self.frequencies),
            ("samples_per_class", self.samples_per_class),
        ];
        for (field, value) in counts {
            if value == 0 {
                return Err(DataError::invalid("randman", field, value, "at least 1"));
            }
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            let expected = "a positive finite number";
            return Err(DataError::invalid("randman", "alpha", self.alpha, expected));
        }
        if !(0.0..=1.0).contains(&self.train_fraction) {
            let expected = "between 0 and 1";
            let value = self.train_fraction;
            return Err(DataError::invalid(
                "randman",
                "train_fraction",
                value,
                expected,
            ));
        }

        Ok(())
    }
}

/// The random map of one unit of one class, `f(u) = Σ_j g_j(u_j)`, rescaled into `[0, 1]`.
///
/// `g_j(v) = Σ_{k=1..K} a_jk / k^α · sin(2π (k v + φ_jk))` with `a_jk, φ_jk ~ U(0, 1)`.
#[derive(Debug, Clone, PartialEq)]
struct UnitMap {
    /// `a_jk / k^α`, `[dimension, frequencies]` flattened.
    amplitudes: Vec<f64>,
    /// `φ_jk`, `[dimension, frequencies]` flattened.
    phases: Vec<f64>,
    /// `K`.
    frequencies: usize,
    /// The minimum of the unscaled `f` over the cube.
    low: f64,
    /// The maximum of the unscaled `f` over the cube.
    high: f64,
}

impl UnitMap {
    /// Draws the coefficients and measures the range.
    ///
    /// `f` is a sum of one-coordinate terms, so its minimum over the cube is the sum of the
    /// terms' minima (likewise the maximum). Each term's extremes are taken on a grid of
    /// [`RANGE_GRID`] points of one period; the grid misses the true extremes by about
    /// `h² |g''| / 8`, below 1e-4 of the range for the default settings, and
    /// [`UnitMap::value`] clamps what it misses.
    fn draw(rng: &mut StdRng, dimension: usize, frequencies: usize, alpha: f64) -> Self {
        let mut amplitudes = Vec::with_capacity(dimension * frequencies);
        let mut phases = Vec::with_capacity(dimension * frequencies);
        for _ in 0..dimension {
            for k in 1..=frequencies {
                amplitudes.push(rng.random::<f64>() / (k as f64).powf(alpha));
                phases.push(rng.random::<f64>());
            }
        }
        let mut map = Self {
            amplitudes,
            phases,
            frequencies,
            low: 0.0,
            high: 0.0,
        };

        for coordinate in 0..dimension {
            let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
            for point in 0..RANGE_GRID {
                let term = map.term(coordinate, point as f64 / RANGE_GRID as f64);
                low = low.min(term);
                high = high.max(term);
            }
            map.low += low;
            map.high += high;
        }

        map
    }

    /// `g_j(v)` for coordinate `j`.
    fn term(&self, coordinate: usize, v: f64) -> f64 {
        let terms = self.frequencies * coordinate..self.frequencies * (coordinate + 1);
        let amplitudes = &self.amplitudes[terms.clone()];
        let phases = &self.phases[terms];

        (1..=self.frequencies)
            .zip(amplitudes.iter().zip(phases))
            .map(|(k, (amplitude, phase))| amplitude * (TAU * (k as f64 * v + phase)).sin())
            .sum()
    }

    /// `(f(u) - low) / (high - low)`, clamped into `[0, 1]`.
    fn value(&self, coordinates: &[f64]) -> f64 {
        let raw: f64 = coordinates
            .iter()
            .enumerate()
            .map(|(j, &v)| self.term(j, v))
            .sum();
        let range = self.high - self.low;
        if range <= f64::MIN_POSITIVE {
            return 0.0;
        }

        ((raw - self.low) / range).clamp(0.0, 1.0)
    }
}

/// One randman sample: its manifold coordinates, the step at which each unit fires, its class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandmanSample {
    /// The manifold coordinates `u`, each in `[0, 1)`.
    pub coordinates: Vec<f64>,
    /// The firing step of each unit, each below `steps`.
    pub firing_steps: Vec<usize>,
    /// The class.
    pub label: usize,
}

impl RandmanSample {
    /// The sample as a spike train: unit `i` spikes at step `firing_steps[i]` and nowhere else.
    ///
    /// # Shapes
    /// - returns: a sample of shape `[steps, units]`
    ///
    /// # Panics
    /// If a firing step is not below `steps`.
    pub fn to_spike_sample(&self, steps: usize) -> SpikeSample {
        let inputs = self.firing_steps.len();
        let mut input = vec![0.0; steps * inputs];
        for (unit, &step) in self.firing_steps.iter().enumerate() {
            assert!(
                step < steps,
                "unit {unit} fires at step {step}, past {steps} steps"
            );
            input[step * inputs + unit] = 1.0;
        }

        SpikeSample {
            input,
            time: steps,
            inputs,
            label: self.label,
        }
    }
}

/// A generated randman dataset: the manifolds of every class and the samples drawn from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Randman {
    config: RandmanConfig,
    /// `[classes, units]` flattened.
    maps: Vec<UnitMap>,
    /// Class by class, in the order drawn.
    samples: Vec<RandmanSample>,
}

impl Randman {
    /// Draws the manifolds and the samples of `config`.
    ///
    /// Unit `i` of a class-`c` sample at coordinates `u` fires at step
    /// `floor(f_ci(u) (steps - 1))`, where `f_ci` is the class's map for the unit, rescaled into
    /// `[0, 1]` by its minimum and maximum over the cube (measured on a fine grid). The
    /// manifolds, the coordinates and the split shuffles come from separate streams of
    /// `config.seed`, so changing `samples_per_class` keeps the manifolds.
    pub fn generate(config: &RandmanConfig) -> Result<Self, DataError> {
        config.validate()?;

        let mut manifold_rng = stream_rng(config.seed, 0);
        let maps = (0..config.classes * config.units)
            .map(|_| {
                UnitMap::draw(
                    &mut manifold_rng,
                    config.dimension,
                    config.frequencies,
                    config.alpha,
                )
            })
            .collect();
        let mut randman = Self {
            config: config.clone(),
            maps,
            samples: Vec::new(),
        };

        let mut coordinate_rng = stream_rng(config.seed, 1);
        let mut samples = Vec::with_capacity(config.classes * config.samples_per_class);
        for label in 0..config.classes {
            for _ in 0..config.samples_per_class {
                let coordinates: Vec<f64> = (0..config.dimension)
                    .map(|_| coordinate_rng.random::<f64>())
                    .collect();
                let firing_steps = (0..config.units)
                    .map(|unit| randman.firing_step(label, unit, &coordinates))
                    .collect();
                samples.push(RandmanSample {
                    coordinates,
                    firing_steps,
                    label,
                });
            }
        }
        randman.samples = samples;

        Ok(randman)
    }

    /// The settings the dataset was drawn with.
    pub fn config(&self) -> &RandmanConfig {
        &self.config
    }

    /// All samples, class by class.
    pub fn samples(&self) -> &[RandmanSample] {
        &self.samples
    }

    /// The number of samples, `classes * samples_per_class`.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether there are no samples (never, for a valid config).
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The rescaled map `f_ci(u)` of unit `unit` of class `class`, in `[0, 1]`.
    ///
    /// # Panics
    /// If `class` or `unit` is out of range, or `coordinates` does not have `dimension` values.
    pub fn value(&self, class: usize, unit: usize, coordinates: &[f64]) -> f64 {
        let RandmanConfig {
            classes,
            units,
            dimension,
            ..
        } = self.config;
        assert!(
            class < classes,
            "class {class} is out of range for {classes} classes"
        );
        assert!(
            unit < units,
            "unit {unit} is out of range for {units} units"
        );
        assert_eq!(
            coordinates.len(),
            dimension,
            "coordinates must have {dimension} values"
        );

        self.maps[class * units + unit].value(coordinates)
    }

    /// The step at which unit `unit` of a class-`class` sample at `coordinates` fires:
    /// `floor(f_ci(u) (steps - 1))`.
    ///
    /// # Panics
    /// As [`Randman::value`].
    pub fn firing_step(&self, class: usize, unit: usize, coordinates: &[f64]) -> usize {
        let last = (self.config.steps - 1) as f64;

        (self.value(class, unit, coordinates) * last).floor() as usize
    }

    /// Every sample as one dataset, class by class.
    pub fn dataset(&self) -> RandmanDataset {
        RandmanDataset {
            samples: self.samples.clone(),
            steps: self.config.steps,
        }
    }

    /// Splits the samples into training and test sets, stratified by class.
    ///
    /// The first `round(samples_per_class * train_fraction)` samples of each class train and the
    /// rest test, so both sets are exactly balanced; each set is then shuffled from the seed.
    pub fn split(&self) -> RandmanSplits {
        let per_class = self.config.samples_per_class;
        let train_per_class = (per_class as f64 * self.config.train_fraction).round() as usize;

        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class_samples in self.samples.chunks(per_class) {
            train.extend_from_slice(&class_samples[..train_per_class]);
            test.extend_from_slice(&class_samples[train_per_class..]);
        }
        train.shuffle(&mut stream_rng(self.config.seed, 2));
        test.shuffle(&mut stream_rng(self.config.seed, 3));

        let steps = self.config.steps;
        RandmanSplits {
            train: RandmanDataset {
                samples: train,
                steps,
            },
            test: RandmanDataset {
                samples: test,
                steps,
            },
        }
    }
}

/// The training and test sets of [`Randman::split`].
#[derive(Debug, Clone, PartialEq)]
pub struct RandmanSplits {
    /// `train_fraction` of each class, shuffled.
    pub train: RandmanDataset,
    /// The rest of each class, shuffled.
    pub test: RandmanDataset,
}

/// Randman samples served as [`SpikeSample`]s of shape `[steps, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandmanDataset {
    samples: Vec<RandmanSample>,
    steps: usize,
}

impl RandmanDataset {
    /// The samples served, in order.
    pub fn samples(&self) -> &[RandmanSample] {
        &self.samples
    }

    /// The number of time steps of each sample.
    pub fn steps(&self) -> usize {
        self.steps
    }
}

impl Dataset<SpikeSample> for RandmanDataset {
    /// The spike train of sample `index`.
    ///
    /// # Panics
    /// If `index >= len()`.
    fn get(&self, index: usize) -> Result<SpikeSample, DatasetError> {
        let sample = self.samples.get(index).unwrap_or_else(|| {
            panic!(
                "index {index} is out of range for {} randman samples",
                self.samples.len()
            )
        });

        Ok(sample.to_spike_sample(self.steps))
    }

    fn len(&self) -> usize {
        self.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> RandmanConfig {
        RandmanConfig {
            classes: 3,
            units: 20,
            steps: 50,
            samples_per_class: 40,
            seed,
            ..Default::default()
        }
    }

    #[test]
    fn same_seed_gives_identical_samples_and_another_seed_different_ones() {
        let first = Randman::generate(&small(1)).unwrap();
        let again = Randman::generate(&small(1)).unwrap();
        let other = Randman::generate(&small(2)).unwrap();

        assert_eq!(first, again);
        assert_eq!(first.split(), again.split());
        assert_ne!(
            first.samples()[0].firing_steps,
            other.samples()[0].firing_steps
        );
        assert_ne!(
            first.samples()[0].coordinates,
            other.samples()[0].coordinates
        );
    }

    #[test]
    fn every_unit_fires_exactly_once_in_every_sample() {
        let randman = Randman::generate(&small(3)).unwrap();
        let dataset = randman.dataset();

        for index in 0..dataset.len() {
            let sample = dataset.get(index).unwrap();
            assert_eq!((sample.time, sample.inputs), (50, 20));
            for unit in 0..sample.inputs {
                assert_eq!(
                    sample.spike_steps(unit).len(),
                    1,
                    "sample {index}, unit {unit}"
                );
            }
            assert_eq!(sample.spike_count(), 20);
        }
    }

    #[test]
    fn labels_are_balanced_in_the_whole_set_and_in_each_split() {
        let randman = Randman::generate(&small(4)).unwrap();
        let count = |samples: &[RandmanSample]| {
            let mut counts = [0; 3];
            samples.iter().for_each(|sample| counts[sample.label] += 1);
            counts
        };

        assert_eq!(count(randman.samples()), [40; 3]);
        let splits = randman.split();
        assert_eq!(count(splits.train.samples()), [32; 3]);
        assert_eq!(count(splits.test.samples()), [8; 3]);

        // No sample is in both sets, and the training set is not in class order.
        for sample in splits.test.samples() {
            assert!(!splits.train.samples().contains(sample));
        }
        let labels: Vec<usize> = splits.train.samples().iter().map(|s| s.label).collect();
        assert!(!labels.is_sorted());
    }

    #[test]
    fn rescaled_maps_span_zero_to_one() {
        // On a 200 x 200 grid of the square, each map should come within 1% of both ends of its
        // range and never leave [0, 1]. A grid point lies within h / 2 = 1/400 of each extreme
        // in every coordinate, where the map is flat, so it misses the extreme by about
        // (h / 2)² |f''| / 2 with |f''| <= 2 (2π)² Σ_k k^(2 - α) ≈ 400 times the amplitudes:
        // about 1e-3 of a range of order 1.
        let config = RandmanConfig {
            classes: 2,
            units: 3,
            samples_per_class: 1,
            ..small(5)
        };
        let randman = Randman::generate(&config).unwrap();
        for class in 0..2 {
            for unit in 0..3 {
                let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
                for i in 0..200 {
                    for j in 0..200 {
                        let u = [i as f64 / 200.0, j as f64 / 200.0];
                        let value = randman.value(class, unit, &u);
                        assert!((0.0..=1.0).contains(&value));
                        low = low.min(value);
                        high = high.max(value);
                    }
                }
                assert!(
                    low < 0.01 && high > 0.99,
                    "class {class} unit {unit}: {low}, {high}"
                );
            }
        }
    }

    #[test]
    fn firing_step_is_the_floor_of_the_scaled_value() {
        let randman = Randman::generate(&small(6)).unwrap();
        let sample = &randman.samples()[45];
        for (unit, &step) in sample.firing_steps.iter().enumerate() {
            let value = randman.value(sample.label, unit, &sample.coordinates);
            assert_eq!(step, (value * 49.0).floor() as usize);
        }
        assert_eq!(sample.label, 1);
    }

    #[test]
    fn invalid_config_names_the_field_and_value() {
        let cases = [
            (
                RandmanConfig {
                    classes: 0,
                    ..Default::default()
                },
                "`classes`",
                "got 0",
            ),
            (
                RandmanConfig {
                    units: 0,
                    ..Default::default()
                },
                "`units`",
                "got 0",
            ),
            (
                RandmanConfig {
                    steps: 0,
                    ..Default::default()
                },
                "`steps`",
                "got 0",
            ),
            (
                RandmanConfig {
                    dimension: 0,
                    ..Default::default()
                },
                "`dimension`",
                "got 0",
            ),
            (
                RandmanConfig {
                    alpha: 0.0,
                    ..Default::default()
                },
                "`alpha`",
                "got 0",
            ),
            (
                RandmanConfig {
                    alpha: -1.5,
                    ..Default::default()
                },
                "`alpha`",
                "got -1.5",
            ),
            (
                RandmanConfig {
                    alpha: f64::NAN,
                    ..Default::default()
                },
                "`alpha`",
                "got NaN",
            ),
            (
                RandmanConfig {
                    train_fraction: 1.5,
                    ..Default::default()
                },
                "`train",
                "got 1.5",
            ),
        ];
        for (config, field, value) in cases {
            let message = Randman::generate(&config).unwrap_err().to_string();
            assert!(message.starts_with("randman: "), "{message}");
            assert!(
                message.contains(field) && message.ends_with(value),
                "{message}"
            );
        }

        let message = RandmanConfig {
            units: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            message.to_string(),
            "randman: `units` must be at least 1, got 0"
        );
    }

    #[test]
    fn config_reads_partial_json_with_defaults() {
        let config: RandmanConfig = serde_json::from_str(r#"{"classes": 4, "seed": 9}"#).unwrap();
        assert_eq!(
            config,
            RandmanConfig {
                classes: 4,
                seed: 9,
                ..Default::default()
            }
        );

        let error = serde_json::from_str::<RandmanConfig>(r#"{"clases": 4}"#).unwrap_err();
        assert!(error.to_string().contains("clases"), "{error}");
    }
}
