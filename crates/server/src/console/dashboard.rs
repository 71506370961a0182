//! The dashboard: what the signed-in person's organisation may read, at a glance.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use kawal_core::search::{day_of, SearchHit, DAY_MICROS};
use stix::Timestamp;

use super::alerts::{self, AlertRow};
use super::session::Viewer;
use super::{object_href, render, svg, tlp_badge, Chrome, PageError};
use crate::AppState;

/// How many days the charts cover.
const DAYS: i64 = 30;

pub(crate) struct HitRow {
    pub id: String,
    pub href: String,
    pub label: String,
    pub type_name: String,
    pub collection_title: String,
    pub producer: String,
    pub date_added: String,
    pub tlp_class: String,
    pub tlp_label: String,
    pub revoked: bool,
}

impl HitRow {
    pub fn new(hit: &SearchHit, producer: String) -> Self {
        let (tlp_class, tlp_label) = tlp_badge(hit.tlp);
        HitRow {
            id: hit.id.clone(),
            href: object_href(&hit.id, &hit.collection),
            label: hit.name.clone().unwrap_or_else(|| hit.id.clone()),
            type_name: hit.type_name.clone(),
            collection_title: hit.collection_title.clone(),
            producer,
            date_added: super::short_time(hit.date_added),
            tlp_class,
            tlp_label,
            revoked: hit.revoked,
        }
    }
}

pub(crate) struct CollectionRow {
    pub id: String,
    pub title: String,
    pub public: bool,
    pub can_write: bool,
    pub tlp_class: String,
    pub tlp_label: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    latest: Vec<HitRow>,
    latest_cursor: i64,
    by_type: Vec<(String, u64)>,
    by_type_chart: String,
    ingest_chart: String,
    sightings_chart: String,
    days: i64,
    collections: Vec<CollectionRow>,
    /// `None` when the person's role reads no alerts.
    alerts: Option<Vec<AlertRow>>,
    alerts_live_url: String,
    top_sighted: Vec<SightedRow>,
}

pub(crate) struct SightedRow {
    pub href: String,
    pub label: String,
    pub type_name: String,
    pub sightings: u64,
}

/// How many alerts the dashboard lists.
const ALERTS: usize = 5;

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let today = day_of(Timestamp::now());
    let first_day = today - DAYS + 1;
    let (latest, summary, collections, listed) = state
        .blocking(move |ex| {
            let latest = ex.latest(&who, None, 10)?;
            let summary = ex.summary(&who, Timestamp::from_micros(first_day * DAY_MICROS))?;
            let collections = ex.visible_collections(&who)?;
            let listed = match ex.alert_reader(&who) {
                Ok(_) => Some(ex.latest_alerts(
                    &who,
                    kawal_core::AlertFilter {
                        limit: ALERTS,
                        ..Default::default()
                    },
                )?),
                Err(_) => None,
            };
            Ok((latest, summary, collections, listed))
        })
        .await?;
    let titles = alerts::titles(&collections);
    let alerts_live_url = format!(
        "/live/alerts?after={}",
        listed
            .as_ref()
            .and_then(|l| l.first())
            .map_or(0, |newest| newest.seq)
    );
    let latest_cursor = latest.first().map_or(0, |hit| hit.date_added.as_micros());
    let mut by_type: Vec<(String, u64)> = summary.by_type.into_iter().collect();
    by_type.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let page = Dashboard {
        chrome: Chrome::for_viewer(&viewer, "/"),
        latest: latest
            .iter()
            .map(|hit| HitRow::new(hit, String::new()))
            .collect(),
        latest_cursor,
        by_type_chart: svg::type_bars(&by_type, "Object versions by type"),
        by_type,
        ingest_chart: svg::daily_bars(
            &summary.added_by_day,
            first_day,
            DAYS,
            "Object versions added per day",
            "",
        ),
        sightings_chart: svg::daily_bars(
            &summary.sightings_by_day,
            first_day,
            DAYS,
            "Sightings added per day",
            "sighting",
        ),
        days: DAYS,
        alerts: listed.map(|listed| listed.iter().map(|l| alerts::row(l, &titles)).collect()),
        alerts_live_url,
        top_sighted: summary
            .top_sighted
            .iter()
            .map(|s| SightedRow {
                href: object_href(&s.id, &s.collection),
                label: s.name.clone().unwrap_or_else(|| s.id.clone()),
                type_name: s.type_name.clone(),
                sightings: s.sightings,
            })
            .collect(),
        collections: collections
            .into_iter()
            .filter(|v| v.can_read)
            .map(|v| {
                let (tlp_class, tlp_label) = tlp_badge(v.collection.default_tlp);
                CollectionRow {
                    id: v.collection.id,
                    title: v.collection.title,
                    public: v.collection.public,
                    can_write: v.can_write,
                    tlp_class,
                    tlp_label,
                }
            })
            .collect(),
    };
    Ok(render(&page))
}
