//! The customer's request to cancel an order (the signed one-click link): recorded once,
//! while some line can still be cancelled. The shop decides; stockbell only records the
//! request and passes it on, so nothing here changes a line.

use serde::{Deserialize, Serialize};

use super::{OrderState, Refusal};
use crate::domain::Millis;

/// A recorded request, as the cancellation-request log keeps it (the shop webhook and the
/// Admin API read it from there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub order_id: String,
    pub customer_id: String,
    /// The lines still open when it was asked.
    pub line_ids: Vec<String>,
    pub requested_at_ms: Millis,
}

/// What a cancel request did to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Recorded now; `open_lines` are the lines not yet shipped, cancelled or refunded.
    Recorded { open_lines: Vec<String> },
    /// Asked before, at `at_ms`: nothing changes.
    AlreadyRequested { at_ms: Millis },
}

impl OrderState {
    /// The lines a cancellation could still stop: not shipped, cancelled or refunded.
    pub fn open_lines(&self) -> Vec<String> {
        self.ids_where(|l| l.status.is_open())
    }
}

/// Records the customer's request to cancel `st` at `at_ms`. Refused (nothing changes)
/// when no line is open any more; a second request changes nothing.
pub fn request_cancel(st: &mut OrderState, at_ms: Millis) -> Result<CancelOutcome, Refusal> {
    if let Some(at_ms) = st.cancel_requested_at_ms {
        return Ok(CancelOutcome::AlreadyRequested { at_ms });
    }
    let open_lines = st.open_lines();
    if open_lines.is_empty() {
        return Err(Refusal::new(
            "cancel_request.order_id",
            format!(
                "order {:?} has no line left to cancel: every line shipped, was delivered, \
                 cancelled or refunded",
                st.order_id
            ),
        ));
    }
    st.cancel_requested_at_ms = Some(at_ms);
    Ok(CancelOutcome::Recorded { open_lines })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::state::{apply, OrderCadence};
    use crate::domain::order::{
        BackorderMark, Lines, OrderEvent, OrderLine, OrderPlaced, OrderShipped,
    };

    fn order() -> OrderState {
        let line = |id: &str| OrderLine {
            line_id: id.into(),
            sku: "A".into(),
            quantity: 1,
            unit_price_minor: 100,
            backorder: BackorderMark::Backorder,
            promise: None,
        };
        let placed = OrderEvent::Placed(OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            currency: "JPY".into(),
            coupon_code: String::new(),
            lines: vec![line("1"), line("2")],
        });
        let mut st = None;
        apply(&mut st, &placed, 10, &OrderCadence::default()).expect("placed");
        st.expect("an order")
    }

    fn ship(st: &mut OrderState, lines: Lines) {
        let mut o = Some(st.clone());
        let shipped = OrderEvent::Shipped(OrderShipped {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines,
            carrier: "Yamato".into(),
            tracking_number: "T1".into(),
            tracking_url: String::new(),
        });
        apply(&mut o, &shipped, 20, &OrderCadence::default()).expect("shipped");
        *st = o.expect("still there");
    }

    #[test]
    fn recorded_once_with_the_open_lines() {
        let mut st = order();
        ship(&mut st, Lines::Only(vec!["1".into()]));
        assert_eq!(
            request_cancel(&mut st, 30),
            Ok(CancelOutcome::Recorded {
                open_lines: vec!["2".into()]
            })
        );
        assert_eq!(st.cancel_requested_at_ms, Some(30));
        let before = st.clone();
        assert_eq!(
            request_cancel(&mut st, 40),
            Ok(CancelOutcome::AlreadyRequested { at_ms: 30 })
        );
        assert_eq!(st, before);
    }

    #[test]
    fn refused_when_nothing_is_left_to_cancel() {
        let mut st = order();
        ship(&mut st, Lines::All);
        let before = st.clone();
        let r = request_cancel(&mut st, 30).expect_err("refused");
        assert!(r.reason.contains("no line left"), "{r:?}");
        assert_eq!(st, before);
    }
}
