//! One object: its properties, the raw JSON as received, its versions with what changed
//! between them, its TLP, the relationships around it as a graph, its sightings and its
//! transparency-log leaves — all as the person's organisation may read them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::diff::{self, DiffLine};
use super::session::Viewer;
use super::{object_href, render, short_time, svg, tlp_badge, Chrome, PageError};
use crate::AppState;

pub(crate) struct Property {
    pub key: String,
    pub value: String,
    pub link: Option<String>,
}

pub(crate) struct VersionRow {
    pub version: String,
    pub date_added: String,
    pub tlp_class: String,
    pub tlp_label: String,
    pub leaf: Option<u64>,
    pub sha256: String,
    pub diff: Vec<DiffLine>,
}

pub(crate) struct EdgeRow {
    pub source: String,
    pub source_label: String,
    pub target: String,
    pub target_label: String,
    pub kind: String,
}

pub(crate) struct Place {
    pub href: String,
    pub title: String,
}

pub(crate) struct SightingRow {
    pub href: String,
    pub label: String,
    pub date_added: String,
}

#[derive(Template)]
#[template(path = "object.html")]
struct ObjectPage {
    chrome: Chrome,
    id: String,
    label: String,
    type_name: String,
    collection_title: String,
    others: Vec<Place>,
    tlp_class: String,
    tlp_label: String,
    revoked: bool,
    leaf: Option<u64>,
    /// The editor for a new version, for an indicator the person's organisation produced
    /// and may write.
    new_version: Option<String>,
    properties: Vec<Property>,
    graph: String,
    edges: Vec<EdgeRow>,
    sightings: Vec<SightingRow>,
    versions: Vec<VersionRow>,
    raw: String,
}

#[derive(Deserialize)]
pub(crate) struct InCollection {
    collection: Option<String>,
}

fn looks_like_id(text: &str) -> bool {
    text.len() <= 120
        && text
            .split_once("--")
            .is_some_and(|(kind, uuid)| !kind.is_empty() && uuid.len() == 36)
        && !text.contains(char::is_whitespace)
}

fn properties(object: &Value) -> Vec<Property> {
    let Value::Object(map) = object else {
        return Vec::new();
    };
    map.iter()
        .map(|(key, value)| {
            let (text, link) = match value {
                Value::String(s) if looks_like_id(s) && key != "id" => {
                    (s.clone(), Some(format!("/objects/{}", super::encode(s))))
                }
                Value::String(s) => (s.clone(), None),
                Value::Array(items) if items.iter().all(Value::is_string) => (
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    None,
                ),
                other => {
                    let text = other.to_string();
                    let cut: String = text.chars().take(600).collect();
                    (
                        if cut.len() < text.len() {
                            cut + "…"
                        } else {
                            cut
                        },
                        None,
                    )
                }
            };
            Property {
                key: key.clone(),
                value: text,
                link,
            }
        })
        .collect()
}

fn pretty(raw: &str) -> String {
    serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| raw.to_owned())
}

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(wanted): Query<InCollection>,
) -> Result<Response, PageError> {
    let who = viewer.principal.clone();
    let object_id = id.clone();
    let found = state
        .blocking(move |ex| {
            let locations = ex.object_locations(&who, &object_id)?;
            // The index trails ingest by a moment; a named collection is asked directly.
            let collection = match &wanted.collection {
                Some(c) if locations.iter().any(|l| l.id == *c) => Some(c.clone()),
                Some(c) => ex
                    .object_versions(&who, c, &object_id)
                    .ok()
                    .map(|_| c.clone()),
                None => None,
            }
            .or_else(|| locations.first().map(|l| l.id.clone()));
            let Some(collection) = collection else {
                return Ok(None);
            };
            let view = ex.collection(&who, &collection)?;
            let versions = ex.object_versions(&who, &collection, &object_id)?;
            let graph = ex.neighbourhood(&who, &object_id, 2, 30)?;
            let sightings = ex.sightings_of(&who, &object_id, 20)?;
            Ok(Some((view, locations, versions, graph, sightings)))
        })
        .await?;
    let Some((view, locations, versions, graph, sightings)) = found else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            format!("No object with id `{id}` is visible to you."),
        ));
    };
    let Some(newest) = versions.last() else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            format!("No object with id `{id}` is visible to you."),
        ));
    };
    let object: Value = serde_json::from_str(&newest.raw).unwrap_or(Value::Null);
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    let type_name = text("type").unwrap_or_default();
    let label = text("name")
        .or_else(|| text("value"))
        .unwrap_or_else(|| id.clone());
    let (tlp_class, tlp_label) = tlp_badge(newest.tlp);
    let label_of = |node: &str| {
        graph
            .nodes
            .get(node)
            .map(|(kind, name, _)| name.clone().unwrap_or_else(|| kind.clone()))
            .unwrap_or_else(|| node.to_owned())
    };
    let mut rows = Vec::with_capacity(versions.len());
    let mut previous: Option<String> = None;
    for v in &versions {
        let shown = pretty(&v.raw);
        let (class, badge) = tlp_badge(v.tlp);
        rows.push(VersionRow {
            version: short_time(v.version),
            date_added: short_time(v.date_added),
            tlp_class: class,
            tlp_label: badge,
            leaf: v.leaf,
            sha256: v.sha256.iter().map(|b| format!("{b:02x}")).collect(),
            diff: previous
                .as_deref()
                .map(|old| diff::lines(old, &shown))
                .unwrap_or_default(),
        });
        previous = Some(shown);
    }
    let new_version = (type_name == "indicator"
        && view.can_write
        && newest.producer == viewer.user.org)
        .then(|| {
            format!(
                "/indicators/new?of={}&collection={}",
                super::encode(&id),
                super::encode(&view.collection.id)
            )
        });
    let page = ObjectPage {
        chrome: Chrome::for_viewer(&viewer, ""),
        new_version,
        label,
        type_name,
        collection_title: view.collection.title.clone(),
        others: locations
            .iter()
            .filter(|c| c.id != view.collection.id)
            .map(|c| Place {
                href: object_href(&id, &c.id),
                title: c.title.clone(),
            })
            .collect(),
        tlp_class,
        tlp_label,
        revoked: object.get("revoked").and_then(Value::as_bool) == Some(true),
        leaf: newest.leaf,
        properties: properties(&object),
        graph: svg::graph(&id, &graph),
        edges: graph
            .edges
            .iter()
            .map(|e| EdgeRow {
                source_label: label_of(&e.source),
                target_label: label_of(&e.target),
                source: e.source.clone(),
                target: e.target.clone(),
                kind: e.kind.clone(),
            })
            .collect(),
        sightings: sightings
            .iter()
            .map(|s| SightingRow {
                href: object_href(&s.id, &s.collection),
                label: s.id.clone(),
                date_added: short_time(s.date_added),
            })
            .collect(),
        versions: rows,
        raw: newest.raw.clone(),
        id,
    };
    Ok(render(&page))
}
