//! The segment file format (version 1). All integers are little-endian.
//!
//! ```text
//! segment  = header block* [footer]
//! header   = "KWSEG\0\0\x01" version:u32 reserved:u32 seq:u64 window_start:i64      (32 bytes)
//! block    = "KBLK" meta_len:u32 payload_len:u32 crc32(meta ++ payload):u32 meta payload
//! meta     = events:u32 raw_len:u32 min_at:i64 max_at:i64
//!            owners:u16 owner:i64* probes:u8 words:u32 word:u64*                (the value filter)
//! payload  = LZ4 block of records
//! record   = at:i64 owner:i64 source_len:u16 count:u16 objects_len:u32 source object*
//! object   = type_len:u16 json_len:u32 type json         (type: the object's `type`, or empty)
//! footer   = entry* probes:u8 word:u64* summary trailer
//! entry    = offset:u64 meta_len:u32 payload_len:u32 events:u32 min_at:i64 max_at:i64   (36 bytes)
//! summary  = events:u64 min_at:i64 max_at:i64 entries_offset:u64 entries_len:u32
//!            filter_offset:u64 filter_len:u32 owners:u32 owner:i64*
//! trailer  = summary_len:u32 crc32(summary):u32 crc32(entries ++ filter):u32 0:u32 "KWSEALED"
//! ```
//!
//! A segment without a valid trailer was being written when the process stopped: its blocks
//! are read one by one from the header on, and the first whose frame is incomplete or whose
//! checksum fails ends it. Every length read from a file is checked against the file and
//! against fixed bounds before anything is allocated for it.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use kawal_core::model::OrgId;
use serde_json::Value;

use super::filter::Bloom;

pub const SEGMENT_MAGIC: [u8; 8] = *b"KWSEG\0\0\x01";
pub const FORMAT_VERSION: u32 = 1;
pub const HEADER_LEN: u64 = 32;
const BLOCK_MAGIC: [u8; 4] = *b"KBLK";
pub const FRAME_HEADER_LEN: u64 = 16;
const TRAILER_MAGIC: [u8; 8] = *b"KWSEALED";
const TRAILER_LEN: u64 = 24;
const ENTRY_LEN: usize = 36;
/// Bounds on what a block may hold, so that a damaged length cannot ask for gigabytes.
pub const MAX_BLOCK_RAW: usize = 64 << 20;
const MAX_META: usize = 16 << 20;
const MAX_SUMMARY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("at byte {offset}: {reason}")]
    Corrupt {
        offset: u64,
        reason: Cow<'static, str>,
    },
}

fn corrupt(offset: u64, reason: impl Into<Cow<'static, str>>) -> ReadError {
    ReadError::Corrupt {
        offset,
        reason: reason.into(),
    }
}

/// Positional reads, over files and over bytes in memory alike.
pub trait ReadAt {
    fn size(&self) -> io::Result<u64>;
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

impl ReadAt for File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut file = self;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
        {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// Reads `len` bytes at `offset`, refusing lengths past the end of the source.
fn read_vec<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    len: usize,
    size: u64,
) -> Result<Vec<u8>, ReadError> {
    if offset.checked_add(len as u64).is_none_or(|end| end > size) {
        return Err(corrupt(
            offset,
            format!("{len} bytes run past the end of the file"),
        ));
    }
    let mut buf = vec![0; len];
    source.read_at(offset, &mut buf)?;
    Ok(buf)
}

/// A cursor over bytes that reports where it ran out instead of panicking.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Where `bytes` starts in the file, for error offsets.
    base: u64,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], base: u64) -> Self {
        Cursor {
            bytes,
            pos: 0,
            base,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ReadError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(corrupt(
                self.base + self.pos as u64,
                format!("{what} is cut short"),
            )),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ReadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, ReadError> {
        Ok(self.array::<1>(what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, ReadError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, ReadError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn finish(&self, what: &'static str) -> Result<(), ReadError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(corrupt(self.offset(), format!("{what} has trailing bytes")))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub seq: u64,
    pub window_start: i64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut out = [0u8; HEADER_LEN as usize];
        out[..8].copy_from_slice(&SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[16..24].copy_from_slice(&self.seq.to_le_bytes());
        out[24..32].copy_from_slice(&self.window_start.to_le_bytes());
        out
    }

    pub fn read<R: ReadAt + ?Sized>(source: &R) -> Result<SegmentHeader, ReadError> {
        let size = source.size()?;
        let bytes = read_vec(source, 0, HEADER_LEN as usize, size)?;
        let mut c = Cursor::new(&bytes, 0);
        if c.array::<8>("magic")? != SEGMENT_MAGIC {
            return Err(corrupt(0, "not a Kawal archive segment (bad magic)"));
        }
        let version = c.u32("version")?;
        if version != FORMAT_VERSION {
            return Err(corrupt(
                8,
                format!("segment format version {version} is unknown"),
            ));
        }
        c.u32("reserved")?;
        Ok(SegmentHeader {
            seq: c.u64("sequence number")?,
            window_start: c.i64("window start")?,
        })
    }
}

/// Where a block is and what it covers: what the footer lists for each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockIndex {
    pub offset: u64,
    pub meta_len: u32,
    pub payload_len: u32,
    pub events: u32,
    pub min_at: i64,
    pub max_at: i64,
}

impl BlockIndex {
    pub fn frame_len(&self) -> u64 {
        FRAME_HEADER_LEN + u64::from(self.meta_len) + u64::from(self.payload_len)
    }
}

/// What a block's meta section says: its owners and its value filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMeta {
    pub events: u32,
    pub raw_len: u32,
    pub min_at: i64,
    pub max_at: i64,
    pub owners: Vec<OrgId>,
    pub filter: Bloom,
}

impl BlockMeta {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.events.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        out.extend_from_slice(&self.min_at.to_le_bytes());
        out.extend_from_slice(&self.max_at.to_le_bytes());
        out.extend_from_slice(&(self.owners.len() as u16).to_le_bytes());
        for owner in &self.owners {
            out.extend_from_slice(&owner.to_le_bytes());
        }
        encode_filter(&self.filter, out);
    }

    fn decode(bytes: &[u8], base: u64) -> Result<BlockMeta, ReadError> {
        let mut c = Cursor::new(bytes, base);
        let events = c.u32("event count")?;
        let raw_len = c.u32("raw length")?;
        if raw_len as usize > MAX_BLOCK_RAW {
            return Err(corrupt(
                base + 4,
                format!("raw length {raw_len} exceeds the bound"),
            ));
        }
        let min_at = c.i64("earliest time")?;
        let max_at = c.i64("latest time")?;
        if min_at > max_at {
            return Err(corrupt(base + 8, "earliest time after latest time"));
        }
        let owner_count = c.u16("owner count")?;
        let mut owners = Vec::with_capacity(usize::from(owner_count));
        for _ in 0..owner_count {
            owners.push(c.i64("owner")?);
        }
        let filter = decode_filter(&mut c)?;
        c.finish("block meta")?;
        Ok(BlockMeta {
            events,
            raw_len,
            min_at,
            max_at,
            owners,
            filter,
        })
    }
}

fn encode_filter(filter: &Bloom, out: &mut Vec<u8>) {
    out.push(filter.probes());
    out.extend_from_slice(&(filter.words().len() as u32).to_le_bytes());
    for word in filter.words() {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

fn decode_filter(c: &mut Cursor<'_>) -> Result<Bloom, ReadError> {
    let probes = c.u8("filter probes")?;
    let at = c.offset();
    let count = c.u32("filter size")? as usize;
    let bytes = c.take(count.saturating_mul(8), "value filter")?;
    if count > 0 && probes == 0 {
        return Err(corrupt(at, "a value filter with no probes"));
    }
    let words = bytes
        .chunks_exact(8)
        .map(|w| {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            u64::from_le_bytes(word)
        })
        .collect();
    Ok(Bloom::from_parts(words, probes))
}

/// LZ4's acceleration for blocks: with 4, a fifth more events are appended per CPU second
/// than with `lz4_flex`'s encoder, for 4 % more bytes on disk (the archive benchmark in
/// docs/benchmarks.md).
const LZ4_ACCELERATION: i32 = 4;

/// A block's records in the LZ4 block format, which [`Frame::decompress`] reads. LZ4 refuses
/// only inputs beyond 2 GB; a block holds at most [`MAX_BLOCK_RAW`].
fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mode = Some(lz4::block::CompressionMode::FAST(LZ4_ACCELERATION));
    lz4::block::compress(raw, mode, false)
}

/// One encoded block frame, ready to append, and the lengths of its sections.
pub struct EncodedBlock {
    pub frame: Vec<u8>,
    pub meta_len: u32,
    pub payload_len: u32,
}

pub fn encode_block(raw: &[u8], meta: &BlockMeta) -> std::io::Result<EncodedBlock> {
    let mut meta_bytes = Vec::with_capacity(64 + meta.filter.words().len() * 8);
    meta.encode(&mut meta_bytes);
    let payload = compress(raw)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&meta_bytes);
    crc.update(&payload);
    let mut frame =
        Vec::with_capacity(FRAME_HEADER_LEN as usize + meta_bytes.len() + payload.len());
    frame.extend_from_slice(&BLOCK_MAGIC);
    frame.extend_from_slice(&(meta_bytes.len() as u32).to_le_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc.finalize().to_le_bytes());
    frame.extend_from_slice(&meta_bytes);
    frame.extend_from_slice(&payload);
    Ok(EncodedBlock {
        frame,
        meta_len: meta_bytes.len() as u32,
        payload_len: payload.len() as u32,
    })
}

/// A block read from a file: its meta checked, its payload still compressed.
pub struct Frame {
    pub meta: BlockMeta,
    /// Meta and payload as read.
    body: Vec<u8>,
    meta_len: usize,
    pub payload_offset: u64,
}

impl Frame {
    pub fn decompress(&self, out: &mut Vec<u8>) -> Result<(), ReadError> {
        // Every byte is overwritten by a successful decompression: only growth needs filling.
        out.resize(self.meta.raw_len as usize, 0);
        let payload = self.body.get(self.meta_len..).unwrap_or_default();
        match lz4_flex::block::decompress_into(payload, out) {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => Err(corrupt(
                self.payload_offset,
                format!(
                    "block decompressed to {n} bytes, its meta says {}",
                    out.len()
                ),
            )),
            Err(e) => Err(corrupt(
                self.payload_offset,
                format!("block does not decompress: {e}"),
            )),
        }
    }
}

/// Reads the frame header at `offset`: (meta length, payload length, checksum).
fn frame_header<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    size: u64,
) -> Result<(u32, u32, u32), ReadError> {
    let bytes = read_vec(source, offset, FRAME_HEADER_LEN as usize, size)?;
    let mut c = Cursor::new(&bytes, offset);
    if c.array::<4>("block magic")? != BLOCK_MAGIC {
        return Err(corrupt(offset, "no block starts here (bad magic)"));
    }
    let meta_len = c.u32("meta length")?;
    let payload_len = c.u32("payload length")?;
    let crc = c.u32("checksum")?;
    if meta_len as usize > MAX_META {
        return Err(corrupt(
            offset + 4,
            format!("meta length {meta_len} exceeds the bound"),
        ));
    }
    if payload_len as usize > lz4_flex::block::get_maximum_output_size(MAX_BLOCK_RAW) {
        return Err(corrupt(
            offset + 8,
            format!("payload length {payload_len} exceeds the bound"),
        ));
    }
    Ok((meta_len, payload_len, crc))
}

/// Reads a whole block and checks its checksum.
pub fn read_frame<R: ReadAt + ?Sized>(
    source: &R,
    offset: u64,
    size: u64,
) -> Result<(BlockIndex, Frame), ReadError> {
    let (meta_len, payload_len, crc) = frame_header(source, offset, size)?;
    let body_offset = offset + FRAME_HEADER_LEN;
    let body = read_vec(
        source,
        body_offset,
        meta_len as usize + payload_len as usize,
        size,
    )?;
    if crc32fast::hash(&body) != crc {
        return Err(corrupt(offset, "block checksum does not match"));
    }
    let meta = BlockMeta::decode(&body[..meta_len as usize], body_offset)?;
    let index = BlockIndex {
        offset,
        meta_len,
        payload_len,
        events: meta.events,
        min_at: meta.min_at,
        max_at: meta.max_at,
    };
    Ok((
        index,
        Frame {
            meta,
            body,
            meta_len: meta_len as usize,
            payload_offset: body_offset + u64::from(meta_len),
        },
    ))
}

/// Reads only a block's meta (owners and filter), to decide whether to read the rest. The
/// checksum covers meta and payload together, so it is checked when the payload is read.
pub fn read_meta<R: ReadAt + ?Sized>(
    source: &R,
    block: &BlockIndex,
    size: u64,
) -> Result<BlockMeta, ReadError> {
    let (meta_len, payload_len, _) = frame_header(source, block.offset, size)?;
    if meta_len != block.meta_len || payload_len != block.payload_len {
        return Err(corrupt(
            block.offset,
            "block frame disagrees with the segment index",
        ));
    }
    let body_offset = block.offset + FRAME_HEADER_LEN;
    let bytes = read_vec(source, body_offset, meta_len as usize, size)?;
    BlockMeta::decode(&bytes, body_offset)
}

/// Reads a block whose index is known, checking that the frame agrees with it.
pub fn read_indexed_frame<R: ReadAt + ?Sized>(
    source: &R,
    block: &BlockIndex,
    size: u64,
) -> Result<Frame, ReadError> {
    let (index, frame) = read_frame(source, block.offset, size)?;
    if index != *block {
        return Err(corrupt(
            block.offset,
            "block frame disagrees with the segment index",
        ));
    }
    Ok(frame)
}

/// A sealed segment's summary: enough to choose it for a hunt without reading its blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub min_at: i64,
    pub max_at: i64,
    pub owners: Vec<OrgId>,
    pub entries_offset: u64,
    pub entries_len: u32,
    pub filter_offset: u64,
    pub filter_len: u32,
}

/// Encodes the footer that seals a segment whose blocks end at `end`.
pub fn encode_footer(end: u64, blocks: &[BlockIndex], filter: &Bloom, owners: &[OrgId]) -> Vec<u8> {
    let mut sections = Vec::with_capacity(blocks.len() * ENTRY_LEN + filter.words().len() * 8 + 8);
    for b in blocks {
        sections.extend_from_slice(&b.offset.to_le_bytes());
        sections.extend_from_slice(&b.meta_len.to_le_bytes());
        sections.extend_from_slice(&b.payload_len.to_le_bytes());
        sections.extend_from_slice(&b.events.to_le_bytes());
        sections.extend_from_slice(&b.min_at.to_le_bytes());
        sections.extend_from_slice(&b.max_at.to_le_bytes());
    }
    let entries_len = sections.len();
    encode_filter(filter, &mut sections);
    let filter_len = sections.len() - entries_len;

    let events: u64 = blocks.iter().map(|b| u64::from(b.events)).sum();
    let min_at = blocks.iter().map(|b| b.min_at).min().unwrap_or(0);
    let max_at = blocks.iter().map(|b| b.max_at).max().unwrap_or(0);
    let mut summary = Vec::with_capacity(64 + owners.len() * 8);
    summary.extend_from_slice(&events.to_le_bytes());
    summary.extend_from_slice(&min_at.to_le_bytes());
    summary.extend_from_slice(&max_at.to_le_bytes());
    summary.extend_from_slice(&end.to_le_bytes());
    summary.extend_from_slice(&(entries_len as u32).to_le_bytes());
    summary.extend_from_slice(&(end + entries_len as u64).to_le_bytes());
    summary.extend_from_slice(&(filter_len as u32).to_le_bytes());
    summary.extend_from_slice(&(owners.len() as u32).to_le_bytes());
    for owner in owners {
        summary.extend_from_slice(&owner.to_le_bytes());
    }

    let mut out = sections;
    let sections_crc = crc32fast::hash(&out);
    out.extend_from_slice(&summary);
    out.extend_from_slice(&(summary.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&summary).to_le_bytes());
    out.extend_from_slice(&sections_crc.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&TRAILER_MAGIC);
    out
}

/// Reads a sealed segment's summary; `Ok(None)` when the segment has no valid trailer (it was
/// not sealed). Also returns the checksum of the entries and filter sections.
pub fn read_summary<R: ReadAt + ?Sized>(source: &R) -> Result<Option<(Summary, u32)>, ReadError> {
    let size = source.size()?;
    if size < HEADER_LEN + TRAILER_LEN {
        return Ok(None);
    }
    let trailer_at = size - TRAILER_LEN;
    let trailer = read_vec(source, trailer_at, TRAILER_LEN as usize, size)?;
    let mut c = Cursor::new(&trailer, trailer_at);
    let summary_len = c.u32("summary length")? as usize;
    let summary_crc = c.u32("summary checksum")?;
    let sections_crc = c.u32("sections checksum")?;
    c.u32("reserved")?;
    if c.array::<8>("trailer magic")? != TRAILER_MAGIC {
        return Ok(None);
    }
    if summary_len > MAX_SUMMARY || (summary_len as u64) > trailer_at - HEADER_LEN {
        return Err(corrupt(
            trailer_at,
            format!("summary length {summary_len} is impossible"),
        ));
    }
    let summary_at = trailer_at - summary_len as u64;
    let bytes = read_vec(source, summary_at, summary_len, size)?;
    if crc32fast::hash(&bytes) != summary_crc {
        return Err(corrupt(
            summary_at,
            "segment summary checksum does not match",
        ));
    }
    let mut c = Cursor::new(&bytes, summary_at);
    let events = c.u64("event count")?;
    let min_at = c.i64("earliest time")?;
    let max_at = c.i64("latest time")?;
    let entries_offset = c.u64("entries offset")?;
    let entries_len = c.u32("entries length")?;
    let filter_offset = c.u64("filter offset")?;
    let filter_len = c.u32("filter length")?;
    let owner_count = c.u32("owner count")? as usize;
    if owner_count.saturating_mul(8) != bytes.len().saturating_sub(c.pos) {
        return Err(corrupt(c.offset(), "owner list does not fill the summary"));
    }
    let mut owners = Vec::with_capacity(owner_count);
    for _ in 0..owner_count {
        owners.push(c.i64("owner")?);
    }
    c.finish("segment summary")?;
    let layout_ok = entries_offset >= HEADER_LEN
        && (entries_len as usize) % ENTRY_LEN == 0
        && entries_offset.checked_add(u64::from(entries_len)) == Some(filter_offset)
        && filter_offset.checked_add(u64::from(filter_len)) == Some(summary_at)
        && min_at <= max_at;
    if !layout_ok {
        return Err(corrupt(
            summary_at,
            "segment summary describes an impossible layout",
        ));
    }
    Ok(Some((
        Summary {
            events,
            min_at,
            max_at,
            owners,
            entries_offset,
            entries_len,
            filter_offset,
            filter_len,
        },
        sections_crc,
    )))
}

/// Reads a sealed segment's block list and segment filter, checking them against the summary.
pub fn read_index<R: ReadAt + ?Sized>(
    source: &R,
    summary: &Summary,
    sections_crc: u32,
) -> Result<(Vec<BlockIndex>, Bloom), ReadError> {
    let size = source.size()?;
    let len = summary.entries_len as usize + summary.filter_len as usize;
    let bytes = read_vec(source, summary.entries_offset, len, size)?;
    if crc32fast::hash(&bytes) != sections_crc {
        return Err(corrupt(
            summary.entries_offset,
            "segment index checksum does not match",
        ));
    }
    let (entries, filter) = bytes.split_at(summary.entries_len as usize);
    let mut blocks = Vec::with_capacity(entries.len() / ENTRY_LEN);
    let mut c = Cursor::new(entries, summary.entries_offset);
    let mut expected_offset = HEADER_LEN;
    while c.pos < entries.len() {
        let at = c.offset();
        let block = BlockIndex {
            offset: c.u64("block offset")?,
            meta_len: c.u32("meta length")?,
            payload_len: c.u32("payload length")?,
            events: c.u32("event count")?,
            min_at: c.i64("earliest time")?,
            max_at: c.i64("latest time")?,
        };
        if block.offset != expected_offset || block.min_at > block.max_at {
            return Err(corrupt(at, "segment index lists a block out of place"));
        }
        expected_offset = block.offset + block.frame_len();
        blocks.push(block);
    }
    if expected_offset != summary.entries_offset {
        return Err(corrupt(
            summary.entries_offset,
            "segment index does not cover the blocks exactly",
        ));
    }
    let mut c = Cursor::new(filter, summary.filter_offset);
    let bloom = decode_filter(&mut c)?;
    c.finish("segment filter")?;
    Ok((blocks, bloom))
}

/// What is left of a segment that was not sealed: its intact blocks, and where they end.
pub struct Recovered {
    pub blocks: Vec<BlockIndex>,
    pub owners: Vec<OrgId>,
    pub valid_len: u64,
    /// Why reading stopped before the end of the file, if it did.
    pub torn: Option<ReadError>,
}

/// Reads the blocks of an unsealed segment in order, stopping at the first damaged one.
pub fn recover<R: ReadAt + ?Sized>(source: &R) -> Result<Recovered, ReadError> {
    let size = source.size()?;
    let mut offset = HEADER_LEN;
    let mut blocks = Vec::new();
    let mut owners: Vec<OrgId> = Vec::new();
    let mut torn = None;
    while offset < size {
        match read_frame(source, offset, size) {
            Ok((index, frame)) => {
                // A frame whose payload does not decode is as torn as one whose checksum fails.
                let mut raw = Vec::new();
                if let Err(e) = frame
                    .decompress(&mut raw)
                    .and_then(|()| check_records(&raw, frame.payload_offset, frame.meta.events))
                {
                    torn = Some(e);
                    break;
                }
                for owner in &frame.meta.owners {
                    if let Err(i) = owners.binary_search(owner) {
                        owners.insert(i, *owner);
                    }
                }
                offset += index.frame_len();
                blocks.push(index);
            }
            Err(ReadError::Io(e)) if e.kind() != io::ErrorKind::UnexpectedEof => {
                return Err(ReadError::Io(e));
            }
            Err(e) => {
                torn = Some(e);
                break;
            }
        }
    }
    Ok(Recovered {
        blocks,
        owners,
        valid_len: offset,
        torn,
    })
}

/// Appends one record to a block being built. Each object is stored with its type beside it,
/// so that a hunt can decode only the objects of the types its patterns name.
pub fn encode_record(
    out: &mut Vec<u8>,
    at: i64,
    owner: OrgId,
    source: &str,
    objects: &[Value],
    strings: &mut impl FnMut(&str),
) {
    out.extend_from_slice(&at.to_le_bytes());
    out.extend_from_slice(&owner.to_le_bytes());
    out.extend_from_slice(&(source.len() as u16).to_le_bytes());
    out.extend_from_slice(&(objects.len() as u16).to_le_bytes());
    let section_len_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(source.as_bytes());
    let section_start = out.len();
    for object in objects {
        let object_type = object
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| t.len() <= usize::from(u16::MAX))
            .unwrap_or("");
        out.extend_from_slice(&(object_type.len() as u16).to_le_bytes());
        let json_len_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(object_type.as_bytes());
        let json_start = out.len();
        write_json(out, object, strings);
        let json_len = (out.len() - json_start) as u32;
        out[json_len_at..json_len_at + 4].copy_from_slice(&json_len.to_le_bytes());
    }
    let section_len = (out.len() - section_start) as u32;
    out[section_len_at..section_len_at + 4].copy_from_slice(&section_len.to_le_bytes());
}

/// Whether the string values under a property are identifiers (`id`, `*_ref`, `*_refs`):
/// random or hashed, different in every event, so kept out of the filters, which would only
/// grow with them. Hunts look for identifiers in the records' bytes instead
/// ([`is_identifier`] tells them which comparisons do).
pub fn is_identifier(property: &str) -> bool {
    property == "id" || property.ends_with("_ref") || property.ends_with("_refs")
}

/// Whether a string value is an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, with a fraction
/// or an offset): like identifiers, nearly every event has its own, so they are kept out of
/// the filters as well, and hunts look for them in the records' bytes.
pub fn is_timestamp(value: &str) -> bool {
    const DIGITS: [usize; 14] = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let b = value.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't')
        && b[13] == b':'
        && b[16] == b':'
        && DIGITS.iter().all(|&i| b[i].is_ascii_digit())
}

/// Writes a value as compact JSON, as `serde_json` would, and hands `strings` every string
/// value (not keys, identifiers nor timestamps) on the way: the archive's filter keys come
/// from the same walk.
fn write_json(out: &mut Vec<u8>, value: &Value, strings: &mut impl FnMut(&str)) {
    write_json_under(out, value, true, strings);
}

fn write_json_under(out: &mut Vec<u8>, value: &Value, keyed: bool, strings: &mut impl FnMut(&str)) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            if keyed && !is_timestamp(s) {
                strings(s);
            }
            write_json_string(out, s);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_under(out, item, keyed, strings);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, key);
                out.push(b':');
                write_json_under(out, item, !is_identifier(key), strings);
            }
            out.push(b'}');
        }
    }
}

/// A number as `serde_json` writes it; unsigned integers, nearly all of what sensors report
/// (ports, counts, sizes), without the formatting machinery.
fn write_number(out: &mut Vec<u8>, n: &serde_json::Number) {
    let Some(mut u) = n.as_u64() else {
        // `Number` displays as its JSON text.
        let _ = write!(out, "{n}");
        return;
    };
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Most values need no escape: copied as they are.
    if !stix::sco_id::needs_escape(s.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, s).is_err() {
        // Writing a string into memory cannot fail.
        out.extend_from_slice(b"null");
    }
}

/// One record of a decompressed block, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Where the record starts in the block.
    pub start: usize,
    pub at: i64,
    pub owner: OrgId,
    pub source: &'a str,
    count: u16,
    /// The objects: for each, its type's length and its JSON's length, its type, its JSON.
    section: &'a [u8],
}

/// One object of a record: its `type` (empty if it had none) and its JSON text.
#[derive(Debug, Clone, Copy)]
pub struct StoredObject<'a> {
    pub object_type: &'a [u8],
    pub json: &'a [u8],
}

impl<'a> Record<'a> {
    pub fn object_count(&self) -> usize {
        usize::from(self.count)
    }

    /// The record's objects; their framing was checked when the record was read.
    pub fn objects(&self) -> impl Iterator<Item = StoredObject<'a>> + 'a {
        let mut c = Cursor::new(self.section, 0);
        (0..self.count).map_while(move |_| read_object(&mut c).ok())
    }
}

fn read_object<'a>(c: &mut Cursor<'a>) -> Result<StoredObject<'a>, ReadError> {
    let type_len = usize::from(c.u16("object type length")?);
    let json_len = c.u32("object length")? as usize;
    let object_type = c.take(type_len, "object type")?;
    let json = c.take(json_len, "object")?;
    Ok(StoredObject { object_type, json })
}

/// The records of a decompressed block, in order.
pub struct Records<'a> {
    raw: &'a [u8],
    pos: usize,
    /// Where the payload starts in the file, for error offsets.
    base: u64,
}

pub fn records(raw: &[u8], base: u64) -> Records<'_> {
    Records { raw, pos: 0, base }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.raw.len() {
            return None;
        }
        let start = self.pos;
        let mut c = Cursor::new(&self.raw[start..], 0);
        let result = (|| {
            let at = c.i64("event time")?;
            let owner = c.i64("event owner")?;
            let source_len = usize::from(c.u16("source length")?);
            let count = c.u16("object count")?;
            let section_len = c.u32("objects length")? as usize;
            let source = std::str::from_utf8(c.take(source_len, "event source")?)
                .map_err(|_| corrupt(0, "event source is not UTF-8"))?;
            let section = c.take(section_len, "event objects")?;
            let mut objects = Cursor::new(section, 0);
            for _ in 0..count {
                read_object(&mut objects)?;
            }
            objects.finish("event objects")?;
            Ok(Record {
                start,
                at,
                owner,
                source,
                count,
                section,
            })
        })();
        match result {
            Ok(record) => {
                self.pos = start + c.pos;
                Some(Ok(record))
            }
            Err(e) => {
                // Nothing after a damaged record can be framed.
                self.pos = self.raw.len();
                let reason = match e {
                    ReadError::Corrupt { reason, .. } => reason,
                    ReadError::Io(e) => e.to_string().into(),
                };
                Some(Err(corrupt(
                    self.base,
                    format!("record at byte {start} of the decompressed block: {reason}"),
                )))
            }
        }
    }
}

/// Checks that a block's records frame exactly and number what its meta says.
pub fn check_records(raw: &[u8], base: u64, expected: u32) -> Result<(), ReadError> {
    let mut count = 0u32;
    for record in records(raw, base) {
        record?;
        count = count.saturating_add(1);
    }
    if count != expected {
        return Err(corrupt(
            base,
            format!("block holds {count} events, its meta says {expected}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_written_as_serde_json_writes_them_and_their_strings_handed_over() {
        // Identifiers and timestamps are written but not handed over.
        let object = serde_json::json!({
            "type": "network-traffic",
            "value": "quote \" backslash \\ tab \t nul \u{0} del \u{7f} é 日本",
            "n": [0, 1, 10, 1234567890, -2, 3.5, 1e300, u64::MAX, i64::MIN, null, true, false],
            "nested": {"k": ["a", {"b": "c/d"}], "": ""},
            "id": "x--1",
            "src_ref": "y--2",
            "resolves_to_refs": ["z--3"],
            "extensions": {"e": {"id": "w--4", "parent_ref": "v--5", "name": "kept"}},
            "start": "2024-05-01T12:00:00.123456Z",
            "end": "2024-05-01t12:00:01+07:00",
            "almost": "2024-05-01 12:00:00Z",
        });
        let mut out = Vec::new();
        let mut strings = Vec::new();
        write_json(&mut out, &object, &mut |s| strings.push(s.to_owned()));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(&object).unwrap()
        );
        strings.sort();
        let mut expected = vec![
            "network-traffic",
            "quote \" backslash \\ tab \t nul \u{0} del \u{7f} é 日本",
            "a",
            "c/d",
            "",
            "kept",
            "2024-05-01 12:00:00Z",
        ];
        expected.sort();
        assert_eq!(strings, expected);
    }
}
