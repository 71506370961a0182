//! Appending, reading back, rotation, crash recovery and retention.

use std::time::Duration;

use detect::archive::{Archive, ArchiveConfig, Retention, Scope};
use detect::EncodedEvents;
use stix::Timestamp;

use crate::pool::*;

#[test]
fn events_read_back_as_appended_across_rotations_and_reopening() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Three owners, one event a minute over ten hours: several windows, many blocks.
    let events = events(600, T0, 60_000_000, &[1, 2, 3], 7);
    {
        let archive = Archive::open(dir.path(), small_config())?;
        for chunk in events.chunks(37) {
            archive.append_batch(chunk)?;
        }
        archive.flush()?;
        for owner in [1, 2, 3] {
            let expected: Vec<_> = events
                .iter()
                .filter(|e| e.owner == owner)
                .cloned()
                .collect();
            assert_eq!(read_all(&archive, &everything(owner))?, expected);
        }
        let stats = archive.stats();
        assert_eq!(stats.events, 600);
        assert!(stats.segments >= 10, "{} segments", stats.segments);
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 10);
    // Named after their window: the day, then the hour.
    let first = files[0]
        .strip_prefix(dir.path())?
        .to_string_lossy()
        .into_owned();
    assert!(first.starts_with("2026-01-01/00-"), "{first}");

    let archive = Archive::open(dir.path(), small_config())?;
    assert!(archive.report().recovered.is_empty());
    assert!(archive.report().damaged.is_empty());
    for owner in [1, 2, 3] {
        let expected: Vec<_> = events
            .iter()
            .filter(|e| e.owner == owner)
            .cloned()
            .collect();
        assert_eq!(read_all(&archive, &everything(owner))?, expected);
    }
    // Appending after reopening continues in new segments.
    let more = crate::pool::events(50, T0 + 11 * HOUR, 1_000_000, &[1], 8);
    archive.append_batch(&more)?;
    archive.flush()?;
    let all = read_all(&archive, &everything(1))?;
    assert_eq!(all.len(), 200 + 50);
    assert_eq!(all[200..], more[..]);
    Ok(())
}

#[test]
fn segments_rotate_by_size_within_one_window() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    // One event a millisecond: all in one hour, far more than one segment's worth.
    archive.append_batch(&events(2000, T0, 1000, &[1], 3))?;
    archive.close()?;
    let files = segment_files(dir.path());
    assert!(files.len() > 3, "{} segments", files.len());
    for file in &files {
        // A segment may pass the size by at most one block and its footer.
        assert!(std::fs::metadata(file)?.len() < (16 << 10) + 8192);
    }
    Ok(())
}

#[test]
fn late_events_stay_in_the_current_segment_and_time_bounds_still_find_them() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), ArchiveConfig::default())?;
    let mut stream = events(10, T0 + 5 * HOUR, 1_000_000, &[1], 1);
    // Two hours late.
    stream[5].at = Timestamp::from_micros(T0 + 3 * HOUR);
    archive.append_batch(&stream)?;
    archive.close()?;
    assert_eq!(segment_files(dir.path()).len(), 1);
    let late = Scope {
        owner: 1,
        since: Timestamp::from_micros(T0 + 3 * HOUR),
        until: Timestamp::from_micros(T0 + 4 * HOUR),
    };
    assert_eq!(read_all(&archive, &late)?, vec![stream[5].clone()]);
    Ok(())
}

/// The segment being written when the process stopped, and the events flushed before.
fn crashed_archive(
    dir: &std::path::Path,
) -> anyhow::Result<(Vec<detect::ArchivedEvent>, std::path::PathBuf)> {
    let archive = Archive::open(dir, small_config())?;
    let stream = events(60, T0, 1_000_000, &[1, 2], 11);
    archive.append_batch(&stream)?;
    archive.flush()?;
    // The process dies: nothing is sealed or flushed again.
    std::mem::forget(archive);
    let last = segment_files(dir)
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no segment"))?;
    Ok((stream, last))
}

#[test]
fn a_torn_tail_is_dropped_and_everything_before_it_is_read() -> anyhow::Result<()> {
    let template = tempfile::tempdir()?;
    let (stream, last) = crashed_archive(template.path())?;
    let name = last.strip_prefix(template.path())?.to_owned();
    let whole = std::fs::read(&last)?;
    // Cut the open segment at every length: inside the header, a frame header, a meta
    // section, a payload.
    let mut survivors = 0;
    for cut in (0..whole.len())
        .step_by(7)
        .chain([whole.len() - 1, whole.len()])
    {
        let dir = tempfile::tempdir()?;
        copy_dir(template.path(), dir.path())?;
        std::fs::write(dir.path().join(&name), &whole[..cut])?;
        let archive = Archive::open(dir.path(), small_config())?;
        let mut read = read_all(&archive, &everything(1))?;
        read.extend(read_all(&archive, &everything(2))?);
        read.sort_by_key(|e| e.at);
        // What survives is a prefix of what was appended, and only the cut block is lost.
        assert_eq!(read[..], stream[..read.len()], "cut at {cut}");
        // A longer file never keeps fewer events; the whole file keeps them all.
        assert!(
            read.len() >= survivors,
            "cut at {cut}: {} after {survivors}, {:?}",
            read.len(),
            archive.report()
        );
        survivors = read.len();
        if cut == whole.len() {
            assert_eq!(read.len(), stream.len());
        }
        // Reopening again finds a sealed, intact archive.
        drop(archive);
        let archive = Archive::open(dir.path(), small_config())?;
        assert!(archive.report().recovered.is_empty(), "cut at {cut}");
        assert!(archive.report().damaged.is_empty(), "cut at {cut}");
    }
    Ok(())
}

#[test]
fn flushed_events_survive_a_crash_and_the_archive_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (stream, _) = crashed_archive(dir.path())?;
    let archive = Archive::open(dir.path(), small_config())?;
    assert_eq!(archive.report().recovered.len(), 1);
    let (_, dropped, _) = &archive.report().recovered[0];
    assert_eq!(*dropped, 0);
    let mut read = read_all(&archive, &everything(1))?;
    read.extend(read_all(&archive, &everything(2))?);
    read.sort_by_key(|e| e.at);
    assert_eq!(read, stream);
    let more = events(5, T0 + HOUR, 1, &[1], 2);
    archive.append_batch(&more)?;
    archive.flush()?;
    assert_eq!(read_all(&archive, &everything(1))?.len(), 30 + 5);
    Ok(())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[test]
fn retention_by_age_deletes_whole_old_segments() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ArchiveConfig {
        retention: Retention {
            max_age: Some(Duration::from_secs(3 * 24 * 3600)),
            max_bytes: None,
        },
        ..small_config()
    };
    let archive = Archive::open(dir.path(), config)?;
    // One event an hour for ten days.
    let stream = events(240, T0, HOUR, &[1], 5);
    archive.append_batch(&stream)?;
    archive.close()?;
    let before = archive.stats();
    let now = Timestamp::from_micros(T0 + 10 * DAY);
    let report = archive.enforce_retention(now)?;
    let cutoff = now.as_micros() - 3 * DAY;
    let kept = read_all(&archive, &everything(1))?;
    // Only whole segments go: everything older than the cutoff, nothing newer.
    assert!(kept.iter().all(|e| e.at.as_micros() >= cutoff - HOUR));
    assert!(stream
        .iter()
        .filter(|e| e.at.as_micros() >= cutoff)
        .all(|e| kept.contains(e)));
    assert_eq!(report.events_removed as usize, stream.len() - kept.len());
    assert_eq!(archive.stats().bytes, before.bytes - report.bytes_removed);
    // The days emptied are gone from the directory.
    assert!(!dir.path().join("2026-01-01").exists());
    assert!(dir.path().join("2026-01-10").exists());
    // Reopening sees the same.
    drop(archive);
    let archive = Archive::open(dir.path(), small_config())?;
    assert_eq!(read_all(&archive, &everything(1))?, kept);
    Ok(())
}

#[test]
fn retention_by_size_deletes_the_oldest_first() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    let stream = events(3000, T0, 10_000_000, &[1], 9);
    archive.append_batch(&stream)?;
    archive.close()?;
    let total = archive.stats().bytes;
    drop(archive);
    let limit = total / 3;
    let config = ArchiveConfig {
        retention: Retention {
            max_age: None,
            max_bytes: Some(limit),
        },
        ..small_config()
    };
    let archive = Archive::open(dir.path(), config)?;
    let report = archive.enforce_retention(Timestamp::from_micros(T0))?;
    assert!(report.segments_removed > 0);
    assert!(archive.stats().bytes <= limit);
    let kept = read_all(&archive, &everything(1))?;
    // The newest events are kept, in one piece.
    assert_eq!(kept[..], stream[stream.len() - kept.len()..]);
    assert!(!kept.is_empty());
    Ok(())
}

#[test]
fn each_owner_reads_only_its_own_events() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    let stream = events(300, T0, 1_000_000, &[10, 20, 30], 4);
    archive.append_batch(&stream)?;
    archive.flush()?;
    for owner in [10, 20, 30] {
        let read = read_all(&archive, &everything(owner))?;
        assert_eq!(read.len(), 100);
        assert!(read.iter().all(|e| e.owner == owner));
    }
    assert!(read_all(&archive, &everything(40))?.is_empty());
    Ok(())
}

#[test]
fn invalid_events_and_configurations_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bad = ArchiveConfig {
        block_bytes: 0,
        ..ArchiveConfig::default()
    };
    let err = Archive::open(dir.path(), bad).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("invalid archive configuration: block_bytes must be between 1 and 16777216 (is 0)")
    );
    let archive = Archive::open(dir.path(), small_config())?;
    let mut event = events(1, T0, 1, &[1], 1).remove(0);
    event.source = "x".repeat(70_000);
    let err = archive.append(&event).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("event source is 70000 bytes long; at most 65535 are kept")
    );
    Ok(())
}

#[test]
fn an_event_too_large_is_refused_and_its_neighbours_archived() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    let mut stream = events(3, T0, 1_000_000, &[1], 1);
    stream[1].objects = vec![serde_json::json!({
        "type": "url",
        "value": "x".repeat(detect::archive::MAX_EVENT_BYTES),
    })];
    let mut encoded = EncodedEvents::default();
    for (i, event) in stream.iter().enumerate() {
        let pushed = encoded.push(event.at, event.owner, &event.source, &event.objects);
        match pushed {
            Ok(()) => assert_ne!(i, 1),
            Err(e) => {
                assert_eq!(i, 1);
                assert!(e.to_string().contains("bytes"), "{e}");
            }
        }
    }
    assert_eq!(encoded.len(), 2);
    archive.append_encoded(&encoded)?;
    archive.flush()?;
    let read = read_all(&archive, &everything(1))?;
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].objects, stream[0].objects);
    assert_eq!(read[1].objects, stream[2].objects);
    Ok(())
}

#[test]
fn another_process_reads_the_archive_without_disturbing_the_writer() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let archive = Archive::open(dir.path(), small_config())?;
    let stream = events(400, T0, 1_000_000, &[1], 6);
    archive.append_batch(&stream[..300])?;
    archive.flush()?;
    let files = segment_files(dir.path());
    let before: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;

    // The reader sees every flushed event, the open segment's included, and writes nothing.
    let (snapshot, report) = detect::Snapshot::load(dir.path())?;
    assert!(report.damaged.is_empty());
    let mut seen = Vec::new();
    snapshot.read(&everything(1), |e| {
        seen.push(e);
        std::ops::ControlFlow::Continue(())
    })?;
    assert_eq!(seen, stream[..300]);
    let after: Vec<Vec<u8>> = files.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    assert_eq!(before, after);

    // The writer goes on as if nothing happened.
    archive.append_batch(&stream[300..])?;
    archive.close()?;
    let (snapshot, _) = detect::Snapshot::load(dir.path())?;
    let mut seen = Vec::new();
    snapshot.read(&everything(1), |e| {
        seen.push(e);
        std::ops::ControlFlow::Continue(())
    })?;
    assert_eq!(seen, stream);
    assert!(Archive::open(dir.path(), small_config())?
        .report()
        .recovered
        .is_empty());
    Ok(())
}
