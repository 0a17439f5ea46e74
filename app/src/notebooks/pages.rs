//! Notebook pages: the live list (one team or all of the person's teams),
//! the create form, one notebook's page, and the catalog for platform admins.

use super::api::*;
use super::catalog::{Catalog, ImageEntry, SizeEntry};
use super::model::{NAME_RULES, NotebookForm, NotebookRow, Phase, VolumeChoice, ago, check_name};
use crate::components::error_view::ErrorView;
use crate::components::notice::ActionNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// Follows the live stream for these rows while the page is open.
#[allow(unused_variables)]
fn follow(team: Option<String>, rows: RwSignal<Vec<NotebookRow>>, live: RwSignal<bool>, now: RwSignal<i64>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, closure::Closure};
        let url = match &team {
            Some(t) => format!("/api/notebooks/stream?team={t}"),
            None => "/api/notebooks/stream".to_string(),
        };
        let Ok(source) = web_sys::EventSource::new(&url) else { return };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            let Some(text) = e.data().as_string() else { return };
            if let Ok(event) = serde_json::from_str::<super::model::NotebookEvent>(&text) {
                rows.update(|r| super::model::apply_event(r, event));
                now.set(js_sys::Date::now() as i64);
                live.set(true);
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| live.set(false));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
        let tick = set_interval_with_handle(move || now.set(js_sys::Date::now() as i64), std::time::Duration::from_secs(20)).ok();
        let source = send_wrapper::SendWrapper::new(source);
        on_cleanup(move || {
            source.close();
            if let Some(t) = tick {
                t.clear();
            }
        });
    }
}

#[component]
pub fn NotebooksPage() -> impl IntoView {
    view! { <NotebookList team=None/> }
}

#[component]
pub fn TeamNotebooksPage() -> impl IntoView {
    let params = use_params_map();
    move || {
        let team = params.read().get("team").unwrap_or_default();
        view! { <NotebookList team=Some(team)/> }
    }
}

#[component]
fn NotebookList(team: Option<String>) -> impl IntoView {
    let idle_saved = ServerAction::<SetIdleLimit>::new();
    let data = Resource::new(
        {
            let team = team.clone();
            move || (team.clone(), idle_saved.version().get())
        },
        |(team, _)| get_notebooks(team),
    );
    let title = team.clone().map(|t| format!("Notebooks · {t}")).unwrap_or_else(|| "Notebooks".into());
    view! {
        <Title text=title.clone()/>
        <h1 class="page-title">{title}</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading notebooks…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorView error=e/> }.into_any(),
                Ok(list) => view! { <LiveTable list=list team=team.clone() idle_saved=idle_saved/> }.into_any(),
            })}
        </Suspense>
    }
}

/// Rows shown at a time in long lists.
pub const PAGE: usize = 50;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Newest,
    Name,
    Status,
    Team,
}

#[component]
fn LiveTable(list: NotebookList, team: Option<String>, idle_saved: ServerAction<SetIdleLimit>) -> impl IntoView {
    let rows = RwSignal::new(list.rows.clone());
    let now = RwSignal::new(list.now_ms);
    let live = RwSignal::new(false);
    follow(team.clone(), rows, live, now);
    let search = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let team_filter = RwSignal::new(String::new());
    let sort = RwSignal::new(SortBy::Newest);
    let running = ServerAction::<SetNotebookRunning>::new();
    // Long lists show a page at a time; filters and sorting cover all rows.
    let limit = RwSignal::new(PAGE);
    let matching = move || {
        let (q, s, t) = (search.get().to_lowercase(), status.get(), team_filter.get());
        let mut out: Vec<NotebookRow> = rows
            .get()
            .into_iter()
            .filter(|r| q.is_empty() || r.name.contains(&q) || r.owner.to_lowercase().contains(&q) || r.image.to_lowercase().contains(&q))
            .filter(|r| s.is_empty() || r.phase.label() == s)
            .filter(|r| t.is_empty() || r.team == t)
            .collect();
        match sort.get() {
            SortBy::Newest => out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms)),
            SortBy::Name => out.sort_by(|a, b| a.name.cmp(&b.name)),
            SortBy::Status => out.sort_by(|a, b| a.phase.cmp(&b.phase).then(a.name.cmp(&b.name))),
            SortBy::Team => out.sort_by(|a, b| a.team.cmp(&b.team).then(a.name.cmp(&b.name))),
        }
        out
    };
    let hidden = move || matching().len().saturating_sub(limit.get());
    let shown = move || matching().into_iter().take(limit.get()).collect::<Vec<_>>();
    let many_teams = team.is_none();
    let teams = list.teams.clone();
    let idle = list.idle.clone();
    let can_set_idle = list.can_set_idle;
    let first_total = list.total;
    let count = move || {
        let r = rows.get();
        let up = r.iter().filter(|r| r.phase == Phase::Running).count();
        // Until the live stream has sent every row, the page holds the newest ones.
        if live.get() {
            format!("{} notebooks, {up} running", r.len())
        } else {
            format!("{first_total} notebooks")
        }
    };
    // Offered only where Kubernetes lets the person create notebooks.
    let creatable: Vec<(String, String)> = list.teams.iter().filter(|t| t.2).map(|t| (t.0.clone(), t.1.clone())).collect();
    let may_change = {
        let creatable = creatable.clone();
        move |team: &str| creatable.iter().any(|(t, _)| t == team)
    };
    // Opening runs code in the notebook: its owner, or who Kubernetes allows.
    let may_open = {
        let (openable, me) = (list.openable.clone(), list.me.clone());
        move |r: &NotebookRow| r.owner == me || openable.contains(&r.team)
    };
    let single = creatable.len() == 1 || !many_teams;
    let single_team_creatable = !many_teams && !creatable.is_empty();
    view! {
        <div class="flex flex-wrap justify-end gap-2">
            {creatable.into_iter().map(|(t, d)| view! {
                <A href=format!("/notebooks/{t}/new") attr:class="btn-primary" attr:data-testid="new-notebook">
                    {if single { "New notebook".to_string() } else { format!("New notebook in {d}") }}
                </A>
            }).collect_view()}
        </div>
        <section class="card space-y-3">
            <div class="flex flex-wrap items-end gap-3">
                <label class="form-row">"Search"
                    <input class="input" type="search" placeholder="name, owner or image" data-testid="nb-search"
                        on:input=move |e| search.set(event_target_value(&e))/>
                </label>
                <label class="form-row">"Status"
                    <select class="select input" data-testid="nb-status-filter" on:change=move |e| status.set(event_target_value(&e))>
                        <option value="">"Any"</option>
                        {[Phase::Running, Phase::Starting, Phase::Pending, Phase::Failed, Phase::Stopping, Phase::Stopped]
                            .into_iter().map(|p| view! { <option value=p.label()>{p.label()}</option> }).collect_view()}
                    </select>
                </label>
                {many_teams.then(|| view! {
                    <label class="form-row">"Team"
                        <select class="select input" data-testid="nb-team-filter" on:change=move |e| team_filter.set(event_target_value(&e))>
                            <option value="">"All my teams"</option>
                            {teams.iter().map(|(n, d, _)| view! { <option value=n.clone()>{d.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                })}
                <label class="form-row">"Sort"
                    <select class="select input" data-testid="nb-sort" on:change=move |e| sort.set(match event_target_value(&e).as_str() {
                        "name" => SortBy::Name, "status" => SortBy::Status, "team" => SortBy::Team, _ => SortBy::Newest })>
                        <option value="newest">"Newest first"</option>
                        <option value="name">"Name"</option>
                        <option value="status">"Status"</option>
                        {many_teams.then(|| view! { <option value="team">"Team"</option> })}
                    </select>
                </label>
                <p class="hint ml-auto" data-testid="nb-count">{count}
                    <span class="ml-2" data-testid="nb-live" data-live=move || live.get().to_string()>
                        {move || if live.get() { "· live" } else { "· connecting…" }}
                    </span>
                </p>
            </div>
            {idle.into_iter().map(|(t, words)| view! { <p class="hint" data-testid="nb-idle">{format!("Notebooks of {t} stop after {words} without activity.")}</p> }).collect_view()}
            <ActionNotice result=running.value() ok="Done." testid="nb-action-result"/>
            <div class="overflow-x-auto">
            <table class="table" data-testid="nb-table">
                <thead><tr>
                    <th>"Name"</th>{many_teams.then(|| view! { <th>"Team"</th> })}<th>"Status"</th><th>"Owner"</th><th>"Image"</th>
                    <th>"Size"</th><th>"GPUs"</th><th>"Volume"</th><th>"Age"</th><th>"Last activity"</th><th><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    <For each=shown key=|r| (r.team.clone(), r.name.clone(), r.phase, r.reason.clone(), r.last_activity_ms) let:r>
                        <NotebookLine can_change=may_change(&r.team) can_open=may_open(&r) row=r many_teams=many_teams now=now running=running/>
                    </For>
                </tbody>
            </table>
            </div>
            <Show when=move || { hidden() > 0 }>
                <button class="btn-quiet" data-testid="nb-more" on:click=move |_| limit.update(|l| *l += PAGE)>
                    {move || format!("Show {} more", hidden().min(PAGE))}
                </button>
            </Show>
            <Show when=move || rows.with(|r| r.is_empty())>
                <p class="muted" data-testid="nb-empty">"No notebooks yet."</p>
            </Show>
        </section>
        {(single_team_creatable).then(|| view! { <super::connections::Connections team=team.clone().unwrap_or_default()/> }.into_any())}
        {(can_set_idle && !many_teams).then(|| view! { <IdleForm team=team.clone().unwrap_or_default() action=idle_saved/> }.into_any())}
    }
}

#[component]
fn NotebookLine(
    row: NotebookRow,
    many_teams: bool,
    can_change: bool,
    can_open: bool,
    now: RwSignal<i64>,
    running: ServerAction<SetNotebookRunning>,
) -> impl IntoView {
    let r = row.clone();
    let href = format!("/notebooks/{}/{}", r.team, r.name);
    let open = format!("{}/lab", super::model::url_prefix(&r.team, &r.name));
    let created = r.created_ms;
    let last = r.last_activity_ms;
    let (team, name) = (r.team.clone(), r.name.clone());
    let up = r.phase.is_up();
    let NotebookRow { team: row_team, name: row_name, owner, image, image_ref, size, cpu, memory, gpus, volume, phase, reason, .. } = row;
    let title = format!("{cpu} CPU, {memory} memory");
    let volume = volume.unwrap_or_else(|| "—".into());
    let data_name = row_name.clone();
    view! {
        <tr data-testid="nb-row" data-name=data_name data-phase=phase.label()>
            <td><A href=href attr:class="font-medium">{row_name}</A></td>
            {many_teams.then(|| view! { <td>{row_team}</td> })}
            <td>
                <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", phase.badge()) data-testid="nb-phase">{phase.label()}</span>
                {reason.map(|why| view! { <p class="hint max-w-md" data-testid="nb-reason">{why}</p> })}
            </td>
            <td>{owner}</td>
            <td title=image_ref>{image}</td>
            <td title=title>{size}</td>
            <td>{gpus}</td>
            <td class="mono text-xs">{volume}</td>
            <td>{move || ago((now.get() - created) / 1000)}</td>
            <td>{move || last.map(|l| format!("{} ago", ago((now.get() - l) / 1000))).unwrap_or_else(|| "—".into())}</td>
            <td class="whitespace-nowrap">
                {(phase == Phase::Running && can_open).then(|| view! { <a class="btn-quiet" href=open.clone() target="_blank" rel="noopener" data-testid="nb-open">"Open"</a> })}
                {can_change.then(|| view! {
                    <button class="btn-quiet" data-testid=if up { "nb-stop" } else { "nb-start" }
                        disabled=move || running.pending().get()
                        on:click=move |_| { running.dispatch(SetNotebookRunning { team: team.clone(), name: name.clone(), running: !up }); }>
                        {if up { "Stop" } else { "Start" }}
                    </button>
                })}
            </td>
        </tr>
    }
}

#[component]
fn IdleForm(team: String, action: ServerAction<SetIdleLimit>) -> impl IntoView {
    let minutes = RwSignal::new(String::new());
    view! {
        <section class="card space-y-2">
            <h2 class="section-title">"Stop idle notebooks"</h2>
            <p class="hint">"Notebooks of this team whose server reports no activity for this many minutes are stopped; their volumes are kept. Leave empty to turn it off."</p>
            <div class="flex items-end gap-2">
                <label class="form-row">"Minutes"
                    <input class="input w-32" inputmode="numeric" data-testid="idle-minutes" on:input=move |e| minutes.set(event_target_value(&e))/>
                </label>
                <button class="btn-primary" data-testid="idle-save"
                    on:click=move |_| { action.dispatch(SetIdleLimit { team: team.clone(), minutes: minutes.get() }); }>"Save"</button>
            </div>
            <ActionNotice result=action.value() ok="Saved." testid="idle-result"/>
        </section>
    }
}

#[component]
pub fn NewNotebookPage() -> impl IntoView {
    let params = use_params_map();
    let team = move || params.read().get("team").unwrap_or_default();
    let choices = Resource::new(team, get_form_choices);
    view! {
        <Title text="New notebook"/>
        <h1 class="page-title">"New notebook"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading the catalog…"</p> }>
            {move || choices.get().map(|r| match r {
                Err(e) => view! { <ErrorView error=e/> }.into_any(),
                Ok(c) => view! { <NotebookFormView team=team() choices=c/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn NotebookFormView(team: String, choices: FormChoices) -> impl IntoView {
    let catalog = choices.catalog.clone();
    let name = RwSignal::new(String::new());
    let image = RwSignal::new(catalog.images.first().map(|i| i.id.clone()).unwrap_or_default());
    let size = RwSignal::new(catalog.sizes.first().map(|s| s.id.clone()).unwrap_or_default());
    let gpus = RwSignal::new(0u32);
    let volume_mode = RwSignal::new("new".to_string());
    let volume_size = RwSignal::new("10Gi".to_string());
    let storage_class = RwSignal::new(String::new());
    let existing = RwSignal::new(choices.claims.first().cloned().unwrap_or_default());
    let env_text = RwSignal::new(String::new());
    let chosen_connections = RwSignal::new(Vec::<String>::new());
    let name_error = move || {
        let n = name.get();
        (!n.is_empty()).then(|| check_name(&n).err()).flatten()
    };
    let form = {
        let team = team.clone();
        move || NotebookForm {
            team: team.clone(),
            name: name.get(),
            image: image.get(),
            size: size.get(),
            gpus: gpus.get(),
            volume: match volume_mode.get().as_str() {
                "new" => VolumeChoice::New {
                    size: volume_size.get(),
                    storage_class: Some(storage_class.get()).filter(|s| !s.trim().is_empty()),
                },
                "existing" => VolumeChoice::Existing { claim: existing.get() },
                _ => VolumeChoice::None,
            },
            env: env_text
                .get()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| match l.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                    None => (l.trim().to_string(), String::new()),
                })
                .collect(),
            connections: chosen_connections.get(),
        }
    };
    let preview = ServerAction::<PreviewNotebook>::new();
    let create = ServerAction::<CreateNotebook>::new();
    let navigate = use_navigate();
    let target = {
        let team = team.clone();
        move || format!("/notebooks/{team}/{}", name.get_untracked())
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = create.value().get() {
            navigate(&target(), Default::default());
        }
    });
    let gpu_image = {
        let catalog = catalog.clone();
        move || catalog.image(&image.get()).is_some_and(|i| i.gpu)
    };
    let gpus_left = choices.gpus_left;
    let form_for_preview = form.clone();
    let form_for_create = form.clone();
    view! {
        <form class="card form max-w-3xl" data-testid="nb-form" on:submit=move |e| {
            e.prevent_default();
            create.dispatch(CreateNotebook { form: form_for_create() });
        }>
            <p class="hint">{format!("In team {team}.")}</p>
            <div class="form-row">
                <label for="nb-name">"Name"</label>
                <input id="nb-name" class="input" required autocomplete="off" data-testid="nb-name"
                    aria-describedby="nb-name-rules" on:input=move |e| name.set(event_target_value(&e))/>
                <p id="nb-name-rules" class="hint">{NAME_RULES}</p>
                {move || name_error().map(|e| view! { <p class="text-sm text-rose-700 dark:text-rose-300" data-testid="nb-name-error" role="alert">{e}</p> })}
            </div>
            <fieldset class="form-row">
                <legend>"Image"</legend>
                {catalog.images.iter().map(|i| image_choice(i, image)).collect_view()}
            </fieldset>
            <fieldset class="form-row">
                <legend>"Size"</legend>
                {catalog.sizes.iter().map(|s| size_choice(s, size)).collect_view()}
            </fieldset>
            <div class="form-row">
                <label for="nb-gpus">"GPUs (nvidia.com/gpu)"</label>
                <input id="nb-gpus" class="input w-24" type="number" min="0" max="16" value="0" data-testid="nb-gpus"
                    on:input=move |e| gpus.set(event_target_value(&e).parse().unwrap_or(0))/>
                <p class="hint">
                    {gpus_left.map(|l| format!("{l} left in your team's quota. ")).unwrap_or_default()}
                    {move || (!gpu_image() && gpus.get() > 0).then_some("This image is not built for GPUs.")}
                </p>
            </div>
            <fieldset class="form-row">
                <legend>"Workspace volume (mounted at /home/jovyan)"</legend>
                <div class="checks">
                    <label class="check"><input type="radio" name="vol" value="new" checked data-testid="nb-vol-new" on:change=move |_| volume_mode.set("new".into())/>"New volume"</label>
                    <label class="check"><input type="radio" name="vol" value="existing" disabled=choices.claims.is_empty() data-testid="nb-vol-existing" on:change=move |_| volume_mode.set("existing".into())/>"An existing volume of the team"</label>
                    <label class="check"><input type="radio" name="vol" value="none" data-testid="nb-vol-none" on:change=move |_| volume_mode.set("none".into())/>"None (work is lost when it stops)"</label>
                </div>
                <Show when=move || volume_mode.get() == "new">
                    <div class="flex gap-3">
                        <label class="form-row">"Size"<input class="input w-28" prop:value=volume_size data-testid="nb-vol-size" on:input=move |e| volume_size.set(event_target_value(&e))/></label>
                        <label class="form-row">"Storage class (empty: the cluster's default)"<input class="input" data-testid="nb-vol-class" on:input=move |e| storage_class.set(event_target_value(&e))/></label>
                    </div>
                </Show>
                <Show when=move || volume_mode.get() == "existing">
                    <select class="select input" data-testid="nb-vol-claim" on:change=move |e| existing.set(event_target_value(&e))>
                        {choices.claims.iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                    </select>
                </Show>
            </fieldset>
            <div class="form-row">
                <label for="nb-env">"Environment variables (one NAME=value per line)"</label>
                <textarea id="nb-env" class="input mono" rows="3" data-testid="nb-env" on:input=move |e| env_text.set(event_target_value(&e))></textarea>
            </div>
            <fieldset class="form-row">
                <legend>"Data connections"</legend>
                {if choices.connections.is_empty() {
                    view! { <p class="hint">"Your team has no data connections (Secrets labelled atrium.io/data-connection=true)."</p> }.into_any()
                } else {
                    view! { <div class="checks">{choices.connections.iter().map(|c| {
                        let c2 = c.clone();
                        view! { <label class="check"><input type="checkbox" data-testid="nb-connection" on:change=move |e| {
                            let on = event_target_checked(&e);
                            chosen_connections.update(|v| { v.retain(|x| *x != c2); if on { v.push(c2.clone()); } });
                        }/>{c.clone()}</label> }
                    }).collect_view()}</div> }.into_any()
                }}
                <p class="hint">"Their keys are given to the notebook as environment variables."</p>
            </fieldset>
            <div class="flex gap-3">
                <button type="submit" class="btn-primary" data-testid="nb-create" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Checking and creating…" } else { "Create notebook" }}
                </button>
                <button type="button" class="btn-quiet" data-testid="nb-show-yaml"
                    on:click=move |_| { preview.dispatch(PreviewNotebook { form: form_for_preview() }); }>"Show YAML"</button>
            </div>
            {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <p class="notice-error" role="alert" data-testid="nb-create-error">{e.to_string()}</p> })}
            {move || preview.value().get().map(|r| match r {
                Ok(yaml) => view! {
                    <div class="space-y-1"><p class="hint">"Checked with a server-side dry-run: Kubernetes accepts these objects."</p>
                    <pre class="mono overflow-x-auto rounded-md bg-slate-900 p-3 text-xs text-slate-100" data-testid="nb-yaml">{yaml}</pre></div>
                }.into_any(),
                Err(e) => view! { <p class="notice-error" role="alert" data-testid="nb-create-error">{e.to_string()}</p> }.into_any(),
            })}
        </form>
    }
}

fn image_choice(i: &ImageEntry, chosen: RwSignal<String>) -> impl IntoView + use<> {
    let id = i.id.clone();
    let checked = chosen.get_untracked() == i.id;
    view! {
        <label class="check items-start">
            <input type="radio" name="image" value=i.id.clone() checked=checked data-testid="nb-image" on:change=move |_| chosen.set(id.clone())/>
            <span><span class="font-medium">{i.display_name.clone()}</span>
                {i.gpu.then(|| view! { <span class="badge ml-2">"GPU"</span> })}
                <span class="hint block">{format!("{} · {}", i.description, i.reference())}</span></span>
        </label>
    }
}

fn size_choice(s: &SizeEntry, chosen: RwSignal<String>) -> impl IntoView + use<> {
    let id = s.id.clone();
    let checked = chosen.get_untracked() == s.id;
    view! {
        <label class="check">
            <input type="radio" name="size" value=s.id.clone() checked=checked data-testid="nb-size" on:change=move |_| chosen.set(id.clone())/>
            <span><span class="font-medium">{s.display_name.clone()}</span>
                <span class="hint ml-2">{format!("requests {} CPU, {} memory; limits {} CPU, {} memory", s.cpu_request, s.memory_request, s.cpu_limit, s.memory_limit)}</span></span>
        </label>
    }
}

#[component]
pub fn NotebookPage() -> impl IntoView {
    let params = use_params_map();
    let key = move || (params.read().get("team").unwrap_or_default(), params.read().get("name").unwrap_or_default());
    let running = ServerAction::<SetNotebookRunning>::new();
    let detail = Resource::new(move || (key(), running.version().get()), |((t, n), _)| get_notebook(t, n));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || detail.get().map(|r| match r {
                Err(e) => view! { <ErrorView error=e/> }.into_any(),
                Ok(d) => view! { <NotebookDetailView detail=d running=running/> }.into_any(),
            })}
        </Suspense>
    }
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
    let navigate = use_navigate();
    {
        let team = team.clone();
        Effect::new(move |_| {
            if let Some(Ok(())) = delete.value().get() {
                navigate(&format!("/notebooks/{team}"), Default::default());
            }
        });
    }
    let open = format!("{}/lab", super::model::url_prefix(&team, &name));
    let own_volume = detail.own_volume.clone();
    let r0 = detail.row.clone();
    let (t1, n1, t2, n2) = (team.clone(), name.clone(), team.clone(), name.clone());
    view! {
        <Title text=name.clone()/>
        <p class="hint"><A href=format!("/notebooks/{team}")>{format!("← Notebooks of {team}")}</A></p>
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
                <dt class="muted">"Carried by"</dt><dd>{match r0.backend { super::model::Backend::Kubeflow => "Kubeflow Notebook", super::model::Backend::StatefulSet => "StatefulSet" }}</dd>
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

#[component]
pub fn CatalogPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_catalog());
    view! {
        <Title text="Notebook catalog"/>
        <h1 class="page-title">"Platform"</h1>
        <crate::admin::AdminTabs/>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <ErrorView error=e/> }.into_any(),
                Ok(c) => view! { <CatalogEditor catalog=c/> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn CatalogEditor(catalog: Catalog) -> impl IntoView {
    let draft = RwSignal::new(catalog);
    let save = ServerAction::<SaveCatalog>::new();
    let problems = move || draft.with(|c| c.problems());
    let text = move |get: fn(&ImageEntry) -> String, set: fn(&mut ImageEntry, String), i: usize, testid: &'static str| {
        view! { <input class="input w-full" data-testid=testid prop:value=move || draft.with(|c| c.images.get(i).map(get).unwrap_or_default())
            on:input=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { set(x, event_target_value(&e)) })/> }
    };
    let stext = move |get: fn(&SizeEntry) -> String, set: fn(&mut SizeEntry, String), i: usize, testid: &'static str| {
        view! { <input class="input w-full" data-testid=testid prop:value=move || draft.with(|c| c.sizes.get(i).map(get).unwrap_or_default())
            on:input=move |e| draft.update(|c| if let Some(x) = c.sizes.get_mut(i) { set(x, event_target_value(&e)) })/> }
    };
    view! {
        <section class="card space-y-3">
            <h2 class="section-title">"Images"</h2>
            <p class="hint">"Offered in this order on the create form. Disabled entries stay on notebooks made from them but are not offered."</p>
            <table class="table"><thead><tr><th>"Id"</th><th>"Display name"</th><th>"Description"</th><th>"Image"</th><th>"Tag"</th><th>"GPU"</th><th>"Enabled"</th><th></th></tr></thead>
            <tbody>
                {move || (0..draft.with(|c| c.images.len())).map(|i| view! {
                    <tr data-testid="catalog-image">
                        <td>{text(|x| x.id.clone(), |x, v| x.id = v, i, "img-id")}</td>
                        <td>{text(|x| x.display_name.clone(), |x, v| x.display_name = v, i, "img-name")}</td>
                        <td>{text(|x| x.description.clone(), |x, v| x.description = v, i, "img-desc")}</td>
                        <td>{text(|x| x.image.clone(), |x, v| x.image = v, i, "img-image")}</td>
                        <td>{text(|x| x.tag.clone(), |x, v| x.tag = v, i, "img-tag")}</td>
                        <td><input type="checkbox" prop:checked=move || draft.with(|c| c.images.get(i).is_some_and(|x| x.gpu)) on:change=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { x.gpu = event_target_checked(&e) })/></td>
                        <td><input type="checkbox" data-testid="img-enabled" prop:checked=move || draft.with(|c| c.images.get(i).is_some_and(|x| x.enabled)) on:change=move |e| draft.update(|c| if let Some(x) = c.images.get_mut(i) { x.enabled = event_target_checked(&e) })/></td>
                        <td class="whitespace-nowrap">
                            <button class="btn-quiet" title="Move up" disabled=i == 0 on:click=move |_| draft.update(|c| c.images.swap(i - 1, i))>"↑"</button>
                            <button class="btn-quiet" title="Remove" on:click=move |_| draft.update(|c| { c.images.remove(i); })>"✕"</button>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody></table>
            <button class="btn-quiet" data-testid="img-add" on:click=move |_| draft.update(|c| c.images.push(ImageEntry { enabled: true, ..Default::default() }))>"Add image"</button>
        </section>
        <section class="card space-y-3">
            <h2 class="section-title">"Sizes"</h2>
            <table class="table"><thead><tr><th>"Id"</th><th>"Display name"</th><th>"CPU request"</th><th>"CPU limit"</th><th>"Memory request"</th><th>"Memory limit"</th><th>"Enabled"</th><th></th></tr></thead>
            <tbody>
                {move || (0..draft.with(|c| c.sizes.len())).map(|i| view! {
                    <tr data-testid="catalog-size">
                        <td>{stext(|x| x.id.clone(), |x, v| x.id = v, i, "size-id")}</td>
                        <td>{stext(|x| x.display_name.clone(), |x, v| x.display_name = v, i, "size-name")}</td>
                        <td>{stext(|x| x.cpu_request.clone(), |x, v| x.cpu_request = v, i, "size-cpu-request")}</td>
                        <td>{stext(|x| x.cpu_limit.clone(), |x, v| x.cpu_limit = v, i, "size-cpu-limit")}</td>
                        <td>{stext(|x| x.memory_request.clone(), |x, v| x.memory_request = v, i, "size-memory-request")}</td>
                        <td>{stext(|x| x.memory_limit.clone(), |x, v| x.memory_limit = v, i, "size-memory-limit")}</td>
                        <td><input type="checkbox" prop:checked=move || draft.with(|c| c.sizes.get(i).is_some_and(|x| x.enabled)) on:change=move |e| draft.update(|c| if let Some(x) = c.sizes.get_mut(i) { x.enabled = event_target_checked(&e) })/></td>
                        <td class="whitespace-nowrap">
                            <button class="btn-quiet" title="Move up" disabled=i == 0 on:click=move |_| draft.update(|c| c.sizes.swap(i - 1, i))>"↑"</button>
                            <button class="btn-quiet" title="Remove" on:click=move |_| draft.update(|c| { c.sizes.remove(i); })>"✕"</button>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody></table>
            <button class="btn-quiet" data-testid="size-add" on:click=move |_| draft.update(|c| c.sizes.push(SizeEntry { enabled: true, ..Default::default() }))>"Add size"</button>
        </section>
        <section class="card space-y-2">
            <ul class="list-disc pl-5 text-sm text-rose-700 dark:text-rose-300" data-testid="catalog-problems">
                {move || problems().into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
            </ul>
            <button class="btn-primary" data-testid="catalog-save" on:click=move |_| { save.dispatch(SaveCatalog { catalog: draft.get() }); }>"Save catalog"</button>
            <ActionNotice result=save.value() ok="Catalog saved. New notebooks offer these entries." testid="catalog-result"/>
        </section>
    }
}
