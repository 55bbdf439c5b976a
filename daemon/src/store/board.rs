//! The schemas operators read across orders (layouts in `schema.rs`): the backorder
//! board, one row per SKU whose book is not empty (written with the product's state),
//! and the lines past their promise, one per flagged open line (written with the order's
//! customer). Both are kept by their owners' writes, so reading them scans neither the
//! catalogue nor the customers. A store written before the board existed gets its rows
//! once at startup (`build_once`).

use super::codec;
use super::records::Products;
use super::schema::{bad_key, meta_singleton, pair_key, split_pair, utf8, v1_by_name, Cf, Schema};
use super::writer::Writer;
use super::{Batch, Seek, Store, StoreError};
use crate::domain::order::board::{BoardRow, LateLine};

const V1: u8 = 1;

v1_by_name!(
    /// The backorder board, by sku (key order).
    BackorderBoard,
    Cf::BackorderBoard,
    BoardRow
);

/// Lines past their promise, by (order id, line id): an order's flagged lines are
/// neighbours, so a page of orders is one forward scan.
pub struct LateLines;

impl Schema for LateLines {
    const CF: Cf = Cf::LateLines;
    type Key = (String, String);
    type KeyRef<'a> = (&'a str, &'a str);
    type Value = LateLine;

    fn encode_key((order_id, line_id): (&str, &str)) -> Vec<u8> {
        pair_key(order_id, line_id.as_bytes())
    }
    fn decode_key(bytes: &[u8]) -> Result<(String, String), StoreError> {
        let (order_id, line_id) =
            split_pair(bytes).ok_or_else(|| bad_key(Self::CF, "no order id"))?;
        Ok((order_id.to_owned(), utf8(Self::CF, line_id)?))
    }
    fn encode_value(value: &LateLine) -> Vec<u8> {
        codec::encode(V1, value)
    }
    fn decode_value(bytes: &[u8]) -> Result<LateLine, StoreError> {
        codec::decode(Self::CF.name(), V1, bytes)
    }
}

meta_singleton!(
    /// `meta` "backorder_board_built": the board was built from the products stored
    /// before products wrote their rows themselves (u64 BE, the board's version).
    BoardBuilt,
    b"backorder_board_built",
    u64
);

/// Once per store, at startup before the Router runs: a row for every stored product
/// whose book owes lines (products stored by a daemon that kept no board). Later every
/// product write keeps its row. Returns the rows written (0 when already built).
pub async fn build_once(store: &Store, writer: &Writer) -> Result<usize, StoreError> {
    let batch = store
        .read(|s| {
            if s.get::<BoardBuilt>(())?.is_some() {
                return Ok(None);
            }
            let mut batch = Batch::default();
            let mut rows = 0;
            for p in s.iter::<Products>(Seek::First)? {
                let (sku, p) = p?;
                if let Some(row) = BoardRow::of(&p) {
                    batch.put::<BackorderBoard>(&sku, &row);
                    rows += 1;
                }
            }
            batch.put::<BoardBuilt>((), &1);
            Ok(Some((batch, rows)))
        })
        .await?;
    match batch {
        Some((batch, rows)) => {
            writer.write(batch, 0).await?;
            Ok(rows)
        }
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::state::LineStatus;

    #[test]
    fn keys_and_values_round_trip() {
        let k = BackorderBoard::encode_key("A-1");
        assert_eq!(BackorderBoard::decode_key(&k).ok(), Some("A-1".to_owned()));
        let row = BoardRow {
            title: "Linen shirt".into(),
            waiting_lines: 2,
            waiting_units: 5,
            reserved_lines: 1,
            reserved_units: 3,
            oldest_wait_ms: Some(7),
            stock: -5,
            available: 0,
            updated_ms: 9,
        };
        let v = BackorderBoard::encode_value(&row);
        assert_eq!(BackorderBoard::decode_value(&v).ok(), Some(row));

        let k = LateLines::encode_key(("o-1", "l-2"));
        assert_eq!(
            LateLines::decode_key(&k).ok(),
            Some(("o-1".to_owned(), "l-2".to_owned()))
        );
        // An order's lines sort together, before a longer order id with the same start.
        assert!(LateLines::encode_key(("o-1", "zz")) < LateLines::encode_key(("o-10", "a")));
        let late = LateLine {
            customer_id: "c".into(),
            sku: "A-1".into(),
            quantity: 2,
            status: LineStatus::Waiting,
            latest_ms: 10,
            flagged_ms: 11,
        };
        let v = LateLines::encode_value(&late);
        assert_eq!(LateLines::decode_value(&v).ok(), Some(late));
    }

    #[tokio::test]
    async fn products_stored_before_the_board_get_their_rows_once() {
        use crate::domain::order::backorder::{BackorderBook, BookHeader, BookLine, BookState};
        use crate::domain::product::{apply, Effects};
        use crate::domain::{Catalogue, ProductEvent, TriggerConfig};

        let t = crate::store::test_db::TestStore::new();
        let mut owing = None;
        let upsert = ProductEvent::Upsert {
            catalogue: Catalogue {
                title: "Kettle".into(),
                backorderable: true,
                ..Catalogue::default()
            },
            price_minor: 100,
            imported: true,
        };
        let cfg = TriggerConfig::default();
        assert!(apply(&mut owing, "K", &upsert, 1, &cfg, &mut Effects::default()).is_ok());
        let mut idle = owing.clone().expect("created");
        let mut owing = owing.expect("created");
        owing.book = BackorderBook::from_parts(
            BookHeader::default(),
            vec![BookLine {
                order_id: "o1".into(),
                line_id: "1".into(),
                customer_id: "c1".into(),
                quantity: 2,
                placed_ms: 5,
                seq: 0,
                state: BookState::Waiting,
            }],
        );
        idle.sku = "I".into();
        let mut b = Batch::default();
        b.put::<Products>("K", &owing);
        b.put::<Products>("I", &idle);
        assert!(t.writer.write(b, 1).await.is_ok());

        assert_eq!(build_once(t.store(), &t.writer).await.ok(), Some(1));
        let row = t.store().get::<BackorderBoard>("K").expect("read");
        assert_eq!(
            row.map(|r| (r.waiting_lines, r.waiting_units)),
            Some((1, 2))
        );
        assert!(t
            .store()
            .get::<BackorderBoard>("I")
            .expect("read")
            .is_none());
        // Built once: a later start leaves the rows to the products' own writes.
        let mut b = Batch::default();
        b.delete::<BackorderBoard>("K");
        assert!(t.writer.write(b, 2).await.is_ok());
        assert_eq!(build_once(t.store(), &t.writer).await.ok(), Some(0));
        assert!(t
            .store()
            .get::<BackorderBoard>("K")
            .expect("read")
            .is_none());
        t.close().await;
    }
}
