//! `Admin.ExportSegment` and `stockbelld export-segment` against a real `stockbelld`:
//! 100,000 customers come back as one CSV (RFC 4180, CRLF, header row) in chunks of at
//! most 64 KiB, sorted by customer id, a formula-looking tag guarded with `'`; the CLI
//! writes the same bytes to a file; an unknown segment is NOT_FOUND and writes nothing.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use stockbell_tests::pb::event::Kind;
use stockbell_tests::pb::{CustomerUpsert, Event, ExportSegmentRequest, GetSegmentMetricsRequest};
use stockbell_tests::{
    poll_until, publish_ok, stockbelld_bin, AdminClient, Daemon, DaemonOptions, Sequencer,
};

const CUSTOMERS: usize = 100_000;
const BATCH: usize = 5_000;
const ADMIN_TOKEN: &str = "export-admin-0123456789";
const INGEST_TOKEN: &str = "export-ingest-0123456789";
/// The customer whose tags look like a formula.
const FORMULA: usize = 4_242;
const HEADER: [&str; 14] = [
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

fn id(i: usize) -> String {
    format!("cust-{i:06}")
}

fn upsert(i: usize) -> Event {
    let tags = if i == FORMULA {
        vec![
            "=HYPERLINK(\"http://evil.example\",\"x\")".into(),
            "vip".into(),
        ]
    } else {
        vec![format!("t{}", i % 7)]
    };
    Event {
        event_time_ms: 0,
        kind: Some(Kind::CustomerUpsert(CustomerUpsert {
            customer_id: id(i),
            email: format!("{}@example.jp", id(i)),
            locale: "en".into(),
            time_zone: "UTC".into(),
            consent_email: true,
            tags,
            subscribed: i.is_multiple_of(2),
            ..Default::default()
        })),
    }
}

/// RFC 4180 records ending in CRLF (quoted cells may hold `,`, `""` and line ends).
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>> {
    let (mut records, mut record, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                ensure!(
                    chars.next() == Some('\n'),
                    "a bare CR in record {}",
                    records.len()
                );
                record.push(std::mem::take(&mut cell));
                records.push(std::mem::take(&mut record));
            }
            (false, '\n') => anyhow::bail!("a bare LF in record {}", records.len()),
            (false, c) => cell.push(c),
        }
    }
    ensure!(
        !quoted && record.is_empty() && cell.is_empty(),
        "the last record is cut"
    );
    Ok(records)
}

async fn export(admin: &AdminClient, segment: &str) -> Result<Vec<Vec<u8>>, tonic::Status> {
    let mut stream = admin
        .clone()
        .export_segment(ExportSegmentRequest {
            segment: segment.into(),
        })
        .await?
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(c) = stream.message().await? {
        chunks.push(c.data);
    }
    Ok(chunks)
}

async fn started() -> Result<Daemon> {
    let daemon = Daemon::start(DaemonOptions::new().auth(INGEST_TOKEN, ADMIN_TOKEN)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("export-test");
    for start in (0..CUSTOMERS).step_by(BATCH) {
        let events = (start..(start + BATCH).min(CUSTOMERS))
            .map(upsert)
            .collect();
        publish_ok(&mut ingest, seq.batch(events)).await?;
    }
    let admin = daemon.admin_client().await?;
    poll_until(Duration::from_secs(120), || {
        let mut admin = admin.clone();
        async move {
            let m = admin
                .get_segment_metrics(GetSegmentMetricsRequest {
                    segment: String::new(),
                })
                .await?
                .into_inner();
            ensure!(m.size == CUSTOMERS as u64, "{} customers so far", m.size);
            Ok(())
        }
    })
    .await?;
    Ok(daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_customer_exports_as_csv_and_the_cli_writes_the_same_file() -> Result<()> {
    let daemon = started().await?;
    let admin = daemon.admin_client().await?;

    let t0 = std::time::Instant::now();
    let chunks = export(&admin, "").await?;
    let streamed = t0.elapsed();
    ensure!(
        chunks.iter().all(|c| !c.is_empty() && c.len() <= 64 * 1024),
        "chunk sizes {:?}",
        chunks.iter().map(Vec::len).max()
    );
    let csv_bytes = chunks.concat();
    eprintln!(
        "ExportSegment: {CUSTOMERS} rows, {} bytes, {} chunks in {streamed:?}",
        csv_bytes.len(),
        chunks.len()
    );
    ensure!(csv_bytes.ends_with(b"\r\n"), "the file ends in CRLF");

    let text = String::from_utf8(csv_bytes.clone()).context("the CSV is UTF-8")?;
    let mut records = parse_csv(&text)?.into_iter();
    let header = records.next().context("no header")?;
    ensure!(header == HEADER, "header {header:?}");
    let mut n = 0;
    for (i, rec) in records.enumerate() {
        ensure!(rec.len() == HEADER.len(), "record {i}: {} cells", rec.len());
        // Sorted by customer id, every customer once.
        ensure!(rec[0] == id(i), "record {i} is {}", &rec[0]);
        ensure!(
            rec[1] == format!("{}@example.jp", id(i)),
            "email {}",
            &rec[1]
        );
        ensure!(&rec[2] == "0" && &rec[3] == "0", "no orders: {rec:?}");
        ensure!(
            rec[4].is_empty() && rec[6].is_empty(),
            "no order dates or means: {rec:?}"
        );
        // (The value itself is the aggregates' part, tested with them.)
        ensure!(
            &rec[9] == "true" || &rec[9] == "false",
            "subscribed {rec:?}"
        );
        let tags = if i == FORMULA {
            "'=HYPERLINK(\"http://evil.example\",\"x\");vip".to_owned()
        } else {
            format!("t{}", i % 7)
        };
        ensure!(rec[10] == tags, "tags of {}: {:?}", id(i), &rec[10]);
        ensure!(&rec[11] == "en" && &rec[12] == "UTC", "{rec:?}");
        n += 1;
    }
    ensure!(n == CUSTOMERS, "{n} rows");

    // The CLI, with the token from the environment: the same bytes, atomically.
    let out = daemon.dir().join("all.csv");
    let t1 = std::time::Instant::now();
    let res = tokio::process::Command::new(stockbelld_bin()?)
        .args(["export-segment", "--segment", "", "--out"])
        .arg(&out)
        .args(["--admin", &daemon.addr().to_string()])
        .env("STOCKBELL_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("STOCKBELL_ADDR")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&res.stdout);
    eprintln!("export-segment: {} in {:?}", stdout.trim(), t1.elapsed());
    ensure!(
        res.status.success(),
        "export-segment failed: {stdout} {}",
        String::from_utf8_lossy(&res.stderr)
    );
    ensure!(
        stdout.starts_with(&format!("{CUSTOMERS} rows, {} bytes", csv_bytes.len())),
        "stdout {stdout:?}"
    );
    let written = std::fs::read(&out)?;
    ensure!(
        written == csv_bytes,
        "the CLI's file differs from the stream"
    );
    let leftovers: Vec<_> = std::fs::read_dir(daemon.dir())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    ensure!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_segment_is_not_found_and_writes_nothing() -> Result<()> {
    let daemon = Daemon::start(DaemonOptions::new().auth(INGEST_TOKEN, ADMIN_TOKEN)).await?;
    let admin = daemon.admin_client().await?;
    let err = export(&admin, "no-such-segment")
        .await
        .err()
        .context("an unknown segment exported")?;
    ensure!(err.code() == tonic::Code::NotFound, "{err:?}");
    ensure!(err.message().contains("no-such-segment"), "{err:?}");

    let out = daemon.dir().join("none.csv");
    let res = tokio::process::Command::new(stockbelld_bin()?)
        .args(["export-segment", "--segment", "no-such-segment", "--out"])
        .arg(&out)
        .args(["--admin", &daemon.addr().to_string()])
        .args(["--token", ADMIN_TOKEN])
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&res.stderr);
    ensure!(!res.status.success(), "exit {:?}", res.status);
    ensure!(stderr.contains("no-such-segment"), "stderr {stderr:?}");
    ensure!(!out.exists(), "a file was written for an unknown segment");
    let leftovers = std::fs::read_dir(daemon.dir())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .count();
    ensure!(leftovers == 0, "temporary files left");
    Ok(())
}
