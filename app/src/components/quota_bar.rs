//! Used-versus-limit bars with the numbers beside them.

use crate::teams::QuotaLine;
use leptos::prelude::*;

/// A person's words for quota keys.
pub fn resource_label(resource: &str) -> String {
    match resource {
        "requests.cpu" => "CPU requested".into(),
        "limits.cpu" => "CPU limit".into(),
        "requests.memory" => "Memory requested".into(),
        "limits.memory" => "Memory limit".into(),
        "requests.nvidia.com/gpu" => "GPUs".into(),
        "requests.storage" => "Storage".into(),
        "persistentvolumeclaims" => "Volumes".into(),
        "pods" => "Pods".into(),
        other => other.into(),
    }
}

#[component]
pub fn QuotaBars(lines: Vec<QuotaLine>) -> impl IntoView {
    if lines.is_empty() {
        return view! { <p class="muted" data-testid="quota-none">"This team has no quota set."</p> }.into_any();
    }
    view! {
        <dl class="quota" data-testid="quota">
            {lines.into_iter().map(|l| {
                let pct = l.fraction.map(|f| (f * 100.0).round() as u32);
                let level = match pct { Some(p) if p >= 90 => "bar-fill bar-high", Some(p) if p >= 70 => "bar-fill bar-mid", _ => "bar-fill" };
                let width = format!("width: {}%", pct.unwrap_or(0));
                let label = resource_label(&l.resource);
                view! {
                    <div class="quota-row" data-testid=format!("quota-{}", l.resource)>
                        <dt>{label.clone()}</dt>
                        <dd>
                            <div class="bar" role="meter" aria-label=label aria-valuemin="0" aria-valuemax="100"
                                aria-valuenow=pct.unwrap_or(0).to_string()>
                                <div class=level style=width></div>
                            </div>
                            <span class="quota-numbers mono">{l.used}" / "{l.hard}</span>
                        </dd>
                    </div>
                }
            }).collect_view()}
        </dl>
    }.into_any()
}
