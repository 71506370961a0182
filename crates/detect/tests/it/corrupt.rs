//! Damaged segment files give errors or reports, never panics.

use std::ops::ControlFlow;
use std::path::Path;

use detect::archive::Archive;
use detect::hunt::{HuntHit, Hunter};
use proptest::prelude::*;

use crate::pool::*;

/// Loads, opens, reads and hunts over whatever is in `dir`; any outcome but a panic is
/// acceptable.
fn exercise(dir: &Path) {
    if let Ok((snapshot, _)) = detect::Snapshot::load(dir) {
        let _ = snapshot.read(&everything(1), |_| ControlFlow::Continue(()));
        let mut hunter = Hunter::new();
        if hunter
            .add_pattern("[ipv4-addr:value ISSUBSET '198.51.100.0/24']")
            .is_ok()
        {
            let _ = hunter.run(&snapshot, &everything(2), &mut |_: HuntHit| {
                ControlFlow::Continue(())
            });
        }
    }
    let Ok(archive) = Archive::open(dir, small_config()) else {
        return;
    };
    for owner in [1, 2] {
        let _ = read_all(&archive, &everything(owner));
        for pattern in [
            "[ipv4-addr:value = '198.51.100.7']",
            "[network-traffic:dst_port > 100]",
            "[domain-name:value = 'a'] FOLLOWEDBY [ipv4-addr:value = '10.1.2.3']",
        ] {
            let mut hunter = Hunter::new();
            if hunter.add_pattern(pattern).is_ok() {
                let _ = hunter.run(
                    &archive.snapshot(),
                    &everything(owner),
                    &mut |_: HuntHit| ControlFlow::Continue(()),
                );
            }
        }
    }
    let _ = archive.enforce_retention_now();
}

/// A small archive: sealed segments, and the last one left open as by a crash.
fn template() -> anyhow::Result<(tempfile::TempDir, Vec<Vec<u8>>)> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    archive.append_batch(&events(120, T0, 1_000_000, &[1, 2], 31))?;
    archive.flush()?;
    std::mem::forget(archive);
    let files = segment_files(dir.path())
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;
    Ok((dir, files))
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, mask: u8 },
    Overwrite { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Damage::Overwrite { at, bytes }),
        any::<usize>().prop_map(|at| Damage::Truncate { at }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..40))
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, damage: &Damage) {
    if bytes.is_empty() {
        return;
    }
    match damage {
        Damage::Flip { at, mask } => {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
        Damage::Overwrite { at, bytes: new } => {
            let i = at % bytes.len();
            for (j, b) in new.iter().enumerate() {
                if let Some(slot) = bytes.get_mut(i + j) {
                    *slot = *b;
                }
            }
        }
        Damage::Truncate { at } => bytes.truncate(at % bytes.len()),
        Damage::Insert { at, bytes: new } => {
            let i = at % bytes.len();
            bytes.splice(i..i, new.iter().copied());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn damaged_segments_never_panic(
        which in any::<usize>(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let (template, files) = template().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let paths = segment_files(template.path());
        prop_assume!(!paths.is_empty());
        let i = which % paths.len();
        let mut bytes = files[i].clone();
        for d in &damages {
            apply(&mut bytes, d);
        }
        std::fs::write(&paths[i], &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        exercise(template.path());
        // And again, after whatever the first opening repaired or sealed.
        exercise(template.path());
    }

    #[test]
    fn arbitrary_bytes_as_a_segment_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let day = dir.path().join("2026-01-01");
        std::fs::create_dir_all(&day).map_err(|e| TestCaseError::fail(e.to_string()))?;
        std::fs::write(day.join("00-0000000001.seg"), &bytes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        exercise(dir.path());
    }
}

#[test]
fn a_flipped_bit_in_a_sealed_block_is_reported_and_the_rest_is_hunted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    let stream = events(300, T0, 1_000_000, &[1], 12);
    archive.append_batch(&stream)?;
    archive.close()?;
    drop(archive);
    let first = segment_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&first)?;
    // Inside the first block's payload.
    bytes[200] ^= 0x40;
    std::fs::write(&first, bytes)?;

    let archive = Archive::open(dir.path(), small_config())?;
    let err = read_all(&archive, &everything(1))
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("block checksum does not match")),
        "{err:?}"
    );
    let mut hunter = Hunter::new();
    hunter.add_pattern("[network-traffic:dst_port > 0]")?;
    let mut hits = 0;
    let summary = hunter.run(&archive.snapshot(), &everything(1), &mut |_: HuntHit| {
        hits += 1;
        ControlFlow::Continue(())
    })?;
    assert_eq!(summary.damaged.len(), 1, "{:?}", summary.damaged);
    assert!(summary.damaged[0].reason.contains("checksum"));
    assert!(hits > 250 && hits < 300, "{hits}");
    Ok(())
}
