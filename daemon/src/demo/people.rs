//! Who shops at the demo shop: customers with names, email addresses (example.jp /
//! example.com), ja/en locales, IANA time zones around the world, email consent, the
//! categories they like and how active they are. Each is derived from `(seed, index)`.

use super::catalog::CATEGORIES;
use super::rng::{Rng, STREAM_CUSTOMER};

/// Time zones and their share of customers. Quiet hours stay at the defaults (21:00 to
/// 08:00 local), so at any moment of the day some of these are awake: about half the
/// customers are in Tokyo, the rest spread around the world.
const ZONES: &[(&str, f64, &str)] = &[
    ("Asia/Tokyo", 0.50, "ja"),
    ("Asia/Singapore", 0.06, "en"),
    ("Asia/Kolkata", 0.04, "en"),
    ("Australia/Sydney", 0.04, "en"),
    ("Europe/Berlin", 0.06, "en"),
    ("Europe/London", 0.08, "en"),
    ("America/New_York", 0.10, "en"),
    ("America/Los_Angeles", 0.10, "en"),
    ("Pacific/Honolulu", 0.02, "en"),
];

const JA_GIVEN: &[&str] = &[
    "haruto", "yui", "sota", "hina", "ren", "aoi", "yuto", "mei", "riku", "sakura", "kaito",
    "yuna", "hinata", "mio", "daiki", "akari",
];
const JA_FAMILY: &[&str] = &[
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "watanabe",
    "ito",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
];
const EN_GIVEN: &[&str] = &[
    "olivia", "liam", "emma", "noah", "ava", "oliver", "mia", "lucas", "amelia", "ethan", "isla",
    "leo", "priya", "arjun", "chloe", "mateo",
];
const EN_FAMILY: &[&str] = &[
    "smith", "jones", "brown", "taylor", "wilson", "garcia", "miller", "davis", "martin", "lee",
    "walker", "singh",
];

/// A customer's contact data and preferences.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSpec {
    pub id: String,
    /// Empty: signed up without an email address.
    pub email: String,
    pub locale: &'static str,
    pub time_zone: &'static str,
    pub consent_email: bool,
    /// One to three categories this customer mostly browses.
    pub likes: Vec<usize>,
    /// How often this customer shows up, relative to the others.
    pub activity: f64,
}

pub fn customer_id(i: usize) -> String {
    format!("C{:06}", i + 1)
}

/// The index of the customer [`customer_id`] names.
pub fn customer_index(id: &str) -> Option<u32> {
    let n: u32 = id.strip_prefix('C')?.parse().ok()?;
    n.checked_sub(1)
}

/// The `i`-th customer.
pub fn customer(seed: u64, i: usize) -> CustomerSpec {
    let mut rng = Rng::derive(seed, STREAM_CUSTOMER, i as u64);
    let mut x = rng.f64();
    let mut zone = ZONES[0];
    for z in ZONES {
        zone = *z;
        if x < z.1 {
            break;
        }
        x -= z.1;
    }
    // Some Tokyo customers read English, some abroad read Japanese.
    let locale = if rng.chance(0.08) {
        if zone.2 == "ja" {
            "en"
        } else {
            "ja"
        }
    } else {
        zone.2
    };
    let (given, family) = if locale == "ja" {
        (rng.pick(JA_GIVEN), rng.pick(JA_FAMILY))
    } else {
        (rng.pick(EN_GIVEN), rng.pick(EN_FAMILY))
    };
    let domain = if locale == "ja" {
        "example.jp"
    } else {
        "example.com"
    };
    let email = if rng.chance(0.03) {
        String::new()
    } else {
        format!("{given}.{family}{}@{domain}", i + 1)
    };
    let n_likes = 1 + rng.below(3);
    let likes = (0..n_likes).map(|_| rng.below(CATEGORIES.len())).collect();
    CustomerSpec {
        id: customer_id(i),
        email,
        locale,
        time_zone: zone.0,
        consent_email: rng.chance(0.85),
        likes,
        activity: rng.pareto(1.5, 50.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_are_deterministic_and_zones_valid() {
        assert_eq!(customer(3, 9), customer(3, 9));
        assert_eq!(customer(3, 9).id, "C000010");
        let share: f64 = ZONES.iter().map(|z| z.1).sum();
        assert!((share - 1.0).abs() < 1e-9, "zone shares sum to {share}");
        for z in ZONES {
            assert!(
                stockbelld::domain::rules::quiet::parse_tz(z.0).is_ok(),
                "{}",
                z.0
            );
        }
    }

    #[test]
    fn someone_is_always_awake() {
        use chrono::{TimeZone, Timelike};
        // Each hour of a day, the share of customers outside 21:00-08:00 local time.
        for h in 0..24 {
            let t = chrono::Utc
                .with_ymd_and_hms(2025, 1, 15, h, 30, 0)
                .single()
                .expect("valid time");
            let awake: f64 = ZONES
                .iter()
                .filter(|z| {
                    let tz: chrono_tz::Tz = z.0.parse().expect("zone");
                    let local = t.with_timezone(&tz).hour();
                    (8..21).contains(&local)
                })
                .map(|z| z.1)
                .sum();
            assert!(awake >= 0.15, "at {h}:30 UTC only {awake:.2} are awake");
        }
    }
}
