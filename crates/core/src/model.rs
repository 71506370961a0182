//! The community: organisations, sharing groups, collections, tokens, and what is stored about
//! each shared object version.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use stix::{Timestamp, Tlp};

pub type OrgId = i64;
pub type GroupId = i64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
    pub country: Option<String>,
    /// The STIX `identity` that stands for this organisation in shared content.
    pub identity_id: String,
    pub created: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharingGroup {
    pub id: GroupId,
    pub name: String,
    pub members: Vec<OrgId>,
}

/// Who may write into a collection, besides being a member of its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Writers {
    AllMembers,
    Only(Vec<OrgId>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collection {
    /// A UUID, as TAXII requires.
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub group: GroupId,
    /// Members of the group at the time of reading.
    pub members: Vec<OrgId>,
    pub writers: Writers,
    /// Applies to every object without a TLP marking.
    pub default_tlp: Tlp,
    /// Anonymous readers see the collection's TLP:CLEAR content.
    pub public: bool,
    pub created: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Analyst,
    Reader,
    Sensor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::Reader, Role::Sensor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Reader => "reader",
            Role::Sensor => "sensor",
        }
    }

    pub fn reads_content(self) -> bool {
        matches!(self, Role::Admin | Role::Analyst | Role::Reader)
    }

    pub fn writes_content(self) -> bool {
        matches!(self, Role::Admin | Role::Analyst)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a role; expected admin, analyst, reader or sensor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A stored API token. Only the argon2 hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    pub id: String,
    pub org: OrgId,
    pub role: Role,
    #[serde(skip)]
    pub secret_hash: String,
    pub created: Timestamp,
    pub revoked: bool,
}

/// A person's account for the web console. Only the argon2id hash of the password is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub org: OrgId,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    pub created: Timestamp,
    /// A disabled account signs in to nothing; its history stays attached to its name.
    pub disabled: bool,
}

/// A signed-in browser. The session secret lives only in the browser's cookie; the store keeps
/// its SHA-256, so a copy of the database opens no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub secret_sha256: [u8; 32],
    pub user: i64,
    /// Every form of the session carries it; a post without it is refused.
    pub csrf: String,
    pub expires: Timestamp,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Token {
        token_id: String,
        org: OrgId,
        role: Role,
    },
    /// A person signed in to the web console, with the rights their account's role gives in
    /// their organisation, exactly as a token of that organisation and role has.
    User {
        username: String,
        org: OrgId,
        role: Role,
    },
    /// The local command line, which acts for an organisation with the rights of `role`.
    Local {
        org: OrgId,
        role: Role,
    },
    /// The server's monitoring, sharing an organisation's sightings back into the collections
    /// of the indicators its sensors saw. It has a sensor's rights: it reads no content and
    /// writes only what [`crate::policy::may_add_sighting`] allows.
    Monitoring {
        org: OrgId,
    },
}

impl Principal {
    pub fn org(&self) -> Option<OrgId> {
        match self {
            Principal::Anonymous => None,
            Principal::Token { org, .. }
            | Principal::User { org, .. }
            | Principal::Local { org, .. }
            | Principal::Monitoring { org } => Some(*org),
        }
    }

    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Anonymous => None,
            Principal::Token { role, .. }
            | Principal::User { role, .. }
            | Principal::Local { role, .. } => Some(*role),
            Principal::Monitoring { .. } => Some(Role::Sensor),
        }
    }

    /// The organisation whose administrator this principal is, through a token or a signed-in
    /// account with the `admin` role.
    pub fn org_admin(&self) -> Option<OrgId> {
        match self {
            Principal::Token {
                org,
                role: Role::Admin,
                ..
            }
            | Principal::User {
                org,
                role: Role::Admin,
                ..
            } => Some(*org),
            _ => None,
        }
    }

    /// How the audit trail names this principal.
    pub fn actor(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".to_owned(),
            Principal::Token { token_id, .. } => format!("token:{token_id}"),
            Principal::User { username, .. } => format!("user:{username}"),
            Principal::Local { .. } => "local".to_owned(),
            Principal::Monitoring { .. } => "monitoring".to_owned(),
        }
    }
}

/// One stored version of an object in a collection, with what the policy needs to decide who
/// may read it. `raw` is present only when the query asked for content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub id: String,
    pub type_name: String,
    pub spec_version: String,
    /// `modified`, else `created`, else `date_added`.
    pub version: Timestamp,
    pub date_added: Timestamp,
    pub producer: OrgId,
    /// The TLP of the object's own markings; `None` means the collection's default applies.
    pub tlp: Option<Tlp>,
    pub recipients: Vec<OrgId>,
    /// Whether this is the newest and the oldest stored version of the id in the collection,
    /// whoever may read them.
    pub newest: bool,
    pub oldest: bool,
    pub raw: Option<String>,
}

/// An object version ready to be stored.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub object: stix::Object,
    pub sha256: [u8; 32],
    pub tlp: Option<Tlp>,
}

/// What happened to one object of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    Added {
        version: Timestamp,
        date_added: Timestamp,
        /// Its transparency-log leaf, when the instance keeps a log.
        leaf: Option<u64>,
    },
    /// The same bytes were already stored under this id and version.
    AlreadyPresent { version: Timestamp },
    /// Another object with the same id and version but different content is stored.
    Conflict { version: Timestamp },
}

/// An indicator matched an event of an organisation's sensors. Alerts belong to that
/// organisation and are shown to its members only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// A fresh UUID.
    pub id: String,
    /// The organisation whose sensor saw the event.
    pub org: OrgId,
    /// When the event happened.
    pub observed: Timestamp,
    /// When the match was made.
    pub raised: Timestamp,
    pub indicator: String,
    pub indicator_name: Option<String>,
    /// The collection the indicator was read from.
    pub collection: String,
    /// Where the event came from (`http`, `syslog`, a file path…).
    pub source: String,
    /// Found by hunting through archived events rather than as the event arrived.
    pub retro: bool,
    /// The event's cyber-observables.
    pub objects: Vec<serde_json::Value>,
    /// The event's fields that no cyber-observable took (a Zeek `uid`, a Suricata alert's
    /// `signature`, …), as the sensor sent them, so that an analyst can find the original
    /// event. Empty for retro-hunt alerts: the archive keeps events' cyber-observables only.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Which alerts of one organisation the console lists, newest first (or oldest first, to
/// follow those stored after a position).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub oldest_first: bool,
    pub org: OrgId,
    /// Only alerts stored before this position (the next page of older ones).
    pub before: Option<i64>,
    /// Only alerts stored after this position (those that arrived since).
    pub after: Option<i64>,
    pub indicator: Option<String>,
    pub collection: Option<String>,
    pub source: Option<String>,
    pub retro: Option<bool>,
    pub acknowledged: Option<bool>,
    pub observed_since: Option<Timestamp>,
    pub observed_until: Option<Timestamp>,
    pub limit: usize,
}

/// Someone of the alert's organisation has looked at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acknowledgement {
    /// The actor, as the audit trail names it (`user:ana`, `token:…`).
    pub by: String,
    pub at: Timestamp,
}

/// An alert as the console lists it: its position, and its acknowledgement if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedAlert {
    pub seq: i64,
    pub alert: Alert,
    pub acknowledged: Option<Acknowledgement>,
}

/// Which alerts of one organisation to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    pub org: OrgId,
    /// Only alerts stored after this position (as returned with each alert).
    pub after: Option<i64>,
    pub indicator: Option<String>,
    pub observed_since: Option<Timestamp>,
    pub observed_until: Option<Timestamp>,
    pub retro: Option<bool>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: String,
    pub org: Option<OrgId>,
    pub action: String,
    pub target: String,
    pub outcome: String,
}
