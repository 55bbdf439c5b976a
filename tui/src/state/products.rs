//! Products: the search box and its results, and the selected product's detail
//! (`GetProduct`) with its recent triggers (`ListTriggers`) and related products
//! (`GetRelated`).

use stockbell_proto::v1 as pb;

use super::{step, Note, Remote};
use crate::input::Action;
use crate::rpc::{Reply, Request};

#[derive(Debug, Default)]
pub struct ProductsState {
    /// The search box.
    pub query: String,
    pub typing: bool,
    /// The query `results` answer.
    pub searched: String,
    pub results: Remote<pb::SearchProductsResponse>,
    pub selected: usize,
    /// The product shown in detail.
    pub sku: Option<String>,
    pub detail: Remote<pb::Product>,
    pub triggers: Remote<Vec<pb::Trigger>>,
    /// Products bought with it (or its categories' best sellers), as offers see them.
    pub related: Remote<pb::RelatedProducts>,
    pub note: Option<Note>,
}

impl ProductsState {
    fn result_count(&self) -> usize {
        self.results.ready().map_or(0, |r| r.products.len())
    }

    pub fn handle(&mut self, action: Action) -> Vec<Request> {
        if self.typing {
            match action {
                Action::Char(c) if self.query.chars().count() < 120 => self.query.push(c),
                Action::Erase => {
                    self.query.pop();
                }
                Action::Back => self.typing = false,
                Action::Enter => {
                    self.typing = false;
                    return self.search();
                }
                _ => {}
            }
            return Vec::new();
        }
        match action {
            Action::Search => self.typing = true,
            Action::Enter => {
                let sku = self
                    .results
                    .ready()
                    .and_then(|r| r.products.get(self.selected))
                    .map(|p| p.sku.clone());
                if let Some(sku) = sku {
                    return self.open(sku);
                }
            }
            Action::Refresh => match self.sku.clone() {
                Some(sku) => return self.open(sku),
                None => return self.search(),
            },
            a => self.selected = step(self.selected, self.result_count(), a),
        }
        Vec::new()
    }

    fn search(&mut self) -> Vec<Request> {
        self.searched = self.query.trim().to_string();
        self.results = Remote::Loading;
        self.selected = 0;
        self.note = None;
        vec![Request::SearchProducts {
            query: self.searched.clone(),
        }]
    }

    /// Shows one product: its state, its recent triggers and its related products.
    pub fn open(&mut self, sku: String) -> Vec<Request> {
        if self.sku.as_deref() == Some(sku.as_str()) {
            self.detail.reload();
            self.triggers.reload();
            self.related.reload();
        } else {
            self.detail = Remote::Loading;
            self.triggers = Remote::Loading;
            self.related = Remote::Loading;
        }
        self.sku = Some(sku.clone());
        vec![
            Request::GetProduct { sku: sku.clone() },
            Request::ListTriggers { sku: sku.clone() },
            Request::GetRelated { sku },
        ]
    }

    /// Takes this view's replies (others are ignored); may ask for more.
    pub fn on_reply(&mut self, reply: Reply) -> Vec<Request> {
        match reply {
            Reply::Products { query, result } => {
                if query != self.searched {
                    return Vec::new();
                }
                match result {
                    // A daemon without search can still look up an exact SKU.
                    Err(e) if e.is_unimplemented() && !query.is_empty() => {
                        self.note = Note::info(format!(
                            "SearchProducts is not available in this daemon yet; looking up {query:?} as an exact SKU"
                        ));
                        self.results = Remote::Failed(e);
                        return self.open(query);
                    }
                    Ok(r) if r.products.len() == 1 => {
                        let sku = r.products[0].sku.clone();
                        self.results = Remote::Ready(r);
                        return self.open(sku);
                    }
                    r => self.results = r.into(),
                }
            }
            Reply::Product { sku, result } if self.sku.as_deref() == Some(sku.as_str()) => {
                self.detail = result.into();
            }
            Reply::Triggers { sku, result } if self.sku.as_deref() == Some(sku.as_str()) => {
                self.triggers = result.into();
            }
            Reply::Related { sku, result } if self.sku.as_deref() == Some(sku.as_str()) => {
                self.related = result.into();
            }
            _ => {}
        }
        Vec::new()
    }
}
