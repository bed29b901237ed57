//! Appending to the log with group commit.
//!
//! In: values to append (any `Serialize`), flush requests, and the current time from the
//! caller's loop. Out: sequence numbers, durable batches on disk (one `write_all` and one
//! `fsync` per batch), new segments when the current one is full, and on open a
//! [`Recovery`] saying what a crash left behind and what was cut.
//!
//! There is no background thread: the writer flushes by itself only when a batch
//! reaches `max_batch_records`; the runtime calls [`Writer::maybe_flush`] from its event
//! loop (sleeping until [`Writer::flush_deadline`] at most) so that no record waits longer
//! than `max_batch_delay`, and [`Writer::commit`] when it must know a record is durable
//! before acting on it. Everything stays deterministic and easy to test.
//!
//! One writer per directory: nothing locks the directory, so the caller must not open
//! two writers on the same log (the daemon owns its log directory).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::Error;
use crate::format::{self, Hash, HEADER_BYTES, MAX_BODY_BYTES};
use crate::segment::{self, Segment};
use crate::{Head, Recovery};

/// How a [`Writer`] batches and where it starts a new segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// A segment is closed before a record would take it past this size. A segment
    /// always holds at least one record, so a record larger than this gets its own.
    pub segment_bytes: u64,
    /// `append` flushes by itself once this many records are waiting.
    pub max_batch_records: usize,
    /// `maybe_flush` flushes once the oldest waiting record is this old.
    pub max_batch_delay: Duration,
}

impl Default for WriterOptions {
    /// 64 MiB segments, batches of at most 1024 records or 2 ms.
    fn default() -> Self {
        WriterOptions { segment_bytes: 64 << 20, max_batch_records: 1024, max_batch_delay: Duration::from_millis(2) }
    }
}

impl WriterOptions {
    fn check(&self) -> Result<(), Error> {
        if self.segment_bytes == 0 {
            return Err(Error::Options("segment_bytes must be at least 1"));
        }
        if self.max_batch_records == 0 {
            return Err(Error::Options("max_batch_records must be at least 1"));
        }
        Ok(())
    }
}

/// Appends records to a log directory. See the module documentation for group commit.
///
/// Dropping a writer flushes what is waiting, ignoring errors (like `BufWriter`): call
/// [`Writer::commit`] to know that it worked.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    options: WriterOptions,
    /// The segment being appended to, opened in append mode.
    file: File,
    segment: Segment,
    /// Bytes of `segment` already written (and fsynced) to disk.
    segment_written_bytes: u64,
    /// Framed records not yet written: one `write_all` at the next flush.
    batch: Vec<u8>,
    batch_records: usize,
    /// When the oldest record in `batch` was appended.
    batch_since: Option<Instant>,
    /// Sequence number and hash of the last record appended (written or not).
    last_seq: u64,
    head_hash: Hash,
    /// The last sequence number known to be on disk and fsynced.
    durable_seq: u64,
    /// Set when a write or fsync failed: the file's state is then unknown, so the
    /// writer refuses to go on and the caller reopens (which recovers from the disk).
    poisoned: bool,
}

impl Writer {
    /// Opens (creating if needed) the log in `dir`, checks it whole (every CRC, sequence
    /// number and chain link, as [`crate::verify`] does), cuts a torn tail off the last
    /// segment and says what it found. Damage anywhere before the tail is an error and
    /// nothing is changed.
    pub fn open(dir: impl AsRef<Path>, options: WriterOptions) -> Result<(Writer, Recovery), Error> {
        options.check()?;
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(Error::io("create directory", &dir))?;
            // The new directory's own name must be durable too, or a crash could lose
            // the whole log along with its entry in the parent.
            if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let scan = segment::scan_log(&dir)?;
        let dropped_tail_bytes = scan.torn.as_ref().map_or(0, |torn| torn.dropped_bytes);
        let (segment, segment_written_bytes) = match scan.last {
            Some((segment, valid_bytes)) => {
                if scan.torn.is_some() {
                    cut(&segment.path, valid_bytes)?;
                }
                (segment, valid_bytes)
            }
            None => {
                let segment = Segment { first_seq: 1, path: segment::segment_path(&dir, 1) };
                create_segment(&dir, &segment.path)?;
                (segment, 0)
            }
        };
        let file = OpenOptions::new().append(true).open(&segment.path).map_err(Error::io("open", &segment.path))?;
        let last_seq = scan.chain.last_seq();
        let head_hash = scan.chain.head_hash;
        let writer = Writer {
            dir,
            options,
            file,
            segment,
            segment_written_bytes,
            batch: Vec::with_capacity(64 << 10),
            batch_records: 0,
            batch_since: None,
            last_seq,
            head_hash,
            durable_seq: last_seq,
            poisoned: false,
        };
        Ok((writer, Recovery { dropped_tail_bytes, last_seq, head_hash }))
    }

    /// Appends `value` as MessagePack with named fields (`rmp_serde::to_vec_named`) and
    /// returns its sequence number. The record is durable after the next flush; this
    /// call flushes itself when the batch reaches `max_batch_records`.
    pub fn append<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<u64, Error> {
        self.check_usable()?;
        let start = self.begin_record();
        // Serialised straight into the batch buffer: no per-record allocation.
        if let Err(error) = rmp_serde::encode::write_named(&mut self.batch, value) {
            self.batch.truncate(start);
            return Err(error.into());
        }
        self.finish_record(start)
    }

    /// Appends an already encoded body. Readers decode bodies as MessagePack, so pass
    /// only what `rmp_serde::to_vec_named` (or an equivalent encoder) produced.
    pub fn append_body(&mut self, body: &[u8]) -> Result<u64, Error> {
        self.check_usable()?;
        let start = self.begin_record();
        self.batch.extend_from_slice(body);
        self.finish_record(start)
    }

    /// Writes the waiting batch with one `write_all` and makes it durable with one
    /// `fsync` (`File::sync_data`). Does nothing when nothing is waiting.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.check_usable()?;
        if self.batch.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.batch).and_then(|()| self.file.sync_data());
        if let Err(source) = written {
            self.poisoned = true;
            return Err(Error::Io { op: "write+fsync", path: self.segment.path.clone(), source });
        }
        self.segment_written_bytes += self.batch.len() as u64;
        self.batch.clear();
        self.batch_records = 0;
        self.batch_since = None;
        self.durable_seq = self.last_seq;
        Ok(())
    }

    /// Makes everything appended so far durable and returns the last sequence number
    /// (0 for an empty log).
    pub fn commit(&mut self) -> Result<u64, Error> {
        self.flush()?;
        Ok(self.durable_seq)
    }

    /// Flushes if the oldest waiting record was appended at least `max_batch_delay`
    /// before `now`; returns whether it flushed. The runtime calls this from its loop.
    pub fn maybe_flush(&mut self, now: Instant) -> Result<bool, Error> {
        match self.flush_deadline() {
            Some(deadline) if now >= deadline => self.flush().map(|()| true),
            Some(_) | None => Ok(false),
        }
    }

    /// When `maybe_flush` will next have work: the oldest waiting record's append time
    /// plus `max_batch_delay`, or `None` when nothing waits. A loop sleeps no longer.
    pub fn flush_deadline(&self) -> Option<Instant> {
        self.batch_since.map(|since| since + self.options.max_batch_delay)
    }

    /// The last sequence number appended, durable or not (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The last sequence number known to be durable.
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// The head including records not yet flushed.
    pub fn head(&self) -> Head {
        Head { seq: self.last_seq, hash: self.head_hash }
    }

    /// How many appended records wait for a flush.
    pub fn pending_records(&self) -> usize {
        self.batch_records
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the writer was opened with.
    pub fn options(&self) -> WriterOptions {
        self.options
    }

    fn check_usable(&self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        Ok(())
    }

    /// Reserves the header slot of a new record at the end of the batch.
    fn begin_record(&mut self) -> usize {
        let start = self.batch.len();
        self.batch.resize(start + HEADER_BYTES, 0);
        start
    }

    /// Frames the record whose header slot is at `start` and whose body follows it, after
    /// moving it to a new segment if it does not fit in the current one.
    fn finish_record(&mut self, mut start: usize) -> Result<u64, Error> {
        let body_bytes = self.batch.len() - start - HEADER_BYTES;
        if body_bytes > MAX_BODY_BYTES {
            self.batch.truncate(start);
            return Err(Error::TooLarge { body_bytes });
        }
        let segment_bytes_before = self.segment_written_bytes + start as u64;
        let segment_bytes_after = self.segment_written_bytes + self.batch.len() as u64;
        if segment_bytes_before > 0 && segment_bytes_after > self.options.segment_bytes {
            // The batch so far belongs to the current segment: write it there, then
            // start the next segment with this record. Rare (once per segment), so the
            // extra fsync and copy do not matter.
            let record = self.batch.split_off(start);
            self.flush()?;
            self.roll()?;
            start = 0;
            self.batch.extend_from_slice(&record);
        }
        let seq = self.last_seq + 1;
        self.head_hash = format::seal(&mut self.batch, start, seq, &self.head_hash);
        self.last_seq = seq;
        self.batch_records += 1;
        if self.batch_since.is_none() {
            self.batch_since = Some(Instant::now());
        }
        if self.batch_records >= self.options.max_batch_records {
            self.flush()?;
        }
        Ok(seq)
    }

    /// Starts a new segment named for the next sequence number. The batch is empty.
    fn roll(&mut self) -> Result<(), Error> {
        let segment =
            Segment { first_seq: self.last_seq + 1, path: segment::segment_path(&self.dir, self.last_seq + 1) };
        let created = create_segment(&self.dir, &segment.path);
        match created {
            Ok(file) => {
                self.file = file;
                self.segment = segment;
                self.segment_written_bytes = 0;
                Ok(())
            }
            Err(error) => {
                self.poisoned = true;
                Err(error)
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.poisoned {
            // Best effort, like `BufWriter`: whoever needs to know calls `commit`.
            let _ = self.flush();
        }
    }
}

/// Creates an empty segment file and fsyncs the directory, so that the new name is as
/// durable as the records that will be fsynced into it.
fn create_segment(dir: &Path, path: &Path) -> Result<File, Error> {
    // `create_new`: a file already there would be a segment the scan did not account
    // for; never write into it.
    let file = OpenOptions::new().append(true).create_new(true).open(path).map_err(Error::io("create", path))?;
    sync_dir(dir)?;
    Ok(file)
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|dir_file| dir_file.sync_all()).map_err(Error::io("fsync directory", dir))
}

/// Cuts a torn tail: truncates `path` to its `valid_bytes` of whole records, durably.
fn cut(path: &Path, valid_bytes: u64) -> Result<(), Error> {
    let file = OpenOptions::new().write(true).open(path).map_err(Error::io("open", path))?;
    file.set_len(valid_bytes).and_then(|()| file.sync_all()).map_err(Error::io("truncate torn tail of", path))
}
