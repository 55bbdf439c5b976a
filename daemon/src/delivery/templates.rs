//! Message templates: the built-in ja/en set (embedded at compile time), operator
//! overrides read from a directory at start, and rendering a `MessageContext` into
//! subject, plain text and (auto-escaped) HTML. Marketing templates end with the one-click
//! unsubscribe footer; order updates (`order_*` partials) carry none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{context, AutoEscape, Environment, Output, State, UndefinedBehavior, Value};

use super::templates_order;
use super::Rendered;
use crate::domain::customer::{Locale, Scenario};
use crate::domain::message::{ItemContext, MessageContext};

macro_rules! builtin {
    ($($file:literal),* $(,)?) => {
        &[
            $((concat!("ja/", $file), include_str!(concat!("../../templates/ja/", $file))),)*
            $((concat!("en/", $file), include_str!(concat!("../../templates/en/", $file))),)*
        ]
    };
}

/// Every template name (`{locale}/{file}`) with its built-in source. An override file
/// must use one of these names.
const BUILTIN: &[(&str, &str)] = builtin!(
    "layout.html",
    "items.txt",
    "footer.txt",
    "back_in_stock.subject",
    "back_in_stock.txt",
    "back_in_stock.html",
    "low_stock.subject",
    "low_stock.txt",
    "low_stock.html",
    "price_drop.subject",
    "price_drop.txt",
    "price_drop.html",
    "new_arrival.subject",
    "new_arrival.txt",
    "new_arrival.html",
    "order_layout.html",
    "order_lines.txt",
    "order_footer.txt",
    "backorder_confirmation.subject",
    "backorder_confirmation.txt",
    "backorder_confirmation.html",
    "backorder_update.subject",
    "backorder_update.txt",
    "backorder_update.html",
    "arrived.subject",
    "arrived.txt",
    "arrived.html",
    "delayed.subject",
    "delayed.txt",
    "delayed.html",
    "shipped.subject",
    "shipped.txt",
    "shipped.html",
    "delivered_followup.subject",
    "delivered_followup.txt",
    "delivered_followup.html",
    "cross_sell_order.subject",
    "cross_sell_order.txt",
    "cross_sell_order.html",
    "cross_sell_delivery.subject",
    "cross_sell_delivery.txt",
    "cross_sell_delivery.html",
    "cart_lines.txt",
    "cart_intro.html",
    "cart_abandoned.subject",
    "cart_abandoned.txt",
    "cart_abandoned.html",
    "checkout_abandoned.subject",
    "checkout_abandoned.txt",
    "checkout_abandoned.html",
    "last_chance.subject",
    "last_chance.txt",
    "last_chance.html",
    "win_back.subject",
    "win_back.txt",
    "win_back.html",
    "birthday.subject",
    "birthday.txt",
    "birthday.html",
);

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template override {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template override {path} is not a known template name; use one of {known}")]
    Unknown { path: PathBuf, known: String },
    #[error("template {origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("message for customer {customer_id:?} has no items to render")]
    NoItems { customer_id: String },
    #[error("{scenario} message for customer {customer_id:?} has no order lines to render")]
    NoOrder {
        customer_id: String,
        scenario: &'static str,
    },
}

/// The loaded template set. Cheap to share behind an `Arc`; rendering takes `&self`.
pub struct Templates {
    env: Environment<'static>,
    /// Where each template came from, for error messages ("built-in ja/x.html" or a path).
    origins: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

pub fn locale_dir(locale: Locale) -> &'static str {
    match locale {
        Locale::Ja => "ja",
        Locale::En => "en",
    }
}

impl Templates {
    /// Loads the built-in templates, replacing any for which `override_dir/{ja,en}/NAME`
    /// exists, then renders every template once with sample data so a broken override
    /// fails at start rather than on the first message.
    pub fn new(override_dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(html_formatter);
        // The last-chance message's "keep me" link (`set_keep_url`); empty = none.
        env.add_global("keep_url", "");
        env.add_filter("price", |minor: i64, currency: String| {
            format_price(minor, &currency)
        });
        if let Some(dir) = override_dir {
            reject_unknown_files(dir)?;
        }
        let mut origins = BTreeMap::new();
        for &(name, source) in BUILTIN {
            let (source, origin) = match override_dir {
                Some(dir) => {
                    let path = dir.join(name);
                    match std::fs::read_to_string(&path) {
                        Ok(s) => (s, path.display().to_string()),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            (source.to_string(), format!("built-in {name}"))
                        }
                        Err(source) => return Err(TemplateError::Read { path, source }),
                    }
                }
                None => (source.to_string(), format!("built-in {name}")),
            };
            env.add_template_owned(name, source)
                .map_err(|e| TemplateError::Invalid {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
            origins.insert(name, origin);
        }
        let templates = Templates { env, origins };
        templates.self_check()?;
        Ok(templates)
    }

    /// Sets the link the last-chance message offers to keep receiving notifications
    /// (`[scenarios.last_chance] keep_url`). With click tracking the dispatcher hands the
    /// template its tracked copy as `item.url` (`click_link::ClickLinks::rewrite`), which
    /// the built-in last-chance templates show instead, so following it is a click.
    pub fn set_keep_url(&mut self, url: &str) {
        self.env.add_global("keep_url", url.to_owned());
    }

    /// Renders one message. The template sees `scenario` (e.g. `"price_drop"`), `class`
    /// (`"marketing"` / `"transactional"`), `locale`, `customer_id`, `items`, `item` (the
    /// first item, or none), `count`, `digest` (more than one item), `unsubscribe_url`,
    /// `coupon_code` (empty = none), and for the order scenarios `order` (see `templates_order::OrderVars`) and `line`
    /// (its first line); plus the `price(currency)` filter.
    pub fn render(&self, ctx: &MessageContext) -> Result<Rendered, TemplateError> {
        let (vars, prefix) = variables(ctx)?;
        let text = self.render_one(&format!("{prefix}.txt"), &vars)?;
        let html = self.render_one(&format!("{prefix}.html"), &vars)?;
        Ok(Rendered {
            subject: self.subject_with(&vars, &prefix)?,
            text: tidy_text(&text),
            html,
        })
    }

    /// Renders only the subject line (what the admin API lists for an outbox entry).
    pub fn subject(&self, ctx: &MessageContext) -> Result<String, TemplateError> {
        let (vars, prefix) = variables(ctx)?;
        self.subject_with(&vars, &prefix)
    }

    fn subject_with(&self, vars: &Value, prefix: &str) -> Result<String, TemplateError> {
        let subject = self.render_one(&format!("{prefix}.subject"), vars)?;
        // A subject is one header line whatever the template did with whitespace.
        Ok(subject.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn render_one(&self, name: &str, vars: &Value) -> Result<String, TemplateError> {
        let invalid = |e: minijinja::Error| {
            // Report the file the error is in (an included layout, say), not just the entry.
            let at = e.name().unwrap_or(name);
            TemplateError::Invalid {
                origin: self
                    .origins
                    .get(at)
                    .cloned()
                    .unwrap_or_else(|| at.to_string()),
                message: e.to_string(),
            }
        };
        let tmpl = self.env.get_template(name).map_err(invalid)?;
        tmpl.render(vars).map_err(invalid)
    }

    fn self_check(&self) -> Result<(), TemplateError> {
        let full = sample_item("1", Some(2_400), Some(3));
        let bare = sample_item("2", None, None);
        for locale in [Locale::Ja, Locale::En] {
            for scenario in Scenario::ALL {
                let order = Scenario::ORDER
                    .contains(&scenario)
                    .then(templates_order::sample);
                let item_sets = if scenario == Scenario::Birthday {
                    vec![Vec::new()]
                } else if scenario.is_marketing() {
                    vec![vec![full.clone()], vec![full.clone(), bare.clone()]]
                } else {
                    vec![Vec::new()]
                };
                for items in item_sets {
                    self.render(&MessageContext {
                        scenario,
                        locale,
                        customer_id: "sample".into(),
                        items,
                        unsubscribe_url: "https://shop.example/unsubscribe/sample".into(),
                        order: order.clone(),
                    })?;
                }
            }
        }
        Ok(())
    }
}

fn sample_item(sku: &str, old: Option<i64>, left: Option<i64>) -> ItemContext {
    ItemContext {
        sku: sku.into(),
        title: "Sample".into(),
        url: "https://shop.example/p/1".into(),
        image_url: String::new(),
        currency: "JPY".into(),
        price_minor: 1_980,
        old_price_minor: old,
        stock_left: left,
    }
}

/// Files in the override directory that match no template are almost always typos
/// (`back_in_stok.html`), which would otherwise be silently ignored.
fn reject_unknown_files(dir: &Path) -> Result<(), TemplateError> {
    for loc in ["ja", "en"] {
        let sub = dir.join(loc);
        let entries = match std::fs::read_dir(&sub) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(TemplateError::Read { path: sub, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| TemplateError::Read {
                path: sub.clone(),
                source,
            })?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let name = format!("{loc}/{file}");
            if !file.starts_with('.') && !BUILTIN.iter().any(|(n, _)| *n == name) {
                let known: Vec<&str> = BUILTIN
                    .iter()
                    .filter_map(|(n, _)| n.strip_prefix("ja/"))
                    .collect();
                return Err(TemplateError::Unknown {
                    path: entry.path(),
                    known: known.join(", "),
                });
            }
        }
    }
    Ok(())
}

/// HTML-escapes like minijinja's default but leaves `/` alone: `href="https:&#x2f;&#x2f;…"`
/// is valid, yet spam filters and some mail clients treat entity-encoded links as suspect.
fn html_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    if state.auto_escape() != AutoEscape::Html
        || value.is_safe()
        || value.is_none()
        || value.is_undefined()
    {
        return minijinja::escape_formatter(out, state, value);
    }
    let raw = value.to_string();
    let mut escaped = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped).map_err(minijinja::Error::from)
}

/// Collapses runs of blank lines left by template tags and ends with one newline.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The template variables of a message and its templates' name prefix (`ja/price_drop`).
/// A stock scenario or an offer needs items; an order update needs an order with lines.
fn variables(ctx: &MessageContext) -> Result<(Value, String), TemplateError> {
    let scenario = ctx.scenario;
    // A cart reminder's `order` is optional: the lines it left out (notify-me hint). The
    // last chance and a birthday are about the customer, not an order or a product; a
    // win-back is about products.
    let about_customer = matches!(scenario, Scenario::LastChance | Scenario::Birthday);
    let needs_order = scenario.trigger().is_none()
        && !scenario.is_journey()
        && !about_customer
        && scenario != Scenario::WinBack;
    let order = ctx.order.as_ref().filter(|o| !o.lines.is_empty());
    if needs_order && order.is_none() {
        return Err(TemplateError::NoOrder {
            customer_id: ctx.customer_id.clone(),
            scenario: scenario.as_str(),
        });
    }
    if scenario.is_marketing() && !about_customer && ctx.items.is_empty() {
        return Err(TemplateError::NoItems {
            customer_id: ctx.customer_id.clone(),
        });
    }
    let loc = locale_dir(ctx.locale);
    let order = order.map(|o| templates_order::vars(o, scenario, ctx.locale));
    let vars = context! {
        scenario => scenario.as_str(),
        class => scenario.class().as_str(),
        locale => loc,
        customer_id => &ctx.customer_id,
        items => &ctx.items,
        item => ctx.items.first(),
        count => ctx.items.len(),
        digest => ctx.items.len() > 1,
        unsubscribe_url => &ctx.unsubscribe_url,
        coupon_code => ctx.order.as_ref().map_or("", |o| o.coupon_code.as_str()),
        line => order.as_ref().and_then(|o| o.lines.first()),
        order => order,
    };
    Ok((vars, format!("{loc}/{}", scenario.as_str())))
}

/// Formats a price in minor units: zero-decimal currencies (JPY, KRW) as `¥1,980`, the
/// rest with two decimals (`$19.80`); an unknown currency code prefixes the number.
pub fn format_price(minor: i64, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let (symbol, decimals) = match code.as_str() {
        "JPY" => ("¥".to_string(), false),
        "KRW" => ("₩".to_string(), false),
        "USD" => ("$".to_string(), true),
        "EUR" => ("€".to_string(), true),
        "GBP" => ("£".to_string(), true),
        "" => (String::new(), true),
        other => (format!("{other} "), true),
    };
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let whole = if decimals { abs / 100 } else { abs };
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if decimals {
        format!("{sign}{symbol}{grouped}.{:02}", abs % 100)
    } else {
        format!("{sign}{symbol}{grouped}")
    }
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "templates_order_tests.rs"]
mod order_tests;
