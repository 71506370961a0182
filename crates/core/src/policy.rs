//! The access policy: the one place that decides who may read shared content. Every read path
//! (TAXII, REST, exports, feeds) filters through [`may_read`].

use stix::Tlp;

use crate::model::{Collection, OrgId, Principal, Role, StoredVersion, Writers};

/// The TLP that governs an object: its own most restrictive TLP marking, else the
/// collection's default.
pub fn effective_tlp(collection: &Collection, version: &StoredVersion) -> Tlp {
    version.tlp.unwrap_or(collection.default_tlp)
}

/// Whether `reader` (an organisation, or `None` for anonymous) may read this version of an
/// object stored in `collection`.
///
/// - the producer always reads what it produced;
/// - TLP:CLEAR: anyone who may read the collection, anonymous readers too if it is public;
/// - GREEN, AMBER, AMBER+STRICT: members of the collection's sharing group;
/// - RED: members named as recipients when the object was shared.
pub fn may_read(reader: Option<OrgId>, collection: &Collection, version: &StoredVersion) -> bool {
    if reader.is_some_and(|org| org == version.producer) {
        return true;
    }
    let member = reader.is_some_and(|org| collection.members.contains(&org));
    match effective_tlp(collection, version) {
        Tlp::Clear => member || collection.public,
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => member,
        Tlp::Red => member && reader.is_some_and(|org| version.recipients.contains(&org)),
    }
}

/// Whether the principal may see the collection at all (list it, query it).
pub fn may_see_collection(who: &Principal, collection: &Collection) -> bool {
    match who {
        Principal::Anonymous => collection.public,
        _ => {
            who.role().is_some_and(Role::reads_content)
                && (collection.public
                    || who
                        .org()
                        .is_some_and(|org| collection.members.contains(&org)))
        }
    }
}

/// Whether the principal may add objects to the collection.
pub fn may_write(who: &Principal, collection: &Collection) -> bool {
    let (Some(org), Some(role)) = (who.org(), who.role()) else {
        return false;
    };
    role.writes_content()
        && collection.members.contains(&org)
        && match &collection.writers {
            Writers::AllMembers => true,
            Writers::Only(writers) => writers.contains(&org),
        }
}
