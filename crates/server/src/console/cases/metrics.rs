//! Response metrics over the cases the person may read: mean time to acknowledge, contain and
//! resolve, per owning organisation and per category, and how many cases cross a border; as
//! tables and as SVG charts drawn here.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kawal_core::cases::metrics::Summary;

use crate::console::session::Viewer;
use crate::console::{render, svg, Chrome, PageError};
use crate::AppState;

pub(crate) struct SummaryRow {
    pub label: String,
    pub cases: usize,
    pub open: usize,
    pub acknowledge: String,
    pub contain: String,
    pub resolve: String,
}

#[derive(Template)]
#[template(path = "case_metrics.html")]
struct MetricsPage {
    chrome: Chrome,
    all: SummaryRow,
    cross_border: usize,
    by_organisation: Vec<SummaryRow>,
    by_category: Vec<SummaryRow>,
    organisation_chart: String,
    category_chart: String,
}

/// A duration as people say it: the two largest units.
pub(crate) fn duration(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else {
        return "—".to_owned();
    };
    let total = seconds.max(0.0).round() as u64;
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3_600,
        total % 3_600 / 60,
        total % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min {secs} s"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn row(label: &str, summary: &Summary) -> SummaryRow {
    SummaryRow {
        label: label.to_owned(),
        cases: summary.cases,
        open: summary.open,
        acknowledge: duration(summary.mean_to_acknowledge_s),
        contain: duration(summary.mean_to_contain_s),
        resolve: duration(summary.mean_to_resolve_s),
    }
}

fn series(summary: &Summary) -> [Option<f64>; 3] {
    [
        summary.mean_to_acknowledge_s,
        summary.mean_to_contain_s,
        summary.mean_to_resolve_s,
    ]
}

const SERIES: [&str; 3] = ["to acknowledge", "to contain", "to resolve"];

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let metrics = state.blocking(move |ex| ex.case_metrics(&who)).await?;
    let chart = |groups: &std::collections::BTreeMap<String, Summary>, title: &str| {
        let rows: Vec<(String, [Option<f64>; 3])> = groups
            .iter()
            .map(|(label, summary)| (label.clone(), series(summary)))
            .collect();
        svg::grouped_bars(&rows, SERIES, title, duration)
    };
    let page = MetricsPage {
        chrome: Chrome::for_viewer(&viewer, "/cases"),
        all: row("All cases", &metrics.all),
        cross_border: metrics.cross_border,
        organisation_chart: chart(
            &metrics.by_organisation,
            "Mean response times by organisation",
        ),
        category_chart: chart(&metrics.by_category, "Mean response times by category"),
        by_organisation: metrics
            .by_organisation
            .iter()
            .map(|(label, summary)| row(label, summary))
            .collect(),
        by_category: metrics
            .by_category
            .iter()
            .map(|(label, summary)| row(label, summary))
            .collect(),
    };
    Ok(render(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_two_largest_units() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(42.4)), "42 s");
        assert_eq!(duration(Some(125.0)), "2 min 5 s");
        assert_eq!(duration(Some(3.0 * 3_600.0 + 61.0)), "3 h 1 min");
        assert_eq!(duration(Some(2.0 * 86_400.0 + 7_300.0)), "2 d 2 h");
    }
}
