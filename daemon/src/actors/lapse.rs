//! The customer's side of win-back and birthday messages. The lapse timer
//! (`TimerKind::CustomerLapse`, keyed by customer) fires at the next due time of either;
//! then the customer's actor asks `domain::lifecycle::lapse` what is due, marks it (one
//! win-back per lapse, one birthday per year, whatever comes of it), and turns it into
//! offers that go through every marketing rule (`domain::decide`), like a cross-sell
//! offer. A win-back reads the products as stored in one blocking read and picks with
//! `lapse::pick`; nothing left to show is counted as `nothing_to_offer`.

use std::collections::{HashMap, HashSet};

use chrono_tz::Tz;

use super::customer::CustomerShared;
use crate::domain::customer::{Candidate, Scenario, SuppressReason};
use crate::domain::decide::Offer;
use crate::domain::lifecycle::lapse::pick::{candidates, pick, WinBackInput};
use crate::domain::message::{ItemContext, OrderContext};
use crate::domain::order::related::CategoryBestSellers;
use crate::domain::order::state::LineStatus;
use crate::domain::product::ProductState;
use crate::domain::profile::CustomerState;
use crate::domain::rules::quiet::parse_tz;
use crate::domain::rules::DeliveryRules;
use crate::domain::{Millis, TimerKind};
use crate::store::records::Products;
use crate::store::{Store, StoreError};

/// What came due at a lapse tick (already marked in the customer's state).
#[derive(Debug, Default)]
pub struct Due {
    pub offers: Vec<Offer>,
    pub suppressed: Vec<(Scenario, SuppressReason)>,
}

fn tz_of(c: &CustomerState) -> Tz {
    parse_tz(&c.time_zone).unwrap_or(Tz::UTC)
}

/// The lapse timer to set for the customer now (`None`: nothing will be due).
pub fn timer(c: &CustomerState, now: Millis, rules: &DeliveryRules) -> Option<(Millis, TimerKind)> {
    c.lifecycle
        .lapse
        .next_due_ms(now, tz_of(c), &rules.lapse)
        .map(|due| (due, TimerKind::CustomerLapse))
}

/// The lapse tick at `at`: what is due, marked as done in `c`, as offers to decide.
pub async fn tick(
    shared: &CustomerShared,
    c: &mut CustomerState,
    at: Millis,
    rules: &DeliveryRules,
) -> Due {
    let mut due = Due::default();
    let tz = tz_of(c);
    let lapse = &mut c.lifecycle.lapse;
    let win_back = lapse.win_back_due_now(at, &rules.lapse.win_back);
    let birthday = lapse.birthday_due_now(at, tz, &rules.lapse.birthday);
    if win_back {
        lapse.mark_win_back();
    }
    if let Some(year) = birthday {
        lapse.mark_birthday(year);
        if rules.enabled(Scenario::Birthday) {
            due.offers.push(birthday_offer(year, at));
        } else {
            due.suppressed
                .push((Scenario::Birthday, SuppressReason::Disabled));
        }
    }
    if win_back {
        if !rules.enabled(Scenario::WinBack) {
            due.suppressed
                .push((Scenario::WinBack, SuppressReason::Disabled));
        } else {
            match win_back_offers(shared, c, at, rules).await {
                Ok(offers) => due.offers.extend(offers),
                Err(reason) => due.suppressed.push((Scenario::WinBack, reason)),
            }
        }
    }
    due
}

/// The birthday offer: no product; its candidate names the year, so the ledger and
/// dedupe tell one year's message from the next.
fn birthday_offer(year: i32, at: Millis) -> Offer {
    let sku = format!("birthday-{year}");
    Offer {
        candidate: Candidate {
            trigger_id: u64::try_from(year).unwrap_or(0),
            scenario: Scenario::Birthday,
            sku: sku.clone(),
            at_ms: at,
            score: 1.0,
        },
        item: ItemContext {
            sku,
            ..ItemContext::default()
        },
    }
}

/// The coupon part of a birthday message (no order: only the coupon and the zone).
pub fn birthday_context(c: &CustomerState, rules: &DeliveryRules) -> OrderContext {
    OrderContext {
        order_id: String::new(),
        time_zone: c.time_zone.clone(),
        lines: Vec::new(),
        delay_reason: String::new(),
        shipment: None,
        cancel_url: String::new(),
        review_url: String::new(),
        coupon_code: rules.lapse.birthday.coupon_code.clone().unwrap_or_default(),
    }
}

/// What the win-back pick reads from the store.
#[derive(Debug, Default)]
struct Gathered {
    categories_of: HashMap<String, Vec<String>>,
    sellers: HashMap<String, CategoryBestSellers>,
    products: HashMap<String, ProductState>,
    bought: HashSet<String>,
}

/// The products a win-back shows, as offers, or why there are none.
async fn win_back_offers(
    shared: &CustomerShared,
    c: &CustomerState,
    at: Millis,
    rules: &DeliveryRules,
) -> Result<Vec<Offer>, SuppressReason> {
    let kept = |s: LineStatus| !matches!(s, LineStatus::Cancelled | LineStatus::Refunded);
    let ordered: Vec<String> = c
        .orders
        .iter()
        .flat_map(|o| &o.lines)
        .filter(|l| kept(l.status))
        .map(|l| l.placed.sku.clone())
        .collect();
    let (id, read_ordered) = (c.id.clone(), ordered.clone());
    // One blocking read: the ordered products' categories, their best sellers, the
    // customer's purchases, then the candidate products.
    let gathered = shared
        .store
        .read(move |s| {
            let mut g = gather(s, &id, &read_ordered)?;
            let wanted = candidates(&input(&read_ordered, &g));
            let found = s.multi_get::<Products>(wanted.iter().map(String::as_str))?;
            for (sku, p) in wanted.into_iter().zip(found) {
                if let Some(p) = p {
                    g.products.insert(sku, p);
                }
            }
            Ok(g)
        })
        .await;
    let g = match gathered {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, customer_id = %c.id, "Cannot read the win-back products; the win-back is dropped.");
            return Err(SuppressReason::NothingToOffer);
        }
    };
    let trigger_id = c
        .lifecycle
        .lapse
        .last_order_ms()
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0);
    let picked = pick(
        &input(&ordered, &g),
        rules.lapse.win_back.max_items,
        at,
        &shared.triggers,
    );
    if picked.is_empty() {
        return Err(SuppressReason::NothingToOffer);
    }
    let n = picked.len();
    Ok(picked
        .into_iter()
        .enumerate()
        .filter_map(|(i, sku)| {
            let p = g.products.get(&sku)?;
            Some(Offer {
                candidate: Candidate {
                    trigger_id,
                    scenario: Scenario::WinBack,
                    sku: sku.clone(),
                    at_ms: at,
                    // The pick's order: best first within the message.
                    score: (n - i) as f64,
                },
                item: ItemContext::offered(sku, p),
            })
        })
        .collect())
}

fn input<'a>(ordered: &'a [String], g: &'a Gathered) -> WinBackInput<'a> {
    WinBackInput {
        ordered,
        categories_of: &g.categories_of,
        sellers: &g.sellers,
        products: &g.products,
        bought: &g.bought,
    }
}

/// The ordered products' categories and those categories' best sellers, and every SKU
/// the customer bought (their orders and their purchase signals).
fn gather(s: &Store, customer_id: &str, ordered: &[String]) -> Result<Gathered, StoreError> {
    let mut g = Gathered::default();
    let mut skus: Vec<&str> = ordered.iter().map(String::as_str).collect();
    skus.sort_unstable();
    skus.dedup();
    g.bought.extend(skus.iter().map(|s| (*s).to_owned()));
    for (sku, p) in skus
        .iter()
        .zip(s.multi_get::<Products>(skus.iter().copied())?)
    {
        if let Some(p) = p {
            g.categories_of
                .insert((*sku).to_owned(), p.catalogue.category_ids.clone());
        }
    }
    g.sellers = super::cross_sell::best_sellers(s, &g.categories_of)?;
    super::cross_sell::purchased(s, customer_id, &mut g.bought)?;
    Ok(g)
}
