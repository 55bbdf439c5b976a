use super::*;

const H: Millis = HOUR_MS;

fn policy(min_volume: u64) -> PausePolicy {
    PausePolicy {
        min_volume,
        ..PausePolicy::default()
    }
}

fn deliver(book: &mut RateBook, n: u64, at: Millis, p: &PausePolicy) {
    for _ in 0..n {
        assert_eq!(
            book.record(
                Scenario::BackInStock,
                "shop.example",
                Event::Delivered,
                at,
                p
            ),
            None
        );
    }
}

#[test]
fn rates_are_per_delivered_and_per_attempted() {
    let c = DayCounts {
        delivered: 980,
        hard_bounces: 20,
        complaints: 1,
    };
    assert!((c.complaint_rate() - 1.0 / 980.0).abs() < 1e-12);
    assert!((c.hard_bounce_rate() - 0.02).abs() < 1e-12);
    assert_eq!(DayCounts::default().complaint_rate(), 0.0);
}

#[test]
fn a_complaint_rate_past_the_limit_pauses_only_with_enough_volume() {
    let p = policy(1_000);
    let mut book = RateBook::default();
    // 1 complaint in 3 sends: far past 0.1 %, but too few messages to judge.
    deliver(&mut book, 3, 0, &p);
    let s = Scenario::BackInStock;
    assert_eq!(
        book.record(s, "shop.example", Event::Complaint, 1, &p),
        None
    );
    // 1 in 1,003 is under 0.1 %: no pause.
    deliver(&mut book, 1_000, 2, &p);
    assert_eq!(book.paused(s), None);
    // 2 in 1,003 is over it.
    let pause = book
        .record(s, "shop.example", Event::Complaint, 3, &p)
        .expect("paused");
    assert!(pause.why.contains("complaint rate"), "{}", pause.why);
    assert_eq!(book.paused(s).map(|p| p.since_ms), Some(3));
    // Other scenarios are not paused; a resume lifts it.
    assert_eq!(book.paused(Scenario::PriceDrop), None);
    assert!(book.resume(s));
    assert!(!book.resume(s));
}

#[test]
fn hard_bounces_pause_at_two_percent() {
    let p = policy(100);
    let mut book = RateBook::default();
    deliver(&mut book, 98, 0, &p);
    let s = Scenario::BackInStock;
    assert_eq!(
        book.record(s, "shop.example", Event::HardBounce, 1, &p),
        None
    );
    // 2 of 100 = 2 %: not past it.
    assert_eq!(
        book.record(s, "shop.example", Event::HardBounce, 2, &p),
        None
    );
    let pause = book.record(s, "shop.example", Event::HardBounce, 3, &p);
    assert!(pause.is_some_and(|p| p.why.contains("hard-bounce")));
}

#[test]
fn counts_older_than_a_day_drop_out() {
    let p = policy(1);
    let mut book = RateBook::default();
    let s = Scenario::BackInStock;
    deliver(&mut book, 10, 0, &p);
    deliver(&mut book, 5, 23 * H, &p);
    assert_eq!(book.day(s, "shop.example", 23 * H).delivered, 15);
    assert_eq!(book.day(s, "shop.example", 24 * H).delivered, 5);
    assert_eq!(book.day(s, "shop.example", 47 * H).delivered, 0);
    // Domains are apart.
    book.record(s, "other.example", Event::Delivered, 23 * H, &p);
    let domains = book.domains(s, 23 * H);
    assert_eq!(domains.len(), 2, "{domains:?}");
}
