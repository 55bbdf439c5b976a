//! Whether the store takes writes. The writer thread is the only one that changes it: it
//! marks the store refusing when RocksDB refuses a write (a full disk, a read-only file
//! system) and taking writes again once a retry of the held write succeeds. gRPC health,
//! the overview's health line and the Ingest door read it.

use std::time::SystemTime;

use tokio::sync::watch;

/// The store's write state as the writer last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WriteState {
    #[default]
    Taking,
    /// RocksDB refuses writes; the writer holds the refused write and retries it.
    Refusing { since: SystemTime, error: String },
    /// A write failed in a way a retry cannot mend (corruption, a missing column
    /// family): the daemon must restart from the durable state.
    Failed { error: String },
}

impl WriteState {
    pub fn takes_writes(&self) -> bool {
        matches!(self, WriteState::Taking)
    }

    fn is_refusing(&self) -> bool {
        matches!(self, WriteState::Refusing { .. })
    }

    /// The cause of refused or failed writes in a few words.
    pub fn cause(&self) -> Option<String> {
        match self {
            WriteState::Taking => None,
            WriteState::Refusing { error, .. } | WriteState::Failed { error } => {
                Some(short_cause(error))
            }
        }
    }

    /// The operator's one-line summary: `None` while the store takes writes, else
    /// "store full / read-only (…)" with the cause in a few words.
    pub fn summary(&self) -> Option<String> {
        match self {
            WriteState::Taking => None,
            WriteState::Refusing { error, .. } => {
                Some(format!("store full / read-only ({})", short_cause(error)))
            }
            WriteState::Failed { error } => Some(format!(
                "store failed a write ({}); stockbelld restarts from the durable state",
                short_cause(error)
            )),
        }
    }
}

/// How the OS words ENOSPC; RocksDB's message carries it.
const NO_SPACE: &str = "No space left on device";

/// The cause of a RocksDB write error in a few words ("no space left on device"), or
/// the start of its message.
fn short_cause(error: &str) -> String {
    const KNOWN: [&str; 3] = [NO_SPACE, "Read-only file system", "Disk quota exceeded"];
    if let Some(k) = KNOWN.iter().find(|k| error.contains(**k)) {
        return k.to_lowercase();
    }
    const MAX: usize = 80;
    match error.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &error[..cut]),
        None => error.to_owned(),
    }
}

/// Shared view of the write state; cheap to clone. Readers get the current value or
/// subscribe to changes.
#[derive(Clone)]
pub struct StoreHealth {
    tx: watch::Sender<WriteState>,
}

impl Default for StoreHealth {
    fn default() -> Self {
        StoreHealth {
            tx: watch::Sender::new(WriteState::Taking),
        }
    }
}

impl StoreHealth {
    pub fn state(&self) -> WriteState {
        self.tx.borrow().clone()
    }

    /// False while writes are refused (or failed for good): new work is turned away.
    pub fn takes_writes(&self) -> bool {
        self.tx.borrow().takes_writes()
    }

    /// Changes are seen by every receiver (e.g. the task that sets gRPC health).
    pub fn subscribe(&self) -> watch::Receiver<WriteState> {
        self.tx.subscribe()
    }

    /// Marks the store refusing writes; keeps the first time and error of an episode.
    pub(super) fn refusing(&self, error: &str) {
        self.tx.send_if_modified(|s| {
            if !matches!(s, WriteState::Taking) {
                return false;
            }
            *s = WriteState::Refusing {
                since: SystemTime::now(),
                error: error.to_owned(),
            };
            true
        });
    }

    /// Marks a write failure no retry can mend; final.
    pub(super) fn failed(&self, error: &str) {
        self.tx.send_replace(WriteState::Failed {
            error: error.to_owned(),
        });
    }

    /// Marks the store taking writes again.
    pub(super) fn taking(&self) {
        self.tx.send_if_modified(|s| {
            let changed = s.is_refusing();
            if changed {
                *s = WriteState::Taking;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_cause_in_a_few_words() {
        let s = WriteState::Refusing {
            since: SystemTime::now(),
            error: "IO error: No space left on device: While appending to file: \
                    /data/000004.log: No space left on device"
                .into(),
        };
        assert_eq!(
            s.summary().as_deref(),
            Some("store full / read-only (no space left on device)")
        );
        assert_eq!(WriteState::Taking.summary(), None);
    }

    #[test]
    fn an_unknown_cause_is_cut_short() {
        let long = "x".repeat(500);
        let cause = short_cause(&long);
        assert_eq!(cause.chars().count(), 81);
        let s = WriteState::Refusing {
            since: SystemTime::now(),
            error: "IO error: While appending to file: /data/000004.log: Read-only file system"
                .into(),
        };
        assert_eq!(
            s.summary().as_deref(),
            Some("store full / read-only (read-only file system)")
        );
    }

    #[test]
    fn an_episode_keeps_its_first_error_and_ends_once() {
        let h = StoreHealth::default();
        let mut rx = h.subscribe();
        h.refusing("first");
        h.refusing("second");
        assert!(rx.has_changed().unwrap_or(false));
        match rx.borrow_and_update().clone() {
            WriteState::Refusing { error, .. } => assert_eq!(error, "first"),
            other => panic!("expected refusing, got {other:?}"),
        }
        h.taking();
        assert!(h.takes_writes());
        assert!(rx.has_changed().unwrap_or(false));
    }

    #[test]
    fn a_failed_write_is_final() {
        let h = StoreHealth::default();
        h.failed("Corruption: bad block");
        h.taking();
        h.refusing("IO error");
        assert!(matches!(h.state(), WriteState::Failed { .. }));
        let line = h.state().summary().expect("a summary");
        assert!(
            line.starts_with("store failed a write (Corruption: bad block)"),
            "{line}"
        );
    }
}
