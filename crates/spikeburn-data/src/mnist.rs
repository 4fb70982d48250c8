//! MNIST and Fashion-MNIST read from their IDX files, served as spike trains.
//!
//! Both datasets ship as four uncompressed (after `gunzip`) IDX files with the same names:
//! `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
//! `t10k-labels-idx1-ubyte`. An image file is the magic number `0x00000803`, then the image
//! count, the rows and the columns as big-endian `u32`, then one byte per pixel, row by row. A
//! label file is `0x00000801`, the count, then one byte per label.

use std::path::{Path, PathBuf};

use burn::data::dataset::{Dataset, DatasetError};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::seed::stream_rng;
use crate::{DataError, SpikeSample};

/// The magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The number of classes of MNIST and Fashion-MNIST.
pub const CLASSES: usize = 10;

/// Which half of the dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MnistSplit {
    /// The 60 000 training images (`train-*` files).
    Train,
    /// The 10 000 test images (`t10k-*` files).
    Test,
}

impl MnistSplit {
    /// The standard names of the image and label files.
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Self::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Self::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }
}

/// Grey-scale images with digit-class labels, as read from a pair of IDX files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// `[count, rows, cols]` flattened.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Mnist {
    /// Reads an image file and its label file.
    ///
    /// Fails if a file cannot be read, has the wrong magic number, is shorter or longer than
    /// its header says, holds a label above 9, or if the two files hold different counts.
    pub fn load(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
    ) -> Result<Self, DataError> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let (count, rows, cols, pixels) = parse_images(images_path, &read(images_path)?)?;
        let labels = parse_labels(labels_path, &read(labels_path)?)?;
        if labels.len() != count {
            return Err(DataError::CountMismatch {
                images_path: images_path.to_path_buf(),
                images: count,
                labels_path: labels_path.to_path_buf(),
                labels: labels.len(),
            });
        }

        Ok(Self {
            pixels,
            labels,
            rows,
            cols,
        })
    }

    /// Reads one split from a folder holding the standard file names.
    ///
    /// Works for MNIST and Fashion-MNIST alike, since they use the same names. The names with
    /// a dot before `idx` (`train-images.idx3-ubyte`), as some mirrors spell them, are accepted
    /// too. Compressed `.gz` files are not read: decompress them first.
    pub fn from_dir(dir: impl AsRef<Path>, split: MnistSplit) -> Result<Self, DataError> {
        let (images, labels) = split.file_names();

        Self::load(locate(dir.as_ref(), images)?, locate(dir.as_ref(), labels)?)
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rows of each image (28 for MNIST).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of each image (28 for MNIST).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The pixels of image `index`, row by row, 0 (background) to 255.
    ///
    /// # Shapes
    /// - returns: `[rows * cols]`
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        assert!(
            index < self.len(),
            "image {index} is out of range for {} images",
            self.len()
        );

        &self.pixels[index * size..(index + 1) * size]
    }

    /// The class of image `index`, 0 to 9.
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn label(&self, index: usize) -> u8 {
        self.labels[index]
    }

    /// All labels, in file order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

/// The path of `name` in `dir`, or of its dotted variant if only that exists.
fn locate(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let standard = dir.join(name);
    let dotted = dir.join(name.replacen("-idx", ".idx", 1));
    if !standard.exists() && dotted.exists() {
        return Ok(dotted);
    }
    let mut compressed = standard.clone().into_os_string();
    compressed.push(".gz");
    if !standard.exists() && Path::new(&compressed).exists() {
        return Err(DataError::Compressed { path: standard });
    }

    Ok(standard)
}

/// The whole file at `path`.
fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks the magic number and reads the `dims` big-endian sizes after it.
fn parse_header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    kind: &'static str,
    dims: usize,
) -> Result<Vec<usize>, DataError> {
    let header = 4 * (1 + dims);
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let truncated = |expected: u64| DataError::Truncated {
        path: path.to_path_buf(),
        expected,
        found: bytes.len() as u64,
    };

    if bytes.len() < 4 {
        return Err(truncated(header as u64));
    }
    let found = word(0);
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found,
            expected: magic,
            kind,
        });
    }
    if bytes.len() < header {
        return Err(truncated(header as u64));
    }
    let sizes: Vec<usize> = (1..=dims).map(|dim| word(4 * dim) as usize).collect();

    // The header, then one byte per element. Three u32 sizes can multiply past u64::MAX; a
    // header claiming that much is truncated either way, so saturate.
    let elements = sizes
        .iter()
        .fold(1u64, |product, &size| product.saturating_mul(size as u64));
    let expected = elements.saturating_add(header as u64);
    let found = bytes.len() as u64;
    if found < expected {
        return Err(truncated(expected));
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }

    Ok(sizes)
}

/// The count, rows, columns and pixels of an image file.
fn parse_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let sizes = parse_header(path, bytes, IMAGES_MAGIC, "IDX images", 3)?;

    Ok((sizes[0], sizes[1], sizes[2], bytes[16..].to_vec()))
}

/// The labels of a label file, each checked to be a digit class.
fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    parse_header(path, bytes, LABELS_MAGIC, "IDX labels", 1)?;
    let labels = bytes[8..].to_vec();
    if let Some((index, &label)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &label)| usize::from(label) >= CLASSES)
    {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label,
        });
    }

    Ok(labels)
}

/// How the pixels of an image become spike trains, one input per pixel.
///
/// Every encoding reads a pixel as an intensity `x = pixel / 255` in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageEncoding {
    /// Independent Bernoulli spikes: at every step a pixel spikes with probability
    /// `x * max_rate`.
    ///
    /// The draws of sample `i` come from a generator seeded by `(seed, i)`, so a sample's spikes
    /// are the same every time it is read; change `seed` for a fresh draw.
    Rate {
        /// Time steps of a sample (100 is usual).
        steps: usize,
        /// The spike probability per step of a white pixel, in `[0, 1]` (1 is usual).
        max_rate: f64,
        /// Seed of the spike draws.
        seed: u64,
    },
    /// Time to first spike of a leaky integrator charged by the intensity: a pixel with
    /// `x > threshold` fires once at step `round(tau ln(x / (x - threshold)))` if that is
    /// before `steps`; dimmer pixels never fire. Brighter pixels fire earlier.
    Latency {
        /// Time steps of a sample (default 100).
        steps: usize,
        /// The integrator's time constant, in steps (default 20, must be > 0).
        tau: f64,
        /// The intensity below which a pixel never fires, in `[0, 1)` (default 0.2).
        threshold: f64,
    },
    /// Linear time to first spike: a pixel with `x > threshold` fires once at step
    /// `round((1 - x) / (1 - threshold) (steps - 1))`, from step 0 for white to the last step
    /// near the threshold; dimmer pixels never fire.
    LinearLatency {
        /// Time steps of a sample (100 is usual).
        steps: usize,
        /// The intensity at or below which a pixel never fires, in `[0, 1)` (0.2 is usual).
        threshold: f64,
    },
}

impl Default for ImageEncoding {
    /// The leaky-integrator latency code with 100 steps, `tau` 20 steps and threshold 0.2.
    fn default() -> Self {
        Self::Latency {
            steps: 100,
            tau: 20.0,
            threshold: 0.2,
        }
    }
}

impl ImageEncoding {
    /// The number of time steps of an encoded sample.
    pub fn steps(&self) -> usize {
        match *self {
            Self::Rate { steps, .. }
            | Self::Latency { steps, .. }
            | Self::LinearLatency { steps, .. } => steps,
        }
    }

    /// Checks that `steps >= 1` and each rate, time constant and threshold is in range.
    pub fn validate(&self) -> Result<(), DataError> {
        let (context, steps) = match *self {
            Self::Rate { steps, .. } => ("image rate encoding", steps),
            Self::Latency { steps, .. } => ("image latency encoding", steps),
            Self::LinearLatency { steps, .. } => ("image linear latency encoding", steps),
        };
        if steps == 0 {
            return Err(DataError::invalid(context, "steps", steps, "at least 1"));
        }

        match *self {
            Self::Rate { max_rate, .. } if !(0.0..=1.0).contains(&max_rate) => Err(
                DataError::invalid(context, "max_rate", max_rate, "between 0 and 1"),
            ),
            Self::Latency { tau, .. } if !(tau > 0.0 && tau.is_finite()) => Err(
                DataError::invalid(context, "tau", tau, "a positive finite number of steps"),
            ),
            Self::Latency { threshold, .. } | Self::LinearLatency { threshold, .. }
                if !(0.0..1.0).contains(&threshold) =>
            {
                let expected = "at least 0 and below 1";
                Err(DataError::invalid(
                    context,
                    "threshold",
                    threshold,
                    expected,
                ))
            }
            _ => Ok(()),
        }
    }

    /// Encodes the pixels of sample `index` (the index seeds the rate code's draws).
    ///
    /// # Shapes
    /// - `pixels`: `[inputs]`, one byte per pixel
    /// - returns: a sample of shape `[steps, inputs]`
    ///
    /// # Panics
    /// If the encoding is invalid; [`MnistDataset::new`] checks it once up front.
    pub fn encode(&self, pixels: &[u8], label: usize, index: usize) -> SpikeSample {
        if let Err(error) = self.validate() {
            panic!("{error}");
        }
        let (time, inputs) = (self.steps(), pixels.len());
        let intensity = |pixel: u8| f64::from(pixel) / 255.0;
        let mut input = vec![0.0; time * inputs];

        match *self {
            Self::Rate { max_rate, seed, .. } => {
                let mut rng = stream_rng(seed, index as u64);
                let probabilities: Vec<f64> = pixels
                    .iter()
                    .map(|&pixel| intensity(pixel) * max_rate)
                    .collect();
                for row in input.chunks_exact_mut(inputs) {
                    for (cell, &probability) in row.iter_mut().zip(&probabilities) {
                        if probability > 0.0 && rng.random::<f64>() < probability {
                            *cell = 1.0;
                        }
                    }
                }
            }
            Self::Latency { tau, threshold, .. } => {
                for (unit, &pixel) in pixels.iter().enumerate() {
                    let x = intensity(pixel);
                    if x > threshold {
                        // The time a leaky integrator driven by x needs to reach threshold.
                        let step = (tau * (x / (x - threshold)).ln()).round() as usize;
                        if step < time {
                            input[step * inputs + unit] = 1.0;
                        }
                    }
                }
            }
            Self::LinearLatency { threshold, .. } => {
                let last = (time - 1) as f64;
                for (unit, &pixel) in pixels.iter().enumerate() {
                    let x = intensity(pixel);
                    if x > threshold {
                        let step = ((1.0 - x) / (1.0 - threshold) * last).round() as usize;
                        input[step * inputs + unit] = 1.0;
                    }
                }
            }
        }

        SpikeSample {
            input,
            time,
            inputs,
            label,
        }
    }
}

/// MNIST or Fashion-MNIST images served as [`SpikeSample`]s of `rows * cols` inputs (784),
/// encoded when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct MnistDataset {
    mnist: Mnist,
    encoding: ImageEncoding,
}

impl MnistDataset {
    /// Serves `mnist` through `encoding`, after checking the encoding.
    pub fn new(mnist: Mnist, encoding: ImageEncoding) -> Result<Self, DataError> {
        encoding.validate()?;

        Ok(Self { mnist, encoding })
    }

    /// The images served.
    pub fn mnist(&self) -> &Mnist {
        &self.mnist
    }

    /// The encoding used.
    pub fn encoding(&self) -> ImageEncoding {
        self.encoding
    }

    /// The number of inputs of each sample: one per pixel.
    pub fn inputs(&self) -> usize {
        self.mnist.rows * self.mnist.cols
    }
}

impl Dataset<SpikeSample> for MnistDataset {
    /// The encoded image at `index`.
    ///
    /// # Panics
    /// If `index >= len()`.
    fn get(&self, index: usize) -> Result<SpikeSample, DatasetError> {
        let label = usize::from(self.mnist.label(index));

        Ok(self.encoding.encode(self.mnist.image(index), label, index))
    }

    fn len(&self) -> usize {
        self.mnist.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder under the system's temporary folder, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> Self {
            let name = format!("spikeburn-data-{test}-{}", std::process::id());
            let path = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        /// Writes `bytes` to `name` in the folder and returns its path.
        fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An IDX file: magic number, sizes, data.
    fn idx(magic: u32, sizes: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        sizes
            .iter()
            .for_each(|size| bytes.extend(size.to_be_bytes()));
        bytes.extend_from_slice(data);
        bytes
    }

    /// Three 2 x 2 images with distinct pixels, labelled 7, 0 and 9.
    fn three_images() -> (Vec<u8>, Vec<u8>) {
        let pixels: Vec<u8> = (0..12).map(|k| k * 20).collect();
        (
            idx(IMAGES_MAGIC, &[3, 2, 2], &pixels),
            idx(LABELS_MAGIC, &[3], &[7, 0, 9]),
        )
    }

    /// Writes the images and labels under the training names and reads them back.
    fn load_train(test: &str, images: &[u8], labels: &[u8]) -> Result<Mnist, DataError> {
        let dir = TempDir::new(test);
        dir.write("train-images-idx3-ubyte", images);
        dir.write("train-labels-idx1-ubyte", labels);
        Mnist::from_dir(&dir.0, MnistSplit::Train)
    }

    #[test]
    fn three_images_round_trip() {
        let (images, labels) = three_images();
        let mnist = load_train("round-trip", &images, &labels).unwrap();

        assert_eq!((mnist.len(), mnist.rows(), mnist.cols()), (3, 2, 2));
        assert_eq!(mnist.image(0), [0, 20, 40, 60]);
        assert_eq!(mnist.image(2), [160, 180, 200, 220]);
        assert_eq!(mnist.labels(), [7, 0, 9]);
        assert_eq!(mnist.label(2), 9);
    }

    #[test]
    fn dotted_file_names_are_accepted() {
        let (images, labels) = three_images();
        let dir = TempDir::new("dotted");
        dir.write("t10k-images.idx3-ubyte", &images);
        dir.write("t10k-labels.idx1-ubyte", &labels);

        assert_eq!(Mnist::from_dir(&dir.0, MnistSplit::Test).unwrap().len(), 3);
    }

    #[test]
    fn wrong_magic_number_names_the_file_and_both_numbers() {
        let (_, labels) = three_images();
        let images = idx(LABELS_MAGIC, &[3, 2, 2], &[0; 12]);
        let message = load_train("magic", &images, &labels)
            .unwrap_err()
            .to_string();

        assert!(message.contains("train-images-idx3-ubyte`"), "{message}");
        assert!(
            message.contains("wrong magic number 0x00000801, expected 0x00000803"),
            "{message}"
        );
    }

    #[test]
    fn truncated_pixels_and_header_name_the_file_and_byte_counts() {
        let (images, labels) = three_images();
        let message = load_train("truncated", &images[..27], &labels)
            .unwrap_err()
            .to_string();
        assert!(message.contains("train-images-idx3-ubyte`"), "{message}");
        assert!(
            message.ends_with("truncated data, expected 28 bytes, found 27"),
            "{message}"
        );

        let message = load_train("header", &images, &labels[..6])
            .unwrap_err()
            .to_string();
        assert!(message.contains("train-labels-idx1-ubyte`"), "{message}");
        assert!(
            message.ends_with("truncated data, expected 8 bytes, found 6"),
            "{message}"
        );
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let (_, labels) = three_images();
        let images = idx(IMAGES_MAGIC, &[3, 2, 2], &[0; 13]);
        let message = load_train("trailing", &images, &labels)
            .unwrap_err()
            .to_string();

        assert!(
            message.ends_with("trailing data, expected 28 bytes, found 29"),
            "{message}"
        );
    }

    #[test]
    fn label_count_must_match_image_count() {
        let (images, _) = three_images();
        let labels = idx(LABELS_MAGIC, &[2], &[1, 2]);
        let message = load_train("count", &images, &labels)
            .unwrap_err()
            .to_string();

        assert!(
            message.contains("train-labels-idx1-ubyte` holds 2 labels"),
            "{message}"
        );
        assert!(
            message.contains("train-images-idx3-ubyte` holds 3 images"),
            "{message}"
        );
    }

    #[test]
    fn label_above_nine_is_out_of_range() {
        let (images, _) = three_images();
        let labels = idx(LABELS_MAGIC, &[3], &[1, 2, 10]);
        let message = load_train("label", &images, &labels)
            .unwrap_err()
            .to_string();

        assert!(message.contains("train-labels-idx1-ubyte`"), "{message}");
        assert!(message.ends_with("label 10 of item 2 is out of range, expected 0 to 9"));
    }

    #[test]
    fn missing_and_compressed_files_name_the_path() {
        let dir = TempDir::new("missing");
        let error = Mnist::from_dir(&dir.0, MnistSplit::Test).unwrap_err();
        assert!(matches!(error, DataError::Io { .. }), "{error:?}");
        assert!(
            error.to_string().contains("t10k-images-idx3-ubyte`"),
            "{error}"
        );

        dir.write("t10k-images-idx3-ubyte.gz", &[0x1f, 0x8b]);
        let message = Mnist::from_dir(&dir.0, MnistSplit::Test)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("t10k-images-idx3-ubyte.gz` does"),
            "{message}"
        );
        assert!(
            message.ends_with("decompress it first (`gunzip`)"),
            "{message}"
        );
    }

    #[test]
    fn full_size_images_give_784_inputs() {
        let pixels: Vec<u8> = (0..3 * 784).map(|k| (k % 256) as u8).collect();
        let images = idx(IMAGES_MAGIC, &[3, 28, 28], &pixels);
        let labels = idx(LABELS_MAGIC, &[3], &[4, 5, 6]);
        let mnist = load_train("full-size", &images, &labels).unwrap();
        let dataset = MnistDataset::new(mnist, ImageEncoding::default()).unwrap();

        assert_eq!((dataset.len(), dataset.inputs()), (3, 784));
        let sample = dataset.get(1).unwrap();
        assert_eq!((sample.time, sample.inputs, sample.label), (100, 784, 5));
    }

    #[test]
    fn rate_code_is_reproducible_per_sample_and_seed() {
        let pixels = [0, 64, 128, 255];
        let encoding = ImageEncoding::Rate {
            steps: 50,
            max_rate: 0.5,
            seed: 1,
        };

        let first = encoding.encode(&pixels, 0, 3);
        assert_eq!(first, encoding.encode(&pixels, 0, 3));
        assert_ne!(first, encoding.encode(&pixels, 0, 4));
        let reseeded = ImageEncoding::Rate {
            steps: 50,
            max_rate: 0.5,
            seed: 2,
        };
        assert_ne!(first, reseeded.encode(&pixels, 0, 3));
        assert!(first.spike_steps(0).is_empty(), "a black pixel never fires");
    }

    #[test]
    fn rate_code_fires_at_the_requested_rate() {
        // A white pixel at max_rate 1 fires at every step. Pixel 153 at max_rate 0.5 fires with
        // p = 0.3 per step: over 4000 steps the count has mean 1200 and standard deviation
        // √(4000 · 0.3 · 0.7) = 29; allow 4 of them.
        let always = ImageEncoding::Rate {
            steps: 20,
            max_rate: 1.0,
            seed: 0,
        };
        assert_eq!(always.encode(&[255], 0, 0).spike_count(), 20);

        let half = ImageEncoding::Rate {
            steps: 4000,
            max_rate: 0.5,
            seed: 0,
        };
        let count = half.encode(&[153], 0, 0).spike_count();
        assert!(count.abs_diff(1200) < 116, "{count}");
    }

    #[test]
    fn latency_code_fires_bright_pixels_early_and_dark_ones_never() {
        let pixels = [0, 51, 52, 128, 255];
        let sample = ImageEncoding::default().encode(&pixels, 0, 0);

        // 51 / 255 is exactly the threshold 0.2, so neither it nor black fires.
        assert!(sample.spike_steps(0).is_empty() && sample.spike_steps(1).is_empty());
        // 52: x = 0.2039, 20 ln(x / (x - 0.2)) = 20 ln(52) = 79.02 -> 79.
        assert_eq!(sample.spike_steps(2), [79]);
        // 128: x = 0.50196, 20 ln(0.50196 / 0.30196) = 10.17 -> 10.
        assert_eq!(sample.spike_steps(3), [10]);
        // 255: 20 ln(1 / 0.8) = 4.46 -> 4.
        assert_eq!(sample.spike_steps(4), [4]);
        assert_eq!(sample.spike_count(), 3);

        // With fewer steps the late spike falls outside the window.
        let short = ImageEncoding::Latency {
            steps: 50,
            tau: 20.0,
            threshold: 0.2,
        };
        assert!(short.encode(&pixels, 0, 0).spike_steps(2).is_empty());
    }

    #[test]
    fn linear_latency_spans_the_window() {
        let encoding = ImageEncoding::LinearLatency {
            steps: 11,
            threshold: 0.2,
        };
        let sample = encoding.encode(&[0, 51, 153, 255], 0, 0);

        // 153: x = 0.6, (1 - 0.6) / 0.8 · 10 = 5.
        let steps: Vec<Vec<usize>> = (0..4).map(|unit| sample.spike_steps(unit)).collect();
        assert_eq!(steps, [vec![], vec![], vec![5], vec![0]]);
    }

    #[test]
    fn invalid_encodings_name_the_field_and_value() {
        let cases = [
            (
                ImageEncoding::Rate {
                    steps: 10,
                    max_rate: 1.5,
                    seed: 0,
                },
                "image rate encoding: `max_rate` must be between 0 and 1, got 1.5",
            ),
            (
                ImageEncoding::Latency {
                    steps: 10,
                    tau: 0.0,
                    threshold: 0.2,
                },
                "image latency encoding: `tau` must be a positive finite number of steps, got 0",
            ),
            (
                ImageEncoding::LinearLatency {
                    steps: 10,
                    threshold: 1.0,
                },
                "image linear latency encoding: `threshold` must be at least 0 and below 1, got 1",
            ),
            (
                ImageEncoding::Latency {
                    steps: 0,
                    tau: 20.0,
                    threshold: 0.2,
                },
                "image latency encoding: `steps` must be at least 1, got 0",
            ),
        ];
        for (encoding, message) in cases {
            assert_eq!(encoding.validate().unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn encoding_round_trips_through_json() {
        let encoding = ImageEncoding::Rate {
            steps: 100,
            max_rate: 0.8,
            seed: 3,
        };
        let json = serde_json::to_string(&encoding).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"rate","steps":100,"max_rate":0.8,"seed":3}"#
        );
        assert_eq!(
            serde_json::from_str::<ImageEncoding>(&json).unwrap(),
            encoding
        );
    }
}
