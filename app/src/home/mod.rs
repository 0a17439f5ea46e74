//! The home page: who you are, your personas and your teams.

use crate::components::error_view::ErrorView;
use crate::teams::pages::TeamList;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let shell = expect_context::<crate::shell::ShellResource>();
    view! {
        <Title text="Home"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match shell.await {
                    Ok(d) => {
                        let personas = d.personas.iter().map(|p| view! { <span class="chip">{p.label()}</span> }).collect_view();
                        view! {
                            <h1 class="page-title" data-testid="greeting">"Welcome, " {d.display_name.clone()}</h1>
                            <p class="muted">"Signed in as " <span class="mono" data-testid="username">{d.username.clone()}</span></p>
                            <section class="card" aria-labelledby="personas">
                                <h2 id="personas" class="section-title">"Your personas"</h2>
                                <div class="chips" data-testid="personas">{personas}</div>
                            </section>
                            <section class="card" aria-labelledby="teams">
                                <h2 id="teams" class="section-title">"Your teams"</h2>
                                {if d.teams.is_empty() {
                                    view! { <p class="muted" data-testid="teams-empty">"You are not a member of any team yet."</p> }.into_any()
                                } else {
                                    view! { <TeamList teams=d.teams/> }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
