//! CustomerActor: owns one customer's state while active (profile, consent,
//! suppressions, send ledger). Like products, it is activated from RocksDB by the Router
//! and passivated when idle; the Router persists what it returns.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::registry::Virtual;
use crate::domain::profile::{apply, CustomerEvent, CustomerState};
use crate::domain::{Millis, Rejection};
use crate::store::schema::{decode_customer, encode_customer};
use crate::store::{Cf, StoreError};

/// One customer event with its index in the batch.
#[derive(Debug, Clone)]
pub struct CustomerItem {
    pub index: u32,
    pub at_ms: Millis,
    pub event: CustomerEvent,
}

#[derive(Debug, Default)]
pub struct CustomerApplied {
    pub applied: u32,
    pub rejections: Vec<(u32, Rejection)>,
    /// The encoded state, if anything was applied.
    pub state: Option<Vec<u8>>,
}

pub enum CustomerMsg {
    Apply {
        items: Vec<CustomerItem>,
        reply: RpcReplyPort<CustomerApplied>,
    },
    Get {
        reply: RpcReplyPort<Option<CustomerState>>,
    },
}

#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerActor;

pub struct CustomerArgs {
    pub id: String,
    pub state: Option<CustomerState>,
}

impl Actor for CustomerActor {
    type Msg = CustomerMsg;
    type State = CustomerArgs;
    type Arguments = CustomerArgs;

    async fn pre_start(
        &self,
        _me: ActorRef<CustomerMsg>,
        args: CustomerArgs,
    ) -> Result<CustomerArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _me: ActorRef<CustomerMsg>,
        msg: CustomerMsg,
        st: &mut CustomerArgs,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CustomerMsg::Apply { items, reply } => {
                let mut out = CustomerApplied::default();
                for item in items {
                    match apply(&mut st.state, &st.id, &item.event, item.at_ms) {
                        Ok(()) => out.applied += 1,
                        Err(r) => out.rejections.push((item.index, r)),
                    }
                }
                if out.applied > 0 {
                    out.state = st.state.as_ref().map(encode_customer);
                }
                let _ = reply.send(out);
            }
            CustomerMsg::Get { reply } => {
                let _ = reply.send(st.state.clone());
            }
        }
        Ok(())
    }
}

impl Virtual for CustomerActor {
    const CF: Cf = Cf::Customers;
    type Loaded = CustomerState;
    type Item = CustomerItem;
    type Reply = CustomerApplied;
    type Shared = ();

    fn decode(bytes: &[u8]) -> Result<CustomerState, StoreError> {
        decode_customer(bytes)
    }

    fn args(id: String, state: Option<CustomerState>, _: &()) -> CustomerArgs {
        CustomerArgs { id, state }
    }

    fn apply_msg(items: Vec<CustomerItem>, reply: RpcReplyPort<CustomerApplied>) -> CustomerMsg {
        CustomerMsg::Apply { items, reply }
    }
}
