//! The exchange's operations on cases. Each case lives in a collection of its own, made with
//! it: its sharing group starts as the owner alone and grows when the owner shares the case,
//! and only the owner writes there; partners contribute through
//! [`crate::policy::may_contribute`]. Every object is written through
//! [`Exchange::add_objects`] and read through [`Exchange::page`], so validation, the access
//! policy, the transparency log and the audit trail apply as to any content.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;
use serde_json::{json, Value};
use stix::{Timestamp, Tlp};

use super::evidence::{self, Evidence, EvidenceObjects, Upload};
use super::metrics::{self, CaseRecord, Metrics};
use super::timeline::{self, CaseObject, Entry, Link};
use super::{
    contribution_refusal, incident_object, link_object, new_id, next_version, note_object,
    read_case, CaseFields, CaseState, CaseStatus, Severity, Task, TaskStatus, CASE_EXTENSION,
    LINKABLE, TASK_TYPE,
};
use crate::exchange::{Error, Exchange, ListQuery, Result, VersionSelect};
use crate::model::{
    Collection, NewVersion, OrgId, Organisation, Principal, StoredVersion, Writers,
};
use crate::policy;
use crate::store::{EvidenceRecord, NewCollection, Scan};

/// What a new case says about itself.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub name: String,
    pub description: Option<String>,
    pub fields: CaseFields,
    /// The TLP of the case and, unless they say otherwise, of its contributions; AMBER when
    /// not given.
    pub tlp: Option<Tlp>,
}

/// Changes to a case's properties; each given field replaces the current value.
#[derive(Debug, Clone, Default)]
pub struct CaseUpdate {
    pub status: Option<CaseStatus>,
    pub severity: Option<Severity>,
    pub category: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub affected_organisation_refs: Option<Vec<String>>,
    pub affected_assets: Option<Vec<String>>,
    pub assignee_refs: Option<Vec<String>>,
    pub assignee_users: Option<Vec<String>>,
    pub due: Option<String>,
}

/// Whom a case is shared with, and how.
#[derive(Debug, Clone)]
pub struct Share {
    /// Organisations, by name.
    pub organisations: Vec<String>,
    /// Sharing groups whose members join the case, by name; their members at this moment.
    pub groups: Vec<String>,
    pub tlp: Tlp,
    /// Whether the partners may contribute.
    pub contributions: bool,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub name: String,
    pub description: Option<String>,
    /// The owning organisation's name; the caller's own when not given.
    pub owner: Option<String>,
    pub due: Option<String>,
    pub tlp: Option<Tlp>,
    pub recipients: Vec<String>,
    /// The playbook step it comes from, as `<playbook id>/<step id>`.
    pub playbook_step: Option<String>,
}

/// Alerts to escalate into a case: a new one (`new`), or the existing `case`.
#[derive(Debug, Clone)]
pub struct EscalateRequest {
    pub alerts: Vec<String>,
    pub case: Option<String>,
    pub new: Option<NewCase>,
}

/// A case as one reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub state: CaseState,
    /// The collection holding the case, for TAXII clients.
    pub collection: String,
    /// The TLP of the incident's newest readable version.
    pub tlp: Tlp,
    /// The organisation that opened the case.
    pub owner: String,
    /// The organisations the case is shared with, the owner included.
    pub organisations: Vec<String>,
    /// Whether the reader's organisation owns the case.
    pub is_owner: bool,
    /// Whether the reader's organisation may add contributions.
    pub can_contribute: bool,
    pub timeline: Vec<Entry>,
    pub tasks: Vec<Task>,
    pub links: Vec<Link>,
    /// The evidence files the reader may read, fetched from `/api/evidence/<sha256>`.
    pub evidence: Vec<Evidence>,
}

/// One line of the list of cases.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    #[serde(flatten)]
    pub state: CaseState,
    pub collection: String,
    pub tlp: Tlp,
    pub owner: String,
}

/// What an evidence upload stored.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceAdded {
    pub sha256: String,
    pub artifact: String,
    pub file: String,
    /// The link from the incident, when the case had none to this artifact yet.
    pub link: Option<String>,
    /// Where the bytes are fetched from.
    pub url: String,
}

/// Evidence bytes a reader may fetch, and how to serve them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    pub sha256: String,
    /// From the artifact; `application/octet-stream` when it names none.
    pub mime_type: String,
    /// The name of the upload, from the file object naming the artifact.
    pub name: Option<String>,
}

/// Something that happened to a case, for its webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEventKind {
    Created,
    Shared,
    Status,
    Contribution,
    TaskOverdue,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseEvent {
    /// A fresh UUID: receivers recognise a redelivery by it.
    pub id: String,
    pub event: CaseEventKind,
    pub case: String,
    /// The object whose new version is the event.
    pub object: String,
    pub at: Timestamp,
    /// The organisations that may read that version, whose webhooks receive the event.
    #[serde(skip)]
    pub audience: Vec<OrgId>,
}

/// The newest version of each of the case's incident and where it lives.
struct Located {
    collection: Collection,
    /// Every stored version of the incident, with content, oldest first.
    versions: Vec<StoredVersion>,
}

impl Located {
    fn newest(&self) -> Option<&StoredVersion> {
        self.versions.last()
    }

    fn owner(&self) -> Option<OrgId> {
        self.versions.first().map(|v| v.producer)
    }
}

fn is_case_incident(new: &NewVersion) -> bool {
    new.object.type_name == "incident" && new.object.raw().contains(CASE_EXTENSION)
}

fn envelope(objects: &[String]) -> String {
    format!("{{\"objects\":[{}]}}", objects.join(","))
}

pub(super) fn writing_org(who: &Principal) -> Result<OrgId> {
    match (who.org(), who.role()) {
        (Some(org), Some(role)) if role.writes_content() => Ok(org),
        (Some(_), Some(role)) => Err(Error::Forbidden(format!(
            "role `{role}` may not work on cases; use an admin or analyst token"
        ))),
        _ => Err(Error::Unauthenticated(
            "cases are worked on with an organisation's token".to_owned(),
        )),
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(Error::BadRequest(
            "a case's name must be 1 to 200 characters".to_owned(),
        ));
    }
    Ok(())
}

fn check_incident_id(id: &str) -> Result<()> {
    match stix::parse_id(id) {
        Ok(("incident", _)) => Ok(()),
        _ => Err(Error::BadRequest(format!(
            "`{id}` is not a case id; a case is named by its incident's id (incident--<UUID>)"
        ))),
    }
}

impl Exchange {
    // ---- the write rule for partners ------------------------------------------------------

    /// All versions, with content, of the case incident a collection holds, oldest first.
    fn case_incident(&self, collection: &str) -> Result<Option<(String, Vec<StoredVersion>)>> {
        let scan = Scan {
            types: vec!["incident".to_owned()],
            batch: 1_000,
            with_content: true,
            ..Scan::default()
        };
        let mut cursor = None;
        let mut found: Option<(String, Vec<StoredVersion>)> = None;
        loop {
            let batch = self.store().scan(collection, cursor, &scan)?;
            let exhausted = batch.len() < scan.batch;
            for version in batch {
                cursor = Some(version.date_added);
                let is_case = version
                    .raw
                    .as_deref()
                    .is_some_and(|raw| raw.contains(CASE_EXTENSION));
                match &mut found {
                    Some((id, versions)) if *id == version.id => versions.push(version),
                    None if is_case => found = Some((version.id.clone(), vec![version])),
                    _ => {}
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(found.map(|(id, mut versions)| {
            versions.sort_by_key(|v| v.version);
            (id, versions)
        }))
    }

    /// When the collection holds a case whose owner allows contributions and the principal may
    /// contribute to it: the incident and the TLP contributions may not go below.
    pub(crate) fn contribution_target(
        &self,
        who: &Principal,
        collection: &Collection,
    ) -> Result<Option<(String, Tlp)>> {
        if !self.store().case_collections()?.contains(&collection.id) {
            return Ok(None);
        }
        let Some((incident, versions)) = self.case_incident(&collection.id)? else {
            return Ok(None);
        };
        let Some(newest) = versions.last() else {
            return Ok(None);
        };
        let open = newest
            .raw
            .as_deref()
            .and_then(read_case)
            .is_some_and(|c| c.fields.contributions);
        let readable = versions
            .iter()
            .rev()
            .find(|v| policy::may_read(who.org(), collection, v));
        Ok(readable
            .filter(|v| policy::may_contribute(who, collection, v, open))
            .map(|_| (incident, policy::effective_tlp(collection, newest))))
    }

    /// Why a partner's write to a case may not be stored, if it may not
    /// ([`contribution_refusal`]).
    pub(crate) fn case_contribution_refusal(
        &self,
        collection: &Collection,
        producer: OrgId,
        identity: &str,
        incident: &str,
        floor: Tlp,
        objects: &[NewVersion],
    ) -> Result<Option<String>> {
        let mut made_by_other = HashSet::new();
        for new in objects {
            if self
                .store()
                .versions(&collection.id, &new.object.id, false)?
                .iter()
                .any(|v| v.producer != producer)
            {
                made_by_other.insert(new.object.id.clone());
            }
        }
        Ok(contribution_refusal(
            objects,
            identity,
            incident,
            floor,
            collection.default_tlp,
            |id| made_by_other.contains(id),
        ))
    }

    /// A collection that receives a case's incident (a case imported from another instance)
    /// is marked as holding a case, before the write, so that a stored case is never missed.
    pub(crate) fn note_case_collection(
        &self,
        collection: &Collection,
        objects: &[NewVersion],
    ) -> Result<()> {
        if objects.iter().any(is_case_incident)
            && !self.store().case_collections()?.contains(&collection.id)
        {
            self.store().mark_case_collection(&collection.id)?;
        }
        Ok(())
    }

    // ---- finding and reading cases ----------------------------------------------------------

    /// The case collections the principal may see.
    fn visible_case_collections(&self, who: &Principal) -> Result<Vec<Collection>> {
        let mut visible = Vec::new();
        for id in self.store().case_collections()? {
            if let Some(c) = self.store().collection(&id)? {
                if policy::may_see_collection(who, &c) {
                    visible.push(c);
                }
            }
        }
        Ok(visible)
    }

    /// The case if the principal may read a version of its incident; unknown and unreadable
    /// cases look the same.
    fn locate(&self, who: &Principal, id: &str) -> Result<Located> {
        check_incident_id(id)?;
        for collection in self.visible_case_collections(who)? {
            let versions = self.store().versions(&collection.id, id, true)?;
            if versions
                .iter()
                .any(|v| policy::may_read(who.org(), &collection, v))
            {
                return Ok(Located {
                    collection,
                    versions,
                });
            }
        }
        self.record(who, "read", &format!("case/{id}"), "not found");
        Err(Error::NotFound(format!("no case `{id}` is visible to you")))
    }

    /// Every version of every object in the collection that the principal may read.
    fn readable_versions(
        &self,
        who: &Principal,
        collection: &Collection,
        types: &[&str],
    ) -> Result<Vec<StoredVersion>> {
        let mut query = ListQuery {
            versions: VersionSelect::all(),
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..ListQuery::default()
        };
        let mut all = Vec::new();
        loop {
            let page = self.page(who.org(), collection, &query, true)?;
            all.extend(page.items);
            match page.next {
                Some(next) => query.next = Some(next),
                None => return Ok(all),
            }
        }
    }

    pub(super) fn org_names(&self) -> Result<BTreeMap<OrgId, Organisation>> {
        Ok(self
            .store()
            .orgs()?
            .into_iter()
            .map(|o| (o.id, o))
            .collect())
    }

    /// The case with its timeline, tasks, links and audience, as the principal may read it.
    pub fn case(&self, who: &Principal, id: &str) -> Result<CaseView> {
        let located = self.locate(who, id)?;
        let collection = &located.collection;
        let orgs = self.org_names()?;
        let name = |org: OrgId| orgs.get(&org).map(|o| o.name.clone()).unwrap_or_default();
        let objects: Vec<CaseObject> = self
            .readable_versions(who, collection, &[])?
            .into_iter()
            .map(|v| CaseObject {
                tlp: policy::effective_tlp(collection, &v),
                organisation: name(v.producer),
                id: v.id,
                type_name: v.type_name,
                version: v.version,
                date_added: v.date_added,
                raw: v.raw.unwrap_or_default(),
            })
            .collect();
        let assembled = timeline::assemble(objects);
        let newest = located
            .versions
            .iter()
            .rev()
            .find(|v| policy::may_read(who.org(), collection, v));
        let (Some(state), Some(newest)) = (assembled.history.last().cloned(), newest) else {
            return Err(Error::NotFound(format!("no case `{id}` is visible to you")));
        };
        let owner = located.owner().unwrap_or_default();
        let is_owner = who.org() == Some(owner);
        let can_contribute = if is_owner {
            policy::may_write(who, collection)
        } else {
            self.contribution_target(who, collection)?.is_some()
        };
        self.record(who, "read", &format!("case/{id}"), "ok");
        Ok(CaseView {
            collection: collection.id.clone(),
            tlp: policy::effective_tlp(collection, newest),
            owner: name(owner),
            organisations: collection.members.iter().map(|m| name(*m)).collect(),
            is_owner,
            can_contribute,
            state,
            timeline: assembled.timeline,
            tasks: assembled.tasks,
            links: assembled.links,
            evidence: assembled.evidence,
        })
    }

    /// The cases the principal may read, newest readable version of each, most recently
    /// changed first.
    pub fn cases(&self, who: &Principal) -> Result<Vec<CaseSummary>> {
        let orgs = self.org_names()?;
        let mut cases = Vec::new();
        for collection in self.visible_case_collections(who)? {
            let query = ListQuery {
                types: vec!["incident".to_owned()],
                ..ListQuery::default()
            };
            let page = self.page(who.org(), &collection, &query, true)?;
            for v in page.items {
                let Some(state) = v.raw.as_deref().and_then(read_case) else {
                    continue;
                };
                let owner = self
                    .store()
                    .versions(&collection.id, &v.id, false)?
                    .first()
                    .and_then(|first| orgs.get(&first.producer))
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                cases.push(CaseSummary {
                    tlp: policy::effective_tlp(&collection, &v),
                    collection: collection.id.clone(),
                    owner,
                    state,
                });
            }
        }
        cases.sort_by_key(|c| std::cmp::Reverse(c.state.modified));
        self.record(who, "read", "cases", &format!("{} cases", cases.len()));
        Ok(cases)
    }

    /// Response metrics over the cases the principal may read, from their incidents' readable
    /// histories.
    pub fn case_metrics(&self, who: &Principal) -> Result<Metrics> {
        let orgs = self.org_names()?;
        let mut records = Vec::new();
        for collection in self.visible_case_collections(who)? {
            let versions = self.readable_versions(who, &collection, &["incident"])?;
            let mut history: Vec<(Timestamp, OrgId, CaseState)> = versions
                .iter()
                .filter_map(|v| {
                    let state = read_case(v.raw.as_deref()?)?;
                    Some((v.version, v.producer, state))
                })
                .collect();
            history.sort_by_key(|(version, _, _)| *version);
            let (Some((_, owner, _)), Some((_, _, newest))) = (history.first(), history.last())
            else {
                continue;
            };
            let (owner, newest) = (*owner, newest.clone());
            records.push(CaseRecord {
                organisation: orgs.get(&owner).map(|o| o.name.clone()).unwrap_or_default(),
                category: newest.fields.category.clone(),
                countries: collection
                    .members
                    .iter()
                    .filter_map(|m| orgs.get(m)?.country.clone())
                    .collect::<BTreeSet<_>>(),
                history: history.into_iter().map(|(_, _, s)| s).collect(),
            });
        }
        Ok(metrics::compute(&records))
    }

    /// The case as a STIX 2.1 bundle: the extension definitions it uses, then every version of
    /// its objects the principal may read, in the order they were stored. TLP:RED versions are
    /// left out: RED is never relayed.
    pub fn case_bundle(&self, who: &Principal, id: &str) -> Result<String> {
        let located = self.locate(who, id)?;
        let collection = &located.collection;
        let mut objects = super::extension_definitions();
        // A case imported from another instance holds the definitions already.
        let definitions: HashSet<String> = objects.iter().cloned().collect();
        let mut left_out = 0;
        for v in self.readable_versions(who, collection, &[])? {
            if policy::effective_tlp(collection, &v) == Tlp::Red {
                left_out += 1;
            } else if let Some(raw) = v.raw.filter(|raw| !definitions.contains(raw)) {
                objects.push(raw);
            }
        }
        self.record(
            who,
            "export",
            &format!("case/{id}"),
            &format!("{} objects, {left_out} RED left out", objects.len()),
        );
        Ok(format!(
            "{{\"type\":\"bundle\",\"id\":\"bundle--{}\",\"objects\":[{}]}}",
            uuid::Uuid::new_v4(),
            objects.join(",")
        ))
    }

    // ---- writing ----------------------------------------------------------------------------

    /// Writes the objects through ingest; any refusal fails the whole call, naming it.
    pub(super) fn write_case_objects(
        &self,
        who: &Principal,
        collection: &str,
        objects: &[String],
        recipients: &[String],
    ) -> Result<()> {
        let status = self.add_objects(who, collection, &envelope(objects), recipients)?;
        if status.failure_count > 0 {
            let reasons: Vec<String> = status
                .failures
                .iter()
                .filter_map(|f| f.message.clone())
                .collect();
            return Err(Error::BadRequest(reasons.join("; ")));
        }
        Ok(())
    }

    pub(super) fn own_identity(&self, org: OrgId) -> Result<String> {
        self.store()
            .org(org)?
            .map(|o| o.identity_id)
            .ok_or_else(|| Error::NotFound(format!("organisation {org} does not exist")))
    }

    /// Opens a case: its collection and sharing group (the owner alone), then the incident.
    pub fn open_case(&self, who: &Principal, new: &NewCase) -> Result<CaseView> {
        let org = writing_org(who)?;
        check_name(&new.name)?;
        new.fields.check().map_err(Error::BadRequest)?;
        let identity = self.own_identity(org)?;
        let tlp = new.tlp.unwrap_or(Tlp::Amber);
        let uuid = uuid::Uuid::new_v4();
        let id = format!("incident--{uuid}");
        let group = self.store().create_group(&format!("case:{uuid}"), &[org])?;
        let collection = self.store().create_collection(&NewCollection {
            id: uuid::Uuid::new_v4().to_string(),
            title: format!("Case: {}", new.name.trim()),
            description: Some(format!("The objects of case {id}")),
            group: group.id,
            writers: Writers::Only(vec![org]),
            default_tlp: tlp,
            public: false,
        })?;
        self.store().mark_case_collection(&collection.id)?;
        self.record_admin(who, "case.open", &collection.id, &id)?;
        let now = Timestamp::now();
        let state = CaseState {
            id: id.clone(),
            name: new.name.trim().to_owned(),
            description: new.description.clone(),
            created: now,
            modified: now,
            created_by_ref: Some(identity.clone()),
            fields: CaseFields {
                status: CaseStatus::New,
                ..new.fields.clone()
            },
        };
        let incident = incident_object(&state, &identity, tlp)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        self.write_case_objects(who, &collection.id, &[incident], &[])?;
        self.case(who, &id)
    }

    /// The located case, if the principal's organisation owns it and may still write there.
    fn owned(&self, who: &Principal, id: &str) -> Result<(Located, CaseState, Tlp, String)> {
        let org = writing_org(who)?;
        let located = self.locate(who, id)?;
        if located.owner() != Some(org) || !policy::may_write(who, &located.collection) {
            return Err(Error::Forbidden(format!(
                "only the organisation that opened case `{id}` may change it"
            )));
        }
        let newest = located
            .newest()
            .ok_or_else(|| Error::NotFound(format!("no case `{id}` is visible to you")))?;
        let state = newest
            .raw
            .as_deref()
            .and_then(read_case)
            .ok_or_else(|| Error::NotFound(format!("no case `{id}` is visible to you")))?;
        let tlp = policy::effective_tlp(&located.collection, newest);
        let identity = self.own_identity(org)?;
        Ok((located, state, tlp, identity))
    }

    /// Recipients of the owner's RED versions: every organisation the case is shared with.
    fn partners(&self, collection: &Collection, owner: OrgId) -> Result<Vec<String>> {
        let orgs = self.org_names()?;
        Ok(collection
            .members
            .iter()
            .filter(|m| **m != owner)
            .filter_map(|m| orgs.get(m).map(|o| o.name.clone()))
            .collect())
    }

    fn new_incident_version(
        &self,
        who: &Principal,
        located: &Located,
        mut state: CaseState,
        identity: &str,
        tlp: Tlp,
    ) -> Result<()> {
        state.modified = next_version(state.modified, Timestamp::now());
        let incident =
            incident_object(&state, identity, tlp).map_err(|e| Error::BadRequest(e.to_string()))?;
        let recipients = if tlp == Tlp::Red {
            self.partners(&located.collection, located.owner().unwrap_or_default())?
        } else {
            Vec::new()
        };
        self.write_case_objects(who, &located.collection.id, &[incident], &recipients)
    }

    /// Changes the case's status (along the workflow) or other properties, as a new version of
    /// its incident.
    pub fn update_case(&self, who: &Principal, id: &str, update: &CaseUpdate) -> Result<CaseView> {
        let (located, mut state, tlp, identity) = self.owned(who, id)?;
        if let Some(to) = update.status {
            state
                .fields
                .status
                .transition(to)
                .map_err(Error::Conflict)?;
            state.fields.status = to;
        }
        let f = &mut state.fields;
        if let Some(v) = update.severity {
            f.severity = v;
        }
        if let Some(v) = &update.category {
            f.category = v.clone();
        }
        if let Some(v) = &update.affected_organisation_refs {
            f.affected_organisation_refs = v.clone();
        }
        if let Some(v) = &update.affected_assets {
            f.affected_assets = v.clone();
        }
        if let Some(v) = &update.assignee_refs {
            f.assignee_refs = v.clone();
        }
        if let Some(v) = &update.assignee_users {
            f.assignee_users = v.clone();
        }
        if let Some(v) = &update.due {
            f.due = Some(v.clone());
        }
        f.check().map_err(Error::BadRequest)?;
        if let Some(name) = &update.name {
            check_name(name)?;
            state.name = name.trim().to_owned();
        }
        if let Some(d) = &update.description {
            state.description = Some(d.clone());
        }
        self.new_incident_version(who, &located, state, &identity, tlp)?;
        self.case(who, id)
    }

    /// Shares the case with organisations and the members of sharing groups, at a TLP: they
    /// join the case's sharing group, and a new version of the incident carries the TLP (at
    /// RED, addressed to every partner) and whether they may contribute. The owner's earlier
    /// contributions become readable to them as their own markings allow; what the owner
    /// marked RED for itself stays its own.
    pub fn share_case(&self, who: &Principal, id: &str, share: &Share) -> Result<CaseView> {
        let (located, mut state, _, identity) = self.owned(who, id)?;
        let uuid = id.trim_start_matches("incident--");
        let group = self
            .store()
            .groups()?
            .into_iter()
            .find(|g| g.id == located.collection.group)
            .filter(|g| g.name == format!("case:{uuid}"))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "case `{id}` lives in collection `{}`, whose sharing group the instance's administrators manage; share it by having them add organisations there",
                    located.collection.id
                ))
            })?;
        let mut joining = BTreeSet::new();
        for name in &share.organisations {
            let org = self.store().org_by_name(name)?.ok_or_else(|| {
                Error::BadRequest(format!("organisation `{name}` does not exist"))
            })?;
            joining.insert(org.id);
        }
        for name in &share.groups {
            let g = self
                .store()
                .group_by_name(name)?
                .filter(|g| !g.name.starts_with("case:"))
                .ok_or_else(|| {
                    Error::BadRequest(format!("sharing group `{name}` does not exist"))
                })?;
            joining.extend(g.members);
        }
        if joining.is_empty() && share.contributions == state.fields.contributions {
            return Err(Error::BadRequest(
                "name the organisations or sharing groups to share the case with".to_owned(),
            ));
        }
        let joining: Vec<OrgId> = joining.into_iter().collect();
        self.store().add_group_members(group.id, &joining)?;
        self.record_admin(
            who,
            "case.share",
            id,
            &format!(
                "{} organisations at TLP:{}",
                joining.len(),
                share.tlp.as_str()
            ),
        )?;
        let located = self.locate(who, id)?;
        state.fields.contributions = share.contributions;
        self.new_incident_version(who, &located, state, &identity, share.tlp)?;
        self.case(who, id)
    }

    /// Adds a note to the case, as the owner or as a partner allowed to contribute; marked
    /// with the case's TLP unless `tlp` says otherwise (RED addressed to `recipients`).
    pub fn add_case_note(
        &self,
        who: &Principal,
        id: &str,
        abstract_: Option<&str>,
        content: &str,
        tlp: Option<Tlp>,
        recipients: &[String],
    ) -> Result<String> {
        let org = writing_org(who)?;
        if content.trim().is_empty() {
            return Err(Error::BadRequest("a note needs content".to_owned()));
        }
        let located = self.locate(who, id)?;
        let tlp = tlp.unwrap_or_else(|| self.case_tlp(&located));
        let note = note_object(
            id,
            &self.own_identity(org)?,
            abstract_,
            content,
            tlp,
            Timestamp::now(),
        );
        let note_id = object_id(&note);
        self.write_case_objects(who, &located.collection.id, &[note], recipients)?;
        Ok(note_id)
    }

    fn case_tlp(&self, located: &Located) -> Tlp {
        located
            .newest()
            .map_or(located.collection.default_tlp, |v| {
                policy::effective_tlp(&located.collection, v)
            })
    }

    /// Adds tasks to the case, in order after those the principal may read.
    pub fn add_case_tasks(
        &self,
        who: &Principal,
        id: &str,
        tasks: &[NewTask],
    ) -> Result<Vec<String>> {
        let org = writing_org(who)?;
        let located = self.locate(who, id)?;
        let identity = self.own_identity(org)?;
        let after = self
            .readable_versions(who, &located.collection, &[TASK_TYPE])?
            .iter()
            .filter_map(|v| Task::read(v.raw.as_deref()?))
            .map(|t| t.sequence)
            .max()
            .unwrap_or(0);
        let now = Timestamp::now();
        let (mut objects, mut ids, mut recipients) = (Vec::new(), Vec::new(), BTreeSet::new());
        for (sequence, new) in (after + 1..).zip(tasks) {
            if new.name.trim().is_empty() || new.name.len() > 300 {
                return Err(Error::BadRequest(
                    "a task's name must be 1 to 300 characters".to_owned(),
                ));
            }
            if let Some(due) = &new.due {
                Timestamp::parse(due).map_err(|e| Error::BadRequest(format!("`due`: {e}")))?;
            }
            let owner_ref = match &new.owner {
                Some(name) => self
                    .store()
                    .org_by_name(name)?
                    .filter(|o| located.collection.members.contains(&o.id))
                    .map(|o| o.identity_id)
                    .ok_or_else(|| {
                        Error::BadRequest(format!(
                            "task owner `{name}` is not an organisation the case is shared with"
                        ))
                    })?,
                None => identity.clone(),
            };
            let task = Task {
                id: new_id(TASK_TYPE),
                created: now.to_string(),
                modified: now.to_string(),
                created_by_ref: identity.clone(),
                incident_ref: id.to_owned(),
                name: new.name.trim().to_owned(),
                description: new.description.clone(),
                status: TaskStatus::Open,
                owner_ref,
                due: new.due.clone(),
                sequence,
                playbook_step: new.playbook_step.clone(),
            };
            ids.push(task.id.clone());
            recipients.extend(new.recipients.iter().cloned());
            objects.push(
                task.to_object(new.tlp.unwrap_or_else(|| self.case_tlp(&located)))
                    .map_err(|e| Error::BadRequest(e.to_string()))?,
            );
        }
        let recipients: Vec<String> = recipients.into_iter().collect();
        self.write_case_objects(who, &located.collection.id, &objects, &recipients)?;
        Ok(ids)
    }

    /// Moves a task the principal's organisation made to a new status, as a new version.
    pub fn set_task_status(
        &self,
        who: &Principal,
        id: &str,
        task_id: &str,
        status: TaskStatus,
    ) -> Result<()> {
        let org = writing_org(who)?;
        let located = self.locate(who, id)?;
        let collection = &located.collection;
        let newest = self
            .store()
            .versions(&collection.id, task_id, true)?
            .into_iter()
            .filter(|v| policy::may_read(who.org(), collection, v))
            .max_by_key(|v| v.version)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "case `{id}` has no task `{task_id}` visible to you"
                ))
            })?;
        let mut task = newest.raw.as_deref().and_then(Task::read).ok_or_else(|| {
            Error::NotFound(format!(
                "case `{id}` has no task `{task_id}` visible to you"
            ))
        })?;
        if newest.producer != org {
            return Err(Error::Forbidden(format!(
                "task `{task_id}` was made by another organisation; only it updates the task"
            )));
        }
        let previous = Timestamp::parse(&task.modified).unwrap_or(newest.version);
        task.modified = next_version(previous, Timestamp::now()).to_string();
        task.status = status;
        let tlp = policy::effective_tlp(collection, &newest);
        let orgs = self.org_names()?;
        let recipients: Vec<String> = newest
            .recipients
            .iter()
            .filter_map(|r| orgs.get(r).map(|o| o.name.clone()))
            .collect();
        let object = task
            .to_object(tlp)
            .map_err(|e| Error::BadRequest(e.to_string()))?;
        self.write_case_objects(who, &collection.id, &[object], &recipients)
    }

    /// Links an object (an indicator, observed-data, malware, a vulnerability, an identity, a
    /// course of action or evidence) to the case.
    pub fn link_to_case(
        &self,
        who: &Principal,
        id: &str,
        target: &str,
        relationship_type: Option<&str>,
        tlp: Option<Tlp>,
    ) -> Result<String> {
        let org = writing_org(who)?;
        let kind = match stix::parse_id(target) {
            Ok((prefix, _)) => prefix.to_owned(),
            Err(e) => return Err(Error::BadRequest(format!("`target_ref`: {e}"))),
        };
        if !LINKABLE.contains(&kind.as_str()) {
            return Err(Error::BadRequest(format!(
                "`target_ref`: a case links {}; not `{kind}`",
                LINKABLE.join(", ")
            )));
        }
        let located = self.locate(who, id)?;
        let link = link_object(
            id,
            target,
            relationship_type.unwrap_or("related-to"),
            &self.own_identity(org)?,
            tlp.unwrap_or_else(|| self.case_tlp(&located)),
            Timestamp::now(),
        );
        let link_id = object_id(&link);
        self.write_case_objects(who, &located.collection.id, &[link], &[])?;
        Ok(link_id)
    }

    /// Instantiates a CACAO 2.0 playbook on the case (its owner): the playbook is stored as a
    /// `course-of-action` carrying the document ([`super::PLAYBOOK_EXTENSION`]), linked from
    /// the incident, and each of its action steps becomes a task, in workflow order. Returns
    /// the course of action's id and the tasks'.
    pub fn instantiate_playbook(
        &self,
        who: &Principal,
        id: &str,
        document: &str,
    ) -> Result<(String, Vec<String>)> {
        let playbook = super::cacao::parse(document)
            .map_err(|fault| Error::BadRequest(format!("invalid CACAO playbook: {fault}")))?;
        self.instantiate(who, id, &playbook, None)
    }

    /// Instantiates `playbook`; a copy of the library's `template` (its id and TLP) is marked
    /// no less restrictively than the template, and names it.
    pub(super) fn instantiate(
        &self,
        who: &Principal,
        id: &str,
        playbook: &super::cacao::Playbook,
        template: Option<(&str, Tlp)>,
    ) -> Result<(String, Vec<String>)> {
        let (located, _, case_tlp, identity) = self.owned(who, id)?;
        let tlp = template.map_or(case_tlp, |(_, floor)| case_tlp.max(floor));
        let now = Timestamp::now();
        let course_id = new_id("course-of-action");
        let course = super::playbook_object(
            playbook,
            &super::CourseOfAction {
                id: &course_id,
                created: now,
                modified: now,
                created_by: &identity,
                tlp: Some(tlp),
                template_ref: template.map(|(template, _)| template),
            },
        );
        let link = link_object(id, &course_id, "related-to", &identity, tlp, now);
        let recipients = if tlp == Tlp::Red {
            self.partners(&located.collection, located.owner().unwrap_or_default())?
        } else {
            Vec::new()
        };
        self.write_case_objects(who, &located.collection.id, &[course, link], &recipients)?;
        let tasks: Vec<NewTask> = playbook
            .steps
            .iter()
            .map(|step| NewTask {
                name: step.name.clone(),
                description: step.description.clone(),
                owner: None,
                due: None,
                tlp: Some(tlp),
                recipients: recipients.clone(),
                playbook_step: Some(format!("{}/{}", playbook.id, step.id)),
            })
            .collect();
        let ids = self.add_case_tasks(who, id, &tasks)?;
        Ok((course_id, ids))
    }

    /// Adds STIX objects to the case (sightings, evidence, anything its write rules allow),
    /// as a TAXII POST to its collection would; returns the collection with the status.
    pub fn add_to_case(
        &self,
        who: &Principal,
        id: &str,
        body: &str,
        recipients: &[String],
    ) -> Result<(String, crate::exchange::Status)> {
        let located = self.locate(who, id)?;
        let status = self.add_objects(who, &located.collection.id, body, recipients)?;
        Ok((located.collection.id, status))
    }

    // ---- evidence ---------------------------------------------------------------------------

    /// Whether the principal may add evidence to the case (its owner, or a partner allowed to
    /// contribute), asked before the server keeps any bytes, so that no one else fills its
    /// disk. An invisible case is not found.
    pub fn check_evidence_target(&self, who: &Principal, id: &str) -> Result<()> {
        writing_org(who)?;
        let located = self.locate(who, id)?;
        let collection = &located.collection;
        if policy::may_write(who, collection)
            || self.contribution_target(who, collection)?.is_some()
        {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "your organisation may not add evidence to case `{id}`"
            )))
        }
    }

    /// Describes evidence bytes the server keeps (`upload`) in the case: an artifact, the file
    /// naming it and a link from the incident, written as any contribution is (marked with the
    /// case's TLP unless `tlp` says otherwise; RED read by `recipients`), then records that
    /// this upload grants reading the bytes to the readers of that artifact.
    pub fn add_case_evidence(
        &self,
        who: &Principal,
        id: &str,
        upload: &Upload,
        tlp: Option<Tlp>,
        recipients: &[String],
    ) -> Result<EvidenceAdded> {
        let org = writing_org(who)?;
        evidence::check_sha256(&upload.sha256).map_err(Error::BadRequest)?;
        evidence::check_file_name(&upload.file_name).map_err(Error::BadRequest)?;
        let located = self.locate(who, id)?;
        let collection = &located.collection;
        let tlp = tlp.unwrap_or_else(|| self.case_tlp(&located));
        let identity = self.own_identity(org)?;
        let EvidenceObjects {
            artifact_id,
            artifact,
            file_id,
            file,
        } = evidence::evidence_objects(upload, tlp);
        let mut objects = Vec::new();
        // The same bytes are the same artifact (and under the same name, the same file): one
        // another organisation stored here already is named, not stored again, since only its
        // maker adds versions of it.
        for (object_id, raw) in [(&artifact_id, artifact), (&file_id, file)] {
            let made_by_other = self
                .store()
                .versions(&collection.id, object_id, false)?
                .iter()
                .any(|v| v.producer != org);
            if !made_by_other {
                objects.push(raw);
            }
        }
        let linked = self
            .readable_versions(who, collection, &["relationship"])?
            .iter()
            .any(|v| {
                v.raw
                    .as_deref()
                    .is_some_and(|raw| raw.contains(artifact_id.as_str()))
            });
        let link = (!linked).then(|| {
            link_object(
                id,
                &artifact_id,
                "related-to",
                &identity,
                tlp,
                Timestamp::now(),
            )
        });
        let link_id = link.as_deref().map(object_id);
        objects.extend(link);
        if !objects.is_empty() {
            self.write_case_objects(who, &collection.id, &objects, recipients)?;
        }
        self.store().record_evidence(&EvidenceRecord {
            sha256: upload.sha256.clone(),
            collection: collection.id.clone(),
            artifact: artifact_id.clone(),
            file: file_id.clone(),
        })?;
        Ok(EvidenceAdded {
            sha256: upload.sha256.clone(),
            artifact: artifact_id,
            file: file_id,
            link: link_id,
            url: upload.url.clone(),
        })
    }

    /// How to serve the evidence bytes `sha256` to the principal: only when it may read an
    /// artifact naming them that an upload of those very bytes stored (an artifact that merely
    /// names a hash grants nothing), read through [`Exchange::object`] and so
    /// [`policy::may_read`]. Unknown and unreadable evidence look the same.
    pub fn evidence(&self, who: &Principal, sha256: &str) -> Result<EvidenceFile> {
        evidence::check_sha256(sha256).map_err(Error::BadRequest)?;
        let newest = |collection: &str, object: &str| -> Result<Option<StoredVersion>> {
            match self.object(who, collection, object, &ListQuery::default(), true) {
                Ok(page) => Ok(page.items.into_iter().next()),
                Err(Error::NotFound(_) | Error::Unauthenticated(_)) => Ok(None),
                Err(e) => Err(e),
            }
        };
        for record in self.store().evidence(sha256)? {
            let Some(artifact) = newest(&record.collection, &record.artifact)? else {
                continue;
            };
            let Some((named, mime_type)) =
                artifact.raw.as_deref().and_then(evidence::read_artifact)
            else {
                continue;
            };
            if named != sha256 {
                continue;
            }
            let name = newest(&record.collection, &record.file)?
                .and_then(|v| evidence::read_file(v.raw.as_deref()?, "", Tlp::Clear))
                .filter(|f| f.sha256 == sha256)
                .map(|f| f.name);
            self.record(who, "read", &format!("evidence/{sha256}"), "ok");
            return Ok(EvidenceFile {
                sha256: sha256.to_owned(),
                mime_type: mime_type.unwrap_or_else(|| "application/octet-stream".to_owned()),
                name,
            });
        }
        self.record(who, "read", &format!("evidence/{sha256}"), "not found");
        Err(Error::NotFound(format!(
            "no evidence `{sha256}` is visible to you"
        )))
    }

    /// Escalates alerts of the principal's organisation into a new case or one it owns: the
    /// events' observables, one observed-data per alert, one sighting per indicator and a link
    /// from the incident to each indicator.
    pub fn escalate(&self, who: &Principal, request: &EscalateRequest) -> Result<CaseView> {
        let org = writing_org(who)?;
        if request.alerts.is_empty() {
            return Err(Error::BadRequest("name the alerts to escalate".to_owned()));
        }
        let mut alerts = Vec::new();
        for alert_id in &request.alerts {
            let alert = self.store().alert(org, alert_id)?.ok_or_else(|| {
                Error::NotFound(format!("your organisation has no alert `{alert_id}`"))
            })?;
            alerts.push(alert);
        }
        let id = match (&request.case, &request.new) {
            (Some(case), _) => {
                self.owned(who, case)?;
                case.clone()
            }
            (None, new) => {
                let first = &alerts[0];
                let new = new.clone().unwrap_or_else(|| NewCase {
                    name: format!(
                        "Alert on {}",
                        first.indicator_name.as_deref().unwrap_or(&first.indicator)
                    ),
                    description: None,
                    fields: CaseFields {
                        status: CaseStatus::New,
                        severity: Severity::Medium,
                        category: "detection".to_owned(),
                        affected_organisation_refs: Vec::new(),
                        affected_assets: Vec::new(),
                        assignee_refs: Vec::new(),
                        assignee_users: Vec::new(),
                        due: None,
                        contributions: false,
                    },
                    tlp: None,
                });
                self.open_case(who, &new)?.state.id
            }
        };
        let (located, _, case_tlp, identity) = self.owned(who, &id)?;
        let existing: HashSet<String> = self
            .readable_versions(who, &located.collection, &[])?
            .into_iter()
            .map(|v| v.id)
            .collect();
        let now = Timestamp::now();
        let mut objects = Vec::new();
        let mut observables = HashSet::new();
        let mut by_indicator: BTreeMap<String, (Vec<String>, Timestamp, Timestamp)> =
            BTreeMap::new();
        for alert in &alerts {
            let mut refs = Vec::new();
            for object in &alert.objects {
                let Some(oid) = object.get("id").and_then(Value::as_str) else {
                    continue;
                };
                refs.push(oid.to_owned());
                if !existing.contains(oid) && observables.insert(oid.to_owned()) {
                    objects.push(object.to_string());
                }
            }
            let observed_id = new_id("observed-data");
            let mut observed = json!({
                "type": "observed-data", "spec_version": "2.1", "id": observed_id,
                "created": now.to_string(), "modified": now.to_string(),
                "created_by_ref": identity,
                "first_observed": alert.observed.to_string(),
                "last_observed": alert.observed.to_string(),
                "number_observed": 1,
                "object_marking_refs": [case_tlp.marking_ref()],
            });
            if refs.is_empty() {
                continue;
            }
            observed["object_refs"] = json!(refs);
            objects.push(observed.to_string());
            let entry = by_indicator.entry(alert.indicator.clone()).or_insert((
                Vec::new(),
                alert.observed,
                alert.observed,
            ));
            entry.0.push(observed_id);
            entry.1 = entry.1.min(alert.observed);
            entry.2 = entry.2.max(alert.observed);
        }
        for (indicator, (observed, first, last)) in &by_indicator {
            objects.push(
                json!({
                    "type": "sighting", "spec_version": "2.1", "id": new_id("sighting"),
                    "created": now.to_string(), "modified": now.to_string(),
                    "created_by_ref": identity,
                    "sighting_of_ref": indicator,
                    "observed_data_refs": observed,
                    "where_sighted_refs": [identity],
                    "count": observed.len(),
                    "first_seen": first.to_string(),
                    "last_seen": last.to_string(),
                    "object_marking_refs": [case_tlp.marking_ref()],
                })
                .to_string(),
            );
            let linked = self
                .readable_versions(who, &located.collection, &["relationship"])?
                .iter()
                .any(|v| {
                    v.raw
                        .as_deref()
                        .is_some_and(|r| r.contains(indicator.as_str()))
                });
            if !linked {
                objects.push(link_object(
                    &id,
                    indicator,
                    "related-to",
                    &identity,
                    case_tlp,
                    now,
                ));
            }
        }
        let recipients = if case_tlp == Tlp::Red {
            self.partners(&located.collection, org)?
        } else {
            Vec::new()
        };
        self.write_case_objects(who, &located.collection.id, &objects, &recipients)?;
        self.case(who, &id)
    }

    // ---- events ----------------------------------------------------------------------------

    /// The event a new version of a case's object makes, addressed to the organisations that
    /// may read that version; `None` when the case or the object is not visible to `who`.
    pub fn case_event(
        &self,
        who: &Principal,
        case: &str,
        object: &str,
        event: CaseEventKind,
    ) -> Result<Option<CaseEvent>> {
        let Ok(located) = self.locate(who, case) else {
            return Ok(None);
        };
        self.event_in(&located.collection, case, object, event)
    }

    /// The events of a write that stored `ids` in a collection, when the collection holds a
    /// case (none otherwise), whoever wrote and however (TAXII, the REST API, an import): an
    /// incident version whose status differs from the one before it is a `status` event,
    /// anything else a `contribution`.
    pub fn case_write_events(&self, collection_id: &str, ids: &[String]) -> Result<Vec<CaseEvent>> {
        if ids.is_empty()
            || !self
                .store()
                .case_collections()?
                .iter()
                .any(|c| c == collection_id)
        {
            return Ok(Vec::new());
        }
        let (Some(collection), Some((incident, versions))) = (
            self.store().collection(collection_id)?,
            self.case_incident(collection_id)?,
        ) else {
            return Ok(Vec::new());
        };
        let status_of = |v: &StoredVersion| {
            v.raw
                .as_deref()
                .and_then(read_case)
                .map(|c| c.fields.status)
        };
        let status_changed = match versions.as_slice() {
            [.., before, newest] => status_of(before) != status_of(newest),
            _ => false,
        };
        let mut seen = HashSet::new();
        let mut events = Vec::new();
        for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
            let kind = if *id == incident && status_changed {
                CaseEventKind::Status
            } else {
                CaseEventKind::Contribution
            };
            events.extend(self.event_in(&collection, &incident, id, kind)?);
        }
        Ok(events)
    }

    fn event_in(
        &self,
        collection: &Collection,
        case: &str,
        object: &str,
        event: CaseEventKind,
    ) -> Result<Option<CaseEvent>> {
        let Some(newest) = self
            .store()
            .versions(&collection.id, object, false)?
            .into_iter()
            .max_by_key(|v| v.version)
        else {
            return Ok(None);
        };
        let audience = collection
            .members
            .iter()
            .copied()
            .filter(|m| policy::may_read(Some(*m), collection, &newest))
            .collect();
        Ok(Some(CaseEvent {
            id: uuid::Uuid::new_v4().to_string(),
            event,
            case: case.to_owned(),
            object: object.to_owned(),
            at: Timestamp::now(),
            audience,
        }))
    }
}

impl Exchange {
    /// Events for open tasks past their due date, each task once: the server's timer calls
    /// this, and an announced task is remembered in the settings (`case.overdue.<task id>`),
    /// so a restart does not announce it again. Each event goes to the organisations that may
    /// read the task's newest version.
    pub fn overdue_task_events(&self, now: Timestamp) -> Result<Vec<CaseEvent>> {
        let mut events = Vec::new();
        for collection_id in self.store().case_collections()? {
            let Some(collection) = self.store().collection(&collection_id)? else {
                continue;
            };
            let Some((incident, _)) = self.case_incident(&collection_id)? else {
                continue;
            };
            let scan = Scan {
                types: vec![TASK_TYPE.to_owned()],
                batch: 1_000,
                with_content: true,
                ..Scan::default()
            };
            let mut newest: BTreeMap<String, StoredVersion> = BTreeMap::new();
            let mut cursor = None;
            loop {
                let batch = self.store().scan(&collection_id, cursor, &scan)?;
                let exhausted = batch.len() < scan.batch;
                for v in batch {
                    cursor = Some(v.date_added);
                    match newest.get(&v.id) {
                        Some(known) if known.version >= v.version => {}
                        _ => {
                            newest.insert(v.id.clone(), v);
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
            for (task_id, version) in newest {
                let Some(task) = version.raw.as_deref().and_then(Task::read) else {
                    continue;
                };
                let due = task.due.as_deref().and_then(|d| Timestamp::parse(d).ok());
                if !task.status.is_open() || due.is_none_or(|d| d > now) {
                    continue;
                }
                let key = format!("case.overdue.{task_id}");
                if self.store().setting(&key)?.is_some() {
                    continue;
                }
                self.store().set_setting(&key, &now.to_string())?;
                events.push(CaseEvent {
                    id: uuid::Uuid::new_v4().to_string(),
                    event: CaseEventKind::TaskOverdue,
                    case: incident.clone(),
                    object: task_id,
                    at: now,
                    audience: collection
                        .members
                        .iter()
                        .copied()
                        .filter(|m| policy::may_read(Some(*m), &collection, &version))
                        .collect(),
                });
            }
        }
        Ok(events)
    }
}

fn object_id(raw: &str) -> String {
    serde_json::from_str::<Value>(raw)
        .ok()
        .and_then(|v| v.get("id")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}
