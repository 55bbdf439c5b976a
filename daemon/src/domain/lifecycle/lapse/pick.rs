//! Which products a win-back shows: the best sellers of the categories the customer
//! buys (the categories of their orders' products, most bought first, taken in turn),
//! only products that can be bought now (`worth::still_worth_sending`, the rule the
//! message is re-checked with when it goes out late) and that the customer never bought.
//! Pure: the records, products and time are parameters.

use std::collections::{HashMap, HashSet};

use crate::domain::customer::Scenario;
use crate::domain::message::ItemContext;
use crate::domain::order::related::CategoryBestSellers;
use crate::domain::product::ProductState;
use crate::domain::worth::still_worth_sending;
use crate::domain::{Millis, TriggerConfig};

/// What the pick reads, as it is at the due time.
#[derive(Debug, Clone, Copy)]
pub struct WinBackInput<'a> {
    /// The SKUs of the customer's order lines, one entry per line (a SKU bought in many
    /// orders counts for its categories many times).
    pub ordered: &'a [String],
    /// Each ordered SKU's categories (from its product as stored).
    pub categories_of: &'a HashMap<String, Vec<String>>,
    /// The best sellers of those categories.
    pub sellers: &'a HashMap<String, CategoryBestSellers>,
    /// The candidate products as they are now (absent: not in the catalogue).
    pub products: &'a HashMap<String, ProductState>,
    /// Every SKU the customer bought: their orders' lines and purchase signals.
    pub bought: &'a HashSet<String>,
}

/// The customer's categories, most bought first (ties by name).
pub fn categories(input: &WinBackInput<'_>) -> Vec<String> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for sku in input.ordered {
        for c in input.categories_of.get(sku).into_iter().flatten() {
            *count.entry(c.as_str()).or_default() += 1;
        }
    }
    let mut cats: Vec<(&str, usize)> = count.into_iter().collect();
    cats.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    cats.into_iter().map(|(c, _)| c.to_owned()).collect()
}

/// The SKUs the pick may show, in the order it considers them: the categories' best
/// sellers taken in turn (the first of each category, then the second …), each once,
/// none the customer bought. Read their products before [`pick`].
pub fn candidates(input: &WinBackInput<'_>) -> Vec<String> {
    // Each category's best sellers the customer never bought, best first.
    let lists: Vec<Vec<&str>> = categories(input)
        .iter()
        .filter_map(|c| input.sellers.get(c))
        .map(|l: &CategoryBestSellers| {
            l.skus
                .iter()
                .map(|s| s.sku.as_str())
                .filter(|s| !input.bought.contains(*s))
                .collect()
        })
        .collect();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<String> = Vec::new();
    for rank in 0..longest {
        for sku in lists.iter().filter_map(|l| l.get(rank)) {
            if !out.iter().any(|o| o == sku) {
                out.push((*sku).to_owned());
            }
        }
    }
    out
}

/// Up to `max_items` products to offer, best first, each one buyable at `at`.
pub fn pick(
    input: &WinBackInput<'_>,
    max_items: usize,
    at: Millis,
    triggers: &TriggerConfig,
) -> Vec<String> {
    candidates(input)
        .into_iter()
        .filter(|sku| {
            let item = ItemContext {
                sku: sku.clone(),
                ..ItemContext::default()
            };
            still_worth_sending(
                Scenario::WinBack,
                &item,
                input.products.get(sku),
                at,
                triggers,
            )
            .is_ok()
        })
        .take(max_items)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::related::SkuOrders;
    use crate::domain::product::{apply, Effects};
    use crate::domain::{Catalogue, ProductEvent};

    fn product(sku: &str, stock: i64) -> ProductState {
        let cfg = TriggerConfig::default();
        let (mut st, mut fx) = (None, Effects::default());
        let events = [
            ProductEvent::Upsert {
                catalogue: Catalogue::default(),
                price_minor: 1000,
                imported: true,
            },
            ProductEvent::StockSet { quantity: stock },
        ];
        for e in &events {
            assert!(apply(&mut st, sku, e, 0, &cfg, &mut fx).is_ok());
        }
        st.expect("the upsert creates the product")
    }

    fn sellers(cat: &str, skus: &[&str]) -> (String, CategoryBestSellers) {
        let mut b = CategoryBestSellers::new(cat, 0);
        b.skus = skus
            .iter()
            .map(|s| SkuOrders {
                sku: (*s).into(),
                orders: 1.0,
            })
            .collect();
        (cat.into(), b)
    }

    #[test]
    fn best_sellers_of_the_customers_categories_in_turn_never_bought_in_stock() {
        let ordered: Vec<String> = vec!["tee".into(), "tee".into(), "mug".into()];
        let categories_of = HashMap::from([
            ("tee".to_string(), vec!["shirts".to_string()]),
            ("mug".to_string(), vec!["kitchen".to_string()]),
        ]);
        let sellers = HashMap::from([
            sellers("shirts", &["tee", "polo", "shirt", "vest"]),
            sellers("kitchen", &["cup", "pan"]),
            sellers("garden", &["rake"]),
        ]);
        let products: HashMap<String, ProductState> = [
            ("polo", 3),
            ("shirt", 0),
            ("vest", 2),
            ("cup", 1),
            ("pan", 5),
            ("rake", 9),
        ]
        .into_iter()
        .map(|(s, n)| (s.to_string(), product(s, n)))
        .collect();
        let bought: HashSet<String> = ["tee", "mug", "pan"].map(String::from).into();
        let input = WinBackInput {
            ordered: &ordered,
            categories_of: &categories_of,
            sellers: &sellers,
            products: &products,
            bought: &bought,
        };
        assert_eq!(categories(&input), ["shirts", "kitchen"]);
        assert_eq!(candidates(&input), ["polo", "cup", "shirt", "vest"]);
        let cfg = TriggerConfig::default();
        // The sold-out shirt is left out; garden is not one of theirs.
        assert_eq!(pick(&input, 4, 0, &cfg), ["polo", "cup", "vest"]);
        assert_eq!(pick(&input, 2, 0, &cfg), ["polo", "cup"]);
    }
}
