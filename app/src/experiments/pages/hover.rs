//! Hover values on the charts drawn on the server: once the page has
//! hydrated, pointing at a chart shows each line's nearest point (its x and
//! its exact value) under a guide line. The values come from the chart
//! itself (`data-values`), so nothing more is fetched.

use leptos::prelude::*;

/// What the readout shows: where the guide stands (a fraction of the
/// chart's width), the x of the point nearest the pointer, and each line's value.
#[derive(Clone, Debug, Default, PartialEq)]
struct Reading {
    at: f64,
    x: String,
    values: Vec<(String, String)>,
}

#[island(lazy)]
pub fn ChartHover(children: Children) -> impl IntoView {
    let reading = RwSignal::new(None::<Reading>);
    let on_move = move |ev: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        reading.set(read(&ev));
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <div class="chart-hover" on:pointermove=on_move on:pointerleave=move |_| reading.set(None)>
            {children()}
            {move || reading.get().map(|r| view! {
                <div class="chart-guide" style=format!("left:{:.2}%", r.at * 100.0)></div>
                <div class="chart-readout" role="status" data-testid="chart-readout">
                    <span class="font-medium">{r.x}</span>
                    {r.values.into_iter().map(|(name, v)| view! { <span>{format!("{name}: {v}")}</span> }).collect_view()}
                </div>
            })}
        </div>
    }
}

/// The point of `points` (x ascending, as drawn) nearest `x`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn nearest<'a>(points: &[(f64, &'a str, &'a str)], x: f64) -> Option<(f64, &'a str, &'a str)> {
    let i = points.partition_point(|p| p.0 < x);
    let after = points.get(i).copied();
    let before = i.checked_sub(1).and_then(|j| points.get(j)).copied();
    match (before, after) {
        (Some(b), Some(a)) => Some(if x - b.0 <= a.0 - x { b } else { a }),
        (b, a) => b.or(a),
    }
}

#[cfg(feature = "hydrate")]
fn read(ev: &web_sys::PointerEvent) -> Option<Reading> {
    use wasm_bindgen::JsCast;
    let root = ev.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    let svg = root.query_selector("svg[data-plot]").ok()??;
    let (outer, rect) = (root.get_bounding_client_rect(), svg.get_bounding_client_rect());
    if rect.width() <= 0.0 || outer.width() <= 0.0 {
        return None;
    }
    let plot: Vec<f64> = svg.get_attribute("data-plot")?.split(' ').filter_map(|v| v.parse().ok()).collect();
    let [w, left, width, x0, x1] = plot[..] else { return None };
    let pointer = ev.client_x() as f64;
    let vx = (pointer - rect.left()) / rect.width() * w;
    if vx < left || vx > left + width {
        return None;
    }
    let x = x0 + (vx - left) / width * (x1 - x0);
    let lines = svg.query_selector_all("polyline[data-values]").ok()?;
    let (mut values, mut best): (Vec<(String, String)>, Option<(f64, String)>) = (Vec::new(), None);
    for i in 0..lines.length() {
        let Some(line) = lines.item(i).and_then(|n| n.dyn_into::<web_sys::Element>().ok()) else { continue };
        let data = line.get_attribute("data-values").unwrap_or_default();
        let points: Vec<(f64, &str, &str)> =
            data.split(' ').filter_map(|p| p.split_once(',').and_then(|(a, b)| Some((a.parse().ok()?, a, b)))).collect();
        if let Some((px, a, v)) = nearest(&points, x) {
            if best.as_ref().is_none_or(|(bx, _)| (px - x).abs() < (bx - x).abs()) {
                best = Some((px, a.to_string()));
            }
            values.push((line.get_attribute("data-series").unwrap_or_default(), v.to_string()));
        }
    }
    let (px, shown) = best?;
    let x = if svg.get_attribute("data-x").as_deref() == Some("time") {
        crate::audit::trail::format_time(px as i64)
    } else {
        format!("step {shown}")
    };
    Some(Reading { at: (pointer - outer.left()) / outer.width(), x, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readout_takes_the_point_nearest_the_pointer() {
        let points = [(0.0, "0", "a"), (10.0, "10", "b"), (20.0, "20", "c")];
        assert_eq!(nearest(&points, -5.0).map(|p| p.2), Some("a"));
        assert_eq!(nearest(&points, 4.9).map(|p| p.2), Some("a"));
        assert_eq!(nearest(&points, 5.1).map(|p| p.2), Some("b"));
        assert_eq!(nearest(&points, 19.0).map(|p| p.2), Some("c"));
        assert_eq!(nearest(&points, 99.0).map(|p| p.2), Some("c"));
        assert_eq!(nearest(&[], 1.0), None);
    }
}
