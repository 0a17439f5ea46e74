//! `/notebooks/:team/:name`: one notebook, its status live, why it is not
//! running, its events and last log lines; start, stop, open and delete.

use super::follow::follow;
use crate::components::error_view::ErrorView;
use crate::components::notice::ActionNotice;
use crate::components::reload::reload_when;
use crate::notebooks::api::{DeleteNotebook, NotebookDetail, SetNotebookRunning, get_notebook};
use crate::notebooks::model::{Phase, ago};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn NotebookPage() -> impl IntoView {
    let params = use_params_map();
    let (team, name) = params.with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("name").unwrap_or_default()));
    let detail = Resource::new({
        let (team, name) = (team.clone(), name.clone());
        move || (team.clone(), name.clone())
    }, |(t, n)| get_notebook(t, n));
    view! {
        <Title text=name/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                    Ok(d) => view! { <NotebookLive detail=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The notebook's live status and actions: the page's island.
#[island(lazy)]
fn NotebookLive(detail: NotebookDetail) -> impl IntoView {
    let running = ServerAction::<SetNotebookRunning>::new();
    let (team, name) = (detail.row.team.clone(), detail.row.name.clone());
    let data = RwSignal::new(detail);
    reload_when(move || running.version().get(), data, move || get_notebook(team.clone(), name.clone()));
    move || view! { <NotebookDetailView detail=data.get() running=running/> }
}

#[component]
fn NotebookDetailView(detail: NotebookDetail, running: ServerAction<SetNotebookRunning>) -> impl IntoView {
    let team = detail.row.team.clone();
    let name = detail.row.name.clone();
    let rows = RwSignal::new(vec![detail.row.clone()]);
    let now = RwSignal::new(detail.now_ms);
    let live = RwSignal::new(false);
    follow(Some(team.clone()), rows, live, now);
    let row = {
        let (team, name) = (team.clone(), name.clone());
        move || rows.get().into_iter().find(|r| r.team == team && r.name == name)
    };
    let gone = {
        let row = row.clone();
        move || row().is_none()
    };
    let delete = ServerAction::<DeleteNotebook>::new();
    let confirming = RwSignal::new(false);
    let keep_volume = RwSignal::new(true);
    {
        let team = team.clone();
        Effect::new(move |_| {
            if let Some(Ok(())) = delete.value().get() {
                crate::navigation::go(&format!("/notebooks/{team}"));
            }
        });
    }
    let open = format!("{}/lab", crate::notebooks::model::url_prefix(&team, &name));
    let own_volume = detail.own_volume.clone();
    let r0 = detail.row.clone();
    let (t1, n1, t2, n2) = (team.clone(), name.clone(), team.clone(), name.clone());
    view! {
        <p class="hint"><a href=format!("/notebooks/{team}")>{format!("← Notebooks of {team}")}</a></p>
        <div class="flex flex-wrap items-center gap-3">
            <h1 class="page-title">{name.clone()}</h1>
            {
                let row = row.clone();
                move || row().map(|r| view! {
                    <span class=format!("rounded px-2 py-0.5 text-sm font-medium {}", r.phase.badge()) data-testid="nb-phase">{r.phase.label()}</span>
                })
            }
            <span class="hint" data-testid="nb-live" data-live=move || live.get().to_string()>{move || if live.get() { "live" } else { "" }}</span>
        </div>
        <Show when=gone.clone()>
            <p class="notice-ok" data-testid="nb-gone">"This notebook was deleted."</p>
        </Show>
        {
            let row = row.clone();
            move || row().and_then(|r| r.reason).map(|why| view! {
                <section class="card border-amber-300 dark:border-amber-700" data-testid="nb-why"><h2 class="section-title">"Why it is not running"</h2><p>{why}</p></section>
            })
        }
        <section class="card space-y-3">
            <div class="flex flex-wrap gap-2">
                {
                    let row = row.clone();
                    let open = open.clone();
                    let can_open = detail.can_open;
                    move || row().filter(|r| r.phase == Phase::Running && can_open).map(|_| view! {
                        <a class="btn-primary" href=open.clone() target="_blank" rel="noopener" data-testid="nb-open">"Open JupyterLab"</a>
                    })
                }
                {
                    let row = row.clone();
                    let can_change = detail.can_change;
                    move || row().filter(|_| can_change).map(|r| {
                        let up = r.phase.is_up();
                        let (t, n) = (t1.clone(), n1.clone());
                        view! {
                            <button class="btn-quiet" data-testid=if up { "nb-stop" } else { "nb-start" } disabled=move || running.pending().get()
                                on:click=move |_| { running.dispatch(SetNotebookRunning { team: t.clone(), name: n.clone(), running: !up }); }>
                                {if up { "Stop (keeps the volume)" } else { "Start" }}
                            </button>
                        }
                    })
                }
                {detail.can_change.then(|| view! {
                    <button class="btn-quiet text-rose-700 dark:text-rose-300" data-testid="nb-delete" on:click=move |_| confirming.set(true)>"Delete…"</button>
                })}
            </div>
            <ActionNotice result=running.value() ok="Done." testid="nb-action-result"/>
            <Show when=move || confirming.get()>
                <div class="rounded-md border border-rose-300 p-3 space-y-2 dark:border-rose-800" role="dialog" aria-label="Delete notebook" data-testid="nb-delete-dialog">
                    <p>{format!("Delete notebook “{n2}”? Its server, pod and service are removed.", n2 = n2.clone())}</p>
                    {own_volume.clone().map(|v| view! {
                        <label class="check"><input type="checkbox" checked data-testid="nb-keep-volume" on:change=move |e| keep_volume.set(event_target_checked(&e))/>
                            {format!("Keep the volume “{v}” (your files stay; a new notebook can use it)")}</label>
                    })}
                    <div class="flex gap-2">
                        <button class="btn-danger" data-testid="nb-delete-confirm" on:click={
                            let (t, n) = (t2.clone(), n2.clone());
                            move |_| { delete.dispatch(DeleteNotebook { team: t.clone(), name: n.clone(), keep_volume: keep_volume.get() }); }
                        }>"Delete"</button>
                        <button class="btn-quiet" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                    <ActionNotice result=delete.value() ok="Deleted." testid="nb-delete-result"/>
                </div>
            </Show>
            <dl class="grid grid-cols-[10rem_1fr] gap-y-1 text-sm">
                <dt class="muted">"Owner"</dt><dd>{r0.owner.clone()}</dd>
                <dt class="muted">"Image"</dt><dd>{r0.image.clone()}<span class="hint ml-2 mono">{r0.image_ref.clone()}</span></dd>
                <dt class="muted">"Size"</dt><dd>{format!("{} ({} CPU, {} memory)", r0.size, r0.cpu, r0.memory)}</dd>
                <dt class="muted">"GPUs"</dt><dd>{r0.gpus}</dd>
                <dt class="muted">"Volume"</dt><dd class="mono">{r0.volume.clone().unwrap_or_else(|| "none".into())}</dd>
                <dt class="muted">"Idle stop"</dt><dd data-testid="nb-idle">{detail.idle.clone().map(|w| format!("after {w} without activity")).unwrap_or_else(|| "off for this team".into())}</dd>
                <dt class="muted">"Last activity"</dt><dd>{move || row().and_then(|r| r.last_activity_ms).map(|l| format!("{} ago", ago((now.get() - l) / 1000))).unwrap_or_else(|| "not known".into())}</dd>
                <dt class="muted">"Carried by"</dt><dd>{match r0.backend { crate::notebooks::model::Backend::Kubeflow => "Kubeflow Notebook", crate::notebooks::model::Backend::StatefulSet => "StatefulSet" }}</dd>
            </dl>
        </section>
        {detail.log.clone().map(|lines| view! {
            <section class="card"><h2 class="section-title">"Last log lines"</h2>
            <pre class="mono overflow-x-auto text-xs" data-testid="nb-log">{lines.join("\n")}</pre></section>
        })}
        <section class="card">
            <h2 class="section-title">"Events"</h2>
            {if detail.events.is_empty() {
                view! { <p class="muted">"No events."</p> }.into_any()
            } else {
                view! { <table class="table" data-testid="nb-events"><thead><tr><th>"When"</th><th>"What"</th><th>"Detail"</th></tr></thead><tbody>
                    {detail.events.iter().map(|(w, r, m)| view! { <tr><td class="whitespace-nowrap">{w.clone()}</td><td>{r.clone()}</td><td>{m.clone()}</td></tr> }).collect_view()}
                </tbody></table> }.into_any()
            }}
        </section>
    }
}

