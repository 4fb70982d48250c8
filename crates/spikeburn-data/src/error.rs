//! The crate's error type.

use std::path::PathBuf;

use burn::data::dataset::DatasetError;

/// Everything that can go wrong when reading, generating or batching a dataset.
///
/// File errors name the file; configuration errors name the setting, the value given and the
/// range it must lie in.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Only a gzip-compressed copy of a file exists; this crate reads uncompressed files only.
    #[error("`{path}` does not exist but `{path}.gz` does: decompress it first (`gunzip`)")]
    Compressed {
        /// The uncompressed file that was looked for.
        path: PathBuf,
    },
    /// An IDX file starts with the wrong magic number.
    #[error("`{path}`: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({kind})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number found in the first four bytes.
        found: u32,
        /// The magic number of the expected kind of file.
        expected: u32,
        /// The expected kind of file, such as `IDX images`.
        kind: &'static str,
    },
    /// A file is shorter than its header says it should be.
    #[error("`{path}`: truncated data, expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The length the header implies, in bytes.
        expected: u64,
        /// The file's length, in bytes.
        found: u64,
    },
    /// A file is longer than its header says it should be.
    #[error("`{path}`: trailing data, expected {expected} bytes, found {found}")]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// The length the header implies, in bytes.
        expected: u64,
        /// The file's length, in bytes.
        found: u64,
    },
    /// The label file holds a different number of items than the image file.
    #[error(
        "`{labels_path}` holds {labels} labels but `{images_path}` holds {images} images: \
         the counts must match"
    )]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// The number of images.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// The number of labels.
        labels: usize,
    },
    /// A label is not one of the ten digit classes.
    #[error("`{path}`: label {label} of item {index} is out of range, expected 0 to 9")]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// The item holding the label.
        index: usize,
        /// The label found.
        label: u8,
    },
    /// A configuration or encoding setting outside its valid range.
    #[error("{context}: `{field}` must be {expected}, got {value}")]
    InvalidConfig {
        /// The configuration or encoding, such as `randman` or `Yin-Yang latency encoding`.
        context: &'static str,
        /// The setting's name.
        field: &'static str,
        /// The value given.
        value: String,
        /// What the setting accepts.
        expected: String,
    },
    /// An index past the end of a dataset.
    #[error("index {index} is out of range for a dataset of {len} samples")]
    IndexOutOfRange {
        /// The index asked for.
        index: usize,
        /// The dataset's length.
        len: usize,
    },
    /// A batch was requested with no samples in it.
    #[error("cannot batch zero samples")]
    EmptyBatch,
    /// Samples of one batch have different shapes.
    #[error(
        "sample {position} of the batch is [time {time}, inputs {inputs}], but sample 0 is \
         [time {expected_time}, inputs {expected_inputs}]"
    )]
    ShapeMismatch {
        /// The sample's position in the batch.
        position: usize,
        /// The sample's number of time steps.
        time: usize,
        /// The sample's number of inputs.
        inputs: usize,
        /// The first sample's number of time steps.
        expected_time: usize,
        /// The first sample's number of inputs.
        expected_inputs: usize,
    },
    /// A sample's values do not fill its declared `[time, inputs]` shape.
    #[error(
        "a sample of shape [time {time}, inputs {inputs}] needs {expected} values, got {found}"
    )]
    SampleLength {
        /// The declared number of time steps.
        time: usize,
        /// The declared number of inputs.
        inputs: usize,
        /// `time * inputs`.
        expected: usize,
        /// The number of values held.
        found: usize,
    },
    /// A dataset failed to produce an item.
    #[error("cannot get item {index} of the dataset: {source}")]
    Item {
        /// The index asked for.
        index: usize,
        /// The dataset's error.
        source: DatasetError,
    },
}

impl DataError {
    /// An [`InvalidConfig`](DataError::InvalidConfig) error.
    pub(crate) fn invalid(
        context: &'static str,
        field: &'static str,
        value: impl ToString,
        expected: impl ToString,
    ) -> Self {
        Self::InvalidConfig {
            context,
            field,
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }
}
