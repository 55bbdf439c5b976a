//! The registry of virtual actors of one kind (products or customers): activates them
//! from RocksDB on first use (one multi-get for all misses of a batch), sends each its
//! group of items, and passivates those idle whose last write is durable.

use std::collections::HashMap;
use std::time::Instant;

use ractor::{Actor, ActorRef, RpcReplyPort};
use tokio::sync::oneshot;

use crate::store::{Schema, Store, StoreError};

/// An actor kind the registry can activate: where its state lives and how to start it.
pub trait Virtual: Actor + Copy + Default {
    /// The schema holding the state, keyed by the actor's key.
    type Schema: for<'a> Schema<KeyRef<'a> = &'a str>;
    type Item: Send + 'static;
    type Reply: Send + 'static;
    /// What every actor of this kind shares (config).
    type Shared: Clone + Send;

    fn args(key: String, state: Option<StateOf<Self>>, shared: &Self::Shared) -> Self::Arguments;
    fn apply_msg(items: Vec<Self::Item>, reply: RpcReplyPort<Self::Reply>) -> Self::Msg;
    /// The message that asks for a copy of the state.
    fn get_msg(reply: RpcReplyPort<Option<StateOf<Self>>>) -> Self::Msg;
}

/// The state an actor kind keeps (its schema's value).
pub type StateOf<A> = <<A as Virtual>::Schema as Schema>::Value;

struct Slot<M: ractor::Message> {
    actor: ActorRef<M>,
    last_ticket: u64,
    last_used: Instant,
}

pub struct Registry<A: Virtual> {
    slots: HashMap<String, Slot<A::Msg>>,
    shared: A::Shared,
}

/// Replies of one dispatch, by key.
pub type Replies<R> = Vec<(String, oneshot::Receiver<R>)>;

fn actor_error(reason: String) -> StoreError {
    StoreError::Corrupt {
        cf: "actors",
        reason,
    }
}

impl<A: Virtual> Registry<A> {
    pub fn new(shared: A::Shared) -> Self {
        Registry {
            slots: HashMap::new(),
            shared,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<ActorRef<A::Msg>> {
        self.slots.get(key).map(|s| s.actor.clone())
    }

    /// Activates missing actors, then sends each key its items; replies come back in the
    /// returned receivers. Every actor touched is marked with `ticket`.
    pub async fn dispatch(
        &mut self,
        store: &Store,
        groups: Vec<(String, Vec<A::Item>)>,
        ticket: u64,
    ) -> Result<Replies<A::Reply>, StoreError> {
        let missing: Vec<String> = groups
            .iter()
            .filter(|(k, _)| !self.slots.contains_key(k))
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let loaded = store
                .read(move |s| {
                    let states = s.multi_get::<A::Schema>(missing.iter().map(String::as_str))?;
                    Ok(missing.into_iter().zip(states).collect::<Vec<_>>())
                })
                .await?;
            let now = Instant::now();
            for (key, state) in loaded {
                let args = A::args(key.clone(), state, &self.shared);
                let (actor, _) = Actor::spawn(None, A::default(), args)
                    .await
                    .map_err(|e| actor_error(e.to_string()))?;
                self.slots.insert(
                    key,
                    Slot {
                        actor,
                        last_ticket: 0,
                        last_used: now,
                    },
                );
            }
        }
        let now = Instant::now();
        let mut replies = Vec::with_capacity(groups.len());
        for (key, items) in groups {
            let Some(slot) = self.slots.get_mut(&key) else {
                continue;
            };
            slot.last_ticket = ticket;
            slot.last_used = now;
            let (port, rx) = oneshot::channel();
            if slot.actor.cast(A::apply_msg(items, port.into())).is_err() {
                return Err(actor_error(format!("the actor of {key:?} stopped")));
            }
            replies.push((key, rx));
        }
        Ok(replies)
    }

    /// Stops actors unused since `cutoff` whose last batch is durable; returns how many.
    pub fn passivate_idle(&mut self, cutoff: Instant, durable_ticket: u64) -> usize {
        let before = self.slots.len();
        self.slots.retain(|_, slot| {
            let idle = slot.last_used < cutoff && slot.last_ticket <= durable_ticket;
            if idle {
                slot.actor.stop(None);
            }
            !idle
        });
        before - self.slots.len()
    }

    /// Passivates the least recently used actors whose last batch is durable until at
    /// most `keep` remain (fewer go when the rest are not durable yet); returns how many.
    pub fn trim_to(&mut self, keep: usize, durable_ticket: u64) -> usize {
        let excess = self.slots.len().saturating_sub(keep);
        let mut idle: Vec<Instant> = self
            .slots
            .values()
            .filter(|s| s.last_ticket <= durable_ticket)
            .map(|s| s.last_used)
            .collect();
        let take = excess.min(idle.len());
        if take == 0 {
            return 0;
        }
        let (_, cutoff, _) = idle.select_nth_unstable(take - 1);
        let cutoff = *cutoff;
        let mut stopped = 0;
        self.slots.retain(|_, slot| {
            let go =
                stopped < take && slot.last_ticket <= durable_ticket && slot.last_used <= cutoff;
            if go {
                slot.actor.stop(None);
                stopped += 1;
            }
            !go
        });
        stopped
    }

    pub fn stop_all(&mut self) {
        for (_, slot) in self.slots.drain() {
            slot.actor.stop(None);
        }
    }
}

/// Groups items by key, keeping each key's items in batch order.
pub fn group<T>(items: impl Iterator<Item = (String, T)>) -> Vec<(String, Vec<T>)> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<(String, Vec<T>)> = Vec::new();
    for (key, item) in items {
        match index.get(&key) {
            Some(&i) => groups[i].1.push(item),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![item]));
            }
        }
    }
    groups
}
