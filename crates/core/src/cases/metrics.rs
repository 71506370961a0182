//! Response metrics from the cases' histories: how long from opening until a case was first
//! acknowledged (triage or beyond), contained (contained or beyond) and resolved (resolved or
//! closed), per owning organisation and per category, and how many cases cross a border.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{CaseState, CaseStatus};

/// One case as the metrics see it.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    /// The owning organisation's name.
    pub organisation: String,
    pub category: String,
    /// The countries of the organisations working on the case (its owner and partners).
    pub countries: BTreeSet<String>,
    /// The readable versions of its incident, oldest first.
    pub history: Vec<CaseState>,
}

/// Seconds from opening to each milestone, when reached.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CaseTimes {
    pub to_acknowledge_s: Option<f64>,
    pub to_contain_s: Option<f64>,
    pub to_resolve_s: Option<f64>,
}

/// When the history first reached each milestone. A case reopened and contained again keeps
/// its first containment: the measure is how quickly the response first got there.
pub fn case_times(history: &[CaseState]) -> CaseTimes {
    let Some(first) = history.first() else {
        return CaseTimes::default();
    };
    let opened = first.created;
    let reached = |milestone: CaseStatus| {
        history
            .iter()
            .find(|v| v.fields.status >= milestone)
            .map(|v| (v.modified.as_micros() - opened.as_micros()).max(0) as f64 / 1e6)
    };
    CaseTimes {
        to_acknowledge_s: reached(CaseStatus::Triage),
        to_contain_s: reached(CaseStatus::Contained),
        to_resolve_s: reached(CaseStatus::Resolved),
    }
}

/// Means over a set of cases; a mean is over the cases that reached the milestone.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Summary {
    pub cases: usize,
    pub open: usize,
    pub mean_to_acknowledge_s: Option<f64>,
    pub mean_to_contain_s: Option<f64>,
    pub mean_to_resolve_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metrics {
    pub all: Summary,
    pub by_organisation: BTreeMap<String, Summary>,
    pub by_category: BTreeMap<String, Summary>,
    /// Cases whose organisations are in more than one country.
    pub cross_border: usize,
}

#[derive(Default)]
struct Sums {
    cases: usize,
    open: usize,
    totals: [(f64, usize); 3],
}

impl Sums {
    fn add(&mut self, open: bool, times: CaseTimes) {
        self.cases += 1;
        self.open += usize::from(open);
        for (slot, t) in self.totals.iter_mut().zip([
            times.to_acknowledge_s,
            times.to_contain_s,
            times.to_resolve_s,
        ]) {
            if let Some(t) = t {
                slot.0 += t;
                slot.1 += 1;
            }
        }
    }

    fn summary(&self) -> Summary {
        let mean = |(sum, n): (f64, usize)| (n > 0).then(|| sum / n as f64);
        Summary {
            cases: self.cases,
            open: self.open,
            mean_to_acknowledge_s: mean(self.totals[0]),
            mean_to_contain_s: mean(self.totals[1]),
            mean_to_resolve_s: mean(self.totals[2]),
        }
    }
}

pub fn compute(records: &[CaseRecord]) -> Metrics {
    let mut all = Sums::default();
    let mut by_org: BTreeMap<String, Sums> = BTreeMap::new();
    let mut by_category: BTreeMap<String, Sums> = BTreeMap::new();
    let mut cross_border = 0;
    for record in records {
        let Some(now) = record.history.last() else {
            continue;
        };
        let times = case_times(&record.history);
        let open = now.fields.status.is_open();
        all.add(open, times);
        by_org
            .entry(record.organisation.clone())
            .or_default()
            .add(open, times);
        by_category
            .entry(now.fields.category.clone())
            .or_default()
            .add(open, times);
        cross_border += usize::from(record.countries.len() > 1);
    }
    Metrics {
        all: all.summary(),
        by_organisation: by_org.into_iter().map(|(k, v)| (k, v.summary())).collect(),
        by_category: by_category
            .into_iter()
            .map(|(k, v)| (k, v.summary()))
            .collect(),
        cross_border,
    }
}

#[cfg(test)]
mod tests {
    use stix::Timestamp;

    use super::*;
    use crate::cases::{CaseFields, Severity};

    fn version(status: CaseStatus, after_s: i64, category: &str) -> CaseState {
        CaseState {
            id: "incident--0a0a0a0a-0000-4000-8000-000000000001".to_owned(),
            name: "c".to_owned(),
            description: None,
            created: Timestamp::from_micros(0),
            modified: Timestamp::from_micros(after_s * 1_000_000),
            created_by_ref: None,
            fields: CaseFields {
                status,
                severity: Severity::Low,
                category: category.to_owned(),
                affected_organisation_refs: vec![],
                affected_assets: vec![],
                assignee_refs: vec![],
                assignee_users: vec![],
                due: None,
                contributions: false,
            },
        }
    }

    #[test]
    fn milestones_count_from_the_first_time_they_are_reached() {
        use CaseStatus::*;
        let history = [
            version(New, 0, "x"),
            version(InProgress, 60, "x"),
            version(Resolved, 600, "x"),
            version(InProgress, 700, "x"),
            version(Contained, 800, "x"),
        ];
        let t = case_times(&history);
        assert_eq!(t.to_acknowledge_s, Some(60.0));
        assert_eq!(t.to_contain_s, Some(600.0));
        assert_eq!(t.to_resolve_s, Some(600.0));
    }

    #[test]
    fn means_are_per_organisation_and_category_and_borders_are_counted() {
        use CaseStatus::*;
        let record =
            |org: &str, cat: &str, countries: &[&str], history: Vec<CaseState>| CaseRecord {
                organisation: org.to_owned(),
                category: cat.to_owned(),
                countries: countries.iter().map(|c| c.to_string()).collect(),
                history,
            };
        let metrics = compute(&[
            record(
                "MY-CERT",
                "phishing",
                &["MY", "KH"],
                vec![
                    version(New, 0, "phishing"),
                    version(Triage, 100, "phishing"),
                ],
            ),
            record(
                "MY-CERT",
                "malware",
                &["MY"],
                vec![version(New, 0, "malware"), version(Closed, 300, "malware")],
            ),
            record(
                "KH-CERT",
                "malware",
                &["KH"],
                vec![version(New, 0, "malware")],
            ),
        ]);
        assert_eq!(metrics.cross_border, 1);
        assert_eq!(metrics.all.cases, 3);
        assert_eq!(metrics.all.open, 2);
        let my = &metrics.by_organisation["MY-CERT"];
        assert_eq!(my.mean_to_acknowledge_s, Some(200.0));
        assert_eq!(my.mean_to_resolve_s, Some(300.0));
        let malware = &metrics.by_category["malware"];
        assert_eq!((malware.cases, malware.open), (2, 1));
        assert_eq!(
            metrics.by_organisation["KH-CERT"].mean_to_acknowledge_s,
            None
        );
    }
}
