//! `/models/:team/:name`: one registered model. Its versions with their
//! source runs (linked) and those runs' metrics side by side, its aliases
//! (moved by those who may), and its deployments: deployed, watched until
//! ready and removed here.

use crate::components::error_view::ErrorView;
use crate::models::api::{DecidePromotion, Deploy, Predict, PredictionExample, PreviewDeployment, PromoteCanary, RemoveAlias, RollBackTo, RollbackCanary, RolloutCanary, SetAlias, Undeploy, get_deployments, get_model, get_traffic};
use crate::models::model::{
    DEFAULT_CPU, DEFAULT_MEMORY, DeployRequest, Deployment, ModelDetail, Promotion, ServingState, Traffic, VersionRow, VersionTraffic, check_inference_request, check_alias, check_percent, default_deployment_name,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ModelPage() -> impl IntoView {
    let params = use_params_map().read_untracked();
    let team = params.get("team").unwrap_or_default();
    let name = params.get("name").unwrap_or_default();
    let data = Resource::new(move || (team.clone(), name.clone()), |(t, n)| get_model(t, n));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the model…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Model"/><ErrorView error=e/> }.into_any(),
                    Ok(detail) => view! { <Model detail/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Model(detail: ModelDetail) -> impl IntoView {
    let ModelDetail { team, name, description, tags, versions, aliases, deployments, may_alias, may_deploy, deploy_asks, runtimes } = detail;
    let ready: Vec<String> = versions.iter().filter(|v| v.status == "READY").map(|v| v.version.clone()).collect();
    let all: Vec<String> = versions.iter().map(|v| v.version.clone()).collect();
    let tags = tags.into_iter().map(|(k, v)| view! { <span class="chip">{format!("{k}: {v}")}</span> }).collect_view();
    // Lineage, version → deployment: which deployments serve each version
    // (as the stable version or as a canary) when the page was made.
    let served: Vec<(String, String)> = deployments
        .iter()
        .flat_map(|d| std::iter::once((d.version.clone(), d.name.clone())).chain(d.canary.iter().map(|c| (c.version.clone(), d.name.clone()))))
        .collect();
    view! {
        <Title text=format!("{name} · Models")/>
        <p class="hint"><a href="/models">"Models"</a>" / "<a href=format!("/models/{team}")>{team.clone()}</a></p>
        <h1 class="page-title" data-testid="model-name">{name.clone()}</h1>
        {(!description.is_empty()).then(|| view! { <p class="whitespace-pre-wrap" data-testid="model-description">{description.clone()}</p> })}
        <p class="flex flex-wrap gap-2">{tags}</p>
        <section class="card space-y-2" data-testid="model-aliases">
            <h2 class="section-title">"Aliases"</h2>
            <p class="hint">"An alias names the version people and pipelines should use, e.g. “champion” for the one in production."</p>
            {if may_alias {
                view! { <AliasEditor team=team.clone() name=name.clone() aliases=aliases.clone() versions=all.clone()/> }.into_any()
            } else {
                view! { <AliasChips aliases=aliases.clone()/> }.into_any()
            }}
        </section>
        <Serving team=team.clone() model=name.clone() deployments versions=ready may_deploy deploy_asks runtimes/>
        <MetricsCompare versions=versions.clone()/>
        <Versions team=team.clone() versions served/>
    }
}

#[component]
fn AliasChips(aliases: Vec<(String, String)>) -> impl IntoView {
    if aliases.is_empty() {
        return view! { <p class="muted">"No aliases."</p> }.into_any();
    }
    aliases.into_iter().map(|(a, v)| view! { <span class="chip mr-2" data-testid="alias">{format!("{a} → v{v}")}</span> }).collect_view().into_any()
}

/// Sets, moves and removes aliases; each change is audited.
#[island(lazy)]
fn AliasEditor(team: String, name: String, aliases: Vec<(String, String)>, versions: Vec<String>) -> impl IntoView {
    let set = ServerAction::<SetAlias>::new();
    let remove = ServerAction::<RemoveAlias>::new();
    let shown = RwSignal::new(aliases);
    let alias = RwSignal::new("champion".to_string());
    let version = RwSignal::new(versions.first().cloned().unwrap_or_default());
    let problem = move || check_alias(alias.get().trim()).err();
    Effect::new(move |_| {
        if let Some(Ok(())) = set.value().get() {
            let (a, v) = (alias.get_untracked().trim().to_string(), version.get_untracked());
            shown.update(|s| {
                s.retain(|(x, _)| *x != a);
                s.push((a, v));
                s.sort();
            });
        }
    });
    let removing = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get()
            && let Some(gone) = removing.get_untracked()
        {
            shown.update(|s| s.retain(|(x, _)| *x != gone));
        }
    });
    let (t1, n1, t2, n2) = (team.clone(), name.clone(), team, name);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if problem().is_none() {
            set.dispatch(SetAlias { team: t1.clone(), name: n1.clone(), alias: alias.get_untracked().trim().to_string(), version: version.get_untracked() });
        }
    };
    view! {
        <ul class="flex flex-wrap gap-2">
            {move || shown.get().into_iter().map(|(a, v)| {
                let (t, n, gone) = (t2.clone(), n2.clone(), a.clone());
                view! {
                    <li class="chip flex items-center gap-1" data-testid="alias" data-alias=a.clone()>
                        {format!("{a} → v{v}")}
                        <button type="button" class="btn-quiet text-xs" aria-label=format!("Remove alias {a}") data-testid="alias-remove"
                            on:click=move |_| { removing.set(Some(gone.clone())); remove.dispatch(RemoveAlias { team: t.clone(), name: n.clone(), alias: gone.clone() }); }>"×"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
        <Show when=move || shown.with(Vec::is_empty)>
            <p class="muted">"No aliases."</p>
        </Show>
        <form class="flex flex-wrap items-end gap-2" on:submit=submit data-testid="alias-form">
            <label class="form-row">"Alias"
                <input class="input" prop:value=alias on:input=move |ev| alias.set(event_target_value(&ev)) data-testid="alias-name"/>
            </label>
            <label class="form-row">"Version"
                <select class="select input" on:change=move |ev| version.set(event_target_value(&ev)) data-testid="alias-version">
                    {versions.iter().map(|v| view! { <option value=v.clone()>{format!("v{v}")}</option> }).collect_view()}
                </select>
            </label>
            <button type="submit" class="btn" disabled=move || set.pending().get() || problem().is_some() data-testid="alias-set">"Set alias"</button>
        </form>
        {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert">{p}</p> })}
        {move || set.value().get().map(|r| match r {
            Ok(()) => view! { <p class="notice-ok" role="status" data-testid="alias-result">"Alias set."</p> }.into_any(),
            Err(e) => view! { <p class="notice-error" role="alert" data-testid="alias-result">{e.to_string()}</p> }.into_any(),
        })}
        {move || match remove.value().get() {
            Some(Err(e)) => Some(view! { <p class="notice-error" role="alert" data-testid="alias-remove-result">{e.to_string()}</p> }),
            _ => None,
        }}
    }
}

/// How often the page asks again while a deployment is starting.
const FOLLOW_MS: u64 = 2000;
/// A deployment that is not ready is read again every this many periods.
const FAILING_EVERY: u32 = 5;

/// The model's deployments, followed while any is starting, and the form
/// to deploy a version (preview first, then deploy).
#[island(lazy)]
fn Serving(team: String, model: String, deployments: Vec<Deployment>, versions: Vec<String>, may_deploy: bool, deploy_asks: bool, runtimes: Vec<(String, String)>) -> impl IntoView {
    let shown = RwSignal::new(deployments);
    let deploy = ServerAction::<Deploy>::new();
    let undeploy = ServerAction::<Undeploy>::new();
    let acts = Acts::new();
    let refresh = {
        let (team, model) = (team.clone(), model.clone());
        move || {
            let (team, model) = (team.clone(), model.clone());
            leptos::task::spawn_local(async move {
                if let Ok(fresh) = get_deployments(team, model).await {
                    shown.set(fresh);
                }
            });
        }
    };
    crate::components::reload::reload_when(move || deploy.version().get() + undeploy.version().get() + acts.version(), shown, {
        let (team, model) = (team.clone(), model.clone());
        move || get_deployments(team.clone(), model.clone())
    });
    // Follow while something is starting (the controller's status moves
    // within seconds on a healthy cluster), and, less often, while something
    // is not ready: a refusal can be made good (room in the quota, a node
    // back) and the page should say so without a reload.
    let starting = move || {
        shown.with(|d| d.iter().any(|d| d.state == ServingState::Starting || d.canary.as_ref().is_some_and(|c| c.state == ServingState::Starting)))
    };
    let failing = move || shown.with(|d| d.iter().any(|d| d.state == ServingState::Failing));
    #[cfg(feature = "hydrate")]
    {
        let refresh = refresh.clone();
        let tick = std::cell::Cell::new(0u32);
        let handle = set_interval_with_handle(
            move || {
                tick.set(tick.get().wrapping_add(1));
                if starting() || (failing() && tick.get() % FAILING_EVERY == 0) {
                    refresh();
                }
            },
            std::time::Duration::from_millis(FOLLOW_MS),
        );
        if let Ok(h) = handle {
            on_cleanup(move || h.clear());
        }
    }
    let _ = (&refresh, FOLLOW_MS, FAILING_EVERY, failing);
    let t = team.clone();
    view! {
        <section class="card space-y-3" data-testid="model-deployments">
            <h2 class="section-title">"Deployments"</h2>
            <Show when=move || shown.with(Vec::is_empty)>
                <p class="muted" data-testid="deployments-empty">"This model is not served anywhere yet."</p>
            </Show>
            // Keyed by everything shown: a deployment that did not change
            // keeps its card, and what was typed and answered in Try it.
            <For
                each=move || shown.get()
                key=|d| format!("{d:?}")
                children={
                    let versions = versions.clone();
                    move |d| view! { <DeploymentCard d team=t.clone() may_deploy undeploy acts versions=versions.clone()/> }
                }
            />
            {move || acts.error().map(|e| view! { <p class="notice-error" role="alert" data-testid="rollout-result">{e}</p> })}
            {move || acts.notice().map(|n| view! { <p class="notice-ok" role="status" data-testid="rollout-notice">{n}</p> })}
            {move || match undeploy.value().get() {
                Some(Err(e)) => Some(view! { <p class="notice-error" role="alert" data-testid="undeploy-result">{e.to_string()}</p> }),
                _ => None,
            }}
            <Show when=starting>
                <p class="hint" role="status" data-testid="deployments-following">"Following the deployment while it starts…"</p>
            </Show>
        </section>
        {may_deploy.then(|| view! { <DeployForm team=team.clone() model=model.clone() versions=versions.clone() deploy asks=deploy_asks runtimes=runtimes.clone()/> })}
    }
}

/// The actions that change what a deployment serves, and what the last
/// of them said (a refusal, or e.g. that a request now waits for approval).
#[derive(Clone, Copy)]
struct Acts {
    canary: ServerAction<RolloutCanary>,
    promote: ServerAction<PromoteCanary>,
    rollback: ServerAction<RollbackCanary>,
    back_to: ServerAction<RollBackTo>,
    decide: ServerAction<DecidePromotion>,
    said: RwSignal<Option<Result<String, String>>>,
}

impl Acts {
    fn new() -> Self {
        let acts = Acts {
            canary: ServerAction::new(),
            promote: ServerAction::new(),
            rollback: ServerAction::new(),
            back_to: ServerAction::new(),
            decide: ServerAction::new(),
            said: RwSignal::new(None),
        };
        let said = acts.said;
        let quiet = |r: Result<(), crate::error::AppError>| r.map(|()| String::new()).map_err(|e| e.to_string());
        let told = |r: Result<String, crate::error::AppError>| r.map_err(|e| e.to_string());
        Effect::new(move |_| acts.canary.value().get().map(|r| said.set(Some(quiet(r)))));
        Effect::new(move |_| acts.rollback.value().get().map(|r| said.set(Some(quiet(r)))));
        Effect::new(move |_| acts.promote.value().get().map(|r| said.set(Some(told(r)))));
        Effect::new(move |_| acts.back_to.value().get().map(|r| said.set(Some(told(r)))));
        Effect::new(move |_| acts.decide.value().get().map(|r| said.set(Some(told(r)))));
        acts
    }

    fn version(self) -> usize {
        self.canary.version().get() + self.promote.version().get() + self.rollback.version().get() + self.back_to.version().get() + self.decide.version().get()
    }

    /// The refusal of the last of them, in words.
    fn error(self) -> Option<String> {
        self.said.get().and_then(|r| r.err())
    }

    /// What the last of them said when it went through (if anything).
    fn notice(self) -> Option<String> {
        self.said.get().and_then(|r| r.ok()).filter(|s| !s.is_empty())
    }
}

#[component]
fn DeploymentCard(d: Deployment, team: String, may_deploy: bool, undeploy: ServerAction<Undeploy>, acts: Acts, versions: Vec<String>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let name = d.name.clone();
    let reasons = d.reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view();
    let gpus = (d.gpus > 0).then(|| format!(", {} GPU", d.gpus)).unwrap_or_default();
    // Asked of the team's admins: nothing exists yet to change or remove.
    let asked = d.state == ServingState::Asked;
    let remove = (may_deploy && !asked).then(|| {
        let (team, name) = (team.clone(), name.clone());
        view! {
            <Show when=move || confirming.get() fallback=move || view! {
                <button type="button" class="btn-quiet" data-testid="undeploy" on:click=move |_| confirming.set(true)>"Stop serving"</button>
            }>
                {
                    let (team, name) = (team.clone(), name.clone());
                    view! {
                        <span class="text-sm">"Stop serving and remove this deployment? "</span>
                        <button type="button" class="btn-danger" data-testid="undeploy-confirm"
                            on:click=move |_| { undeploy.dispatch(Undeploy { team: team.clone(), name: name.clone() }); }>"Remove"</button>
                        <button type="button" class="btn-quiet" on:click=move |_| confirming.set(false)>"Cancel"</button>
                    }
                }
            </Show>
        }
    });
    view! {
        <div class="space-y-1 border-t pt-3 first-of-type:border-t-0" data-testid="deployment" data-deployment=d.name.clone() id=format!("deployment-{}", d.name)>
            <p class="flex flex-wrap items-center gap-2">
                <span class="font-medium mono">{d.name.clone()}</span>
                <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", d.state.badge()) data-testid="deployment-state">{d.state.label()}</span>
                <a href=format!("#v{}", d.version) class="text-sm" data-testid="deployment-version">{format!("version {}", d.version)}</a>
            </p>
            {(!d.url.is_empty()).then(|| view! { <p class="text-sm">"Address: "<span class="mono" data-testid="deployment-url">{d.url.clone()}</span></p> })}
            <p class="text-sm muted">{format!(
                "{}–{} replicas, each {} CPU, {} memory{gpus}; {} by {}",
                d.min_replicas,
                d.max_replicas,
                d.cpu,
                d.memory,
                if asked { "asked" } else { "deployed" },
                if d.deployed_by.is_empty() { "someone" } else { &d.deployed_by }
            )}</p>
            {(!d.reasons.is_empty()).then(|| view! { <ul class="list-disc pl-5 text-sm text-rose-700 dark:text-rose-300" data-testid="deployment-reasons">{reasons}</ul> })}
            {d.asks_approval.then(|| view! { <p class="hint" data-testid="approval-note">"In this team a team admin approves every change of the version that serves: promoting asks them."</p> })}
            {d.waiting.clone().map(|p| view! { <Waiting p acts/> })}
            {(!asked).then(|| view! { <Rollout d=d.clone() team=team.clone() may_deploy acts versions/> })}
            {(d.state == ServingState::Ready).then(|| {
                // With a canary, Try it may go to either version's own server.
                let targets: Vec<(String, String)> = d
                    .canary
                    .iter()
                    .flat_map(|c| [(d.version.clone(), format!("version {} (stable)", d.version)), (c.version.clone(), format!("version {} (canary)", c.version))])
                    .collect();
                let sent = RwSignal::new(0u32);
                view! {
                    <RequestCounts team=team.clone() name=d.name.clone() sent/>
                    <TryIt team=team.clone() name=d.name.clone() targets sent/>
                }
            })}
            {remove}
        </div>
    }
}

/// How often the request counts are read again while the card is shown.
const TRAFFIC_MS: u64 = 5000;

/// The requests each version answered, as its model servers count them,
/// read in the browser (never while the page is made: a model server that
/// does not answer must not hold the page) and again every few seconds and
/// after each Try it. With a canary, the share of requests each version
/// served is charted against the share asked for it.
#[component]
fn RequestCounts(team: String, name: String, sent: RwSignal<u32>) -> impl IntoView {
    let counts: RwSignal<Option<Result<Traffic, String>>> = RwSignal::new(None);
    let load = move || {
        let (team, name) = (team.clone(), name.clone());
        leptos::task::spawn_local(async move {
            let read = get_traffic(team, name).await.map_err(|e| e.to_string());
            counts.set(Some(read));
        });
    };
    {
        let load = load.clone();
        Effect::new(move |_| {
            sent.track();
            load();
        });
    }
    #[cfg(feature = "hydrate")]
    {
        if let Ok(h) = set_interval_with_handle(load, std::time::Duration::from_millis(TRAFFIC_MS)) {
            on_cleanup(move || h.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (load, TRAFFIC_MS);
    view! {
        <div class="text-sm space-y-1" data-testid="traffic">
            {move || match counts.get() {
                None => view! { <p class="hint">"Counting the requests answered…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="hint" data-testid="traffic-error">{format!("Request counts: {e}")}</p> }.into_any(),
                Some(Ok(t)) => view! { <TrafficView t/> }.into_any(),
            }}
        </div>
    }
}

fn version_label(v: &VersionTraffic) -> String {
    format!("version {}{}", v.version, if v.canary { " (canary)" } else { "" })
}

/// One version's count in words.
fn counted_sentence(v: &VersionTraffic) -> String {
    let label = version_label(v);
    if v.servers == 0 {
        return format!("{label}: no model server is running.");
    }
    if v.counted == 0 {
        return format!("{label}: its model servers did not give their counts.");
    }
    let plural = |n: u64, one: &str, many: &str| if n == 1 { format!("{n} {one}") } else { format!("{n} {many}") };
    let mut s = format!("{label}: {} answered, {} failed", plural(v.answered, "request", "requests"), v.failed);
    if v.counted < v.servers {
        s.push_str(&format!(" (counted by {} of its {} servers; the others did not answer)", v.counted, v.servers));
    }
    s.push('.');
    s
}

#[component]
fn TrafficView(t: Traffic) -> impl IntoView {
    let lines = t
        .versions
        .iter()
        .map(|v| view! { <li data-testid="traffic-version" data-version=v.version.clone()>{counted_sentence(v)}</li> })
        .collect_view();
    let split = t.versions.len() > 1;
    // Asked beside served, one bar each, a segment per version.
    let bar = |testid: &'static str, title: &'static str, shares: Vec<u32>, versions: &[VersionTraffic]| {
        let segments = versions
            .iter()
            .zip(shares)
            .map(|(v, permille)| {
                let pct = format!("{}.{} %", permille / 10, permille % 10);
                let colour = if v.canary { "bg-amber-400 dark:bg-amber-500" } else { "bg-sky-600 dark:bg-sky-500" };
                view! {
                    <span class=format!("block h-full {colour}") style=format!("width: {}%", permille as f64 / 10.0)
                        title=format!("{}: {pct}", version_label(v)) data-testid="traffic-share" data-version=v.version.clone() data-share=pct.clone()></span>
                }
            })
            .collect_view();
        view! {
            <div class="flex items-center gap-2" data-testid=testid>
                <span class="w-14 text-xs muted">{title}</span>
                <span class="flex h-3 grow overflow-hidden rounded bg-slate-200 dark:bg-slate-700" role="img"
                    aria-label=format!("{title}: {}", versions.iter().map(version_label).collect::<Vec<_>>().join(", "))>{segments}</span>
            </div>
        }
    };
    let chart = split.then(|| {
        let asked: Vec<u32> = t.versions.iter().map(|v| v.asked_percent as u32 * 10).collect();
        let served = t.served_permille();
        let legend = t
            .versions
            .iter()
            .zip(served.clone().unwrap_or_default().into_iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(v, s)| {
                let served = s.map(|s| format!("{}.{} %", s / 10, s % 10)).unwrap_or_else(|| "–".into());
                format!("{}: asked {} %, served {served}", version_label(v), v.asked_percent)
            })
            .collect::<Vec<_>>()
            .join(" · ");
        view! {
            <div class="space-y-1" data-testid="traffic-chart">
                {bar("traffic-asked", "Asked", asked, &t.versions)}
                {match served {
                    Some(s) => bar("traffic-served", "Served", s, &t.versions).into_any(),
                    None => view! { <p class="hint">"Served: no request counted yet."</p> }.into_any(),
                }}
                <p class="hint" data-testid="traffic-legend">{legend}</p>
            </div>
        }
    });
    view! {
        <p class="font-medium">"Requests answered since the model servers started"</p>
        <ul class="list-disc pl-5">{lines}</ul>
        {chart}
    }
}

/// Try it: a V2 inference request (filled in from what the model server
/// says it takes), sent through the portal as the person; the answer, the
/// outputs in short and the round trip's time.
#[component]
fn TryIt(team: String, name: String, targets: Vec<(String, String)>, sent: RwSignal<u32>) -> impl IntoView {
    let example = ServerAction::<PredictionExample>::new();
    let send = ServerAction::<Predict>::new();
    let text = RwSignal::new(String::new());
    let target = RwSignal::new(targets.first().map(|t| t.0.clone()).unwrap_or_default());
    // The example fills an empty request only: what was typed meanwhile stays.
    Effect::new(move |_| {
        if let Some(Ok(e)) = example.value().get()
            && text.with_untracked(|t| t.trim().is_empty())
        {
            text.set(e);
        }
    });
    // Each answer (or refusal) moves the request counts beside the panel.
    Effect::new(move |_| {
        if send.value().with(Option::is_some) {
            sent.update(|n| *n += 1);
        }
    });
    let choose = (!targets.is_empty()).then(|| {
        let options = targets.iter().map(|(v, label)| view! { <option value=v.clone()>{label.clone()}</option> }).collect_view();
        view! {
            <label class="form-row">"Send to"
                <select class="select input" on:change=move |ev| target.set(event_target_value(&ev)) data-testid="predict-target">{options}</select>
            </label>
        }
    });
    let problem = move || {
        let t = text.get();
        (!t.trim().is_empty()).then(|| check_inference_request(&t).err()).flatten()
    };
    let (t1, n1, t2, n2) = (team.clone(), name.clone(), team, name);
    let opened = RwSignal::new(false);
    view! {
        <details class="text-sm" data-testid="try-it"
            on:toggle=move |_| if !opened.get_untracked() { opened.set(true); example.dispatch(PredictionExample { team: t1.clone(), name: n1.clone() }); }>
            <summary>"Try it"</summary>
            <div class="space-y-2 pt-2">
                <p class="hint">"A request in the V2 inference protocol, filled in from what the model takes; edit the data and send it. It goes through Atrium as you."</p>
                {choose}
                <textarea class="input mono text-xs w-full" rows="8" spellcheck="false" aria-label="Inference request (JSON)" data-testid="predict-request"
                    prop:value=text on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert" data-testid="predict-problem">{p}</p> })}
                <button type="button" class="btn" data-testid="predict-send"
                    disabled=move || send.pending().get() || text.with(|t| t.trim().is_empty()) || problem().is_some()
                    on:click=move |_| { send.dispatch(Predict { team: t2.clone(), name: n2.clone(), request: text.get_untracked(), version: Some(target.get_untracked()).filter(|v| !v.is_empty()) }); }>
                    {move || if send.pending().get() { "Sending…" } else { "Send" }}
                </button>
                {move || match example.value().get() {
                    Some(Err(e)) => Some(view! { <p class="notice-error" role="alert" data-testid="predict-error">{e.to_string()}</p> }),
                    _ => None,
                }}
                {move || send.value().get().map(|r| match r {
                    Ok(p) => {
                        let ok = (200..300).contains(&p.status);
                        let outputs = p.outputs.iter().map(|(n, v)| view! { <li><span class="mono">{n.clone()}</span>": "<span class="mono" data-testid="predict-output">{v.clone()}</span></li> }).collect_view();
                        view! {
                            <div class="space-y-1" data-testid="predict-result">
                                <p class=if ok { "notice-ok" } else { "notice-error" } role="status">
                                    <span data-testid="predict-status">{if ok { "Answered".to_string() } else { format!("Refused ({})", p.status) }}</span>
                                    " in "<span data-testid="predict-latency">{format!("{} ms", p.latency_ms)}</span>
                                </p>
                                <ul class="list-disc pl-5">{outputs}</ul>
                                <pre class="mono text-xs overflow-auto max-h-64" data-testid="predict-response">{p.response.clone()}</pre>
                            </div>
                        }.into_any()
                    }
                    Err(e) => view! { <p class="notice-error" role="alert" data-testid="predict-error">{e.to_string()}</p> }.into_any(),
                })}
            </div>
        </details>
    }
}

/// A change of version waiting for a team admin; those who may decide it
/// approve (it is carried out as them) or deny it with a reason.
#[component]
fn Waiting(p: Promotion, acts: Acts) -> impl IntoView {
    let reason = RwSignal::new(String::new());
    let (team, id) = (p.team.clone(), p.id);
    let decide = move |approve: bool| {
        let team = team.clone();
        move |_| {
            acts.decide.dispatch(DecidePromotion { team: team.clone(), id, approve, reason: reason.get_untracked() });
        }
    };
    let buttons = p.may_decide.then(|| view! {
        <div class="flex flex-wrap items-end gap-2">
            <label class="form-row grow">"Reason (needed to deny)"
                <input class="input" prop:value=reason on:input=move |ev| reason.set(event_target_value(&ev)) data-testid="promotion-reason"/>
            </label>
            <button type="button" class="btn-primary" data-testid="promotion-approve" disabled=move || acts.decide.pending().get() on:click=decide(true)>"Approve"</button>
            <button type="button" class="btn" data-testid="promotion-deny" disabled=move || acts.decide.pending().get() on:click=decide(false)>"Deny"</button>
        </div>
    });
    view! {
        <div class="rounded border border-amber-300 bg-amber-50 p-2 space-y-1 text-sm dark:border-amber-700 dark:bg-amber-950/40" data-testid="promotion-waiting">
            <p>{format!("Waiting for a team admin: {}, {}.", p.sentence(), crate::audit::trail::format_time(p.requested_at_ms))}</p>
            {buttons}
        </div>
    }
}

/// The canary (or the form to start one) and the deployment's history,
/// each earlier version one click from serving again.
#[component]
fn Rollout(d: Deployment, team: String, may_deploy: bool, acts: Acts, versions: Vec<String>) -> impl IntoView {
    let name = d.name.clone();
    // Asking is what promoting does where a team admin approves; one
    // request waits per deployment.
    let ask = d.asks_approval;
    let may_deploy = may_deploy && d.waiting.is_none();
    let canary = match d.canary.clone() {
        Some(c) => {
            let (t1, n1, t2, n2) = (team.clone(), name.clone(), team.clone(), name.clone());
            let buttons = may_deploy.then(|| view! {
                <span class="flex gap-2">
                    <button type="button" class="btn-primary" data-testid="canary-promote" disabled=move || acts.promote.pending().get()
                        on:click=move |_| { acts.promote.dispatch(PromoteCanary { team: t1.clone(), name: n1.clone() }); }>{if ask { "Ask to promote to 100 %" } else { "Promote to 100 %" }}</button>
                    <button type="button" class="btn" data-testid="canary-rollback" disabled=move || acts.rollback.pending().get()
                        on:click=move |_| { acts.rollback.dispatch(RollbackCanary { team: t2.clone(), name: n2.clone() }); }>"Roll back the canary"</button>
                </span>
            });
            Some(view! {
                <div class="rounded border border-slate-200 p-2 space-y-1 dark:border-slate-700" data-testid="canary">
                    <p class="flex flex-wrap items-center gap-2 text-sm">
                        <span>{format!("Canary: version {} at {} % of the traffic", c.version, c.percent)}</span>
                        <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {}", c.state.badge()) data-testid="canary-state">{c.state.label()}</span>
                    </p>
                    <p class="hint">"In the cluster it answers at "<span class="mono">{c.address.clone()}</span></p>
                    {d.traffic_note.clone().map(|n| view! { <p class="hint" data-testid="traffic-note">{n}</p> })}
                    {buttons}
                </div>
            }
            .into_any())
        }
        None if may_deploy => {
            let others: Vec<String> = versions.iter().filter(|v| **v != d.version).cloned().collect();
            (!others.is_empty()).then(|| {
                let version = RwSignal::new(others[0].clone());
                let percent = RwSignal::new(20u32);
                let problem = move || check_percent(percent.get()).err();
                let (t, n) = (team.clone(), name.clone());
                let submit = move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    if problem().is_none() {
                        acts.canary.dispatch(RolloutCanary { team: t.clone(), name: n.clone(), version: version.get_untracked(), percent: percent.get_untracked() });
                    }
                };
                view! {
                    <form class="flex flex-wrap items-end gap-2" on:submit=submit data-testid="canary-form">
                        <label class="form-row">"Try version"
                            <select class="select input" on:change=move |ev| version.set(event_target_value(&ev)) data-testid="canary-version">
                                {others.iter().map(|v| view! { <option value=v.clone()>{format!("v{v}")}</option> }).collect_view()}
                            </select>
                        </label>
                        <label class="form-row">"Share of traffic (%)"
                            <input class="input w-24" type="number" min="0" max="100" prop:value=move || percent.get().to_string()
                                on:input=move |ev| percent.set(event_target_value(&ev).trim().parse().unwrap_or(u32::MAX)) data-testid="canary-percent"/>
                        </label>
                        <button type="submit" class="btn" disabled=move || acts.canary.pending().get() || problem().is_some() data-testid="canary-start">"Start a canary"</button>
                        {move || problem().map(|p| view! { <p class="text-sm text-rose-700 dark:text-rose-300" role="alert">{p}</p> })}
                    </form>
                }
                .into_any()
            })
        }
        None => None,
    };
    let serving = d.version.clone();
    let mut offered: Vec<String> = Vec::new();
    let history = d
        .history
        .iter()
        .map(|r| {
            let again = (may_deploy && d.canary.is_none() && r.version != serving && versions.contains(&r.version) && !offered.contains(&r.version)).then(|| {
                offered.push(r.version.clone());
                let (t, n, v) = (team.clone(), name.clone(), r.version.clone());
                view! {
                    <button type="button" class="btn-quiet text-xs" data-testid="rollback-to" data-version=r.version.clone()
                        disabled=move || acts.back_to.pending().get()
                        on:click=move |_| { acts.back_to.dispatch(RollBackTo { team: t.clone(), name: n.clone(), version: v.clone() }); }>
                        {if ask { format!("Ask to serve version {} again", r.version) } else { format!("Serve version {} again", r.version) }}
                    </button>
                }
            });
            view! {
                <li data-testid="revision">
                    {format!("v{} {} — {}, {}", r.version, r.action, if r.by.is_empty() { "someone" } else { &r.by }, crate::audit::trail::format_time(r.at_ms))}
                    " "{again}
                </li>
            }
        })
        .collect_view();
    view! {
        {canary}
        <details class="text-sm" data-testid="deployment-history">
            <summary>"History"</summary>
            <ul class="space-y-1 pl-4">{history}</ul>
        </details>
    }
}

#[component]
fn DeployForm(team: String, model: String, versions: Vec<String>, deploy: ServerAction<Deploy>, asks: bool, runtimes: Vec<(String, String)>) -> impl IntoView {
    let preview = ServerAction::<PreviewDeployment>::new();
    let version = RwSignal::new(versions.first().cloned().unwrap_or_default());
    let name = RwSignal::new(default_deployment_name(&model));
    let cpu = RwSignal::new(DEFAULT_CPU.to_string());
    let memory = RwSignal::new(DEFAULT_MEMORY.to_string());
    let gpus = RwSignal::new(0u32);
    let min = RwSignal::new(1u32);
    let max = RwSignal::new(1u32);
    // The portal's default runtime comes first.
    let runtime = RwSignal::new(runtimes.first().map(|r| r.0.clone()).unwrap_or_default());
    let request = move || DeployRequest {
        team: team.clone(),
        model: model.clone(),
        version: version.get(),
        name: name.get().trim().to_string(),
        cpu: cpu.get().trim().to_string(),
        memory: memory.get().trim().to_string(),
        gpus: gpus.get(),
        min_replicas: min.get(),
        max_replicas: max.get(),
        runtime: runtime.get(),
    };
    let problems = {
        let request = request.clone();
        move || request().form_problems()
    };
    let number = |s: RwSignal<u32>| move |ev: leptos::ev::Event| s.set(event_target_value(&ev).trim().parse().unwrap_or(0));
    let (r1, r2) = (request.clone(), request);
    if versions.is_empty() {
        return view! {
            <section class="card"><p class="muted" data-testid="deploy-none">"No version of this model is ready to serve yet."</p></section>
        }
        .into_any();
    }
    view! {
        <section class="card space-y-3" data-testid="deploy-form">
            <h2 class="section-title">"Deploy a version"</h2>
            <div class="grid gap-3 sm:grid-cols-3">
                <label class="form-row">"Version"
                    <select class="select input" on:change=move |ev| version.set(event_target_value(&ev)) data-testid="deploy-version">
                        {versions.iter().map(|v| view! { <option value=v.clone()>{format!("v{v}")}</option> }).collect_view()}
                    </select>
                </label>
                <label class="form-row">"Deployment name"
                    <input class="input" prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) data-testid="deploy-name"/>
                </label>
                <label class="form-row">"Serving runtime"
                    <select class="select input" on:change=move |ev| runtime.set(event_target_value(&ev)) data-testid="deploy-runtime">
                        {runtimes.iter().map(|(n, label)| view! { <option value=n.clone()>{if label == n { n.clone() } else { format!("{label} ({n})") }}</option> }).collect_view()}
                    </select>
                </label>
                <label class="form-row">"CPU per replica"
                    <input class="input" prop:value=cpu on:input=move |ev| cpu.set(event_target_value(&ev)) data-testid="deploy-cpu"/>
                </label>
                <label class="form-row">"Memory per replica"
                    <input class="input" prop:value=memory on:input=move |ev| memory.set(event_target_value(&ev)) data-testid="deploy-memory"/>
                </label>
                <label class="form-row">"GPUs per replica"
                    <input class="input" type="number" min="0" max="8" prop:value=move || gpus.get().to_string() on:input=number(gpus) data-testid="deploy-gpus"/>
                </label>
                <div class="flex gap-3">
                    <label class="form-row">"Fewest replicas"
                        <input class="input w-20" type="number" min="1" prop:value=move || min.get().to_string() on:input=number(min) data-testid="deploy-min"/>
                    </label>
                    <label class="form-row">"Most replicas"
                        <input class="input w-20" type="number" min="1" prop:value=move || max.get().to_string() on:input=number(max) data-testid="deploy-max"/>
                    </label>
                </div>
            </div>
            {
                let problems = problems.clone();
                move || {
                    let p = problems();
                    (!p.is_empty()).then(|| view! { <ul class="list-disc pl-5 text-sm text-rose-700 dark:text-rose-300" role="alert" data-testid="deploy-problems">{p.into_iter().map(|x| view! { <li>{x}</li> }).collect_view()}</ul> })
                }
            }
            <div class="flex gap-2">
                <button type="button" class="btn" data-testid="deploy-preview" disabled={ let p = problems.clone(); move || preview.pending().get() || !p().is_empty() }
                    on:click=move |_| { preview.dispatch(PreviewDeployment { request: r1() }); }>"Preview"</button>
                <button type="button" class="btn-primary" data-testid="deploy-submit" disabled={ let p = problems.clone(); move || deploy.pending().get() || !p().is_empty() }
                    on:click=move |_| { deploy.dispatch(Deploy { request: r2() }); }>{if asks { "Ask to deploy" } else { "Deploy" }}</button>
            </div>
            {asks.then(|| view! { <p class="hint" data-testid="deploy-asks">"In this team a team admin approves every new deployment: deploying asks them, and it is created once one approves."</p> })}
            {move || preview.value().get().map(|r| match r {
                Ok(yaml) => view! {
                    <div class="space-y-1">
                        <p class="notice-ok" role="status" data-testid="deploy-preview-ok">{if asks {
                            "Every check passed. In this team a team admin approves new deployments, and Kubernetes checks it again then. Nothing was created yet."
                        } else {
                            "Kubernetes accepts this deployment (dry run). Nothing was created yet."
                        }}</p>
                        <pre class="mono text-xs overflow-auto max-h-96" data-testid="deploy-yaml">{yaml}</pre>
                    </div>
                }.into_any(),
                Err(e) => view! { <p class="notice-error" role="alert" data-testid="deploy-preview-error">{e.to_string()}</p> }.into_any(),
            })}
            {move || deploy.value().get().map(|r| match r {
                Ok(said) => view! { <p class="notice-ok" role="status" data-testid="deploy-result">{said}</p> }.into_any(),
                Err(e) => view! { <p class="notice-error" role="alert" data-testid="deploy-result">{e.to_string()}</p> }.into_any(),
            })}
        </section>
    }
    .into_any()
}

/// The source runs' metrics side by side, one bar chart per metric (the
/// first six the versions share), newest version first.
#[component]
fn MetricsCompare(versions: Vec<VersionRow>) -> impl IntoView {
    let with: Vec<&VersionRow> = versions.iter().filter(|v| !v.metrics.is_empty()).take(10).collect();
    if with.is_empty() {
        return view! { <section class="card" data-testid="model-metrics"><h2 class="section-title">"Metrics"</h2><p class="muted">"No version's source run logged metrics."</p></section> }.into_any();
    }
    let mut keys: Vec<String> = with.iter().flat_map(|v| v.metrics.iter().map(|(k, _)| k.clone())).collect();
    keys.sort();
    keys.dedup();
    keys.sort_by_key(|k| std::cmp::Reverse(with.iter().filter(|v| v.metrics.iter().any(|(m, _)| m == k)).count()));
    keys.truncate(6);
    let charts = keys
        .into_iter()
        .map(|key| {
            let values: Vec<(String, Option<f64>)> = with.iter().map(|v| (v.version.clone(), v.metrics.iter().find(|(m, _)| *m == key).map(|(_, x)| *x))).collect();
            view! { <MetricBars key values/> }
        })
        .collect_view();
    view! {
        <section class="card space-y-3" data-testid="model-metrics">
            <h2 class="section-title">"Metrics of each version's run"</h2>
            <div class="grid gap-4 sm:grid-cols-2 lg:grid-cols-3">{charts}</div>
        </section>
    }
    .into_any()
}

#[component]
fn MetricBars(key: String, values: Vec<(String, Option<f64>)>) -> impl IntoView {
    let top = values.iter().filter_map(|(_, v)| *v).map(f64::abs).fold(0.0, f64::max);
    let row_h = 22.0;
    let height = row_h * values.len() as f64;
    let bars = values
        .iter()
        .enumerate()
        .map(|(i, (version, value))| {
            let y = i as f64 * row_h;
            let width = match value {
                Some(v) if top > 0.0 => 150.0 * v.abs() / top,
                _ => 0.0,
            };
            let label = value.map(|v| format!("{v:.4}")).unwrap_or_else(|| "—".into());
            view! {
                <g>
                    <text x="0" y=y + 15.0 class="chart-tick">{format!("v{version}")}</text>
                    <rect x="40" y=y + 4.0 width=width height="14" class="chart-bar"/>
                    <text x=44.0 + width y=y + 15.0 class="chart-tick">{label}</text>
                </g>
            }
        })
        .collect_view();
    view! {
        <figure data-testid="metric-chart" data-metric=key.clone()>
            <figcaption class="text-sm font-medium">{key.clone()}</figcaption>
            <svg viewBox=format!("0 0 280 {height}") class="w-full" role="img" aria-label=format!("{key} by version")>{bars}</svg>
        </figure>
    }
}

#[component]
fn Versions(team: String, versions: Vec<VersionRow>, served: Vec<(String, String)>) -> impl IntoView {
    let rows = versions
        .into_iter()
        .map(|v| {
            let run = match (&v.run_id, &v.experiment_id) {
                (Some(r), Some(e)) => {
                    let label = v.run_name.clone().unwrap_or_else(|| r.chars().take(8).collect());
                    view! { <a href=format!("/experiments/{team}/{e}/runs/{r}") data-testid="version-run">{label}</a> }.into_any()
                }
                (Some(r), None) => view! { <span class="mono text-xs">{r.chars().take(8).collect::<String>()}</span> }.into_any(),
                _ => view! { <span class="muted">"—"</span> }.into_any(),
            };
            let aliases = v.aliases.iter().map(|a| view! { <span class="chip mr-1">{a.clone()}</span> }).collect_view();
            let tags = v.tags.iter().map(|(k, x)| view! { <span class="badge mr-1">{format!("{k}: {x}")}</span> }).collect_view();
            let serving = served
                .iter()
                .filter(|(version, _)| *version == v.version)
                .map(|(_, d)| view! { <a href=format!("#deployment-{d}") class="mono mr-2" data-testid="version-deployment">{d.clone()}</a> })
                .collect_view();
            view! {
                <tr data-testid="version-row" data-version=v.version.clone() id=format!("v{}", v.version)>
                    <td class="mono">{format!("v{}", v.version)}</td>
                    <td>{aliases}</td>
                    <td>{run}</td>
                    <td>{serving}</td>
                    <td>{v.status.clone()}</td>
                    <td class="whitespace-nowrap">{crate::audit::trail::format_time(v.created_ms)}</td>
                    <td>{v.created_by.clone()}</td>
                    <td>{(!v.description.is_empty()).then(|| v.description.clone())}" "{tags}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card space-y-2" data-testid="model-versions">
            <h2 class="section-title">"Versions"</h2>
            <div class="overflow-x-auto">
                <table class="table">
                    <thead><tr><th>"Version"</th><th>"Aliases"</th><th>"Source run"</th><th>"Served by"</th><th>"Status"</th><th>"Registered"</th><th>"By"</th><th>"Notes"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
