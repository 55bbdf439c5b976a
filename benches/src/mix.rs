//! The event mix of the load phase: relative weights of Sale, StockAdjust, StockSet and
//! PriceSet events, parsed from `--mix sale=60,adjust=20,set=10,price=10`.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Context};

/// One kind of event the mix phase produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixKind {
    Sale,
    Adjust,
    Set,
    Price,
}

/// Relative weights of the event kinds; at least one is non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    pub sale: u32,
    pub adjust: u32,
    pub set: u32,
    pub price: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            sale: 60,
            adjust: 20,
            set: 10,
            price: 10,
        }
    }
}

impl Mix {
    /// Sum of all weights (never 0 for a parsed mix).
    pub fn total(&self) -> u32 {
        self.sale + self.adjust + self.set + self.price
    }

    /// The kind for a roll in `0..self.total()`.
    pub fn pick(&self, roll: u32) -> MixKind {
        if roll < self.sale {
            MixKind::Sale
        } else if roll < self.sale + self.adjust {
            MixKind::Adjust
        } else if roll < self.sale + self.adjust + self.set {
            MixKind::Set
        } else {
            MixKind::Price
        }
    }
}

impl FromStr for Mix {
    type Err = anyhow::Error;

    /// Parses `key=weight` pairs separated by commas; keys not given weigh 0.
    fn from_str(s: &str) -> anyhow::Result<Self> {
        let mut mix = Mix {
            sale: 0,
            adjust: 0,
            set: 0,
            price: 0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .with_context(|| format!("mix entry {part:?} is not key=weight"))?;
            let weight: u32 = value
                .trim()
                .parse()
                .with_context(|| format!("mix weight {value:?} is not a whole number"))?;
            if weight > 1_000_000 {
                bail!("mix weight {weight} is too large (at most 1000000)");
            }
            let slot = match key.trim() {
                "sale" => &mut mix.sale,
                "adjust" => &mut mix.adjust,
                "set" => &mut mix.set,
                "price" => &mut mix.price,
                other => bail!("unknown mix key {other:?} (expected sale, adjust, set, price)"),
            };
            *slot = weight;
        }
        if mix.total() == 0 {
            bail!("mix {s:?} has no non-zero weight");
        }
        Ok(mix)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sale={},adjust={},set={},price={}",
            self.sale, self.adjust, self.set, self.price
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_default_string() {
        let mix: Mix = "sale=60,adjust=20,set=10,price=10".parse().unwrap();
        assert_eq!(mix, Mix::default());
        assert_eq!(mix.to_string().parse::<Mix>().unwrap(), mix);
    }

    #[test]
    fn missing_keys_weigh_zero_and_pick_respects_bounds() {
        let mix: Mix = "price=5, sale=5".parse().unwrap();
        assert_eq!(mix.total(), 10);
        assert_eq!(mix.pick(0), MixKind::Sale);
        assert_eq!(mix.pick(4), MixKind::Sale);
        assert_eq!(mix.pick(5), MixKind::Price);
        assert_eq!(mix.pick(9), MixKind::Price);
    }

    #[test]
    fn rejects_bad_input() {
        assert!("".parse::<Mix>().is_err());
        assert!("sale=0".parse::<Mix>().is_err());
        assert!("sale".parse::<Mix>().is_err());
        assert!("sale=x".parse::<Mix>().is_err());
        assert!("refund=3".parse::<Mix>().is_err());
    }
}
