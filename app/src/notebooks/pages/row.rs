//! One line of the notebooks list: status and why, owner, image, size,
//! ages that tick while the page is open, and open, start and stop.

use crate::notebooks::api::SetNotebookRunning;
use crate::notebooks::model::{NotebookRow, Phase, ago, url_prefix};
use leptos::prelude::*;

#[component]
pub(super) fn NotebookLine(
    row: NotebookRow,
    many_teams: bool,
    can_change: bool,
    can_open: bool,
    now: RwSignal<i64>,
    running: ServerAction<SetNotebookRunning>,
) -> impl IntoView {
    let r = row.clone();
    let href = format!("/notebooks/{}/{}", r.team, r.name);
    let open = format!("{}/lab", url_prefix(&r.team, &r.name));
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
            <td><a href=href class="font-medium">{row_name}</a></td>
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
