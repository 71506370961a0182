//! The indicator editor: a new indicator, or a new version of one the person's organisation
//! produced. Saving goes through `Exchange::add_objects`, the path of a TAXII write, so
//! validation, the access policy, the transparency log and the audit trail all apply. The
//! pattern is checked while it is typed (`POST /console/pattern-check`, answered with the
//! `pattern` crate's diagnostics) and again on save, which works without JavaScript.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Redirect, Response};
use kawal_core::{Collection, OrgId, Organisation, Principal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use stix::{Timestamp, Tlp};

use super::session::{Form, Viewer};
use super::{object_href, render, tlp_badge, Chrome, PageError};
use crate::AppState;

/// STIX 2.1 `indicator-type-ov`.
const INDICATOR_TYPES: [&str; 7] = [
    "malicious-activity",
    "anomalous-activity",
    "attribution",
    "compromised",
    "anonymization",
    "benign",
    "unknown",
];

/// One problem the parser (error) or the linter (warning) found in a pattern.
#[derive(Debug, Serialize)]
pub(crate) struct PatternDiagnostic {
    pub severity: String,
    pub message: String,
    /// Where it is, in UTF-16 code units as browsers count text in a field.
    pub start: usize,
    pub end: usize,
    /// The diagnostic as the command line prints it, with the pattern and a caret.
    pub rendered: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct PatternCheck {
    pub valid: bool,
    pub diagnostics: Vec<PatternDiagnostic>,
}

fn utf16_offset(text: &str, byte: usize) -> usize {
    let mut at = byte.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    text[..at].encode_utf16().count()
}

fn diagnostic_view(d: &pattern::Diagnostic, text: &str) -> PatternDiagnostic {
    PatternDiagnostic {
        severity: d.severity.to_string(),
        message: d.message.clone(),
        start: utf16_offset(text, d.span.start),
        end: utf16_offset(text, d.span.end.max(d.span.start)),
        rendered: d.render(text),
    }
}

/// Parses the pattern as ingest will; a valid one may still carry the linter's warnings.
pub(crate) fn check_pattern(text: &str) -> PatternCheck {
    match pattern::parse(text) {
        Ok(parsed) => PatternCheck {
            valid: true,
            diagnostics: pattern::lint(&parsed)
                .iter()
                .map(|d| diagnostic_view(d, text))
                .collect(),
        },
        Err(d) => PatternCheck {
            valid: false,
            diagnostics: vec![diagnostic_view(&d, text)],
        },
    }
}

/// `POST /console/pattern-check`: the editor's script sends the pattern as it is typed.
pub(crate) async fn pattern_check(viewer: Viewer, body: Bytes) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    Ok(Json(check_pattern(form.get("pattern").unwrap_or(""))).into_response())
}

pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

pub(crate) struct TlpChoice {
    pub value: &'static str,
    pub label: String,
    pub class: String,
    pub checked: bool,
}

pub(crate) struct Recipient {
    pub name: String,
    pub checked: bool,
    /// The collections whose sharing group holds it, space-separated, for the script to
    /// offer only the chosen collection's members.
    pub collections: String,
}

#[derive(Template)]
#[template(path = "indicator.html")]
struct EditorPage {
    chrome: Chrome,
    csrf: String,
    heading: String,
    /// The id, when this is a new version.
    of: Option<String>,
    of_href: Option<String>,
    name: String,
    description: String,
    pattern: String,
    valid_from: String,
    types: Vec<Choice>,
    tlps: Vec<TlpChoice>,
    collections: Vec<Choice>,
    recipients: Vec<Recipient>,
    diagnostics: Vec<PatternDiagnostic>,
    pattern_invalid: bool,
    name_error: Option<String>,
    valid_from_error: Option<String>,
    errors: Vec<String>,
}

/// What the form holds, as typed.
#[derive(Debug, Clone, Default)]
struct Values {
    name: String,
    description: String,
    pattern: String,
    valid_from: String,
    types: Vec<String>,
    tlp: String,
    collection: String,
    recipients: Vec<String>,
}

impl Values {
    fn from_form(form: &Form) -> Values {
        let text = |name: &str| form.get(name).unwrap_or("").to_owned();
        let many = |name: &str| form.all(name);
        Values {
            name: text("name"),
            description: text("description"),
            pattern: text("pattern"),
            valid_from: text("valid_from").trim().to_owned(),
            types: many("indicator_types"),
            tlp: text("tlp"),
            collection: text("collection"),
            recipients: many("recipients"),
        }
    }

    /// The form filled from the newest version of an indicator.
    fn from_object(
        object: &Map<String, Value>,
        previous: &Previous,
        orgs: &[Organisation],
    ) -> Values {
        let text = |key: &str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let marked = object
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .map(|refs| Tlp::of_markings(refs.iter().filter_map(Value::as_str)))
            .unwrap_or(None);
        Values {
            name: text("name"),
            description: text("description"),
            pattern: text("pattern"),
            valid_from: text("valid_from"),
            types: object
                .get("indicator_types")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            tlp: marked.unwrap_or(previous.tlp).as_str().to_owned(),
            collection: previous.collection.clone(),
            recipients: orgs
                .iter()
                .filter(|o| previous.recipients.contains(&o.id))
                .map(|o| o.name.clone())
                .collect(),
        }
    }
}

/// The version a new version follows.
#[derive(Debug, Clone)]
struct Previous {
    collection: String,
    id: String,
    object: Map<String, Value>,
    modified: Timestamp,
    tlp: Tlp,
    recipients: Vec<OrgId>,
}

/// What the editor needs to know besides the form.
struct Context {
    /// The collections the person may write to (only the indicator's own for a new version).
    writable: Vec<Collection>,
    orgs: Vec<Organisation>,
    own: Option<Organisation>,
    previous: Option<Previous>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Of {
    of: Option<String>,
    collection: Option<String>,
}

/// Reads what the editor shows, through the same `Exchange` reads as every page. A new
/// version is offered only for an indicator the person's organisation produced and may still
/// write to.
fn context(
    ex: &kawal_core::Exchange,
    who: &Principal,
    own_org: OrgId,
    of: Option<(&str, &str)>,
) -> kawal_core::exchange::Result<Context> {
    use kawal_core::exchange::Error;
    let mut writable: Vec<Collection> = ex
        .visible_collections(who)?
        .into_iter()
        .filter(|v| v.can_write)
        .map(|v| v.collection)
        .collect();
    let orgs = ex.store().orgs()?;
    let own = orgs.iter().find(|o| o.id == own_org).cloned();
    let previous = match of {
        None => None,
        Some((id, collection)) => {
            let versions = ex.object_versions(who, collection, id)?;
            let newest = versions
                .last()
                .ok_or_else(|| Error::NotFound(format!("object `{id}`")))?;
            let object = match serde_json::from_str::<Value>(&newest.raw) {
                Ok(Value::Object(map)) => map,
                _ => return Err(Error::BadRequest(format!("`{id}` is not a JSON object"))),
            };
            if object.get("type").and_then(Value::as_str) != Some("indicator") {
                return Err(Error::BadRequest(format!("`{id}` is not an indicator")));
            }
            if newest.producer != own_org {
                return Err(Error::Forbidden(
                    "only the organisation that produced an indicator makes new versions of it"
                        .to_owned(),
                ));
            }
            writable.retain(|c| c.id == collection);
            if writable.is_empty() {
                return Err(Error::Forbidden(format!(
                    "your organisation may not write to collection `{collection}`"
                )));
            }
            Some(Previous {
                collection: collection.to_owned(),
                id: id.to_owned(),
                modified: newest.version,
                tlp: newest.tlp,
                recipients: newest.recipients.clone(),
                object,
            })
        }
    };
    Ok(Context {
        writable,
        orgs,
        own,
        previous,
    })
}

async fn load(state: &AppState, viewer: &Viewer, of: &Of) -> Result<Context, PageError> {
    let who = viewer.principal.clone();
    let own_org = viewer.user.org;
    let of = match (&of.of, &of.collection) {
        (Some(id), Some(collection)) if !id.is_empty() => Some((id.clone(), collection.clone())),
        (Some(id), _) if !id.is_empty() => {
            return Err(PageError::new(
                StatusCode::BAD_REQUEST,
                format!("Say which collection holds `{id}` (`collection=`)."),
            ))
        }
        _ => None,
    };
    Ok(state
        .blocking(move |ex| {
            context(
                ex,
                &who,
                own_org,
                of.as_ref().map(|(id, c)| (id.as_str(), c.as_str())),
            )
        })
        .await?)
}

/// A timestamp to the millisecond, as STIX `created` and `modified` are usually written.
fn to_millis(at: Timestamp) -> Timestamp {
    Timestamp::from_micros(at.as_micros() - at.as_micros().rem_euclid(1000))
}

fn millis_text(at: Timestamp) -> String {
    let text = to_millis(at).to_string();
    // `YYYY-MM-DDTHH:MM:SS.ffffffZ`: keep three digits of the fraction.
    match text.split_once('.') {
        Some((seconds, fraction)) if fraction.len() >= 4 => {
            format!("{seconds}.{}Z", &fraction[..3])
        }
        _ => text,
    }
}

/// `modified` of a new version: now, or just after the version it follows when clocks
/// disagree, so that it is always the newest.
fn next_modified(now: Timestamp, previous: Option<Timestamp>) -> Timestamp {
    let now = to_millis(now);
    match previous {
        Some(before) if now <= before => {
            Timestamp::from_micros(to_millis(before).as_micros() + 1000)
        }
        _ => now,
    }
}

fn page(
    viewer: &Viewer,
    ctx: &Context,
    values: &Values,
    check: Option<PatternCheck>,
    errors: Errors,
) -> EditorPage {
    let tlp = values.tlp.parse::<Tlp>().unwrap_or(Tlp::Amber);
    let label = |c: &Collection| c.title.clone();
    EditorPage {
        chrome: Chrome::for_viewer(viewer, "/indicators/new"),
        csrf: viewer.csrf.clone(),
        heading: match &ctx.previous {
            Some(p) => format!(
                "New version of {}",
                p.object
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&p.id)
            ),
            None => "New indicator".to_owned(),
        },
        of: ctx.previous.as_ref().map(|p| p.id.clone()),
        of_href: ctx
            .previous
            .as_ref()
            .map(|p| object_href(&p.id, &p.collection)),
        name: values.name.clone(),
        description: values.description.clone(),
        pattern: values.pattern.clone(),
        valid_from: values.valid_from.clone(),
        types: INDICATOR_TYPES
            .iter()
            .map(|t| Choice {
                value: (*t).to_owned(),
                label: t.replace('-', " "),
                checked: values.types.iter().any(|v| v == t),
            })
            .collect(),
        tlps: Tlp::ALL
            .iter()
            .map(|t| {
                let (class, label) = tlp_badge(*t);
                TlpChoice {
                    value: t.as_str(),
                    label,
                    class,
                    checked: *t == tlp,
                }
            })
            .collect(),
        collections: ctx
            .writable
            .iter()
            .map(|c| Choice {
                value: c.id.clone(),
                label: label(c),
                checked: c.id == values.collection,
            })
            .collect(),
        recipients: ctx
            .orgs
            .iter()
            .filter(|o| ctx.own.as_ref().is_none_or(|own| own.id != o.id))
            .filter_map(|o| {
                let within: Vec<&str> = ctx
                    .writable
                    .iter()
                    .filter(|c| c.members.contains(&o.id))
                    .map(|c| c.id.as_str())
                    .collect();
                (!within.is_empty()).then(|| Recipient {
                    name: o.name.clone(),
                    checked: values.recipients.contains(&o.name),
                    collections: within.join(" "),
                })
            })
            .collect(),
        pattern_invalid: check.as_ref().is_some_and(|c| !c.valid),
        diagnostics: check.map(|c| c.diagnostics).unwrap_or_default(),
        name_error: errors.name,
        valid_from_error: errors.valid_from,
        errors: errors.general,
    }
}

#[derive(Default)]
struct Errors {
    name: Option<String>,
    valid_from: Option<String>,
    general: Vec<String>,
}

impl Errors {
    fn any(&self) -> bool {
        self.name.is_some() || self.valid_from.is_some() || !self.general.is_empty()
    }
}

/// `GET /indicators/new`, or `?of=ID&collection=C` for a new version.
pub(crate) async fn form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(of): Query<Of>,
) -> Result<Response, PageError> {
    let ctx = load(&state, &viewer, &of).await?;
    let values = match &ctx.previous {
        Some(previous) => Values::from_object(&previous.object, previous, &ctx.orgs),
        None => Values {
            valid_from: millis_text(Timestamp::now()),
            tlp: Tlp::Amber.as_str().to_owned(),
            collection: ctx
                .writable
                .first()
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            ..Values::default()
        },
    };
    let mut errors = Errors::default();
    if ctx.writable.is_empty() {
        errors.general.push(
            "Your organisation and role may not write to any collection, so nothing can be saved here."
                .to_owned(),
        );
    }
    Ok(render(&page(&viewer, &ctx, &values, None, errors)))
}

/// The object a save stores, as JSON text: the previous version with the edited properties
/// replaced (a new version keeps its id, `created` and every property the form does not
/// edit), or a new indicator made by the person's organisation.
fn build(
    values: &Values,
    valid_from: Timestamp,
    tlp: Tlp,
    ctx: &Context,
    now: Timestamp,
) -> (String, String) {
    let mut object = ctx
        .previous
        .as_ref()
        .map(|p| p.object.clone())
        .unwrap_or_default();
    let id = match &ctx.previous {
        Some(p) => p.id.clone(),
        None => format!("indicator--{}", uuid::Uuid::new_v4()),
    };
    let modified = next_modified(now, ctx.previous.as_ref().map(|p| p.modified));
    let mut set = |key: &str, value: Value| {
        object.insert(key.to_owned(), value);
    };
    set("type", "indicator".into());
    set("spec_version", "2.1".into());
    set("id", id.clone().into());
    set("modified", millis_text(modified).into());
    set("name", values.name.trim().into());
    set("pattern", values.pattern.clone().into());
    set("pattern_type", "stix".into());
    set("valid_from", valid_from.to_string().into());
    if ctx.previous.is_none() {
        object.insert("created".to_owned(), millis_text(modified).into());
    }
    if values.description.trim().is_empty() {
        object.remove("description");
    } else {
        object.insert("description".to_owned(), values.description.clone().into());
    }
    let types: Vec<Value> = INDICATOR_TYPES
        .iter()
        .filter(|t| values.types.iter().any(|v| v == *t))
        .map(|t| Value::from(*t))
        .collect();
    if types.is_empty() {
        object.remove("indicator_types");
    } else {
        object.insert("indicator_types".to_owned(), Value::Array(types));
    }
    // Markings other than TLP stay; the TLP is the one chosen.
    let mut markings: Vec<Value> = object
        .get("object_marking_refs")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter(|r| r.as_str().is_some_and(|r| Tlp::of_marking(r).is_none()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    markings.push(tlp.marking_ref().into());
    object.insert("object_marking_refs".to_owned(), Value::Array(markings));
    if !object.contains_key("created_by_ref") {
        if let Some(own) = &ctx.own {
            object.insert("created_by_ref".to_owned(), own.identity_id.clone().into());
        }
    }
    (id, Value::Object(object).to_string())
}

/// `POST /indicators`: checks the form, then stores the indicator as a TAXII write would and
/// goes to its page; a form with problems comes back with each shown where it is.
pub(crate) async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let values = Values::from_form(&form);
    let of = Of {
        of: form.get("of").map(str::to_owned),
        collection: Some(values.collection.clone()),
    };
    let ctx = load(&state, &viewer, &of).await?;
    let check = check_pattern(&values.pattern);
    let mut errors = Errors::default();
    if values.name.trim().is_empty() {
        errors.name = Some("Give the indicator a name.".to_owned());
    }
    let valid_from = match Timestamp::parse(&values.valid_from) {
        Ok(at) => Some(at),
        Err(e) => {
            errors.valid_from = Some(format!("{e}, for example 2025-03-01T00:00:00Z."));
            None
        }
    };
    let tlp = match values.tlp.parse::<Tlp>() {
        Ok(tlp) => Some(tlp),
        Err(_) => {
            errors.general.push("Choose a TLP.".to_owned());
            None
        }
    };
    if !ctx.writable.iter().any(|c| c.id == values.collection) {
        errors
            .general
            .push("Choose a collection your organisation may write to.".to_owned());
    }
    let (Some(valid_from), Some(tlp)) = (valid_from, tlp) else {
        return Ok(refused(&viewer, &ctx, &values, check, errors));
    };
    if !check.valid || errors.any() {
        return Ok(refused(&viewer, &ctx, &values, check, errors));
    }
    let (id, raw) = build(&values, valid_from, tlp, &ctx, Timestamp::now());
    // Recipients name who may read a RED indicator; other levels have an audience already.
    let recipients = if tlp == Tlp::Red {
        values.recipients.clone()
    } else {
        Vec::new()
    };
    let who = viewer.principal.clone();
    let collection = values.collection.clone();
    let envelope = format!("{{\"objects\":[{raw}]}}");
    let stored = state
        .blocking(move |ex| ex.add_objects(&who, &collection, &envelope, &recipients))
        .await;
    match stored {
        Ok(status) if status.failure_count == 0 => {
            Ok(Redirect::to(&object_href(&id, &values.collection)).into_response())
        }
        Ok(status) => {
            errors.general.extend(
                status
                    .failures
                    .into_iter()
                    .map(|f| f.message.unwrap_or_else(|| format!("{} was refused", f.id))),
            );
            Ok(refused(&viewer, &ctx, &values, check, errors))
        }
        Err(e) if e.status.is_client_error() => {
            errors.general.push(e.description);
            Ok(refused(&viewer, &ctx, &values, check, errors))
        }
        Err(e) => Err(e.into()),
    }
}

fn refused(
    viewer: &Viewer,
    ctx: &Context,
    values: &Values,
    check: PatternCheck,
    errors: Errors,
) -> Response {
    let page = page(viewer, ctx, values, Some(check), errors);
    (StatusCode::BAD_REQUEST, render(&page)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_point_where_a_browser_counts() {
        let check = check_pattern("[file:name = 'é' AND file:size 'x']");
        assert!(!check.valid);
        let d = &check.diagnostics[0];
        assert_eq!(d.severity, "error");
        // `é` is two bytes but one UTF-16 unit: the span starts at the quote after `size `.
        assert_eq!(d.start, 31);
        assert!(d.rendered.contains('^'));
        assert!(check_pattern("[ipv4-addr:value = '198.51.100.1']").valid);
    }

    #[test]
    fn a_new_version_is_always_later() {
        let before = Timestamp::parse("2030-01-01T00:00:00.123456Z").unwrap();
        let now = Timestamp::parse("2025-01-01T00:00:00Z").unwrap();
        let next = next_modified(now, Some(before));
        assert!(next > before);
        assert_eq!(millis_text(next), "2030-01-01T00:00:00.124Z");
        let later = Timestamp::parse("2031-01-01T00:00:00.5Z").unwrap();
        assert_eq!(next_modified(later, Some(before)), later);
        assert_eq!(millis_text(later), "2031-01-01T00:00:00.500Z");
    }
}
