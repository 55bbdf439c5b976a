//! `Admin.GetCustomer`: profile, consent, suppressions, interests with their current
//! scores (from the `interest_by_customer` index), the send ledger, messages held for
//! arbitration or quiet hours, and the latest outbox entries.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use super::admin_outbox::entry_view;
use crate::actors::Found;
use crate::delivery::outbox::reads;
use crate::domain::customer::Locale;
use crate::domain::interest::{score, InterestWeights};
use crate::domain::lifecycle::lapse::LapseRules;
use crate::domain::profile::CustomerState;
use crate::domain::rules::quiet::parse_tz;
use crate::domain::segments::build::row_of;
use crate::domain::segments::ScoreSource;
use crate::store::interest::InterestByCustomer;
use crate::store::records::Customers;
use crate::store::{Seek, Store, StoreError};

/// Most interests listed for one customer.
const MAX_INTERESTS: usize = 1000;
/// Outbox entries shown with a customer (ListOutbox pages through the rest).
const RECENT_MESSAGES: usize = 20;

fn interests(
    store: &Store,
    id: &str,
    now: i64,
    w: &InterestWeights,
) -> Result<Vec<pb::Interest>, StoreError> {
    let mut out = Vec::new();
    let rows = store.iter_prefix::<InterestByCustomer>(id, Seek::First)?;
    for row in rows.take(MAX_INTERESTS) {
        let ((_, sku), e) = row?;
        out.push(pb::Interest {
            sku,
            score: score(&e, now, w),
            favourite: e.favourite,
            in_cart: e.in_cart,
            notify_me_until_ms: e.notify_me_until_ms.filter(|u| *u > now).unwrap_or(0),
            views: e.views,
            dwell_ms: e.dwell_ms,
            seen_price_minor: e.seen_price.unwrap_or(0),
            first_ms: e.first_ms,
            last_ms: e.last_ms,
            purchased_ms: e.purchased_ms.unwrap_or(0),
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.sku.cmp(&b.sku)));
    Ok(out)
}

/// Offers waiting for the arbitration window, then messages held for quiet hours.
fn held(c: &CustomerState) -> Vec<pb::HeldMessage> {
    let arbitrating = c.pending.iter().map(|o| pb::HeldMessage {
        state: "arbitrating".into(),
        scenario: o.candidate.scenario.as_str().into(),
        channel: String::new(),
        skus: vec![o.candidate.sku.clone()],
        due_ms: c.pending_due_ms.unwrap_or(0),
    });
    let quiet = c.deferred.iter().map(|d| pb::HeldMessage {
        state: "quiet_hours".into(),
        scenario: d.scenario.as_str().into(),
        channel: d.channel.as_str().into(),
        skus: d.offers.iter().map(|o| o.candidate.sku.clone()).collect(),
        due_ms: d.release_ms,
    });
    arbitrating.chain(quiet).collect()
}

/// The customer's win-back and birthday state; `None` with neither orders nor a birthday.
fn lapse(c: &CustomerState, now: i64, rules: &LapseRules) -> Option<pb::CustomerLapse> {
    let l = &c.lifecycle.lapse;
    if l.order_times.is_empty() && l.birthday.is_none() {
        return None;
    }
    let tz = parse_tz(&c.time_zone).unwrap_or(chrono_tz::Tz::UTC);
    Some(pb::CustomerLapse {
        birthday: l.birthday.map(|b| b.as_string()).unwrap_or_default(),
        birthday_sent_year: l.birthday_sent_year.unwrap_or(0),
        next_birthday_ms: l.birthday_due_ms(now, tz, &rules.birthday).unwrap_or(0),
        order_times_ms: l.order_times.clone(),
        median_interval_ms: l.median_interval_ms().unwrap_or(0),
        next_win_back_ms: l.win_back_due_ms(&rules.win_back).unwrap_or(0),
        win_back_sent_for_ms: l.win_back_sent_for_ms.unwrap_or(0),
    })
}

fn view(
    id: String,
    state: Option<Found<CustomerState>>,
    interests: Vec<pb::Interest>,
    recent_messages: Vec<pb::OutboxEntry>,
    (now, rules): (i64, &LapseRules),
) -> pb::Customer {
    let Some(Found { state: c, active }) = state else {
        return pb::Customer {
            customer_id: id,
            interests,
            recent_messages,
            ..Default::default()
        };
    };
    let held = held(&c);
    let engagement = super::admin_engagement::view(&c.lifecycle.engagement, crate::clock::now_ms());
    let journey = journey(&c.lifecycle.journey);
    let latest_interest = interests.iter().map(|i| i.last_ms).filter(|t| *t > 0).max();
    let hygiene = hygiene(&c, latest_interest);
    let lapse = lapse(&c, now, rules);
    pb::Customer {
        customer_id: id,
        email: c.email.unwrap_or_default(),
        line_user_id: c.line_user_id.unwrap_or_default(),
        locale: match c.locale {
            Locale::Ja => "ja".into(),
            Locale::En => "en".into(),
        },
        time_zone: c.time_zone,
        consent_email: c.consent.email,
        consent_line: c.consent.line,
        consent_webhook: c.consent.webhook,
        tags: c.tags,
        suppressed: c.suppressed.iter().map(|s| s.as_str().to_owned()).collect(),
        interests,
        ledger: c
            .ledger
            .iter()
            .map(|s| pb::SentMessage {
                at_ms: s.at_ms,
                scenario: s.scenario.as_str().into(),
                channel: s.channel.as_str().into(),
                skus: s.skus.clone(),
            })
            .collect(),
        created_ms: c.created_ms,
        updated_ms: c.updated_ms,
        active,
        held,
        recent_messages,
        engagement: Some(engagement),
        journey: Some(journey),
        hygiene: Some(hygiene),
        lapse,
        value: None,
    }
}

/// Most SKUs listed in a customer's value.
const MAX_BOUGHT: usize = 50;

/// The customer's value as segments see it (`row_of` of their state) and their scores;
/// `segments` is filled by the caller (`AdminApi::segments_of`).
pub(super) fn customer_value(
    c: &CustomerState,
    scores: &dyn ScoreSource,
    now: i64,
) -> pb::CustomerValue {
    let row = row_of(c);
    let s = scores.scores(&row, now);
    pb::CustomerValue {
        orders: row.order_count(),
        spend_minor: row.spend_minor(),
        first_order_ms: row.first_order_ms().unwrap_or(0),
        last_order_ms: row.last_order_ms().unwrap_or(0),
        mean_order_minor: row.mean_order_minor().unwrap_or(0.0),
        mean_interval_ms: row.mean_interval_ms().unwrap_or(0),
        median_interval_ms: row.median_interval_ms().unwrap_or(0),
        coupon_orders: row.coupon_orders(),
        subscribed: row.subscribed,
        last_click_ms: row.last_click_ms.unwrap_or(0),
        recency: u32::from(s.recency),
        frequency: u32::from(s.frequency),
        monetary: u32::from(s.monetary),
        rfm_group: s.group.map(|g| g.as_str().to_owned()).unwrap_or_default(),
        expected_next_order_ms: s.expected_next_ms.unwrap_or(0),
        churn_risk: s.churn_risk,
        segments: Vec::new(),
        bought: row
            .bought
            .iter()
            .take(MAX_BOUGHT)
            .map(|b| pb::BoughtItem {
                sku: b.sku.clone(),
                units: b.units,
                orders: b.order_indexes.len() as u32,
                first_ms: b.first_ms,
                last_ms: b.last_ms,
                first_order_index: b.order_indexes.first().copied().unwrap_or(0),
            })
            .collect(),
    }
}

/// The cart and where its journey stands.
fn journey(j: &crate::domain::lifecycle::journey::Journey) -> pb::Journey {
    pb::Journey {
        lines: j
            .lines
            .iter()
            .map(|l| pb::CartLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
                added_ms: l.added_ms,
                unit_price_minor: l.unit_price_minor,
            })
            .collect(),
        changed_ms: j.changed_ms.unwrap_or(0),
        scenario: j.scenario().as_str().into(),
        next_step: j.next_step,
        next_step_due_ms: j.due_ms.unwrap_or(0),
    }
}

/// The customer's list hygiene, counting their latest interest signal (`latest_interest`,
/// from the interest edges listed) as the customer's actor will at its next decision.
fn hygiene(c: &CustomerState, latest_interest: Option<i64>) -> pb::CustomerHygiene {
    let mut h = c.lifecycle.hygiene.clone();
    if let Some(at) = latest_interest {
        h.interest_seen(
            at,
            crate::domain::lifecycle::hygiene::marketing_after(&c.ledger, at),
        );
    }
    let (h, e) = (&h, &c.lifecycle.engagement);
    let paused = h
        .last_chance_ms
        .is_some_and(|sent| h.engaged_ms(e).is_none_or(|at| at <= sent));
    pb::CustomerHygiene {
        sunset: if paused { "paused" } else { "active" }.into(),
        last_chance_ms: h.last_chance_ms.unwrap_or(0),
        last_interest_ms: h.last_interest_ms.unwrap_or(0),
        messages_since_engaged: h.messages_since_engaged(e),
        soft_bounces: h
            .soft_bounces
            .iter()
            .map(|r| pb::SoftBounceRun {
                channel: r.channel.as_str().into(),
                run: r.run,
            })
            .collect(),
        complaint_ms: h.complaint.as_ref().map_or(0, |x| x.at_ms),
        complaint_channel: h
            .complaint
            .as_ref()
            .map_or(String::new(), |x| x.channel.as_str().into()),
        complaint_entry_seq: h.complaint.as_ref().and_then(|x| x.entry_seq).unwrap_or(0),
    }
}

/// Customers read at most when looking one up by email.
const EMAIL_MAX_SCAN: usize = 5_000_000;

/// The id of the customer with this email (case-insensitive), by a scan of the
/// customers column family (an operator lookup, not a hot path).
fn id_by_email(store: &Store, email: &str) -> Result<Option<String>, StoreError> {
    let want = email.trim().to_lowercase();
    for row in store.iter::<Customers>(Seek::First)?.take(EMAIL_MAX_SCAN) {
        let (_, c) = row?;
        if c.email.as_deref().is_some_and(|e| e.to_lowercase() == want) {
            return Ok(Some(c.id));
        }
    }
    Ok(None)
}

impl AdminApi {
    pub(super) async fn customer_lookup(
        &self,
        r: pb::GetCustomerRequest,
    ) -> Result<pb::Customer, Status> {
        match (r.customer_id.is_empty(), r.email.is_empty()) {
            (false, true) => self.customer(r.customer_id).await,
            (true, false) => {
                let email = r.email.clone();
                let id = self
                    .store
                    .read(move |s| id_by_email(s, &email))
                    .await
                    .map_err(|e| Status::internal(e.to_string()))?;
                match id {
                    Some(id) => self.customer(id).await,
                    None => Err(Status::not_found(format!(
                        "no customer with email {}",
                        super::limits::echo(&r.email)
                    ))),
                }
            }
            (false, false) => Err(Status::invalid_argument(
                "customer_id and email are both set; look up by one of them",
            )),
            (true, true) => Err(Status::invalid_argument(
                "customer_id is empty; name the customer to show (or set email)",
            )),
        }
    }

    async fn customer(&self, id: String) -> Result<pb::Customer, Status> {
        let state = self
            .router
            .get_customer(id.clone())
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let weights = self.weights.clone();
        let key = id.clone();
        let now = crate::clock::now_ms();
        let (interests, recent) = self
            .store
            .read(move |s| {
                let interests = interests(s, &key, now, &weights)?;
                let recent = reads::list_customer(s, &key, None, RECENT_MESSAGES, None)?;
                Ok((interests, recent.entries))
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        if state.is_none() && interests.is_empty() && recent.is_empty() {
            return Err(Status::not_found(format!(
                "no customer with id {}",
                super::limits::echo(&id)
            )));
        }
        let recent = recent
            .iter()
            .map(|e| entry_view(e, &self.templates))
            .collect();
        let rules = self.control.live.get();
        let scores = self.segments.scores(now);
        let value = state.as_ref().map(|f| {
            let mut v = customer_value(&f.state, scores.as_ref(), now);
            v.segments = self.segments_of(&row_of(&f.state), now);
            v
        });
        let mut customer = view(id, state, interests, recent, (now, &rules.lapse));
        customer.value = value;
        Ok(customer)
    }
}
