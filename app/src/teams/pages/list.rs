//! `/teams`: the teams the person works in.

use super::TeamList;
use crate::components::error_view::ErrorView;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TeamsPage() -> impl IntoView {
    let shell = expect_context::<crate::shell::ShellResource>();
    view! {
        <Title text="Teams"/>
        <h1 class="page-title">"Teams"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading teams…"</p> }>
            {move || Suspend::new(async move {
                match shell.await {
                    Ok(d) if d.teams.is_empty() => view! {
                        <p class="muted" data-testid="teams-empty">"You are not a member of any team yet. Ask a team admin to add you."</p>
                    }.into_any(),
                    Ok(d) => view! { <TeamList teams=d.teams/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
