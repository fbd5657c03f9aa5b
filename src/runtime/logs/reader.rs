//! Reading a journal: where to start (tail, since), then forward in chunks, filtering
//! and formatting records as kubectl prints them. All file access here is blocking; the
//! stream in [`super::LogStore::read`] runs it on tokio's blocking pool.

use std::io;
use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::journal::{Segment, Snapshot};
use super::record::{self, MAX_RECORD, Record, Source};

/// Bytes read per step; more than a record, so every full chunk holds a line break.
const CHUNK: usize = 2 * MAX_RECORD;

/// Which records a query wants and how to print them.
#[derive(Debug, Clone)]
pub struct Filter {
    pub sources: Vec<Source>,
    pub replica: Option<u32>,
    /// Stored-format timestamp: records before it are skipped.
    pub since: Option<String>,
    pub timestamps: bool,
}

impl Filter {
    fn wants(&self, rec: &Record<'_>) -> bool {
        self.sources.contains(&rec.source)
            && self.replica.is_none_or(|r| r == rec.replica)
            && self.since.as_ref().is_none_or(|s| rec.ts >= s.as_bytes())
    }

    fn print(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        if self.timestamps {
            out.extend_from_slice(rec.ts);
            out.push(b' ');
        }
        out.extend_from_slice(rec.text);
        out.push(b'\n');
    }
}

/// A place in a journal that survives rotations: a file generation and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub generation: u64,
    pub offset: u64,
}

/// A reader's progress through a journal.
pub struct Cursor {
    pub snapshot: Snapshot,
    filter: Filter,
    /// Where the next read starts; `None` until the tail/since start is found.
    position: Option<Position>,
    tail: Option<usize>,
    /// Bytes still allowed out (`limitBytes`).
    remaining: Option<usize>,
}

impl Cursor {
    pub fn new(
        snapshot: Snapshot,
        filter: Filter,
        tail: Option<usize>,
        limit: Option<usize>,
    ) -> Self {
        Cursor {
            snapshot,
            filter,
            position: None,
            tail,
            remaining: limit,
        }
    }

    /// Whether `limitBytes` has been reached (nothing more will ever come out).
    pub fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    /// The next non-empty piece of output readable in the current snapshot, or `None`
    /// when everything in it has been read.
    pub fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let mut position = match self.position {
            Some(p) => p,
            None => start(&self.snapshot.segments, &self.filter, self.tail)?,
        };
        let mut out = Vec::new();
        while out.is_empty() && !self.exhausted() {
            let Some((segment, offset)) = locate(&self.snapshot.segments, position) else {
                break;
            };
            if offset >= segment.len {
                // Only a newer segment can continue; the last one is simply drained.
                match self
                    .snapshot
                    .segments
                    .iter()
                    .find(|s| s.generation > segment.generation)
                {
                    Some(next) => {
                        position = Position {
                            generation: next.generation,
                            offset: 0,
                        };
                        continue;
                    }
                    None => break,
                }
            }
            let data = read_at(segment, offset, CHUNK)?;
            let used = match data.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => data.len(), // not a journal we wrote: skip the garbage
            };
            for line in data[..used].split(|&b| b == b'\n') {
                if let Some(rec) = record::parse(line).filter(|r| self.filter.wants(r)) {
                    self.filter.print(&rec, &mut out);
                }
            }
            position.offset = offset + used as u64;
            if let Some(remaining) = self.remaining.as_mut() {
                out.truncate(*remaining);
                *remaining -= out.len();
            }
        }
        self.position = Some(position);
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }
}

/// Where a segment list continues `position`: its segment and offset, or the oldest
/// segment's start when the position's file has rotated away.
fn locate(segments: &[Segment], position: Position) -> Option<(&Segment, u64)> {
    match segments
        .iter()
        .find(|s| s.generation == position.generation)
    {
        Some(segment) => Some((segment, position.offset)),
        None if segments
            .first()
            .is_some_and(|s| s.generation > position.generation) =>
        {
            segments.first().map(|s| (s, 0))
        }
        None => None,
    }
}

/// The first record to print: the `tail`-th matching record from the end (stopping
/// early at the `since` cutoff), or the very start.
fn start(segments: &[Segment], filter: &Filter, tail: Option<usize>) -> io::Result<Position> {
    let first = Position {
        generation: segments.first().map_or(0, |s| s.generation),
        offset: 0,
    };
    if tail.is_none() && filter.since.is_none() {
        return Ok(first);
    }
    let want = tail.unwrap_or(usize::MAX);
    let mut found = 0;
    let mut position = match segments.last() {
        Some(s) => Position {
            generation: s.generation,
            offset: s.len,
        },
        None => return Ok(first),
    };
    if want == 0 {
        return Ok(position);
    }
    for segment in segments.iter().rev() {
        let mut end = segment.len;
        while end > 0 {
            let from = end.saturating_sub(CHUNK as u64);
            let data = read_at(segment, from, (end - from) as usize)?;
            // Without the file's start in view, the first line may be cut: skip it.
            let skip = if from == 0 {
                0
            } else {
                data.iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |i| i + 1)
            };
            let mut line_end = data.len();
            for line_start in line_starts_rev(&data, skip) {
                let line = &data[line_start..line_end.saturating_sub(1).max(line_start)];
                let at = Position {
                    generation: segment.generation,
                    offset: from + line_start as u64,
                };
                line_end = line_start;
                let Some(rec) = record::parse(line) else {
                    continue;
                };
                if filter.since.as_ref().is_some_and(|s| rec.ts < s.as_bytes()) {
                    return Ok(position);
                }
                position = at;
                if filter.wants(&rec) {
                    found += 1;
                    if found == want {
                        return Ok(position);
                    }
                }
            }
            end = if skip >= data.len() && from > 0 {
                from // one line longer than a chunk: not a journal we wrote, skip it
            } else {
                from + skip as u64
            };
        }
    }
    Ok(position)
}

/// Start offsets of the lines in `data[skip..]` (each ending in `\n`), last first.
fn line_starts_rev(data: &[u8], skip: usize) -> impl Iterator<Item = usize> + '_ {
    let body = &data[skip..data.len().saturating_sub(1).max(skip)];
    let breaks = body
        .iter()
        .enumerate()
        .rev()
        .filter(|&(_, &b)| b == b'\n')
        .map(move |(i, _)| skip + i + 1);
    breaks.chain((skip < data.len()).then_some(skip))
}

fn read_at(segment: &Segment, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let len = len.min(segment.len.saturating_sub(offset) as usize);
    let mut data = vec![0; len];
    segment.file.read_exact_at(&mut data, offset)?;
    Ok(data)
}
