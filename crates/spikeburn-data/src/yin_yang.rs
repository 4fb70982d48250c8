//! The Yin-Yang dataset of Kriener, Göltz and Petrovici (2021),
//! <https://arxiv.org/abs/2102.08211>.
//!
//! Points of the unit disc centred at `(0.5, 0.5)` belong to one of three classes drawn as a
//! yin-yang symbol: the two small dots, the "yin" region and the "yang" region. A shallow
//! network can separate them only with a hidden layer, and they are few and small enough to
//! train on a CPU in seconds.

use burn::data::dataset::{Dataset, DatasetError};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::seed::{derive_seed, stream_rng};
use crate::{DataError, SpikeSample};

/// The radius of the big disc holding the symbol.
pub const R_BIG: f64 = 0.5;
/// The radius of the two dots.
pub const R_SMALL: f64 = 0.1;
/// The centre of the left dot.
pub const LEFT_DOT: [f64; 2] = [0.25, 0.5];
/// The centre of the right dot.
pub const RIGHT_DOT: [f64; 2] = [0.75, 0.5];

/// The sizes of the standard splits made by [`yin_yang_splits`].
pub const SPLIT_SIZES: YinYangSizes = YinYangSizes {
    train: 5000,
    validation: 1000,
    test: 1000,
};

/// The three classes of the Yin-Yang symbol, numbered as in the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum YinYangClass {
    /// Class 0: the lower half outside the left head, plus the right head.
    Yang = 0,
    /// Class 1: the upper half outside the right head, plus the left head.
    Yin = 1,
    /// Class 2: the two small dots.
    Dots = 2,
}

impl YinYangClass {
    /// The classes in label order.
    pub const ALL: [YinYangClass; 3] = [Self::Yang, Self::Yin, Self::Dots];

    /// The class's label, 0, 1 or 2.
    pub fn label(self) -> usize {
        self as usize
    }

    /// The class of `(x, y)`, or `None` outside the big disc.
    ///
    /// With `d_l` and `d_r` the distances to the left and right dot centres: the dots are
    /// `d_l < R_SMALL` or `d_r < R_SMALL`; yin is `d_r <= R_SMALL`, or
    /// `R_SMALL < d_l <= R_BIG / 2`, or `y > R_BIG` with `d_r > R_BIG / 2`; the rest is yang.
    /// The heads are the discs of radius `R_BIG / 2` around the dots.
    pub fn of(x: f64, y: f64) -> Option<Self> {
        if distance([x, y], [R_BIG, R_BIG]) > R_BIG {
            return None;
        }
        let to_left = distance([x, y], LEFT_DOT);
        let to_right = distance([x, y], RIGHT_DOT);

        let dots = to_left < R_SMALL || to_right < R_SMALL;
        let left_head = to_left > R_SMALL && to_left <= R_BIG / 2.0;
        let upper_outside_right_head = y > R_BIG && to_right > R_BIG / 2.0;
        let yin = to_right <= R_SMALL || left_head || upper_outside_right_head;

        Some(match (dots, yin) {
            (true, _) => Self::Dots,
            (false, true) => Self::Yin,
            (false, false) => Self::Yang,
        })
    }
}

/// The Euclidean distance between two points of the plane.
fn distance(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// One point of the Yin-Yang dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct YinYangPoint {
    /// The horizontal coordinate, in `[0, 1]`.
    pub x: f64,
    /// The vertical coordinate, in `[0, 1]`.
    pub y: f64,
    /// The point's class.
    pub class: YinYangClass,
}

impl YinYangPoint {
    /// The four network inputs `[x, y, 1 - x, 1 - y]`, each in `[0, 1]`.
    ///
    /// The mirrored pair keeps the summed input the same for every point.
    pub fn features(&self) -> [f64; 4] {
        [self.x, self.y, 1.0 - self.x, 1.0 - self.y]
    }
}

/// A set of Yin-Yang points with balanced classes in expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct YinYang {
    points: Vec<YinYangPoint>,
}

impl YinYang {
    /// Draws `size` points from `seed`.
    ///
    /// Each point first draws its class uniformly, then draws `(x, y)` uniformly in the unit
    /// square until it lands inside the big disc and in that class. Every class is therefore
    /// equally likely, whatever its area, and points are uniform within their class.
    pub fn generate(size: usize, seed: u64) -> Self {
        let mut rng = stream_rng(seed, 0);
        let mut points = Vec::with_capacity(size);
        for _ in 0..size {
            let class = YinYangClass::ALL[rng.random_range(0..YinYangClass::ALL.len())];
            // The smallest class (the dots) covers 2π R_SMALL² ≈ 6% of the square, so this
            // loop ends after about 16 draws at worst on average.
            loop {
                let (x, y) = (rng.random::<f64>(), rng.random::<f64>());
                if YinYangClass::of(x, y) == Some(class) {
                    points.push(YinYangPoint { x, y, class });
                    break;
                }
            }
        }

        Self { points }
    }

    /// The points, in the order drawn.
    pub fn points(&self) -> &[YinYangPoint] {
        &self.points
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// How many points each class has, indexed by label.
    pub fn class_counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for point in &self.points {
            counts[point.class.label()] += 1;
        }

        counts
    }
}

/// The sizes of a train/validation/test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct YinYangSizes {
    /// Training points.
    pub train: usize,
    /// Validation points.
    pub validation: usize,
    /// Test points.
    pub test: usize,
}

/// The standard training, validation and test sets.
#[derive(Debug, Clone, PartialEq)]
pub struct YinYangSplits {
    /// 5000 training points.
    pub train: YinYang,
    /// 1000 validation points.
    pub validation: YinYang,
    /// 1000 test points.
    pub test: YinYang,
}

/// The standard splits of [`SPLIT_SIZES`] (5000/1000/1000 points), each drawn from its own seed
/// derived from `seed`, so the three sets are independent draws.
pub fn yin_yang_splits(seed: u64) -> YinYangSplits {
    let sizes = SPLIT_SIZES;

    YinYangSplits {
        train: YinYang::generate(sizes.train, derive_seed(seed, 1)),
        validation: YinYang::generate(sizes.validation, derive_seed(seed, 2)),
        test: YinYang::generate(sizes.test, derive_seed(seed, 3)),
    }
}

/// How the four features of a point become a network input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum YinYangEncoding {
    /// Time-to-first-spike: feature `v` fires one spike at step `round(early + v (late - early))`,
    /// so small values fire early. With `bias`, a fifth input fires at step `early` as a
    /// reference spike.
    Latency {
        /// Time steps of a sample (default 30).
        steps: usize,
        /// The step of a feature equal to 0 (default 2).
        early: usize,
        /// The step of a feature equal to 1 (default 22); `early <= late < steps`.
        late: usize,
        /// Whether to add the bias input firing at `early` (default true).
        bias: bool,
    },
    /// The features plus a constant 1 (a bias), as input currents repeated at every step.
    Current {
        /// Time steps of a sample (default 30).
        steps: usize,
    },
}

impl Default for YinYangEncoding {
    /// The latency encoding with 30 steps, features spread over steps 2 to 22, and a bias input.
    fn default() -> Self {
        Self::Latency {
            steps: 30,
            early: 2,
            late: 22,
            bias: true,
        }
    }
}

impl YinYangEncoding {
    /// The number of time steps of an encoded sample.
    pub fn steps(&self) -> usize {
        match *self {
            Self::Latency { steps, .. } | Self::Current { steps } => steps,
        }
    }

    /// The number of inputs of an encoded sample: 4 features, plus 1 for a bias input.
    pub fn inputs(&self) -> usize {
        match *self {
            Self::Latency { bias, .. } => 4 + usize::from(bias),
            Self::Current { .. } => 5,
        }
    }

    /// Checks that `steps >= 1` and, for latency, `early <= late < steps`.
    pub fn validate(&self) -> Result<(), DataError> {
        match *self {
            Self::Latency {
                steps, early, late, ..
            } => {
                let context = "Yin-Yang latency encoding";
                if steps == 0 {
                    return Err(DataError::invalid(context, "steps", steps, "at least 1"));
                }
                if late >= steps {
                    let expected = format!("below steps ({steps})");
                    return Err(DataError::invalid(context, "late", late, expected));
                }
                if early > late {
                    let expected = format!("at most late ({late})");
                    return Err(DataError::invalid(context, "early", early, expected));
                }
            }
            Self::Current { steps } => {
                if steps == 0 {
                    let context = "Yin-Yang current encoding";
                    return Err(DataError::invalid(context, "steps", steps, "at least 1"));
                }
            }
        }

        Ok(())
    }

    /// Encodes one point.
    ///
    /// # Shapes
    /// - returns: a sample of shape `[steps, inputs]`, inputs in the order `x, y, 1 - x, 1 - y`
    ///   and the bias last
    ///
    /// # Panics
    /// If the encoding is invalid; [`YinYangDataset::new`] checks it once up front.
    pub fn encode(&self, point: &YinYangPoint) -> SpikeSample {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let (time, inputs) = (self.steps(), self.inputs());
        let features = point.features();
        let mut input = vec![0.0; time * inputs];

        match *self {
            Self::Latency {
                early, late, bias, ..
            } => {
                let span = (late - early) as f64;
                for (unit, value) in features.iter().enumerate() {
                    let step = (early as f64 + value.clamp(0.0, 1.0) * span).round() as usize;
                    input[step * inputs + unit] = 1.0;
                }
                if bias {
                    input[early * inputs + 4] = 1.0;
                }
            }
            Self::Current { .. } => {
                let currents = [features[0], features[1], features[2], features[3], 1.0];
                for row in input.chunks_exact_mut(inputs) {
                    for (cell, current) in row.iter_mut().zip(currents) {
                        *cell = current as f32;
                    }
                }
            }
        }

        SpikeSample {
            input,
            time,
            inputs,
            label: point.class.label(),
        }
    }
}

/// Yin-Yang points served as encoded [`SpikeSample`]s, encoded when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct YinYangDataset {
    data: YinYang,
    encoding: YinYangEncoding,
}

impl YinYangDataset {
    /// Serves `data` through `encoding`, after checking the encoding.
    pub fn new(data: YinYang, encoding: YinYangEncoding) -> Result<Self, DataError> {
        encoding.validate()?;

        Ok(Self { data, encoding })
    }

    /// The points served.
    pub fn data(&self) -> &YinYang {
        &self.data
    }

    /// The encoding used.
    pub fn encoding(&self) -> YinYangEncoding {
        self.encoding
    }
}

impl Dataset<SpikeSample> for YinYangDataset {
    /// The encoded point at `index`.
    ///
    /// # Panics
    /// If `index >= len()`.
    fn get(&self, index: usize) -> Result<SpikeSample, DatasetError> {
        let point = self.data.points.get(index).unwrap_or_else(|| {
            panic!(
                "index {index} is out of range for {} Yin-Yang points",
                self.data.len()
            )
        });

        Ok(self.encoding.encode(point))
    }

    fn len(&self) -> usize {
        self.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_of_hand_checked_points() {
        // (x, y, class): the distances to the dots (0.25, 0.5) and (0.75, 0.5) are worked out in
        // each comment.
        let cases = [
            // d_l = 0 < 0.1.
            (0.25, 0.5, YinYangClass::Dots),
            // d_r = 0 < 0.1.
            (0.75, 0.5, YinYangClass::Dots),
            // d_l = 0.09 < 0.1.
            (0.25, 0.59, YinYangClass::Dots),
            // y > 0.5 and d_r = √(0.25² + 0.4²) ≈ 0.47 > 0.25: upper half, outside right head.
            (0.5, 0.9, YinYangClass::Yin),
            // d_l = 0.15, in (0.1, 0.25]: the left head reaches into the lower half.
            (0.25, 0.35, YinYangClass::Yin),
            // d_l = 0.2, in (0.1, 0.25].
            (0.05, 0.5, YinYangClass::Yin),
            // y < 0.5, d_l ≈ 0.47 > 0.25, d_r ≈ 0.47 > 0.1: lower half, outside left head.
            (0.5, 0.1, YinYangClass::Yang),
            // d_r = 0.15 <= 0.25: the right head reaches into the upper half.
            (0.75, 0.65, YinYangClass::Yang),
            // d_r = 0.2, y = 0.5 is not above the middle.
            (0.95, 0.5, YinYangClass::Yang),
        ];
        for (x, y, class) in cases {
            assert_eq!(YinYangClass::of(x, y), Some(class), "({x}, {y})");
        }

        // 0.636 and 0.566 from the centre: outside the big disc.
        assert_eq!(YinYangClass::of(0.05, 0.05), None);
        assert_eq!(YinYangClass::of(0.9, 0.9), None);
    }

    #[test]
    fn point_reflection_swaps_yin_and_yang() {
        let points = YinYang::generate(500, 11);
        for point in points.points() {
            let mirrored = YinYangClass::of(1.0 - point.x, 1.0 - point.y).unwrap();
            let expected = match point.class {
                YinYangClass::Yin => YinYangClass::Yang,
                YinYangClass::Yang => YinYangClass::Yin,
                YinYangClass::Dots => YinYangClass::Dots,
            };
            assert_eq!(mirrored, expected, "{point:?}");
        }
    }

    #[test]
    fn class_areas_match_the_geometry() {
        // The dots cover 2π R_SMALL² of the disc's π R_BIG², a fraction 2 (0.1 / 0.5)² = 0.08;
        // yin and yang are mirror images of each other under (x, y) -> (1 - x, 1 - y), so each
        // has (1 - 0.08) / 2 = 0.46. Count the cell centres of a 1000 x 1000 grid: at worst
        // every cell a boundary crosses is misjudged (about 5e-3 of the area), but along curved
        // boundaries the errors cancel to the order of √(length / h) h² ≈ 1e-4.
        let cells = 1000;
        let mut counts = [0usize; 3];
        for i in 0..cells {
            for j in 0..cells {
                let (x, y) = (
                    (i as f64 + 0.5) / cells as f64,
                    (j as f64 + 0.5) / cells as f64,
                );
                if let Some(class) = YinYangClass::of(x, y) {
                    counts[class.label()] += 1;
                }
            }
        }
        let disc: usize = counts.iter().sum();
        let disc_area = disc as f64 / (cells * cells) as f64;
        assert!(
            (disc_area - std::f64::consts::FRAC_PI_4).abs() < 1e-3,
            "{disc_area}"
        );
        for (class, expected) in [0.46, 0.46, 0.08].into_iter().enumerate() {
            let fraction = counts[class] as f64 / disc as f64;
            assert!(
                (fraction - expected).abs() < 1e-3,
                "class {class}: {fraction}"
            );
        }
    }

    #[test]
    fn generated_points_belong_to_their_class_and_classes_are_balanced() {
        let data = YinYang::generate(3000, 5);
        for point in data.points() {
            assert_eq!(YinYangClass::of(point.x, point.y), Some(point.class));
            assert!(
                point
                    .features()
                    .iter()
                    .all(|value| (0.0..=1.0).contains(value))
            );
        }
        // Each count is Binomial(3000, 1/3): mean 1000, standard deviation 25.8. Allow 4 of them.
        for count in data.class_counts() {
            assert!(count.abs_diff(1000) < 104, "{:?}", data.class_counts());
        }
    }

    #[test]
    fn generation_is_deterministic_per_seed() {
        assert_eq!(YinYang::generate(100, 3), YinYang::generate(100, 3));
        assert_ne!(YinYang::generate(100, 3), YinYang::generate(100, 4));
    }

    #[test]
    fn splits_have_standard_sizes_and_distinct_points() {
        let splits = yin_yang_splits(0);
        assert_eq!(splits.train.len(), 5000);
        assert_eq!(splits.validation.len(), 1000);
        assert_eq!(splits.test.len(), 1000);

        let first = |data: &YinYang| data.points()[0];
        assert_ne!(first(&splits.train), first(&splits.validation));
        assert_ne!(first(&splits.train), first(&splits.test));
        assert_ne!(first(&splits.validation), first(&splits.test));
        assert_eq!(yin_yang_splits(0), splits);
    }

    #[test]
    fn latency_encoding_fires_once_per_input_at_the_mapped_step() {
        let point = YinYangPoint {
            x: 0.25,
            y: 0.35,
            class: YinYangClass::Yin,
        };
        let sample = YinYangEncoding::default().encode(&point);

        assert_eq!((sample.time, sample.inputs, sample.label), (30, 5, 1));
        assert_eq!(sample.spike_count(), 5);
        // step = round(2 + v 20): x 0.25 -> 7, y 0.35 -> 9, 1 - x 0.75 -> 17, 1 - y 0.65 -> 15.
        let steps: Vec<Vec<usize>> = (0..5).map(|unit| sample.spike_steps(unit)).collect();
        assert_eq!(steps, [vec![7], vec![9], vec![17], vec![15], vec![2]]);

        let no_bias = YinYangEncoding::Latency {
            steps: 30,
            early: 2,
            late: 22,
            bias: false,
        };
        assert_eq!(no_bias.encode(&point).inputs, 4);
    }

    #[test]
    fn current_encoding_repeats_features_and_bias() {
        let point = YinYangPoint {
            x: 0.25,
            y: 0.5,
            class: YinYangClass::Dots,
        };
        let sample = YinYangEncoding::Current { steps: 3 }.encode(&point);

        assert_eq!((sample.time, sample.inputs, sample.label), (3, 5, 2));
        assert_eq!(sample.input, [0.25, 0.5, 0.75, 0.5, 1.0].repeat(3));
    }

    #[test]
    fn invalid_encodings_name_the_field_and_value() {
        let cases = [
            (
                YinYangEncoding::Latency {
                    steps: 20,
                    early: 2,
                    late: 22,
                    bias: true,
                },
                "Yin-Yang latency encoding: `late` must be below steps (20), got 22",
            ),
            (
                YinYangEncoding::Latency {
                    steps: 30,
                    early: 9,
                    late: 5,
                    bias: true,
                },
                "Yin-Yang latency encoding: `early` must be at most late (5), got 9",
            ),
            (
                YinYangEncoding::Current { steps: 0 },
                "Yin-Yang current encoding: `steps` must be at least 1, got 0",
            ),
        ];
        for (encoding, message) in cases {
            let error = YinYangDataset::new(YinYang::generate(1, 0), encoding).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
    }

    #[test]
    fn encoding_round_trips_through_json() {
        let encoding = YinYangEncoding::default();
        let json = serde_json::to_string(&encoding).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"latency","steps":30,"early":2,"late":22,"bias":true}"#
        );
        assert_eq!(
            serde_json::from_str::<YinYangEncoding>(&json).unwrap(),
            encoding
        );

        let current: YinYangEncoding =
            serde_json::from_str(r#"{"kind": "current", "steps": 10}"#).unwrap();
        assert_eq!(current, YinYangEncoding::Current { steps: 10 });
    }

    #[test]
    fn dataset_serves_encoded_points() {
        let data = YinYang::generate(10, 1);
        let dataset = YinYangDataset::new(data.clone(), YinYangEncoding::default()).unwrap();

        assert_eq!(dataset.len(), 10);
        let sample = dataset.get(4).unwrap();
        assert_eq!(sample, YinYangEncoding::default().encode(&data.points()[4]));
    }
}
