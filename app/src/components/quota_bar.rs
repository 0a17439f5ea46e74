//! Used-versus-limit bars with the numbers beside them.

use crate::model::team::QuotaLine;
use leptos::prelude::*;

pub use crate::model::quota::resource_label;

/// The class of a bar's fill when it is `pct` % full: it turns amber from
/// 70 % and red from 90 %, so a team sees it nearing its limit.
pub fn fill_class(pct: u32) -> &'static str {
    match pct {
        90.. => "bar-fill bar-high",
        70.. => "bar-fill bar-mid",
        _ => "bar-fill",
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
                let level = fill_class(pct.unwrap_or(0));
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

#[cfg(test)]
mod tests {
    use super::fill_class;

    #[test]
    fn bars_turn_amber_at_70_and_red_at_90() {
        assert_eq!(fill_class(0), "bar-fill");
        assert_eq!(fill_class(69), "bar-fill");
        assert_eq!(fill_class(70), "bar-fill bar-mid");
        assert_eq!(fill_class(89), "bar-fill bar-mid");
        assert_eq!(fill_class(90), "bar-fill bar-high");
        assert_eq!(fill_class(100), "bar-fill bar-high");
    }
}
