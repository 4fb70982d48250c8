//! Independent random streams derived from one user seed.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// The golden-ratio increment of the SplitMix64 generator.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Derives the seed of stream `stream` from a user seed.
///
/// Both words pass through the SplitMix64 output function (Steele, Lea and Flood 2014), so
/// neighbouring seeds and neighbouring streams give unrelated values.
pub(crate) fn derive_seed(seed: u64, stream: u64) -> u64 {
    let first = mix(seed.wrapping_add(GOLDEN_GAMMA));

    mix(first ^ stream.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA))
}

/// A generator for stream `stream` of the user seed `seed`.
pub(crate) fn stream_rng(seed: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(derive_seed(seed, stream))
}

/// The SplitMix64 output function: a bijection of `u64` with good avalanche.
fn mix(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);

    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_from_each_other_and_from_other_seeds() {
        let mut seen = std::collections::HashSet::new();
        for seed in 0..20 {
            for stream in 0..20 {
                assert!(
                    seen.insert(derive_seed(seed, stream)),
                    "collision at {seed}, {stream}"
                );
            }
        }
    }

    #[test]
    fn derivation_is_a_pure_function() {
        assert_eq!(derive_seed(7, 3), derive_seed(7, 3));
        assert_ne!(derive_seed(7, 3), derive_seed(3, 7));
    }
}
