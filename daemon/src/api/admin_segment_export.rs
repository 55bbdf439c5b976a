//! `Admin.ExportSegment`: a segment's members as a CSV stream (RFC 4180, CRLF line ends,
//! a header row, [`COLUMNS`]).
//!
//! Membership is decided once, when the export starts (one scan of the segment board
//! under its read lock, copying out the members' customer ids); the rows are then
//! read [`BATCH_ROWS`] at a time under the read lock, encoded outside it, and sent in
//! chunks of at most [`CHUNK_BYTES`] through a channel of [`CHANNEL_CHUNKS`], so a slow
//! client holds back the encoder instead of making the daemon buffer the file. The
//! export ends early when the client goes away or the daemon shuts down. Rows come
//! sorted by customer id (byte order), so two exports of an unchanged store are
//! identical.
//!
//! Formula-injection guard: any cell whose first character is `=`, `+`, `-`, `@`, TAB or
//! CR gets a leading `'`, so a spreadsheet shows it as text instead of running it.

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat};
use stockbell_proto::v1 as pb;
use tokio_stream::Stream;
use tonic::Status;

use super::admin::AdminApi;
use crate::domain::segments::Row;
use crate::domain::Millis;
use crate::segment_board::SegmentBoard;

pub type CsvStream = Pin<Box<dyn Stream<Item = Result<pb::CsvChunk, Status>> + Send + 'static>>;

/// The header row's columns, in order.
pub const COLUMNS: [&str; 14] = [
    "customer_id",
    "email",
    "orders",
    "spend_minor",
    "first_order",
    "last_order",
    "mean_order_minor",
    "mean_interval_days",
    "coupon_orders",
    "subscribed",
    "tags",
    "locale",
    "time_zone",
    "last_click",
];

/// Most bytes in one `CsvChunk`.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Rows read per hold of the board's read lock.
pub const BATCH_ROWS: usize = 10_000;
/// Chunks buffered between the encoder and the client.
pub const CHANNEL_CHUNKS: usize = 4;

const MS_PER_DAY: f64 = 86_400_000.0;

/// Appends one cell: guarded against formula injection, then quoted when it holds a
/// comma, a quote, CR or LF (quotes doubled).
pub fn push_cell(out: &mut Vec<u8>, cell: &str) {
    let guard = matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let quote = cell
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if quote {
        out.push(b'"');
    }
    if guard {
        out.push(b'\'');
    }
    if quote {
        for b in cell.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

/// Appends one record (cells joined by `,`, ended by CRLF).
pub fn push_record<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_cell(out, cell);
    }
    out.extend_from_slice(b"\r\n");
}

/// The header row.
pub fn push_header(out: &mut Vec<u8>) {
    push_record(out, COLUMNS);
}

/// An instant as RFC 3339 UTC to the second (`2026-01-31T09:00:00Z`).
fn rfc3339(ms: Option<Millis>) -> String {
    ms.and_then(DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// One customer's cells, in [`COLUMNS`] order: mean order value rounded to a whole
/// minor unit, mean interval in days to 2 decimals, empty cells where a value needs
/// orders the customer does not have.
pub fn row_cells(row: &Row) -> [String; 14] {
    [
        row.customer_id.clone(),
        row.email.clone().unwrap_or_default(),
        row.order_count().to_string(),
        row.spend_minor().to_string(),
        rfc3339(row.first_order_ms()),
        rfc3339(row.last_order_ms()),
        row.mean_order_minor()
            .map(|m| format!("{:.0}", m.round()))
            .unwrap_or_default(),
        row.mean_interval_ms()
            .map(|ms| format!("{:.2}", ms as f64 / MS_PER_DAY))
            .unwrap_or_default(),
        row.coupon_orders().to_string(),
        row.subscribed.to_string(),
        row.tags.join(";"),
        row.locale.clone(),
        row.time_zone.clone(),
        rfc3339(row.last_click_ms),
    ]
}

/// Appends one customer's record.
pub fn push_row(out: &mut Vec<u8>, row: &Row) {
    let cells = row_cells(row);
    push_record(out, cells.iter().map(String::as_str));
}

/// Cuts `buf` into chunks of at most [`CHUNK_BYTES`], in order.
pub fn chunks(buf: Vec<u8>) -> Vec<Vec<u8>> {
    if buf.len() <= CHUNK_BYTES {
        return if buf.is_empty() {
            Vec::new()
        } else {
            vec![buf]
        };
    }
    buf.chunks(CHUNK_BYTES).map(<[u8]>::to_vec).collect()
}

impl AdminApi {
    pub(super) async fn segment_export(
        &self,
        r: pb::ExportSegmentRequest,
    ) -> Result<CsvStream, Status> {
        let filter = self.segment_filter(&r.segment)?;
        let board = self.segments.clone();
        let ids = tokio::task::spawn_blocking(move || {
            let mut ids: Vec<String> = board.scan(|rows| {
                rows.filter(|row| filter.covers(row))
                    .map(|row| row.customer_id.clone())
                    .collect()
            });
            ids.sort_unstable();
            ids
        })
        .await
        .map_err(|e| Status::internal(format!("export task failed: {e}")))?;

        Ok(stream_rows(
            self.segments.clone(),
            ids,
            self.shutdown.clone(),
        ))
    }
}

/// The CSV of the rows of `ids` (in that order) as a stream: read [`BATCH_ROWS`] at a
/// time under the board's read lock, encoded on a blocking thread, sent in chunks of at
/// most [`CHUNK_BYTES`] through a channel of [`CHANNEL_CHUNKS`]. Ends when done, when the
/// receiver is dropped, or when `shutdown` turns true.
pub fn stream_rows(
    board: Arc<SegmentBoard>,
    ids: Vec<String>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> CsvStream {
    let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
    tokio::spawn(async move {
        let ids = Arc::new(ids);
        let mut header = Vec::new();
        push_header(&mut header);
        let mut pending = header;
        let mut start = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if start < ids.len() {
                let (board, ids) = (board.clone(), ids.clone());
                let end = (start + BATCH_ROWS).min(ids.len());
                let encoded = tokio::task::spawn_blocking(move || {
                    let rows = board.get_many(&ids[start..end]);
                    let mut out = Vec::with_capacity(rows.len() * 160);
                    for row in &rows {
                        push_row(&mut out, row);
                    }
                    out
                })
                .await;
                match encoded {
                    Ok(bytes) => pending.extend_from_slice(&bytes),
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::internal(format!("export task failed: {e}"))))
                            .await;
                        return;
                    }
                }
                start = end;
            }
            let last = start >= ids.len();
            // Send whole chunks; keep a partial one for the next batch unless done.
            let keep = if last { 0 } else { pending.len() % CHUNK_BYTES };
            let rest = pending.split_off(pending.len() - keep);
            for data in chunks(std::mem::replace(&mut pending, rest)) {
                // Biased: once shutdown is set it wins over a free slot in the channel.
                tokio::select! {
                    biased;
                    _ = shutdown.wait_for(|s| *s) => return,
                    sent = tx.send(Ok(pb::CsvChunk { data })) => {
                        if sent.is_err() {
                            return;
                        }
                    }
                }
            }
            if last {
                return;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::segments::{Earlier, OrderPoint};

    fn cell(s: &str) -> String {
        let mut out = Vec::new();
        push_cell(&mut out, s);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn plain_cells_are_bare_and_special_ones_quoted() {
        assert_eq!(cell("c-1"), "c-1");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(cell("lf\nonly"), "\"lf\nonly\"");
    }

    #[test]
    fn formula_looking_cells_are_guarded() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+81"), "'+81");
        assert_eq!(cell("-2"), "'-2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\tx"), "'\tx");
        assert_eq!(cell("\rx"), "\"'\rx\"");
        // Guarded and quoted: the quote opens the cell, the guard comes first inside.
        assert_eq!(cell("=HYPERLINK(\"x\",1)"), "\"'=HYPERLINK(\"\"x\"\",1)\"");
        // Only the first character counts.
        assert_eq!(cell("a=b"), "a=b");
        assert_eq!(cell("x@y.example"), "x@y.example");
    }

    #[test]
    fn header_and_records_end_in_crlf() {
        let mut out = Vec::new();
        push_header(&mut out);
        push_record(&mut out, ["a", "b,c"]);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "customer_id,email,orders,spend_minor,first_order,last_order,mean_order_minor,\
             mean_interval_days,coupon_orders,subscribed,tags,locale,time_zone,last_click\r\n\
             a,\"b,c\"\r\n"
        );
    }

    #[test]
    fn a_customer_row_has_hand_computed_cells() {
        // Orders at day 0, 1 and 4 (2020-01-01T00:00:00Z = 1_577_836_800_000 ms):
        // 1000 + 2500 + 0 minor; gaps 1 and 3 days, mean 2.00; mean order 3500 / 3.
        let day = 86_400_000;
        let t0 = 1_577_836_800_000;
        let row = Row {
            customer_id: "c-7".into(),
            email: Some("ann@example.com".into()),
            orders: vec![
                OrderPoint {
                    at_ms: t0,
                    amount_minor: 1000,
                    coupon: true,
                },
                OrderPoint {
                    at_ms: t0 + day,
                    amount_minor: 2500,
                    coupon: false,
                },
                OrderPoint {
                    at_ms: t0 + 4 * day,
                    amount_minor: 0,
                    coupon: true,
                },
            ],
            subscribed: true,
            tags: vec!["vip".into(), "=cmd".into()],
            locale: "ja-JP".into(),
            time_zone: "Asia/Tokyo".into(),
            last_click_ms: Some(t0 + 90_500),
            ..Row::default()
        };
        let mut out = Vec::new();
        push_row(&mut out, &row);
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "c-7,ann@example.com,3,3500,2020-01-01T00:00:00Z,2020-01-05T00:00:00Z,1167,2.00,\
             2,true,vip;=cmd,ja-JP,Asia/Tokyo,2020-01-01T00:01:30Z\r\n"
        );
    }

    #[test]
    fn a_customer_without_orders_has_empty_dates_and_means() {
        let row = Row {
            customer_id: "c-1".into(),
            tags: vec!["-x".into()],
            ..Row::default()
        };
        assert_eq!(
            row_cells(&row),
            ["c-1", "", "0", "0", "", "", "", "", "0", "false", "-x", "", "", ""].map(String::from)
        );
        let mut out = Vec::new();
        push_row(&mut out, &row);
        assert_eq!(out, b"c-1,,0,0,,,,,0,false,'-x,,,\r\n");
    }

    #[test]
    fn folded_orders_count_in_every_column() {
        let row = Row {
            customer_id: "c-2".into(),
            earlier: Some(Earlier {
                orders: 2,
                spend_minor: 300,
                first_ms: 0,
                coupon_orders: 1,
                gaps_ms: 2 * 86_400_000,
                gaps: 2,
            }),
            orders: vec![OrderPoint {
                at_ms: 2 * 86_400_000,
                amount_minor: 100,
                coupon: false,
            }],
            ..Row::default()
        };
        let c = row_cells(&row);
        assert_eq!(c[2], "3");
        assert_eq!(c[3], "400");
        assert_eq!(c[4], "1970-01-01T00:00:00Z");
        assert_eq!(c[5], "1970-01-03T00:00:00Z");
        assert_eq!(c[6], "133");
        assert_eq!(c[7], "1.00");
        assert_eq!(c[8], "1");
    }

    #[test]
    fn chunks_are_bounded_and_concatenate_back() {
        assert!(chunks(Vec::new()).is_empty());
        assert_eq!(chunks(vec![1; 10]), vec![vec![1; 10]]);
        let buf: Vec<u8> = (0..(CHUNK_BYTES * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let parts = chunks(buf.clone());
        assert_eq!(parts.len(), 3);
        assert!(parts
            .iter()
            .all(|p| p.len() <= CHUNK_BYTES && !p.is_empty()));
        assert_eq!(parts.concat(), buf);
    }

    fn board(n: usize) -> Arc<SegmentBoard> {
        let board = Arc::new(SegmentBoard::new());
        board.put_all(
            (0..n)
                .map(|i| Row {
                    customer_id: format!("c-{i:06}"),
                    email: Some(format!("c-{i:06}@example.com")),
                    tags: vec!["=x".into()],
                    ..Row::default()
                })
                .collect(),
        );
        board
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c-{i:06}")).collect()
    }

    async fn collect(mut s: CsvStream) -> Vec<Vec<u8>> {
        use tokio_stream::StreamExt as _;
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.push(c.expect("a chunk").data);
        }
        out
    }

    #[tokio::test]
    async fn batches_stream_every_row_in_order_in_bounded_chunks() {
        // 2.5 batches of rows, with an id that has no row (skipped).
        let n = BATCH_ROWS * 5 / 2;
        let mut wanted = ids(n);
        wanted.insert(3, "gone".into());
        let (_tx, shutdown) = tokio::sync::watch::channel(false);
        let parts = collect(stream_rows(board(n), wanted, shutdown)).await;
        assert!(parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= CHUNK_BYTES));
        // Every chunk but the last is full.
        assert!(parts[..parts.len() - 1]
            .iter()
            .all(|p| p.len() == CHUNK_BYTES));
        let mut expected = Vec::new();
        push_header(&mut expected);
        for i in 0..n {
            let id = format!("c-{i:06}");
            expected.extend_from_slice(
                format!("{id},{id}@example.com,0,0,,,,,0,false,'=x,,,\r\n").as_bytes(),
            );
        }
        assert_eq!(parts.concat(), expected);
    }

    #[tokio::test]
    async fn an_empty_export_is_the_header() {
        let (_tx, shutdown) = tokio::sync::watch::channel(false);
        let parts = collect(stream_rows(board(3), Vec::new(), shutdown)).await;
        let mut header = Vec::new();
        push_header(&mut header);
        assert_eq!(parts, vec![header]);
    }

    #[tokio::test]
    async fn shutdown_ends_the_stream_early() {
        let n = BATCH_ROWS * 3;
        let (tx, shutdown) = tokio::sync::watch::channel(false);
        let s = stream_rows(board(n), ids(n), shutdown);
        // The reader is slow: the daemon queues a few chunks, then waits.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        tx.send(true).expect("shutdown");
        let parts = collect(s).await;
        assert!(parts.len() <= CHANNEL_CHUNKS + 1, "{} chunks", parts.len());
    }

    #[tokio::test]
    async fn a_client_that_goes_away_ends_the_export() {
        let n = BATCH_ROWS * 3;
        let board = board(n);
        let (_tx, shutdown) = tokio::sync::watch::channel(false);
        let s = stream_rows(board.clone(), ids(n), shutdown);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(s);
        // The task lets go of the board once it sees the channel closed.
        for _ in 0..100 {
            if Arc::strong_count(&board) == 1 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the export task still runs after its client went away");
    }
}
