//! Bounded logs: one JSON line per output line (`{"time", "stream", "log"}`), rotated at
//! `max_size` bytes, keeping at most `max_files` files (`container.log`, `.1`, `.2`, ...).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Which of the workload's outputs a line came from.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One logged line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    /// RFC 3339 UTC time with nanoseconds.
    pub time: String,
    /// `stdout` or `stderr`.
    pub stream: Stream,
    /// The text, newline included.
    pub log: String,
}

fn rfc3339(t: std::time::SystemTime) -> String {
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
    size: u64,
}

/// The files of a log, oldest first.
pub fn files(path: &Path, max_files: u32) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        (1..max_files.max(1)).rev().map(|i| PathBuf::from(format!("{}.{i}", path.display()))).collect();
    out.push(path.to_path_buf());
    out.into_iter().filter(|p| p.exists()).collect()
}

impl Writer {
    /// Open (append) the log at `path`.
    pub fn open(path: &Path, max_size: u64, max_files: u32) -> std::io::Result<Writer> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Writer { path: path.to_path_buf(), max_size, max_files: max_files.max(1), file, size })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_files == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for i in (1..self.max_files - 1).rev() {
            let from = format!("{}.{i}", self.path.display());
            if Path::new(&from).exists() {
                std::fs::rename(&from, format!("{}.{}", self.path.display(), i + 1))?;
            }
        }
        std::fs::rename(&self.path, format!("{}.1", self.path.display()))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    /// Append one line of `stream`.
    pub fn write(&mut self, stream: Stream, text: &str) -> std::io::Result<()> {
        let line = Line { time: rfc3339(std::time::SystemTime::now()), stream, log: text.into() };
        let mut json = serde_json::to_string(&line).map_err(std::io::Error::other)?;
        json.push('\n');
        if self.size > 0 && self.size + json.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(json.as_bytes())?;
        self.size += json.len() as u64;
        Ok(())
    }
}

/// The logged lines, oldest first.
pub fn read(path: &Path, max_files: u32) -> Vec<Line> {
    let mut out = Vec::new();
    for f in files(path, max_files) {
        if let Ok(file) = File::open(&f) {
            for l in BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(line) = serde_json::from_str::<Line>(&l) {
                    out.push(line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_bound_and_keeps_max_files() {
        let d = std::env::temp_dir().join(format!("palisade-logs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("container.log");
        let mut w = Writer::open(&p, 1024, 3).unwrap();
        for i in 0..200 {
            w.write(Stream::Stdout, &format!("line {i}\n")).unwrap();
        }
        let names = files(&p, 3);
        assert_eq!(names.len(), 3, "{names:?}");
        for f in &names {
            assert!(std::fs::metadata(f).unwrap().len() <= 1024);
        }
        let lines = read(&p, 3);
        assert_eq!(lines.last().unwrap().log, "line 199\n");
        assert!(lines.len() < 200, "older lines were dropped");
        assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::new(951_782_400 + 3661, 5);
        assert_eq!(rfc3339(t), "2000-02-29T01:01:01.000000005Z");
    }
}
