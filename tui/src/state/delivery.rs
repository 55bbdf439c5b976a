//! Delivery: outbox entries in one state (cycled with `s`), the selection, and retries.

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote};
use crate::input::Action;
use crate::rpc::{Reply, Request};

/// Which outbox entries are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    Pending,
    Failed,
    Delivered,
    Cancelled,
    All,
}

impl StatusFilter {
    /// pending → failed → delivered → cancelled → all → pending.
    pub fn next(self) -> Self {
        match self {
            StatusFilter::Pending => StatusFilter::Failed,
            StatusFilter::Failed => StatusFilter::Delivered,
            StatusFilter::Delivered => StatusFilter::Cancelled,
            StatusFilter::Cancelled => StatusFilter::All,
            StatusFilter::All => StatusFilter::Pending,
        }
    }

    /// `ListOutboxRequest.status`.
    pub fn wire(self) -> &'static str {
        match self {
            StatusFilter::Pending => "pending",
            StatusFilter::Failed => "failed",
            StatusFilter::Delivered => "delivered",
            StatusFilter::Cancelled => "cancelled",
            StatusFilter::All => "",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            s => s.wire(),
        }
    }
}

#[derive(Debug, Default)]
pub struct DeliveryState {
    pub filter: StatusFilter,
    pub entries: Remote<Vec<pb::OutboxEntry>>,
    pub selected: usize,
    /// A `ListOutbox` is out (no second one is started by the periodic refresh).
    pub in_flight: bool,
    pub loaded_at_ms: i64,
    pub note: Option<Note>,
}

impl DeliveryState {
    /// How often the list refreshes itself while shown.
    pub const REFRESH_MS: i64 = 3_000;

    pub fn selected_entry(&self) -> Option<&pb::OutboxEntry> {
        self.entries.ready().and_then(|e| e.get(self.selected))
    }

    pub fn handle(&mut self, action: Action) -> Vec<Request> {
        match action {
            Action::CycleState => {
                self.filter = self.filter.next();
                self.entries = Remote::Loading;
                self.selected = 0;
                return self.load();
            }
            Action::Refresh => {
                self.entries.reload();
                return self.load();
            }
            Action::Retry => match self.selected_entry() {
                Some(e) => {
                    let seq = e.seq;
                    self.note = Note::info(format!("retrying #{seq}…"));
                    return vec![Request::RetryOutbox { seq }];
                }
                None => self.note = Note::error("no entry selected"),
            },
            a => {
                let len = self.entries.ready().map_or(0, Vec::len);
                self.selected = step(self.selected, len, a);
            }
        }
        Vec::new()
    }

    /// Asks for the list, unless a request is already out.
    pub fn load(&mut self) -> Vec<Request> {
        self.in_flight = true;
        vec![Request::ListOutbox {
            status: self.filter,
        }]
    }

    /// The periodic refresh while the view is shown.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Request> {
        if self.in_flight || now_ms - self.loaded_at_ms < Self::REFRESH_MS {
            return Vec::new();
        }
        self.entries.reload();
        self.load()
    }

    pub fn on_reply(&mut self, reply: Reply, now_ms: i64) -> Vec<Request> {
        match reply {
            Reply::Outbox { status, result } => {
                if status != self.filter {
                    return Vec::new();
                }
                self.in_flight = false;
                self.loaded_at_ms = now_ms;
                // Keep the same entry selected when the list moves under it.
                let seq = self.selected_entry().map(|e| e.seq);
                match result {
                    // Keep the list on screen; say why it is not fresh.
                    Err(e) if self.entries.ready().is_some() => {
                        self.note = Note::error(e.to_string());
                        return Vec::new();
                    }
                    r => self.entries = r.into(),
                }
                if let (Some(seq), Some(list)) = (seq, self.entries.ready()) {
                    let len = list.len();
                    self.selected = list
                        .iter()
                        .position(|e| e.seq == seq)
                        .unwrap_or(self.selected.min(len.saturating_sub(1)));
                }
            }
            Reply::Retried { seq, result } => {
                match result {
                    Ok(e) => {
                        self.note = Note::info(format!(
                            "#{seq} is {} again (attempts {})",
                            e.status, e.attempts
                        ));
                        if let Remote::Ready(list) = &mut self.entries {
                            if let Some(x) = list.iter_mut().find(|x| x.seq == seq) {
                                *x = e;
                            }
                        }
                    }
                    Err(e) => self.note = Note::error(e.to_string()),
                }
                if !self.in_flight {
                    return self.load();
                }
            }
            _ => {}
        }
        Vec::new()
    }
}
