//! Catching up with the daemon on (re)connect: the producer's last applied sequence
//! (`Admin.GetProducer`), every product's stock, price and display window
//! (`Admin.GetProduct`, 16 at a time), the new arrivals an earlier run added, and whether
//! the customers were loaded (the last one exists). Orders an earlier run left on the
//! products' books are cancelled (`orders.rs`). So a restarted demo continues the
//! same shop instead of loading it again or being refused as a replay.

use anyhow::Result;
use futures::StreamExt;
use stockbell_proto::v1::{
    admin_client::AdminClient, GetCustomerRequest, GetProducerRequest, GetProductRequest,
};
use tonic::transport::Channel;
use tonic::Code;

use super::driver::{status_error, MAX_MESSAGE_BYTES, PRODUCER};
use super::shop::Shop;
use super::{catalog, people};

/// What a (re)connect found still to be sent.
pub struct Catchup {
    pub next_sequence: u64,
    pub missing_products: Vec<usize>,
    pub customers: bool,
}

/// Lines the shop up with the daemon: the sequence to continue from and, when the daemon
/// has seen this producer before, every product's stock and price.
pub async fn catch_up(channel: &Channel, shop: &mut Shop, now_ms: i64) -> Result<Catchup> {
    let mut admin = AdminClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES);
    let last = admin
        .get_producer(GetProducerRequest {
            producer_id: PRODUCER.into(),
        })
        .await
        .map_err(|s| status_error("Admin.GetProducer", &s))?
        .into_inner()
        .last_sequence;
    let all: Vec<usize> = (0..shop.products().len()).collect();
    if last == 0 {
        return Ok(Catchup {
            next_sequence: 1,
            missing_products: all,
            customers: true,
        });
    }
    let lookups = all.into_iter().map(|i| {
        let sku = shop.products()[i].spec.sku.clone();
        let mut admin = admin.clone();
        async move { (i, admin.get_product(GetProductRequest { sku }).await) }
    });
    let found: Vec<_> = futures::stream::iter(lookups)
        .buffer_unordered(16)
        .collect()
        .await;
    let mut missing = Vec::new();
    for (i, r) in found {
        match r {
            Ok(p) => {
                let p = p.into_inner();
                let from = p.display_window.map_or(0, |w| w.start_ms);
                shop.restore(i, p.stock, p.price_minor, from, now_ms);
                // This run does not know the orders an earlier run left waiting.
                for l in p.backorders.iter().flat_map(|b| &b.lines) {
                    shop.orders
                        .forget(l.order_id.clone(), l.customer_id.clone());
                }
            }
            Err(s) if s.code() == Code::NotFound => missing.push(i),
            Err(s) => return Err(status_error("Admin.GetProduct", &s)),
        }
    }
    missing.sort_unstable();
    // New arrivals an earlier run added, in order, until the first it did not.
    loop {
        let sku = catalog::arrival(shop.seed, shop.arrivals()).sku;
        match admin.get_product(GetProductRequest { sku }).await {
            Ok(p) => {
                let p = p.into_inner();
                let from = p.display_window.map_or(0, |w| w.start_ms);
                shop.restore_arrival(p.stock, p.price_minor, from, now_ms);
            }
            Err(s) if s.code() == Code::NotFound => break,
            Err(s) => return Err(status_error("Admin.GetProduct", &s)),
        }
    }
    // Customers were loaded in order after the catalogue: the last one means all.
    let last_customer = people::customer_id(shop.customers_len().saturating_sub(1));
    let customers = match admin
        .get_customer(GetCustomerRequest {
            customer_id: last_customer,
            email: String::new(),
        })
        .await
    {
        Ok(_) => false,
        Err(s) if s.code() == Code::NotFound => true,
        Err(s) => return Err(status_error("Admin.GetCustomer", &s)),
    };
    Ok(Catchup {
        next_sequence: last + 1,
        missing_products: missing,
        customers,
    })
}
