//! Host memory a component can make the host hold, counted against one budget per instance.
//!
//! A component's linear memory is capped by the [`Meter`](super::limits::Meter), but what it
//! asks the host to hold lives outside that cap: response bodies received for it and not yet
//! read, request bodies on their way out, header `fields`, and the resource-table entries behind
//! every handle. The first two are byte-counted here, [`Budget`] by [`Charge`]; the others are
//! bounded by count and size in [`crate::engine`] (see [`HOST_OBJECTS`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Handles (resource-table entries) one instance may hold at once: requests, responses, bodies,
/// streams, pollables, `fields`. A connector needs about ten per request in flight.
pub const HOST_OBJECTS: usize = 1024;

/// Bytes one `fields` resource the component builds may take in host memory (names, values and
/// the map's own overhead). Requests to an API carry a few hundred bytes of headers.
pub const FIELDS_BYTES: usize = 14 << 10;

/// Largest single write to an outgoing body the host buffers; it holds at most two of them per
/// body until the request is sent.
pub const OUTGOING_BODY_CHUNK: usize = 16 << 10;

/// Requests one instance may have in flight at once (sent, response not yet complete). More
/// wait their turn: waiting costs the host nothing but the handle.
pub const REQUESTS_IN_FLIGHT: usize = 8;

/// Largest request body a guest may send (connectors send queries, not uploads).
pub const MAX_REQUEST_BODY: usize = 256 << 10;

/// Host memory outside response bodies that a component can make the host hold at most:
/// every handle a `fields` at its cap (the largest object per handle), plus the request bodies
/// in flight. With the default response budget (48 MiB) the host's budget is 64 MiB.
pub const HOST_OBJECTS_BUDGET: u64 =
    (HOST_OBJECTS * FIELDS_BYTES + REQUESTS_IN_FLIGHT * MAX_REQUEST_BODY) as u64;

/// A byte budget shared by everything one instance holds in host buffers.
#[derive(Debug)]
pub struct Budget {
    cap: u64,
    used: AtomicU64,
}

/// Asking for more than the budget has left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget {
    /// The most it may hold, in bytes.
    pub cap: u64,
    /// What it holds now.
    pub held: u64,
}

impl Budget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Arc<Budget> {
        Arc::new(Budget {
            cap,
            used: AtomicU64::new(0),
        })
    }

    /// The most it may hold, in bytes.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Bytes charged and not yet released.
    pub fn held(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// An empty charge, to grow as bytes arrive.
    pub fn start(self: &Arc<Self>) -> Charge {
        Charge {
            budget: self.clone(),
            bytes: 0,
        }
    }

    fn take(&self, bytes: u64) -> Result<(), OverBudget> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|n| *n <= self.cap)
            })
            .map(|_| ())
            .map_err(|held| OverBudget {
                cap: self.cap,
                held,
            })
    }
}

/// Bytes held against a [`Budget`], given back when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    bytes: u64,
}

impl Charge {
    /// Adds `bytes` to this charge, or refuses when the budget cannot cover them.
    pub fn grow(&mut self, bytes: u64) -> Result<(), OverBudget> {
        self.budget.take(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Sets this charge to exactly `bytes` (e.g. after a body was decoded to a new size).
    pub fn resize(&mut self, bytes: u64) -> Result<(), OverBudget> {
        if bytes > self.bytes {
            self.grow(bytes - self.bytes)
        } else {
            self.budget
                .used
                .fetch_sub(self.bytes - bytes, Ordering::AcqRel);
            self.bytes = bytes;
            Ok(())
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// A complete body that keeps its bytes charged until the component has read it or dropped it.
pub struct HeldBody {
    data: Option<Bytes>,
    _charge: Charge,
}

impl HeldBody {
    /// A body of `data`, its bytes charged to a budget until dropped.
    pub fn new(data: Bytes, charge: Charge) -> HeldBody {
        HeldBody {
            data: (!data.is_empty()).then_some(data),
            _charge: charge,
        }
    }
}

impl Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn charges_add_up_to_the_cap_and_are_given_back_on_drop() {
        let budget = Budget::new(100);
        let mut a = budget.start();
        a.grow(60).unwrap();
        let mut b = budget.start();
        assert_eq!(b.grow(41), Err(OverBudget { cap: 100, held: 60 }));
        b.grow(40).unwrap();
        assert_eq!(budget.held(), 100);
        a.resize(10).unwrap();
        assert_eq!(budget.held(), 50);
        drop(a);
        drop(b);
        assert_eq!(budget.held(), 0);
    }

    #[tokio::test]
    async fn a_held_body_releases_its_charge_when_dropped_not_before() {
        let budget = Budget::new(1 << 20);
        let mut charge = budget.start();
        charge.grow(5).unwrap();
        let mut body = HeldBody::new(Bytes::from_static(b"hello"), charge);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "hello");
        assert!(body.frame().await.is_none());
        assert_eq!(budget.held(), 5);
        drop(body);
        assert_eq!(budget.held(), 0);
    }
}
