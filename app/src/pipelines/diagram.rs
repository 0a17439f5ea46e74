//! A pipeline's diagram as SVG: steps in columns by depth, each dependency
//! an arrow, each step coloured by its state when it ran. The same code
//! draws it on the server (works without WASM) and in the editor.

/// What a box shows: its step's name and, in a run, its phase.
pub struct Node<'a> {
    pub name: &'a str,
    pub phase: Option<&'a str>,
    /// Marked (a problem at that step, or the step picked).
    pub flagged: bool,
}

const W: f64 = 150.0;
const H: f64 = 36.0;
const GAP_X: f64 = 56.0;
const GAP_Y: f64 = 16.0;
const PAD: f64 = 12.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The class of a box for a phase (colours are in style/main.css).
fn phase_class(phase: Option<&str>) -> &'static str {
    match phase {
        Some("Succeeded") => "dag-ok",
        Some("Failed" | "Error") => "dag-failed",
        Some("Running") => "dag-running",
        Some("Omitted" | "Skipped") => "dag-skipped",
        Some(_) => "dag-waiting",
        None => "dag-step",
    }
}

/// `layers`: step names by depth; `edges`: (step, the steps it waits for);
/// `node` tells what to show of a step. Each box links to `href(step)` if given.
pub fn draw<'a>(layers: &'a [Vec<String>], edges: &[(String, Vec<String>)], node: impl Fn(&'a str) -> Node<'a>, href: Option<&dyn Fn(&str) -> String>) -> String {
    let mut at = std::collections::HashMap::new();
    for (x, layer) in layers.iter().enumerate() {
        for (y, name) in layer.iter().enumerate() {
            at.insert(name.as_str(), (PAD + x as f64 * (W + GAP_X), PAD + y as f64 * (H + GAP_Y)));
        }
    }
    let tallest = layers.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let (w, h) = (PAD * 2.0 + layers.len() as f64 * (W + GAP_X) - GAP_X, PAD * 2.0 + tallest * (H + GAP_Y) - GAP_Y);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {:.0} {:.0}" width="{:.0}" class="dag" role="img" data-testid="dag"><title>Steps and what each waits for</title>"#,
        w.max(W + 2.0 * PAD),
        h.max(H + 2.0 * PAD),
        w.max(W + 2.0 * PAD)
    );
    svg.push_str(r#"<defs><marker id="dag-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L8,4 L0,8 z" class="dag-arrowhead"/></marker></defs>"#);
    for (step, deps) in edges {
        let Some(&(x2, y2)) = at.get(step.as_str()) else { continue };
        for d in deps {
            let Some(&(x1, y1)) = at.get(d.as_str()) else { continue };
            let (sx, sy, ex, ey) = (x1 + W, y1 + H / 2.0, x2, y2 + H / 2.0);
            let mid = (sx + ex) / 2.0;
            svg.push_str(&format!(
                r#"<path d="M{sx:.1},{sy:.1} C{mid:.1},{sy:.1} {mid:.1},{ey:.1} {ex:.1},{ey:.1}" class="dag-edge" marker-end="url(#dag-arrow)" data-from="{}" data-to="{}"/>"#,
                escape(d),
                escape(step)
            ));
        }
    }
    for layer in layers {
        for name in layer {
            let (x, y) = at[name.as_str()];
            let n = node(name);
            let label: String = if n.name.chars().count() > 20 { n.name.chars().take(19).chain(['…']).collect() } else { n.name.to_string() };
            let phase = n.phase.map(|p| format!(r#" data-phase="{}""#, escape(p))).unwrap_or_default();
            let class = format!("{}{}", phase_class(n.phase), if n.flagged { " dag-flagged" } else { "" });
            let inner = format!(
                r#"<rect x="{x:.1}" y="{y:.1}" width="{W}" height="{H}" rx="6" class="{class}"/><text x="{:.1}" y="{:.1}" class="dag-label">{}</text><title>{}{}</title>"#,
                x + 10.0,
                y + H / 2.0 + 4.0,
                escape(&label),
                escape(n.name),
                n.phase.map(|p| format!(": {p}")).unwrap_or_default()
            );
            match href {
                Some(h) => svg.push_str(&format!(r#"<a href="{}" data-testid="dag-node" data-step="{}"{phase}>{inner}</a>"#, escape(&h(name)), escape(name))),
                None => svg.push_str(&format!(r#"<g data-testid="dag-node" data-step="{}"{phase}>{inner}</g>"#, escape(name))),
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_and_dependency_is_drawn_with_its_phase() {
        let layers = vec![vec!["fetch".to_string()], vec!["clean".into(), "check".into()], vec!["train<x>".into()]];
        let edges = vec![
            ("fetch".to_string(), vec![]),
            ("clean".into(), vec!["fetch".to_string()]),
            ("check".into(), vec!["fetch".into()]),
            ("train<x>".into(), vec!["clean".into(), "check".into()]),
        ];
        let svg = draw(&layers, &edges, |n| Node { name: n, phase: Some(if n == "clean" { "Failed" } else { "Succeeded" }), flagged: false }, None);
        assert_eq!(svg.matches(r#"data-testid="dag-node""#).count(), 4);
        assert_eq!(svg.matches(r#"class="dag-edge""#).count(), 4);
        assert!(svg.contains(r#"data-step="clean" data-phase="Failed""#));
        assert!(svg.contains("train&lt;x&gt;") && !svg.contains("train<x>"));
    }
}
