//! `/pipelines/:team/runs/:run`: one run. Its diagram is coloured by each
//! step's state and follows the run while it goes (the island waits on the
//! portal's watch of runs, `await_run`, and reads the run again when it
//! changes); a failed step says why; `?step=` shows that step's log, which
//! follows while the step runs, and its pod's events.

use super::duration;
use crate::components::error_view::ErrorView;
use crate::pipelines::api::{PodEvent, ResubmitRun, RetryRun, RunDetail, StepLog, StopRun, get_run, get_run_mlflow_runs, get_step_log};
use crate::pipelines::diagram::{self, Node};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn RunPage() -> impl IntoView {
    let (team, run) = use_params_map().with_untracked(|p| (p.get("team").unwrap_or_default(), p.get("run").unwrap_or_default()));
    let step = use_query_map().with_untracked(|q| q.get("step").filter(|s| !s.is_empty()));
    let data = Resource::new({
        let (team, run) = (team.clone(), run.clone());
        move || (team.clone(), run.clone())
    }, |(t, r)| get_run(t, r));
    // Lineage: MLflow being away leaves the run's page as it is.
    let logged = Resource::new({
        let (team, run) = (team.clone(), run.clone());
        move || (team.clone(), run.clone())
    }, |(t, r)| async move { get_run_mlflow_runs(t, r).await.unwrap_or_default() });
    let log = Resource::new(move || (team.clone(), run.clone(), step.clone()), |(t, r, s)| async move {
        match s {
            Some(s) => Some((s.clone(), get_step_log(t, r, s).await)),
            None => None,
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the run…"</p> }>
            {move || Suspend::new(async move {
                match (data.await, log.await, logged.await) {
                    (Err(e), _, _) => view! { <ErrorView error=e/> }.into_any(),
                    (Ok(d), log, logged) => view! { <RunView detail=d log logged/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RunView(detail: RunDetail, log: Option<(String, Result<StepLog, crate::error::AppError>)>, logged: Vec<(String, String, String)>) -> impl IntoView {
    let (team, name, pipeline) = (detail.team.clone(), detail.row.name.clone(), detail.row.pipeline.clone());
    let params = detail.params.clone();
    let notebooks = detail.notebooks.clone();
    let log_view = log.map(|(step, first)| view! { <StepLogView team=team.clone() run=name.clone() step first/> });
    view! {
        <Title text=format!("Run {name}")/>
        <p class="hint"><a href=format!("/pipelines/{team}/runs")>{format!("← Runs of {team}")}</a>" · "<a href=format!("/pipelines/{team}/p/{pipeline}")>{format!("pipeline {pipeline}")}</a></p>
        <h1 class="page-title" data-testid="run-title">{name}</h1>
        {(!params.is_empty()).then(|| view! {
            <p class="text-sm" data-testid="run-params">{params.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(" · ")}</p>
        })}
        {(!notebooks.is_empty()).then(|| view! {
            <p class="text-sm" data-testid="run-notebooks">"Notebooks this run executed: "
                {notebooks.iter().map(|(step, path)| view! { <span class="mono">{path.clone()}</span>" ("<a href=format!("?step={step}")>{step.clone()}</a>") " }).collect_view()}
            </p>
        })}
        {(!logged.is_empty()).then(|| view! {
            <p class="text-sm" data-testid="run-mlflow-runs">"MLflow runs its steps logged: "
                {logged.iter().map(|(e, r, n)| {
                    let label = if n.is_empty() { r.chars().take(8).collect() } else { n.clone() };
                    view! { <a href=format!("/experiments/{team}/{e}/runs/{r}") class="mr-2" data-testid="run-mlflow-run">{label}</a> }
                }).collect_view()}
            </p>
        })}
        <LiveRun detail/>
        {log_view}
    }
}

/// The run's state: asked again every second while the run goes.
#[island(lazy)]
fn LiveRun(detail: RunDetail) -> impl IntoView {
    let state = RwSignal::new(detail);
    #[cfg(feature = "hydrate")]
    {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let going = move || state.with_untracked(|d| matches!(d.row.phase.as_str(), "Pending" | "Running"));
        if going() {
            let alive = Arc::new(AtomicBool::new(true));
            let open = alive.clone();
            leptos::task::spawn_local(async move {
                while open.load(Ordering::Relaxed) && going() {
                    let (team, run, seen) = state.with_untracked(|d| (d.team.clone(), d.row.name.clone(), d.version.clone()));
                    match crate::pipelines::api::await_run(team.clone(), run.clone(), seen.clone()).await {
                        Ok(None) => {}
                        Ok(Some(_)) => match get_run(team, run).await {
                            Ok(d) if open.load(Ordering::Relaxed) => {
                                let same = d.version == seen;
                                state.set(d);
                                if same {
                                    crate::navigation::sleep(500).await;
                                }
                            }
                            Ok(_) => {}
                            Err(crate::error::AppError::NotFound(_)) => break,
                            Err(_) => crate::navigation::sleep(2000).await,
                        },
                        Err(_) => crate::navigation::sleep(2000).await,
                    }
                }
            });
            let stop = {
                let alive = alive.clone();
                move || alive.store(false, Ordering::Relaxed)
            };
            crate::navigation::on_leave(stop);
            on_cleanup(move || alive.store(false, Ordering::Relaxed));
        }
    }
    let svg = move || {
        state.with(|d| {
            let phase = |n: &str| d.steps.iter().find(|s| s.step == n).map(|s| s.phase.as_str());
            let href = |s: &str| format!("?step={s}");
            diagram::draw(&d.layers, &d.edges, |n| Node { name: n, phase: phase(n), flagged: false }, Some(&href))
        })
    };
    view! {
        <section class="card space-y-2">
            <p>
                "Status: "<span class="badge" data-testid="run-phase">{move || state.with(|d| d.row.phase.clone())}</span>
                " "<span class="muted text-sm">{move || state.with(|d| duration(d.row.started_ms, d.row.finished_ms.or(Some(d.now_ms))))}</span>
            </p>
            {move || state.with(|d| (!d.row.message.is_empty()).then(|| view! { <p class="text-sm" data-testid="run-message">{d.row.message.clone()}</p> }))}
            <RunActions state/>
            <div class="overflow-x-auto" inner_html=svg></div>
        </section>
        <section class="card overflow-x-auto">
            <table class="table" data-testid="run-steps">
                <thead><tr><th>"Step"</th><th>"Status"</th><th>"Took"</th><th>"Tries"</th><th>"Why"</th></tr></thead>
                <tbody>
                    {move || state.with(|d| d.steps.iter().map(|s| view! {
                        <tr data-testid="step-state" data-step=s.step.clone() data-phase=s.phase.clone()>
                            <td><a href=format!("?step={}", s.step)>{s.step.clone()}</a></td>
                            <td>{s.phase.clone()}</td>
                            <td>{duration(s.started_ms, s.finished_ms)}</td>
                            <td>{s.tries}</td>
                            <td class="text-sm" data-testid="step-message">{plain_reason(&s.message)}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </section>
    }
}

/// A step's log and its pod's events; while the step runs, both are read
/// again every two seconds and the log stays scrolled to its end (unless
/// the person turns following off).
#[island(lazy)]
// (No cfg_attr on an island: the attributes are part of its name's hash, which
// must come out the same in the server and the browser builds.)
fn StepLogView(team: String, run: String, step: String, first: Result<StepLog, crate::error::AppError>) -> impl IntoView {
    let log = RwSignal::new(first);
    let follow = RwSignal::new(true);
    let live = move || log.with(|l| l.as_ref().is_ok_and(|l| l.live));
    let pre = NodeRef::<leptos::html::Pre>::new();
    #[cfg(feature = "hydrate")]
    {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let alive = Arc::new(AtomicBool::new(true));
        let open = alive.clone();
        let (team, run, step) = (team.clone(), run.clone(), step.clone());
        let to_end = move || {
            if follow.get_untracked()
                && let Some(el) = pre.get_untracked()
            {
                el.set_scroll_top(el.scroll_height());
            }
        };
        request_animation_frame(to_end);
        leptos::task::spawn_local(async move {
            while open.load(Ordering::Relaxed) && log.with_untracked(|l| l.as_ref().is_ok_and(|l| l.live)) {
                crate::navigation::sleep(2000).await;
                if !follow.get_untracked() {
                    continue;
                }
                if let Ok(next) = get_step_log(team.clone(), run.clone(), step.clone()).await
                    && open.load(Ordering::Relaxed)
                {
                    log.set(Ok(next));
                    request_animation_frame(to_end);
                }
            }
        });
        let stop = {
            let alive = alive.clone();
            move || alive.store(false, Ordering::Relaxed)
        };
        crate::navigation::on_leave(stop);
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&team, &run);
    let body = move || match log.get() {
        Ok(l) => view! {
            {l.archived.then(|| view! { <p class="hint" data-testid="step-log-archived">"The step's pod is gone; this is its log as archived when the step ended."</p> })}
            {(l.kept && !l.archived).then(|| view! { <p class="hint" data-testid="step-log-kept">"Archived: this log stays readable after the step's pod is gone."</p> })}
            {if l.lines.is_empty() {
                view! { <p class="muted" data-testid="step-log-empty">{if l.live { "Nothing printed yet." } else { "The step printed nothing." }}</p> }.into_any()
            } else {
                view! { <pre node_ref=pre class="mono text-xs overflow-auto max-h-[32rem] whitespace-pre-wrap" data-testid="step-log">{l.lines.join("\n")}</pre> }.into_any()
            }}
            <PodEvents events=l.events/>
        }.into_any(),
        Err(e) => view! { <p class="notice-error" role="alert" data-testid="step-log-error">{e.to_string()}</p> }.into_any(),
    };
    view! {
        <section class="card space-y-2">
            <div class="flex flex-wrap items-center gap-3">
                <h2 class="section-title">{format!("Log of {step}")}</h2>
                {move || live().then(|| view! {
                    <span class="badge" data-testid="step-log-live">"following"</span>
                    <label class="check text-sm"><input type="checkbox" prop:checked=follow on:change=move |e| follow.set(event_target_checked(&e)) data-testid="step-log-follow"/>"Follow the log"</label>
                })}
            </div>
            {body}
        </section>
    }
}

#[component]
fn PodEvents(events: Vec<PodEvent>) -> impl IntoView {
    (!events.is_empty()).then(|| {
        let rows = events
            .into_iter()
            .map(|e| {
                let when = e.at_ms.map(crate::audit::trail::format_time).unwrap_or_default();
                let times = if e.count > 1 { format!(" (×{})", e.count) } else { String::new() };
                view! {
                    <tr data-testid="pod-event" data-reason=e.reason.clone() data-warning=e.warning.to_string() class=if e.warning { "text-rose-700 dark:text-rose-300" } else { "" }>
                        <td class="mono text-xs whitespace-nowrap">{when}</td>
                        <td>{e.reason.clone()}</td>
                        <td class="text-sm">{format!("{}{times}", e.message)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <details class="text-sm" open data-testid="pod-events">
                <summary class="muted">"What Kubernetes did with the step's pod"</summary>
                <table class="table"><thead><tr><th>"When"</th><th>"What"</th><th>"Detail"</th></tr></thead><tbody>{rows}</tbody></table>
            </details>
        }
    })
}

/// Stop (running steps finish, no new ones start) or terminate a run that
/// goes; retry a failed one in place (its failed steps and what follows
/// them); start an ended one again with the same parameters.
#[component]
fn RunActions(state: RwSignal<RunDetail>) -> impl IntoView {
    let stop = ServerAction::<StopRun>::new();
    let again = ServerAction::<ResubmitRun>::new();
    let retry = ServerAction::<RetryRun>::new();
    let ids = move || state.with_untracked(|d| (d.team.clone(), d.row.name.clone()));
    let going = move || state.with(|d| matches!(d.row.phase.as_str(), "Pending" | "Running"));
    Effect::new(move || {
        if let Some(Ok(made)) = again.value().get() {
            let team = state.with_untracked(|d| d.team.clone());
            crate::navigation::go(&format!("/pipelines/{team}/runs/{made}"));
        }
    });
    Effect::new(move || {
        if let Some(Ok(())) = retry.value().get() {
            // The run goes again: its page follows it from the start.
            let (team, run) = state.with_untracked(|d| (d.team.clone(), d.row.name.clone()));
            crate::navigation::go(&format!("/pipelines/{team}/runs/{run}"));
        }
    });
    let busy = move || stop.pending().get() || again.pending().get() || retry.pending().get();
    let failed = move || state.with(|d| matches!(d.row.phase.as_str(), "Failed" | "Error"));
    let error = move || {
        let e = match (stop.value().get(), again.value().get(), retry.value().get()) {
            (Some(Err(e)), _, _) | (_, Some(Err(e)), _) | (_, _, Some(Err(e))) => Some(e.to_string()),
            _ => None,
        };
        e.map(|e| view! { <p class="notice-error" role="alert" data-testid="run-action-error">{e}</p> })
    };
    let stopping = move || stop.value().get().is_some_and(|r| r.is_ok());
    view! {
        <div class="flex flex-wrap items-center gap-2">
            {move || (going() && state.with(|d| d.may_stop)).then(|| view! {
                <button type="button" class="btn-quiet" disabled=busy data-testid="run-stop"
                    on:click=move |_| { let (team, run) = ids(); stop.dispatch(StopRun { team, run, terminate: false }); }>"Stop"</button>
                <button type="button" class="btn-danger" disabled=busy data-testid="run-terminate"
                    on:click=move |_| { let (team, run) = ids(); stop.dispatch(StopRun { team, run, terminate: true }); }>"Terminate"</button>
            })}
            {move || (going() && stopping()).then(|| view! { <span class="muted text-sm" role="status" data-testid="run-stopping">"Stopping…"</span> })}
            {move || (failed() && state.with(|d| d.may_stop)).then(|| view! {
                <button type="button" class="btn-quiet" disabled=busy data-testid="run-retry" title="The failed steps and what follows them run again; the steps that succeeded are kept."
                    on:click=move |_| { let (team, run) = ids(); retry.dispatch(RetryRun { team, run }); }>"Retry failed steps"</button>
            })}
            {move || (!going() && state.with(|d| d.may_rerun)).then(|| view! {
                <button type="button" class="btn-quiet" disabled=busy data-testid="run-again"
                    on:click=move |_| { let (team, run) = ids(); again.dispatch(ResubmitRun { team, run }); }>"Run again"</button>
            })}
            {error}
        </div>
    }
}

/// Argo's step message in words a person reads: an exit code says the
/// command failed and with which code.
pub fn plain_reason(message: &str) -> String {
    // Argo keeps trying to make a step's pod while the team's quota is full.
    if let Some(rest) = message.split("exceeded quota: ").nth(1) {
        let part = |key: &str| rest.split(", ").find_map(|p| p.strip_prefix(key)).unwrap_or("?").to_string();
        return format!(
            "The team's quota has no room for this step yet: it asks for {}, {} is in use, and the quota allows {}. It starts when room frees up; a team admin can raise the quota.",
            part("requested: "),
            part("used: "),
            part("limited: ")
        );
    }
    if let Some(code) = message.split("exit code ").nth(1).and_then(|r| r.trim_end_matches(')').trim().parse::<i32>().ok()) {
        return format!("The step's command failed with exit code {code}.");
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn argo_messages_read_as_sentences() {
        assert_eq!(super::plain_reason("main: Error (exit code 3)"), "The step's command failed with exit code 3.");
        assert_eq!(super::plain_reason("pod deleted"), "pod deleted");
        assert_eq!(
            super::plain_reason(r#"pods "etl-x-step-train-1" is forbidden: exceeded quota: atrium-quota, requested: requests.cpu=2, used: requests.cpu=1500m, limited: requests.cpu=2"#),
            "The team's quota has no room for this step yet: it asks for requests.cpu=2, requests.cpu=1500m is in use, and the quota allows requests.cpu=2. It starts when room frees up; a team admin can raise the quota."
        );
        assert_eq!(super::plain_reason(""), "");
    }
}
