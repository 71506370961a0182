//! Generated proofs against a direct transcription of the recursive definitions
//! (RFC 9162 §2.1.1 MTH, §2.1.3.1 PATH, §2.1.4.1 PROOF, and SUBTREE_PROOF of
//! draft-ietf-plants-merkle-tree-certs §4.4.1), over every index and size up to a bound.

use tlog::proof::{
    root_from_subtree_inclusion_proof, subtree_consistency_proof, subtree_inclusion_proof,
    verify_subtree_consistency, verify_subtree_inclusion,
};
use tlog::tree::root_at;
use tlog::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, verify_consistency, verify_inclusion,
    Frontier, Hash, MemoryTree, Subtree, EMPTY_ROOT,
};

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = split(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n <= 1 {
        return vec![];
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn subtree_subproof(start: usize, end: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if start == 0 && end == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = split(n);
    let mut p = if end <= k {
        subtree_subproof(start, end, &d[..k], b)
    } else if k <= start {
        subtree_subproof(start - k, end - k, &d[k..], b)
    } else {
        subtree_subproof(0, end - k, &d[k..], false)
    };
    p.push(if end <= k { mth(&d[k..]) } else { mth(&d[..k]) });
    p
}

fn memory_tree(d: &[Hash]) -> MemoryTree {
    let mut t = MemoryTree::new();
    for h in d {
        t.append(*h);
    }
    t
}

#[test]
fn roots_inclusion_and_consistency_match_the_definitions() {
    const N: u64 = 70;
    let all = leaves(N);
    let t = memory_tree(&all);
    let mut f = Frontier::new();
    for size in 1..=N as usize {
        f.append(all[size - 1]).expect("room to grow");
        let d = &all[..size];
        let root = mth(d);
        assert_eq!(f.root(), root, "frontier root at {size}");
        assert_eq!(
            root_at(&t, size as u64).ok(),
            Some(root),
            "stored root at {size}"
        );
        for m in 0..size {
            let want = path(m, d);
            let got = inclusion_proof(&t, m as u64, size as u64).expect("in range");
            assert_eq!(got, want, "PATH({m}, D[{size}])");
            verify_inclusion(&d[m], m as u64, size as u64, &got, &root).expect("verifies");
        }
        for m in 1..=size {
            let want = if m == size {
                vec![]
            } else {
                subproof(m, d, true)
            };
            let got = consistency_proof(&t, m as u64, size as u64).expect("in range");
            assert_eq!(got, want, "PROOF({m}, D[{size}])");
            verify_consistency(m as u64, size as u64, &mth(&d[..m]), &root, &got)
                .expect("verifies");
        }
    }
}

#[test]
fn subtree_proofs_match_the_definitions() {
    const N: usize = 40;
    let all = leaves(N as u64);
    let t = memory_tree(&all);
    let mut checked = 0;
    for size in 1..=N {
        let d = &all[..size];
        let root = mth(d);
        for start in 0..size {
            for end in start + 1..=size {
                let sub = Subtree::new(start as u64, end as u64);
                if !sub.is_valid() {
                    assert!(subtree_consistency_proof(&t, sub, size as u64).is_err());
                    continue;
                }
                let hash = mth(&d[start..end]);
                let want = subtree_subproof(start, end, d, true);
                let got = subtree_consistency_proof(&t, sub, size as u64).expect("valid");
                assert_eq!(got, want, "SUBTREE_PROOF({start}, {end}, D[{size}])");
                verify_subtree_consistency(sub, size as u64, &got, &hash, &root).expect("verifies");
                if size == N {
                    for i in start..end {
                        let p = subtree_inclusion_proof(&t, i as u64, sub).expect("in range");
                        assert_eq!(p, path(i - start, &d[start..end]));
                        verify_subtree_inclusion(&d[i], i as u64, sub, &p, &hash)
                            .expect("verifies");
                        assert_eq!(
                            root_from_subtree_inclusion_proof(&d[i], i as u64, sub, &p),
                            Ok(hash)
                        );
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "only {checked} subtrees checked");
}
