//! The response body: either a complete buffer or the streamed 50 MB
//! padding of the `huge` fault.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, SizeHint};

/// Size of the `huge` fault's body.
pub const HUGE_BODY_BYTES: u64 = 50 * 1024 * 1024;

const HUGE_PREFIX: &[u8] = b"{\"id\":\"huge\",\"padding\":\"";
const HUGE_SUFFIX: &[u8] = b"\"}";
static PAD: [u8; 64 * 1024] = [b'x'; 64 * 1024];

pub enum SbBody {
    Full(Option<Bytes>),
    /// Streams `{"id":"huge","padding":"xxx…"}` of exactly `total` bytes.
    Huge {
        sent: u64,
        total: u64,
    },
}

impl SbBody {
    pub fn full(b: impl Into<Bytes>) -> Self {
        let b: Bytes = b.into();
        if b.is_empty() {
            SbBody::Full(None)
        } else {
            SbBody::Full(Some(b))
        }
    }

    pub fn huge() -> Self {
        SbBody::Huge {
            sent: 0,
            total: HUGE_BODY_BYTES,
        }
    }
}

impl Body for SbBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            SbBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            SbBody::Huge { sent, total } => {
                if *sent >= *total {
                    return Poll::Ready(None);
                }
                let suffix_at = *total - HUGE_SUFFIX.len() as u64;
                let chunk = if *sent == 0 {
                    Bytes::from_static(HUGE_PREFIX)
                } else if *sent < suffix_at {
                    let n = (suffix_at - *sent).min(PAD.len() as u64) as usize;
                    Bytes::from_static(&PAD[..n])
                } else {
                    Bytes::from_static(HUGE_SUFFIX)
                };
                *sent += chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SbBody::Full(b) => b.is_none(),
            SbBody::Huge { sent, total } => sent >= total,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SbBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            SbBody::Huge { sent, total } => SizeHint::with_exact(total - sent),
        }
    }
}
