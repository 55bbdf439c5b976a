//! What the demo shop sells: twenty categories with readable item names, variants and
//! JPY list prices, and the products made from them ("Linen shirt — navy M").
//!
//! Every product is derived from `(seed, index)` alone, so the same seed gives the same
//! catalogue whatever order things are generated in, and a restarted demo can recompute
//! what it created before.

use super::rng::{Rng, STREAM_ARRIVAL, STREAM_PRODUCT};

pub struct Category {
    pub id: &'static str,
    pub code: &'static str,
    /// Item names with their base price in yen.
    pub items: &'static [(&'static str, i64)],
    pub opt1: &'static [&'static str],
    /// May be empty (no second variant, e.g. bags come in colours only).
    pub opt2: &'static [&'static str],
}

const COLOURS: &[&str] = &[
    "navy", "white", "charcoal", "olive", "beige", "black", "indigo", "ecru", "burgundy",
    "sky blue",
];
const SIZES: &[&str] = &["S", "M", "L", "XL"];

#[rustfmt::skip]
pub const CATEGORIES: &[Category] = &[
    Category { id: "shirts", code: "SHT", items: &[("Linen shirt", 7990), ("Oxford shirt", 6990), ("Flannel shirt", 5990), ("Band-collar shirt", 8990)], opt1: COLOURS, opt2: SIZES },
    Category { id: "knitwear", code: "KNT", items: &[("Merino sweater", 12800), ("Cotton cardigan", 8900), ("Cashmere crew neck", 24800), ("Mohair vest", 9800)], opt1: COLOURS, opt2: SIZES },
    Category { id: "outerwear", code: "OUT", items: &[("Down jacket", 29800), ("Trench coat", 34800), ("Denim jacket", 15800), ("Rain parka", 18800)], opt1: COLOURS, opt2: SIZES },
    Category { id: "trousers", code: "TRS", items: &[("Chino trousers", 7990), ("Wide denim", 9900), ("Wool slacks", 14800), ("Easy pants", 5990)], opt1: COLOURS, opt2: &["W28", "W30", "W32", "W34"] },
    Category { id: "shoes", code: "SHO", items: &[("Leather sneakers", 16800), ("Canvas slip-ons", 6800), ("Chelsea boots", 29800), ("Running shoes", 13800)], opt1: &["white", "black", "brown", "grey", "navy"], opt2: &["24.0 cm", "25.0 cm", "26.0 cm", "27.0 cm", "28.0 cm"] },
    Category { id: "bags", code: "BAG", items: &[("Canvas tote", 4980), ("Leather backpack", 32800), ("Shoulder bag", 12800), ("Waist pouch", 5980)], opt1: COLOURS, opt2: &[] },
    Category { id: "accessories", code: "ACC", items: &[("Wool scarf", 6980), ("Leather belt", 7980), ("Bucket hat", 4980), ("Knit cap", 3980)], opt1: COLOURS, opt2: &[] },
    Category { id: "kitchen", code: "KIT", items: &[("Cast-iron pan", 8800), ("Santoku knife", 12800), ("Bamboo steamer", 3300), ("Copper kettle", 16500)], opt1: &["black", "stainless", "walnut"], opt2: &["18 cm", "21 cm", "24 cm", "28 cm"] },
    Category { id: "tableware", code: "TBL", items: &[("Hasami porcelain mug", 2420), ("Mino-yaki plate", 2860), ("Glass tumbler", 1980), ("Lacquer bowl", 4400)], opt1: &["white", "indigo", "celadon", "ash", "amber"], opt2: &["single", "pair", "set of 4"] },
    Category { id: "tea", code: "TEA", items: &[("Sencha", 1620), ("Hojicha", 1296), ("Genmaicha", 1080), ("Matcha", 3240)], opt1: &["Shizuoka", "Uji", "Kagoshima", "Yame"], opt2: &["50 g", "100 g", "200 g"] },
    Category { id: "coffee", code: "COF", items: &[("Drip bags", 1480), ("Whole beans", 1980), ("Cold brew pack", 1680)], opt1: &["Ethiopia", "Colombia", "Guatemala", "house blend"], opt2: &["200 g", "500 g"] },
    Category { id: "snacks", code: "SNK", items: &[("Matcha cookies", 1296), ("Rice crackers", 864), ("Yuzu jelly", 1620), ("Black-sesame financiers", 1944)], opt1: &["6 pcs", "12 pcs", "24 pcs"], opt2: &[] },
    Category { id: "beauty", code: "BTY", items: &[("Camellia hair oil", 2750), ("Rice-bran face wash", 1650), ("Yuzu hand cream", 1320), ("Sake lotion", 3300)], opt1: &["30 ml", "60 ml", "120 ml"], opt2: &[] },
    Category { id: "bath", code: "BTH", items: &[("Hinoki bath salts", 1540), ("Gauze towel", 2970), ("Bath mat", 4400), ("Konjac sponge", 880)], opt1: &["white", "grey", "sand", "sage"], opt2: &[] },
    Category { id: "bedding", code: "BED", items: &[("Linen duvet cover", 16800), ("Buckwheat pillow", 6600), ("Cotton blanket", 9900), ("Gauze sheet", 7700)], opt1: &["white", "oatmeal", "charcoal", "sage"], opt2: &["single", "semi-double", "double"] },
    Category { id: "interior", code: "INT", items: &[("Oak stool", 14800), ("Paper lamp", 9800), ("Rattan basket", 4400), ("Linen cushion cover", 3300)], opt1: &["natural", "white", "black"], opt2: &["S", "M", "L"] },
    Category { id: "stationery", code: "STA", items: &[("Fountain pen", 4400), ("A5 notebook", 1100), ("Washi tape set", 880), ("Brass ballpoint", 3300)], opt1: &["black", "navy", "red", "green"], opt2: &[] },
    Category { id: "outdoor", code: "ODR", items: &[("Camp chair", 8800), ("Titanium mug", 4180), ("LED lantern", 6600), ("Sleeping bag", 19800)], opt1: &["olive", "sand", "black", "orange"], opt2: &[] },
    Category { id: "kids", code: "KID", items: &[("Wooden blocks", 5500), ("Kids raincoat", 4950), ("Picture book", 1650), ("Plush shiba", 2980)], opt1: &["red", "yellow", "blue", "green"], opt2: &[] },
    Category { id: "gadgets", code: "GAD", items: &[("Wireless earbuds", 12800), ("Mobile battery", 4980), ("USB-C charger", 3980), ("Smart tag", 3480)], opt1: &["black", "white", "blue"], opt2: &[] },
];

/// A product as the shop first lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductSpec {
    pub sku: String,
    pub title: String,
    pub category: usize,
    pub list_price: i64,
    /// Relative popularity (1 = the long tail, up to a few hundred for the hits).
    pub weight: f64,
    /// Chance that a view of it in stock ends in a purchase.
    pub conversion: f64,
}

/// Rounds a yen price the way shops do: ...80 below 10,000 yen, else to the hundred.
pub fn shop_price(raw: f64) -> i64 {
    let raw = raw.max(100.0) as i64;
    if raw < 10_000 {
        (raw / 100) * 100 + 80
    } else {
        ((raw + 50) / 100) * 100
    }
}

/// Rounds a discounted price down to ten yen.
pub fn discount(price: i64, pct: i64) -> i64 {
    ((price * (100 - pct) / 100) / 10 * 10).max(10)
}

fn spec(rng: &mut Rng, sku_of: impl FnOnce(&Category) -> String) -> ProductSpec {
    let category = rng.below(CATEGORIES.len());
    let cat = &CATEGORIES[category];
    let (item, base) = cat.items[rng.below(cat.items.len())];
    let o1 = rng.pick(cat.opt1);
    let title = if cat.opt2.is_empty() {
        format!("{item} — {o1}")
    } else {
        format!("{item} — {o1} {}", rng.pick(cat.opt2))
    };
    ProductSpec {
        sku: sku_of(cat),
        title,
        category,
        list_price: shop_price(base as f64 * (0.85 + 0.3 * rng.f64())),
        weight: rng.pareto(1.16, 400.0),
        conversion: 0.02 + 0.10 * rng.f64(),
    }
}

/// The `i`-th product of the opening catalogue.
pub fn product(seed: u64, i: usize) -> ProductSpec {
    let mut rng = Rng::derive(seed, STREAM_PRODUCT, i as u64);
    spec(&mut rng, |c| format!("{}-{:05}", c.code, i + 1))
}

/// The `k`-th new arrival (added while the demo runs); new things sell a little better.
pub fn arrival(seed: u64, k: usize) -> ProductSpec {
    let mut rng = Rng::derive(seed, STREAM_ARRIVAL, k as u64);
    let mut p = spec(&mut rng, |c| format!("{}-N{:04}", c.code, k + 1));
    p.weight = (p.weight * 2.0).min(400.0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_usable() {
        assert_eq!(CATEGORIES.len(), 20);
        for c in CATEGORIES {
            assert!(!c.items.is_empty() && !c.opt1.is_empty(), "{}", c.id);
        }
    }

    #[test]
    fn products_are_deterministic_and_readable() {
        assert_eq!(product(7, 12), product(7, 12));
        assert_ne!(product(7, 12), product(8, 12));
        let p = product(42, 0);
        assert!(
            p.sku.ends_with("-00001") && p.title.contains(" — "),
            "{p:?}"
        );
        assert!(p.list_price >= 100 && p.weight >= 1.0);
        assert!(arrival(42, 0).sku.contains("-N0001"));
        assert_eq!(shop_price(7_432.0), 7_480);
        assert_eq!(shop_price(24_449.0), 24_400);
        assert_eq!(discount(7_980, 20), 6_380);
    }
}
