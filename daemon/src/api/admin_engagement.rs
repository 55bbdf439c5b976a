//! A customer's engagement as `GetCustomer` shows it (`Customer.engagement`): per channel
//! the last click, the last marketing message and the messages since; the last order;
//! the counted clicks, newest first. Provisional clicks whose scanner window is over at
//! the time of the read are shown as counted (the actor counts them at its next event).

use stockbell_proto::v1 as pb;

use crate::domain::lifecycle::engagement::Engagement;
use crate::domain::Millis;

pub(super) fn view(engagement: &Engagement, now: Millis) -> pb::CustomerEngagement {
    let mut e = engagement.clone();
    e.settle(now);
    pb::CustomerEngagement {
        channels: e
            .channels
            .iter()
            .map(|c| pb::ChannelEngagement {
                channel: c.channel.as_str().into(),
                last_click_ms: c.last_click_ms.unwrap_or(0),
                last_marketing_ms: c.last_marketing_ms.unwrap_or(0),
                marketing_since_engaged: c.marketing_since_engaged,
            })
            .collect(),
        last_order_ms: e.last_order_ms.unwrap_or(0),
        clicks: e
            .clicks
            .iter()
            .rev()
            .map(|c| pb::EngagementClick {
                at_ms: c.at_ms,
                entry_seq: c.entry_seq,
                link: u32::from(c.link),
                scenario: c.scenario.as_str().into(),
                channel: c.channel.as_str().into(),
                skus: c.skus.clone(),
            })
            .collect(),
        provisional_clicks: u32::try_from(e.provisional.len()).unwrap_or(u32::MAX),
        scanner_clicks: e.scanner_clicks,
    }
}
