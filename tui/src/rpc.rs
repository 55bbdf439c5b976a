//! One-shot Admin RPCs. The UI never awaits them: [`dispatch`] runs each in its own task
//! and sends a [`Reply`] back over a channel, so keys are handled while a call is out.

use std::future::Future;
use std::time::Duration;

use stockbell_proto::v1 as pb;
use tokio::sync::mpsc::UnboundedSender;
use tonic::Code;

use crate::conn::{code_name, describe_status, AdminClient};
use crate::state::delivery::StatusFilter;

/// How long one call may take before the console gives up on it.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed call: which RPC, the gRPC code and the daemon's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RpcError {
    pub rpc: &'static str,
    pub code: Code,
    pub message: String,
}

impl RpcError {
    pub fn new(rpc: &'static str, code: Code, message: impl Into<String>) -> Self {
        Self {
            rpc,
            code,
            message: message.into(),
        }
    }

    fn from_status(rpc: &'static str, s: &tonic::Status) -> Self {
        Self::new(rpc, s.code(), describe_status(s))
    }

    pub fn is_unimplemented(&self) -> bool {
        self.code == Code::Unimplemented
    }
}

impl RpcError {
    /// In words: "EstimateReach is not available in this daemon yet (UNIMPLEMENTED)".
    fn describe(&self) -> String {
        match self.code {
            Code::Unimplemented => format!(
                "{} is not available in this daemon yet ({})",
                self.rpc,
                code_name(self.code)
            ),
            _ if self.message.is_empty() => format!("{}: {}", self.rpc, code_name(self.code)),
            _ => format!("{}: {}", self.rpc, self.message),
        }
    }
}

/// How a customer is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerKey {
    Id(String),
    Email(String),
}

impl CustomerKey {
    /// Text with an `@` is an email address, anything else a customer id.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.is_empty() {
            None
        } else if t.contains('@') {
            Some(CustomerKey::Email(t.to_string()))
        } else {
            Some(CustomerKey::Id(t.to_string()))
        }
    }
}

/// A call the UI wants made.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    ListScenarios,
    UpdateScenario(pb::UpdateScenarioRequest),
    /// `ticket` pairs the reply with the threshold being typed.
    EstimateReach {
        ticket: u64,
        req: pb::EstimateReachRequest,
    },
    SearchProducts {
        query: String,
    },
    GetProduct {
        sku: String,
    },
    ListTriggers {
        sku: String,
    },
    GetRelated {
        sku: String,
    },
    GetCustomer {
        key: CustomerKey,
    },
    ListOutbox {
        status: StatusFilter,
    },
    RetryOutbox {
        seq: u64,
    },
    /// The first page of the backorder board.
    ListBackorders,
    /// The first page of the orders flagged past their promise.
    ListFlaggedOrders,
    /// The first page of the customers' cancellation requests, newest first.
    ListCancellationRequests,
    GetOrder {
        order_id: String,
    },
    ListSegments,
    /// `segment` empty = every customer (as in the four below).
    SegmentMetrics {
        segment: String,
    },
    SegmentHistory {
        segment: String,
    },
    MonthlyTable {
        segment: String,
    },
    CohortTable {
        segment: String,
    },
    RfmGrid {
        segment: String,
    },
    /// Streams the segment's CSV into `path` (written atomically: a temporary file next
    /// to it, then renamed).
    ExportSegment {
        segment: String,
        path: String,
    },
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Records after the header.
    pub rows: u64,
    pub bytes: u64,
}

/// Rows of the board, flagged orders and cancellation requests the console asks for (one
/// page of each).
pub const ORDERS_PAGE: u32 = 200;

/// A call's result, carrying what the UI needs to match it with its request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Scenarios(Result<Vec<pb::ScenarioSettings>, RpcError>),
    ScenarioUpdated(Result<pb::ScenarioSettings, RpcError>),
    Reach {
        ticket: u64,
        result: Result<pb::ReachEstimate, RpcError>,
    },
    Products {
        query: String,
        result: Result<pb::SearchProductsResponse, RpcError>,
    },
    Product {
        sku: String,
        result: Result<pb::Product, RpcError>,
    },
    Triggers {
        sku: String,
        result: Result<Vec<pb::Trigger>, RpcError>,
    },
    Related {
        sku: String,
        result: Result<pb::RelatedProducts, RpcError>,
    },
    Customer {
        key: CustomerKey,
        /// Boxed: a customer is far larger than the other replies.
        result: Result<Box<pb::Customer>, RpcError>,
    },
    Outbox {
        status: StatusFilter,
        result: Result<Vec<pb::OutboxEntry>, RpcError>,
    },
    Retried {
        seq: u64,
        result: Result<pb::OutboxEntry, RpcError>,
    },
    Backorders(Result<Vec<pb::BackorderRow>, RpcError>),
    FlaggedOrders(Result<Vec<pb::Order>, RpcError>),
    CancellationRequests(Result<Vec<pb::CancellationRequest>, RpcError>),
    Order {
        order_id: String,
        result: Result<pb::Order, RpcError>,
    },
    Segments(Result<Vec<pb::Segment>, RpcError>),
    SegmentMetrics {
        segment: String,
        result: Result<pb::SegmentMetrics, RpcError>,
    },
    SegmentHistory {
        segment: String,
        result: Result<Vec<pb::SegmentSnapshot>, RpcError>,
    },
    MonthlyTable {
        segment: String,
        result: Result<Vec<pb::MonthRow>, RpcError>,
    },
    CohortTable {
        segment: String,
        result: Result<Vec<pb::CohortRow>, RpcError>,
    },
    RfmGrid {
        segment: String,
        result: Result<pb::RfmGrid, RpcError>,
    },
    Exported {
        segment: String,
        path: String,
        result: Result<Exported, RpcError>,
    },
}

impl Request {
    /// The gRPC method this request calls.
    pub fn rpc(&self) -> &'static str {
        match self {
            Request::ListScenarios => "ListScenarios",
            Request::UpdateScenario(_) => "UpdateScenario",
            Request::EstimateReach { .. } => "EstimateReach",
            Request::SearchProducts { .. } => "SearchProducts",
            Request::GetProduct { .. } => "GetProduct",
            Request::ListTriggers { .. } => "ListTriggers",
            Request::GetRelated { .. } => "GetRelated",
            Request::GetCustomer { .. } => "GetCustomer",
            Request::ListOutbox { .. } => "ListOutbox",
            Request::RetryOutbox { .. } => "RetryOutbox",
            Request::ListBackorders => "ListBackorders",
            Request::ListFlaggedOrders => "ListOrders",
            Request::ListCancellationRequests => "ListCancellationRequests",
            Request::GetOrder { .. } => "GetOrder",
            Request::ListSegments => "ListSegments",
            Request::SegmentMetrics { .. } => "GetSegmentMetrics",
            Request::SegmentHistory { .. } => "GetSegmentHistory",
            Request::MonthlyTable { .. } => "GetMonthlyTable",
            Request::CohortTable { .. } => "GetCohortTable",
            Request::RfmGrid { .. } => "GetRfmGrid",
            Request::ExportSegment { .. } => "ExportSegment",
        }
    }

    /// The reply this request gets when it fails with `err` before reaching the daemon.
    pub fn fail(self, err: RpcError) -> Reply {
        match self {
            Request::ListScenarios => Reply::Scenarios(Err(err)),
            Request::UpdateScenario(_) => Reply::ScenarioUpdated(Err(err)),
            Request::EstimateReach { ticket, .. } => Reply::Reach {
                ticket,
                result: Err(err),
            },
            Request::SearchProducts { query } => Reply::Products {
                query,
                result: Err(err),
            },
            Request::GetProduct { sku } => Reply::Product {
                sku,
                result: Err(err),
            },
            Request::ListTriggers { sku } => Reply::Triggers {
                sku,
                result: Err(err),
            },
            Request::GetRelated { sku } => Reply::Related {
                sku,
                result: Err(err),
            },
            Request::GetCustomer { key } => Reply::Customer {
                key,
                result: Err(err),
            },
            Request::ListOutbox { status } => Reply::Outbox {
                status,
                result: Err(err),
            },
            Request::RetryOutbox { seq } => Reply::Retried {
                seq,
                result: Err(err),
            },
            Request::ListBackorders => Reply::Backorders(Err(err)),
            Request::ListFlaggedOrders => Reply::FlaggedOrders(Err(err)),
            Request::ListCancellationRequests => Reply::CancellationRequests(Err(err)),
            Request::GetOrder { order_id } => Reply::Order {
                order_id,
                result: Err(err),
            },
            Request::ListSegments => Reply::Segments(Err(err)),
            Request::SegmentMetrics { segment } => Reply::SegmentMetrics {
                segment,
                result: Err(err),
            },
            Request::SegmentHistory { segment } => Reply::SegmentHistory {
                segment,
                result: Err(err),
            },
            Request::MonthlyTable { segment } => Reply::MonthlyTable {
                segment,
                result: Err(err),
            },
            Request::CohortTable { segment } => Reply::CohortTable {
                segment,
                result: Err(err),
            },
            Request::RfmGrid { segment } => Reply::RfmGrid {
                segment,
                result: Err(err),
            },
            Request::ExportSegment { segment, path } => Reply::Exported {
                segment,
                path,
                result: Err(err),
            },
        }
    }
}

/// Starts `req` on `client` (or fails it at once when not connected); the reply goes to `tx`.
pub fn dispatch(client: Option<&AdminClient>, req: Request, tx: &UnboundedSender<Reply>) {
    let Some(client) = client else {
        let err = RpcError::new(req.rpc(), Code::Unavailable, "not connected to the daemon");
        let _ = tx.send(req.fail(err));
        return;
    };
    let client = client.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let rpc = req.rpc();
        tracing::debug!(rpc, "calling");
        let reply = call(client, req).await;
        tracing::debug!(rpc, "replied");
        let _ = tx.send(reply);
    });
}

async fn within<T>(
    rpc: &'static str,
    fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, RpcError> {
    match tokio::time::timeout(RPC_TIMEOUT, fut).await {
        Err(_) => Err(RpcError::new(
            rpc,
            Code::DeadlineExceeded,
            format!("no reply within {} s", RPC_TIMEOUT.as_secs()),
        )),
        Ok(Err(s)) => {
            tracing::info!(rpc, error = %describe_status(&s), "call failed");
            Err(RpcError::from_status(rpc, &s))
        }
        Ok(Ok(resp)) => Ok(resp.into_inner()),
    }
}

async fn call(mut c: AdminClient, req: Request) -> Reply {
    let rpc = req.rpc();
    match req {
        Request::ListScenarios => {
            let r = within(rpc, c.list_scenarios(pb::ListScenariosRequest {})).await;
            Reply::Scenarios(r.map(|r| r.scenarios))
        }
        Request::UpdateScenario(u) => {
            Reply::ScenarioUpdated(within(rpc, c.update_scenario(u)).await)
        }
        Request::EstimateReach { ticket, req } => Reply::Reach {
            ticket,
            result: within(rpc, c.estimate_reach(req)).await,
        },
        Request::SearchProducts { query } => {
            let req = pb::SearchProductsRequest {
                query: query.clone(),
                limit: 200,
            };
            let result = within(rpc, c.search_products(req)).await;
            Reply::Products { query, result }
        }
        Request::GetProduct { sku } => {
            let req = pb::GetProductRequest { sku: sku.clone() };
            let result = within(rpc, c.get_product(req)).await;
            Reply::Product { sku, result }
        }
        Request::ListTriggers { sku } => {
            let req = pb::ListTriggersRequest {
                sku: sku.clone(),
                limit: 20,
                ..Default::default()
            };
            let result = within(rpc, c.list_triggers(req)).await.map(|r| r.triggers);
            Reply::Triggers { sku, result }
        }
        Request::GetRelated { sku } => {
            let req = pb::GetRelatedRequest { sku: sku.clone() };
            let result = within(rpc, c.get_related(req)).await;
            Reply::Related { sku, result }
        }
        Request::GetCustomer { key } => {
            let req = match &key {
                CustomerKey::Id(id) => pb::GetCustomerRequest {
                    customer_id: id.clone(),
                    email: String::new(),
                },
                CustomerKey::Email(e) => pb::GetCustomerRequest {
                    customer_id: String::new(),
                    email: e.clone(),
                },
            };
            let result = within(rpc, c.get_customer(req)).await.map(Box::new);
            Reply::Customer { key, result }
        }
        Request::ListOutbox { status } => {
            let req = pb::ListOutboxRequest {
                status: status.wire().into(),
                limit: 200,
                ..Default::default()
            };
            let result = within(rpc, c.list_outbox(req)).await.map(|r| r.entries);
            Reply::Outbox { status, result }
        }
        Request::RetryOutbox { seq } => Reply::Retried {
            seq,
            result: within(rpc, c.retry_outbox(pb::RetryOutboxRequest { seq })).await,
        },
        Request::ListBackorders => {
            let req = pb::ListBackordersRequest {
                limit: ORDERS_PAGE,
                after_sku: String::new(),
            };
            let result = within(rpc, c.list_backorders(req)).await.map(|r| r.rows);
            Reply::Backorders(result)
        }
        Request::ListFlaggedOrders => {
            let req = pb::ListOrdersRequest {
                filter: "past_promise".into(),
                limit: ORDERS_PAGE,
                after_order_id: String::new(),
            };
            let result = within(rpc, c.list_orders(req)).await.map(|r| r.orders);
            Reply::FlaggedOrders(result)
        }
        Request::ListCancellationRequests => {
            let req = pb::ListCancellationRequestsRequest {
                after_id: 0,
                limit: ORDERS_PAGE,
                newest_first: true,
            };
            let result = within(rpc, c.list_cancellation_requests(req))
                .await
                .map(|r| r.requests);
            Reply::CancellationRequests(result)
        }
        Request::GetOrder { order_id } => {
            let req = pb::GetOrderRequest {
                order_id: order_id.clone(),
            };
            let result = within(rpc, c.get_order(req)).await;
            Reply::Order { order_id, result }
        }
        Request::ListSegments => {
            let r = within(rpc, c.list_segments(pb::ListSegmentsRequest {})).await;
            Reply::Segments(r.map(|r| r.segments))
        }
        Request::SegmentMetrics { segment } => {
            let req = pb::GetSegmentMetricsRequest {
                segment: segment.clone(),
            };
            let result = within(rpc, c.get_segment_metrics(req)).await;
            Reply::SegmentMetrics { segment, result }
        }
        Request::SegmentHistory { segment } => {
            let req = pb::GetSegmentHistoryRequest {
                segment: segment.clone(),
                days: 0,
            };
            let result = within(rpc, c.get_segment_history(req))
                .await
                .map(|r| r.points);
            Reply::SegmentHistory { segment, result }
        }
        Request::MonthlyTable { segment } => {
            let req = pb::GetMonthlyTableRequest {
                segment: segment.clone(),
                months: 0,
            };
            let result = within(rpc, c.get_monthly_table(req))
                .await
                .map(|r| r.months);
            Reply::MonthlyTable { segment, result }
        }
        Request::CohortTable { segment } => {
            let req = pb::GetCohortTableRequest {
                segment: segment.clone(),
                months: 0,
            };
            let result = within(rpc, c.get_cohort_table(req))
                .await
                .map(|r| r.cohorts);
            Reply::CohortTable { segment, result }
        }
        Request::RfmGrid { segment } => {
            let req = pb::GetRfmGridRequest {
                segment: segment.clone(),
            };
            let result = within(rpc, c.get_rfm_grid(req)).await;
            Reply::RfmGrid { segment, result }
        }
        Request::ExportSegment { segment, path } => {
            let result = export(c, &segment, &path).await;
            Reply::Exported {
                segment,
                path,
                result,
            }
        }
    }
}

/// Streams `segment`'s CSV into `path` through a temporary file next to it (renamed
/// over `path` at the end, removed on failure). Each chunk must come within
/// [`RPC_TIMEOUT`]; the whole export may take longer.
async fn export(mut c: AdminClient, segment: &str, path: &str) -> Result<Exported, RpcError> {
    const RPC: &str = "ExportSegment";
    let req = pb::ExportSegmentRequest {
        segment: segment.to_owned(),
    };
    let mut stream = within(RPC, c.export_segment(req)).await?;
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let io_err = |what: &str, e: std::io::Error| {
        RpcError::new(RPC, Code::Unknown, format!("cannot {what} {path}: {e}"))
    };
    let mut file = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| io_err("create", e))?;
    let res: Result<Exported, RpcError> = async {
        use tokio::io::AsyncWriteExt as _;
        let (mut rows, mut bytes, mut in_quotes) = (0u64, 0u64, false);
        loop {
            let next = tokio::time::timeout(RPC_TIMEOUT, stream.message()).await;
            let chunk = match next {
                Err(_) => {
                    return Err(RpcError::new(
                        RPC,
                        Code::DeadlineExceeded,
                        format!("no data within {} s", RPC_TIMEOUT.as_secs()),
                    ))
                }
                Ok(Err(s)) => return Err(RpcError::from_status(RPC, &s)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            for &b in &chunk.data {
                match b {
                    b'"' => in_quotes = !in_quotes,
                    b'\n' if !in_quotes => rows += 1,
                    _ => {}
                }
            }
            bytes += chunk.data.len() as u64;
            file.write_all(&chunk.data)
                .await
                .map_err(|e| io_err("write", e))?;
        }
        file.sync_all().await.map_err(|e| io_err("sync", e))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| io_err("rename onto", e))?;
        Ok(Exported {
            rows: rows.saturating_sub(1),
            bytes,
        })
    }
    .await;
    if res.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_keys_by_shape() {
        assert_eq!(
            CustomerKey::parse(" a@b.jp "),
            Some(CustomerKey::Email("a@b.jp".into()))
        );
        assert_eq!(
            CustomerKey::parse("C-1"),
            Some(CustomerKey::Id("C-1".into()))
        );
        assert_eq!(CustomerKey::parse("  "), None);
    }

    #[test]
    fn unimplemented_reads_as_not_yet_available() {
        let e = RpcError::new("EstimateReach", Code::Unimplemented, "UNIMPLEMENTED: x");
        assert_eq!(
            e.to_string(),
            "EstimateReach is not available in this daemon yet (UNIMPLEMENTED)"
        );
    }

    #[tokio::test]
    async fn without_a_connection_a_request_fails_at_once() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        dispatch(None, Request::RetryOutbox { seq: 7 }, &tx);
        let Some(Reply::Retried { seq, result }) = rx.recv().await else {
            panic!("expected a reply");
        };
        assert_eq!(seq, 7);
        assert_eq!(result.map_err(|e| e.code), Err(Code::Unavailable));
    }
}
