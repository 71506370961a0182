//! Explore: full-text and faceted search over what the person may read. Every filter is in
//! the URL (`GET /explore?q=…&type=…&collection=…&producer=…&tlp=…&created_from=…&page=…`),
//! so a search can be shared as a link.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kawal_core::{SearchRequest, SearchResults};
use stix::{Timestamp, Tlp};

use super::dashboard::HitRow;
use super::session::Viewer;
use super::{encode, render, tlp_badge, Chrome, PageError};
use crate::AppState;

const PER_PAGE: usize = 25;

pub(crate) struct FacetOption {
    pub value: String,
    pub label: String,
    pub count: usize,
    pub checked: bool,
}

pub(crate) struct Facet {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<FacetOption>,
}

#[derive(Template)]
#[template(path = "explore.html")]
struct Explore {
    chrome: Chrome,
    q: String,
    error: Option<String>,
    facets: Vec<Facet>,
    created_from: String,
    created_to: String,
    modified_from: String,
    modified_to: String,
    revoked: String,
    total_label: String,
    hits: Vec<HitRow>,
    page: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// The search as written in the URL.
#[derive(Debug, Default, Clone)]
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(query: Option<&str>) -> Self {
        Params {
            pairs: form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        }
    }

    fn one(&self, name: &str) -> String {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// This search at another page.
    fn at_page(&self, page: usize) -> String {
        let mut query: Vec<String> = self
            .pairs
            .iter()
            .filter(|(n, _)| n != "page")
            .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
            .collect();
        if page > 1 {
            query.push(format!("page={page}"));
        }
        format!("/explore?{}", query.join("&"))
    }
}

/// A date field (`YYYY-MM-DD`) as the first or last instant of that day.
fn day(text: &str, end: bool, field: &str) -> Result<Option<Timestamp>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let time = if end { "23:59:59.999999" } else { "00:00:00" };
    Timestamp::parse(&format!("{text}T{time}Z"))
        .map(Some)
        .map_err(|_| format!("`{text}` in {field} is not a date of the form YYYY-MM-DD"))
}

fn request(params: &Params, producers: &HashMap<String, i64>) -> Result<SearchRequest, String> {
    let tlps = params
        .all("tlp")
        .iter()
        .map(|t| t.parse::<Tlp>().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let revoked = match params.one("revoked").as_str() {
        "" => None,
        "true" => Some(true),
        "false" => Some(false),
        other => return Err(format!("revoked must be true or false, not `{other}`")),
    };
    let page = match params.one("page").as_str() {
        "" => 1,
        text => text
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=10_000).contains(p))
            .ok_or_else(|| format!("page `{text}` is not a page number"))?,
    };
    let mut unknown = Vec::new();
    let producer_ids = params
        .all("producer")
        .into_iter()
        .filter_map(|name| {
            let id = producers.get(&name).copied();
            if id.is_none() {
                unknown.push(name);
            }
            id
        })
        .collect();
    if let Some(name) = unknown.first() {
        return Err(format!("no organisation is named `{name}`"));
    }
    Ok(SearchRequest {
        text: params.one("q"),
        types: params.all("type"),
        collections: params.all("collection"),
        producers: producer_ids,
        tlps,
        created: (
            day(&params.one("created_from"), false, "created from")?,
            day(&params.one("created_to"), true, "created to")?,
        ),
        modified: (
            day(&params.one("modified_from"), false, "modified from")?,
            day(&params.one("modified_to"), true, "modified to")?,
        ),
        revoked,
        page,
        per_page: PER_PAGE,
    })
}

fn options<K: Ord + Clone>(
    counts: &BTreeMap<K, usize>,
    checked: &BTreeSet<String>,
    value: impl Fn(&K) -> String,
    label: impl Fn(&K) -> String,
) -> Vec<FacetOption> {
    let mut options: Vec<FacetOption> = counts
        .iter()
        .map(|(k, n)| FacetOption {
            value: value(k),
            label: label(k),
            count: *n,
            checked: checked.contains(&value(k)),
        })
        .collect();
    // A filter that matched nothing stays visible, so it can be unticked.
    for v in checked {
        if !options.iter().any(|o| o.value == *v) {
            options.push(FacetOption {
                value: v.clone(),
                label: v.clone(),
                count: 0,
                checked: true,
            });
        }
    }
    options.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    options
}

pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let params = Params::parse(query.as_deref());
    let who = viewer.principal.clone();
    let (orgs, titles) = state
        .blocking(move |ex| {
            let orgs = ex.orgs(&who)?;
            let titles: HashMap<String, String> = ex
                .visible_collections(&who)?
                .into_iter()
                .map(|v| (v.collection.id, v.collection.title))
                .collect();
            Ok((orgs, titles))
        })
        .await?;
    let names: HashMap<i64, String> = orgs.iter().map(|o| (o.id, o.name.clone())).collect();
    let ids: HashMap<String, i64> = orgs.iter().map(|o| (o.name.clone(), o.id)).collect();
    let (results, error) = match request(&params, &ids) {
        Ok(search) => {
            let who = viewer.principal.clone();
            let results = state.blocking(move |ex| ex.search(&who, &search)).await?;
            (results, None)
        }
        Err(message) => (SearchResults::default(), Some(message)),
    };
    let page_number = match request(&params, &ids) {
        Ok(r) => r.page,
        Err(_) => 1,
    };
    let checked = |name: &str| params.all(name).into_iter().collect::<BTreeSet<String>>();
    let facets = vec![
        Facet {
            name: "type",
            label: "Type",
            options: options(
                &results.facets.types,
                &checked("type"),
                Clone::clone,
                Clone::clone,
            ),
        },
        Facet {
            name: "collection",
            label: "Collection",
            options: options(
                &results.facets.collections,
                &checked("collection"),
                Clone::clone,
                |id| titles.get(id).cloned().unwrap_or_else(|| id.clone()),
            ),
        },
        Facet {
            name: "producer",
            label: "Producer",
            options: options(
                &results.facets.producers,
                &checked("producer"),
                |id| names.get(id).cloned().unwrap_or_default(),
                |id| names.get(id).cloned().unwrap_or_default(),
            ),
        },
        Facet {
            name: "tlp",
            label: "TLP",
            options: options(
                &results.facets.tlps,
                &checked("tlp"),
                |t| t.as_str().to_owned(),
                |t| tlp_badge(*t).1,
            ),
        },
    ];
    let total_label = match (results.total, results.truncated) {
        (0, _) => "No objects found.".to_owned(),
        (1, false) => "1 object".to_owned(),
        (n, false) => format!("{n} objects"),
        (n, true) => format!("more than {n} objects; narrow the search to see them all"),
    };
    let shown_to = page_number * PER_PAGE;
    let page = Explore {
        chrome: Chrome::for_viewer(&viewer, "/explore"),
        q: params.one("q"),
        facets,
        created_from: params.one("created_from"),
        created_to: params.one("created_to"),
        modified_from: params.one("modified_from"),
        modified_to: params.one("modified_to"),
        revoked: params.one("revoked"),
        total_label,
        hits: results
            .hits
            .iter()
            .map(|hit| HitRow::new(hit, names.get(&hit.producer).cloned().unwrap_or_default()))
            .collect(),
        page: page_number,
        previous: (page_number > 1).then(|| params.at_page(page_number - 1)),
        next: (results.total > shown_to).then(|| params.at_page(page_number + 1)),
        error: error.clone(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok((status, render(&page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_round_trips_through_its_url() {
        let params = Params::parse(Some(
            "q=apt+28&type=indicator&type=malware&page=2&tlp=amber",
        ));
        let request = request(&params, &HashMap::new()).unwrap();
        assert_eq!(request.text, "apt 28");
        assert_eq!(request.types, vec!["indicator", "malware"]);
        assert_eq!(request.tlps, vec![Tlp::Amber]);
        assert_eq!(request.page, 2);
        assert_eq!(
            params.at_page(3),
            "/explore?q=apt+28&type=indicator&type=malware&tlp=amber&page=3"
        );
    }

    #[test]
    fn malformed_filters_are_explained() {
        let bad = |q: &str| request(&Params::parse(Some(q)), &HashMap::new()).unwrap_err();
        assert!(bad("created_from=2020-13-01").contains("YYYY-MM-DD"));
        assert!(bad("tlp=purple").contains("purple"));
        assert!(bad("page=0").contains("page"));
        assert!(bad("producer=NOBODY").contains("NOBODY"));
    }
}
