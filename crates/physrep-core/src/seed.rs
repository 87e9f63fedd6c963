//! SplitMix64 (Steele, Lea & Flood 2014; the finaliser is Stafford's "variant 13"): the one mixing
//! function behind every derived seed in physrep (window noise, per-micro-batch objective seeds,
//! probe epoch orders, per-trajectory simulation seeds). Reimplementing it per crate let the copies
//! drift; all derivations now call these two functions, and their outputs are unchanged bit for bit.

/// SplitMix64's increment, ⌊2⁶⁴/φ⌋ (odd): successive states are spaced by it.
pub const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The finaliser: a bijection of `u64` whose output bits each depend on every input bit.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `z`: `mix64(z + GAMMA)`.
pub fn splitmix64(z: u64) -> u64 {
    mix64(z.wrapping_add(GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference outputs of SplitMix64 seeded with 1234567 (Vigna's `splitmix64.c`): the state
    /// advances by GAMMA and each output is the finaliser of the new state.
    #[test]
    fn matches_the_reference_sequence() {
        let mut state: u64 = 1_234_567;
        let mut next = || {
            let out = splitmix64(state);
            state = state.wrapping_add(GAMMA);
            out
        };
        assert_eq!(next(), 6_457_827_717_110_365_317);
        assert_eq!(next(), 3_203_168_211_198_807_973);
        assert_eq!(next(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn the_finaliser_is_a_bijection_on_a_sample() {
        let outs: std::collections::HashSet<u64> = (0..10_000u64).map(mix64).collect();
        assert_eq!(outs.len(), 10_000);
        assert_eq!(mix64(0), 0);
    }
}
