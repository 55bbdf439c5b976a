//! ProductActor: owns one product's state while it is active. It applies events through
//! the pure rules in `domain::product` and answers with the encoded new state and the
//! effects; the Router persists them and decides when the actor is passivated.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::registry::Virtual;
use crate::domain::order::board::{board_write, BoardWrite};
use crate::domain::product::{apply, Effects, ProductState};
use crate::domain::{Millis, ProductEvent, Rejection, TriggerConfig};
use crate::store::records::Products;
use crate::store::Encoded;

/// One event for this product, with its index in the batch.
#[derive(Debug, Clone)]
pub struct Item {
    pub index: u32,
    pub at_ms: Millis,
    pub event: ProductEvent,
}

/// The outcome of a group of events for one product.
#[derive(Debug, Default)]
pub struct Applied {
    /// Indexes (in the batch) of the items applied.
    pub applied: Vec<u32>,
    pub rejections: Vec<(u32, Rejection)>,
    /// The encoded state after the events, if anything was applied.
    pub state: Option<Encoded<Products>>,
    /// The product's backorder-board row, written with the state: put while its book
    /// owes lines, removed when the book empties.
    pub board: Option<BoardWrite>,
    pub effects: Effects,
}

pub enum ProductMsg {
    Apply {
        items: Vec<Item>,
        reply: RpcReplyPort<Applied>,
    },
    Get {
        reply: RpcReplyPort<Option<ProductState>>,
    },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ProductActor;

pub struct ProductArgs {
    pub sku: String,
    pub state: Option<ProductState>,
    pub cfg: Arc<TriggerConfig>,
}

impl Actor for ProductActor {
    type Msg = ProductMsg;
    type State = ProductArgs;
    type Arguments = ProductArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<ProductMsg>,
        args: ProductArgs,
    ) -> Result<ProductArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<ProductMsg>,
        msg: ProductMsg,
        st: &mut ProductArgs,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ProductMsg::Apply { items, reply } => {
                let mut out = Applied::default();
                let had_book = st.state.as_ref().is_some_and(|p| !p.book.is_empty());
                for item in items {
                    match apply(
                        &mut st.state,
                        &st.sku,
                        &item.event,
                        item.at_ms,
                        &st.cfg,
                        &mut out.effects,
                    ) {
                        Ok(()) => out.applied.push(item.index),
                        Err(r) => out.rejections.push((item.index, r)),
                    }
                }
                if !out.applied.is_empty() {
                    out.state = st.state.as_ref().map(Encoded::new);
                    out.board = board_write(had_book, st.state.as_ref());
                }
                // A dropped reply means the router gave up on this batch; nothing to undo here.
                let _ = reply.send(out);
            }
            ProductMsg::Get { reply } => {
                let _ = reply.send(st.state.clone());
            }
        }
        Ok(())
    }
}

impl Virtual for ProductActor {
    type Schema = Products;
    type Item = Item;
    type Reply = Applied;
    type Shared = Arc<TriggerConfig>;

    fn args(sku: String, state: Option<ProductState>, cfg: &Arc<TriggerConfig>) -> ProductArgs {
        ProductArgs {
            sku,
            state,
            cfg: cfg.clone(),
        }
    }

    fn apply_msg(items: Vec<Item>, reply: RpcReplyPort<Applied>) -> ProductMsg {
        ProductMsg::Apply { items, reply }
    }

    fn get_msg(reply: RpcReplyPort<Option<ProductState>>) -> ProductMsg {
        ProductMsg::Get { reply }
    }
}
