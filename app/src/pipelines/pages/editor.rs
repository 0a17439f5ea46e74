//! `/pipelines/:team/new` (and `?edit=<name>`): the pipeline editor. Steps
//! are added from the catalog's runtime images, each runs a command, a
//! script or a notebook file, and waits for the steps ticked under it. The
//! diagram and every problem (at the step it concerns) follow each edit in
//! the browser; undo and redo step through the edits. Steps are connected
//! by dragging from one box of the diagram to the box of the step that
//! runs after it (or by naming it under the step's "Runs after"); clicking a box
//! brings its step's form into view. A new pipeline can start from one of
//! the shipped templates (`?template=`). Saving writes the
//! team's WorkflowTemplate, checked again on the server. An Elyra
//! `.pipeline` file can be read in (what it cannot keep is listed) and the
//! pipeline written out as one; the YAML tab shows the WorkflowTemplate and
//! takes edits back into the diagram.

use crate::components::error_view::ErrorView;
use crate::pipelines::api::{Conversion, ConvertPipeline, Converted, SavePipeline, get_pipeline, get_step_choices};
use crate::pipelines::diagram::{self, Node};
use crate::pipelines::model::{Param, Pipeline, Step, StepQuota, Work};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn NewPipelinePage() -> impl IntoView {
    let team = use_params_map().with_untracked(|p| p.get("team").unwrap_or_default());
    let (edit, template) = use_query_map().with_untracked(|q| (q.get("edit").filter(|e| !e.is_empty()), q.get("template").filter(|e| !e.is_empty())));
    let new = edit.is_none();
    let data = Resource::new({
        let team = team.clone();
        move || (team.clone(), edit.clone(), template.clone())
    }, |(t, e, from)| async move {
        let choices = get_step_choices(t.clone()).await?;
        let start = match (e, from) {
            (Some(name), _) => get_pipeline(t, name).await?.pipeline.map_err(crate::error::AppError::Invalid)?,
            (None, Some(id)) => crate::pipelines::templates::start(&id, &choices)
                .ok_or_else(|| crate::error::AppError::NotFound(format!("There is no pipeline template “{id}”.")))?,
            (None, None) => Pipeline::default(),
        };
        Ok::<_, crate::error::AppError>((choices, start))
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the editor…"</p> }>
            {move || {
                let team = team.clone();
                Suspend::new(async move {
                    match data.await {
                        Err(e) => view! { <ErrorView error=e/> }.into_any(),
                        Ok((choices, start)) => {
                            view! {
                                <Title text=if new { "New pipeline".to_string() } else { format!("Edit {}", start.name) }/>
                                <p class="hint"><a href=format!("/pipelines/{team}")>{format!("← Pipelines of {team}")}</a></p>
                                <h1 class="page-title">{if new { "New pipeline".to_string() } else { format!("Edit {}", start.name) }}</h1>
                                <Editor team images=choices.images connections=choices.connections quota=choices.quota start new/>
                            }
                            .into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

/// Which conversion the editor last asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Asked {
    Nothing,
    Import,
    Export,
    ToYaml,
    FromYaml,
}

/// Up to this many steps, every step's form is open.
const FORMS_OPEN_UP_TO: usize = 20;

/// A fresh step's name: `step-N`, the first N not taken.
fn fresh_name(p: &Pipeline) -> String {
    (1..).map(|n| format!("step-{n}")).find(|n| p.step(n).is_none()).unwrap_or_default()
}

#[island(lazy)]
fn Editor(team: String, images: Vec<String>, connections: Vec<String>, quota: StepQuota, start: Pipeline, new: bool) -> impl IntoView {
    let pipeline = RwSignal::new(start);
    let undo: RwSignal<Vec<Pipeline>> = RwSignal::new(Vec::new());
    let redo: RwSignal<Vec<Pipeline>> = RwSignal::new(Vec::new());
    // Every edit goes through here, so it can be undone.
    let edit = move |f: &dyn Fn(&mut Pipeline)| {
        let before = pipeline.get_untracked();
        let mut after = before.clone();
        f(&mut after);
        if after != before {
            undo.update(|u| u.push(before));
            redo.update(Vec::clear);
            pipeline.set(after);
        }
    };
    let (images_for_check, known) = (images.clone(), connections.clone());
    let problems = Memo::new(move |_| {
        pipeline.with(|p| {
            let mut all = p.problems(&images_for_check, Some(&known));
            all.extend(p.quota_problems(&quota));
            all
        })
    });
    let save = ServerAction::<SavePipeline>::new();
    let first_image = images.first().cloned().unwrap_or_default();
    // A pipeline of many steps shows each step's form only when asked for
    // (its box in the diagram, or its "Edit"): two hundred open forms would
    // take seconds to show.
    let expanded: RwSignal<Option<String>> = RwSignal::new(None);
    let few = Memo::new(move |_| pipeline.with(|p| p.steps.len() <= FORMS_OPEN_UP_TO));
    let add_step = move |_| {
        let image = first_image.clone();
        let name = pipeline.with_untracked(fresh_name);
        expanded.set(Some(name.clone()));
        edit(&|p: &mut Pipeline| {
            let after = p.steps.last().map(|s| vec![s.name.clone()]).unwrap_or_default();
            p.steps.push(Step { name: name.clone(), image: image.clone(), after, ..Default::default() });
        })
    };
    // The editor's conversions share one server function; `asked` says
    // which one the last answer is for.
    let convert = ServerAction::<ConvertPipeline>::new();
    let asked = RwSignal::new(Asked::Nothing);
    let ask = move |what: Asked, c: Conversion| {
        asked.set(what);
        convert.dispatch(ConvertPipeline { conversion: c });
    };
    let yaml_tab = RwSignal::new(false);
    let yaml_text = RwSignal::new(String::new());
    let answer = move |what: Asked| convert.value().with(|v| if asked.get() == what { v.clone() } else { None });
    Effect::new(move || match (asked.get(), convert.value().get()) {
        (Asked::Import | Asked::FromYaml, Some(Ok(Converted::Pipeline(mut next, _)))) => {
            // In edit mode the name is the saved template's: it stays.
            if !new {
                next.name = pipeline.with_untracked(|q| q.name.clone());
            }
            edit(&|p: &mut Pipeline| *p = next.clone());
        }
        (Asked::ToYaml, Some(Ok(Converted::Text(text, _)))) => yaml_text.set(text),
        _ => {}
    });
    let show_yaml = {
        let team = team.clone();
        move |_| {
            yaml_tab.set(true);
            ask(Asked::ToYaml, Conversion::ToYaml(team.clone(), pipeline.get_untracked()));
        }
    };
    let read_file = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = input.files().and_then(|f| f.get(0)) {
                let text = wasm_bindgen_futures::JsFuture::from(file.text());
                leptos::task::spawn_local(async move {
                    if let Ok(Some(source)) = text.await.map(|v| v.as_string()) {
                        ask(Asked::Import, Conversion::FromElyra(source));
                    }
                });
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, ask);
    };
    let notices = move || {
        let what = asked.get();
        convert.value().get().map(|r| match (what, r) {
            (Asked::Import, Ok(Converted::Pipeline(_, report))) => view! {
                <div class="notice-ok" role="status" data-testid="import-report">
                    <p>{if report.is_empty() { "Imported; everything in the file was kept." } else { "Imported. Not kept, or to check:" }}</p>
                    <ul class="list-disc pl-5 text-sm">{report.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                </div>
            }
            .into_any(),
            (Asked::Export, Ok(Converted::Text(text, report))) => {
                let name = pipeline.with_untracked(|p| if p.name.is_empty() { "pipeline".to_string() } else { p.name.clone() });
                let href = format!("data:application/json;charset=utf-8,{}", super::url_encode(&text));
                view! {
                    <div class="notice-ok space-y-1" role="status" data-testid="elyra-export">
                        <a href=href download=format!("{name}.pipeline") data-testid="elyra-download">{format!("Download {name}.pipeline")}</a>
                        <ul class="text-sm">{report.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                    </div>
                }
                .into_any()
            }
            (Asked::Import | Asked::Export, Err(e)) => view! { <p class="notice-error" role="alert" data-testid="import-error">{e.to_string()}</p> }.into_any(),
            _ => ().into_any(),
        })
    };
    // Dragging from a box to another: the second runs after the first.
    let dragging: RwSignal<Option<String>> = RwSignal::new(None);
    let connected = RwSignal::new(None::<(String, String)>);
    let step_at = move |ev: &leptos::ev::PointerEvent, under_pointer: bool| -> Option<String> {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let el: web_sys::Element = if under_pointer {
                // A touch keeps its first target; ask what is under the finger.
                document().element_from_point(ev.client_x() as f32, ev.client_y() as f32)?
            } else {
                ev.target()?.dyn_into().ok()?
            };
            el.closest("[data-testid=dag-node]").ok()??.get_attribute("data-step")
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, under_pointer);
            None
        }
    };
    let drag_start = move |ev: leptos::ev::PointerEvent| {
        if let Some(from) = step_at(&ev, false) {
            ev.prevent_default();
            connected.set(None);
            dragging.set(Some(from));
        }
    };
    let drag_end = move |ev: leptos::ev::PointerEvent| {
        let Some(from) = dragging.get_untracked() else { return };
        dragging.set(None);
        match step_at(&ev, true) {
            Some(to) if to == from => {
                // A click: open the step's form and bring it into view.
                expanded.set(Some(to.clone()));
                #[cfg(feature = "hydrate")]
                if let Ok(Some(form)) = document().query_selector(&format!("[data-testid=step-editor][data-step=\"{to}\"]")) {
                    form.scroll_into_view();
                }
            }
            Some(to) => {
                edit(&|p: &mut Pipeline| {
                    if let Some(s) = p.steps.iter_mut().find(|s| s.name == to)
                        && !s.after.contains(&from)
                    {
                        s.after.push(from.clone());
                    }
                });
                connected.set(Some((from, to)));
            }
            None => {}
        }
    };
    let svg = move || {
        let mut flagged: Vec<String> = problems.with(|ps| ps.iter().filter_map(|p| p.step.clone()).collect());
        flagged.extend(dragging.get());
        pipeline.with(|p| {
            let edges: Vec<(String, Vec<String>)> = p.steps.iter().map(|s| (s.name.clone(), s.after.clone())).collect();
            diagram::draw(&p.layers(), &edges, |n| Node { name: n, phase: None, flagged: flagged.iter().any(|f| f == n) }, None)
        })
    };
    let whole_problems = move || problems.with(|ps| ps.iter().filter(|p| p.step.is_none()).map(|p| p.message.clone()).collect::<Vec<_>>());
    let submit = {
        let team = team.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if problems.with_untracked(Vec::is_empty) {
                save.dispatch(SavePipeline { team: team.clone(), pipeline: pipeline.get_untracked(), new });
            }
        }
    };
    // Each step's form is made once, and again only when steps are added or
    // removed: an edit changes what that one form shows (a pipeline of 200
    // steps must stay quick to edit).
    let count = Memo::new(move |_| pipeline.with(|p| p.steps.len()));
    let names = Memo::new(move |_| pipeline.with(|p| p.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>()));
    let steps = move || (0..count.get()).map(|i| view! { <StepEditor i pipeline images=images.clone() connections=connections.clone() problems edit expanded few/> }).collect_view();
    view! {
        <form class="space-y-4" on:submit=submit data-testid="pipeline-editor">
            <section class="card space-y-3">
                <div class="flex flex-wrap items-end gap-3">
                    <label class="form-row">"Name"
                        <input class="input" prop:value=move || pipeline.with(|p| p.name.clone()) disabled=!new data-testid="pipeline-name"
                            on:change=move |e| { let v = event_target_value(&e); edit(&|p: &mut Pipeline| p.name = v.trim().to_string()) }/>
                    </label>
                    <label class="form-row grow">"Description"
                        <input class="input" prop:value=move || pipeline.with(|p| p.description.clone()) data-testid="pipeline-description"
                            on:change=move |e| { let v = event_target_value(&e); edit(&|p: &mut Pipeline| p.description = v.clone()) }/>
                    </label>
                </div>
                <Params pipeline edit/>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class="btn-quiet" on:click=add_step data-testid="add-step">"Add a step"</button>
                    <button type="button" class="btn-quiet" disabled=move || undo.with(Vec::is_empty) data-testid="undo"
                        on:click=move |_| if let Some(prev) = undo.try_update(|u| u.pop()).flatten() { redo.update(|r| r.push(pipeline.get_untracked())); pipeline.set(prev); }>"Undo"</button>
                    <button type="button" class="btn-quiet" disabled=move || redo.with(Vec::is_empty) data-testid="redo"
                        on:click=move |_| if let Some(next) = redo.try_update(|r| r.pop()).flatten() { undo.update(|u| u.push(pipeline.get_untracked())); pipeline.set(next); }>"Redo"</button>
                    <label class="btn-quiet">"Import an Elyra file…"
                        <input type="file" accept=".pipeline,application/json" class="sr-only" on:change=read_file data-testid="elyra-import"/>
                    </label>
                    <button type="button" class="btn-quiet" data-testid="elyra-export-button"
                        on:click=move |_| ask(Asked::Export, Conversion::ToElyra(pipeline.get_untracked()))>"Export as Elyra file"</button>
                </div>
                {notices}
                <ul class="text-sm text-rose-700 dark:text-rose-300" data-testid="pipeline-problems">
                    {move || whole_problems().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
                </ul>
            </section>
            <div class="flex gap-2" role="tablist">
                <button type="button" role="tab" class="btn-quiet" aria-selected=move || (!yaml_tab.get()).to_string() data-testid="tab-diagram"
                    on:click=move |_| yaml_tab.set(false)>"Diagram"</button>
                <button type="button" role="tab" class="btn-quiet" aria-selected=move || yaml_tab.get().to_string() data-testid="tab-yaml"
                    on:click=show_yaml>"YAML"</button>
            </div>
            {move || if !yaml_tab.get() {
                view! {
                    <section class="card overflow-x-auto space-y-1">
                        <p class="hint" role="status" data-testid="drag-hint">{move || match (dragging.get(), connected.get()) {
                            (Some(from), _) => format!("Drop on the step that runs after {from}."),
                            (None, Some((from, to))) => format!("{to} now runs after {from}."),
                            (None, None) => "Drag from one step to another to make the second run after the first; click a step to edit it.".to_string(),
                        }}</p>
                        <div class="dag-editor" data-testid="editor-diagram" inner_html=svg
                            on:pointerdown=drag_start on:pointerup=drag_end on:pointerleave=move |_| dragging.set(None)></div>
                    </section>
                }.into_any()
            } else {
                view! {
                    <section class="card space-y-2">
                        <p class="hint">"The WorkflowTemplate this pipeline becomes. Change it and apply: the diagram follows, or you are told what it cannot take."</p>
                        <textarea class="input mono text-xs min-h-96 w-full" prop:value=move || yaml_text.get() data-testid="pipeline-yaml"
                            on:input=move |e| yaml_text.set(event_target_value(&e))></textarea>
                        <button type="button" class="btn-quiet" disabled=move || convert.pending().get() data-testid="yaml-apply"
                            on:click=move |_| ask(Asked::FromYaml, Conversion::FromYaml(yaml_text.get_untracked()))>"Apply YAML"</button>
                        {move || match answer(Asked::FromYaml) {
                            Some(Err(e)) => Some(view! { <p class="notice-error" role="alert" data-testid="yaml-error">{e.to_string()}</p> }.into_any()),
                            Some(Ok(_)) => Some(view! { <p class="notice-ok" role="status" data-testid="yaml-applied">"Applied to the diagram."</p> }.into_any()),
                            None => None,
                        }}
                    </section>
                }.into_any()
            }}
            <datalist id="pipeline-step-names">{move || names.get().into_iter().map(|n| view! { <option value=n/> }).collect_view()}</datalist>
            <div class="space-y-3">{steps}</div>
            <div class="flex items-center gap-3">
                <button type="submit" class="btn-primary" disabled=move || save.pending().get() || problems.with(|p| !p.is_empty()) data-testid="pipeline-save">"Save pipeline"</button>
                {move || (!problems.with(Vec::is_empty)).then(|| view! { <span class="hint">{move || format!("{} problems to fix first", problems.with(Vec::len))}</span> })}
            </div>
            {move || save.value().get().map(|r| match r {
                Ok(()) => {
                    let name = pipeline.with_untracked(|p| p.name.clone());
                    view! { <p class="notice-ok" role="status" data-testid="pipeline-saved">"Saved. "<a href=format!("/pipelines/{team}/p/{name}")>"Open the pipeline"</a></p> }.into_any()
                }
                Err(e) => view! { <p class="notice-error" role="alert" data-testid="pipeline-save-error">{e.to_string()}</p> }.into_any(),
            })}
        </form>
    }
}

#[component]
fn Params(pipeline: RwSignal<Pipeline>, edit: impl Fn(&dyn Fn(&mut Pipeline)) + Copy + Send + Sync + 'static) -> impl IntoView {
    let count = Memo::new(move |_| pipeline.with(|p| p.params.len()));
    let rows = move || {
        (0..count.get())
            .map(|i| {
                let get = move |f: fn(&Param) -> String| pipeline.with(|p| p.params.get(i).map(f).unwrap_or_default());
                view! {
                    <div class="flex flex-wrap items-end gap-2" data-testid="param">
                        <label class="form-row">"Parameter"
                            <input class="input mono" prop:value=move || get(|x| x.name.clone())
                                on:change=move |e| { let v = event_target_value(&e); edit(&|p: &mut Pipeline| if let Some(x) = p.params.get_mut(i) { x.name = v.trim().to_string() }) }/>
                        </label>
                        <label class="form-row">"Default"
                            <input class="input mono" prop:value=move || get(|x| x.default.clone())
                                on:change=move |e| { let v = event_target_value(&e); edit(&|p: &mut Pipeline| if let Some(x) = p.params.get_mut(i) { x.default = v.clone() }) }/>
                        </label>
                        <button type="button" class="btn-quiet" on:click=move |_| edit(&|p: &mut Pipeline| { if i < p.params.len() { p.params.remove(i); } })>"Remove"</button>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div class="space-y-2">
            {rows}
            <button type="button" class="btn-quiet" data-testid="add-param"
                on:click=move |_| edit(&|p: &mut Pipeline| p.params.push(Param { name: format!("param{}", p.params.len() + 1), default: String::new() }))>"Add a parameter"</button>
            <p class="hint">"Steps use a parameter as {{workflow.parameters.name}} in their command."</p>
        </div>
    }
}

#[component]
fn StepEditor(
    i: usize,
    pipeline: RwSignal<Pipeline>,
    images: Vec<String>,
    connections: Vec<String>,
    problems: Memo<Vec<crate::pipelines::model::Problem>>,
    edit: impl Fn(&dyn Fn(&mut Pipeline)) + Copy + Send + Sync + 'static,
    expanded: RwSignal<Option<String>>,
    few: Memo<bool>,
) -> impl IntoView {
    // This step alone: its form follows its own changes, not every edit.
    let step = Memo::new(move |_| pipeline.with(|p| p.steps.get(i).cloned().unwrap_or_default()));
    let name = move || step.with(|s| s.name.clone());
    let open = move || few.get() || expanded.with(|e| e.as_deref() == Some(step.with(|s| s.name.clone()).as_str()));
    let mine = move || {
        let n = name();
        problems.with(|ps| ps.iter().filter(|p| p.step.as_deref() == Some(n.as_str())).map(|p| p.message.clone()).collect::<Vec<_>>())
    };
    let set = move |f: Box<dyn Fn(&mut Step) + Send + Sync>| edit(&|p: &mut Pipeline| if let Some(s) = p.steps.get_mut(i) { f(s) });
    let kind = move || match step.get().work {
        Work::Command(_) => "command",
        Work::Script(_) => "script",
        Work::Notebook(_) => "notebook",
    };
    let text = move || match step.get().work {
        Work::Command(t) | Work::Script(t) | Work::Notebook(t) => t,
    };
    let env_text = move || step.get().env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n");
    let set_env = move |e: leptos::ev::Event| {
        let env: Vec<(String, String)> = event_target_value(&e)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), v.to_string()),
                None => (l.trim().to_string(), String::new()),
            })
            .collect();
        set(Box::new(move |s| s.env = env.clone()))
    };
    view! {
        <section class="card space-y-2" data-testid="step-editor" data-step=name data-open=move || open().to_string()>
            {move || (!open()).then(|| view! {
                <div class="flex flex-wrap items-center gap-3">
                    <span class="font-medium">{name}</span>
                    <span class="muted text-sm mono">{move || step.with(|s| s.image.clone())}</span>
                    <button type="button" class="btn-quiet ml-auto" data-testid="step-open" on:click=move |_| expanded.set(Some(name()))>"Edit"</button>
                </div>
            })}
            {move || open().then(|| view! {
            <div class="flex flex-wrap items-end gap-3">
                <label class="form-row">"Step"
                    <input class="input" prop:value=name data-testid="step-name"
                        on:change=move |e| {
                            let v = event_target_value(&e).trim().to_string();
                            // Its form stays open under its new name.
                            let before = name();
                            expanded.update(|x| if x.as_deref() == Some(before.as_str()) { *x = Some(v.clone()) });
                            edit(&|p: &mut Pipeline| {
                                // Renaming a step keeps what waits for it.
                                let old = p.steps.get(i).map(|s| s.name.clone()).unwrap_or_default();
                                for s in &mut p.steps { for a in &mut s.after { if *a == old { *a = v.clone(); } } }
                                if let Some(s) = p.steps.get_mut(i) { s.name = v.clone(); }
                            })
                        }/>
                </label>
                <label class="form-row">"Runtime image"
                    <select class="select input" data-testid="step-image" on:change=move |e| { let v = event_target_value(&e); set(Box::new(move |s| s.image = v.clone())) }>
                        {images.iter().map(|img| { let img = img.clone(); let on = { let img = img.clone(); move || step.get().image == img }; view! { <option value=img.clone() selected=on>{img.clone()}</option> } }).collect_view()}
                    </select>
                </label>
                <label class="form-row">"Runs a"
                    <select class="select input" data-testid="step-kind" on:change=move |e| {
                        let v = event_target_value(&e);
                        set(Box::new(move |s| {
                            let t = match &s.work { Work::Command(t) | Work::Script(t) | Work::Notebook(t) => t.clone() };
                            s.work = match v.as_str() { "script" => Work::Script(t), "notebook" => Work::Notebook(t), _ => Work::Command(t) };
                        }))
                    }>
                        <option value="command" selected=move || kind() == "command">"command"</option>
                        <option value="script" selected=move || kind() == "script">"Python script"</option>
                        <option value="notebook" selected=move || kind() == "notebook">"notebook file"</option>
                    </select>
                </label>
                <label class="form-row">"CPU"<input class="input w-24" placeholder="500m" prop:value=move || step.get().cpu data-testid="step-cpu"
                    on:change=move |e| { let v = event_target_value(&e); set(Box::new(move |s| s.cpu = v.trim().to_string())) }/></label>
                <label class="form-row">"Memory"<input class="input w-24" placeholder="512Mi" prop:value=move || step.get().memory data-testid="step-memory"
                    on:change=move |e| { let v = event_target_value(&e); set(Box::new(move |s| s.memory = v.trim().to_string())) }/></label>
                <label class="form-row">"GPUs"<input class="input w-16" inputmode="numeric" prop:value=move || step.get().gpus.to_string() data-testid="step-gpus"
                    on:change=move |e| { let v = event_target_value(&e).trim().parse().unwrap_or(0); set(Box::new(move |s| s.gpus = v)) }/></label>
                <label class="form-row">"Retries"<input class="input w-20" inputmode="numeric" prop:value=move || step.get().retries.to_string() data-testid="step-retries"
                    on:change=move |e| { let v = event_target_value(&e).trim().parse().unwrap_or(0); set(Box::new(move |s| s.retries = v)) }/></label>
                <label class="form-row">"Timeout (s)"<input class="input w-24" inputmode="numeric" placeholder="none" data-testid="step-timeout"
                    prop:value=move || step.get().timeout_seconds.map(|t| t.to_string()).unwrap_or_default()
                    on:change=move |e| { let v = event_target_value(&e).trim().parse().ok(); set(Box::new(move |s| s.timeout_seconds = v)) }/></label>
                <button type="button" class="btn-quiet ml-auto" data-testid="step-remove"
                    on:click=move |_| edit(&|p: &mut Pipeline| {
                        if i < p.steps.len() {
                            let gone = p.steps.remove(i).name;
                            for s in &mut p.steps { s.after.retain(|a| *a != gone); }
                        }
                    })>"Remove step"</button>
            </div>
            <label class="form-row">{move || match kind() { "script" => "Python script", "notebook" => "Notebook file (.ipynb)", _ => "Command" }}
                <textarea class="input mono min-h-16" prop:value=text data-testid="step-text"
                    on:change=move |e| {
                        let v = event_target_value(&e);
                        set(Box::new(move |s| s.work = match &s.work { Work::Command(_) => Work::Command(v.clone()), Work::Script(_) => Work::Script(v.clone()), Work::Notebook(_) => Work::Notebook(v.clone()) }))
                    }></textarea>
            </label>
            <label class="form-row">"Environment (one NAME=value per line)"
                <textarea class="input mono text-xs min-h-10" data-testid="step-env"
                    prop:value=env_text on:change=set_env></textarea>
            </label>
            {(!connections.is_empty()).then(|| view! {
                <fieldset class="flex flex-wrap gap-3 text-sm" data-testid="step-connections">
                    <legend class="muted">"Data connections (their keys become environment variables)"</legend>
                    {connections.iter().map(|c| {
                        let c = c.clone();
                        let on = { let c = c.clone(); move || step.get().connections.contains(&c) };
                        let toggle = { let c = c.clone(); move |_| { let c = c.clone(); set(Box::new(move |s| if s.connections.contains(&c) { s.connections.retain(|x| *x != c) } else { s.connections.push(c.clone()) })) } };
                        view! { <label class="check"><input type="checkbox" prop:checked=on on:change=toggle data-testid=format!("connection-{c}")/>{c.clone()}</label> }
                    }).collect_view()}
                </fieldset>
            })}
            <fieldset class="flex flex-wrap items-center gap-2 text-sm">
                <legend class="muted">"Runs after (or drag in the diagram)"</legend>
                {move || step.with(|s| s.after.clone()).into_iter().map(|a| {
                    let remove = { let a = a.clone(); move |_| { let a = a.clone(); set(Box::new(move |s| s.after.retain(|x| *x != a))) } };
                    view! {
                        <span class="badge gap-1" data-testid=format!("after-{a}")>{a.clone()}
                            <button type="button" class="btn-quiet px-1" aria-label=format!("No longer wait for {a}") data-testid="after-remove" on:click=remove>"×"</button>
                        </span>
                    }
                }).collect_view()}
                <input class="input w-44" list="pipeline-step-names" placeholder="add a step to wait for" data-testid="step-after-add"
                    on:change=move |e| {
                        let v = event_target_value(&e).trim().to_string();
                        #[cfg(feature = "hydrate")]
                        event_target::<web_sys::HtmlInputElement>(&e).set_value("");
                        let known = pipeline.with_untracked(|p| p.step(&v).is_some());
                        if known {
                            set(Box::new(move |s| if s.name != v && !s.after.contains(&v) { s.after.push(v.clone()) }));
                        }
                    }/>
            </fieldset>
            })}
            <ul class="text-sm text-rose-700 dark:text-rose-300" data-testid="step-problems">
                {move || mine().into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
            </ul>
        </section>
    }
}
