//! The community's structure, for the instance's administrators: organisations, sharing
//! groups and their members, collections.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kawal_core::{NewCollectionRequest, Organisation, Writers};
use stix::Tlp;

use super::{admin_chrome, instance_only, name_of, org_names, respond, AdminChrome, Outcome};
use crate::console::session::{Form, Viewer};
use crate::console::{short_time, tlp_badge, tlp_choices, Choice, Chrome, PageError};
use crate::AppState;

pub(crate) struct OrgRow {
    pub name: String,
    pub country: String,
    pub identity: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin_organisations.html")]
struct OrganisationsPage {
    chrome: Chrome,
    admin: AdminChrome,
    orgs: Vec<OrgRow>,
}

async fn organisations_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let (chrome, mut admin, scope) = admin_chrome(state, viewer, "/admin/organisations").await?;
    instance_only(scope, "Organisations")?;
    let who = viewer.principal.clone();
    let orgs = state.blocking(move |ex| ex.orgs(&who)).await?;
    let status = outcome.apply(&mut admin);
    let page = OrganisationsPage {
        chrome,
        admin,
        orgs: orgs
            .into_iter()
            .map(|o| OrgRow {
                country: o.country.unwrap_or_default(),
                identity: o.identity_id,
                created: short_time(o.created),
                name: o.name,
            })
            .collect(),
    };
    Ok(respond(status, &page))
}

pub(crate) async fn organisations(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    organisations_page(&state, &viewer, Outcome::Shown).await
}

pub(crate) async fn add_organisation(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let name = form.text("name").unwrap_or_default();
    let country = form.text("country").map(|c| c.to_ascii_uppercase());
    let who = viewer.principal.clone();
    let added = state
        .blocking(move |ex| ex.add_org(&who, &name, country.as_deref()))
        .await;
    let outcome = match added {
        Ok(org) => Outcome::Done(format!("Organisation {} was added.", org.name)),
        Err(e) => Outcome::failed(e),
    };
    organisations_page(&state, &viewer, outcome).await
}

pub(crate) struct GroupRow {
    pub name: String,
    pub members: Vec<String>,
    /// Organisations not yet members, which the members form offers.
    pub others: Vec<String>,
    /// The group of a case, which grows only when the case's owner shares it.
    pub case: bool,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage {
    chrome: Chrome,
    admin: AdminChrome,
    groups: Vec<GroupRow>,
    orgs: Vec<String>,
}

async fn groups_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let (chrome, mut admin, _) = admin_chrome(state, viewer, "/admin/groups").await?;
    let who = viewer.principal.clone();
    let (groups, orgs) = state
        .blocking(move |ex| Ok((ex.groups(&who)?, ex.orgs(&who)?)))
        .await?;
    let names = org_names(&orgs);
    let status = outcome.apply(&mut admin);
    let page = GroupsPage {
        chrome,
        admin,
        groups: groups
            .into_iter()
            .map(|g| GroupRow {
                case: g.name.starts_with("case:"),
                members: g.members.iter().map(|m| name_of(&names, *m)).collect(),
                others: orgs
                    .iter()
                    .filter(|o| !g.members.contains(&o.id))
                    .map(|o| o.name.clone())
                    .collect(),
                name: g.name,
            })
            .collect(),
        orgs: orgs.into_iter().map(|o| o.name).collect(),
    };
    Ok(respond(status, &page))
}

pub(crate) async fn groups(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    groups_page(&state, &viewer, Outcome::Shown).await
}

pub(crate) async fn add_group(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let name = form.text("name").unwrap_or_default();
    let members = form.all("member");
    let who = viewer.principal.clone();
    let added = state
        .blocking(move |ex| ex.add_group(&who, &name, &members))
        .await;
    let outcome = match added {
        Ok(group) => Outcome::Done(format!("Sharing group {} was added.", group.name)),
        Err(e) => Outcome::failed(e),
    };
    groups_page(&state, &viewer, outcome).await
}

pub(crate) async fn add_members(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let group = form.text("group").unwrap_or_default();
    let members = form.all("member");
    let who = viewer.principal.clone();
    let added = state
        .blocking(move |ex| ex.add_group_members(&who, &group, &members))
        .await;
    let outcome = match added {
        Ok(group) => Outcome::Done(format!(
            "Sharing group {} now has {} members.",
            group.name,
            group.members.len()
        )),
        Err(e) => Outcome::failed(e),
    };
    groups_page(&state, &viewer, outcome).await
}

pub(crate) struct CollectionRow {
    pub id: String,
    pub title: String,
    pub group: String,
    pub writers: String,
    pub tlp_class: String,
    pub tlp_label: String,
    pub public: bool,
    pub case: bool,
}

#[derive(Template)]
#[template(path = "admin_collections.html")]
struct CollectionsPage {
    chrome: Chrome,
    admin: AdminChrome,
    collections: Vec<CollectionRow>,
    groups: Vec<String>,
    orgs: Vec<String>,
    tlps: Vec<Choice>,
}

async fn collections_page(
    state: &AppState,
    viewer: &Viewer,
    outcome: Outcome,
) -> Result<Response, PageError> {
    let (chrome, mut admin, _) = admin_chrome(state, viewer, "/admin/collections").await?;
    let who = viewer.principal.clone();
    let (collections, groups, orgs) = state
        .blocking(move |ex| {
            Ok((
                ex.administered_collections(&who)?,
                ex.groups(&who)?,
                ex.orgs(&who)?,
            ))
        })
        .await?;
    let names = org_names(&orgs);
    let status = outcome.apply(&mut admin);
    let group_name = |id| {
        groups
            .iter()
            .find(|g| g.id == id)
            .map(|g| g.name.clone())
            .unwrap_or_default()
    };
    let page = CollectionsPage {
        chrome,
        admin,
        collections: collections
            .into_iter()
            .map(|c| {
                let (tlp_class, tlp_label) = tlp_badge(c.default_tlp);
                let group = group_name(c.group);
                CollectionRow {
                    case: group.starts_with("case:"),
                    writers: match &c.writers {
                        Writers::AllMembers => "all members".to_owned(),
                        Writers::Only(ids) => ids
                            .iter()
                            .map(|id| name_of(&names, *id))
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                    id: c.id,
                    title: c.title,
                    group,
                    tlp_class,
                    tlp_label,
                    public: c.public,
                }
            })
            .collect(),
        groups: groups
            .iter()
            .filter(|g| !g.name.starts_with("case:"))
            .map(|g| g.name.clone())
            .collect(),
        orgs: orgs.iter().map(|o: &Organisation| o.name.clone()).collect(),
        tlps: tlp_choices(Tlp::Amber),
    };
    Ok(respond(status, &page))
}

pub(crate) async fn collections(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    collections_page(&state, &viewer, Outcome::Shown).await
}

pub(crate) async fn add_collection(
    State(state): State<AppState>,
    viewer: Viewer,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Form::parse(&body);
    viewer.check_form(&form)?;
    let default_tlp = match form.get("default_tlp").unwrap_or("amber").parse::<Tlp>() {
        Ok(tlp) => tlp,
        Err(e) => {
            let outcome = Outcome::Failed(StatusCode::BAD_REQUEST, format!("Default TLP: {e}"));
            return collections_page(&state, &viewer, outcome).await;
        }
    };
    let writers = form.all("writer");
    let request = NewCollectionRequest {
        title: form.text("title").unwrap_or_default(),
        description: form.text("description"),
        group: form.text("group").unwrap_or_default(),
        // No writer ticked: every member of the group writes.
        writers: (!writers.is_empty()).then_some(writers),
        default_tlp,
        public: form.get("public") == Some("on"),
    };
    let who = viewer.principal.clone();
    let added = state
        .blocking(move |ex| ex.add_collection(&who, &request))
        .await;
    let outcome = match added {
        Ok(c) => Outcome::Done(format!("Collection {} was added ({}).", c.title, c.id)),
        Err(e) => Outcome::failed(e),
    };
    collections_page(&state, &viewer, outcome).await
}
