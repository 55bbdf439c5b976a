//! Win-back and birthday against a real daemon and a real SMTP server. Lapses happen in
//! seconds: orders carry event times a few minutes in the past, `[win_back]
//! min_interval` is 1 s, so a customer whose orders came 100 s apart has lapsed 150 s
//! after the last one — already, when the order arrives. The birthday goes at 00:00
//! local, so a customer whose local date is their birthday gets it at once.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use chrono::{DateTime, Datelike, NaiveDate};
use stockbell_tests::pb::{CustomerUpsert, Event, GetRelatedRequest, ProductUpsert};
use stockbell_tests::{
    catalog, customer_upsert, customer_view, now_ms, order_placed, poll_until, publish_ok,
    scenario_stats, shopper, stock_set, upsert, AdminClient, Daemon, DaemonOptions, ReceivedMail,
    Sequencer, SmtpServer,
};

const WAIT: Duration = Duration::from_secs(40);

fn options(smtp: &SmtpServer) -> DaemonOptions {
    DaemonOptions::new()
        .toml(&smtp.email_toml())
        .toml(
            r#"
[win_back]
min_interval = "1s"
[birthday]
send_at = "00:00"
coupon_code = "HBD-GIFT"
[scenarios.win_back]
cooldown = "1s"
[scenarios.cross_sell_order]
enabled = false
[scenarios.cross_sell_delivery]
enabled = false
[[rules.caps]]
scope = "marketing"
max = 20
window = "1h"
"#,
        )
        .set("customers", "default_time_zone", "UTC")
        .set("rules", "arbitration_window", "0s")
        .set("rules", "quiet_start", "00:00")
        .set("rules", "quiet_end", "00:00")
}

fn mails_to<'a>(mails: &'a [ReceivedMail], who: &str, marker: &str) -> Vec<&'a ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.starts_with(&format!("{who}@"))))
        .filter(|m| m.text().contains(marker))
        .collect()
}

const WIN_BACK: &str = "It has been a while";
const BIRTHDAY: &str = "Happy birthday";

/// An order placed at `at_ms` (its event time).
fn order_ago(order_id: &str, customer_id: &str, sku: &str, at_ms: i64) -> Event {
    Event {
        event_time_ms: at_ms,
        ..order_placed(order_id, customer_id, &[("1", sku, 1)])
    }
}

/// A shopper (English, email consent) in `time_zone` with a birthday.
fn with_birthday(id: &str, time_zone: &str, birthday: &str) -> Event {
    customer_upsert(CustomerUpsert {
        customer_id: id.into(),
        email: format!("{id}@example.jp"),
        locale: "en".into(),
        time_zone: time_zone.into(),
        consent_email: true,
        birthday: birthday.into(),
        ..Default::default()
    })
}

/// The local date at `at_ms` in a zone with a fixed offset (no daylight saving).
fn local_date(at_ms: i64, offset_hours: i64) -> Result<NaiveDate> {
    DateTime::from_timestamp_millis(at_ms + offset_hours * 3_600_000)
        .map(|d| d.date_naive())
        .context("a time chrono can show")
}

async fn queued(admin: &AdminClient, scenario: &str) -> Result<u64> {
    Ok(scenario_stats(admin, scenario).await?.queued)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn win_back_fires_once_per_lapse_and_again_after_a_new_order() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new("shop");

    // Shirts A, B, C (the lapser buys A); G is garden, a category they never buy.
    let mut setup = Vec::new();
    for (sku, category) in [
        ("A", "shirts"),
        ("B", "shirts"),
        ("C", "shirts"),
        ("G", "garden"),
    ] {
        let p = ProductUpsert {
            imported: true,
            category_ids: vec![category.into()],
            ..catalog(sku, 1_000)
        };
        setup.extend([upsert(p), stock_set(sku, 50)]);
    }
    for c in ["s1", "s2", "lapser"] {
        setup.push(shopper(c));
    }
    publish_ok(&mut ingest, seq.batch(setup)).await?;
    // Other customers make B, C and G best sellers of their categories.
    let basket = [("1", "B", 1), ("2", "C", 1), ("3", "G", 1)];
    let seeds = vec![
        order_placed("o-s1", "s1", &basket),
        order_placed("o-s2", "s2", &basket),
    ];
    publish_ok(&mut ingest, seq.batch(seeds)).await?;
    poll_until(WAIT, || async {
        let r = admin
            .clone()
            .get_related(GetRelatedRequest { sku: "B".into() })
            .await?
            .into_inner();
        ensure!(r.orders > 1.99, "B counted in {} orders", r.orders);
        Ok(())
    })
    .await?;

    // Two orders 100 s apart, the last 200 s ago: lapsed 150 s after it, 50 s ago.
    let t0 = now_ms();
    let (first, second) = (t0 - 300_000, t0 - 200_000);
    let orders = vec![
        order_ago("o-1", "lapser", "A", first),
        order_ago("o-2", "lapser", "A", second),
    ];
    publish_ok(&mut ingest, seq.batch(orders)).await?;
    poll_until(WAIT, || async {
        let n = mails_to(&smtp.messages(), "lapser", WIN_BACK).len();
        ensure!(n == 1, "{n} win-back messages");
        Ok(())
    })
    .await?;
    let mails = smtp.messages();
    let text = mails_to(&mails, "lapser", WIN_BACK)[0].text();
    ensure!(
        text.contains("Product B") && text.contains("Product C"),
        "the win-back shows the in-stock best sellers of the customer's category: {text}"
    );
    ensure!(
        !text.contains("Product A") && !text.contains("Product G"),
        "a bought product or another category's offered: {text}"
    );
    let view = customer_view(&admin, "lapser").await?;
    let lapse = view.lapse.context("GetCustomer shows the lapse")?;
    ensure!(lapse.median_interval_ms == 100_000, "{lapse:?}");
    ensure!(
        lapse.win_back_sent_for_ms == second && lapse.next_win_back_ms == 0,
        "this lapse had its win-back: {lapse:?}"
    );

    // A second lapse tick: a birthday today (UTC) makes the lapse timer fire again. The
    // birthday arrives; the win-back of the same lapse does not go again.
    let today = local_date(now_ms(), 0)?;
    let bday = format!("{:02}-{:02}", today.month(), today.day());
    publish_ok(
        &mut ingest,
        seq.batch(vec![with_birthday("lapser", "UTC", &bday)]),
    )
    .await?;
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        ensure!(
            !mails_to(&mails, "lapser", BIRTHDAY).is_empty(),
            "no birthday message yet"
        );
        Ok(())
    })
    .await?;
    let mails = smtp.messages();
    ensure!(
        mails_to(&mails, "lapser", WIN_BACK).len() == 1,
        "the win-back went twice in one lapse"
    );
    ensure!(
        queued(&admin, "win_back").await? == 1,
        "one win-back queued"
    );

    // A new order starts a new lapse (intervals 100 s and 60 s: median 80 s, lapsed
    // 120 s after it, i.e. 20 s after t0 — after the first win-back was decided, so no
    // cooldown holds it): a second win-back.
    let third = t0 - 140_000;
    publish_ok(
        &mut ingest,
        seq.batch(vec![order_ago("o-3", "lapser", "A", third)]),
    )
    .await?;
    poll_until(WAIT, || async {
        let n = mails_to(&smtp.messages(), "lapser", WIN_BACK).len();
        ensure!(n == 2, "{n} win-back messages");
        Ok(())
    })
    .await?;
    let lapse = customer_view(&admin, "lapser")
        .await?
        .lapse
        .context("lapse")?;
    ensure!(
        lapse.median_interval_ms == 80_000 && lapse.win_back_sent_for_ms == third,
        "{lapse:?}"
    );
    ensure!(
        mails_to(&smtp.messages(), "lapser", BIRTHDAY).len() == 1,
        "the birthday went twice in one year"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birthday_on_the_day_in_the_customers_zone() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let admin = daemon.admin_client().await?;
    let mut seq = Sequencer::new("shop");

    // Kiritimati is UTC+14 and Pago Pago UTC−11 (neither has daylight saving): the
    // same instant is always a later date in Kiritimati. Both have Kiritimati's today
    // as their birthday: it is the day for "east", not yet for "west".
    let now = now_ms();
    let east_today = local_date(now, 14)?;
    let west_today = local_date(now, -11)?;
    ensure!(west_today < east_today, "{west_today} / {east_today}");
    let bday = format!("--{:02}-{:02}", east_today.month(), east_today.day());
    let upserts = vec![
        with_birthday("west", "Pacific/Pago_Pago", &bday),
        with_birthday("east", "Pacific/Kiritimati", &bday),
    ];
    publish_ok(&mut ingest, seq.batch(upserts)).await?;
    poll_until(WAIT, || async {
        let mails = smtp.messages();
        ensure!(
            !mails_to(&mails, "east", BIRTHDAY).is_empty(),
            "no birthday message to east yet"
        );
        Ok(())
    })
    .await?;
    let mails = smtp.messages();
    let text = mails_to(&mails, "east", BIRTHDAY)[0].text();
    ensure!(text.contains("HBD-GIFT"), "the coupon: {text}");
    let east = customer_view(&admin, "east").await?.lapse.context("east")?;
    ensure!(
        east.birthday == format!("{:02}-{:02}", east_today.month(), east_today.day())
            && east.birthday_sent_year == east_today.year(),
        "{east:?}"
    );

    // West: the daemon has placed the birthday on west's own calendar — at 00:00 in
    // Pago Pago on that date, still ahead — and sent nothing.
    let west = customer_view(&admin, "west").await?.lapse.context("west")?;
    let expected = east_today
        .and_hms_opt(11, 0, 0)
        .context("11:00 UTC is 00:00 in Pago Pago")?
        .and_utc()
        .timestamp_millis();
    ensure!(
        west.next_birthday_ms == expected && west.birthday_sent_year == 0,
        "west's birthday is {east_today} 00:00 local ({expected}): {west:?}"
    );
    ensure!(west.next_birthday_ms > now_ms(), "{west:?}");
    ensure!(
        mails_to(&smtp.messages(), "west", BIRTHDAY).is_empty(),
        "a birthday message before the day in the customer's zone"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_birthday_is_refused_naming_the_field() -> Result<()> {
    let smtp = SmtpServer::start(None).await?;
    let daemon = Daemon::start(options(&smtp)).await?;
    let mut ingest = daemon.ingest_client().await?;
    let mut seq = Sequencer::new("shop");
    let ack = stockbell_tests::publish(
        &mut ingest,
        seq.batch(vec![with_birthday("c1", "UTC", "1990-02-30")]),
    )
    .await?;
    let r = ack.rejected.first().context("refused")?;
    ensure!(
        r.field == "customer_upsert.birthday" && r.reason.contains("MM-DD"),
        "{r:?}"
    );
    // Nothing changed: no customer was made.
    let err = customer_view(&daemon.admin_client().await?, "c1").await;
    ensure!(err.is_err(), "a refused upsert made a customer");
    Ok(())
}
