//! Waiting with a deadline instead of sleeping for a fixed time: [`poll_until`] re-checks a
//! condition until it holds, [`next_matching`] reads a stream (an overview stream, a
//! channel) until an item that counts arrives. [`give_up`] marks an error that waiting
//! cannot mend (the process exited), so that the wait ends at once.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio::time::Instant;
use tokio_stream::{Stream, StreamExt};

/// How often [`poll_until`] re-checks.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Runs `check` every 20 ms until it returns `Ok`, and returns that value. An `Err` means
/// "not yet"; when `timeout` has passed the last one is returned, so make it say what was
/// seen (e.g. with `anyhow::ensure!`). An error made with [`give_up`] is returned at once.
///
/// ```no_run
/// # async fn f(admin: &mut stockbell_tests::AdminClient) -> anyhow::Result<()> {
/// use std::time::Duration;
/// use stockbell_tests::{poll_until, product};
/// let stock = poll_until(Duration::from_secs(10), || async {
///     let p = product(&mut admin.clone(), "a").await?;
///     anyhow::ensure!(p.stock == 5, "stock is {}", p.stock);
///     Ok(p.stock)
/// })
/// .await?;
/// # let _ = stock; Ok(()) }
/// ```
///
/// A check that needs `&mut` access to something the caller owns can do its work in the
/// closure and hand back a finished future: `|| std::future::ready(proc.try_exit())`.
pub async fn poll_until<T, F, Fut>(timeout: Duration, check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    poll_every(POLL_EVERY, timeout, check).await
}

/// [`poll_until`] re-checking every `every` (the load generator polls its counters every
/// few milliseconds to time them).
pub async fn poll_every<T, F, Fut>(every: Duration, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(e) => match e.downcast::<GiveUp>() {
                Ok(GiveUp(cause)) => return Err(cause),
                Err(e) => e,
            },
        };
        if Instant::now() >= deadline {
            return Err(anyhow!("condition not met within {timeout:?}: {last:#}"));
        }
        tokio::time::sleep(every).await;
    }
}

/// Marks `cause` as final: [`poll_until`] returns it at once instead of trying again.
pub fn give_up(cause: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(GiveUp(cause))
}

/// An error that ends a wait at once; see [`give_up`]. It reads as its cause.
#[derive(Debug)]
pub struct GiveUp(pub anyhow::Error);

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for GiveUp {}

/// Reads `stream` until `pick` accepts an item (returns `Some`), for up to `timeout`, and
/// returns what `pick` made of it. Items `pick` answers `None` are skipped; an `Err` from
/// `pick` ends the wait with that error. `what` names the awaited item in the errors for
/// a timeout and for a stream that ends first.
pub async fn next_matching<S, T>(
    stream: &mut S,
    timeout: Duration,
    what: &str,
    mut pick: impl FnMut(S::Item) -> Result<Option<T>>,
) -> Result<T>
where
    S: Stream + Unpin,
{
    let deadline = Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => bail!("no {what} within {timeout:?}"),
            Ok(None) => bail!("the stream ended while waiting for {what}"),
            Ok(Some(item)) => {
                if let Some(v) = pick(item)? {
                    return Ok(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn polls_until_the_check_holds() {
        let calls = Cell::new(0);
        let n = poll_until(Duration::from_secs(5), || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                anyhow::ensure!(n >= 3, "only {n} calls");
                Ok(n)
            }
        })
        .await
        .expect("holds on the third call");
        assert_eq!(n, 3);
    }

    #[tokio::test]
    async fn a_timeout_reports_the_last_answer() {
        let e = poll_every(
            Duration::from_millis(5),
            Duration::from_millis(30),
            || async { Err::<(), _>(anyhow!("still 7")) },
        )
        .await
        .expect_err("never holds");
        let text = format!("{e:#}");
        assert!(
            text.contains("within 30ms") && text.contains("still 7"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn giving_up_ends_the_wait_at_once_with_the_cause() {
        let calls = Cell::new(0);
        let started = Instant::now();
        let e = poll_until(Duration::from_secs(30), || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(give_up(anyhow!("the daemon exited (status 1)"))) }
        })
        .await
        .expect_err("gives up");
        assert_eq!(calls.get(), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(format!("{e:#}"), "the daemon exited (status 1)");
    }

    #[tokio::test]
    async fn next_matching_skips_items_and_names_what_never_came() {
        let mut s = tokio_stream::iter([1, 2, 3, 4]);
        let v = next_matching(&mut s, Duration::from_secs(5), "an even number > 2", |n| {
            Ok((n % 2 == 0 && n > 2).then_some(n * 10))
        })
        .await
        .expect("4 comes");
        assert_eq!(v, 40);
        let e = next_matching(&mut s, Duration::from_secs(5), "a fifth number", |n| {
            Ok(Some(n))
        })
        .await
        .expect_err("ended");
        assert!(
            e.to_string()
                .contains("ended while waiting for a fifth number"),
            "{e}"
        );
        let mut pending = tokio_stream::pending::<i32>();
        let e = next_matching(&mut pending, Duration::from_millis(20), "anything", |n| {
            Ok(Some(n))
        })
        .await
        .expect_err("times out");
        assert!(e.to_string().contains("no anything within 20ms"), "{e}");
    }
}
