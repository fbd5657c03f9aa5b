//! The on-disk record: `<timestamp> <source> <replica> <text>\n`, one per line of
//! output. The timestamp is UTC RFC3339 with exactly nine fractional digits, so records
//! compare chronologically as plain strings and print unchanged for `timestamps=true`.

use std::fmt::Write as _;
use std::io::Write as _;

/// Longest text of one record; longer lines are split into several records.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest possible record: the text plus the timestamp, source and replica fields.
pub const MAX_RECORD: usize = MAX_LINE + 64;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Stdout,
    Stderr,
    /// The controller's own lines about the resource (spawned, exited, probe failed…).
    System,
    /// Preparation before the resource runs (container image pulls).
    Startup,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Stdout,
        Source::Stderr,
        Source::System,
        Source::Startup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stdout => "stdout",
            Source::Stderr => "stderr",
            Source::System => "system",
            Source::Startup => "startup",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ts` as stored: UTC, nine fractional digits.
pub fn format_timestamp(ts: jiff::Timestamp) -> String {
    let mut out = String::with_capacity(30);
    let _ = write!(out, "{ts:.9}");
    out
}

/// Appends the records for one chunk of output to `buf`: invalid UTF-8 is replaced,
/// one trailing `\n` or `\r\n` is dropped, embedded newlines start new records and
/// text longer than [`MAX_LINE`] is split at character boundaries.
pub fn encode(buf: &mut Vec<u8>, ts: &str, source: Source, replica: u32, bytes: &[u8]) {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let text = String::from_utf8_lossy(bytes);
    for line in text.split('\n') {
        let mut rest = line.strip_suffix('\r').unwrap_or(line);
        loop {
            let cut = split_point(rest, MAX_LINE);
            let (piece, tail) = rest.split_at(cut);
            buf.extend_from_slice(ts.as_bytes());
            buf.push(b' ');
            buf.extend_from_slice(source.as_str().as_bytes());
            buf.push(b' ');
            let _ = write!(buf, "{replica} ");
            buf.extend_from_slice(piece.as_bytes());
            buf.push(b'\n');
            if tail.is_empty() {
                break;
            }
            rest = tail;
        }
    }
}

/// The largest char boundary of `text` at or below `max`.
fn split_point(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    (1..=max)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(max)
}

/// One parsed record (without its newline).
#[derive(Debug, PartialEq)]
pub struct Record<'a> {
    pub ts: &'a [u8],
    pub source: Source,
    pub replica: u32,
    pub text: &'a [u8],
}

/// Parses a record; `None` for anything malformed (a torn write after a crash).
pub fn parse(line: &[u8]) -> Option<Record<'_>> {
    let mut parts = line.splitn(4, |&b| b == b' ');
    let ts = parts.next()?;
    let source = Source::parse(std::str::from_utf8(parts.next()?).ok()?)?;
    let replica = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let text = parts.next()?;
    if ts.len() != 30 || ts.last() != Some(&b'Z') {
        return None;
    }
    Some(Record {
        ts,
        source,
        replica,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2025-01-02T03:04:05.000000006Z";

    fn records(bytes: &[u8]) -> Vec<String> {
        let mut buf = Vec::new();
        encode(&mut buf, TS, Source::Stderr, 2, bytes);
        String::from_utf8(buf)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn trailing_newlines_are_stripped_and_embedded_ones_split() {
        assert_eq!(records(b"hello\r\n"), [format!("{TS} stderr 2 hello")]);
        assert_eq!(
            records(b"a\nb\r\n"),
            [format!("{TS} stderr 2 a"), format!("{TS} stderr 2 b")]
        );
        assert_eq!(records(b""), [format!("{TS} stderr 2 ")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(
            records(b"bad \xff!"),
            [format!("{TS} stderr 2 bad \u{fffd}!")]
        );
    }

    #[test]
    fn long_lines_split_at_char_boundaries() {
        let line = "é".repeat(MAX_LINE); // two bytes each
        let out = records(line.as_bytes());
        assert_eq!(out.len(), 2);
        let texts: String = out
            .iter()
            .map(|r| parse(r.as_bytes()).unwrap().text)
            .map(|t| std::str::from_utf8(t).unwrap().to_string())
            .collect();
        assert_eq!(texts, line);
        assert!(out.iter().all(|r| r.len() < MAX_RECORD));
    }

    #[test]
    fn records_round_trip_and_garbage_is_rejected() {
        let out = records(b"x y z");
        let rec = parse(out[0].as_bytes()).unwrap();
        assert_eq!(
            rec,
            Record {
                ts: TS.as_bytes(),
                source: Source::Stderr,
                replica: 2,
                text: b"x y z"
            }
        );
        assert!(parse(b"2025-01-02T03:04 stdout 0 torn").is_none());
        assert!(parse(b"").is_none());
        assert!(parse(format!("{TS} nope 0 x").as_bytes()).is_none());
    }

    #[test]
    fn stored_timestamps_have_fixed_width() {
        let ts = format_timestamp(jiff::Timestamp::from_second(1_700_000_000).unwrap());
        assert_eq!(ts, "2023-11-14T22:13:20.000000000Z");
    }
}
