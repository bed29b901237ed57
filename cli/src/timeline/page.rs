//! The timeline as one self-contained HTML page.
//!
//! In: a [`Timeline`] and how to print an instant. Out: an HTML document with the
//! picture as inline SVG (a lane per server, a band per group, marks with tooltips), a
//! legend, and the marks as a filterable table; its style and its few lines of script
//! are inline, so the file can be mailed or attached to a support case as it is.

use super::{Lane, MarkKind, Timeline};
use baton_core::config::Ms;
use std::fmt::Write;

/// Width of the picture in SVG units (it scales to the window; the zoom widens it).
const WIDTH: f64 = 1400.0;
/// Left column with the lane names.
const LABEL_WIDTH: f64 = 190.0;
const RIGHT_MARGIN: f64 = 48.0;
const AXIS_HEIGHT: f64 = 30.0;
const LANE_HEIGHT: f64 = 26.0;
const ROW_HEIGHT: f64 = 16.0;
const GAP: f64 = 10.0;

/// Escapes text for HTML and SVG (element content and attribute values).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Maps instants to x positions.
struct Scale {
    start_ms: Ms,
    span_ms: f64,
}

impl Scale {
    fn x(&self, at_ms: Ms) -> f64 {
        let offset = at_ms.saturating_sub(self.start_ms) as f64;
        LABEL_WIDTH + (offset / self.span_ms).min(1.0) * (WIDTH - LABEL_WIDTH - RIGHT_MARGIN)
    }
}

/// A tick interval giving at most about 12 ticks over `span_ms`.
fn tick_ms(span_ms: f64) -> u64 {
    const STEPS: [u64; 16] = [
        100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000,
        3_600_000, 21_600_000,
    ];
    STEPS.iter().copied().find(|s| span_ms / *s as f64 <= 12.0).unwrap_or(86_400_000)
}

fn lane_rects(
    svg: &mut String,
    lane: &Lane,
    y: f64,
    height: f64,
    prefix: &str,
    scale: &Scale,
    clock: &dyn Fn(Ms) -> String,
) {
    for s in &lane.spans {
        let (x0, x1) = (scale.x(s.from_ms), scale.x(s.to_ms));
        let _ = write!(
            svg,
            r#"<rect class="{prefix}-{state}" x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{height:.1}" data-from-ms="{from}" data-to-ms="{to}"><title>{name}: {state} from {a} to {b}</title></rect>"#,
            state = s.state,
            w = (x1 - x0).max(0.5),
            from = s.from_ms,
            to = s.to_ms,
            name = esc(&lane.name),
            a = esc(&clock(s.from_ms)),
            b = esc(&clock(s.to_ms)),
        );
    }
}

fn mark_shape(svg: &mut String, kind: MarkKind, x: f64, y: f64, title: &str) {
    let class = kind.class();
    let shape = match kind {
        MarkKind::Fault | MarkKind::Command => {
            format!(r#"<path class="m-{class}" d="M{x:.1} {:.1} l6 7 l-6 7 l-6 -7 z"/>"#, y - 7.0)
        }
        MarkKind::ExpectOk | MarkKind::ExpectFail => {
            format!(r#"<circle class="m-{class}" cx="{x:.1}" cy="{y:.1}" r="5"/>"#)
        }
        MarkKind::Fence => format!(r#"<path class="m-{class}" d="M{:.1} {:.1} h10 v10 h-10 z"/>"#, x - 5.0, y - 5.0),
        MarkKind::Verdict | MarkKind::Script | MarkKind::Failover | MarkKind::Warning | MarkKind::Error => {
            format!(r#"<path class="m-{class}" d="M{x:.1} {:.1} l5 -8 h-10 z"/>"#, y + 4.0)
        }
    };
    let _ = write!(svg, r#"<g class="mark" data-kind="{class}">{shape}<title>{}</title></g>"#, esc(title));
}

/// The picture.
fn svg(t: &Timeline, clock: &dyn Fn(Ms) -> String) -> String {
    let scale = Scale { start_ms: t.start_ms, span_ms: (t.end_ms.saturating_sub(t.start_ms)).max(1) as f64 };
    let scenario_marks = t.marks.iter().any(|m| m.server.is_none());
    let mut body = String::new();
    let mut y = AXIS_HEIGHT;
    // The scenario's row: faults, commands and expectations, with a faint line down the
    // whole picture at each fault so that its effect on every lane lines up under it.
    let mut fault_lines = Vec::new();
    if scenario_marks {
        let _ = write!(body, r#"<text class="lane-name" x="8" y="{:.1}">scenario</text>"#, y + 17.0);
        for m in t.marks.iter().filter(|m| m.server.is_none()) {
            let x = scale.x(m.at_ms);
            let title = format!("{}  {}", clock(m.at_ms), m.label);
            let row_y = match m.kind {
                MarkKind::ExpectOk | MarkKind::ExpectFail => y + 20.0,
                MarkKind::Fault
                | MarkKind::Command
                | MarkKind::Verdict
                | MarkKind::Fence
                | MarkKind::Script
                | MarkKind::Failover
                | MarkKind::Warning
                | MarkKind::Error => y + 8.0,
            };
            if m.kind == MarkKind::Fault || m.kind == MarkKind::Command {
                fault_lines.push(x);
            }
            mark_shape(&mut body, m.kind, x, row_y, &title);
        }
        y += LANE_HEIGHT + GAP;
    }
    let lanes_top = y;
    let _ = write!(body, r#"<text class="section" x="8" y="{:.1}">servers</text>"#, y + 4.0);
    y += 10.0;
    for (i, lane) in t.servers.iter().enumerate() {
        let _ = write!(
            body,
            r#"<rect class="lane-bg" x="{LABEL_WIDTH}" y="{y:.1}" width="{:.1}" height="{LANE_HEIGHT}"/><text class="lane-name" x="8" y="{:.1}">{}</text>"#,
            WIDTH - LABEL_WIDTH - RIGHT_MARGIN,
            y + 17.0,
            esc(&lane.name)
        );
        lane_rects(&mut body, lane, y + 4.0, LANE_HEIGHT - 8.0, "s", &scale, clock);
        for m in t.marks.iter().filter(|m| m.server == Some(i)) {
            let title = format!("{}  {}: {}", clock(m.at_ms), lane.name, m.label);
            mark_shape(&mut body, m.kind, scale.x(m.at_ms), y + 4.0, &title);
        }
        y += LANE_HEIGHT + 2.0;
    }
    for band in &t.groups {
        y += GAP;
        let _ = write!(body, r#"<text class="section" x="8" y="{:.1}">group {}</text>"#, y + 4.0, esc(&band.group));
        y += 10.0;
        for row in &band.rows {
            let _ = write!(
                body,
                r#"<rect class="row-bg" x="{LABEL_WIDTH}" y="{y:.1}" width="{:.1}" height="{ROW_HEIGHT}"/><text class="row-name" x="24" y="{:.1}">on {}</text>"#,
                WIDTH - LABEL_WIDTH - RIGHT_MARGIN,
                y + 12.0,
                esc(&row.name)
            );
            let named = Lane { name: format!("{} on {}", band.group, row.name), spans: row.spans.clone() };
            lane_rects(&mut body, &named, y + 2.0, ROW_HEIGHT - 4.0, "g", &scale, clock);
            y += ROW_HEIGHT + 1.0;
        }
    }
    let height = y + GAP;
    // The axis and the grid go under everything else.
    let mut grid = String::new();
    let step = tick_ms(scale.span_ms);
    let first = t.start_ms.div_ceil(step) * step;
    let mut at = first;
    while at <= t.end_ms {
        let x = scale.x(at);
        let _ = write!(
            grid,
            r#"<line class="tick" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{height:.1}"/><text class="tick-label" x="{x:.1}" y="18">{}</text>"#,
            AXIS_HEIGHT - 6.0,
            esc(&clock(at))
        );
        at += step;
    }
    for x in fault_lines {
        let _ =
            write!(grid, r#"<line class="fault-line" x1="{x:.1}" y1="{lanes_top:.1}" x2="{x:.1}" y2="{height:.1}"/>"#);
    }
    format!(
        r#"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0}" width="100%" preserveAspectRatio="xMinYMin meet">{grid}{body}</svg>"#
    )
}

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { padding: 14px 22px; background: #1d2430; color: #fff; }
header h1 { font-size: 18px; margin: 0 0 4px; }
header .verdict { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 600; margin-right: 10px; }
.verdict.ok { background: #2e9d5b; } .verdict.fail { background: #d64545; }
main { padding: 14px 22px; }
#frame { overflow-x: auto; background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 6px; }
.lane-name { font-size: 13px; font-weight: 600; fill: #1d2430; }
.row-name { font-size: 11px; fill: #56606e; }
.section { font-size: 11px; text-transform: uppercase; letter-spacing: .06em; fill: #8a94a3; }
.lane-bg { fill: #eef0f3; } .row-bg { fill: #f3f4f6; }
.tick { stroke: #e4e7ec; stroke-width: 1; } .tick-label { font-size: 11px; fill: #6b7480; text-anchor: middle; }
.fault-line { stroke: #c0392b; stroke-width: 1; stroke-dasharray: 3 3; opacity: .55; }
.s-online { fill: #2e9d5b; } .s-syncing { fill: #e0b03a; } .s-suspended { fill: #7a8fd6; }
.s-down { fill: #9aa3ae; } .s-stopped { fill: #c3c9d1; } .s-off { fill: #d6dadf; }
.g-online { fill: #2b7de9; } .g-starting, .g-stopping { fill: #9cc3f5; } .g-error { fill: #d64545; }
.m-fault { fill: #c0392b; } .m-command { fill: #6c3fc7; }
.m-expect-ok { fill: #2e9d5b; } .m-expect-fail { fill: #d64545; stroke: #7a1010; stroke-width: 1.5; }
.m-fence { fill: #111; } .m-verdict { fill: #e67e22; } .m-script { fill: #8e9aa8; }
.m-failover { fill: #d35400; } .m-warning { fill: #e0b03a; } .m-error { fill: #d64545; }
.legend { margin: 10px 0; display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; color: #56606e; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px; vertical-align: -2px; }
table { border-collapse: collapse; width: 100%; background: #fff; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; }
th { background: #eef0f3; position: sticky; top: 0; }
tr.expect-fail td { color: #b02a2a; font-weight: 600; }
.controls { margin: 12px 0 6px; display: flex; gap: 16px; align-items: center; }
input[type=search] { padding: 4px 8px; width: 280px; }
"#;

const SCRIPT: &str = r#"
const svg = document.getElementById('timeline');
document.getElementById('zoom').addEventListener('input', e => { svg.style.width = (e.target.value * 100) + '%'; });
document.getElementById('filter').addEventListener('input', e => {
  const q = e.target.value.toLowerCase();
  for (const tr of document.querySelectorAll('#marks tbody tr')) {
    tr.style.display = tr.textContent.toLowerCase().includes(q) ? '' : 'none';
  }
});
"#;

fn legend() -> String {
    let items = [
        ("#2e9d5b", "server online"),
        ("#e0b03a", "syncing"),
        ("#7a8fd6", "suspended"),
        ("#9aa3ae", "down"),
        ("#2b7de9", "group online"),
        ("#9cc3f5", "starting / stopping"),
        ("#d64545", "error / expectation failed"),
        ("#c0392b", "fault"),
        ("#6c3fc7", "command"),
        ("#e67e22", "partition verdict"),
        ("#111", "fence"),
        ("#d35400", "failover / recovery"),
    ];
    let mut s = String::from(r#"<div class="legend">"#);
    for (colour, what) in items {
        let _ = write!(s, r#"<span><i style="background:{colour}"></i>{what}</span>"#);
    }
    s.push_str("</div>");
    s
}

/// The whole page.
pub fn render(t: &Timeline, clock: &dyn Fn(Ms) -> String) -> String {
    let failed = t.marks.iter().filter(|m| m.kind == MarkKind::ExpectFail).count();
    let held = t.marks.iter().filter(|m| m.kind == MarkKind::ExpectOk).count();
    let verdict = match (held + failed, failed) {
        (0, _) => String::new(),
        (_, 0) => format!(r#"<span class="verdict ok">{held} expectations hold</span>"#),
        (_, f) => format!(r#"<span class="verdict fail">{f} of {} expectations FAIL</span>"#, held + f),
    };
    let mut rows = String::new();
    for m in &t.marks {
        let server = m.server.and_then(|i| t.servers.get(i)).map_or("scenario", |l| l.name.as_str());
        let _ = write!(
            rows,
            r#"<tr class="{class}" data-at-ms="{at}"><td>{when}</td><td>{server}</td><td>{class}</td><td>{label}</td></tr>"#,
            class = m.kind.class(),
            at = m.at_ms,
            when = esc(&clock(m.at_ms)),
            server = esc(server),
            label = esc(&m.label),
        );
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — baton timeline</title><style>{STYLE}</style></head>
<body><header><h1>{title}</h1>{verdict}<span>from {from} to {to} · {servers} servers · {groups} groups · {marks} marks</span></header>
<main>
<div class="controls"><label>zoom <input id="zoom" type="range" min="1" max="8" step="0.5" value="1"></label></div>
<div id="frame">{svg}</div>
{legend}
<div class="controls"><input id="filter" type="search" placeholder="filter the marks (server, event, group...)"></div>
<table id="marks"><thead><tr><th>time</th><th>server</th><th>kind</th><th>what</th></tr></thead><tbody>{rows}</tbody></table>
</main><script>{SCRIPT}</script></body></html>
"#,
        title = esc(&t.title),
        from = esc(&clock(t.start_ms)),
        to = esc(&clock(t.end_ms)),
        servers = t.servers.len(),
        groups = t.groups.len(),
        marks = t.marks.len(),
        svg = svg(t, clock),
        legend = legend(),
    )
}
