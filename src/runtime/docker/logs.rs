//! A container's output into the resource's log: the engine's log stream, followed
//! from a given time and cut into lines (the engine sends chunks, not lines).

use std::sync::Arc;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::StreamExt;

use super::ContainerRef;
use crate::runtime::process::{OutputSink, Stream};

/// Longest line kept whole; longer ones are cut (the log's own bound is per line too).
const MAX_LINE: usize = 64 * 1024;

/// Follows the container's stdout and stderr from `since` (Unix seconds; 0 = from the
/// start) until it stops. Dropping the handle stops following.
pub fn follow_logs(container: &ContainerRef, sink: Arc<dyn OutputSink>, since: i64) -> Follower {
    let container = container.clone();
    let task = tokio::spawn(async move {
        let options = LogsOptions {
            follow: true,
            stdout: true,
            stderr: true,
            since: since.clamp(0, i32::MAX as i64) as i32,
            tail: "all".into(),
            ..Default::default()
        };
        let mut stream = container.docker.logs(&container.id, Some(options));
        let mut lines = Lines::default();
        while let Some(Ok(chunk)) = stream.next().await {
            match chunk {
                LogOutput::StdErr { message } => lines.push(Stream::Stderr, &message, &*sink),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    lines.push(Stream::Stdout, &message, &*sink)
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        lines.flush(&*sink);
    });
    Follower(task.abort_handle())
}

/// Stops following its container's log when dropped.
pub struct Follower(tokio::task::AbortHandle);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Partial lines per stream, completed by later chunks.
#[derive(Default)]
pub(super) struct Lines {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Lines {
    pub(super) fn push(&mut self, stream: Stream, chunk: &[u8], sink: &dyn OutputSink) {
        let buffer = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        for piece in chunk.split_inclusive(|b| *b == b'\n') {
            buffer.extend_from_slice(piece);
            if buffer.last() == Some(&b'\n') || buffer.len() >= MAX_LINE {
                let line = buffer.strip_suffix(b"\n").unwrap_or(buffer);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                sink.line(stream, line);
                buffer.clear();
            }
        }
    }

    pub(super) fn flush(&mut self, sink: &dyn OutputSink) {
        if !self.stdout.is_empty() {
            sink.line(Stream::Stdout, &self.stdout);
        }
        if !self.stderr.is_empty() {
            sink.line(Stream::Stderr, &self.stderr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<(Stream, String)>>);

    impl OutputSink for Collect {
        fn line(&self, stream: Stream, line: &[u8]) {
            let text = String::from_utf8_lossy(line).into_owned();
            self.0.lock().unwrap().push((stream, text));
        }
        fn dropped(&self, _: Stream, _: u64, _: u64) {}
    }

    #[test]
    fn chunks_are_cut_into_lines_per_stream() {
        let sink = Collect::default();
        let mut lines = Lines::default();
        lines.push(Stream::Stdout, b"hel", &sink);
        lines.push(Stream::Stderr, b"oops\r\n", &sink);
        lines.push(Stream::Stdout, b"lo\nwor", &sink);
        lines.push(Stream::Stdout, b"ld\n\nlast", &sink);
        lines.flush(&sink);
        let got = sink.0.lock().unwrap().clone();
        let texts: Vec<(Stream, &str)> = got.iter().map(|(s, t)| (*s, t.as_str())).collect();
        assert_eq!(
            texts,
            vec![
                (Stream::Stderr, "oops"),
                (Stream::Stdout, "hello"),
                (Stream::Stdout, "world"),
                (Stream::Stdout, ""),
                (Stream::Stdout, "last"),
            ]
        );
    }
}
