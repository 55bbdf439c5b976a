//! Hostile input against a real daemon: requests that are not valid protobuf (garbage
//! bytes, invalid UTF-8 in a string field, unknown groups nested 100,000 deep) are
//! answered INVALID_ARGUMENT naming the expected `stockbell.v1` message, on Publish, on
//! Stream and on the Admin service, and change nothing; error messages echo a huge value
//! only as a short prefix, so a 1 MiB SKU never comes back whole.

use anyhow::{anyhow, ensure, Context, Result};
use prost::bytes::{Buf, BufMut};
use prost::Message;
use stockbell_tests::pb::{
    event::Kind, Ack, CustomerUpsert, Event, EventBatch, GetCustomerRequest, GetProductRequest,
    ProductUpsert, Purchase, PurchaseItem,
};
use stockbell_tests::{
    batch, catalog, expect_code, last_sequence, next_ack, product, publish, publish_ok, stock_set,
    upsert, Daemon, DaemonOptions,
};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Sends and receives message bodies as raw bytes, so a test can put anything on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[derive(Debug, Clone, Copy, Default)]
struct Raw;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// The undecodable bodies, by what is wrong with them.
fn garbage() -> Vec<(&'static str, Vec<u8>)> {
    // Field 1 (a string in every request below) holding "\xC3(": not UTF-8.
    let bad_utf8 = vec![0x0A, 0x02, 0xC3, 0x28];
    // Field 99 as a group, opened 100,000 times and never closed.
    let start_group = [0x9B, 0x06]; // (99 << 3) | 3, as a varint
    let deep: Vec<u8> = start_group.repeat(100_000);
    vec![
        ("garbage bytes", vec![0xFF; 32]),
        ("invalid UTF-8 in a string field", bad_utf8),
        ("unknown groups nested 100,000 deep", deep),
    ]
}

async fn raw_unary(
    channel: &Channel,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    grpc.unary(
        Request::new(body),
        PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(|r| r.into_inner())
}

/// The status `check` expects for an undecodable `message`: INVALID_ARGUMENT, saying
/// which message the request should have been.
fn is_not_a_valid(status: &Status, message: &str) -> Result<()> {
    ensure!(
        status.code() == Code::InvalidArgument,
        "want INVALID_ARGUMENT, got {:?}: {}",
        status.code(),
        status.message()
    );
    let name = format!("stockbell.v1.{message}");
    ensure!(
        status.message().contains(&name),
        "the message does not name {name}: {:?}",
        status.message()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_requests_are_invalid_argument_and_change_nothing() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let channel = daemon.channel().await?;
    let mut admin = daemon.admin_client().await?;
    const P: &str = "hostile";

    for (what, body) in garbage() {
        let r = raw_unary(&channel, "/stockbell.v1.Ingest/Publish", body.clone()).await;
        let s = r
            .err()
            .with_context(|| format!("Publish, {what}: accepted"))?;
        is_not_a_valid(&s, "EventBatch").map_err(|e| anyhow!("Publish, {what}: {e}"))?;

        let r = raw_unary(&channel, "/stockbell.v1.Admin/GetProduct", body.clone()).await;
        let s = r
            .err()
            .with_context(|| format!("GetProduct, {what}: accepted"))?;
        is_not_a_valid(&s, "GetProductRequest").map_err(|e| anyhow!("GetProduct, {what}: {e}"))?;

        let r = raw_unary(&channel, "/stockbell.v1.Admin/GetCustomer", body.clone()).await;
        let s = r
            .err()
            .with_context(|| format!("GetCustomer, {what}: accepted"))?;
        is_not_a_valid(&s, "GetCustomerRequest")
            .map_err(|e| anyhow!("GetCustomer, {what}: {e}"))?;

        // On a stream: the good batch before it is acked, then the stream ends with the
        // decode error (and nothing after it is read).
        let seq = last_sequence(&mut admin, P).await? + 1;
        let good = batch(
            P,
            seq,
            vec![upsert(catalog("h-a", 100)), stock_set("h-a", 1)],
        );
        let frames = vec![good.encode_to_vec(), body];
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.context("stream: not ready")?;
        let mut acks = grpc
            .streaming(
                Request::new(tokio_stream::iter(frames)),
                PathAndQuery::from_static("/stockbell.v1.Ingest/Stream"),
                RawCodec,
            )
            .await
            .map_err(|s| anyhow!("Stream, {what}: {} {}", s.code(), s.message()))?
            .into_inner();
        let first = acks
            .message()
            .await
            .map_err(|s| anyhow!("Stream, {what}: first ack: {} {}", s.code(), s.message()))?
            .with_context(|| format!("Stream, {what}: no ack for the good batch"))?;
        let first = Ack::decode(first.as_slice())?;
        ensure!(
            first.sequence == seq && first.applied == 2 && first.batch_error.is_empty(),
            "Stream, {what}: {first:?}"
        );
        let end = acks.message().await;
        let s = end
            .err()
            .with_context(|| format!("Stream, {what}: ended without an error"))?;
        is_not_a_valid(&s, "EventBatch").map_err(|e| anyhow!("Stream, {what}: {e}"))?;
    }

    // Only the good stream batches applied; the daemon still takes ordinary work.
    let seq = last_sequence(&mut admin, P).await?;
    ensure!(seq == 3, "last sequence {seq}, want 3 (one per good batch)");
    let mut ingest = daemon.ingest_client().await?;
    publish_ok(&mut ingest, batch(P, 4, vec![stock_set("h-a", 7)])).await?;
    ensure!(product(&mut admin, "h-a").await?.stock == 7, "stock of h-a");
    Ok(())
}

const MIB: usize = 1 << 20;
/// The longest reason or status message a test accepts for a 1 MiB value.
const SHORT: usize = 400;

fn short_and_clipped(what: &str, text: &str) -> Result<()> {
    ensure!(
        text.len() <= SHORT,
        "{what}: {} bytes echoed: {}…",
        text.len(),
        text.chars().take(120).collect::<String>()
    );
    ensure!(
        text.contains(&format!("({MIB} bytes)")),
        "{what}: does not say how long the value was: {text:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_are_echoed_as_a_short_prefix() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new()).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut admin = daemon.admin_client().await?;
    let huge = "ｘ".repeat(MIB / 3) + "x";
    ensure!(huge.len() == MIB);

    let event = |kind| Event {
        event_time_ms: 0,
        kind: Some(kind),
    };
    let cases = [
        (
            "product_upsert.currency",
            upsert(ProductUpsert {
                currency: huge.clone(),
                ..catalog("e-a", 100)
            }),
        ),
        (
            "customer_upsert.email",
            event(Kind::CustomerUpsert(CustomerUpsert {
                customer_id: "c-1".into(),
                email: huge.clone(),
                ..Default::default()
            })),
        ),
        (
            "customer_upsert.locale",
            event(Kind::CustomerUpsert(CustomerUpsert {
                customer_id: "c-1".into(),
                locale: huge.clone(),
                ..Default::default()
            })),
        ),
        (
            "customer_upsert.time_zone",
            event(Kind::CustomerUpsert(CustomerUpsert {
                customer_id: "c-1".into(),
                time_zone: huge.clone(),
                ..Default::default()
            })),
        ),
        (
            "purchase.items.quantity",
            event(Kind::Purchase(Purchase {
                customer_id: "c-1".into(),
                items: vec![PurchaseItem {
                    sku: huge.clone(),
                    quantity: 0,
                    amount_minor: 0,
                }],
                ..Default::default()
            })),
        ),
    ];
    for (i, (field, ev)) in cases.into_iter().enumerate() {
        let ack = publish(&mut ingest, batch("echo", i as u64 + 1, vec![ev])).await?;
        let r = ack
            .rejected
            .first()
            .with_context(|| format!("{field}: not rejected: applied {}", ack.applied))?;
        ensure!(r.field == field, "{field}: rejected as {:?}", r.field);
        short_and_clipped(field, &r.reason)?;
    }

    // Status messages of the Admin service too (a 1 MiB one broke grpcio's client).
    let s = expect_code(
        admin
            .get_product(GetProductRequest { sku: huge.clone() })
            .await,
        &[Code::NotFound, Code::InvalidArgument],
    )?;
    short_and_clipped("GetProduct", s.message())?;
    let s = expect_code(
        admin
            .get_customer(GetCustomerRequest {
                customer_id: huge.clone(),
                ..Default::default()
            })
            .await,
        &[Code::NotFound, Code::InvalidArgument],
    )?;
    short_and_clipped("GetCustomer", s.message())?;

    // A refused stream batch does not hand its 1 MiB producer id back either.
    let refused = EventBatch {
        producer_id: huge.clone(),
        sequence: 1,
        events: vec![stock_set("e-a", 1)],
    };
    let mut acks = ingest
        .stream(tokio_stream::iter(vec![refused]))
        .await
        .map_err(|s| anyhow!("Stream: {} {}", s.code(), s.message()))?
        .into_inner();
    let ack = next_ack(&mut acks).await?;
    ensure!(!ack.batch_error.is_empty(), "{:?}", ack.batch_error);
    short_and_clipped("Ack.producer_id", &ack.producer_id)?;
    Ok(())
}
