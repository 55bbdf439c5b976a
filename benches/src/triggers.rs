//! The `triggers` subcommand: lists a daemon's recent triggers via `Admin/ListTriggers`, one
//! aligned line per trigger, newest first (id, kind, sku, UTC time, stock old→new,
//! price old→new, velocity/day, reason), then "N triggers".

use anyhow::anyhow;
use clap::Args;
use stockbell_proto::v1::{ListTriggersRequest, Trigger, TriggerKind};

use crate::driver;

#[derive(Args)]
pub struct TriggersArgs {
    /// Daemon address, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    addr: String,
    /// Bearer token for the `authorization` header.
    #[arg(long)]
    token: Option<String>,
    #[command(flatten)]
    tls: driver::TlsArgs,
    /// At most this many triggers (server default 50, max 1000).
    #[arg(long)]
    limit: Option<u32>,
    /// Only this kind: back_in_stock, low_stock, price_drop or new_arrival.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<TriggerKind>,
    /// Only this sku.
    #[arg(long)]
    sku: Option<String>,
}

fn parse_kind(s: &str) -> Result<TriggerKind, String> {
    match TriggerKind::from_str_name(&format!("TRIGGER_KIND_{}", s.to_ascii_uppercase())) {
        Some(k) if k != TriggerKind::Unspecified => Ok(k),
        _ => Err("expected back_in_stock, low_stock, price_drop or new_arrival".to_string()),
    }
}

/// "back_in_stock" for `TRIGGER_KIND_BACK_IN_STOCK`, "kind(N)" for unknown values.
fn kind_name(kind: i32) -> String {
    let name = |k: TriggerKind| k.as_str_name()["TRIGGER_KIND_".len()..].to_ascii_lowercase();
    TriggerKind::try_from(kind).map_or_else(|_| format!("kind({kind})"), name)
}

/// Milliseconds since the Unix epoch as UTC "YYYY-MM-DD HH:MM:SS".
fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")
}

/// The printed columns of one trigger; the last one (reason) is not padded.
fn columns(t: &Trigger) -> [String; 8] {
    [
        t.id.to_string(),
        kind_name(t.kind),
        t.sku.clone(),
        utc(t.at_ms),
        format!("stock {}→{}", t.old_stock, t.new_stock),
        format!("price {}→{}", t.old_price_minor, t.new_price_minor),
        format!("{:.2}/day", t.velocity_per_day),
        t.reason.clone(),
    ]
}

pub async fn run(args: TriggersArgs) -> anyhow::Result<()> {
    let admin =
        crate::admin::Admin::connect_with(&args.addr, args.token.as_deref(), &args.tls.flags())
            .await?;
    let mut client = admin.client();
    let request = ListTriggersRequest {
        kind: args.kind.unwrap_or(TriggerKind::Unspecified) as i32,
        sku: args.sku.unwrap_or_default(),
        limit: args.limit.unwrap_or(0),
        before_id: 0,
    };
    let mut triggers = client
        .list_triggers(request)
        .await
        .map_err(|s| anyhow!("Admin.ListTriggers failed: {:?}: {}", s.code(), s.message()))?
        .into_inner()
        .triggers;
    triggers.sort_by_key(|t| std::cmp::Reverse(t.id));

    let rows: Vec<[String; 8]> = triggers.iter().map(columns).collect();
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            // Numbers right-aligned, text left-aligned, the reason last and unpadded.
            match i {
                7 => line.push_str(cell),
                0 | 6 => line.push_str(&format!("{cell:>w$}  ")),
                _ => line.push_str(&format!("{cell:<w$}  ")),
            }
        }
        println!("{}", line.trim_end());
    }
    println!("{} triggers", rows.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_and_kinds() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_735_689_599_999), "2024-12-31 23:59:59");
        assert_eq!(utc(-1), "1969-12-31 23:59:59");
        assert_eq!(kind_name(3), "price_drop");
        assert_eq!(kind_name(99), "kind(99)");
        assert_eq!(parse_kind("new_arrival"), Ok(TriggerKind::NewArrival));
        assert!(parse_kind("unspecified").is_err());
    }
}
