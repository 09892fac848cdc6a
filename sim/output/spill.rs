//! Spill files: what a run records at a rate that grows with its horizon (every charge of the
//! cost ledger, the figures of every metrics window) goes to disk as it happens instead of
//! staying in memory, and is read back, in order or by index, when the outputs are written.
//!
//! A [`Spill`] holds records of one fixed length in an anonymous temporary file
//! (`tempfile::tempfile`: unlinked as soon as it is made, so the operating system removes it when
//! the process ends, however it ends). Appends go through a write buffer of [`BUFFER`] bytes, so
//! memory stays bounded whatever the number of records. Writing never stops a run half-way: the
//! first I/O error is kept and every later append is dropped; whoever finishes the run asks
//! [`Spill::error`] and reports it.
//!
//! A [`FrameSpill`] holds records of any length the same way, each framed by its length (a
//! little-endian `u32` before its bytes), for what has no fixed width (the decision log's
//! strings, a job's row with its name); it is read back in order only.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

/// Bytes buffered before they are written out, and read at a time when reading back.
pub const BUFFER: usize = 64 * 1024;

/// Records of `record_len` bytes each, appended in order, readable in order or by index.
#[derive(Debug)]
pub struct Spill {
    record_len: usize,
    /// Records appended and not yet written out.
    pending: Vec<u8>,
    /// Records written out. Made on the first write, so a small run touches no disk. The lock
    /// keeps a seek and the read after it together when two readers share the file.
    file: Option<Mutex<File>>,
    /// Records in the file.
    written: u64,
    error: Option<io::Error>,
}

impl Spill {
    /// An empty spill of records of `record_len` bytes (at least one).
    pub fn new(record_len: usize) -> Self {
        Spill {
            record_len: record_len.max(1),
            pending: Vec::new(),
            file: None,
            written: 0,
            error: None,
        }
    }

    /// The length of a record in bytes.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Records appended.
    pub fn len(&self) -> u64 {
        self.written + (self.pending.len() / self.record_len) as u64
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held in memory (the write buffer).
    pub fn memory_bytes(&self) -> u64 {
        self.pending.capacity() as u64
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.written * self.record_len as u64
    }

    /// The first I/O error met while writing, after which appends were dropped.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Appends one record, which must be `record_len` bytes long.
    pub fn push(&mut self, record: &[u8]) {
        debug_assert_eq!(record.len(), self.record_len, "a record of the wrong length");
        if self.error.is_some() {
            return;
        }
        self.pending.extend_from_slice(record);
        if self.pending.len() >= BUFFER {
            self.write_out();
        }
    }

    /// Appends `bytes`, any whole number of records.
    fn extend(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len().is_multiple_of(self.record_len), "a part of a record");
        if self.error.is_some() {
            return;
        }
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= BUFFER {
            self.write_out();
        }
    }

    #[cold]
    fn write_out(&mut self) {
        let result = (|| {
            if self.file.is_none() {
                self.file = Some(Mutex::new(tempfile::tempfile()?));
            }
            let file = self
                .file
                .as_mut()
                .map(|m| m.get_mut().unwrap_or_else(|p| p.into_inner()));
            let Some(file) = file else {
                return Ok(());
            };
            file.seek(SeekFrom::End(0))?;
            file.write_all(&self.pending)
        })();
        match result {
            Ok(()) => {
                self.written += (self.pending.len() / self.record_len) as u64;
                self.pending.clear();
                // A record longer than the buffer (a frame may be) leaves it grown: give the
                // room back, so the buffer stays bounded whatever came through it.
                if self.pending.capacity() > 2 * BUFFER {
                    self.pending.shrink_to(BUFFER);
                }
            }
            Err(e) => {
                self.error = Some(e);
                self.pending = Vec::new();
            }
        }
    }

    /// Reads record `index` into `out` (`record_len` bytes).
    pub fn read(&self, index: u64, out: &mut [u8]) -> io::Result<()> {
        if index >= self.len() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("record {index} of {}", self.len()),
            ));
        }
        let len = self.record_len as u64;
        if index >= self.written {
            let at = ((index - self.written) * len) as usize;
            out.copy_from_slice(&self.pending[at..at + self.record_len]);
            return Ok(());
        }
        self.read_file(index * len, out)
    }

    fn read_file(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let Some(file) = &self.file else {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no spill file"));
        };
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(out)
    }

    /// The records in the order appended.
    pub fn records(&self) -> Records<'_> {
        self.records_from(0)
    }

    /// The records from index `first` on, in the order appended.
    pub fn records_from(&self, first: u64) -> Records<'_> {
        Records {
            spill: self,
            chunk: Vec::new(),
            at: 0,
            next: first,
        }
    }
}

/// Bytes of the length that frames each record of a [`FrameSpill`].
pub const FRAME_HEADER: usize = 4;

/// Records of any length (up to `u32::MAX` bytes), appended in order and read back in order.
///
/// The bytes go through a [`Spill`] of one-byte records, so they share its buffer, its file
/// made on the first write and its first-error rule.
#[derive(Debug)]
pub struct FrameSpill {
    bytes: Spill,
    records: u64,
}

impl Default for FrameSpill {
    fn default() -> Self {
        FrameSpill {
            bytes: Spill::new(1),
            records: 0,
        }
    }
}

impl FrameSpill {
    /// Records appended.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Bytes held in memory (the write buffer).
    pub fn memory_bytes(&self) -> u64 {
        self.bytes.memory_bytes()
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        self.bytes.disk_bytes()
    }

    /// The first I/O error met while writing, after which appends were dropped.
    pub fn error(&self) -> Option<&io::Error> {
        self.bytes.error()
    }

    /// Appends one record. A record longer than `u32::MAX` bytes cannot be framed; none of the
    /// crate's comes near (they are a few lines of text), so it is cut rather than refused.
    pub fn push(&mut self, record: &[u8]) {
        let len = u32::try_from(record.len()).unwrap_or(u32::MAX);
        self.bytes.extend(&len.to_le_bytes());
        self.bytes.extend(&record[..len as usize]);
        self.records += 1;
    }

    /// The records in the order appended.
    pub fn frames(&self) -> Frames<'_> {
        Frames {
            bytes: self.bytes.records(),
            frame: Vec::new(),
            left: self.records,
        }
    }
}

/// The records of a [`FrameSpill`] in order. Each item is a record's bytes, or the I/O error
/// that ended the reading.
#[derive(Debug)]
pub struct Frames<'a> {
    bytes: Records<'a>,
    frame: Vec<u8>,
    /// Records not yet read.
    left: u64,
}

impl Frames<'_> {
    /// The next record, or `None` after the last one.
    pub fn next_frame(&mut self) -> Option<io::Result<&[u8]>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let mut header = [0u8; FRAME_HEADER];
        if let Err(e) = self.bytes.read_into(&mut header) {
            self.left = 0;
            return Some(Err(e));
        }
        self.frame.resize(u32::from_le_bytes(header) as usize, 0);
        if let Err(e) = self.bytes.read_into(&mut self.frame) {
            self.left = 0;
            return Some(Err(e));
        }
        Some(Ok(&self.frame))
    }
}

/// The records of a [`Spill`] in order, read [`BUFFER`] bytes at a time. Each item is a
/// record's bytes, or the I/O error that ended the reading.
#[derive(Debug)]
pub struct Records<'a> {
    spill: &'a Spill,
    chunk: Vec<u8>,
    /// Position of the next record in `chunk`.
    at: usize,
    /// Index of the first record not yet in `chunk`.
    next: u64,
}

impl Records<'_> {
    /// The next record, or `None` after the last one.
    pub fn next_record(&mut self) -> Option<io::Result<&[u8]>> {
        let len = self.spill.record_len;
        if self.at + len > self.chunk.len()
            && let Err(e) = self.refill()?
        {
            return Some(Err(e));
        }
        let record = &self.chunk[self.at..self.at + len];
        self.at += len;
        Some(Ok(record))
    }

    /// Fills `out` with the next records' bytes, across chunks (a whole number of records).
    fn read_into(&mut self, out: &mut [u8]) -> io::Result<()> {
        let mut filled = 0;
        while filled < out.len() {
            if self.at == self.chunk.len() {
                match self.refill() {
                    Some(Ok(())) => {}
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "a spill file ended inside a record",
                        ));
                    }
                }
            }
            let take = (out.len() - filled).min(self.chunk.len() - self.at);
            out[filled..filled + take].copy_from_slice(&self.chunk[self.at..self.at + take]);
            self.at += take;
            filled += take;
        }
        Ok(())
    }

    /// Loads the next records into `chunk`; `None` when none is left.
    fn refill(&mut self) -> Option<io::Result<()>> {
        let spill = self.spill;
        let len = spill.record_len as u64;
        if self.next >= spill.len() {
            return None;
        }
        self.at = 0;
        if self.next >= spill.written {
            let from = ((self.next - spill.written) * len) as usize;
            self.chunk.clear();
            self.chunk.extend_from_slice(&spill.pending[from..]);
            self.next = spill.len();
            return Some(Ok(()));
        }
        let per_chunk = (BUFFER as u64 / len).max(1);
        let count = per_chunk.min(spill.written - self.next);
        self.chunk.resize((count * len) as usize, 0);
        let read = spill.read_file(self.next * len, &mut self.chunk);
        self.next += count;
        Some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u64) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&i.to_le_bytes());
        out[8..].copy_from_slice(&((i * 7) as u32).to_le_bytes());
        out
    }

    fn collect(spill: &Spill) -> Vec<Vec<u8>> {
        let mut records = spill.records();
        let mut out = Vec::new();
        while let Some(r) = records.next_record() {
            out.push(r.unwrap().to_vec());
        }
        out
    }

    #[test]
    fn records_come_back_in_order_and_by_index_across_the_buffer_boundary() {
        let mut spill = Spill::new(12);
        // Enough records to write the buffer out several times and leave some pending.
        let count = 3 * (BUFFER as u64 / 12) + 17;
        for i in 0..count {
            spill.push(&record(i));
        }
        assert_eq!(spill.len(), count);
        assert!(spill.disk_bytes() > 0, "nothing was written out");
        assert!(spill.memory_bytes() < 2 * BUFFER as u64);
        let all = collect(&spill);
        assert_eq!(all.len() as u64, count);
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.as_slice(), record(i as u64), "record {i}");
        }
        let mut one = [0u8; 12];
        for i in [0, 1, count / 2, spill.written - 1, spill.written, count - 1] {
            spill.read(i, &mut one).unwrap();
            assert_eq!(one, record(i));
        }
        assert!(spill.read(count, &mut one).is_err());
        assert!(spill.error().is_none());
    }

    #[test]
    fn a_small_spill_stays_in_memory_and_an_empty_one_reads_nothing() {
        let mut spill = Spill::new(12);
        assert!(collect(&spill).is_empty());
        spill.push(&record(5));
        assert!(spill.file.is_none());
        assert_eq!(collect(&spill), vec![record(5).to_vec()]);
    }

    #[test]
    fn two_readers_interleave_without_disturbing_each_other() {
        let mut spill = Spill::new(12);
        let count = 2 * (BUFFER as u64 / 12) + 3;
        for i in 0..count {
            spill.push(&record(i));
        }
        let (mut a, mut b) = (spill.records(), spill.records());
        for i in 0..count {
            assert_eq!(a.next_record().unwrap().unwrap(), record(i));
            assert_eq!(b.next_record().unwrap().unwrap(), record(i));
        }
        assert!(a.next_record().is_none() && b.next_record().is_none());
    }

    fn frames(spill: &FrameSpill) -> Vec<Vec<u8>> {
        let mut frames = spill.frames();
        let mut out = Vec::new();
        while let Some(f) = frames.next_frame() {
            out.push(f.unwrap().to_vec());
        }
        out
    }

    #[test]
    fn frames_of_any_length_come_back_in_order_across_the_buffer_boundary() {
        let mut spill = FrameSpill::default();
        // Empty frames, frames longer than the buffer and many short ones, so that headers and
        // bodies straddle the points where the buffer is written out and read back.
        let mut written: Vec<Vec<u8>> = vec![Vec::new(), vec![7; 3 * BUFFER + 5], Vec::new()];
        written.extend((0..20_000u32).map(|i| (0..i % 97).map(|b| (b as u8) ^ (i as u8)).collect()));
        for f in &written {
            spill.push(f);
        }
        assert_eq!(spill.len(), written.len() as u64);
        assert!(spill.disk_bytes() > 0, "nothing was written out");
        assert!(spill.memory_bytes() <= 2 * BUFFER as u64);
        assert_eq!(frames(&spill), written);
        assert!(spill.error().is_none());
    }

    #[test]
    fn an_empty_frame_spill_reads_nothing_and_a_small_one_stays_in_memory() {
        let mut spill = FrameSpill::default();
        assert!(spill.is_empty() && frames(&spill).is_empty());
        spill.push(b"one");
        spill.push(b"");
        assert!(spill.bytes.file.is_none());
        assert_eq!(frames(&spill), [b"one".to_vec(), Vec::new()]);
    }

    proptest::proptest! {
        #[test]
        fn frames_round_trip(written in proptest::collection::vec(
            proptest::collection::vec(proptest::num::u8::ANY, 0..3_000), 0..200)) {
            let mut spill = FrameSpill::default();
            for f in &written {
                spill.push(f);
            }
            proptest::prop_assert_eq!(frames(&spill), written);
        }
    }
}
