//! The segment predicate parser. Errors read `at <byte pos>: <what is wrong>, <the fix>`.
//!
//! Grammar (keywords lower case, whitespace between tokens free):
//!
//! ```text
//! expr  := or ;  or := and ("or" and)* ;  and := unary ("and" unary)* ;
//! unary := "not" unary | "(" expr ")" | cond
//! cond  :=
//!   orders CMP INT | spend CMP INT | mean_order CMP INT | coupon_orders CMP INT
//!   | first_order_days CMP INT | last_order_days CMP INT   (days since; no orders → false)
//!   | bought sku STR [at_least INT] [within INT "d"] [in_order (INT | ">=" INT)]
//!   | bought category STR [same options]
//!   | coupon | subscribed | tag STR | consent (email|line|webhook|any)
//!   | locale STR | time_zone STR | clicked within INT "d"
//!   | rfm STR (one of the 11 RfmGroup names) | churn_risk CMP FLOAT(0..1)
//! CMP := ">=" | "<=" | ">" | "<" | "=" | "!="     STR := "..." (backslash escapes \" \\)
//! ```
//!
//! `INT` is decimal with an optional leading `-` (counts, days and `at_least` must be
//! ≥ 0, `in_order` ≥ 1); `within 30d` and `within 30 d` are the same.

use super::predicate::{BoughtCond, Cmp, ConsentOf, InOrder, Item, Num, Pred};
use super::RfmGroup;

/// Longest predicate text accepted.
pub const MAX_LEN: usize = 4096;
/// Deepest nesting of `not` and parentheses accepted.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Int(i64),
    Float(f64),
    Cmp(Cmp),
    Open,
    Close,
    End,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("\"{w}\""),
        Tok::Str(s) => format!("the string \"{s}\""),
        Tok::Int(i) => format!("the number {i}"),
        Tok::Float(x) => format!("the number {x}"),
        Tok::Cmp(c) => format!("\"{}\"", c.as_str()),
        Tok::Open => "\"(\"".into(),
        Tok::Close => "\")\"".into(),
        Tok::End => "the end".into(),
    }
}

fn err(pos: usize, what: impl AsRef<str>, fix: impl AsRef<str>) -> String {
    format!("at {pos}: {}, {}", what.as_ref(), fix.as_ref())
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                out.push((start, Tok::Open));
            }
            b')' => {
                i += 1;
                out.push((start, Tok::Close));
            }
            b'>' | b'<' | b'=' | b'!' => {
                let two = b.get(i + 1) == Some(&b'=');
                let cmp = match (c, two) {
                    (b'>', true) => Cmp::Ge,
                    (b'<', true) => Cmp::Le,
                    (b'>', false) => Cmp::Gt,
                    (b'<', false) => Cmp::Lt,
                    (b'=', _) => Cmp::Eq,
                    (b'!', true) => Cmp::Ne,
                    _ => {
                        return Err(err(
                            start,
                            "\"!\" alone is not an operator",
                            "write != for not equal, or `not` before a condition",
                        ))
                    }
                };
                i += if two && c != b'=' { 2 } else { 1 };
                if c == b'=' && two {
                    i += 1; // "==" reads as "="
                }
                out.push((start, Tok::Cmp(cmp)));
            }
            b'"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    match src[i..].chars().next() {
                        None => {
                            return Err(err(
                                start,
                                "the string is not closed",
                                "end it with a double quote (\")",
                            ))
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match b.get(i + 1) {
                                Some(&e @ (b'"' | b'\\')) => {
                                    s.push(e as char);
                                    i += 2;
                                }
                                _ => return Err(err(
                                    i,
                                    "unknown escape in a string",
                                    "only \\\" and \\\\ are escapes; write \\\\ for a backslash",
                                )),
                            }
                        }
                        Some(ch) => {
                            s.push(ch);
                            i += ch.len_utf8();
                        }
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            b'0'..=b'9' | b'-' | b'.' => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                let text = &src[start..i];
                let tok = if text.contains('.') {
                    match text.parse::<f64>() {
                        Ok(x) if text != "-" && !text.starts_with('.') && !text.ends_with('.') => {
                            Tok::Float(x)
                        }
                        _ => {
                            return Err(err(
                                start,
                                format!("\"{text}\" is not a number"),
                                "write a decimal such as 0.5",
                            ))
                        }
                    }
                } else {
                    match text.parse::<i64>() {
                        Ok(n) => Tok::Int(n),
                        Err(_) => {
                            return Err(err(
                                start,
                                format!("\"{text}\" is not a whole number in range"),
                                "write digits such as 10000 (at most 19 of them)",
                            ))
                        }
                    }
                };
                out.push((start, tok));
            }
            c if c.is_ascii_lowercase() || c == b'_' => {
                while i < b.len()
                    && (b[i].is_ascii_lowercase() || b[i].is_ascii_digit() || b[i] == b'_')
                {
                    i += 1;
                }
                out.push((start, Tok::Word(src[start..i].to_owned())));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(
                    start,
                    format!("unexpected character '{ch}'"),
                    "conditions are lower-case words (orders, spend, bought, tag, …) joined by and / or / not; quote text values with \"",
                ));
            }
        }
    }
    out.push((src.len(), Tok::End));
    Ok(out)
}

/// Parses a predicate; the error names the byte position, what is wrong and the fix.
pub fn parse(src: &str) -> Result<Pred, String> {
    if src.len() > MAX_LEN {
        return Err(err(
            MAX_LEN,
            format!("the predicate is {} bytes long", src.len()),
            format!("keep it at most {MAX_LEN} bytes"),
        ));
    }
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        at: 0,
        depth: 0,
    };
    if p.peek() == &Tok::End {
        return Err(err(
            0,
            "the predicate is empty",
            "write a condition such as orders >= 2",
        ));
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(e),
        Tok::Close => Err(err(
            p.pos(),
            "\")\" closes nothing",
            "remove it or add the matching \"(\"",
        )),
        t => Err(err(
            p.pos(),
            format!("expected and / or before {}", describe(t)),
            "join conditions with and / or",
        )),
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: usize,
}

const CONDITIONS: &str = "start a condition with one of orders, spend, mean_order, coupon_orders, first_order_days, last_order_days, bought, coupon, subscribed, tag, consent, locale, time_zone, clicked, rfm, churn_risk (or not / \"(\")";

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].1
    }

    fn pos(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].0
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at.min(self.toks.len() - 1)].clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x == w)
    }

    fn or(&mut self) -> Result<Pred, String> {
        let mut left = self.and()?;
        while self.is_word("or") {
            self.next();
            let right = self.and()?;
            left = Pred::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Pred, String> {
        let mut left = self.unary()?;
        while self.is_word("and") {
            self.next();
            let right = self.unary()?;
            left = Pred::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Pred, String> {
        if self.depth >= MAX_DEPTH {
            return Err(err(
                self.pos(),
                format!("nesting deeper than {MAX_DEPTH}"),
                "simplify the predicate",
            ));
        }
        self.depth += 1;
        let out = self.unary_inner();
        self.depth -= 1;
        out
    }

    fn unary_inner(&mut self) -> Result<Pred, String> {
        if self.is_word("not") {
            self.next();
            return Ok(Pred::Not(Box::new(self.unary()?)));
        }
        if self.peek() == &Tok::Open {
            let (open, _) = self.next();
            let e = self.or()?;
            return match self.next() {
                (_, Tok::Close) => Ok(e),
                (pos, t) => Err(err(
                    pos,
                    format!(
                        "expected \")\" (for the \"(\" at {open}), found {}",
                        describe(&t)
                    ),
                    "close the parenthesis or join with and / or",
                )),
            };
        }
        self.cond()
    }

    fn cond(&mut self) -> Result<Pred, String> {
        let (pos, t) = self.next();
        let Tok::Word(w) = t else {
            return Err(err(
                pos,
                format!("expected a condition, found {}", describe(&t)),
                CONDITIONS,
            ));
        };
        if let Some(n) = Num::parse(&w) {
            let cmp = self.cmp(&w)?;
            let v = self.int(&w)?;
            let counts = !matches!(n, Num::Spend | Num::MeanOrder);
            if counts && v.1 < 0 {
                return Err(err(
                    v.0,
                    format!("{w} is never negative"),
                    "compare with 0 or more",
                ));
            }
            return Ok(Pred::Num(n, cmp, v.1));
        }
        match w.as_str() {
            "bought" => self.bought(),
            "coupon" => Ok(Pred::Coupon),
            "subscribed" => Ok(Pred::Subscribed),
            "tag" => Ok(Pred::Tag(self.string("tag", "the tag, e.g. tag \"vip\"")?)),
            "locale" => Ok(Pred::Locale(
                self.string("locale", "the locale, e.g. locale \"ja\"")?,
            )),
            "time_zone" => Ok(Pred::TimeZone(
                self.string("time_zone", "the zone, e.g. time_zone \"Asia/Tokyo\"")?,
            )),
            "consent" => {
                let (p, t) = self.next();
                match &t {
                    Tok::Word(c) => ConsentOf::ALL
                        .into_iter()
                        .find(|x| x.as_str() == c)
                        .map(Pred::Consent)
                        .ok_or_else(|| {
                            err(
                                p,
                                format!("unknown channel \"{c}\" after consent"),
                                "write consent email, line, webhook or any",
                            )
                        }),
                    _ => Err(err(
                        p,
                        format!("expected a channel after consent, found {}", describe(&t)),
                        "write consent email, line, webhook or any",
                    )),
                }
            }
            "clicked" => {
                self.keyword("within", "clicked", "write clicked within 30d")?;
                Ok(Pred::ClickedWithin(self.days("clicked within")?))
            }
            "rfm" => {
                let p = self.pos();
                let g = self.string("rfm", "the group, e.g. rfm \"champions\"")?;
                RfmGroup::parse(&g).map(Pred::Rfm).ok_or_else(|| {
                    let all: Vec<&str> = RfmGroup::ALL.iter().map(|g| g.as_str()).collect();
                    err(
                        p,
                        format!("unknown RFM group \"{g}\""),
                        format!("use one of {}", all.join(", ")),
                    )
                })
            }
            "churn_risk" => {
                let cmp = self.cmp("churn_risk")?;
                let (p, t) = self.next();
                let v = match t {
                    Tok::Float(x) => x,
                    Tok::Int(i) => i as f64,
                    t => {
                        return Err(err(
                            p,
                            format!(
                                "expected a number after churn_risk {}, found {}",
                                cmp.as_str(),
                                describe(&t)
                            ),
                            "write a risk between 0 and 1, e.g. churn_risk >= 0.7",
                        ))
                    }
                };
                if !(0.0..=1.0).contains(&v) {
                    return Err(err(
                        p,
                        format!("churn risk {v} is outside 0..1"),
                        "write a risk between 0 and 1, e.g. churn_risk >= 0.7",
                    ));
                }
                Ok(Pred::ChurnRisk(cmp, v))
            }
            _ => Err(err(pos, format!("unknown condition \"{w}\""), CONDITIONS)),
        }
    }

    fn bought(&mut self) -> Result<Pred, String> {
        let (p, t) = self.next();
        let item = match &t {
            Tok::Word(k) if k == "sku" => {
                Item::Sku(self.string("bought sku", "the SKU, e.g. bought sku \"A-1\"")?)
            }
            Tok::Word(k) if k == "category" => Item::Category(self.string(
                "bought category",
                "the category id, e.g. bought category \"c1\"",
            )?),
            _ => {
                return Err(err(
                    p,
                    format!(
                        "expected sku or category after bought, found {}",
                        describe(&t)
                    ),
                    "write bought sku \"…\" or bought category \"…\"",
                ))
            }
        };
        let mut b = BoughtCond {
            item,
            at_least: None,
            within_days: None,
            in_order: None,
        };
        loop {
            let p = self.pos();
            if self.is_word("at_least") {
                self.next();
                if b.at_least.is_some() {
                    return Err(err(p, "at_least given twice", "keep one at_least"));
                }
                let (vp, v) = self.int("at_least")?;
                if v < 0 {
                    return Err(err(vp, "at_least is negative", "write at_least 1 or more"));
                }
                b.at_least = Some(v);
            } else if self.is_word("within") {
                self.next();
                if b.within_days.is_some() {
                    return Err(err(p, "within given twice", "keep one within"));
                }
                b.within_days = Some(self.days("within")?);
            } else if self.is_word("in_order") {
                self.next();
                if b.in_order.is_some() {
                    return Err(err(p, "in_order given twice", "keep one in_order"));
                }
                let at_least = if self.peek() == &Tok::Cmp(Cmp::Ge) {
                    self.next();
                    true
                } else {
                    false
                };
                let (kp, k) = self.int("in_order")?;
                let k = u32::try_from(k).ok().filter(|k| *k >= 1).ok_or_else(|| {
                    err(
                        kp,
                        format!("in_order {k} is not an order number"),
                        "orders count from 1 (in_order 1 = the first order)",
                    )
                })?;
                b.in_order = Some(if at_least {
                    InOrder::AtLeast(k)
                } else {
                    InOrder::Exactly(k)
                });
            } else {
                return Ok(Pred::Bought(b));
            }
        }
    }

    fn keyword(&mut self, w: &str, after: &str, fix: &str) -> Result<(), String> {
        let (p, t) = self.next();
        match &t {
            Tok::Word(x) if x == w => Ok(()),
            _ => Err(err(
                p,
                format!("expected {w} after {after}, found {}", describe(&t)),
                fix,
            )),
        }
    }

    fn cmp(&mut self, after: &str) -> Result<Cmp, String> {
        let (p, t) = self.next();
        match t {
            Tok::Cmp(c) => Ok(c),
            t => Err(err(
                p,
                format!(
                    "expected a comparison after {after}, found {}",
                    describe(&t)
                ),
                format!("write one of >=, <=, >, <, =, != (e.g. {after} >= 2)"),
            )),
        }
    }

    fn int(&mut self, after: &str) -> Result<(usize, i64), String> {
        let (p, t) = self.next();
        match t {
            Tok::Int(n) => Ok((p, n)),
            t => Err(err(
                p,
                format!(
                    "expected a whole number after {after}, found {}",
                    describe(&t)
                ),
                "write digits such as 2 (amounts in minor units, e.g. 10000)",
            )),
        }
    }

    /// `INT "d"` or `INTd`.
    fn days(&mut self, after: &str) -> Result<u32, String> {
        let (p, n) = self.int(after)?;
        let days = u32::try_from(n)
            .ok()
            .filter(|d| *d <= 100_000)
            .ok_or_else(|| {
                err(
                    p,
                    format!("{n} days is out of range"),
                    "write 0 to 100000 days, e.g. 30d",
                )
            })?;
        let (dp, t) = self.next();
        match &t {
            Tok::Word(d) if d == "d" => Ok(days),
            _ => Err(err(
                dp,
                format!(
                    "expected the unit d after {after} {n}, found {}",
                    describe(&t)
                ),
                format!("write {after} {n}d"),
            )),
        }
    }

    fn string(&mut self, after: &str, fix: &str) -> Result<String, String> {
        let (p, t) = self.next();
        match t {
            Tok::Str(s) => Ok(s),
            t => Err(err(
                p,
                format!(
                    "expected a quoted string after {after}, found {}",
                    describe(&t)
                ),
                format!("write {fix}"),
            )),
        }
    }
}
