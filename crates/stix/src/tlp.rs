//! Traffic Light Protocol markings: the OASIS TLP 2.0 marking definitions and the TLP 1.0 ones
//! defined in STIX 2.1 §7.2.1.4, mapped onto one ordered scale.

use std::fmt;
use std::str::FromStr;

/// TLP levels ordered from least to most restrictive, so `max` picks the one that wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

pub const TLP2_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
pub const TLP2_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
pub const TLP2_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
pub const TLP2_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
pub const TLP2_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
pub const TLP1_WHITE: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
pub const TLP1_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
pub const TLP1_AMBER: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
pub const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// The extension definition of the OASIS TLP 2.0 marking definitions.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The `created` of the four TLP 1.0 marking definitions STIX 2.1 publishes.
pub(crate) const TLP1_CREATED: &str = "2017-01-20T00:00:00.000Z";

/// One of the published TLP marking definitions, as far as its content is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    /// TLP 1.0 (STIX 2.1 §7.2.1.4: `definition_type` "tlp") or TLP 2.0 (the OASIS extension).
    pub version: TlpVersion,
    /// The level as written in `definition.tlp` (TLP 1.0) or `tlp_2_0` (TLP 2.0).
    pub level: &'static str,
    /// Its `name`, such as "TLP:RED".
    pub name: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlpVersion {
    V1,
    V2,
}

/// The published TLP marking definition with this id, if it is one.
pub(crate) fn published(marking_id: &str) -> Option<Published> {
    let (version, level, name) = match marking_id {
        TLP1_WHITE => (TlpVersion::V1, "white", "TLP:WHITE"),
        TLP1_GREEN => (TlpVersion::V1, "green", "TLP:GREEN"),
        TLP1_AMBER => (TlpVersion::V1, "amber", "TLP:AMBER"),
        TLP1_RED => (TlpVersion::V1, "red", "TLP:RED"),
        TLP2_CLEAR => (TlpVersion::V2, "clear", "TLP:CLEAR"),
        TLP2_GREEN => (TlpVersion::V2, "green", "TLP:GREEN"),
        TLP2_AMBER => (TlpVersion::V2, "amber", "TLP:AMBER"),
        TLP2_AMBER_STRICT => (TlpVersion::V2, "amber+strict", "TLP:AMBER+STRICT"),
        TLP2_RED => (TlpVersion::V2, "red", "TLP:RED"),
        _ => return None,
    };
    Some(Published {
        version,
        level,
        name,
    })
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The TLP a marking-definition id stands for, if it is one of the published ones.
    pub fn of_marking(marking_ref: &str) -> Option<Tlp> {
        Some(match marking_ref {
            TLP2_CLEAR | TLP1_WHITE => Tlp::Clear,
            TLP2_GREEN | TLP1_GREEN => Tlp::Green,
            TLP2_AMBER | TLP1_AMBER => Tlp::Amber,
            TLP2_AMBER_STRICT => Tlp::AmberStrict,
            TLP2_RED | TLP1_RED => Tlp::Red,
            _ => return None,
        })
    }

    /// The most restrictive TLP among the markings, or `None` when none is a TLP marking.
    pub fn of_markings<'a>(marking_refs: impl IntoIterator<Item = &'a str>) -> Option<Tlp> {
        marking_refs.into_iter().filter_map(Tlp::of_marking).max()
    }

    /// The TLP 2.0 marking-definition id for this level.
    pub fn marking_ref(self) -> &'static str {
        match self {
            Tlp::Clear => TLP2_CLEAR,
            Tlp::Green => TLP2_GREEN,
            Tlp::Amber => TLP2_AMBER,
            Tlp::AmberStrict => TLP2_AMBER_STRICT,
            Tlp::Red => TLP2_RED,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Tlp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a TLP level; expected clear, green, amber, amber+strict or red")]
pub struct UnknownTlp(pub String);

impl FromStr for Tlp {
    type Err = UnknownTlp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let level = s.trim().to_ascii_lowercase();
        let level = level.strip_prefix("tlp:").unwrap_or(&level);
        Ok(match level {
            "clear" | "white" => Tlp::Clear,
            "green" => Tlp::Green,
            "amber" => Tlp::Amber,
            "amber+strict" | "amber-strict" | "amber_strict" => Tlp::AmberStrict,
            "red" => Tlp::Red,
            _ => return Err(UnknownTlp(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_restrictive_wins() {
        assert_eq!(
            Tlp::of_markings([TLP1_WHITE, TLP2_AMBER, "marking-definition--x"]),
            Some(Tlp::Amber)
        );
        assert_eq!(Tlp::of_markings([TLP2_RED, TLP2_GREEN]), Some(Tlp::Red));
        assert_eq!(Tlp::of_markings(["marking-definition--other"]), None);
        for tlp in Tlp::ALL {
            assert_eq!(Tlp::of_marking(tlp.marking_ref()), Some(tlp));
            assert_eq!(tlp.as_str().parse::<Tlp>().unwrap(), tlp);
        }
    }

    #[test]
    fn published_definitions_agree_with_levels() {
        for id in [
            TLP1_WHITE,
            TLP1_GREEN,
            TLP1_AMBER,
            TLP1_RED,
            TLP2_CLEAR,
            TLP2_GREEN,
            TLP2_AMBER,
            TLP2_AMBER_STRICT,
            TLP2_RED,
        ] {
            let published = published(id).unwrap();
            assert_eq!(published.level.parse::<Tlp>().ok(), Tlp::of_marking(id));
            assert_eq!(published.name.parse::<Tlp>().ok(), Tlp::of_marking(id));
        }
        assert_eq!(published("marking-definition--x"), None);
    }
}
