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

/// Whether protection feeds fetched with the principal's credentials draw on the collection.
/// Feeds are how an organisation's sensors get their protection, so every role of a member
/// organisation fetches them, `sensor` tokens included (which read no STIX content); anonymous
/// clients fetch none.
pub fn may_feed_from(who: &Principal, collection: &Collection) -> bool {
    who.org()
        .is_some_and(|org| collection.public || collection.members.contains(&org))
}

/// The relay rule for protection feeds (blocklists, IDS rules, DNS policy zones). A feed
/// copies values out of the exchange into the sensors of the organisation whose token fetched
/// it, `consumer`; it may carry a version only where that organisation is itself entitled to
/// use it, never on behalf of another:
///
/// - CLEAR: anywhere;
/// - GREEN: to any organisation of the community that may read it (a non-public audience);
/// - AMBER and AMBER+STRICT: only within the original audience — members of the collection's
///   sharing group, and the producer;
/// - RED: only the producer and the recipients named when it was shared.
///
/// It never allows more than [`may_read`] does for the consumer.
pub fn may_relay_to_feed(
    consumer: OrgId,
    collection: &Collection,
    version: &StoredVersion,
) -> bool {
    if !may_read(Some(consumer), collection, version) {
        return false;
    }
    let producer = consumer == version.producer;
    match effective_tlp(collection, version) {
        Tlp::Clear | Tlp::Green => true,
        Tlp::Amber | Tlp::AmberStrict => producer || collection.members.contains(&consumer),
        Tlp::Red => producer || version.recipients.contains(&consumer),
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

/// Whether the principal may add sightings to the collection without being one of its
/// writers: it acts for a member of the collection's sharing group, either as the server's
/// monitoring or with a role that writes content. Which sightings it may add is
/// [`may_add_sighting`]'s question.
pub fn may_add_sightings_to(who: &Principal, collection: &Collection) -> bool {
    let Some(org) = who.org() else {
        return false;
    };
    let acting =
        matches!(who, Principal::Monitoring { .. }) || who.role().is_some_and(Role::writes_content);
    acting && collection.members.contains(&org)
}

/// The one exception to [`may_write`]: a member of a collection's group that is not among its
/// writers may still tell the producer where an indicator was seen. It may add a `sighting` of
/// `sighted` (a stored version of an indicator in this collection) when it may add sightings
/// to the collection at all ([`may_add_sightings_to`]) and its organisation may read that
/// version ([`may_read`]). Ingest holds such a write to the sighting, the `observed-data` it
/// names and the cyber-observables those reference, made under the organisation's own
/// identity and marked no less restrictively than the indicator; nothing else.
pub fn may_add_sighting(who: &Principal, collection: &Collection, sighted: &StoredVersion) -> bool {
    may_add_sightings_to(who, collection)
        && sighted.type_name == "indicator"
        && may_read(who.org(), collection, sighted)
}

/// The second exception to [`may_write`]: an organisation a case is shared with may add to
/// the case's collection without being one of its writers, when the case's owner allows
/// contributions (`open`, read from the newest version of the case's incident). It must act
/// with a role that writes content for a member of the collection's sharing group, and be able
/// to read `incident`, the case's incident version, itself. What it may add is
/// [`crate::cases::contribution_refusal`]'s question: notes, tasks it owns, links, sightings
/// and evidence, under its own identity, marked no less restrictively than the incident.
pub fn may_contribute(
    who: &Principal,
    collection: &Collection,
    incident: &StoredVersion,
    open: bool,
) -> bool {
    // A person signed in to the console contributes as a token of their organisation and
    // role would; monitoring, with a sensor's rights, never does.
    let acting = matches!(
        who,
        Principal::Token { .. } | Principal::User { .. } | Principal::Local { .. }
    ) && who.role().is_some_and(Role::writes_content);
    open && acting
        && incident.type_name == "incident"
        && who
            .org()
            .is_some_and(|org| collection.members.contains(&org))
        && may_read(who.org(), collection, incident)
}

/// The relay rule for copying content into a case: a playbook from the library made into the
/// case's course of action and tasks. A case's audience grows each time it is shared, beyond
/// what anyone can know when the copy is made, so only content that may go to any non-public
/// audience of the community is copied — CLEAR and GREEN (cases are never public) — and only
/// by an organisation that may read it where it is ([`may_read`]).
pub fn may_copy_into_case(
    reader: Option<OrgId>,
    collection: &Collection,
    version: &StoredVersion,
) -> bool {
    may_read(reader, collection, version) && effective_tlp(collection, version) <= Tlp::Green
}

#[cfg(test)]
mod tests {
    use stix::Timestamp;

    use super::*;

    const PRODUCER: OrgId = 1;
    const RECIPIENT: OrgId = 2;
    const MEMBER: OrgId = 3;
    const OUTSIDER: OrgId = 4;

    fn collection(public: bool) -> Collection {
        Collection {
            id: "c".to_owned(),
            title: "c".to_owned(),
            description: None,
            group: 1,
            members: vec![PRODUCER, RECIPIENT, MEMBER],
            writers: Writers::AllMembers,
            default_tlp: Tlp::Amber,
            public,
            created: Timestamp::from_micros(0),
        }
    }

    fn version(tlp: Option<Tlp>) -> StoredVersion {
        StoredVersion {
            id: "indicator--0a0a0a0a-0000-4000-8000-000000000001".to_owned(),
            type_name: "indicator".to_owned(),
            spec_version: "2.1".to_owned(),
            version: Timestamp::from_micros(1),
            date_added: Timestamp::from_micros(2),
            producer: PRODUCER,
            tlp,
            recipients: vec![RECIPIENT],
            newest: true,
            oldest: true,
            raw: None,
        }
    }

    /// Who may find a version of each TLP in a feed fetched with their own token.
    #[test]
    fn feeds_carry_each_tlp_only_to_its_entitled_organisations() {
        let table: [(Tlp, [bool; 4], [bool; 4]); 5] = [
            // TLP, then producer, recipient, member, outsider: private collection, public one.
            (
                Tlp::Clear,
                [true, true, true, false],
                [true, true, true, true],
            ),
            (
                Tlp::Green,
                [true, true, true, false],
                [true, true, true, false],
            ),
            (
                Tlp::Amber,
                [true, true, true, false],
                [true, true, true, false],
            ),
            (
                Tlp::AmberStrict,
                [true, true, true, false],
                [true, true, true, false],
            ),
            (
                Tlp::Red,
                [true, true, false, false],
                [true, true, false, false],
            ),
        ];
        for (tlp, private, public) in table {
            for (public_collection, expected) in [(false, private), (true, public)] {
                let c = collection(public_collection);
                let v = version(Some(tlp));
                let got = [PRODUCER, RECIPIENT, MEMBER, OUTSIDER]
                    .map(|org| may_relay_to_feed(org, &c, &v));
                assert_eq!(
                    got, expected,
                    "{tlp}, public collection: {public_collection}"
                );
            }
        }
    }

    #[test]
    fn an_unmarked_version_is_relayed_by_the_collection_default() {
        let mut c = collection(false);
        c.default_tlp = Tlp::Red;
        let v = version(None);
        assert!(may_relay_to_feed(RECIPIENT, &c, &v));
        assert!(!may_relay_to_feed(MEMBER, &c, &v));
    }

    #[test]
    fn relaying_never_exceeds_reading() {
        for public in [false, true] {
            let c = collection(public);
            for tlp in Tlp::ALL.map(Some).into_iter().chain([None]) {
                let v = version(tlp);
                for org in [PRODUCER, RECIPIENT, MEMBER, OUTSIDER] {
                    if may_relay_to_feed(org, &c, &v) {
                        assert!(may_read(Some(org), &c, &v), "{tlp:?} to {org}");
                    }
                }
            }
        }
    }

    #[test]
    fn feeds_need_an_organisation_and_draw_on_its_collections() {
        let private = collection(false);
        let public = collection(true);
        let sensor = Principal::Token {
            token_id: "t".to_owned(),
            org: MEMBER,
            role: Role::Sensor,
        };
        let outsider = Principal::Token {
            token_id: "u".to_owned(),
            org: OUTSIDER,
            role: Role::Reader,
        };
        assert!(may_feed_from(&sensor, &private));
        assert!(!may_see_collection(&sensor, &private));
        assert!(!may_feed_from(&outsider, &private));
        assert!(may_feed_from(&outsider, &public));
        assert!(!may_feed_from(&Principal::Anonymous, &public));
    }

    fn principal(org: OrgId, role: Role) -> Principal {
        Principal::Token {
            token_id: format!("t{org}{role}"),
            org,
            role,
        }
    }

    /// Who may add a sighting of an indicator to a collection they may not write to.
    #[test]
    fn sightings_are_added_by_members_that_may_read_the_indicator() {
        let mut c = collection(false);
        c.writers = Writers::Only(vec![PRODUCER]);
        let amber = version(Some(Tlp::Amber));
        let red = version(Some(Tlp::Red));
        // Members that may read it, through the server's monitoring or an analyst or admin.
        for who in [
            Principal::Monitoring { org: MEMBER },
            principal(MEMBER, Role::Analyst),
            principal(MEMBER, Role::Admin),
        ] {
            assert!(!may_write(&who, &c), "{who:?} is not a writer");
            assert!(may_add_sighting(&who, &c, &amber), "{who:?}");
        }
        // Roles that write nothing, outsiders and anonymous clients may not.
        for who in [
            principal(MEMBER, Role::Reader),
            principal(MEMBER, Role::Sensor),
            principal(OUTSIDER, Role::Analyst),
            Principal::Monitoring { org: OUTSIDER },
            Principal::Anonymous,
        ] {
            assert!(!may_add_sighting(&who, &c, &amber), "{who:?}");
        }
        // A RED indicator is sighted only by those it was shared with.
        assert!(may_add_sighting(
            &Principal::Monitoring { org: RECIPIENT },
            &c,
            &red
        ));
        assert!(!may_add_sighting(
            &Principal::Monitoring { org: MEMBER },
            &c,
            &red
        ));
        // Only indicators are sighted this way.
        let mut malware = version(None);
        malware.type_name = "malware".to_owned();
        assert!(!may_add_sighting(
            &Principal::Monitoring { org: MEMBER },
            &c,
            &malware
        ));
    }

    #[test]
    fn a_public_collection_takes_sightings_only_from_members() {
        let c = collection(true);
        let clear = version(Some(Tlp::Clear));
        assert!(may_read(Some(OUTSIDER), &c, &clear));
        assert!(!may_add_sighting(
            &Principal::Monitoring { org: OUTSIDER },
            &c,
            &clear
        ));
        assert!(may_add_sighting(
            &Principal::Monitoring { org: MEMBER },
            &c,
            &clear
        ));
    }

    #[test]
    fn monitoring_reads_no_content_and_writes_nothing_else() {
        let c = collection(false);
        let monitoring = Principal::Monitoring { org: MEMBER };
        assert!(!may_see_collection(&monitoring, &c));
        assert!(!may_write(&monitoring, &c));
    }

    /// Who may contribute to a case, against every principal, TLP and switch.
    #[test]
    fn contributions_come_from_members_that_read_the_open_case() {
        let mut c = collection(false);
        c.writers = Writers::Only(vec![PRODUCER]);
        let mut incident = version(Some(Tlp::Amber));
        incident.type_name = "incident".to_owned();
        let analyst = principal(MEMBER, Role::Analyst);
        assert!(!may_write(&analyst, &c));
        assert!(may_contribute(&analyst, &c, &incident, true));
        assert!(!may_contribute(&analyst, &c, &incident, false));
        let person = |role| Principal::User {
            username: "kim".to_owned(),
            org: MEMBER,
            role,
        };
        assert!(may_contribute(&person(Role::Analyst), &c, &incident, true));
        assert!(!may_contribute(&person(Role::Reader), &c, &incident, true));
        for who in [
            principal(MEMBER, Role::Reader),
            principal(MEMBER, Role::Sensor),
            principal(OUTSIDER, Role::Analyst),
            Principal::Monitoring { org: MEMBER },
            Principal::Anonymous,
        ] {
            assert!(!may_contribute(&who, &c, &incident, true), "{who:?}");
        }
        let mut red = incident.clone();
        red.tlp = Some(Tlp::Red);
        assert!(may_contribute(
            &principal(RECIPIENT, Role::Analyst),
            &c,
            &red,
            true
        ));
        assert!(!may_contribute(&analyst, &c, &red, true));
        let mut indicator = incident;
        indicator.type_name = "indicator".to_owned();
        assert!(!may_contribute(&analyst, &c, &indicator, true));
    }

    #[test]
    fn only_clear_and_green_content_readable_to_the_copier_goes_into_a_case() {
        let c = collection(false);
        for (tlp, copied) in [
            (Tlp::Clear, true),
            (Tlp::Green, true),
            (Tlp::Amber, false),
            (Tlp::AmberStrict, false),
            (Tlp::Red, false),
        ] {
            let v = version(Some(tlp));
            assert_eq!(
                may_copy_into_case(Some(PRODUCER), &c, &v),
                copied,
                "{tlp:?}"
            );
            assert_eq!(may_copy_into_case(Some(MEMBER), &c, &v), copied, "{tlp:?}");
            assert!(!may_copy_into_case(Some(OUTSIDER), &c, &v), "{tlp:?}");
        }
        let mut unmarked = version(None);
        unmarked.producer = MEMBER;
        assert!(
            !may_copy_into_case(Some(MEMBER), &c, &unmarked),
            "AMBER by default"
        );
    }

    proptest::proptest! {
        /// Copying into a case never reaches beyond reading, nor beyond GREEN.
        #[test]
        fn copying_into_a_case_implies_reading_and_at_most_green(
            reader in proptest::option::of(1i64..=4),
            tlp in proptest::option::of(0usize..5),
            default_tlp in 0usize..5,
            public: bool,
            producer in 1i64..=4,
            recipients in proptest::collection::vec(1i64..=4, 0..3),
        ) {
            let mut c = collection(public);
            c.default_tlp = Tlp::ALL[default_tlp];
            let mut v = version(tlp.map(|t| Tlp::ALL[t]));
            v.producer = producer;
            v.recipients = recipients;
            if may_copy_into_case(reader, &c, &v) {
                proptest::prop_assert!(may_read(reader, &c, &v));
                proptest::prop_assert!(effective_tlp(&c, &v) <= Tlp::Green);
            }
        }

        /// Contributing never reaches beyond reading: whoever may contribute is a member that
        /// writes content and may read the case's incident.
        #[test]
        fn contributing_implies_membership_and_reading(
            org in 1i64..=4,
            role in 0usize..4,
            monitoring: bool,
            tlp in proptest::option::of(0usize..5),
            public: bool,
            open: bool,
            producer in 1i64..=4,
            recipients in proptest::collection::vec(1i64..=4, 0..3),
        ) {
            let c = collection(public);
            let mut v = version(tlp.map(|t| Tlp::ALL[t]));
            v.type_name = "incident".to_owned();
            v.producer = producer;
            v.recipients = recipients;
            let who = if monitoring {
                Principal::Monitoring { org }
            } else {
                principal(org, Role::ALL[role])
            };
            if may_contribute(&who, &c, &v, open) {
                proptest::prop_assert!(open);
                proptest::prop_assert!(c.members.contains(&org));
                proptest::prop_assert!(Role::ALL[role].writes_content() && !monitoring);
                proptest::prop_assert!(may_read(Some(org), &c, &v));
            }
        }
    }
}
