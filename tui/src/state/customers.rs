//! Customers: look one up by id or email and keep what `GetCustomer` said (consent,
//! interests, cap ledger, held and recent messages), scrolled as one page.

use stockbell_proto::v1 as pb;
use tonic::Code;

use super::{Note, Remote, PAGE};
use crate::input::Action;
use crate::rpc::{CustomerKey, Reply, Request};

#[derive(Debug, Default)]
pub struct CustomersState {
    /// The lookup box: an id, or an email when it contains `@`.
    pub input: String,
    pub typing: bool,
    /// What `customer` answers.
    pub key: Option<CustomerKey>,
    pub customer: Remote<pb::Customer>,
    /// First line shown of the customer page.
    pub scroll: u16,
    pub note: Option<Note>,
}

impl CustomersState {
    pub fn handle(&mut self, action: Action) -> Vec<Request> {
        if self.typing {
            match action {
                Action::Char(c) if self.input.chars().count() < 200 => self.input.push(c),
                Action::Erase => {
                    self.input.pop();
                }
                Action::Back => self.typing = false,
                Action::Enter => {
                    self.typing = false;
                    match CustomerKey::parse(&self.input) {
                        Some(key) => return self.look_up(key),
                        None => self.note = Note::error("type a customer id or an email address"),
                    }
                }
                _ => {}
            }
            return Vec::new();
        }
        let page = PAGE as u16;
        match action {
            Action::Search => self.typing = true,
            Action::Up => self.scroll = self.scroll.saturating_sub(1),
            Action::Down => self.scroll = self.scroll.saturating_add(1),
            Action::PageUp => self.scroll = self.scroll.saturating_sub(page),
            Action::PageDown => self.scroll = self.scroll.saturating_add(page),
            Action::Top => self.scroll = 0,
            Action::Refresh => {
                if let Some(key) = self.key.clone() {
                    return self.look_up(key);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn look_up(&mut self, key: CustomerKey) -> Vec<Request> {
        if self.key.as_ref() == Some(&key) {
            self.customer.reload();
        } else {
            self.customer = Remote::Loading;
            self.scroll = 0;
        }
        self.key = Some(key.clone());
        self.note = None;
        vec![Request::GetCustomer { key }]
    }

    pub fn on_reply(&mut self, reply: Reply) {
        let Reply::Customer { key, result } = reply else {
            return;
        };
        if self.key.as_ref() != Some(&key) {
            return;
        }
        if let (CustomerKey::Email(_), Err(e)) = (&key, &result) {
            if matches!(e.code, Code::Unimplemented | Code::InvalidArgument) {
                self.note = Note::error(
                    "this daemon may not look customers up by email yet; try the customer id",
                );
            }
        }
        self.customer = result.map(|c| *c).into();
    }
}
