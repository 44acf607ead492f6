//! Players arriving, as a site sees them all day: sign up, open the event
//! socket, receive the lobby's lists on it (as the browser does), and
//! leave.

use std::sync::Arc;

use crate::player::Player;
use crate::summary::Tally;
use crate::{Args, CommandsOver, Failure, bounded};

/// `count` arrivals, spread over `bases`, `--connect-concurrency` at once.
pub async fn run(
    args: &Args,
    http: &reqwest::Client,
    bases: &[String],
    count: u64,
    tally: &Arc<Tally>,
) {
    let patience = std::time::Duration::from_secs_f64(args.patience_secs);
    let arrivals = (0..count).map(|n| async move {
        let base = &bases[(n % bases.len() as u64) as usize];
        let visit = async {
            let mut player =
                Player::join(http, base, &format!("visitor{n}"), CommandsOver::Http).await?;
            player.wait_lobby(patience).await?;
            // Dropped: the socket closes, and the player leaves.
            Ok::<(), Failure>(())
        };
        tokio::time::timeout(patience, visit)
            .await
            .unwrap_or(Err(Failure::Unexpected("an arrival took too long")))?;
        tally.arrived();
        Ok(())
    });
    bounded(args, tally, arrivals).await;
}
