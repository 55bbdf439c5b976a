//! `App` owns everything the console knows and decides what to ask the daemon next. It
//! takes actions, connection events, RPC replies and clock ticks, and returns the RPCs to
//! start; it does no I/O itself, so the whole flow is testable without a daemon.

use stockbell_proto::v1 as pb;

use crate::conn::{ConnEvent, ConnState};
use crate::input::{Action, Mode};
use crate::rpc::{Reply, Request};
use crate::state::customers::CustomersState;
use crate::state::delivery::DeliveryState;
use crate::state::orders::OrdersState;
use crate::state::overview::OverviewState;
use crate::state::products::ProductsState;
use crate::state::scenarios::{self, Edit, ScenarioRow, ScenariosState, Target};
use crate::state::segments::SegmentsState;
use crate::state::{Note, Remote, ViewId};

#[derive(Debug)]
pub struct App {
    pub view: ViewId,
    /// The daemon's address, as given.
    pub addr: String,
    /// Wall clock of the last tick (Unix ms); views compute ages from it.
    pub now_ms: i64,
    pub conn: ConnState,
    pub overview: OverviewState,
    pub scenarios: ScenariosState,
    pub products: ProductsState,
    pub customers: CustomersState,
    pub delivery: DeliveryState,
    pub orders: OrdersState,
    pub segments: SegmentsState,
    pub quit: bool,
    /// When `ListScenarios` was last asked (it is refreshed now and then).
    scenarios_asked_ms: i64,
}

impl App {
    /// How often scenario settings are re-read (another operator may change them).
    pub const SCENARIOS_REFRESH_MS: i64 = 15_000;

    pub fn new(addr: impl Into<String>, now_ms: i64) -> Self {
        Self {
            view: ViewId::Overview,
            addr: addr.into(),
            now_ms,
            conn: ConnState::Connecting { attempt: 1 },
            overview: OverviewState::default(),
            scenarios: ScenariosState::default(),
            products: ProductsState::default(),
            customers: CustomersState::default(),
            delivery: DeliveryState::default(),
            orders: OrdersState::default(),
            segments: SegmentsState::default(),
            quit: false,
            scenarios_asked_ms: 0,
        }
    }

    /// How keys are read right now.
    pub fn mode(&self) -> Mode {
        match self.view {
            ViewId::Scenarios => match &self.scenarios.edit {
                Some(Edit::Toggle { .. }) => Mode::Confirm,
                Some(_) => Mode::Text,
                None => Mode::Normal,
            },
            ViewId::Products if self.products.typing => Mode::Text,
            ViewId::Customers if self.customers.typing => Mode::Text,
            ViewId::Orders if self.orders.typing => Mode::Text,
            _ => Mode::Normal,
        }
    }

    /// Scenario rows: settings joined with the freshest counters.
    pub fn scenario_rows(&self) -> Vec<ScenarioRow<'_>> {
        scenarios::rows(self.scenarios.settings(), self.overview.scenario_stats())
    }

    /// The message line of the current view.
    pub fn note(&self) -> Option<&Note> {
        match self.view {
            ViewId::Overview => None,
            ViewId::Scenarios => self.scenarios.note.as_ref(),
            ViewId::Products => self.products.note.as_ref(),
            ViewId::Customers => self.customers.note.as_ref(),
            ViewId::Delivery => self.delivery.note.as_ref(),
            ViewId::Orders => self.orders.note.as_ref(),
            ViewId::Segments => self.segments.note.as_ref(),
        }
    }

    pub fn handle(&mut self, action: Action) -> Vec<Request> {
        match action {
            Action::Quit => {
                self.quit = true;
                Vec::new()
            }
            Action::NextView => self.show(self.view.next()),
            Action::PrevView => self.show(self.view.prev()),
            Action::Show(v) => self.show(v),
            a => match self.view {
                ViewId::Overview => Vec::new(),
                ViewId::Scenarios => {
                    let rows = self.scenario_rows();
                    let len = rows.len();
                    let target = rows.get(self.scenarios.selected).map(Target::from);
                    self.scenarios.handle(a, len, target)
                }
                ViewId::Products => self.products.handle(a),
                ViewId::Customers => self.customers.handle(a),
                ViewId::Delivery => self.delivery.handle(a),
                ViewId::Orders => self.orders.handle(a),
                ViewId::Segments => self.segments.handle(a, self.now_ms),
            },
        }
    }

    fn show(&mut self, view: ViewId) -> Vec<Request> {
        self.view = view;
        match view {
            ViewId::Scenarios if !matches!(self.scenarios.settings, Remote::Ready(_)) => {
                self.ask_scenarios()
            }
            ViewId::Delivery if !self.delivery.in_flight => {
                self.delivery.entries.reload();
                self.delivery.load()
            }
            ViewId::Orders => self.orders.load(),
            ViewId::Segments => self.segments.show(self.now_ms),
            _ => Vec::new(),
        }
    }

    fn ask_scenarios(&mut self) -> Vec<Request> {
        self.scenarios_asked_ms = self.now_ms;
        self.scenarios.settings.reload();
        vec![Request::ListScenarios]
    }

    pub fn on_conn(&mut self, ev: ConnEvent) -> Vec<Request> {
        match ev {
            ConnEvent::State(s) => {
                let was_connected = self.conn.is_connected();
                self.conn = s;
                if self.conn.is_connected() && !was_connected {
                    // (Re)connected: the daemon may have restarted with other settings.
                    let mut reqs = self.ask_scenarios();
                    if self.view == ViewId::Delivery {
                        reqs.extend(self.delivery.load());
                    }
                    if self.view == ViewId::Orders {
                        self.orders.in_flight = 0;
                        reqs.extend(self.orders.load());
                    }
                    if self.view == ViewId::Segments {
                        self.segments.in_flight = 0;
                        reqs.extend(self.segments.show(self.now_ms));
                    }
                    return reqs;
                }
            }
            ConnEvent::Overview(ov) => self.overview.push(*ov),
            ConnEvent::Stats(stats) => self.overview.set_polled(stats, self.now_ms),
            ConnEvent::Client(_) => {}
        }
        Vec::new()
    }

    pub fn on_reply(&mut self, reply: Reply) -> Vec<Request> {
        match reply {
            r @ (Reply::Scenarios(_) | Reply::ScenarioUpdated(_) | Reply::Reach { .. }) => {
                self.scenarios.on_reply(r);
                self.clamp_scenario_selection();
                Vec::new()
            }
            r @ (Reply::Products { .. }
            | Reply::Product { .. }
            | Reply::Triggers { .. }
            | Reply::Related { .. }) => self.products.on_reply(r),
            r @ Reply::Customer { .. } => {
                self.customers.on_reply(r);
                Vec::new()
            }
            r @ (Reply::Outbox { .. } | Reply::Retried { .. }) => {
                self.delivery.on_reply(r, self.now_ms)
            }
            r @ (Reply::Backorders(_)
            | Reply::FlaggedOrders(_)
            | Reply::CancellationRequests(_)
            | Reply::Order { .. }) => {
                self.orders.on_reply(r);
                Vec::new()
            }
            r @ (Reply::Segments(_)
            | Reply::SegmentMetrics { .. }
            | Reply::SegmentHistory { .. }
            | Reply::MonthlyTable { .. }
            | Reply::CohortTable { .. }
            | Reply::RfmGrid { .. }
            | Reply::Exported { .. }) => self.segments.on_reply(r, self.now_ms),
        }
    }

    fn clamp_scenario_selection(&mut self) {
        let len = self.scenario_rows().len();
        self.scenarios.selected = self.scenarios.selected.min(len.saturating_sub(1));
    }

    /// The clock moved on: periodic refreshes of what is on screen.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Request> {
        self.now_ms = now_ms;
        if !self.conn.is_connected() {
            return Vec::new();
        }
        match self.view {
            ViewId::Delivery => self.delivery.tick(now_ms),
            ViewId::Orders => self.orders.tick(now_ms),
            ViewId::Segments => self.segments.tick(now_ms),
            ViewId::Scenarios
                if self.scenarios.edit.is_none()
                    && !self.scenarios.settings.is_loading()
                    && now_ms - self.scenarios_asked_ms >= Self::SCENARIOS_REFRESH_MS =>
            {
                self.ask_scenarios()
            }
            _ => Vec::new(),
        }
    }

    /// The latest overview, if the stream has sent one.
    pub fn latest(&self) -> Option<&pb::Overview> {
        self.overview.latest.as_ref()
    }
}
