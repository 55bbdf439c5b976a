//! Overview view.

use crate::support::*;

#[test]
fn narrow() {
    let app = with_overview(connected());
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Overview 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs      ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            " events/s 1.0k  peak 1.0k                                   ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            " triggers/s 2  peak 2                                       ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            " sent/s 74  peak 74                                         ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            "outbox   pending 49 (due 7) · failed 3 · delivered 3.3k ·   ",
            "cancelled 1                                                 ",
            "latency  p50 420ms · p90 1.8s · p99 12s · max 1m01s (1.0k   ",
            "sent)                                                       ",
            "supp.    cap 400 · consent 300 · dedupe 50 · priority 50    ",
            "actors   products 140 · customers 2.3k · passivated 51      ",
            "store    1.5 GiB · fan-out waiting 2 · failing now 0/s ·    ",
            "rejected 0/s                                                ",
            "totals   events 1.2M · triggers 16 · queued 3.4k · sent 3.3k",
            "· failed 3                                                  ",
            "                                                            ",
            "Tab/1-7 views  q quit                                       ",
        ],
    );
}

#[test]
fn wide() {
    let app = with_overview(connected());
    let s = draw(&app, 120, 30);
    assert_row(
        &s,
        "● connected · health ok · stockbelld 0.1.0 · up 2h03m · 127.0.0.1:50051",
    );
    assert_row(&s, "┌ events/s 1.0k  peak 1.0k ────────────────────────────────┐┌ daemon ──────────────────────────────────────────────────┐");
    assert_row(&s, "│                                                ██████████││outbox   pending 49 (due 7) · failed 3 · delivered 3.3k · │");
    assert_row(&s, "│                                                ██████████││latency  p50 420ms · p90 1.8s · p99 12s · max 1m01s (1.0k │");
    assert_row(&s, "│▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆▆██████████││store    1.5 GiB · fan-out waiting 2 · failing now 0/s ·  │");
    assert_row(&s, "│                                                ██████████│┌ suppressed, all scenarios ───────────────────────────────┐");
    assert_row(&s, "│                                                ██████████││     400 cap                                              │");
    assert_row(&s, "│                                                ██████████││     300 consent                                          │");
    assert_row(&s, "│▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄▄██████████││      50 dedupe                                           │");
    assert_row(&s, "Tab/1-7 views  q quit");
}

#[test]
fn disconnected_narrow() {
    let app = disconnected();
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Overview 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs      ",
            "○ disconnected · retry in 1.5s (#4) · transport error: Conne",
            "waiting for the daemon…                                     ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "                                                            ",
            "no overview yet                                             ",
            "supp.    none                                               ",
            "                                                            ",
            "Tab/1-7 views  q quit                                       ",
        ],
    );
}

/// A channel that is down says since when, for how long, the next probe and the error.
#[test]
fn a_channel_down_narrow() {
    let app = with_email_down(with_overview(connected()));
    let s = draw(&app, 60, 20);
    assert_screen(
        &s,
        &[
            "1 Overview 2 Scen 3 Prod 4 Cust 5 Deli 6 Orders 7 Segs      ",
            "● connected · health ok · stockbelld 0.1.0 · up 2h03m       ",
            " events/s 1.0k  peak 1.0k                                   ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            " triggers/s 2  peak 2                                       ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            " sent/s 74  peak 74                                         ",
            "▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂▂██████████",
            "outbox   pending 49 (due 7) · failed 3 · delivered 3.3k ·   ",
            "cancelled 1                                                 ",
            "channels email down since 01-10 11:57:50 (2m10s) · next     ",
            "probe in 4.0s · SMTP: Connection refused (os error 111) ·   ",
            "line up                                                     ",
            "supp.    cap 400 · consent 300 · dedupe 50 · priority 50    ",
            "latency  p50 420ms · p90 1.8s · p99 12s · max 1m01s (1.0k   ",
            "sent)                                                       ",
            "actors   products 140 · customers 2.3k · passivated 51      ",
            "store    1.5 GiB · fan-out waiting 2 · failing now 0/s ·    ",
            "                                                            ",
            "Tab/1-7 views  q quit                                       ",
        ],
    );
}

#[test]
fn a_channel_down_wide() {
    let app = with_email_down(with_overview(connected()));
    let s = draw(&app, 120, 30);
    assert_row(&s, "│                                                ██████████││channels email down since 01-10 11:57:50 (2m10s) · next   │");
    assert_row(&s, "│                                                ██████████││probe in 4.0s · SMTP: Connection refused (os error 111) · │");
    assert_row(&s, "│                                                ██████████││line up                                                   │");
}
