//! Waiting for a condition by polling it, instead of sleeping for a fixed time.

use std::future::Future;
use std::time::Duration;

use anyhow::{anyhow, Result};
use tokio::time::Instant;

/// How often [`poll_until`] re-checks.
pub const POLL_EVERY: Duration = Duration::from_millis(20);

/// Runs `check` every 20 ms until it returns `Ok`, and returns that value. An `Err` means
/// "not yet"; when `timeout` has passed the last one is returned, so make it say what was
/// seen (e.g. with `anyhow::ensure!`).
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
pub async fn poll_until<T, F, Fut>(timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if Instant::now() >= deadline {
            return Err(anyhow!("condition not met within {timeout:?}: {last:#}"));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
