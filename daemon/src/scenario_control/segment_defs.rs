//! Segment definitions in force: the config's (`[segments.<name>]`, read-only), the
//! API's (kept as JSON in the meta column family under `segment_definitions`, loaded at
//! start) and the eleven built-in RFM groups. Also the SKU → categories map that
//! `bought category` reads, refreshed from the products column family at most every
//! [`CATEGORY_REFRESH_MS`] while some definition uses a category.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use thiserror::Error;

use crate::domain::segments::definition::{builtins, compile, Definition, DefinitionText, Source};
use crate::domain::segments::predicate::{EvalCtx, Pred};
use crate::domain::segments::{NoScores, Row, ScoreSource};
use crate::domain::Millis;
use crate::segment_board::SegmentBoard;
use crate::store::meta::SegmentDefinitions;
use crate::store::records::Products;
use crate::store::writer::Writer;
use crate::store::{Batch, Seek, Store, StoreError};

/// How old the category map may get before a reader refreshes it.
pub const CATEGORY_REFRESH_MS: Millis = 60_000;

/// SKU → its catalogue categories.
pub type CategoryMap = HashMap<String, Vec<String>>;

#[derive(Debug, Error)]
pub enum SegmentDefError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("name: segment \"{0}\" already exists ({1}); choose another name or UpdateSegment it")]
    Exists(String, &'static str),
    #[error("name: segment \"{0}\" is not defined; ListSegments shows the defined ones")]
    NotFound(String),
    #[error("name: segment \"{0}\" is defined by the {1} and read-only here; {2}")]
    ReadOnly(String, &'static str, &'static str),
    #[error("name: segment \"{0}\" is used by scenario(s) {1}; remove it from their include_segments / exclude_segments (UpdateScenario) first")]
    InUse(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every segment definition in force.
pub struct SegmentDefs {
    config: Vec<Arc<Definition>>,
    builtin: Vec<Arc<Definition>>,
    api: RwLock<BTreeMap<String, Arc<Definition>>>,
    store: Store,
    writer: Writer,
    /// One change at a time: check, store, publish.
    updating: tokio::sync::Mutex<()>,
    categories: RwLock<Arc<CategoryMap>>,
    /// When `categories` was read (0 = never).
    categories_at: AtomicI64,
}

impl SegmentDefs {
    /// The config's definitions (already checked) plus the API's stored ones.
    pub fn load(
        config: Vec<Definition>,
        store: Store,
        writer: Writer,
    ) -> Result<SegmentDefs, SegmentDefError> {
        let stored = store.get::<SegmentDefinitions>(())?.unwrap_or_default();
        let mut api = BTreeMap::new();
        for text in stored {
            match compile(text.clone(), Source::Api) {
                Ok(d) => {
                    api.insert(d.text.name.clone(), Arc::new(d));
                }
                // A definition the current parser refuses is kept out (and logged), not
                // fatal: the others still work.
                Err(e) => {
                    tracing::warn!(segment = %text.name, error = %e, "A stored segment definition no longer parses; it is ignored until updated or deleted.")
                }
            }
        }
        Ok(SegmentDefs {
            config: config.into_iter().map(Arc::new).collect(),
            builtin: builtins().into_iter().map(Arc::new).collect(),
            api: RwLock::new(api),
            store,
            writer,
            updating: tokio::sync::Mutex::new(()),
            categories: RwLock::new(Arc::new(CategoryMap::new())),
            categories_at: AtomicI64::new(0),
        })
    }

    fn api_snapshot(&self) -> BTreeMap<String, Arc<Definition>> {
        match self.api.read() {
            Ok(a) => a.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The definition named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Definition>> {
        self.config
            .iter()
            .chain(self.builtin.iter())
            .find(|d| d.text.name == name)
            .cloned()
            .or_else(|| match self.api.read() {
                Ok(a) => a.get(name).cloned(),
                Err(p) => p.into_inner().get(name).cloned(),
            })
    }

    /// Every definition: config ones, API ones (by name), built-ins.
    pub fn list(&self) -> Vec<Arc<Definition>> {
        let mut out: Vec<Arc<Definition>> = self.config.clone();
        out.extend(self.api_snapshot().into_values());
        out.extend(self.builtin.iter().cloned());
        out
    }

    pub fn names(&self) -> Vec<String> {
        self.list().iter().map(|d| d.text.name.clone()).collect()
    }

    /// Definitions with `webhook = true` (the membership sync's segments).
    pub fn webhook_segments(&self) -> Vec<Arc<Definition>> {
        self.list().into_iter().filter(|d| d.text.webhook).collect()
    }

    /// Adds an API definition; stored before it is published.
    pub async fn create(&self, text: DefinitionText) -> Result<Arc<Definition>, SegmentDefError> {
        let _one = self.updating.lock().await;
        if let Some(d) = self.get(&text.name) {
            return Err(SegmentDefError::Exists(text.name, d.source.as_str()));
        }
        let def = Arc::new(compile(text, Source::Api).map_err(invalid)?);
        let mut next = self.api_snapshot();
        next.insert(def.text.name.clone(), def.clone());
        self.store_and_publish(next).await?;
        Ok(def)
    }

    /// Replaces an API definition's match / description / webhook.
    pub async fn update(&self, text: DefinitionText) -> Result<Arc<Definition>, SegmentDefError> {
        let _one = self.updating.lock().await;
        self.check_api_owned(&text.name)?;
        let def = Arc::new(compile(text, Source::Api).map_err(invalid)?);
        let mut next = self.api_snapshot();
        next.insert(def.text.name.clone(), def.clone());
        self.store_and_publish(next).await?;
        Ok(def)
    }

    /// Deletes an API definition; `used_by` are the scenarios that name it.
    pub async fn delete(&self, name: &str, used_by: &[String]) -> Result<(), SegmentDefError> {
        let _one = self.updating.lock().await;
        self.check_api_owned(name)?;
        if !used_by.is_empty() {
            return Err(SegmentDefError::InUse(name.to_owned(), used_by.join(", ")));
        }
        let mut next = self.api_snapshot();
        next.remove(name);
        self.store_and_publish(next).await
    }

    fn check_api_owned(&self, name: &str) -> Result<(), SegmentDefError> {
        match self.get(name) {
            None => Err(SegmentDefError::NotFound(name.to_owned())),
            Some(d) => match d.source {
                Source::Api => Ok(()),
                Source::Config => Err(SegmentDefError::ReadOnly(
                    name.to_owned(),
                    "config file",
                    "change [segments.<name>] in the config and restart",
                )),
                Source::Builtin => Err(SegmentDefError::ReadOnly(
                    name.to_owned(),
                    "daemon (a built-in RFM group)",
                    "create a segment of your own, e.g. with match = rfm \"champions\" and more",
                )),
            },
        }
    }

    async fn store_and_publish(
        &self,
        next: BTreeMap<String, Arc<Definition>>,
    ) -> Result<(), SegmentDefError> {
        let texts: Vec<DefinitionText> = next.values().map(|d| d.text.clone()).collect();
        let mut batch = Batch::default();
        batch.put::<SegmentDefinitions>((), &texts);
        self.writer.write(batch, 0).await?;
        match self.api.write() {
            Ok(mut a) => *a = next,
            Err(p) => *p.into_inner() = next,
        }
        Ok(())
    }

    /// The SKU → categories map, refreshed (one scan of the products column family)
    /// when older than [`CATEGORY_REFRESH_MS`] and some definition reads categories.
    /// Blocking: call it off the async workers (or accept the cached map).
    pub fn categories(&self, now: Millis) -> Arc<CategoryMap> {
        let cached = match self.categories.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let at = self.categories_at.load(Ordering::Relaxed);
        if now - at < CATEGORY_REFRESH_MS || !self.list().iter().any(|d| d.pred.uses_categories()) {
            return cached;
        }
        self.categories_at.store(now, Ordering::Relaxed);
        match read_categories(&self.store) {
            Ok(map) => {
                let map = Arc::new(map);
                match self.categories.write() {
                    Ok(mut c) => *c = map.clone(),
                    Err(p) => *p.into_inner() = map.clone(),
                }
                map
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read product categories for segments; using the last ones read.");
                cached
            }
        }
    }

    /// The categories as last read, without refreshing (for async callers).
    pub fn cached_categories(&self) -> Arc<CategoryMap> {
        match self.categories.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The membership test of `def` now: its predicate with the cached categories and,
    /// when it reads them, the board's scores.
    pub fn test_of(&self, def: &Definition, board: &SegmentBoard, now: Millis) -> MemberTest {
        MemberTest {
            pred: def.pred.clone(),
            categories: self.cached_categories(),
            scores: if def.pred.uses_scores() {
                board.scores(now)
            } else {
                Arc::new(NoScores)
            },
            now_ms: now,
        }
    }

    /// The members now (customer ids, sorted) of each segment with `webhook = true`,
    /// from one scan of the board.
    pub fn webhook_members(&self, board: &SegmentBoard, now: Millis) -> Vec<(String, Vec<String>)> {
        let defs = self.webhook_segments();
        let tests: Vec<MemberTest> = defs.iter().map(|d| self.test_of(d, board, now)).collect();
        let mut members: Vec<Vec<String>> = vec![Vec::new(); tests.len()];
        board.scan(|rows| {
            for row in rows {
                for (t, ids) in tests.iter().zip(members.iter_mut()) {
                    if t.matches(row) {
                        ids.push(row.customer_id.clone());
                    }
                }
            }
        });
        defs.iter()
            .zip(members)
            .map(|(def, mut ids)| {
                ids.sort_unstable();
                (def.text.name.clone(), ids)
            })
            .collect()
    }

    /// Whether `row` is in segment `name` (false for an unknown name).
    pub fn is_member(
        &self,
        name: &str,
        row: &Row,
        now: Millis,
        categories: &CategoryMap,
        scores: &dyn ScoreSource,
    ) -> bool {
        self.get(name).is_some_and(|d| {
            d.pred.matches(
                row,
                &EvalCtx {
                    now_ms: now,
                    categories,
                    scores,
                },
            )
        })
    }
}

/// How often the refresher looks at the category map (it re-reads the catalogue only
/// when the map is older than [`CATEGORY_REFRESH_MS`] and a definition reads categories).
const REFRESH_TICK: std::time::Duration = std::time::Duration::from_secs(5);

impl SegmentDefs {
    /// Keeps the category map fresh off the async workers until `shutdown`.
    pub fn start_refresh(
        self: Arc<Self>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let defs = self.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    defs.categories(crate::clock::now_ms());
                })
                .await;
                tokio::select! {
                    _ = tokio::time::sleep(REFRESH_TICK) => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        })
    }
}

fn invalid(e: crate::domain::segments::definition::DefinitionError) -> SegmentDefError {
    SegmentDefError::Invalid {
        field: e.field,
        message: e.message,
    }
}

fn read_categories(store: &Store) -> Result<CategoryMap, StoreError> {
    let mut out = CategoryMap::new();
    for p in store.iter::<Products>(Seek::First)? {
        let (sku, p) = p?;
        if !p.catalogue.category_ids.is_empty() {
            out.insert(sku, p.catalogue.category_ids.clone());
        }
    }
    Ok(out)
}

/// A compiled membership test: the predicate with the categories and scores it reads.
pub struct MemberTest {
    pub pred: Pred,
    pub categories: Arc<CategoryMap>,
    pub scores: Arc<dyn ScoreSource>,
    pub now_ms: Millis,
}

impl MemberTest {
    pub fn matches(&self, row: &Row) -> bool {
        self.pred.matches(
            row,
            &EvalCtx {
                now_ms: self.now_ms,
                categories: self.categories.as_ref(),
                scores: self.scores.as_ref(),
            },
        )
    }
}

#[cfg(test)]
#[path = "segment_defs_tests.rs"]
mod tests;
