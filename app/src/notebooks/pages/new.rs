//! `/notebooks/:team/new`: the create form, from the platform's catalog,
//! with the YAML it would apply (checked by a server-side dry-run).

use crate::components::error_view::ErrorView;
use crate::notebooks::api::{CreateNotebook, FormChoices, PreviewNotebook, get_form_choices};
use crate::notebooks::catalog::{ImageEntry, SizeEntry};
use crate::notebooks::model::{NAME_RULES, NotebookForm, VolumeChoice, check_name};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn NewNotebookPage() -> impl IntoView {
    let team = use_params_map().read_untracked().get("team").unwrap_or_default();
    let choices = Resource::new({
        let team = team.clone();
        move || team.clone()
    }, get_form_choices);
    view! {
        <Title text="New notebook"/>
        <h1 class="page-title">"New notebook"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading the catalog…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match choices.await {
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                        Ok(c) => view! { <NotebookFormView team choices=c/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The form with its live checks and preview: the page's island.
#[island(lazy)]
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
    let target = {
        let team = team.clone();
        move || format!("/notebooks/{team}/{}", name.get_untracked())
    };
    Effect::new(move |_| {
        if let Some(Ok(())) = create.value().get() {
            crate::navigation::go(&target());
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

