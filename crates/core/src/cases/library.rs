//! The playbook library: CACAO 2.0 playbooks kept as templates, each a `course-of-action`
//! carrying its document in an ordinary collection the importer writes to, so the collection's
//! audience, TLP, the log and the audit trail apply as to any object. Templates are listed and
//! read through [`Exchange::page`] and [`Exchange::object`]; one is made a case's tasks only
//! when [`policy::may_copy_into_case`] allows the copy.

use serde::Serialize;
use stix::{Timestamp, Tlp};

use super::cacao::{self, Playbook};
use super::exchange::writing_org;
use super::{carried_playbook, library_id, playbook_object, CourseOfAction};
use crate::exchange::{Error, Exchange, ListQuery, Result};
use crate::model::{Collection, Principal, StoredVersion};
use crate::policy;

/// A template as the library lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookSummary {
    /// The course of action's id, which names the template when it is instantiated.
    pub id: String,
    /// The CACAO playbook's own id.
    pub playbook_id: String,
    pub name: String,
    pub description: Option<String>,
    pub modified: Timestamp,
    pub collection: String,
    pub tlp: Tlp,
    /// The organisation that imported it.
    pub organisation: String,
    /// The names of the steps that become tasks, in workflow order.
    pub steps: Vec<String>,
}

/// The checked playbook a stored course of action carries, if it carries a valid one.
fn stored_playbook(version: &StoredVersion) -> Option<Playbook> {
    cacao::parse(&carried_playbook(version.raw.as_deref()?)?).ok()
}

impl Exchange {
    /// The collections whose course-of-action objects are the library: those the principal
    /// may see, but not cases' (their playbooks are copies at work).
    fn library_collections(&self, who: &Principal) -> Result<Vec<Collection>> {
        let cases = self.store().case_collections()?;
        Ok(self
            .store()
            .collections()?
            .into_iter()
            .filter(|c| !cases.contains(&c.id) && policy::may_see_collection(who, c))
            .collect())
    }

    /// Imports a CACAO 2.0 playbook into the library: checked (a fault names its JSON path),
    /// then stored in `collection`, which the principal must write to, as the course of action
    /// [`library_id`] names, versioned by the playbook's own `modified`; marked `tlp`, else
    /// with the collection's default.
    pub fn import_playbook(
        &self,
        who: &Principal,
        collection: &str,
        document: &str,
        tlp: Option<Tlp>,
    ) -> Result<PlaybookSummary> {
        let org = writing_org(who)?;
        let playbook = cacao::parse(document)
            .map_err(|fault| Error::BadRequest(format!("invalid CACAO playbook: {fault}")))?;
        let target = self.collection(who, collection)?;
        if !target.can_write {
            return Err(Error::Forbidden(format!(
                "your organisation may not write to collection `{collection}`"
            )));
        }
        if self
            .store()
            .case_collections()?
            .contains(&target.collection.id)
        {
            return Err(Error::BadRequest(format!(
                "collection `{collection}` holds a case; instantiate the playbook on the case instead"
            )));
        }
        // cacao::parse checked both timestamps.
        let time = |key: &str| {
            playbook
                .document
                .get(key)
                .and_then(|t| t.as_str())
                .and_then(|t| Timestamp::parse(t).ok())
                .unwrap_or_else(Timestamp::now)
        };
        let (created, modified) = (time("created"), time("modified"));
        if modified < created {
            return Err(Error::BadRequest(
                "invalid CACAO playbook: /modified: is earlier than `created`".to_owned(),
            ));
        }
        let id = library_id(&playbook.id);
        let identity = self.own_identity(org)?;
        let course = playbook_object(
            &playbook,
            &CourseOfAction {
                id: &id,
                created,
                modified,
                created_by: &identity,
                tlp,
                template_ref: None,
            },
        );
        self.write_case_objects(who, collection, &[course], &[])?;
        let page = self.object(who, collection, &id, &ListQuery::default(), true)?;
        let stored = page
            .items
            .into_iter()
            .find_map(|v| stored_playbook(&v).map(|playbook| (v, playbook)));
        let (version, playbook) = stored
            .ok_or_else(|| Error::NotFound(format!("no playbook `{id}` is visible to you")))?;
        self.playbook_summary(&target.collection, &version, playbook)
    }

    fn playbook_summary(
        &self,
        collection: &Collection,
        version: &StoredVersion,
        playbook: Playbook,
    ) -> Result<PlaybookSummary> {
        let organisation = self
            .store()
            .org(version.producer)?
            .map(|o| o.name)
            .unwrap_or_default();
        Ok(PlaybookSummary {
            id: version.id.clone(),
            playbook_id: playbook.id,
            name: playbook.name,
            description: playbook.description,
            modified: version.version,
            collection: collection.id.clone(),
            tlp: policy::effective_tlp(collection, version),
            organisation,
            steps: playbook.steps.into_iter().map(|s| s.name).collect(),
        })
    }

    /// The templates the principal may read: the newest readable version of each valid
    /// playbook in the library, by name.
    pub fn playbooks(&self, who: &Principal) -> Result<Vec<PlaybookSummary>> {
        let mut found = Vec::new();
        for collection in self.library_collections(who)? {
            let mut query = ListQuery {
                types: vec!["course-of-action".to_owned()],
                ..ListQuery::default()
            };
            loop {
                let page = self.page(who.org(), &collection, &query, true)?;
                for version in &page.items {
                    if let Some(playbook) = stored_playbook(version) {
                        found.push(self.playbook_summary(&collection, version, playbook)?);
                    }
                }
                match page.next {
                    Some(next) => query.next = Some(next),
                    None => break,
                }
            }
        }
        found.sort_by(|a, b| (&a.name, &a.id, &a.collection).cmp(&(&b.name, &b.id, &b.collection)));
        self.record(
            who,
            "read",
            "playbooks",
            &format!("{} playbooks", found.len()),
        );
        Ok(found)
    }

    /// The newest version of the template `id` the principal may read, where it lives, and its
    /// playbook; `None` when there is none.
    fn template(
        &self,
        who: &Principal,
        id: &str,
    ) -> Result<Option<(Collection, StoredVersion, Playbook)>> {
        match stix::parse_id(id) {
            Ok(("course-of-action", _)) => {}
            _ => {
                return Err(Error::BadRequest(format!(
                    "`{id}` is not a playbook of the library; they are named by their course of action's id (course-of-action--<UUID>)"
                )))
            }
        }
        let mut newest: Option<(Collection, StoredVersion, Playbook)> = None;
        for collection in self.library_collections(who)? {
            let page = match self.object(who, &collection.id, id, &ListQuery::default(), true) {
                Ok(page) => page,
                Err(Error::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            for version in page.items {
                let Some(playbook) = stored_playbook(&version) else {
                    continue;
                };
                if newest
                    .as_ref()
                    .is_none_or(|(_, v, _)| v.version < version.version)
                {
                    newest = Some((collection.clone(), version, playbook));
                }
            }
        }
        Ok(newest)
    }

    /// Instantiates the library's playbook `template` on the case `id` (its owner): allowed
    /// only when [`policy::may_copy_into_case`] allows copying it (CLEAR or GREEN); the case's
    /// course of action and tasks are marked no less restrictively than the template.
    pub fn instantiate_template(
        &self,
        who: &Principal,
        id: &str,
        template: &str,
    ) -> Result<(String, Vec<String>)> {
        let (collection, version, playbook) = self.template(who, template)?.ok_or_else(|| {
            Error::NotFound(format!("no playbook `{template}` is visible to you"))
        })?;
        let tlp = policy::effective_tlp(&collection, &version);
        if !policy::may_copy_into_case(who.org(), &collection, &version) {
            return Err(Error::Forbidden(format!(
                "playbook `{template}` is TLP:{}; only CLEAR and GREEN playbooks are copied into a case, whose audience grows whenever it is shared",
                tlp.as_str().to_uppercase()
            )));
        }
        self.instantiate(who, id, &playbook, Some((template, tlp)))
    }
}
