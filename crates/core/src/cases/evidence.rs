//! Evidence files of a case. The bytes are kept by the server, content-addressed by their
//! SHA-256; the case holds STIX objects that describe them: an `artifact` (the hash, the media
//! type and the URL the bytes are fetched from — never the bytes inline, so objects stay small
//! and the bytes are read only by those the policy lets read the artifact) and a `file` naming
//! it (`content_ref`) with the name it was uploaded under and its size.

use serde::Serialize;
use serde_json::{json, Map, Value};
use stix::Tlp;

/// The most characters of an uploaded file's name.
const NAME_MAX: usize = 255;

/// Checks that `text` is a SHA-256 in lowercase hex, as evidence is named.
pub fn check_sha256(text: &str) -> Result<(), String> {
    if text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a SHA-256: evidence is named by 64 lowercase hexadecimal digits"
        ))
    }
}

/// RFC 9110 `token` characters, the alphabet of a media type's type and subtype.
fn is_token(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The media type of an upload (`Content-Type`) without parameters, lowercased (media types
/// are case-insensitive, and the artifact should say it one way); it is served back as the
/// evidence's `Content-Type`, so only `type/subtype` made of token characters passes.
pub fn media_type(content_type: &str) -> Result<String, String> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match essence.split_once('/') {
        Some((kind, subtype)) if is_token(kind) && is_token(subtype) && essence.len() <= 127 => {
            Ok(essence.to_ascii_lowercase())
        }
        _ => Err(format!(
            "`{content_type}` is not a media type of the form type/subtype (e.g. application/pdf)"
        )),
    }
}

/// Checks an uploaded file's name: a name, not a path, and printable.
pub fn check_file_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.chars().count() > NAME_MAX {
        Some("is longer than 255 characters")
    } else if name == "." || name == ".." || name.contains(['/', '\\']) {
        Some("is a path; give the file's name alone")
    } else if name.chars().any(char::is_control) {
        Some("holds control characters")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("the file name `{}` {problem}", name.escape_debug())),
        None => Ok(()),
    }
}

/// The evidence an upload describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Lowercase hex of the bytes' SHA-256.
    pub sha256: String,
    pub size: u64,
    /// As [`media_type`] returns it.
    pub mime_type: String,
    pub file_name: String,
    /// Where the bytes are fetched from.
    pub url: String,
}

/// The objects describing one upload, with their ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceObjects {
    pub artifact_id: String,
    pub artifact: String,
    pub file_id: String,
    pub file: String,
}

/// An observable of `type_name` whose id is computed over `contributing` (§2.9), with the
/// `rest` of its properties and a TLP marking.
fn sco(
    type_name: &str,
    contributing: &[(&str, &Value)],
    rest: &[(&str, &Value)],
    tlp: Tlp,
) -> (String, String) {
    let mut object = Map::new();
    object.insert("type".to_owned(), json!(type_name));
    for (key, value) in contributing {
        object.insert((*key).to_owned(), (*value).clone());
    }
    let id = stix::deterministic_id(&object).unwrap_or_else(|| super::new_id(type_name));
    object.insert("spec_version".to_owned(), json!("2.1"));
    object.insert("id".to_owned(), json!(id));
    for (key, value) in rest {
        object.insert((*key).to_owned(), (*value).clone());
    }
    object.insert("object_marking_refs".to_owned(), json!([tlp.marking_ref()]));
    (id, Value::Object(object).to_string())
}

/// The artifact and file of an upload. Both have deterministic ids (STIX 2.1 §2.9): the same
/// bytes are the same artifact wherever they are uploaded, and the same bytes under the same
/// name the same file.
pub fn evidence_objects(upload: &Upload, tlp: Tlp) -> EvidenceObjects {
    let hashes = json!({ "SHA-256": upload.sha256 });
    let mime_type = json!(upload.mime_type);
    let (artifact_id, artifact) = sco(
        "artifact",
        &[("hashes", &hashes)],
        &[("mime_type", &mime_type), ("url", &json!(upload.url))],
        tlp,
    );
    let (file_id, file) = sco(
        "file",
        &[("hashes", &hashes), ("name", &json!(upload.file_name))],
        &[
            ("size", &json!(upload.size)),
            ("mime_type", &mime_type),
            ("content_ref", &json!(artifact_id)),
        ],
        tlp,
    );
    EvidenceObjects {
        artifact_id,
        artifact,
        file_id,
        file,
    }
}

/// What a stored artifact says of the bytes it describes: their SHA-256 (lowercase) and media
/// type; `None` for anything else.
pub fn read_artifact(raw: &str) -> Option<(String, Option<String>)> {
    let value: Value = serde_json::from_str(raw).ok()?;
    if value.get("type")?.as_str()? != "artifact" {
        return None;
    }
    let sha256 = value
        .get("hashes")?
        .get("SHA-256")?
        .as_str()?
        .to_ascii_lowercase();
    let mime_type = value
        .get("mime_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((sha256, mime_type))
}

/// One evidence file of a case, as the case view lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The `file` object.
    pub id: String,
    pub name: String,
    pub sha256: String,
    pub size: Option<u64>,
    pub mime_type: Option<String>,
    pub artifact_ref: Option<String>,
    pub organisation: String,
    pub tlp: Tlp,
}

/// The evidence a stored `file` object describes, when it carries a SHA-256.
pub fn read_file(raw: &str, organisation: &str, tlp: Tlp) -> Option<Evidence> {
    let value: Value = serde_json::from_str(raw).ok()?;
    if value.get("type")?.as_str()? != "file" {
        return None;
    }
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(Evidence {
        id: text("id")?,
        name: text("name").unwrap_or_default(),
        sha256: value
            .get("hashes")?
            .get("SHA-256")?
            .as_str()?
            .to_ascii_lowercase(),
        size: value.get("size").and_then(Value::as_u64),
        mime_type: text("mime_type"),
        artifact_ref: text("content_ref"),
        organisation: organisation.to_owned(),
        tlp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str) -> Upload {
        Upload {
            sha256: "9f".repeat(32),
            size: 12,
            mime_type: "application/vnd.tcpdump.pcap".to_owned(),
            file_name: name.to_owned(),
            url: format!("https://kawal.example/api/evidence/{}", "9f".repeat(32)),
        }
    }

    #[test]
    fn evidence_is_valid_stix_with_deterministic_ids() {
        let objects = evidence_objects(&upload("capture.pcap"), Tlp::Amber);
        for raw in [&objects.artifact, &objects.file] {
            let parsed = stix::parse_object(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.tlp(), Some(Tlp::Amber));
        }
        let again = evidence_objects(&upload("capture.pcap"), Tlp::Red);
        assert_eq!(again.artifact_id, objects.artifact_id);
        assert_eq!(again.file_id, objects.file_id);
        let renamed = evidence_objects(&upload("other.pcap"), Tlp::Amber);
        assert_eq!(renamed.artifact_id, objects.artifact_id);
        assert_ne!(renamed.file_id, objects.file_id);
        assert_eq!(
            read_artifact(&objects.artifact),
            Some((
                "9f".repeat(32),
                Some("application/vnd.tcpdump.pcap".to_owned())
            ))
        );
        let file = read_file(&objects.file, "MY-CERT", Tlp::Amber).expect("a file");
        assert_eq!(file.name, "capture.pcap");
        assert_eq!(file.size, Some(12));
        assert_eq!(
            file.artifact_ref.as_deref(),
            Some(objects.artifact_id.as_str())
        );
        let artifact: Value = serde_json::from_str(&objects.artifact).unwrap();
        assert!(artifact.get("payload_bin").is_none());
    }

    #[test]
    fn uploads_are_checked() {
        assert!(check_sha256(&"0a".repeat(32)).is_ok());
        assert!(check_sha256(&"0A".repeat(32)).is_err());
        assert!(check_sha256("abc").is_err());
        assert_eq!(
            media_type("Application/PDF; charset=binary").as_deref(),
            Ok("application/pdf")
        );
        for bad in [
            "pdf",
            "text/",
            "/plain",
            "text/pl ain",
            "text/plain\r\nX: y",
        ] {
            assert!(media_type(bad).is_err(), "{bad}");
        }
        assert!(check_file_name("mail relay.eml").is_ok());
        assert!(check_file_name("capture-é.pcap").is_ok());
        for bad in ["", ".", "..", "../etc/passwd", "a\\b", "a\nb"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_file_name(&"x".repeat(256)).is_err());
    }
}
