//! One resource's log on disk: `log` (appended to) and `log.1` (the previous half),
//! an in-memory buffer flushed by a background thread, and a `watch` channel that
//! publishes what is readable after every flush.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use tokio::sync::watch;

use super::record::{self, MAX_RECORD, Source};

/// A buffer this large is written at once instead of waiting for the flusher.
const FLUSH_AT: usize = 32 * 1024;

/// Smallest per-resource bound: each half must hold the largest buffer plus a record.
pub const MIN_BOUND: u64 = 4 * (FLUSH_AT + MAX_RECORD) as u64;

/// One readable file of a snapshot: its generation (bumped at every rotation) and how
/// many bytes of it are complete records.
#[derive(Clone, Debug)]
pub struct Segment {
    pub file: Arc<File>,
    pub generation: u64,
    pub len: u64,
}

/// What readers may read: the previous file (if any) then the current one, oldest
/// first. Holding the handles keeps reads valid across renames and deletions.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub segments: Vec<Segment>,
    /// The resource's log was closed: followers end once they have read everything.
    pub closed: bool,
}

struct State {
    active: Arc<File>,
    active_len: u64,
    generation: u64,
    previous: Option<Segment>,
    /// Encoded records not yet written.
    buf: Vec<u8>,
    /// The journal is queued on the flusher (so it is queued at most once).
    scheduled: bool,
    closed: bool,
    /// The files were deleted with the resource: writes are dropped.
    removed: bool,
    /// The last timestamp written, so timestamps never go backwards within a log.
    last_ts: jiff::Timestamp,
}

/// The log of one resource.
pub struct Journal {
    dir: PathBuf,
    /// Rotation threshold of the current file: half the resource's bound.
    half: u64,
    state: Mutex<State>,
    published: watch::Sender<Snapshot>,
    flusher: mpsc::Sender<Arc<Journal>>,
}

impl Journal {
    /// Opens (creating) the log in `dir`, keeping what a previous run wrote.
    pub fn open(
        dir: PathBuf,
        bound: u64,
        flusher: mpsc::Sender<Arc<Journal>>,
    ) -> io::Result<Arc<Journal>> {
        fs::create_dir_all(&dir)?;
        let active = open_active(&dir, false)?;
        let mut active_len = active.metadata()?.len();
        if active_len > 0 {
            // A crash may have torn the last record: end it so the next one parses.
            let mut last = [0u8];
            active.read_exact_at(&mut last, active_len - 1)?;
            if last[0] != b'\n' {
                (&active).write_all(b"\n")?;
                active_len += 1;
            }
        }
        let previous = match File::open(dir.join("log.1")) {
            Ok(file) => Some(Segment {
                len: file.metadata()?.len(),
                file: Arc::new(file),
                generation: 0,
            }),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(err),
        };
        let state = State {
            active: Arc::new(active),
            active_len,
            generation: 1,
            previous,
            buf: Vec::new(),
            scheduled: false,
            closed: false,
            removed: false,
            last_ts: jiff::Timestamp::UNIX_EPOCH,
        };
        let (published, _) = watch::channel(snapshot_of(&state));
        Ok(Arc::new(Journal {
            dir,
            half: bound.max(MIN_BOUND) / 2,
            state: Mutex::new(state),
            published,
            flusher,
        }))
    }

    /// Buffers `bytes` as records stamped now; the flusher writes them within a few
    /// milliseconds (at once when the buffer is large).
    pub fn append(self: &Arc<Self>, source: Source, replica: u32, bytes: &[u8]) {
        let mut state = self.lock();
        if state.removed {
            return;
        }
        let now = jiff::Timestamp::now().max(state.last_ts);
        state.last_ts = now;
        let ts = record::format_timestamp(now);
        record::encode(&mut state.buf, &ts, source, replica, bytes);
        if state.closed {
            state.closed = false;
        }
        if state.buf.len() >= FLUSH_AT {
            self.write_out(&mut state);
        } else if !state.scheduled {
            state.scheduled = true;
            // The flusher thread only stops when every sender is gone, and this one isn't.
            let _ = self.flusher.send(self.clone());
        }
    }

    /// Writes buffered records and publishes them to readers.
    pub fn flush(&self) {
        let mut state = self.lock();
        state.scheduled = false;
        if !state.buf.is_empty() {
            self.write_out(&mut state);
        }
    }

    /// Ends current followers (after they read what is written); a later write reopens.
    pub fn close(&self) {
        let mut state = self.lock();
        self.write_out(&mut state);
        state.closed = true;
        self.published.send_replace(snapshot_of(&state));
    }

    /// Deletes the files; writers still holding this journal write nowhere.
    pub fn remove(&self) -> io::Result<()> {
        let mut state = self.lock();
        state.removed = true;
        state.closed = true;
        state.buf = Vec::new();
        self.published.send_replace(snapshot_of(&state));
        match fs::remove_dir_all(&self.dir) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    /// Follows what becomes readable; the current value is the latest snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.published.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state: keep logging.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_out(&self, state: &mut State) {
        if state.buf.is_empty() || state.removed {
            return;
        }
        if let Err(err) = self.write_buffer(state) {
            tracing::warn!(dir = %self.dir.display(), %err, "cannot write log records; dropping them");
        }
        state.buf.clear();
        if state.buf.capacity() > 2 * FLUSH_AT {
            state.buf = Vec::new();
        }
        self.published.send_replace(snapshot_of(state));
    }

    fn write_buffer(&self, state: &mut State) -> io::Result<()> {
        let len = state.buf.len() as u64;
        if state.active_len > 0 && state.active_len + len > self.half {
            self.rotate(state)?;
        }
        match (&*state.active).write_all(&state.buf) {
            Ok(()) => {
                state.active_len += len;
                Ok(())
            }
            Err(err) => {
                // Drop a partly written batch so the file stays whole records.
                let _ = state.active.set_len(state.active_len);
                Err(err)
            }
        }
    }

    /// The current file becomes `log.1` (replacing the older half); a new one starts.
    fn rotate(&self, state: &mut State) -> io::Result<()> {
        fs::rename(self.dir.join("log"), self.dir.join("log.1"))?;
        let fresh = Arc::new(open_active(&self.dir, true)?);
        let old = std::mem::replace(&mut state.active, fresh);
        state.previous = Some(Segment {
            file: old,
            generation: state.generation,
            len: state.active_len,
        });
        state.generation += 1;
        state.active_len = 0;
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !state.buf.is_empty() && !state.removed {
            let _ = (&*state.active).write_all(&state.buf);
        }
    }
}

fn open_active(dir: &Path, truncate: bool) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .truncate(false)
        .open(dir.join("log"))
        .and_then(|file| {
            if truncate {
                file.set_len(0)?;
            }
            Ok(file)
        })
}

fn snapshot_of(state: &State) -> Snapshot {
    let mut segments: Vec<Segment> = state.previous.iter().cloned().collect();
    segments.push(Segment {
        file: state.active.clone(),
        generation: state.generation,
        len: state.active_len,
    });
    Snapshot {
        segments,
        closed: state.closed,
    }
}

/// Runs the flusher: each queued journal is written at once, then the thread rests a
/// moment so a chatty writer costs a few hundred writes a second, not one per line.
pub fn spawn_flusher() -> io::Result<mpsc::Sender<Arc<Journal>>> {
    let (tx, rx) = mpsc::channel::<Arc<Journal>>();
    std::thread::Builder::new()
        .name("kaspire-logs".into())
        .spawn(move || {
            while let Ok(journal) = rx.recv() {
                journal.flush();
                drop(journal);
                while let Ok(journal) = rx.try_recv() {
                    journal.flush();
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })?;
    Ok(tx)
}
