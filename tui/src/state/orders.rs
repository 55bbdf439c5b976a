//! Orders: the backorder board (`ListBackorders`), the orders flagged past their promise
//! (`ListOrders`) and the customers' cancellation requests (`ListCancellationRequests`,
//! newest first), refreshed while shown, and one order opened from the flagged list or a
//! request, or looked up by id (`GetOrder`), scrolled as one page.
//!
//! The lists are panels in `Panel::ALL` order; `s` moves the selection from one to the
//! next. A panel fed by another RPC is one more `Panel`, one more list here (counted in
//! `LISTS`) and one more section in `view/orders.rs`.

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote, PAGE};
use crate::input::Action;
use crate::rpc::{Reply, Request};

/// The lists of the Orders view, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Panel {
    #[default]
    Board,
    Flagged,
    Requests,
}

impl Panel {
    pub const ALL: [Panel; 3] = [Panel::Board, Panel::Flagged, Panel::Requests];

    fn next(self) -> Panel {
        let i = Panel::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Panel::ALL[(i + 1) % Panel::ALL.len()]
    }
}

#[derive(Debug, Default)]
pub struct OrdersState {
    pub board: Remote<Vec<pb::BackorderRow>>,
    pub flagged: Remote<Vec<pb::Order>>,
    pub requests: Remote<Vec<pb::CancellationRequest>>,
    /// The list with the selection.
    pub panel: Panel,
    pub board_selected: usize,
    pub flagged_selected: usize,
    pub requests_selected: usize,
    /// The order id box (`/`).
    pub input: String,
    pub typing: bool,
    /// The order shown instead of the lists, and what `GetOrder` said.
    pub open: Option<String>,
    pub order: Remote<pb::Order>,
    pub scroll: u16,
    /// The list requests still out (the refresh does not start another).
    pub in_flight: u8,
    pub loaded_at_ms: i64,
    pub note: Option<Note>,
}

impl OrdersState {
    /// How often the lists refresh themselves while shown.
    pub const REFRESH_MS: i64 = 3_000;
    /// The list requests one load sends.
    const LISTS: [Request; 3] = [
        Request::ListBackorders,
        Request::ListFlaggedOrders,
        Request::ListCancellationRequests,
    ];

    pub fn selected_flagged(&self) -> Option<&pb::Order> {
        self.flagged
            .ready()
            .and_then(|o| o.get(self.flagged_selected))
    }

    pub fn selected_request(&self) -> Option<&pb::CancellationRequest> {
        self.requests
            .ready()
            .and_then(|r| r.get(self.requests_selected))
    }

    /// Asks for every list (and the open order), unless they are already out.
    pub fn load(&mut self) -> Vec<Request> {
        if self.in_flight > 0 {
            return Vec::new();
        }
        self.board.reload();
        self.flagged.reload();
        self.requests.reload();
        let mut reqs = Self::LISTS.to_vec();
        self.in_flight = reqs.len() as u8;
        if let Some(id) = &self.open {
            self.order.reload();
            reqs.push(Request::GetOrder {
                order_id: id.clone(),
            });
        }
        reqs
    }

    /// The periodic refresh while the view is shown.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Request> {
        if now_ms - self.loaded_at_ms < Self::REFRESH_MS {
            return Vec::new();
        }
        self.loaded_at_ms = now_ms;
        self.load()
    }

    fn open(&mut self, order_id: String) -> Vec<Request> {
        if self.open.as_deref() != Some(order_id.as_str()) {
            self.order = Remote::Loading;
            self.scroll = 0;
        }
        self.open = Some(order_id.clone());
        self.note = None;
        vec![Request::GetOrder { order_id }]
    }

    pub fn handle(&mut self, action: Action) -> Vec<Request> {
        if self.typing {
            match action {
                Action::Char(c) if self.input.chars().count() < 256 => self.input.push(c),
                Action::Erase => {
                    self.input.pop();
                }
                Action::Back => self.typing = false,
                Action::Enter => {
                    self.typing = false;
                    let id = self.input.trim().to_owned();
                    if id.is_empty() {
                        self.note = Note::error("type an order id");
                    } else {
                        return self.open(id);
                    }
                }
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Search => self.typing = true,
            Action::Refresh => {
                self.loaded_at_ms = 0;
                self.in_flight = 0;
                return self.load();
            }
            Action::Back if self.open.is_some() => {
                self.open = None;
                self.order = Remote::Idle;
            }
            a if self.open.is_some() => {
                let page = PAGE as u16;
                self.scroll = match a {
                    Action::Up => self.scroll.saturating_sub(1),
                    Action::Down => self.scroll.saturating_add(1),
                    Action::PageUp => self.scroll.saturating_sub(page),
                    Action::PageDown => self.scroll.saturating_add(page),
                    Action::Top => 0,
                    _ => self.scroll,
                };
            }
            Action::CycleState => self.panel = self.panel.next(),
            Action::Enter => match self.panel {
                Panel::Flagged => match self.selected_flagged() {
                    Some(o) => {
                        let id = o.order_id.clone();
                        return self.open(id);
                    }
                    None => self.note = Note::error("no flagged order selected"),
                },
                Panel::Requests => match self.selected_request() {
                    Some(r) => {
                        let id = r.order_id.clone();
                        return self.open(id);
                    }
                    None => self.note = Note::error("no cancellation request selected"),
                },
                Panel::Board => {
                    self.note = Note::info(
                        "a SKU's waiting lines: open it in 3 Products (GetProduct backorders)",
                    )
                }
            },
            a => match self.panel {
                Panel::Board => {
                    let len = self.board.ready().map_or(0, Vec::len);
                    self.board_selected = step(self.board_selected, len, a);
                }
                Panel::Flagged => {
                    let len = self.flagged.ready().map_or(0, Vec::len);
                    self.flagged_selected = step(self.flagged_selected, len, a);
                }
                Panel::Requests => {
                    let len = self.requests.ready().map_or(0, Vec::len);
                    self.requests_selected = step(self.requests_selected, len, a);
                }
            },
        }
        Vec::new()
    }

    pub fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Backorders(result) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                keep_or_replace(&mut self.board, result, &mut self.note);
                let len = self.board.ready().map_or(0, Vec::len);
                self.board_selected = self.board_selected.min(len.saturating_sub(1));
            }
            Reply::FlaggedOrders(result) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                keep_or_replace(&mut self.flagged, result, &mut self.note);
                let len = self.flagged.ready().map_or(0, Vec::len);
                self.flagged_selected = self.flagged_selected.min(len.saturating_sub(1));
            }
            Reply::CancellationRequests(result) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                keep_or_replace(&mut self.requests, result, &mut self.note);
                let len = self.requests.ready().map_or(0, Vec::len);
                self.requests_selected = self.requests_selected.min(len.saturating_sub(1));
            }
            Reply::Order { order_id, result }
                if self.open.as_deref() == Some(order_id.as_str()) =>
            {
                self.order = result.into();
            }
            _ => {}
        }
    }
}

/// A fresh list replaces the old; a failed refresh keeps it on screen and says why.
fn keep_or_replace<T>(
    slot: &mut Remote<T>,
    result: Result<T, crate::rpc::RpcError>,
    note: &mut Option<Note>,
) {
    match result {
        Err(e) if slot.ready().is_some() => *note = Note::error(e.to_string()),
        r => *slot = r.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str) -> pb::Order {
        pb::Order {
            order_id: id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn enter_on_a_flagged_order_opens_it_and_esc_goes_back() {
        let mut s = OrdersState::default();
        assert_eq!(
            s.load(),
            vec![
                Request::ListBackorders,
                Request::ListFlaggedOrders,
                Request::ListCancellationRequests
            ]
        );
        assert!(s.load().is_empty(), "not twice while out");
        s.on_reply(Reply::Backorders(Ok(Vec::new())));
        s.on_reply(Reply::FlaggedOrders(Ok(vec![order("o1"), order("o2")])));
        s.on_reply(Reply::CancellationRequests(Ok(Vec::new())));
        assert_eq!(s.in_flight, 0);
        s.handle(Action::CycleState);
        assert_eq!(s.panel, Panel::Flagged);
        s.handle(Action::Down);
        let reqs = s.handle(Action::Enter);
        assert_eq!(
            reqs,
            vec![Request::GetOrder {
                order_id: "o2".into()
            }]
        );
        s.on_reply(Reply::Order {
            order_id: "o2".into(),
            result: Ok(order("o2")),
        });
        assert!(s.order.ready().is_some());
        // The refresh re-reads the open order too.
        s.loaded_at_ms = 0;
        let reqs = s.tick(10_000);
        assert!(reqs.contains(&Request::GetOrder {
            order_id: "o2".into()
        }));
        s.handle(Action::Back);
        assert_eq!((s.open.as_deref(), s.order.ready()), (None, None));
    }

    fn request(id: u64, order_id: &str) -> pb::CancellationRequest {
        pb::CancellationRequest {
            request_id: id,
            order_id: order_id.into(),
            customer_id: "c1".into(),
            line_ids: vec!["1".into()],
            line_statuses: vec!["waiting".into()],
            ..Default::default()
        }
    }

    #[test]
    fn s_cycles_to_the_requests_and_enter_opens_the_requested_order() {
        let mut s = OrdersState::default();
        s.load();
        s.on_reply(Reply::Backorders(Ok(Vec::new())));
        s.on_reply(Reply::FlaggedOrders(Ok(Vec::new())));
        s.on_reply(Reply::CancellationRequests(Ok(vec![
            request(9, "o9"),
            request(4, "o4"),
        ])));
        assert_eq!(s.in_flight, 0, "every list answered");
        s.handle(Action::CycleState);
        s.handle(Action::CycleState);
        assert_eq!(s.panel, Panel::Requests);
        s.handle(Action::Down);
        assert_eq!(s.requests_selected, 1);
        assert_eq!(
            s.handle(Action::Enter),
            vec![Request::GetOrder {
                order_id: "o4".into()
            }]
        );
        assert_eq!(s.open.as_deref(), Some("o4"));
        // Back to the lists, and `s` wraps round to the board.
        s.handle(Action::Back);
        s.handle(Action::CycleState);
        assert_eq!(s.panel, Panel::Board);
    }

    #[test]
    fn a_failed_refresh_keeps_the_requests_and_a_shorter_list_clamps_the_selection() {
        let mut s = OrdersState::default();
        s.load();
        s.on_reply(Reply::CancellationRequests(Ok(vec![
            request(3, "o3"),
            request(2, "o2"),
            request(1, "o1"),
        ])));
        s.panel = Panel::Requests;
        s.handle(Action::Bottom);
        assert_eq!(s.requests_selected, 2);
        s.in_flight = 0;
        s.load();
        let err =
            crate::rpc::RpcError::new("ListCancellationRequests", tonic::Code::Unavailable, "down");
        s.on_reply(Reply::CancellationRequests(Err(err)));
        assert_eq!(s.requests.ready().map(Vec::len), Some(3), "kept on screen");
        assert!(s.note.is_some(), "and says why");
        s.on_reply(Reply::CancellationRequests(Ok(vec![request(3, "o3")])));
        assert_eq!(s.requests_selected, 0);
        assert_eq!(s.selected_request().map(|r| r.request_id), Some(3));
    }

    #[test]
    fn an_order_id_is_typed_after_slash() {
        let mut s = OrdersState::default();
        s.handle(Action::Search);
        for c in "O-9".chars() {
            s.handle(Action::Char(c));
        }
        let reqs = s.handle(Action::Enter);
        assert_eq!(
            reqs,
            vec![Request::GetOrder {
                order_id: "O-9".into()
            }]
        );
        assert!(!s.typing);
    }
}
