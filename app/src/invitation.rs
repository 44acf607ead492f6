//! The invitation dialog, on every page: accept (join the game) or decline.

use domain::{DeclineInvitation, JoinGame};
use leptos::prelude::*;

use crate::calls::signed_out;
use crate::client::use_client;
use crate::router::use_here;

/// Shows a pending invitation with Accept and Decline.
#[component]
pub fn InvitationDialog() -> impl IntoView {
    let client = use_client();
    let here = use_here();
    move || {
        let invitation = client.invitation.get()?;
        let game_id = invitation.game_id;
        let inviter = client.alias_of(invitation.inviter_id);
        let accept = move |_| {
            client.invitation.set(None);
            leptos::task::spawn_local(async move {
                client.leave_queue().await;
                let joined = match client.my_id() {
                    Some(player_id) => client.command(JoinGame { game_id, player_id }).await,
                    None => Err(signed_out()),
                };
                match joined {
                    Ok(()) => here.go(&format!("/game/{game_id}")),
                    Err(refusal) => client.notice.set(Some(refusal.to_string())),
                }
            });
        };
        let decline = move |_| {
            client.invitation.set(None);
            leptos::task::spawn_local(async move {
                if let Some(invited_id) = client.my_id() {
                    let _ = client
                        .command(DeclineInvitation {
                            game_id,
                            invited_id,
                        })
                        .await;
                }
            });
        };
        Some(view! {
            <div class="dialog-backdrop">
                <div class="dialog card" role="dialog" aria-modal="true" aria-labelledby="invite-heading">
                    <h2 id="invite-heading">{format!("{inviter} invites you to play")}</h2>
                    <div class="actions">
                        <button class="primary" on:click=accept>"Accept"</button>
                        <button class="secondary" on:click=decline>"Decline"</button>
                    </div>
                </div>
            </div>
        })
    }
}
