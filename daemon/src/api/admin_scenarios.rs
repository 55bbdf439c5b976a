//! `Admin.ListScenarios`, `Admin.UpdateScenario`, `Admin.EstimateReach` and
//! `Admin.SearchProducts`: what the console's Scenarios and Products views steer with.

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::domain::customer::{Channel, Scenario};
use crate::domain::rules::caps::{CapRule, CapScope, CapWindow};
use crate::domain::rules::DeliveryRules;
use crate::fanout::reach;
use crate::scenario_control::{ControlError, ScenarioOverride};
use crate::store::records::Products;
use crate::store::Seek;

/// Index rows a catalogue-wide reach estimate reads before it extrapolates.
const REACH_MAX_ROWS: u64 = 2_000_000;
/// Products a search reads at most.
const SEARCH_MAX_SCAN: usize = 200_000;

fn names(list: &[Scenario]) -> String {
    list.iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_scenario(s: &str) -> Result<Scenario, Status> {
    Scenario::parse(s).ok_or_else(|| {
        Status::invalid_argument(format!(
            "scenario {}: use one of {}",
            super::limits::echo(s),
            names(&Scenario::ALL)
        ))
    })
}

/// A stock scenario: the only ones with audiences to estimate.
fn parse_stock_scenario(s: &str) -> Result<Scenario, Status> {
    let scenario = parse_scenario(s)?;
    if scenario.trigger().is_none() {
        return Err(Status::invalid_argument(format!(
            "scenario {s}: reach is estimated for the stock scenarios ({}); an order scenario goes to the order's customer",
            names(&Scenario::STOCK)
        )));
    }
    Ok(scenario)
}

fn parse_channels(list: &pb::ChannelList) -> Result<Vec<Channel>, Status> {
    list.channels
        .iter()
        .map(|name| {
            Channel::ALL
                .into_iter()
                .find(|c| c.as_str() == name)
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "channels: {} is not a channel; use email, line or webhook",
                        super::limits::echo(name)
                    ))
                })
        })
        .collect()
}

/// An order scenario's timing in words (empty for the stock scenarios).
fn timing(rules: &DeliveryRules, s: Scenario) -> String {
    let o = &rules.orders;
    let span = |ms: i64| crate::domain::rules::caps::format_span(ms);
    match s {
        Scenario::BackorderUpdate => {
            format!("every {} while a line waits", span(o.update_every_ms))
        }
        Scenario::DeliveredFollowup => {
            let review = if o.review_url.is_some() {
                ", with a review link"
            } else {
                ""
            };
            format!("{} after delivery{review}", span(o.followup_after_ms))
        }
        Scenario::CrossSellOrder | Scenario::CrossSellDelivery => {
            let Some(c) = o.cross_sell(s) else {
                return String::new();
            };
            let when = if s == Scenario::CrossSellOrder {
                "the order"
            } else {
                "delivery"
            };
            let coupon = c
                .coupon_code
                .as_ref()
                .map_or(String::new(), |code| format!(", coupon {code}"));
            format!(
                "{} after {when}, up to {} products{coupon}",
                span(c.after_ms),
                c.max_items
            )
        }
        Scenario::BackorderConfirmation => "right after an order with waiting lines".into(),
        Scenario::Arrived => "when arrived stock covers waiting lines".into(),
        Scenario::Delayed => "on a delay notice, or when a promised window passes".into(),
        Scenario::Shipped => "when the shop reports the shipment".into(),
        Scenario::BackInStock | Scenario::LowStock | Scenario::PriceDrop | Scenario::NewArrival => {
            String::new()
        }
        Scenario::CartAbandoned | Scenario::CheckoutAbandoned => {
            let j = &rules.journeys;
            let after = if s == Scenario::CartAbandoned {
                &j.cart_after_ms
            } else {
                &j.checkout_after_ms
            };
            let steps: Vec<String> = after.iter().map(|ms| span(*ms)).collect();
            format!(
                "steps {} after a cart is left for {}",
                steps.join(", "),
                span(j.idle_ms)
            )
        }
        Scenario::LastChance => {
            "once, instead of the next offer to a customer the sunset policy finds inactive".into()
        }
        Scenario::WinBack => {
            let w = &rules.lapse.win_back;
            format!(
                "{} x the customer's median repurchase interval after the last order (at least {}), once per lapse, up to {} products",
                w.factor,
                span(w.min_interval_ms),
                w.max_items
            )
        }
        Scenario::Birthday => {
            let b = &rules.lapse.birthday;
            let coupon = b
                .coupon_code
                .as_ref()
                .map_or(String::new(), |code| format!(", coupon {code}"));
            format!(
                "on the birthday at {:02}:{:02} local, once a year{coupon}",
                b.send_at_min / 60,
                b.send_at_min % 60
            )
        }
    }
}

fn cap_view(c: &CapRule) -> pb::CapSetting {
    let (window_ms, local_days) = match c.window {
        CapWindow::Rolling { ms } => (ms, 0),
        CapWindow::LocalDays { days } => (0, days),
    };
    pb::CapSetting {
        max: c.max,
        window_ms,
        local_days,
        describe: c.describe(),
    }
}

fn cap_rule(s: Scenario, c: &pb::CapSetting) -> Result<CapRule, Status> {
    let window = match (c.window_ms, c.local_days) {
        (ms, 0) if ms > 0 => CapWindow::Rolling { ms },
        (0, days) if days > 0 => CapWindow::LocalDays { days },
        _ => {
            return Err(Status::invalid_argument(
                "caps.window_ms / caps.local_days: set exactly one, above zero",
            ))
        }
    };
    Ok(CapRule {
        scope: CapScope::Scenario(s),
        max: c.max,
        window,
    })
}

pub fn settings_view(
    rules: &DeliveryRules,
    s: Scenario,
    overridden: Vec<String>,
) -> pb::ScenarioSettings {
    let r = rules.scenarios.iter().find(|r| r.scenario == s);
    pb::ScenarioSettings {
        scenario: s.as_str().into(),
        enabled: r.is_some_and(|r| r.enabled),
        priority: r.map_or(0, |r| r.priority),
        threshold: rules.threshold(s),
        channels: r.map_or_else(Vec::new, |r| {
            r.channels.iter().map(|c| c.as_str().into()).collect()
        }),
        cooldown_ms: r.map_or(0, |r| r.cooldown_ms),
        digest: r.is_some_and(|r| r.digest),
        caps: rules
            .caps
            .iter()
            .filter(|c| c.scope == CapScope::Scenario(s))
            .map(cap_view)
            .collect(),
        overridden,
        class: s.class().as_str().into(),
        quiet: rules.quiet_mode(s).as_str().into(),
        timing: timing(rules, s),
        has_threshold: s.trigger().is_some(),
        include_segments: rules
            .audience(s)
            .map_or_else(Vec::new, |a| a.include.clone()),
        exclude_segments: rules
            .audience(s)
            .map_or_else(Vec::new, |a| a.exclude.clone()),
    }
}

fn control_status(e: ControlError) -> Status {
    match e {
        ControlError::Invalid { .. } => Status::invalid_argument(e.to_string()),
        other => Status::unavailable(other.to_string()),
    }
}

fn blocking_error(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

impl AdminApi {
    fn settings(&self, s: Scenario) -> pb::ScenarioSettings {
        let overridden = self
            .control
            .overrides()
            .get(s.as_str())
            .map(ScenarioOverride::fields)
            .unwrap_or_default();
        settings_view(&self.control.live.get(), s, overridden)
    }

    pub(super) fn scenarios(&self) -> pb::ListScenariosResponse {
        pb::ListScenariosResponse {
            scenarios: Scenario::ALL.iter().map(|&s| self.settings(s)).collect(),
        }
    }

    pub(super) async fn update_scenario(
        &self,
        r: pb::UpdateScenarioRequest,
    ) -> Result<pb::ScenarioSettings, Status> {
        let s = parse_scenario(&r.scenario)?;
        let change = if r.reset {
            if r.enabled.is_some()
                || r.priority.is_some()
                || r.threshold.is_some()
                || r.caps.is_some()
                || r.channels.is_some()
                || r.include_segments.is_some()
                || r.exclude_segments.is_some()
            {
                return Err(Status::invalid_argument(
                    "reset: leave enabled, priority, threshold, caps, channels and include / exclude segments unset when resetting",
                ));
            }
            None
        } else {
            let caps = match &r.caps {
                Some(list) => Some(
                    list.caps
                        .iter()
                        .map(|c| cap_rule(s, c))
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                None => None,
            };
            let channels = r.channels.as_ref().map(parse_channels).transpose()?;
            let change = ScenarioOverride {
                enabled: r.enabled,
                priority: r.priority,
                threshold: r.threshold,
                caps,
                channels,
                include_segments: self.segment_names("include_segments", r.include_segments)?,
                exclude_segments: self.segment_names("exclude_segments", r.exclude_segments)?,
            };
            if change.fields().is_empty() {
                return Err(Status::invalid_argument(
                    "nothing to change: set enabled, channels, priority, threshold, caps or include / exclude segments (or reset)",
                ));
            }
            Some(change)
        };
        self.control
            .update(s, change)
            .await
            .map_err(control_status)?;
        if r.enabled == Some(true) && self.board.resume(s) {
            tracing::info!(
                scenario = s.as_str(),
                "An operator resumed a scenario paused for its complaint / hard-bounce rate."
            );
        }
        tracing::info!(
            scenario = s.as_str(),
            "An operator changed a scenario's settings."
        );
        Ok(self.settings(s))
    }

    /// A scenario's include / exclude list: each name a defined segment, listed once.
    fn segment_names(
        &self,
        field: &str,
        list: Option<pb::SegmentList>,
    ) -> Result<Option<Vec<String>>, Status> {
        let Some(list) = list else { return Ok(None) };
        for (i, name) in list.segments.iter().enumerate() {
            if self.segment_defs.get(name).is_none() {
                return Err(Status::invalid_argument(format!(
                    "{field}: segment \"{}\" is not defined; ListSegments shows the defined ones (CreateSegment adds one)",
                    super::limits::echo(name)
                )));
            }
            if list.segments[..i].contains(name) {
                return Err(Status::invalid_argument(format!(
                    "{field}: segment \"{name}\" is listed twice; list each segment once"
                )));
            }
        }
        Ok(Some(list.segments))
    }

    pub(super) async fn reach(
        &self,
        r: pb::EstimateReachRequest,
    ) -> Result<pb::ReachEstimate, Status> {
        let s = parse_stock_scenario(&r.scenario)?;
        if !r.threshold.is_finite() || !(0.0..=100.0).contains(&r.threshold) {
            return Err(Status::invalid_argument(format!(
                "threshold {}: use a score between 0 and 100, e.g. 0.4",
                r.threshold
            )));
        }
        let product = if r.sku.is_empty() {
            None
        } else {
            match self.router.get_product(r.sku.clone()).await {
                Ok(Some(found)) => Some(found.state),
                Ok(None) => {
                    return Err(Status::not_found(format!(
                        "no product with sku {}",
                        super::limits::echo(&r.sku)
                    )))
                }
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        };
        let weights = self.weights.clone();
        let now = crate::clock::now_ms();
        let admits = self.audience_test(s, now);
        let found = self
            .store
            .read(move |store| match product {
                Some(p) => reach::product_in(store, &p, s, now, &weights, &*admits),
                None => reach::catalogue_in(store, s, now, &weights, REACH_MAX_ROWS, &*admits),
            })
            .await
            .map_err(blocking_error)?;
        let current = self.control.live.get().threshold(s);
        Ok(pb::ReachEstimate {
            scenario: s.as_str().into(),
            threshold: r.threshold,
            customers: found.at(r.threshold),
            current_threshold: current,
            customers_at_current: found.at(current),
            customers_with_interest: found.with_interest(),
            curve: reach::ladder(&[r.threshold, current])
                .into_iter()
                .map(|t| pb::ReachPoint {
                    threshold: t,
                    customers: found.at(t),
                })
                .collect(),
            sampled: found.scale.is_some(),
            edges_read: found.rows_read,
        })
    }

    pub(super) async fn search_products(
        &self,
        r: pb::SearchProductsRequest,
    ) -> Result<pb::SearchProductsResponse, Status> {
        let limit = match r.limit as usize {
            0 => 50,
            n => n.min(500),
        };
        let needle = r.query.trim().to_lowercase();
        let cfg = self.cfg.clone();
        let now = crate::clock::now_ms();
        self.store
            .read(move |store| {
                let mut out = pb::SearchProductsResponse::default();
                for (read, row) in store.iter::<Products>(Seek::First)?.enumerate() {
                    let (sku, p) = row?;
                    if needle.is_empty()
                        || sku.to_lowercase().contains(&needle)
                        || p.catalogue.title.to_lowercase().contains(&needle)
                    {
                        out.products.push(pb::ProductSummary {
                            sku: p.sku.clone(),
                            title: p.catalogue.title.clone(),
                            stock: p.stock,
                            price_minor: p.price_minor,
                            currency: p.catalogue.currency.clone(),
                            velocity_per_day: p.velocity_per_day(now, &cfg),
                        });
                    }
                    if out.products.len() >= limit {
                        break;
                    }
                    if read + 1 >= SEARCH_MAX_SCAN {
                        out.truncated = true;
                        break;
                    }
                }
                Ok(out)
            })
            .await
            .map_err(blocking_error)
    }
}
