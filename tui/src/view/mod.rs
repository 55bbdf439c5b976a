//! Pure rendering: `render(&App, frame)` draws the tab bar, the health line, the current
//! view, its message line and the key help. Views read the app and never change it, so
//! tests draw them on a `TestBackend` from fixed state.

mod chrome;
mod common;
mod customers;
mod delivery;
mod engagement;
mod orders;
mod overview;
mod products;
mod scenario_edit;
mod scenarios;
mod segments;

use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use crate::app::App;
use crate::state::ViewId;

/// Below this width views switch to their narrow layout.
pub const WIDE: u16 = 100;

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let [tabs, health, body, note, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(chrome::tabs(app.view, tabs.width), tabs);
    frame.render_widget(chrome::health(app, health.width), health);
    match app.view {
        ViewId::Overview => overview::render(app, frame, body),
        ViewId::Scenarios => scenarios::render(app, frame, body),
        ViewId::Products => products::render(app, frame, body),
        ViewId::Customers => customers::render(app, frame, body),
        ViewId::Delivery => delivery::render(app, frame, body),
        ViewId::Orders => orders::render(app, frame, body),
        ViewId::Segments => segments::render(app, frame, body),
    }
    frame.render_widget(chrome::note(app), note);
    frame.render_widget(chrome::help(app, help.width), help);
}
