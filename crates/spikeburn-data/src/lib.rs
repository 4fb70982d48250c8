#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
pub mod mnist;
pub mod randman;
mod sample;
mod seed;
pub mod yin_yang;

pub use error::DataError;
pub use mnist::{ImageEncoding, Mnist, MnistDataset, MnistSplit};
pub use randman::{Randman, RandmanConfig, RandmanDataset, RandmanSample, RandmanSplits};
pub use sample::{SpikeBatch, SpikeBatcher, SpikeSample};
pub use yin_yang::{
    YinYang, YinYangClass, YinYangDataset, YinYangEncoding, YinYangPoint, YinYangSplits,
    yin_yang_splits,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<DataError>();
        check::<SpikeSample>();
        check::<SpikeBatch>();
        check::<SpikeBatcher>();
        check::<YinYangDataset>();
        check::<RandmanDataset>();
        check::<MnistDataset>();
    }
}
