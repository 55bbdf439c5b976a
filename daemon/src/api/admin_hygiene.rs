//! `PreviewSunset`: how many customers a sunset policy would pause now, counted in one
//! blocking scan of the customers column family with the same rule the customers'
//! actors apply (`Hygiene::standing`).

use tonic::Status;

use super::admin::AdminApi;
use crate::clock::now_ms;
use crate::domain::lifecycle::hygiene::{marketing_after, HygienePolicy, Standing};
use crate::store::interest::latest_signal_ms;
use crate::store::records::Customers;
use crate::store::{Seek, Store, StoreError};
use stockbell_proto::v1 as pb;

/// Longest `inactive_for` a preview takes (10 years).
const MAX_INACTIVE_MS: i64 = 10 * 365 * 86_400_000;

fn count(store: &Store, p: &HygienePolicy, now: i64) -> Result<[u64; 4], StoreError> {
    let mut n = [0u64; 4];
    for row in store.iter::<Customers>(Seek::First)? {
        let (_, c) = row?;
        let lc = &c.lifecycle;
        let mut h = lc.hygiene.clone();
        if h.needs_interest(&lc.engagement, c.created_ms, now, p) {
            // As the customer's actor will: their latest interest signal counts.
            if let Some(at) = latest_signal_ms(store, &c.id)? {
                h.interest_seen(at, marketing_after(&c.ledger, at));
            }
        }
        let i = match h.standing(&lc.engagement, c.created_ms, now, p) {
            Standing::Active => 0,
            Standing::WouldPause => 1,
            Standing::Paused => 2,
            Standing::Complained => 3,
        };
        n[i] += 1;
    }
    Ok(n)
}

impl AdminApi {
    pub(super) async fn preview_sunset(
        &self,
        r: pb::PreviewSunsetRequest,
    ) -> Result<pb::SunsetPreview, Status> {
        if !(0..=MAX_INACTIVE_MS).contains(&r.inactive_for_ms) {
            return Err(Status::invalid_argument(format!(
                "inactive_for_ms {} must be from 0 (the configured [hygiene] inactive_for) to {MAX_INACTIVE_MS} (10 years)",
                r.inactive_for_ms
            )));
        }
        let p = HygienePolicy {
            sunset: true,
            min_messages: if r.min_messages == 0 {
                self.sunset.min_messages
            } else {
                r.min_messages
            },
            inactive_for_ms: if r.inactive_for_ms == 0 {
                self.sunset.inactive_for_ms
            } else {
                r.inactive_for_ms
            },
            ..self.sunset
        };
        let now = now_ms();
        let [active, would_pause, paused, complained] = self
            .store
            .read(move |s| count(s, &p, now))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(pb::SunsetPreview {
            min_messages: p.min_messages,
            inactive_for_ms: p.inactive_for_ms,
            sunset_enabled: self.sunset.sunset,
            customers: active + would_pause + paused + complained,
            would_pause,
            paused,
            complained,
        })
    }
}
