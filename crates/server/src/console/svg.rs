//! Charts and graphs drawn as SVG on the server: no script draws them, and they print.
//! Everything from content is escaped; styling comes from classes in the stylesheet.

use std::collections::BTreeMap;
use std::fmt::Write;

use kawal_core::search::Neighbourhood;

use super::encode;

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DD` of a day counted from the epoch.
pub(crate) fn day_label(day: i64) -> String {
    let at = stix::Timestamp::from_micros(day * kawal_core::search::DAY_MICROS).to_string();
    at.get(..10).unwrap_or(&at).to_owned()
}

/// Vertical bars, one per day from `first_day`, for `days` days.
pub(crate) fn daily_bars(
    counts: &BTreeMap<i64, u64>,
    first_day: i64,
    days: i64,
    title: &str,
    class: &str,
) -> String {
    let (width, height, left, bottom) = (600.0, 160.0, 36.0, 20.0);
    let top = counts
        .range(first_day..first_day + days)
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0);
    let scale = if top == 0 {
        0.0
    } else {
        (height - bottom - 8.0) / top as f64
    };
    let slot = (width - left) / days.max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    let base = height - bottom;
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{left}" y1="{base}" x2="{width}" y2="{base}"/><text x="0" y="12">{top}</text><text x="0" y="{base}">0</text>"#
    );
    for i in 0..days {
        let day = first_day + i;
        let n = counts.get(&day).copied().unwrap_or(0);
        let h = n as f64 * scale;
        let x = left + i as f64 * slot + 1.0;
        let _ = write!(
            svg,
            r#"<rect class="bar {class}" x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}"><title>{}: {n}</title></rect>"#,
            base - h,
            (slot - 2.0).max(1.0),
            day_label(day)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{left}" y="{height}">{}</text><text x="{}" y="{height}" text-anchor="end">{}</text></svg>"#,
        day_label(first_day),
        width,
        day_label(first_day + days - 1)
    );
    svg
}

/// Horizontal bars, one per type, largest first.
pub(crate) fn type_bars(counts: &[(String, u64)], title: &str) -> String {
    if counts.is_empty() {
        return String::new();
    }
    let shown: Vec<&(String, u64)> = counts.iter().take(12).collect();
    let (width, row, label) = (600.0, 20.0, 170.0);
    let height = row * shown.len() as f64 + 4.0;
    let top = shown.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for (i, (kind, n)) in shown.iter().enumerate() {
        let y = i as f64 * row + 2.0;
        let w = (width - label - 60.0) * (*n as f64) / top as f64;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar" x="{label}" y="{y:.1}" width="{w:.1}" height="{:.1}"><title>{}: {n}</title></rect><text x="{:.1}" y="{:.1}">{n}</text>"#,
            label - 6.0,
            y + row * 0.7,
            escape(kind),
            row - 4.0,
            escape(kind),
            label + w + 4.0,
            y + row * 0.7,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars in groups: one group per label, one bar per series (three at most, told
/// apart by the classes `s0`, `s1`, `s2` and a legend). A missing value draws no bar and says
/// so in the group's tooltip. `tell` writes a value as people read it.
pub(crate) fn grouped_bars(
    rows: &[(String, [Option<f64>; 3])],
    series: [&str; 3],
    title: &str,
    tell: impl Fn(Option<f64>) -> String,
) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let (width, label, bar, gap, legend) = (600.0, 150.0, 12.0, 10.0, 22.0);
    let group = bar * series.len() as f64 + gap;
    let height = legend + group * rows.len() as f64;
    let top = rows
        .iter()
        .flat_map(|(_, values)| values.iter().flatten())
        .fold(0.0_f64, |a, b| a.max(*b));
    let scale = if top > 0.0 {
        (width - label - 90.0) / top
    } else {
        0.0
    };
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{}"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    for (i, name) in series.iter().enumerate() {
        let x = label + i as f64 * 130.0;
        let _ = write!(
            svg,
            r#"<rect class="bar s{i}" x="{x:.1}" y="4" width="10" height="10"/><text x="{:.1}" y="13">{}</text>"#,
            x + 14.0,
            escape(name)
        );
    }
    for (g, (name, values)) in rows.iter().enumerate() {
        let y0 = legend + g as f64 * group;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}<title>{}</title></text>"#,
            label - 6.0,
            y0 + bar * 1.5 + 4.0,
            escape(&short(name, 24)),
            escape(name)
        );
        for (i, value) in values.iter().enumerate() {
            let Some(v) = value else {
                continue;
            };
            let y = y0 + i as f64 * bar;
            let w = (v * scale).max(1.0);
            let _ = write!(
                svg,
                r#"<rect class="bar s{i}" x="{label}" y="{y:.1}" width="{w:.1}" height="{:.1}"><title>{} {}: {}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
                bar - 2.0,
                escape(name),
                escape(series[i]),
                escape(&tell(*value)),
                label + w + 4.0,
                y + bar - 3.0,
                escape(&tell(*value)),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The neighbourhood of an object: the object in the centre, its neighbours on a ring, theirs
/// on an outer ring; every node links to its own page.
pub(crate) fn graph(centre: &str, neighbourhood: &Neighbourhood) -> String {
    if neighbourhood.nodes.len() < 2 {
        return String::new();
    }
    let (size, middle) = (520.0_f64, 260.0_f64);
    let mut positions: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for ring in 0..=2usize {
        let members: Vec<&String> = neighbourhood
            .nodes
            .iter()
            .filter(|(_, (_, _, d))| *d == ring)
            .map(|(id, _)| id)
            .collect();
        let radius = [0.0, 120.0, 215.0][ring];
        let count = members.len().max(1) as f64;
        for (i, id) in members.into_iter().enumerate() {
            let angle = std::f64::consts::TAU * i as f64 / count - std::f64::consts::FRAC_PI_2
                + ring as f64 * 0.3;
            positions.insert(
                id.as_str(),
                (middle + radius * angle.cos(), middle + radius * angle.sin()),
            );
        }
    }
    let mut svg = format!(
        r#"<svg class="graph" viewBox="0 0 {size} {size}" role="img" aria-label="Relationships around this object"><title>Relationships around this object</title>"#
    );
    for edge in &neighbourhood.edges {
        if let (Some((x1, y1)), Some((x2, y2))) = (
            positions.get(edge.source.as_str()),
            positions.get(edge.target.as_str()),
        ) {
            let _ = write!(
                svg,
                r#"<line class="edge" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}"><title>{}</title></line>"#,
                escape(&edge.kind)
            );
        }
    }
    for (id, (kind, name, _)) in &neighbourhood.nodes {
        let Some((x, y)) = positions.get(id.as_str()) else {
            continue;
        };
        let label = name.clone().unwrap_or_else(|| kind.clone());
        let class = if id == centre { "node centre" } else { "node" };
        let _ = write!(
            svg,
            r#"<a class="{class}" href="/objects/{}"><title>{} ({})</title><circle cx="{x:.1}" cy="{y:.1}" r="9"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text></a>"#,
            encode(id),
            escape(&label),
            escape(kind),
            y + 22.0,
            escape(&short(&label, 22))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_cannot_break_out_of_the_svg() {
        let svg = type_bars(&[("<script>".to_owned(), 3)], "t\"");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("aria-label=\"t&quot;\""));
    }

    #[test]
    fn grouped_bars_draw_what_was_reached_and_escape_labels() {
        let rows = vec![
            ("<MY-CERT>".to_owned(), [Some(60.0), Some(120.0), None]),
            ("KH-CERT".to_owned(), [Some(30.0), None, None]),
        ];
        let svg = grouped_bars(&rows, ["a", "b", "c"], "times", |v| {
            v.map_or("none".to_owned(), |v| format!("{v}s"))
        });
        // Three legend swatches, then one bar per value reached.
        assert_eq!(svg.matches("<rect").count(), 3 + 3);
        assert!(svg.contains("&lt;MY-CERT&gt; b: 120s"));
        assert!(!svg.contains("<MY-CERT>"));
        assert_eq!(
            grouped_bars(&[], ["a", "b", "c"], "t", |_| String::new()),
            ""
        );
    }

    #[test]
    fn daily_bars_draw_one_bar_per_day() {
        let counts = BTreeMap::from([(10, 4), (12, 2)]);
        let svg = daily_bars(&counts, 10, 5, "added", "");
        assert_eq!(svg.matches("<rect").count(), 5);
        assert!(svg.contains("1970-01-11: 4"));
    }
}
