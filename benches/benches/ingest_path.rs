//! Cost of each step an ingested event goes through, to see where the daemon's time per
//! event goes (BENCHMARKS.md): the pure rule, the state encoding, one ProductActor round
//! trip, and one group-commit write of a batch's product states.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ractor::Actor;
use stockbelld::actors::product::{Item, ProductActor, ProductArgs, ProductMsg};
use stockbelld::domain::product::{apply, Effects, ProductState};
use stockbelld::domain::{Catalogue, ProductEvent, TriggerConfig};
use stockbelld::store::records::Products;
use stockbelld::store::writer::Writer;
use stockbelld::store::{Batch, Encoded, Store};

const T0: i64 = 1_700_000_000_000;

fn product(cfg: &TriggerConfig) -> Option<ProductState> {
    let mut st = None;
    let catalogue = Catalogue {
        title: "Linen shirt, relaxed fit".into(),
        url: "https://shop.example/p/sku-000123".into(),
        image_url: "https://shop.example/img/sku-000123.jpg".into(),
        category_ids: vec!["shirts".into(), "linen".into()],
        currency: "JPY".into(),
        ..Catalogue::default()
    };
    let mut fx = Effects::default();
    let up = ProductEvent::Upsert {
        catalogue,
        price_minor: 4980,
        imported: true,
    };
    let _ = apply(&mut st, "sku-000123", &up, T0, cfg, &mut fx);
    let _ = apply(
        &mut st,
        "sku-000123",
        &ProductEvent::StockSet {
            quantity: 1_000_000,
        },
        T0,
        cfg,
        &mut fx,
    );
    st
}

fn rules(c: &mut Criterion) {
    let cfg = TriggerConfig::default();
    let mut g = c.benchmark_group("per_event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("domain_apply_sale", |b| {
        let mut st = product(&cfg);
        let mut t = T0;
        b.iter(|| {
            t += 1000;
            let mut fx = Effects::default();
            let _ = apply(
                &mut st,
                "sku-000123",
                &ProductEvent::Sale { quantity: 1 },
                t,
                &cfg,
                &mut fx,
            );
            fx
        })
    });
    g.bench_function("encode_product_state", |b| {
        let st = product(&cfg);
        b.iter(|| st.as_ref().map(Encoded::<Products>::new))
    });
    g.finish();

    // What the Router does per batch: one Apply to each of 500 product actors, then await
    // all replies. Reported per product message.
    let mut g = c.benchmark_group("per_product_message");
    g.throughput(Throughput::Elements(500));
    g.bench_function("actor_fan_out_500", |b| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let actors = rt.block_on(async {
            let mut v = Vec::new();
            for i in 0..500 {
                let args = ProductArgs {
                    sku: format!("sku-{i:06}"),
                    state: product(&cfg),
                    cfg: Arc::new(cfg.clone()),
                };
                v.push(
                    Actor::spawn(None, ProductActor, args)
                        .await
                        .expect("spawn")
                        .0,
                );
            }
            v
        });
        let mut t = T0;
        b.iter(|| {
            t += 1000;
            rt.block_on(async {
                let mut replies = Vec::with_capacity(actors.len());
                for a in &actors {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let items = vec![Item {
                        index: 0,
                        at_ms: t,
                        event: ProductEvent::Sale { quantity: 1 },
                    }];
                    let _ = a.cast(ProductMsg::Apply {
                        items,
                        reply: tx.into(),
                    });
                    replies.push(rx);
                }
                let mut applied = 0;
                for rx in replies {
                    applied += rx.await.map_or(0, |a| a.applied.len());
                }
                applied
            })
        });
        for a in actors {
            a.stop(None);
        }
    });
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (writer, _thread) = Writer::start(store, false);
    let cfg = TriggerConfig::default();
    let Some(value) = product(&cfg).as_ref().map(Encoded::<Products>::new) else {
        return;
    };
    let mut g = c.benchmark_group("per_batch_of_500");
    g.throughput(Throughput::Elements(500));
    let n = std::cell::Cell::new(0u64);
    g.bench_function("write_500_product_states", |b| {
        b.iter_batched(
            || {
                let mut batch = Batch::default();
                for i in 0..500 {
                    let sku = format!("sku-{:06}", (n.get() * 500 + i) % 100_000);
                    batch.put_encoded::<Products>(&sku, value.clone());
                }
                n.set(n.get() + 1);
                batch
            },
            |batch| rt.block_on(writer.write(batch, n.get())),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, rules, group_commit);
criterion_main!(benches);
