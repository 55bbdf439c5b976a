//! `Admin.GetRelated`: a product's related products as a cross-sell offer would see them
//! now (`related::suggest` over the stored records, no customer or order left out), with
//! each one's lift, support and why, and whether it could be offered now.

use std::collections::HashMap;

use stockbell_proto::v1 as pb;
use tonic::Status;

use super::admin::AdminApi;
use crate::domain::customer::Scenario;
use crate::domain::message::ItemContext;
use crate::domain::order::related::{suggest, CategoryBestSellers, Why};
use crate::domain::product::ProductState;
use crate::domain::worth::still_worth_sending;
use crate::domain::TriggerConfig;
use crate::store::records::Products;
use crate::store::related::{CategorySellers, OrderTotals, RelatedRecords};

impl AdminApi {
    pub(super) async fn related(&self, sku: String) -> Result<pb::RelatedProducts, Status> {
        if sku.is_empty() {
            return Err(Status::invalid_argument(
                "sku is empty; name the product whose related products to show",
            ));
        }
        let now = crate::clock::now_ms();
        let cfg = self.related;
        let key = sku.clone();
        let read = self
            .store
            .read(move |s| {
                let record = s.get::<RelatedRecords>(&key)?;
                let product = s.get::<Products>(&key)?;
                let total = s.get::<OrderTotals>(())?.unwrap_or_default();
                let cats: Vec<String> = product
                    .as_ref()
                    .map(|p| p.catalogue.category_ids.clone())
                    .unwrap_or_default();
                let sellers: Vec<CategoryBestSellers> = s
                    .multi_get::<CategorySellers>(cats.iter().map(String::as_str))?
                    .into_iter()
                    .flatten()
                    .collect();
                let refs: Vec<&CategoryBestSellers> = sellers.iter().collect();
                let found = suggest(&key, record.as_ref(), &refs, |_| false, now, &cfg);
                let skus: Vec<&str> = found.iter().map(|f| f.sku.as_str()).collect();
                let products: HashMap<String, ProductState> = skus
                    .iter()
                    .zip(s.multi_get::<Products>(skus.iter().copied())?)
                    .filter_map(|(k, p)| Some(((*k).to_owned(), p?)))
                    .collect();
                Ok((record, product.is_some(), total, found, products))
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        let (record, known, total, found, products) = read;
        if record.is_none() && !known {
            return Err(Status::not_found(format!(
                "no product {}: not in the catalogue and in no counted order",
                super::limits::echo(&sku)
            )));
        }
        let related = found
            .into_iter()
            .map(|s| {
                let p = products.get(&s.sku);
                view(s.sku, &s.why, p, &self.cfg, now)
            })
            .collect();
        Ok(pb::RelatedProducts {
            orders: record.as_ref().map_or(0.0, |r| r.orders_at(now, &cfg)),
            total_orders: total.at(now, &cfg),
            sku,
            related,
        })
    }
}

fn view(
    sku: String,
    why: &Why,
    p: Option<&ProductState>,
    triggers: &TriggerConfig,
    now: i64,
) -> pb::RelatedProduct {
    let item = ItemContext {
        sku: sku.clone(),
        ..ItemContext::default()
    };
    let offerable = still_worth_sending(Scenario::CrossSellOrder, &item, p, now, triggers).is_ok();
    let (source, score, lift, support) = match why {
        Why::CoBought { times, lift } => ("co_bought", *lift, *lift, *times),
        Why::CategoryBestSeller { orders, .. } => ("category_best_seller", *orders, 0.0, 0.0),
    };
    pb::RelatedProduct {
        title: p.map(|p| p.catalogue.title.clone()).unwrap_or_default(),
        sku,
        source: source.into(),
        score,
        lift,
        support,
        why: why.explain(),
        offerable,
        available: p.map_or(0, ProductState::available),
    }
}
