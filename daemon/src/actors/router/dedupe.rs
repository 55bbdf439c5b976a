//! Producer dedupe: a batch whose sequence is not above its producer's last one is a
//! re-send, acknowledged again without being applied. The last sequence per producer is
//! cached here (loaded from the store on first sight) and moves when a batch is
//! dispatched, so a re-send arriving before the first copy is durable is recognised too.

use std::collections::HashMap;

use super::BatchAck;
use crate::store::records::{ProducerRecord, Producers};
use crate::store::{Store, StoreError};

/// Whether a batch is new or a re-send.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Admission {
    Fresh,
    Duplicate(BatchAck),
}

/// The ack for a re-send of `sequence` when the producer's last batch is `last`: nothing
/// is applied now, so `applied` is 0; a re-send of the last batch gets its rejections
/// again (the producer may have missed the first ack).
pub(super) fn duplicate_ack(last: &ProducerRecord, sequence: u64) -> BatchAck {
    BatchAck {
        duplicate: true,
        applied: 0,
        rejections: if sequence == last.last_sequence {
            last.last_rejections.clone()
        } else {
            Vec::new()
        },
    }
}

#[derive(Default)]
pub(super) struct ProducerLog {
    last: HashMap<String, ProducerRecord>,
}

impl ProducerLog {
    /// Decides whether `sequence` is new for `producer`.
    pub async fn admit(
        &mut self,
        store: &Store,
        producer: &str,
        sequence: u64,
    ) -> Result<Admission, StoreError> {
        let last = match self.last.get(producer) {
            Some(r) => r.clone(),
            None => {
                let key = producer.to_owned();
                let stored = store
                    .read(move |s| s.get::<Producers>(&key))
                    .await?
                    .unwrap_or_default();
                self.last.insert(producer.to_owned(), stored.clone());
                stored
            }
        };
        Ok(if sequence <= last.last_sequence {
            Admission::Duplicate(duplicate_ack(&last, sequence))
        } else {
            Admission::Fresh
        })
    }

    /// A fresh batch was dispatched: later re-sends of it are duplicates from now on.
    pub fn dispatched(&mut self, producer: &str, sequence: u64) {
        self.last.insert(
            producer.to_owned(),
            ProducerRecord {
                last_sequence: sequence,
                ..ProducerRecord::default()
            },
        );
    }

    /// The batch's outcome, as written with its effects (returned again to a re-send).
    pub fn answered(&mut self, producer: String, record: ProducerRecord) {
        self.last.insert(producer, record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Rejected;

    #[test]
    fn a_resent_batch_applies_nothing_and_repeats_only_the_last_rejections() {
        let last = ProducerRecord {
            last_sequence: 7,
            last_applied: 2,
            last_rejections: vec![Rejected {
                index: 1,
                field: "sku".into(),
                reason: "empty".into(),
            }],
        };
        let again = duplicate_ack(&last, 7);
        assert!(again.duplicate);
        assert_eq!(again.applied, 0);
        assert_eq!(again.rejections, last.last_rejections);
        let older = duplicate_ack(&last, 3);
        assert_eq!((older.applied, older.rejections.len()), (0, 0));
    }
}
