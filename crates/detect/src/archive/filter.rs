//! The value filters of blocks and segments: which (organisation, string value) pairs may occur
//! in them. A Bloom filter with `k` probes by double hashing over one 64-bit hash.
//!
//! The hash is part of the segment format: it must give the same bits on every machine and in
//! every release, so it is written here rather than taken from a hasher that may change or be
//! seeded.

use kawal_core::model::OrgId;

/// Filter bits per distinct value: about 1 % false positives with 7 probes.
const BITS_PER_VALUE: usize = 10;
const PROBES: u8 = 7;

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The filter key of a string value seen in an organisation's event.
pub fn value_hash(owner: OrgId, value: &[u8]) -> u64 {
    let mut h = mix((owner as u64) ^ 0x6b61_7761_6c00_0001);
    let mut chunks = value.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(MULTIPLIER)
            .rotate_left(31);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(MULTIPLIER);
    mix(h ^ value.len() as u64)
}

/// A Bloom filter. No words means "unknown": everything may be present (a segment recovered
/// after a crash has block filters but no segment filter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bloom {
    words: Vec<u64>,
    probes: u8,
}

impl Bloom {
    /// A filter holding these keys, sized for them.
    pub fn build(keys: &[u64]) -> Bloom {
        let bits = (keys.len() * BITS_PER_VALUE).max(64);
        let mut bloom = Bloom {
            words: vec![0; bits.div_ceil(64)],
            probes: PROBES,
        };
        for &key in keys {
            bloom.insert(key);
        }
        bloom
    }

    pub fn unknown() -> Bloom {
        Bloom {
            words: Vec::new(),
            probes: 0,
        }
    }

    pub fn from_parts(words: Vec<u64>, probes: u8) -> Bloom {
        Bloom { words, probes }
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn probes(&self) -> u8 {
        self.probes
    }

    fn positions(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let bits = (self.words.len() * 64) as u64;
        let (first, step) = (key & 0xffff_ffff, (key >> 32) | 1);
        (0..u64::from(self.probes)).map(move |i| {
            let spread = first.wrapping_add(i.wrapping_mul(step)) & 0xffff_ffff;
            // Multiply-shift maps a 32-bit value onto [0, bits) without a division; in 128
            // bits, since a damaged file may claim a filter of any size.
            ((u128::from(spread) * u128::from(bits)) >> 32) as usize
        })
    }

    fn insert(&mut self, key: u64) {
        if self.words.is_empty() {
            return;
        }
        let positions: Vec<usize> = self.positions(key).collect();
        for bit in positions {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
    }

    pub fn may_contain(&self, key: u64) -> bool {
        if self.words.is_empty() {
            return true;
        }
        self.positions(key)
            .all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_found_and_strangers_mostly_not() {
        let keys: Vec<u64> = (0..5000u64)
            .map(|i| value_hash(7, format!("198.51.{}.{}", i / 256, i % 256).as_bytes()))
            .collect();
        let bloom = Bloom::build(&keys);
        assert!(keys.iter().all(|k| bloom.may_contain(*k)));
        let strangers = (0..10_000u64)
            .filter(|i| bloom.may_contain(value_hash(7, format!("stranger-{i}").as_bytes())))
            .count();
        assert!(strangers < 300, "{strangers} false positives in 10,000");
        // The same value of another organisation is another key.
        let other = (0..5000u64)
            .filter(|i| {
                bloom.may_contain(value_hash(
                    8,
                    format!("198.51.{}.{}", i / 256, i % 256).as_bytes(),
                ))
            })
            .count();
        assert!(other < 150, "{other} false positives across organisations");
    }

    #[test]
    fn the_hash_is_stable() {
        // Written into every segment: changing it needs a new format version.
        assert_eq!(value_hash(1, b""), value_hash(1, b""));
        assert_ne!(value_hash(1, b"a"), value_hash(2, b"a"));
        assert_ne!(value_hash(1, b"a"), value_hash(1, b"a\0"));
        assert_eq!(value_hash(42, b"198.51.100.7"), 0x81d5_3768_9ade_0c25);
    }
}
