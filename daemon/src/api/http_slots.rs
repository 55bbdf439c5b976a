//! Connection slots of the public HTTP server. At most `max` connections are open; at the
//! cap a new connection takes the slot of the oldest one that is only waiting on its
//! client (request headers or body not in yet, or idle between requests), so a flood of
//! slow clients cannot queue new requests behind it. A connection whose request is being
//! served is never cut; if every slot is serving, the new connection is refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

const WAITING: u8 = 0;
const SERVING: u8 = 1;
const EVICTED: u8 = 2;

/// One connection's state, shared by its task and the slots.
#[derive(Default)]
struct Conn {
    state: AtomicU8,
    evict: Notify,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, so oldest first.
    conns: BTreeMap<u64, Arc<Conn>>,
}

/// The server's connection slots.
pub struct Slots {
    max: usize,
    open: Mutex<Open>,
}

/// What [`Slots::admit`] did to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// There was a free slot.
    Free,
    /// The oldest waiting connection was closed for this one.
    Evicted,
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max: max.max(1),
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for a new connection, or `None` when every slot is serving a request.
    pub fn admit(self: &Arc<Self>) -> Option<(Slot, Admitted)> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut how = Admitted::Free;
        if open.conns.len() >= self.max {
            let victim = open.conns.iter().find_map(|(id, c)| {
                c.state
                    .compare_exchange(WAITING, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                    .then_some(*id)
            })?;
            if let Some(c) = open.conns.remove(&victim) {
                c.evict.notify_one();
            }
            how = Admitted::Evicted;
        }
        let id = open.next_id;
        open.next_id += 1;
        let conn = Arc::new(Conn::default());
        open.conns.insert(id, conn.clone());
        Some((
            Slot {
                slots: self.clone(),
                id,
                conn,
            },
            how,
        ))
    }

    /// Connections holding a slot.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.open.lock().map_or(0, |o| o.conns.len())
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connection's slot; dropping it frees the slot.
pub struct Slot {
    slots: Arc<Slots>,
    id: u64,
    conn: Arc<Conn>,
}

impl Slot {
    /// A handle for the connection's request handler.
    pub fn handle(&self) -> SlotHandle {
        SlotHandle(self.conn.clone())
    }

    /// Resolves when a newer connection took this slot: close the connection.
    pub async fn evicted(&self) {
        self.conn.evict.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.conns.remove(&self.id);
    }
}

/// Marks the connection as serving a request while a [`Serving`] guard lives.
#[derive(Clone)]
pub struct SlotHandle(Arc<Conn>);

impl SlotHandle {
    /// Not evictable from now until the guard is dropped; `None` if it was just evicted.
    pub fn serving(&self) -> Option<Serving> {
        self.0
            .state
            .compare_exchange(WAITING, SERVING, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Serving(self.0.clone()))
    }
}

/// While it lives, the connection's request is being served.
pub struct Serving(Arc<Conn>);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ =
            self.0
                .state
                .compare_exchange(SERVING, WAITING, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_slots_then_the_oldest_waiting_connection_makes_room() {
        let slots = Slots::new(3);
        let (a, how) = slots.admit().expect("free");
        assert_eq!(how, Admitted::Free);
        let (b, _) = slots.admit().expect("free");
        let (_c, _) = slots.admit().expect("free");
        assert_eq!(slots.len(), 3);
        // `a` is serving a request: `b` is the oldest one only waiting.
        let serving = a.handle().serving().expect("not evicted");
        let (_d, how) = slots.admit().expect("room made");
        assert_eq!(how, Admitted::Evicted);
        assert_eq!(slots.len(), 3);
        assert!(b.handle().serving().is_none(), "b was evicted");
        drop(serving);
        // Back to waiting: now `a` is the oldest evictable.
        let (_e, how) = slots.admit().expect("room made");
        assert_eq!(how, Admitted::Evicted);
        assert!(a.handle().serving().is_none(), "a was evicted");
        // Dropping an evicted slot does not free another one's.
        drop(a);
        drop(b);
        assert_eq!(slots.len(), 3);
    }

    #[test]
    fn refused_when_every_slot_is_serving() {
        let slots = Slots::new(2);
        let (a, _) = slots.admit().expect("free");
        let (b, _) = slots.admit().expect("free");
        let _sa = a.handle().serving().expect("serving");
        let sb = b.handle().serving().expect("serving");
        assert!(slots.admit().is_none());
        drop(sb);
        assert!(slots.admit().is_some());
    }

    #[test]
    fn a_closed_connection_frees_its_slot() {
        let slots = Slots::new(1);
        let (a, _) = slots.admit().expect("free");
        drop(a);
        assert!(slots.is_empty());
        let (_b, how) = slots.admit().expect("free");
        assert_eq!(how, Admitted::Free);
    }

    #[tokio::test]
    async fn the_evicted_connection_is_told() {
        let slots = Slots::new(1);
        let (a, _) = slots.admit().expect("free");
        let _b = slots.admit().expect("room made");
        tokio::time::timeout(std::time::Duration::from_secs(5), a.evicted())
            .await
            .expect("eviction notified");
    }
}
