//! Line charts as SVG, drawn on the server: a page with charts works before
//! (and without) WASM, and the browser never holds more than the points
//! drawn. Our own ~150 lines rather than a charting crate: see decision 0015.

/// One line: its name and its points (x ascending).
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// At most this many points are drawn per chart, over all its lines.
pub const MAX_POINTS: usize = 1000;

/// Colours people can tell apart (Okabe–Ito), one per line, in order.
const COLOURS: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];

/// Keeps the shape of a long line in at most `max` points: the x range is
/// cut into buckets and each keeps its lowest and highest point, in order,
/// so spikes survive (unlike taking every n-th point).
pub fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let buckets = max / 2;
    let per = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(max);
    for chunk in points.chunks(per) {
        let lo = chunk.iter().copied().fold(chunk[0], |a, b| if b.1 < a.1 { b } else { a });
        let hi = chunk.iter().copied().fold(chunk[0], |a, b| if b.1 > a.1 { b } else { a });
        if lo.0 <= hi.0 {
            out.push(lo);
            if hi != lo {
                out.push(hi);
            }
        } else {
            out.push(hi);
            out.push(lo);
        }
    }
    out
}

/// About `n` round tick values covering `lo..=hi`.
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || n == 0 {
        return vec![];
    }
    if hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..).map(|i| first + i as f64 * step).take_while(|v| *v <= hi + step * 1e-9).collect()
}

fn label(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-3) {
        return format!("{v:.2e}");
    }
    super::model::format_metric(v)
}

/// The drawing area of a chart and the data range it shows.
struct Plot {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Plot {
    fn sx(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * (self.w - self.left - self.right)
    }

    fn sy(&self, y: f64) -> f64 {
        self.h - self.bottom - (y - self.y.0) / (self.y.1 - self.y.0) * (self.h - self.top - self.bottom)
    }

    /// Horizontal grid lines with the y ticks, and the x ticks as `x_label` writes them.
    fn axes(&self, svg: &mut String, x_label: impl Fn(f64) -> String) {
        for t in ticks(self.y.0, self.y.1, 5) {
            let y = self.sy(t);
            svg.push_str(&format!(
                r#"<line x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}" class="chart-grid"/><text x="{}" y="{:.1}" class="chart-tick" text-anchor="end">{}</text>"#,
                self.left,
                self.w - self.right,
                self.left - 6.0,
                y + 4.0,
                label(t)
            ));
        }
        for t in ticks(self.x.0, self.x.1, 6) {
            svg.push_str(&format!(r#"<text x="{:.1}" y="{}" class="chart-tick" text-anchor="middle">{}</text>"#, self.sx(t), self.h - self.bottom + 16.0, x_label(t)));
        }
    }
}

/// A value as the hover readout shows it: integers whole, others to six
/// decimals or six significant digits.
fn exact(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    if (1e-3..1e9).contains(&v.abs()) {
        let s = format!("{v:.6}");
        return s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{v:.5e}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The chart as an `<svg>` element: axes with ticks, one polyline per
/// series, a legend when there is more than one, and the x axis' name.
/// `x_time` labels x as times of day (ms since the epoch) instead of numbers.
pub fn line_chart(title: &str, series: &[Series], x_name: &str, x_time: bool) -> String {
    let (w, h) = (640.0, 260.0);
    let (left, right, top, bottom) = (64.0, 16.0, 28.0, 40.0);
    let per_line = MAX_POINTS / series.len().max(1);
    let lines: Vec<(&Series, Vec<(f64, f64)>)> = series
        .iter()
        .map(|s| (s, downsample(&s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect::<Vec<_>>(), per_line)))
        .collect();
    let all = lines.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" class="chart" data-testid="chart" data-metric="{t}"><title>{t}</title><text x="{left}" y="18" class="chart-title">{t}</text>"#,
        t = escape(title)
    );
    if x0 > x1 {
        svg.push_str(&format!(r#"<text x="{}" y="{}" class="chart-empty">No values</text></svg>"#, w / 2.0 - 30.0, h / 2.0));
        return svg;
    }
    if (y1 - y0).abs() < f64::EPSILON {
        (y0, y1) = (y0 - 1.0, y1 + 1.0);
    }
    if (x1 - x0).abs() < f64::EPSILON {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    let plot = Plot { w, h, left, right, top, bottom, x: (x0, x1), y: (y0, y1) };
    let (sx, sy) = (|x| plot.sx(x), |y| plot.sy(y));
    // What the hover readout needs to map the pointer to x (see `ChartHover`).
    svg = svg.replacen(
        r#"class="chart""#,
        &format!(r#"class="chart" data-plot="{w} {left} {} {x0} {x1}" data-x="{}""#, w - left - right, if x_time { "time" } else { "step" }),
        1,
    );
    plot.axes(&mut svg, |t| if x_time { crate::audit::trail::format_time(t as i64).chars().skip(11).take(8).collect() } else { label(t) });
    svg.push_str(&format!(r#"<text x="{}" y="{}" class="chart-axis" text-anchor="end">{}</text>"#, w - right, h - 6.0, escape(x_name)));
    for (i, (s, points)) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
        svg.push_str(&format!(
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}" data-series="{}" data-points="{}" data-values="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            escape(&s.name),
            points.len(),
            points.iter().map(|&(x, y)| format!("{},{}", exact(x), exact(y))).collect::<Vec<_>>().join(" "),
            escape(&s.name)
        ));
        if lines.len() > 1 {
            let ly = top + 14.0 * i as f64;
            svg.push_str(&format!(r#"<rect x="{}" y="{:.1}" width="10" height="3" fill="{colour}"/><text x="{}" y="{:.1}" class="chart-legend" text-anchor="end">{}</text>"#, w - right - 10.0, ly, w - right - 14.0, ly + 4.0, escape(&s.name)));
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One dot per run: `x` against `y`, each dot titled with its run's name.
pub fn scatter(title: &str, dots: &[(String, f64, f64)], x_name: &str, y_name: &str) -> String {
    let (w, h) = (640.0, 300.0);
    let (left, right, top, bottom) = (64.0, 16.0, 28.0, 40.0);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" class="chart" data-testid="scatter"><title>{t}</title><text x="{left}" y="18" class="chart-title">{t}</text>"#,
        t = escape(title)
    );
    let finite: Vec<&(String, f64, f64)> = dots.iter().filter(|d| d.1.is_finite() && d.2.is_finite()).collect();
    if finite.is_empty() {
        svg.push_str(r#"<text x="290" y="150" class="chart-empty">No values</text></svg>"#);
        return svg;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for d in &finite {
        (x0, x1, y0, y1) = (x0.min(d.1), x1.max(d.1), y0.min(d.2), y1.max(d.2));
    }
    let pad = |lo: f64, hi: f64| if (hi - lo).abs() < f64::EPSILON { (lo - 1.0, hi + 1.0) } else { (lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05) };
    ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
    let plot = Plot { w, h, left, right, top, bottom, x: (x0, x1), y: (y0, y1) };
    let (sx, sy) = (|x| plot.sx(x), |y| plot.sy(y));
    plot.axes(&mut svg, label);
    svg.push_str(&format!(r#"<text x="{}" y="{}" class="chart-axis" text-anchor="end">{} →</text><text x="{left}" y="{}" class="chart-axis">↑ {}</text>"#, w - right, h - 6.0, escape(x_name), top - 2.0 + 14.0, escape(y_name)));
    for (name, x, y) in finite {
        svg.push_str(&format!(
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#0072B2" fill-opacity="0.75" data-run="{}"><title>{}: {} = {}, {} = {}</title></circle>"##,
            sx(*x), sy(*y), escape(name), escape(name), escape(x_name), label(*x), escape(y_name), label(*y)
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_keep_their_spikes_within_the_point_budget() {
        let mut points: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, (i % 7) as f64)).collect();
        points[54_321].1 = 1000.0;
        let kept = downsample(&points, 1000);
        assert!(kept.len() <= 1000, "{}", kept.len());
        assert!(kept.iter().any(|p| p.1 == 1000.0), "the spike survives");
        assert!(kept.windows(2).all(|w| w[0].0 <= w[1].0), "x stays in order");
        assert_eq!(downsample(&points[..10], 1000).len(), 10);
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(3.0, 3.0, 5), vec![3.0]);
        let t = ticks(0.013, 0.92, 4);
        assert!(t.first().unwrap() >= &0.013 && t.last().unwrap() <= &0.92 && t.len() >= 3, "{t:?}");
    }

    #[test]
    fn a_chart_draws_every_series_and_escapes_names() {
        let s = |n: &str| Series { name: n.into(), points: vec![(0.0, 1.0), (1.0, 0.5), (2.0, 0.25)] };
        let svg = line_chart("loss <train>", &[s("run a"), s("run \"b\"")], "step", false);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("loss &lt;train&gt;") && svg.contains("run &quot;b&quot;"));
        assert!(line_chart("empty", &[], "step", false).contains("No values"));
        // The hover readout's data: the plot's geometry and each point's exact values.
        assert!(svg.contains(r#"data-plot="640 64 560 0 2" data-x="step""#), "{svg}");
        assert!(svg.contains(r#"data-values="0,1 1,0.5 2,0.25""#), "{svg}");
        assert_eq!((exact(0.1234567891), exact(1.5e-7), exact(42.0)), ("0.123457".into(), "1.50000e-7".into(), "42".into()));
    }
}
