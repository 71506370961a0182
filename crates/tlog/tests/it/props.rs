//! Property tests: generated proofs verify, and any single change to what is verified makes
//! verification fail.
//!
//! One exception is inherent to RFC 9162 and is tested as such: a proof does not authenticate the
//! tree size on its own. When another size gives the proof the same shape (index 0 in trees of 3
//! and 4 leaves: two right siblings each), the same hashes lead to the same root, so
//! `(other size, root)` verifies. That pair is never a real tree head: the real root at the other
//! size differs (a leaf hash cannot equal a node hash), and against it the proof fails. Sizes
//! therefore have to come from a signed checkpoint together with their root, which is how the
//! crate's callers get them.

use std::sync::OnceLock;

use proptest::prelude::*;
use tlog::{
    consistency_proof, inclusion_proof, leaf_hash, verify_consistency, verify_inclusion, Hash,
    HashReader, MemoryTree,
};

const MAX_SIZE: u64 = 2000;

/// One tree serves every size: a proof for size `n` only reads nodes complete within `[0, n)`.
fn tree() -> &'static MemoryTree {
    static TREE: OnceLock<MemoryTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut t = MemoryTree::new();
        for i in 0..MAX_SIZE {
            t.append(leaf_hash(&i.to_be_bytes()));
        }
        t
    })
}

fn root(size: u64) -> Hash {
    tree().root_at(size).expect("size within the tree")
}

/// Every variant of `h` with exactly one bit flipped.
fn flips(h: &Hash) -> impl Iterator<Item = Hash> + '_ {
    (0..256).map(move |bit| {
        let mut x = *h;
        x[bit / 8] ^= 1 << (bit % 8);
        x
    })
}

/// Other values near and far from `v` within `lo..hi`.
fn others(v: u64, lo: u64, hi: u64, random: u64) -> Vec<u64> {
    let mut out = vec![v.wrapping_sub(1), v + 1, v ^ 1, v ^ 2, v * 2, v / 2];
    if hi > lo {
        out.push(lo + random % (hi - lo));
    }
    out.retain(|x| *x != v && (lo..hi).contains(x));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn inclusion_proofs_verify_and_detect_tampering(
        (size, index) in (1..MAX_SIZE).prop_flat_map(|n| (Just(n), 0..n)),
        random in any::<u64>(),
    ) {
        let t = tree();
        let root = root(size);
        let leaf = t.hash_at(0, index).expect("leaf stored");
        let proof = inclusion_proof(t, index, size).expect("index below size");
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));

        for i in 0..proof.len() {
            for h in flips(&proof[i]) {
                let mut p = proof.clone();
                p[i] = h;
                prop_assert!(verify_inclusion(&leaf, index, size, &p, &root).is_err());
            }
        }
        for r in flips(&root) {
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &r).is_err());
        }
        for l in flips(&leaf) {
            prop_assert!(verify_inclusion(&l, index, size, &proof, &root).is_err());
        }
        for i in others(index, 0, size + 2, random) {
            prop_assert!(verify_inclusion(&leaf, i, size, &proof, &root).is_err(), "index {}", i);
        }
        for s in others(size, 0, MAX_SIZE + 1, random) {
            if verify_inclusion(&leaf, index, s, &proof, &root).is_ok() {
                prop_assert_ne!(tree().root_at(s), Some(root), "size {} has the same root", s);
            }
            if index < s {
                prop_assert!(
                    verify_inclusion(&leaf, index, s, &proof, &self::root(s)).is_err(),
                    "size {} with its own root", s
                );
            }
        }
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
        if !proof.is_empty() {
            let shorter = &proof[..proof.len() - 1];
            prop_assert!(verify_inclusion(&leaf, index, size, shorter, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_detect_tampering(
        (new, old) in (1..MAX_SIZE).prop_flat_map(|n| (Just(n), 1..=n)),
        random in any::<u64>(),
    ) {
        let t = tree();
        let (old_root, new_root) = (root(old), root(new));
        let proof = consistency_proof(t, old, new).expect("old within new");
        prop_assert_eq!(verify_consistency(old, new, &old_root, &new_root, &proof), Ok(()));

        for i in 0..proof.len() {
            for h in flips(&proof[i]) {
                let mut p = proof.clone();
                p[i] = h;
                prop_assert!(verify_consistency(old, new, &old_root, &new_root, &p).is_err());
            }
        }
        for r in flips(&old_root) {
            prop_assert!(verify_consistency(old, new, &r, &new_root, &proof).is_err());
        }
        for r in flips(&new_root) {
            prop_assert!(verify_consistency(old, new, &old_root, &r, &proof).is_err());
        }
        for o in others(old, 0, new + 2, random) {
            if verify_consistency(o, new, &old_root, &new_root, &proof).is_ok() {
                prop_assert_ne!(tree().root_at(o), Some(old_root), "old size {} has the same root", o);
            }
            if (1..=new).contains(&o) {
                prop_assert!(
                    verify_consistency(o, new, &root(o), &new_root, &proof).is_err(),
                    "old size {} with its own root", o
                );
            }
        }
        for n in others(new, 0, MAX_SIZE + 1, random) {
            if verify_consistency(old, n, &old_root, &new_root, &proof).is_ok() {
                prop_assert_ne!(tree().root_at(n), Some(new_root), "new size {} has the same root", n);
            }
            if n >= old {
                prop_assert!(
                    verify_consistency(old, n, &old_root, &root(n), &proof).is_err(),
                    "new size {} with its own root", n
                );
            }
        }
        let mut longer = proof.clone();
        longer.push(new_root);
        prop_assert!(verify_consistency(old, new, &old_root, &new_root, &longer).is_err());
        if !proof.is_empty() {
            let shorter = &proof[..proof.len() - 1];
            prop_assert!(verify_consistency(old, new, &old_root, &new_root, shorter).is_err());
        }
    }
}
