//! What waits to be written to one client, and how it gets written.
//!
//! Publishers append protocol bytes to a client's [`Outbound`] under a short
//! lock and never wait for the socket. Small payloads are copied (cheaper
//! than sharing them); payloads of [`SHARE_THRESHOLD`] bytes or more may be
//! appended as reference-counted [`Bytes`], so a fan-out to many
//! subscribers shares one copy (made of exactly the payload, never a slice
//! of the publisher's read buffer: see `delivery::large_payload`). The client's writer task
//! swaps the whole batch out (double buffering: no allocation in steady
//! state) and writes it with vectored writes, many messages per syscall.

use std::io::{self, IoSlice};

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::AsyncWrite;

/// Payloads at least this large are shared, not copied.
pub const SHARE_THRESHOLD: usize = 4096;

/// A written batch whose buffer grew past this gives its room back
/// (steady traffic reuses a smaller one without allocating).
const SHRINK_ABOVE: usize = 4 * 1024 * 1024;

/// At most this many slices go into one vectored write.
const MAX_IOVECS: usize = 64;

/// A batch of bytes for one client: a contiguous buffer with shared payloads
/// spliced in at recorded offsets.
#[derive(Default)]
pub struct Batch {
    buf: BytesMut,
    /// `(offset in buf, payload)`: the payload goes before `buf[offset..]`.
    shared: Vec<(usize, Bytes)>,
    shared_len: usize,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.buf.len() + self.shared_len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.put_slice(bytes);
    }

    /// The buffer to encode protocol lines into.
    pub fn buf_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Appends a payload, by reference when it is large.
    #[inline]
    pub fn put_payload(&mut self, payload: &Bytes) {
        if payload.len() >= SHARE_THRESHOLD {
            self.shared_len += payload.len();
            self.shared.push((self.buf.len(), payload.clone()));
        } else {
            self.buf.put_slice(payload);
        }
    }

    /// Empties the batch after it was written and, when a burst left it
    /// far larger than ordinary traffic needs, gives the room back: a
    /// connection that once neared `max_pending` would otherwise keep
    /// about twice that (this buffer and its spare) for life.
    pub fn clear_and_shrink(&mut self) {
        self.clear();
        if self.buf.capacity() > SHRINK_ABOVE {
            self.buf = BytesMut::new();
        }
        if self.shared.capacity() > MAX_IOVECS * 4 {
            self.shared = Vec::new();
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.shared.clear();
        self.shared_len = 0;
    }

    /// Writes the whole batch, as few syscalls as the socket allows.
    pub async fn write_to<W: AsyncWrite + Unpin>(&self, w: &mut W) -> io::Result<()> {
        self.write_from(w, &mut 0).await
    }

    /// Writes the batch from byte `written` on, counting in `written` what
    /// has gone out, so that a write cut off by a deadline can go on where
    /// it stopped.
    pub async fn write_from<W: AsyncWrite + Unpin>(
        &self,
        w: &mut W,
        written: &mut usize,
    ) -> io::Result<()> {
        let total = self.len();
        while *written < total {
            // The slice array lives only inside one poll, never in the
            // future's state: every connection's task stays small.
            let n = std::future::poll_fn(|cx| {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let count = self.slices_from(*written, &mut slices);
                std::pin::Pin::new(&mut *w).poll_write_vectored(cx, &slices[..count])
            })
            .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *written += n;
        }
        Ok(())
    }

    /// Fills `out` with the slices that follow the first `skip` bytes.
    fn slices_from<'a>(&'a self, mut skip: usize, out: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        let mut cursor = 0;
        let segments = self
            .shared
            .iter()
            .flat_map(|(at, payload)| {
                let before = &self.buf[cursor_range(&mut cursor, *at)];
                [before, &payload[..]]
            })
            .chain(std::iter::once(&self.buf[last_offset(&self.shared)..]));
        for seg in segments {
            if count == out.len() {
                break;
            }
            if skip >= seg.len() {
                skip -= seg.len();
                continue;
            }
            out[count] = IoSlice::new(&seg[skip..]);
            skip = 0;
            count += 1;
        }
        count
    }
}

fn cursor_range(cursor: &mut usize, to: usize) -> std::ops::Range<usize> {
    let from = *cursor;
    *cursor = to;
    from..to
}

fn last_offset(shared: &[(usize, Bytes)]) -> usize {
    shared.last().map_or(0, |(at, _)| *at)
}

/// The pending output of one client, behind its lock.
pub struct Outbound {
    pub batch: Batch,
    /// The writer has been woken for what is in `batch`.
    pub flush_scheduled: bool,
    /// The connection is closing: appends are dropped.
    pub closed: bool,
    /// When the writer took the batch it is writing now, if it is writing.
    pub write_started: Option<std::time::Instant>,
    /// Messages queued for this connection since it started.
    pub sent: crate::stats::Counts,
}

impl Outbound {
    /// Whether the current write has been going on too long to wait for.
    pub fn writer_stuck(&self) -> bool {
        self.write_started
            .is_some_and(|t| t.elapsed() > crate::connection::STUCK_WRITER)
    }
}

impl Outbound {
    pub fn new() -> Self {
        Outbound {
            batch: Batch::default(),
            flush_scheduled: false,
            closed: false,
            write_started: None,
            sent: crate::stats::Counts::default(),
        }
    }
}

impl Default for Outbound {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, item 10: a burst's room is given back once written;
    /// ordinary batches keep theirs (no allocation in steady state).
    #[test]
    fn a_burst_gives_its_room_back_once_written() {
        let mut batch = Batch::default();
        batch.put(&vec![b'x'; 64 * 1024]);
        let ordinary = batch.buf.capacity();
        batch.clear_and_shrink();
        assert_eq!(batch.buf.capacity(), ordinary, "kept");
        batch.put(&vec![b'x'; 16 * 1024 * 1024]);
        batch.clear_and_shrink();
        assert!(batch.is_empty());
        assert!(batch.buf.capacity() <= SHRINK_ABOVE, "given back");
    }

    #[tokio::test]
    async fn shared_payloads_are_spliced_in_order() {
        let mut batch = Batch::default();
        let big = Bytes::from(vec![b'x'; SHARE_THRESHOLD]);
        batch.put(b"MSG a 1 4096\r\n");
        batch.put_payload(&big);
        batch.put(b"\r\nMSG b 1 2\r\n");
        batch.put_payload(&Bytes::from_static(b"hi"));
        batch.put(b"\r\nMSG c 1 4096\r\n");
        batch.put_payload(&big);
        batch.put(b"\r\n");
        let mut out = Vec::new();
        batch.write_to(&mut out).await.unwrap();
        let mut expected = b"MSG a 1 4096\r\n".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\nMSG b 1 2\r\nhi\r\nMSG c 1 4096\r\n");
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(out, expected);
        assert_eq!(batch.len(), expected.len());
    }

    #[test]
    fn slices_resume_after_a_partial_write() {
        let mut batch = Batch::default();
        let big = Bytes::from(vec![b'y'; SHARE_THRESHOLD]);
        batch.put(b"head");
        batch.put_payload(&big);
        batch.put(b"tail");
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let n = batch.slices_from(6, &mut slices);
        assert_eq!(n, 2);
        assert_eq!(slices[0].len(), SHARE_THRESHOLD - 2);
        assert_eq!(&*slices[1], b"tail");
    }
}
