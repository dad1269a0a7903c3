//! Bounded logs: JSON lines (`{"time", "stream", "log"}`), one record per line of output, rotated
//! at `max_size` bytes, keeping at most `max_files` files (`container.log`, `.1`, `.2`, ...).
//!
//! A record holds at most [`RECORD_MAX`] bytes of output (less when `max_size` is small, see
//! [`payload_max`]): a longer line is split into several records, and, as in Docker's json-file
//! driver, a record whose text does not end in a newline is partial: the next record of the same
//! stream continues its line. Every record fits in `max_size`, so no file is ever larger than
//! `max_size`. Output that is not valid UTF-8 is kept byte for byte: such a record carries its
//! bytes base64-encoded in `log_base64` instead of `log`. When a record cannot be written (a
//! full disk), it is dropped and counted, and the next record of that stream that can be
//! written is preceded by a notice `{"time", "stream", "dropped": {"records", "bytes"}}`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The most output bytes a record holds (Docker's json-file splits lines at 16 KiB too).
pub const RECORD_MAX: usize = 16 << 10;

/// An upper bound on a record's bytes other than its text: the time, the stream, the keys,
/// the newline; a `dropped` notice as a whole.
const RECORD_OVERHEAD: u64 = 160;

/// How much a text grows when encoded, at most: a control byte becomes `\u00XX` (base64, for
/// bytes that are not UTF-8, grows less).
const ENCODED_GROWTH: u64 = 6;

/// Which of the workload's outputs a line came from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// Output that could not be written to the log.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Dropped {
    /// Records lost.
    pub records: u64,
    /// Output bytes lost.
    pub bytes: u64,
}

impl Dropped {
    fn add(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes as u64;
    }
}

/// One logged record: a line, or a piece of one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// RFC 3339 UTC time with nanoseconds.
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: Stream,
    /// The bytes, newline included; without one the record is partial (the line goes on in
    /// the next record of the stream, or the output ended there).
    pub log: Vec<u8>,
    /// Set on a notice: output of this stream lost just before this point.
    pub dropped: Option<Dropped>,
}

impl Line {
    /// Whether this record ends a line.
    pub fn ends_line(&self) -> bool {
        self.log.ends_with(b"\n")
    }

    /// A notice's text: what was lost (`None` for output).
    pub fn notice(&self) -> Option<String> {
        self.dropped.map(|d| {
            format!(
                "enforce: {} records ({} bytes) of {} are missing here: the log could not be written\n",
                d.records, d.bytes, self.stream
            )
        })
    }
}

/// A record as written.
#[derive(Serialize)]
struct RecordOut<'a> {
    time: &'a str,
    stream: Stream,
    #[serde(skip_serializing_if = "Option::is_none")]
    log: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_base64: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dropped: Option<Dropped>,
}

/// A record as read.
#[derive(Deserialize)]
struct RecordIn {
    time: String,
    stream: Stream,
    #[serde(default)]
    log: Option<String>,
    #[serde(default)]
    log_base64: Option<String>,
    #[serde(default)]
    dropped: Option<Dropped>,
}

impl RecordIn {
    fn into_line(self) -> Option<Line> {
        let log = match (self.log, self.log_base64) {
            (Some(l), _) => l.into_bytes(),
            (None, Some(b)) => base64_decode(&b)?,
            (None, None) if self.dropped.is_some() => Vec::new(),
            (None, None) => return None,
        };
        Some(Line { time: self.time, stream: self.stream, log, dropped: self.dropped })
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
fn base64_encode(b: &[u8], out: &mut String) {
    out.clear();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(c.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(c.get(2).copied().unwrap_or(0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(char::from(BASE64[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// The bytes of standard padded base64; `None` when `s` is not that.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| BASE64.iter().position(|&x| x == c).map(|v| v as u32);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (k, q) in s.chunks(4).enumerate() {
        let last = k + 1 == s.len() / 4;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// The most output bytes a record of a log bounded at `max_size` holds: [`RECORD_MAX`], or
/// less so that a record, however its text encodes, fits in `max_size` (for `max_size` of
/// 1 KiB and more, the least the profile checker accepts).
pub fn payload_max(max_size: u64) -> usize {
    let fits = max_size.saturating_sub(RECORD_OVERHEAD) / ENCODED_GROWTH;
    (fits.min(RECORD_MAX as u64) as usize).max(16)
}

/// Where a record of at most `max` bytes taken from `b` (more output may follow `b`) ends:
/// at `max` (or the end of `b`), or up to three bytes sooner so that a UTF-8 sequence is not
/// cut in two (which would make both records base64). Never 0 when `b` is not empty.
pub fn record_end(b: &[u8], max: usize) -> usize {
    let end = b.len().min(max.max(1));
    for back in 1..=3 {
        let Some(i) = end.checked_sub(back).filter(|&i| i > 0) else { break };
        let need = match b[i] {
            0x80..=0xBF => continue, // a continuation byte: the lead is further back
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => return end, // ASCII, or a byte that starts no sequence
        };
        if i + need <= end {
            return end;
        }
        let seq = &b[i..b.len().min(i + need)];
        let whole_or_prefix = match std::str::from_utf8(seq) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        return if whole_or_prefix { i } else { end };
    }
    end
}

/// `t` as RFC 3339 UTC with nanoseconds.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// A size-bounded, rotating log.
pub struct Writer {
    path: PathBuf,
    max_size: u64,
    max_files: u32,
    file: File,
    /// The bytes of `file` up to its last whole record.
    size: u64,
    /// A record was cut short and could not be cut off: the next starts on a line of its own.
    torn: bool,
    payload: usize,
    /// The record being encoded, and its base64 text (reused: no allocation per record).
    json: Vec<u8>,
    b64: String,
    /// Per stream: lost and not yet noted in the log.
    unreported: [Dropped; 2],
    /// Lost in all.
    lost: Dropped,
}

/// The files of a log, oldest first.
pub fn files(path: &Path, max_files: u32) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        (1..max_files.max(1)).rev().map(|i| PathBuf::from(format!("{}.{i}", path.display()))).collect();
    out.push(path.to_path_buf());
    out.into_iter().filter(|p| p.exists()).collect()
}

/// Open a log file to append to: readable by its owner only (0600), never through a link.
fn private_append(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

impl Writer {
    /// Open (append) the log at `path`.
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<Writer> {
        let file = private_append(path)?;
        let size = file.metadata()?.len();
        let payload = payload_max(max_size);
        Ok(Writer {
            path: path.to_path_buf(),
            max_size,
            max_files: max_files.max(1),
            file,
            size,
            torn: false,
            payload,
            json: Vec::with_capacity(payload * ENCODED_GROWTH as usize + RECORD_OVERHEAD as usize),
            b64: String::with_capacity(payload / 3 * 4 + 4),
            unreported: [Dropped::default(); 2],
            lost: Dropped::default(),
        })
    }

    /// The most output bytes one record holds ([`payload_max`] of `max_size`).
    pub fn payload(&self) -> usize {
        self.payload
    }

    /// What could not be written, in all.
    pub fn lost(&self) -> Dropped {
        self.lost
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_files > 1 {
            match self.shift() {
                Ok(file) => {
                    self.file = file;
                    self.size = 0;
                    self.torn = false;
                    return Ok(());
                }
                // Renaming failed: the bound holds all the same, at the cost of older output.
                Err(_) if self.path.exists() => {}
                Err(e) => return Err(e),
            }
        }
        self.file.set_len(0)?;
        self.size = 0;
        self.torn = false;
        Ok(())
    }

    /// `.1` → `.2` ... and the log → `.1`; the new, empty log.
    fn shift(&self) -> std::io::Result<File> {
        for i in (1..self.max_files - 1).rev() {
            let from = format!("{}.{i}", self.path.display());
            if Path::new(&from).exists() {
                std::fs::rename(&from, format!("{}.{}", self.path.display(), i + 1))?;
            }
        }
        if self.path.exists() {
            std::fs::rename(&self.path, format!("{}.1", self.path.display()))?;
        }
        private_append(&self.path)
    }

    /// Append `bytes` of `stream`: one record, or several when they are more than
    /// [`Writer::payload`] (all but the last partial). A record that cannot be written is
    /// dropped and counted (the error is the last one); the next that can is preceded by a
    /// notice of the loss.
    pub fn write(&mut self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        let mut rest = bytes;
        let mut result = Ok(());
        while !rest.is_empty() {
            let end = if rest.len() <= self.payload { rest.len() } else { record_end(rest, self.payload) };
            let (record, tail) = rest.split_at(end);
            if let Err(e) = self.record(stream, record) {
                self.unreported[stream.index()].add(record.len());
                self.lost.add(record.len());
                result = Err(e);
            }
            rest = tail;
        }
        result
    }

    fn record(&mut self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        let time = rfc3339(std::time::SystemTime::now());
        let unreported = self.unreported[stream.index()];
        if unreported.records > 0 {
            let notice =
                RecordOut { time: &time, stream, log: None, log_base64: None, dropped: Some(unreported) };
            self.append(&notice)?;
            self.unreported[stream.index()] = Dropped::default();
        }
        let text = std::str::from_utf8(bytes).ok();
        if text.is_none() {
            base64_encode(bytes, &mut self.b64);
        }
        let b64 = std::mem::take(&mut self.b64);
        let rec = RecordOut {
            time: &time,
            stream,
            log: text,
            log_base64: text.is_none().then_some(b64.as_str()),
            dropped: None,
        };
        let result = self.append(&rec);
        self.b64 = b64;
        result
    }

    /// Encode `rec` and append it, rotating first when it would take the file past
    /// `max_size`.
    fn append(&mut self, rec: &RecordOut<'_>) -> std::io::Result<()> {
        let mut json = std::mem::take(&mut self.json);
        json.clear();
        if self.torn {
            json.push(b'\n');
        }
        let encoded = serde_json::to_writer(&mut json, rec).map_err(std::io::Error::other);
        json.push(b'\n');
        let result = encoded.and_then(|()| self.append_bytes(&json));
        self.json = json;
        result
    }

    fn append_bytes(&mut self, json: &[u8]) -> std::io::Result<()> {
        let len = json.len() as u64;
        if self.size > 0 && self.size + len > self.max_size {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(json) {
            // A torn record would spoil the next one: cut the file back to its last whole record.
            if self.file.set_len(self.size).is_err() {
                self.torn = true;
                self.size = self.file.metadata().map(|m| m.len()).unwrap_or(self.max_size);
            }
            return Err(e);
        }
        self.size += len;
        self.torn = false;
        Ok(())
    }
}

/// The logged records, oldest first (lines that are not records are skipped).
pub fn read(path: &Path, max_files: u32) -> Vec<Line> {
    let mut out = Vec::new();
    for f in files(path, max_files) {
        if let Ok(file) = File::open(&f) {
            for raw in BufReader::new(file).split(b'\n').map_while(Result::ok) {
                if let Some(line) =
                    serde_json::from_slice::<RecordIn>(&raw).ok().and_then(RecordIn::into_line)
                {
                    out.push(line);
                }
            }
        }
    }
    out
}

/// The records of the last `n` lines, in order: a line split into several records (some
/// perhaps between records of the other stream) counts once and is shown whole, as far as the
/// log still holds it.
pub fn tail(lines: &[Line], n: usize) -> Vec<&Line> {
    if n == 0 {
        return Vec::new();
    }
    // The record that ends each line: one that ends in a newline, or a stream's last record.
    let mut last_of = [None; 2];
    for (i, l) in lines.iter().enumerate() {
        last_of[l.stream.index()] = Some(i);
    }
    let closes = |i: usize, l: &Line| l.ends_line() || last_of[l.stream.index()] == Some(i);
    // The record ending the n-th line from the end.
    let Some(first) =
        lines.iter().enumerate().rev().filter(|&(i, l)| closes(i, l)).nth(n - 1).map(|(i, _)| i)
    else {
        return lines.iter().collect();
    };
    // A record is shown when the line it belongs to ends at `first` or later. Walking back,
    // a stream's last record (which ends a line) comes before its others.
    let mut ends_at = [0; 2];
    let mut shown: Vec<&Line> = Vec::new();
    for (i, l) in lines.iter().enumerate().rev() {
        let s = l.stream.index();
        if closes(i, l) {
            ends_at[s] = i;
        }
        if ends_at[s] >= first {
            shown.push(l);
        }
    }
    shown.reverse();
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("palisade-logs-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn line(stream: Stream, log: &[u8]) -> Line {
        Line { time: String::new(), stream, log: log.to_vec(), dropped: None }
    }

    #[test]
    fn rotates_at_the_bound_and_keeps_max_files() {
        let d = dir("rotate");
        let p = d.join("container.log");
        let mut w = Writer::open(&p, 1024, 3).unwrap();
        for i in 0..200 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes()).unwrap();
        }
        let names = files(&p, 3);
        assert_eq!(names.len(), 3, "{names:?}");
        for f in &names {
            assert!(std::fs::metadata(f).unwrap().len() <= 1024);
        }
        let lines = read(&p, 3);
        assert_eq!(lines.last().unwrap().log, b"line 199\n");
        assert!(lines.len() < 200, "older lines were dropped");
        assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_long_line_becomes_partial_records_each_within_max_size() {
        for max_size in [1024, 4096, 1 << 20] {
            let d = dir(&format!("long-{max_size}"));
            let p = d.join("container.log");
            let mut w = Writer::open(&p, max_size, 2).unwrap();
            // Worst cases for the encoded size: control bytes (\u0000) and bytes that are not
            // UTF-8 (base64); then a line that ends.
            let nul = vec![0u8; 3 * RECORD_MAX + 5];
            let bad = vec![0xffu8; 3 * RECORD_MAX + 5];
            w.write(Stream::Stdout, &nul).unwrap();
            w.write(Stream::Stdout, &bad).unwrap();
            w.write(Stream::Stdout, b"end\n").unwrap();
            for f in files(&p, 2) {
                let len = std::fs::metadata(&f).unwrap().len();
                assert!(len <= max_size, "{}: {len} > {max_size}", f.display());
            }
            let lines = read(&p, 2);
            assert!(lines.iter().all(|l| l.log.len() <= w.payload()));
            assert!(lines[..lines.len() - 1].iter().all(|l| !l.ends_line()), "partial records");
            let all: Vec<u8> = lines.iter().flat_map(|l| l.log.iter().copied()).collect();
            let mut want = nul.clone();
            want.extend_from_slice(&bad);
            want.extend_from_slice(b"end\n");
            assert!(want.ends_with(&all), "reassembled: the tail of the output");
            let _ = std::fs::remove_dir_all(&d);
        }
    }

    #[test]
    fn records_are_cut_between_utf8_sequences() {
        let d = dir("utf8");
        let p = d.join("container.log");
        let mut w = Writer::open(&p, 1 << 20, 1).unwrap();
        let text = "é€😀".repeat(20_000);
        w.write(Stream::Stdout, text.as_bytes()).unwrap();
        let raw = std::fs::read_to_string(&p).unwrap();
        assert!(raw.lines().count() > 3);
        assert!(!raw.contains("log_base64"), "every record is UTF-8");
        let back: Vec<u8> = read(&p, 1).into_iter().flat_map(|l| l.log).collect();
        assert_eq!(back, text.as_bytes());
        // The cut itself.
        let e = "aé".as_bytes();
        assert_eq!(record_end(e, 2), 1, "é is not cut");
        assert_eq!(record_end(&e[..2], 2), 1, "nor its prefix, when more may follow");
        assert_eq!(record_end(b"a\xff\xfe", 2), 2, "bytes that are not UTF-8 are cut anywhere");
        assert_eq!(record_end(b"\xc3\xa9", 1), 1, "never 0");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_base64() {
        let d = dir("bytes");
        let p = d.join("container.log");
        let mut w = Writer::open(&p, 1 << 20, 1).unwrap();
        w.write(Stream::Stderr, b"a\xffb\n").unwrap();
        w.write(Stream::Stdout, b"ok\n").unwrap();
        let raw = std::fs::read_to_string(&p).unwrap();
        let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
        assert_eq!(first["log_base64"], "Yf9iCg==");
        assert_eq!(first["stream"], "stderr");
        assert!(first.get("log").is_none());
        let lines = read(&p, 1);
        assert_eq!(lines[0].log, b"a\xffb\n");
        assert_eq!(lines[1].log, b"ok\n");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn base64_round_trips() {
        let mut s = String::new();
        for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")] {
            base64_encode(plain.as_bytes(), &mut s);
            assert_eq!(s, enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        base64_encode(&all, &mut s);
        assert_eq!(base64_decode(&s).unwrap(), all);
        for bad in ["Zg=", "Z===", "Zg==Zg==", "Z!==", "=Zg="] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_record_that_cannot_be_written_is_dropped_counted_and_noted() {
        let d = dir("drop");
        let p = d.join("container.log");
        let mut w = Writer::open(&p, 1 << 20, 1).unwrap();
        w.write(Stream::Stdout, b"before\n").unwrap();
        // A full disk.
        let good = std::mem::replace(&mut w.file, OpenOptions::new().append(true).open("/dev/full").unwrap());
        assert!(w.write(Stream::Stdout, b"lost\n").is_err());
        assert!(w.write(Stream::Stdout, b"lost too\n").is_err());
        w.file = good;
        assert_eq!(w.lost(), Dropped { records: 2, bytes: 14 });
        w.write(Stream::Stderr, b"other stream\n").unwrap();
        w.write(Stream::Stdout, b"after\n").unwrap();
        let lines = read(&p, 1);
        let logs: Vec<&[u8]> = lines.iter().map(|l| l.log.as_slice()).collect();
        assert_eq!(logs, [&b"before\n"[..], b"other stream\n", b"", b"after\n"]);
        assert_eq!(lines[2].dropped, Some(Dropped { records: 2, bytes: 14 }));
        assert_eq!(lines[2].stream, Stream::Stdout);
        assert!(lines[2].notice().unwrap().contains("2 records (14 bytes) of stdout"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn tail_counts_lines_not_records() {
        use Stream::{Stderr as E, Stdout as O};
        let lines = [
            line(O, b"one\n"),
            line(O, b"lo"),
            line(E, b"err1\n"),
            line(O, b"ng\n"),
            line(E, b"par"),
            line(O, b"three\n"),
            line(E, b"tial"),
        ];
        let logs = |n| {
            tail(&lines, n).iter().map(|l| String::from_utf8_lossy(&l.log).into_owned()).collect::<Vec<_>>()
        };
        assert!(logs(0).is_empty());
        assert_eq!(logs(1), ["par", "tial"], "a stream's unfinished line counts");
        assert_eq!(logs(2), ["par", "three\n", "tial"]);
        assert_eq!(logs(3), ["lo", "ng\n", "par", "three\n", "tial"], "a split line is whole");
        assert_eq!(logs(4), ["lo", "err1\n", "ng\n", "par", "three\n", "tial"]);
        assert_eq!(logs(5).len(), 7);
        assert_eq!(logs(50).len(), 7);
    }

    #[test]
    fn the_overhead_bound_holds() {
        let mut json = Vec::new();
        let time = rfc3339(std::time::SystemTime::now());
        let big = Dropped { records: u64::MAX, bytes: u64::MAX };
        let notice = RecordOut {
            time: &time,
            stream: Stream::Stderr,
            log: None,
            log_base64: None,
            dropped: Some(big),
        };
        serde_json::to_writer(&mut json, &notice).unwrap();
        assert!(json.len() as u64 + 2 <= RECORD_OVERHEAD, "{}", json.len());
        json.clear();
        let rec =
            RecordOut { time: &time, stream: Stream::Stderr, log: None, log_base64: Some(""), dropped: None };
        serde_json::to_writer(&mut json, &rec).unwrap();
        assert!(json.len() as u64 + 2 <= RECORD_OVERHEAD, "{}", json.len());
        assert_eq!(payload_max(1024), 144);
        assert_eq!(payload_max(1 << 20), RECORD_MAX);
    }

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(951_782_400 + 3661, 5);
        assert_eq!(rfc3339(t), "2000-02-29T01:01:01.000000005Z");
    }
}
