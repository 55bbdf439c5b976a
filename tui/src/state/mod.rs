//! What the console knows: one state per view, updated from the overview stream and from
//! RPC replies, plus the small types they share. Views only read it.

pub mod customers;
pub mod delivery;
pub mod orders;
pub mod overview;
pub mod products;
pub mod scenarios;
pub mod segments;

use crate::input::Action;
use crate::rpc::RpcError;

/// The seven views, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewId {
    #[default]
    Overview,
    Scenarios,
    Products,
    Customers,
    Delivery,
    Orders,
    Segments,
}

impl ViewId {
    pub const ALL: [ViewId; 7] = [
        ViewId::Overview,
        ViewId::Scenarios,
        ViewId::Products,
        ViewId::Customers,
        ViewId::Delivery,
        ViewId::Orders,
        ViewId::Segments,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ViewId::Overview => "Overview",
            ViewId::Scenarios => "Scenarios",
            ViewId::Products => "Products",
            ViewId::Customers => "Customers",
            ViewId::Delivery => "Delivery",
            ViewId::Orders => "Orders",
            ViewId::Segments => "Segments",
        }
    }

    /// The title on a narrow tab bar (the current view keeps its whole title).
    pub fn short_title(self) -> &'static str {
        match self {
            ViewId::Overview => "Over",
            ViewId::Scenarios => "Scen",
            ViewId::Products => "Prod",
            ViewId::Customers => "Cust",
            ViewId::Delivery => "Deli",
            ViewId::Orders => "Orders",
            ViewId::Segments => "Segs",
        }
    }

    pub fn index(self) -> usize {
        ViewId::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The view for key `1`..`7`.
    pub fn from_digit(d: u32) -> Option<ViewId> {
        let i = usize::try_from(d).ok()?.checked_sub(1)?;
        ViewId::ALL.get(i).copied()
    }

    pub fn next(self) -> ViewId {
        ViewId::ALL[(self.index() + 1) % ViewId::ALL.len()]
    }

    pub fn prev(self) -> ViewId {
        ViewId::ALL[(self.index() + ViewId::ALL.len() - 1) % ViewId::ALL.len()]
    }
}

/// Data fetched by an RPC.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Remote<T> {
    #[default]
    Idle,
    Loading,
    Ready(T),
    Failed(RpcError),
}

impl<T> Remote<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Remote::Ready(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_loading(&self) -> bool {
        matches!(self, Remote::Loading)
    }

    /// About to ask again: keeps data already shown (no flicker on refresh).
    pub fn reload(&mut self) {
        if !matches!(self, Remote::Ready(_)) {
            *self = Remote::Loading;
        }
    }
}

impl<T> From<Result<T, RpcError>> for Remote<T> {
    fn from(r: Result<T, RpcError>) -> Self {
        match r {
            Ok(v) => Remote::Ready(v),
            Err(e) => Remote::Failed(e),
        }
    }
}

/// A one-line message under a view: what just happened, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub error: bool,
}

impl Note {
    pub fn info(text: impl Into<String>) -> Option<Note> {
        Some(Note {
            text: text.into(),
            error: false,
        })
    }

    pub fn error(text: impl Into<String>) -> Option<Note> {
        Some(Note {
            text: text.into(),
            error: true,
        })
    }
}

/// Rows one PageUp / PageDown moves.
pub const PAGE: usize = 10;

/// Moves a list selection for a navigation action; other actions leave it.
pub fn step(selected: usize, len: usize, action: Action) -> usize {
    if len == 0 {
        return 0;
    }
    let last = len - 1;
    let next = match action {
        Action::Up => selected.saturating_sub(1),
        Action::Down => selected.saturating_add(1),
        Action::PageUp => selected.saturating_sub(PAGE),
        Action::PageDown => selected.saturating_add(PAGE),
        Action::Top => 0,
        Action::Bottom => last,
        _ => selected,
    };
    next.min(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_cycle_both_ways() {
        assert_eq!(ViewId::Orders.next(), ViewId::Segments);
        assert_eq!(ViewId::Segments.next(), ViewId::Overview);
        assert_eq!(ViewId::Overview.prev(), ViewId::Segments);
        assert_eq!(ViewId::from_digit(3), Some(ViewId::Products));
        assert_eq!(ViewId::from_digit(6), Some(ViewId::Orders));
        assert_eq!(ViewId::from_digit(0), None);
        assert_eq!(ViewId::from_digit(7), Some(ViewId::Segments));
        assert_eq!(ViewId::from_digit(8), None);
    }

    #[test]
    fn selection_stays_in_bounds() {
        assert_eq!(step(0, 3, Action::Up), 0);
        assert_eq!(step(2, 3, Action::Down), 2);
        assert_eq!(step(1, 30, Action::PageDown), 11);
        assert_eq!(step(5, 3, Action::Top), 0);
        assert_eq!(step(0, 3, Action::Bottom), 2);
        assert_eq!(step(7, 0, Action::Down), 0);
    }
}
