//! Keys to actions. What a key means depends only on the [`Mode`] (typing text, answering
//! a yes/no question, or moving around), so the mapping is a pure function; what an
//! action does is up to the view that has focus.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::state::ViewId;

/// How keys are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Single-key commands.
    Normal,
    /// Typing into a box: characters are text, Enter submits, Esc cancels.
    Text,
    /// A yes/no question.
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    NextView,
    PrevView,
    Show(ViewId),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: open the selection, or submit what was typed.
    Enter,
    /// Esc: cancel what is being typed.
    Back,
    Char(char),
    Erase,
    /// Space or `e`: enable / disable.
    Toggle,
    Priority,
    Threshold,
    /// `c`: edit a scenario's channels.
    Channels,
    /// `/`: start typing a search or lookup.
    Search,
    /// `s`: next outbox state; the next list in the Orders view.
    CycleState,
    /// `r`: retry the selected outbox entry.
    Retry,
    /// `R` or F5: ask again.
    Refresh,
    /// `x`: export the selected segment to a CSV file.
    Export,
    Yes,
    No,
}

/// The action for a key in a mode, if it has one.
pub fn map_key(mode: Mode, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Normal => normal(key.code, ctrl),
        Mode::Text => text(key.code, ctrl || key.modifiers.contains(KeyModifiers::ALT)),
        Mode::Confirm => match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Yes),
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => Some(Action::No),
            _ => None,
        },
    }
}

fn normal(code: KeyCode, ctrl: bool) -> Option<Action> {
    if ctrl {
        return None;
    }
    Some(match code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab => Action::NextView,
        KeyCode::BackTab => Action::PrevView,
        KeyCode::Char(c @ '1'..='7') => Action::Show(ViewId::from_digit(c.to_digit(10)?)?),
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc => Action::Back,
        KeyCode::Char(' ' | 'e') => Action::Toggle,
        KeyCode::Char('p') => Action::Priority,
        KeyCode::Char('t') => Action::Threshold,
        KeyCode::Char('c') => Action::Channels,
        KeyCode::Char('/') => Action::Search,
        KeyCode::Char('s') => Action::CycleState,
        KeyCode::Char('r') => Action::Retry,
        KeyCode::Char('R') | KeyCode::F(5) => Action::Refresh,
        KeyCode::Char('x') => Action::Export,
        _ => return None,
    })
}

fn text(code: KeyCode, modified: bool) -> Option<Action> {
    Some(match code {
        KeyCode::Enter => Action::Enter,
        KeyCode::Esc => Action::Back,
        KeyCode::Backspace => Action::Erase,
        KeyCode::Up => Action::Up,
        KeyCode::Down => Action::Down,
        KeyCode::Char(c) if !modified && !c.is_control() => Action::Char(c),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn normal_keys() {
        let m = |c| map_key(Mode::Normal, key(c));
        assert_eq!(m(KeyCode::Char('q')), Some(Action::Quit));
        assert_eq!(m(KeyCode::Char('3')), Some(Action::Show(ViewId::Products)));
        assert_eq!(m(KeyCode::Char('6')), Some(Action::Show(ViewId::Orders)));
        assert_eq!(m(KeyCode::Char('7')), Some(Action::Show(ViewId::Segments)));
        assert_eq!(m(KeyCode::Char('8')), None);
        assert_eq!(m(KeyCode::Char('x')), Some(Action::Export));
        assert_eq!(m(KeyCode::Tab), Some(Action::NextView));
        assert_eq!(m(KeyCode::BackTab), Some(Action::PrevView));
        assert_eq!(m(KeyCode::Char(' ')), Some(Action::Toggle));
        assert_eq!(m(KeyCode::Char('e')), Some(Action::Toggle));
        assert_eq!(m(KeyCode::Char('t')), Some(Action::Threshold));
        assert_eq!(m(KeyCode::Char('c')), Some(Action::Channels));
        assert_eq!(m(KeyCode::Char('s')), Some(Action::CycleState));
        assert_eq!(m(KeyCode::Char('r')), Some(Action::Retry));
        assert_eq!(m(KeyCode::Char('R')), Some(Action::Refresh));
        assert_eq!(m(KeyCode::Char('j')), Some(Action::Down));
    }

    #[test]
    fn ctrl_c_quits_in_every_mode() {
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [Mode::Normal, Mode::Text, Mode::Confirm] {
            assert_eq!(map_key(mode, k), Some(Action::Quit));
        }
    }

    #[test]
    fn typing_takes_letters_that_are_commands_elsewhere() {
        let m = |c| map_key(Mode::Text, key(c));
        assert_eq!(m(KeyCode::Char('q')), Some(Action::Char('q')));
        assert_eq!(m(KeyCode::Char('1')), Some(Action::Char('1')));
        assert_eq!(m(KeyCode::Char('@')), Some(Action::Char('@')));
        assert_eq!(m(KeyCode::Backspace), Some(Action::Erase));
        assert_eq!(m(KeyCode::Esc), Some(Action::Back));
        assert_eq!(m(KeyCode::Tab), None);
    }

    #[test]
    fn confirmation_is_yes_or_no() {
        let m = |c| map_key(Mode::Confirm, key(c));
        assert_eq!(m(KeyCode::Char('y')), Some(Action::Yes));
        assert_eq!(m(KeyCode::Enter), Some(Action::Yes));
        assert_eq!(m(KeyCode::Esc), Some(Action::No));
        assert_eq!(m(KeyCode::Char('n')), Some(Action::No));
        assert_eq!(m(KeyCode::Char('x')), None);
        assert_eq!(m(KeyCode::Char('1')), None);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut k = key(KeyCode::Char('q'));
        k.kind = KeyEventKind::Release;
        assert_eq!(map_key(Mode::Normal, k), None);
    }
}
