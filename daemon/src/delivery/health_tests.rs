//! The channel health state machine, step by step with explicit times.

use super::*;

const P: ProbePolicy = ProbePolicy {
    base_ms: 100,
    max_ms: 1_000,
};

fn down(e: &str) -> Outcome {
    Outcome::Down(e.into())
}

fn regular(started_ms: Millis) -> SendKind {
    SendKind::Regular { started_ms }
}

#[test]
fn a_failure_takes_the_channel_down_and_sends_wait_for_the_probe() {
    let mut h = Health::Up;
    assert_eq!(h.admit(0), Admit::Send);
    assert_eq!(h.record(regular(0), Outcome::Reached, 10, &P), Change::Same);
    let change = h.record(regular(5), down("connection refused"), 20, &P);
    assert_eq!(
        change,
        Change::WentDown {
            error: "connection refused".into(),
            next_probe_ms: 120
        }
    );
    assert_eq!(h.admit(119), Admit::Wait);
    assert_eq!(h.admit(120), Admit::Probe);
    h.probe_started();
    // One probe at a time.
    assert_eq!(h.admit(500), Admit::Wait);
}

#[test]
fn failed_probes_double_the_wait_up_to_the_cap() {
    let mut h = Health::Up;
    h.record(regular(0), down("refused"), 0, &P);
    let mut now = 0;
    let mut waits = Vec::new();
    for _ in 0..6 {
        let Health::Down(o) = &h else {
            panic!("up again: {h:?}")
        };
        now = o.next_probe_ms;
        assert_eq!(h.admit(now), Admit::Probe);
        h.probe_started();
        assert_eq!(
            h.record(SendKind::Probe, down("refused"), now, &P),
            Change::Same
        );
        let Health::Down(o) = &h else {
            panic!("up again: {h:?}")
        };
        waits.push(o.next_probe_ms - now);
        assert_eq!(o.since_ms, 0, "the outage keeps its start");
    }
    assert_eq!(waits, [200, 400, 800, 1_000, 1_000, 1_000]);
    let change = h.record(SendKind::Probe, Outcome::Reached, now + 5, &P);
    assert_eq!(
        change,
        Change::CameUp {
            down_for_ms: now + 5
        }
    );
    assert_eq!(h, Health::Up);
}

#[test]
fn failures_in_flight_make_one_outage() {
    let mut h = Health::Up;
    assert!(matches!(
        h.record(regular(0), down("reset"), 10, &P),
        Change::WentDown { .. }
    ));
    // Sends started before the outage come back failed: only the last error changes.
    assert_eq!(h.record(regular(1), down("timeout"), 30, &P), Change::Same);
    // One that got through before it does not end the outage.
    assert_eq!(h.record(regular(2), Outcome::Reached, 40, &P), Change::Same);
    let Health::Down(o) = &h else {
        panic!("up: {h:?}")
    };
    assert_eq!((o.since_ms, o.last_error.as_str()), (10, "timeout"));
    assert_eq!((o.failed_probes, o.next_probe_ms), (0, 110));
}

#[test]
fn a_refusal_of_one_message_shows_the_channel_is_up() {
    let mut h = Health::Up;
    h.record(regular(0), down("421 try later"), 0, &P);
    h.probe_started();
    let refused = Outcome::of(&Err(SendError::Permanent("550 no such user".into())));
    assert_eq!(refused, Outcome::Reached);
    assert_eq!(
        h.record(SendKind::Probe, refused, 150, &P),
        Change::CameUp { down_for_ms: 150 }
    );
}

#[test]
fn a_probe_that_sent_nothing_frees_the_probe_slot() {
    let mut h = Health::Up;
    h.record(regular(0), down("refused"), 0, &P);
    assert_eq!(h.admit(100), Admit::Probe);
    h.probe_started();
    let nothing = Outcome::of(&Err(SendError::Unrenderable("no items".into())));
    assert_eq!(h.record(SendKind::Probe, nothing, 101, &P), Change::Same);
    assert_eq!(h.admit(101), Admit::Probe);
}

#[test]
fn the_board_hands_out_one_probe_and_lists_configured_channels() {
    let board = HealthBoard::new(&[Channel::Email, Channel::Webhook], P);
    assert_eq!(board.admit(Channel::Line, 0), Admit::Send, "not configured");
    board.record(Channel::Webhook, regular(0), down("503"), 0);
    assert_eq!(board.admit(Channel::Email, 50), Admit::Send);
    assert_eq!(board.admit(Channel::Webhook, 50), Admit::Wait);
    assert!(board.start_probe(Channel::Webhook, 100));
    assert!(!board.start_probe(Channel::Webhook, 100));
    let snap = board.snapshot();
    assert_eq!(snap.len(), 2);
    assert_eq!(snap[0].health, Health::Up);
    assert!(matches!(&snap[1].health, Health::Down(o) if o.probing && o.last_error == "503"));
    board.record(Channel::Webhook, SendKind::Probe, Outcome::Reached, 120);
    assert!(board.snapshot().iter().all(|c| c.health == Health::Up));
}
