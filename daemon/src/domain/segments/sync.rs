//! Membership changes of segments synced to the shop: the difference between a
//! segment's members now and the members stored at the last sweep.

use serde::{Deserialize, Serialize};

use crate::domain::Millis;

/// A customer entered or left a segment (the `segment_changes` log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub segment: String,
    pub customer_id: String,
    pub entered: bool,
    pub at_ms: Millis,
}

/// The customers in `now` but not in `stored` (entered), and in `stored` but not in
/// `now` (left). Both inputs sorted ascending without duplicates.
pub fn diff<'a>(now: &'a [String], stored: &'a [String]) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut entered, mut left) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < now.len() || j < stored.len() {
        match (now.get(i), stored.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                entered.push(a.as_str());
                i += 1;
            }
            (Some(_), Some(b)) => {
                left.push(b.as_str());
                j += 1;
            }
            (Some(a), None) => {
                entered.push(a.as_str());
                i += 1;
            }
            (None, Some(b)) => {
                left.push(b.as_str());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (entered, left)
}

#[cfg(test)]
mod tests {
    use super::diff;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn entered_and_left_are_the_two_set_differences() {
        let now = ids(&["a", "c", "d", "f"]);
        let stored = ids(&["b", "c", "e", "f", "g"]);
        let (entered, left) = diff(&now, &stored);
        assert_eq!(entered, ["a", "d"]);
        assert_eq!(left, ["b", "e", "g"]);
    }

    #[test]
    fn empty_sides() {
        let x = ids(&["a", "b"]);
        assert_eq!(diff(&x, &[]), (vec!["a", "b"], vec![]));
        assert_eq!(diff(&[], &x), (vec![], vec!["a", "b"]));
        assert_eq!(diff(&x, &x), (vec![], vec![]));
    }
}
