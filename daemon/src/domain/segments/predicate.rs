//! Segment predicates: plain data ([`Pred`]), their canonical text ([`fmt::Display`],
//! which `parse::parse` reads back to the same value) and a pure evaluator
//! ([`Pred::matches`]). The grammar is documented in `parse`.
//!
//! Semantics (README, "Segment predicates"):
//! - `orders`, `spend`, `coupon_orders` compare the row's counted orders, total spend
//!   (minor units) and orders with a coupon; `mean_order` the customer's mean order value
//!   (false without orders);
//! - `first_order_days` / `last_order_days` compare whole days since the first / last
//!   counted order, `floor((now - at) / 86_400_000)` (false without orders);
//! - `bought sku "X"` / `bought category "C"` hold when the units of the matching SKUs
//!   (the SKU itself, or every SKU whose catalogue categories hold C) sum to at least
//!   `at_least` (default 1); `within N d` keeps only SKUs last bought in the last N days;
//!   `in_order K` only SKUs bought in the K-th counted order (1 = the first),
//!   `in_order >= K` only those bought in the K-th or a later one;
//! - `coupon` = at least one order with a coupon; `subscribed`, `tag`, `consent`,
//!   `locale`, `time_zone` read the profile (`consent any` = any channel);
//!   `clicked within N d` = a tracked click in the last N days;
//! - `rfm "group"` and `churn_risk` read the score source.

use std::fmt;

use super::{RfmGroup, Row, ScoreSource};
use crate::domain::Millis;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
    Ne,
}

impl Cmp {
    pub const ALL: [Cmp; 6] = [Cmp::Ge, Cmp::Le, Cmp::Gt, Cmp::Lt, Cmp::Eq, Cmp::Ne];

    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Ge => ">=",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Lt => "<",
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
        }
    }

    /// `a CMP b`.
    pub fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Ge => a >= b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Lt => a < b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// A numeric aggregate compared with an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Num {
    Orders,
    Spend,
    MeanOrder,
    CouponOrders,
    FirstOrderDays,
    LastOrderDays,
}

impl Num {
    pub const ALL: [Num; 6] = [
        Num::Orders,
        Num::Spend,
        Num::MeanOrder,
        Num::CouponOrders,
        Num::FirstOrderDays,
        Num::LastOrderDays,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Num::Orders => "orders",
            Num::Spend => "spend",
            Num::MeanOrder => "mean_order",
            Num::CouponOrders => "coupon_orders",
            Num::FirstOrderDays => "first_order_days",
            Num::LastOrderDays => "last_order_days",
        }
    }

    pub fn parse(s: &str) -> Option<Num> {
        Num::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// What `bought` looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Sku(String),
    Category(String),
}

/// `in_order K` (exactly the K-th counted order) or `in_order >= K`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InOrder {
    Exactly(u32),
    AtLeast(u32),
}

/// `bought sku|category STR [at_least N] [within N d] [in_order K | in_order >= K]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoughtCond {
    pub item: Item,
    pub at_least: Option<i64>,
    pub within_days: Option<u32>,
    pub in_order: Option<InOrder>,
}

/// A marketing consent channel, or any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOf {
    Email,
    Line,
    Webhook,
    Any,
}

impl ConsentOf {
    pub const ALL: [ConsentOf; 4] = [
        ConsentOf::Email,
        ConsentOf::Line,
        ConsentOf::Webhook,
        ConsentOf::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentOf::Email => "email",
            ConsentOf::Line => "line",
            ConsentOf::Webhook => "webhook",
            ConsentOf::Any => "any",
        }
    }
}

/// A segment predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Num(Num, Cmp, i64),
    Bought(BoughtCond),
    Coupon,
    Subscribed,
    Tag(String),
    Consent(ConsentOf),
    Locale(String),
    TimeZone(String),
    ClickedWithin(u32),
    Rfm(RfmGroup),
    /// Compared with a value in 0..=1.
    ChurnRisk(Cmp, f64),
}

/// Which catalogue categories a SKU is in.
pub trait Categories: Sync {
    fn sku_in(&self, sku: &str, category: &str) -> bool;
}

/// No catalogue (every category test is false).
pub struct NoCategories;

impl Categories for NoCategories {
    fn sku_in(&self, _sku: &str, _category: &str) -> bool {
        false
    }
}

impl<S: std::hash::BuildHasher + Sync> Categories
    for std::collections::HashMap<String, Vec<String>, S>
{
    fn sku_in(&self, sku: &str, category: &str) -> bool {
        self.get(sku)
            .is_some_and(|cats| cats.iter().any(|c| c == category))
    }
}

/// What an evaluation may read besides the row.
pub struct EvalCtx<'a> {
    pub now_ms: Millis,
    pub categories: &'a dyn Categories,
    /// Only asked when the predicate uses `rfm` or `churn_risk`.
    pub scores: &'a dyn ScoreSource,
}

impl Pred {
    /// Whether `row` satisfies the predicate.
    pub fn matches(&self, row: &Row, ctx: &EvalCtx<'_>) -> bool {
        match self {
            Pred::And(a, b) => a.matches(row, ctx) && b.matches(row, ctx),
            Pred::Or(a, b) => a.matches(row, ctx) || b.matches(row, ctx),
            Pred::Not(a) => !a.matches(row, ctx),
            Pred::Num(n, cmp, v) => num_matches(*n, *cmp, *v, row, ctx.now_ms),
            Pred::Bought(b) => bought_matches(b, row, ctx),
            Pred::Coupon => row.coupon_orders() > 0,
            Pred::Subscribed => row.subscribed,
            Pred::Tag(t) => row.tags.iter().any(|x| x == t),
            Pred::Consent(c) => match c {
                ConsentOf::Email => row.consent[0],
                ConsentOf::Line => row.consent[1],
                ConsentOf::Webhook => row.consent[2],
                ConsentOf::Any => row.consent.iter().any(|x| *x),
            },
            Pred::Locale(l) => row.locale == *l,
            Pred::TimeZone(z) => row.time_zone == *z,
            Pred::ClickedWithin(d) => row
                .last_click_ms
                .is_some_and(|at| at >= ctx.now_ms - i64::from(*d) * DAY_MS),
            Pred::Rfm(g) => ctx.scores.scores(row, ctx.now_ms).group == Some(*g),
            Pred::ChurnRisk(cmp, v) => cmp.test(ctx.scores.scores(row, ctx.now_ms).churn_risk, *v),
        }
    }

    /// Whether any condition reads the score source (`rfm`, `churn_risk`).
    pub fn uses_scores(&self) -> bool {
        match self {
            Pred::And(a, b) | Pred::Or(a, b) => a.uses_scores() || b.uses_scores(),
            Pred::Not(a) => a.uses_scores(),
            Pred::Rfm(_) | Pred::ChurnRisk(..) => true,
            _ => false,
        }
    }

    /// Whether any condition reads the catalogue (`bought category`).
    pub fn uses_categories(&self) -> bool {
        match self {
            Pred::And(a, b) | Pred::Or(a, b) => a.uses_categories() || b.uses_categories(),
            Pred::Not(a) => a.uses_categories(),
            Pred::Bought(b) => matches!(b.item, Item::Category(_)),
            _ => false,
        }
    }
}

fn num_matches(n: Num, cmp: Cmp, v: i64, row: &Row, now: Millis) -> bool {
    let days = |at: Option<Millis>| at.map(|t| (now - t).div_euclid(DAY_MS));
    match n {
        Num::Orders => cmp.test(i64::from(row.order_count()), v),
        Num::Spend => cmp.test(row.spend_minor(), v),
        Num::CouponOrders => cmp.test(i64::from(row.coupon_orders()), v),
        Num::MeanOrder => row
            .mean_order_minor()
            .is_some_and(|m| cmp.test(m, v as f64)),
        Num::FirstOrderDays => days(row.first_order_ms()).is_some_and(|d| cmp.test(d, v)),
        Num::LastOrderDays => days(row.last_order_ms()).is_some_and(|d| cmp.test(d, v)),
    }
}

fn bought_matches(b: &BoughtCond, row: &Row, ctx: &EvalCtx<'_>) -> bool {
    let since = b.within_days.map(|d| ctx.now_ms - i64::from(d) * DAY_MS);
    let units: i64 = row
        .bought
        .iter()
        .filter(|x| match &b.item {
            Item::Sku(s) => x.sku == *s,
            Item::Category(c) => ctx.categories.sku_in(&x.sku, c),
        })
        .filter(|x| since.is_none_or(|t| x.last_ms >= t))
        .filter(|x| match b.in_order {
            None => true,
            Some(InOrder::Exactly(k)) => x.order_indexes.contains(&k),
            Some(InOrder::AtLeast(k)) => x.order_indexes.iter().any(|i| *i >= k),
        })
        .map(|x| x.units)
        .sum();
    units >= b.at_least.unwrap_or(1)
}

/// Writes `s` as a quoted string (`"` and `\` escaped).
pub fn write_str(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            f.write_str("\\")?;
        }
        write!(f, "{ch}")?;
    }
    f.write_str("\"")
}

impl Pred {
    fn is_binary(&self) -> bool {
        matches!(self, Pred::And(..) | Pred::Or(..))
    }
}

/// `p`, in parentheses when `paren`.
fn write_part(f: &mut fmt::Formatter<'_>, p: &Pred, paren: bool) -> fmt::Result {
    if paren {
        write!(f, "({p})")
    } else {
        write!(f, "{p}")
    }
}

impl fmt::Display for Pred {
    /// Canonical text: `and` / `or` associate to the left, `and` binds tighter, and
    /// parentheses appear only where that would read otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pred::And(a, b) => {
                write_part(f, a, matches!(**a, Pred::Or(..)))?;
                f.write_str(" and ")?;
                write_part(f, b, b.is_binary())
            }
            Pred::Or(a, b) => {
                write_part(f, a, false)?;
                f.write_str(" or ")?;
                write_part(f, b, matches!(**b, Pred::Or(..)))
            }
            Pred::Not(a) => {
                f.write_str("not ")?;
                write_part(f, a, a.is_binary())
            }
            Pred::Num(n, cmp, v) => write!(f, "{} {} {v}", n.as_str(), cmp.as_str()),
            Pred::Bought(b) => {
                f.write_str("bought ")?;
                match &b.item {
                    Item::Sku(s) => {
                        f.write_str("sku ")?;
                        write_str(f, s)?;
                    }
                    Item::Category(c) => {
                        f.write_str("category ")?;
                        write_str(f, c)?;
                    }
                }
                if let Some(n) = b.at_least {
                    write!(f, " at_least {n}")?;
                }
                if let Some(d) = b.within_days {
                    write!(f, " within {d}d")?;
                }
                match b.in_order {
                    Some(InOrder::Exactly(k)) => write!(f, " in_order {k}"),
                    Some(InOrder::AtLeast(k)) => write!(f, " in_order >= {k}"),
                    None => Ok(()),
                }
            }
            Pred::Coupon => f.write_str("coupon"),
            Pred::Subscribed => f.write_str("subscribed"),
            Pred::Tag(t) => {
                f.write_str("tag ")?;
                write_str(f, t)
            }
            Pred::Consent(c) => write!(f, "consent {}", c.as_str()),
            Pred::Locale(l) => {
                f.write_str("locale ")?;
                write_str(f, l)
            }
            Pred::TimeZone(z) => {
                f.write_str("time_zone ")?;
                write_str(f, z)
            }
            Pred::ClickedWithin(d) => write!(f, "clicked within {d}d"),
            Pred::Rfm(g) => {
                f.write_str("rfm ")?;
                write_str(f, g.as_str())
            }
            Pred::ChurnRisk(cmp, v) => write!(f, "churn_risk {} {v}", cmp.as_str()),
        }
    }
}

#[cfg(test)]
#[path = "predicate_tests.rs"]
mod tests;
