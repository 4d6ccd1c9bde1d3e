//! The audit writer: a dedicated thread that serializes records, appends them to a file it
//! rotates by size, and hands them to the `$SYS` publisher. Connections only `try_send`.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use bytes::Bytes;

use super::Shared;
use super::record::Record;

/// A file that is renamed to `<path>.1` (and the older ones shifted up to `<path>.<keep>`)
/// before a write would take it past `max_size` bytes.
pub(crate) struct RotatingFile {
    path: PathBuf,
    max_size: u64,
    keep: u32,
    file: BufWriter<File>,
    size: u64,
}

fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    // The trail names users and addresses: readable by the server's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// `<path>.<n>`.
pub(crate) fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingFile {
    /// Opens (or creates) `path` for appending.
    pub(crate) fn open(path: &Path, max_size: u64, keep: u32) -> io::Result<Self> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            max_size,
            keep,
            file: BufWriter::new(file),
            size,
        })
    }

    /// Appends `line`, rotating first when it would not fit.
    pub(crate) fn write(&mut self, line: &[u8]) -> io::Result<()> {
        let len = line.len() as u64;
        if self.max_size > 0 && self.size > 0 && self.size + len > self.max_size {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.size += len;
        Ok(())
    }

    /// Writes what is buffered.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            let file = open(&self.path)?;
            file.set_len(0)?;
            self.file = BufWriter::new(file);
            self.size = 0;
            return Ok(());
        }
        let ignore_missing = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        ignore_missing(std::fs::remove_file(numbered(&self.path, self.keep)))?;
        for n in (1..self.keep).rev() {
            ignore_missing(std::fs::rename(
                numbered(&self.path, n),
                numbered(&self.path, n + 1),
            ))?;
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = BufWriter::new(open(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

/// The writer thread's loop: until every sender is gone, writes each record and flushes
/// whenever the queue is empty; reports drops and write errors in the log (once per run of
/// them, not per record).
pub(crate) fn run(
    rx: &Receiver<Record>,
    mut file: Option<RotatingFile>,
    publish: bool,
    shared: &Arc<Shared>,
) {
    let mut reported_drops = 0u64;
    let mut failing = false;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(record) = next.take() {
            next = rx.try_recv().ok();
            // Plain strings and numbers: serializing cannot fail.
            let Ok(mut line) = serde_json::to_vec(&record) else {
                continue;
            };
            line.push(b'\n');
            if let Some(f) = file.as_mut() {
                match f.write(&line) {
                    Ok(()) => failing = false,
                    Err(e) => {
                        if !failing {
                            tracing::error!("audit trail: cannot write {}: {e}", f.path.display());
                        }
                        failing = true;
                    }
                }
            }
            if publish {
                shared.publish(Bytes::from(line));
            }
        }
        if let Some(f) = file.as_mut()
            && let Err(e) = f.flush()
            && !failing
        {
            tracing::error!("audit trail: cannot write {}: {e}", f.path.display());
            failing = true;
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > reported_drops {
            tracing::warn!(
                "audit trail: {} records dropped because the writer fell behind ({dropped} in all)",
                dropped - reported_drops
            );
            reported_drops = dropped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_at_most_keep_files() {
        let dir = rnats_test_support::scratch_dir("audit-unit");
        let path = dir.join("audit.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            f.write(format!("{i:039}\n").as_bytes()).unwrap();
        }
        f.flush().unwrap();
        // 40 bytes a line, two lines a file: 10 lines make 5 files, of which 3 are kept.
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(path.clone()), format!("{:039}\n{:039}\n", 8, 9));
        assert_eq!(read(numbered(&path, 1)), format!("{:039}\n{:039}\n", 6, 7));
        assert_eq!(read(numbered(&path, 2)), format!("{:039}\n{:039}\n", 4, 5));
        assert!(!numbered(&path, 3).exists());
    }

    #[test]
    fn keep_zero_truncates() {
        let dir = rnats_test_support::scratch_dir("audit-unit");
        let path = dir.join("audit.log");
        let mut f = RotatingFile::open(&path, 10, 0).unwrap();
        f.write(b"12345678\n").unwrap();
        f.write(b"abcdefgh\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abcdefgh\n");
        assert!(!numbered(&path, 1).exists());
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_it() {
        let dir = rnats_test_support::scratch_dir("audit-unit");
        let path = dir.join("audit.log");
        std::fs::write(&path, "x".repeat(95)).unwrap();
        let mut f = RotatingFile::open(&path, 100, 1).unwrap();
        f.write(b"0123456789\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0123456789\n");
        assert_eq!(
            std::fs::read_to_string(numbered(&path, 1)).unwrap().len(),
            95
        );
    }
}
