//! Segment definitions: a name, a predicate, a description and the webhook flag; where
//! each comes from (config, API, built in). Built-ins are `rfm:<group>`, one per
//! [`RfmGroup`], matched through the score source.

use serde::{Deserialize, Serialize};

use super::parse::parse;
use super::predicate::Pred;
use super::RfmGroup;

/// Longest name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 1000;
/// Prefix of the built-in RFM segments.
pub const RFM_PREFIX: &str = "rfm:";

/// Where a definition comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Config,
    Api,
    Builtin,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Api => "api",
            Source::Builtin => "builtin",
        }
    }
}

/// A definition as written (config, API, or the store's JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionText {
    pub name: String,
    #[serde(rename = "match")]
    pub match_: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub webhook: bool,
}

/// A checked definition with its predicate compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub text: DefinitionText,
    pub source: Source,
    pub pred: Pred,
}

impl Definition {
    /// The predicate's canonical text.
    pub fn canonical(&self) -> String {
        self.pred.to_string()
    }
}

/// A definition error: the field (`name`, `match`, `description`) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Checks a user-given segment name (1..64 bytes of a-z 0-9 _ -, starting with a letter).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.starts_with(RFM_PREFIX) {
        return Err(format!(
            "\"{name}\" is a built-in RFM segment name; choose a name without \"{RFM_PREFIX}\""
        ));
    }
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "must be 1 to {MAX_NAME} bytes (got {}); use e.g. \"repeat_buyers\"",
            name.len()
        ));
    }
    if !name.as_bytes()[0].is_ascii_lowercase() {
        return Err(format!(
            "\"{name}\" must start with a letter a-z; e.g. \"vip-{name}\""
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "\"{name}\" holds '{bad}'; use only a-z, 0-9, '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks a user-given definition and compiles its predicate.
pub fn compile(text: DefinitionText, source: Source) -> Result<Definition, DefinitionError> {
    check_name(&text.name).map_err(|message| DefinitionError {
        field: "name",
        message,
    })?;
    let pred = parse(&text.match_).map_err(|message| DefinitionError {
        field: "match",
        message,
    })?;
    let n = text.description.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(DefinitionError {
            field: "description",
            message: format!("is {n} characters; keep it at most {MAX_DESCRIPTION}"),
        });
    }
    Ok(Definition { text, source, pred })
}

/// The eleven built-in RFM segments.
pub fn builtins() -> Vec<Definition> {
    RfmGroup::ALL
        .into_iter()
        .map(|g| {
            let pred = Pred::Rfm(g);
            Definition {
                text: DefinitionText {
                    name: format!("{RFM_PREFIX}{}", g.as_str()),
                    match_: pred.to_string(),
                    description: format!("Built-in RFM group {}.", g.as_str()),
                    webhook: false,
                },
                source: Source::Builtin,
                pred,
            }
        })
        .collect()
}

/// A marketing scenario's audience by segment: when `include` is not empty only its
/// members are candidates; members of `exclude` never are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Audience {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether the audience names segment `name`.
    pub fn names(&self, name: &str) -> bool {
        self.include
            .iter()
            .chain(self.exclude.iter())
            .any(|n| n == name)
    }

    /// Whether a customer is in the audience, given their membership test.
    pub fn admits(&self, is_member: impl Fn(&str) -> bool) -> bool {
        (self.include.is_empty() || self.include.iter().any(|n| is_member(n)))
            && !self.exclude.iter().any(|n| is_member(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, m: &str) -> DefinitionText {
        DefinitionText {
            name: name.into(),
            match_: m.into(),
            description: String::new(),
            webhook: false,
        }
    }

    #[test]
    fn names() {
        assert!(check_name("repeat_buyers").is_ok());
        assert!(check_name("a").is_ok());
        assert!(check_name("vip-2").is_ok());
        assert!(check_name(&"a".repeat(64)).is_ok());
        assert!(check_name(&"a".repeat(65)).is_err());
        assert!(check_name("").is_err());
        assert!(check_name("2vip").is_err());
        assert!(check_name("_x").is_err());
        assert!(check_name("Vip").is_err());
        assert!(check_name("a b").unwrap_err().contains("' '"));
        assert!(check_name("rfm:champions")
            .unwrap_err()
            .contains("built-in"));
    }

    #[test]
    fn compile_names_the_field() {
        let e = compile(text("Bad", "orders >= 1"), Source::Api).unwrap_err();
        assert_eq!(e.field, "name");
        let e = compile(text("ok", "orders >= "), Source::Api).unwrap_err();
        assert_eq!(e.field, "match");
        assert!(e.message.starts_with("at 10:"), "{}", e.message);
        let mut t = text("ok", "coupon");
        t.description = "x".repeat(1001);
        assert_eq!(compile(t, Source::Api).unwrap_err().field, "description");
        let d = compile(
            text("ok", "orders>=2 AND".to_lowercase().as_str()),
            Source::Api,
        );
        assert!(d.is_err());
        let d = compile(text("ok", "orders>=2   and  coupon"), Source::Api).unwrap();
        assert_eq!(d.canonical(), "orders >= 2 and coupon");
    }

    #[test]
    fn audiences_include_then_exclude() {
        let a = Audience {
            include: vec!["a".into(), "b".into()],
            exclude: vec!["x".into()],
        };
        assert!(a.admits(|n| n == "b"));
        assert!(!a.admits(|n| n == "c"));
        assert!(!a.admits(|n| n == "a" || n == "x"));
        let only_ex = Audience {
            include: vec![],
            exclude: vec!["x".into()],
        };
        assert!(only_ex.admits(|_| false));
        assert!(!only_ex.admits(|n| n == "x"));
        assert!(Audience::default().admits(|_| true));
        assert!(a.names("x") && !a.names("c"));
    }

    #[test]
    fn builtins_are_the_rfm_groups() {
        let b = builtins();
        assert_eq!(b.len(), 11);
        assert_eq!(b[0].text.name, "rfm:champions");
        assert_eq!(b[0].canonical(), "rfm \"champions\"");
        assert!(b.iter().all(|d| d.source == Source::Builtin));
    }
}
