//! The validation rules as a table: each case is an object and either "accepted" or the
//! property a rejection must name. Valid cases cover every STIX 2.1 type, minimal and rich.

use serde_json::{json, Map, Value};

const CREATED: &str = "2016-04-06T20:03:48.000Z";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
const EXTENSION: &str = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e";
const EXTENSION_PATH: &str =
    "extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e";
const EXTENSION_TYPE_PATH: &str =
    "extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e.extension_type";
const NEW_SDO: &str = "extension-definition--9c59fd79-4215-4ba2-920d-3e4f320e1e62";
const MD5: &str = "6cc5f0e5ad19c2e2a1d7fcb7e8a5e1c7";
const SHA256: &str = "ceafbfd424be2ca4a5f0402cae090dda2fb0526cf521b60b60077c0f622b285a";

/// A deterministic id of the given type; `n` tells several of one type apart.
fn id(type_name: &str, n: u8) -> String {
    format!("{type_name}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd{n:02x}")
}

fn merged(mut base: Value, props: Value) -> Value {
    if let (Some(base), Value::Object(props)) = (base.as_object_mut(), props) {
        base.extend(props);
    }
    base
}

/// An SDO, SRO or meta object with the common properties already in place.
fn sdo(type_name: &str, props: Value) -> Value {
    merged(
        json!({
            "type": type_name,
            "spec_version": "2.1",
            "id": id(type_name, 0),
            "created": CREATED,
            "modified": CREATED,
        }),
        props,
    )
}

/// A cyber-observable with only the properties every SCO needs.
fn sco(type_name: &str, props: Value) -> Value {
    merged(json!({"type": type_name, "id": id(type_name, 0)}), props)
}

fn with(object: Value, key: &str, value: Value) -> Value {
    merged(
        object,
        Value::Object(Map::from_iter([(key.to_owned(), value)])),
    )
}

fn without(mut object: Value, key: &str) -> Value {
    if let Some(map) = object.as_object_mut() {
        map.remove(key);
    }
    object
}

enum Expect {
    Accepted,
    /// Rejected, with a violation naming this property.
    Rejected(&'static str),
}
use Expect::{Accepted, Rejected};

struct Case {
    name: &'static str,
    object: Value,
    expect: Expect,
}

fn ok(name: &'static str, object: Value) -> Case {
    Case {
        name,
        object,
        expect: Accepted,
    }
}

fn bad(name: &'static str, object: Value, property: &'static str) -> Case {
    Case {
        name,
        object,
        expect: Rejected(property),
    }
}

fn indicator() -> Value {
    sdo(
        "indicator",
        json!({
            "pattern": "[ipv4-addr:value = '198.51.100.3']",
            "pattern_type": "stix",
            "valid_from": CREATED,
        }),
    )
}

fn sighting() -> Value {
    sdo("sighting", json!({"sighting_of_ref": id("indicator", 0)}))
}

fn observed_data() -> Value {
    sdo(
        "observed-data",
        json!({
            "first_observed": "2015-12-21T19:00:00Z",
            "last_observed": "2015-12-21T19:00:00Z",
            "number_observed": 50,
            "object_refs": [id("ipv4-addr", 0), id("relationship", 0)],
        }),
    )
}

fn relationship() -> Value {
    sdo(
        "relationship",
        json!({
            "relationship_type": "indicates",
            "source_ref": id("indicator", 0),
            "target_ref": id("malware", 0),
        }),
    )
}

fn network_traffic() -> Value {
    sco(
        "network-traffic",
        json!({"protocols": ["ipv4", "tcp"], "src_ref": id("ipv4-addr", 0)}),
    )
}

fn extension_definition() -> Value {
    sdo(
        "extension-definition",
        json!({
            "created_by_ref": id("identity", 0),
            "name": "Extension My Favorite SDO and Sub-Comp",
            "schema": "https://www.example.com/schema-newobj-subcomp/v1/schema.json",
            "version": "1.2.1",
            "extension_types": ["new-sdo"],
        }),
    )
}

fn accepted_minimal() -> Vec<Case> {
    vec![
        ok(
            "attack-pattern",
            sdo("attack-pattern", json!({"name": "Spear Phishing"})),
        ),
        ok(
            "campaign",
            sdo("campaign", json!({"name": "Green Group Attacks"})),
        ),
        ok(
            "course-of-action",
            sdo("course-of-action", json!({"name": "Block port 80"})),
        ),
        ok(
            "grouping",
            sdo(
                "grouping",
                json!({"context": "suspicious-activity", "object_refs": [id("indicator", 0)]}),
            ),
        ),
        ok(
            "identity",
            sdo("identity", json!({"name": "ACME Widget, Inc."})),
        ),
        ok(
            "incident",
            sdo("incident", json!({"name": "Breach of the mail server"})),
        ),
        ok("indicator", indicator()),
        ok(
            "infrastructure",
            sdo("infrastructure", json!({"name": "Poison Ivy C2"})),
        ),
        ok(
            "intrusion-set",
            sdo("intrusion-set", json!({"name": "Bobcat Breakin"})),
        ),
        ok(
            "location by region",
            sdo("location", json!({"region": "northern-europe"})),
        ),
        ok(
            "location by country",
            sdo("location", json!({"country": "id"})),
        ),
        ok("malware", sdo("malware", json!({"is_family": false}))),
        ok(
            "malware-analysis",
            sdo(
                "malware-analysis",
                json!({"product": "microsoft", "result": "malicious"}),
            ),
        ),
        ok(
            "note",
            sdo(
                "note",
                json!({"content": "Seen twice.", "object_refs": [id("campaign", 0)]}),
            ),
        ),
        ok("observed-data", observed_data()),
        ok(
            "opinion",
            sdo(
                "opinion",
                json!({"opinion": "strongly-disagree", "object_refs": [id("relationship", 0)]}),
            ),
        ),
        ok(
            "report",
            sdo(
                "report",
                json!({
                    "name": "The Black Vine Cyberespionage Group",
                    "published": CREATED,
                    "object_refs": [id("indicator", 0)],
                }),
            ),
        ),
        ok(
            "threat-actor",
            sdo("threat-actor", json!({"name": "Evil Org"})),
        ),
        ok("tool", sdo("tool", json!({"name": "VNC"}))),
        ok(
            "vulnerability",
            sdo("vulnerability", json!({"name": "CVE-2016-1234"})),
        ),
        ok("relationship", relationship()),
        ok("sighting", sighting()),
        ok(
            "language-content",
            sdo(
                "language-content",
                json!({
                    "object_ref": id("campaign", 0),
                    "contents": {"de": {"name": "Bank Angriff"}},
                }),
            ),
        ),
        ok(
            "marking-definition statement",
            without(
                sdo(
                    "marking-definition",
                    json!({
                        "definition_type": "statement",
                        "definition": {"statement": "Copyright 2019, Example Corp"},
                    }),
                ),
                "modified",
            ),
        ),
        ok(
            "marking-definition TLP 2.0",
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
                "created": "2022-10-01T00:00:00.000Z",
                "name": "TLP:CLEAR",
                "extensions": {
                    TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "clear"},
                },
            }),
        ),
        ok(
            "marking-definition TLP 1.0",
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
                "created": "2017-01-20T00:00:00.000Z",
                "definition_type": "tlp",
                "name": "TLP:GREEN",
                "definition": {"tlp": "green"},
            }),
        ),
        ok("extension-definition", extension_definition()),
        ok(
            "artifact",
            sco(
                "artifact",
                json!({"mime_type": "image/jpeg", "payload_bin": "VBORw0KGgoAAAANSUhEUgAAADI=="}),
            ),
        ),
        ok(
            "autonomous-system",
            sco("autonomous-system", json!({"number": 15139})),
        ),
        ok(
            "directory",
            sco("directory", json!({"path": "C:\\Windows\\System32"})),
        ),
        ok(
            "domain-name",
            sco("domain-name", json!({"value": "example.com"})),
        ),
        ok(
            "email-addr",
            sco("email-addr", json!({"value": "john@example.com"})),
        ),
        ok(
            "email-message",
            sco("email-message", json!({"is_multipart": false})),
        ),
        ok("file", sco("file", json!({"name": "qwerty.dll"}))),
        ok(
            "ipv4-addr",
            sco("ipv4-addr", json!({"value": "198.51.100.3"})),
        ),
        ok(
            "ipv4-addr CIDR",
            sco("ipv4-addr", json!({"value": "198.51.100.0/24"})),
        ),
        ok(
            "ipv6-addr",
            sco(
                "ipv6-addr",
                json!({"value": "2001:0db8:85a3:0000:0000:8a2e:0370:7334"}),
            ),
        ),
        ok(
            "mac-addr",
            sco("mac-addr", json!({"value": "d2:fb:49:24:37:18"})),
        ),
        ok("mutex", sco("mutex", json!({"name": "__CLEANSWEEP__"}))),
        ok("network-traffic", network_traffic()),
        ok("process", sco("process", json!({"pid": 1221}))),
        ok("software", sco("software", json!({"name": "Word"}))),
        ok(
            "url",
            sco(
                "url",
                json!({"value": "https://example.com/research/index.html"}),
            ),
        ),
        ok(
            "user-account",
            sco("user-account", json!({"user_id": "1001"})),
        ),
        ok(
            "windows-registry-key",
            sco(
                "windows-registry-key",
                json!({"key": "hkey_local_machine\\system\\bar\\foo"}),
            ),
        ),
        ok(
            "x509-certificate",
            sco(
                "x509-certificate",
                json!({"serial_number": "36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49"}),
            ),
        ),
        ok(
            "SCO with spec_version and markings",
            sco(
                "domain-name",
                json!({
                    "spec_version": "2.1",
                    "value": "example.org",
                    "object_marking_refs": [TLP_GREEN],
                    "defanged": false,
                }),
            ),
        ),
        ok(
            "custom object type",
            sdo(
                "x-mitre-tactic",
                json!({
                    "name": "Collection",
                    "x_mitre_shortname": "collection",
                    "x_mitre_domains": ["ics-attack"],
                }),
            ),
        ),
        ok(
            "custom object without versioning properties",
            json!({"type": "x-acme-sensor", "id": id("x-acme-sensor", 0), "x_acme_site": "n"}),
        ),
        ok(
            "custom reference left empty",
            sdo(
                "x-mitre-data-component",
                json!({"name": "Process Creation", "x_mitre_data_source_ref": ""}),
            ),
        ),
    ]
}

fn accepted_rich() -> Vec<Case> {
    vec![
        ok(
            "indicator with every common property",
            merged(
                indicator(),
                json!({
                    "created_by_ref": id("identity", 0),
                    "created": "2016-04-06T20:03:48.123456Z",
                    "modified": "2016-05-06T20:03:48.123Z",
                    "name": "Poison Ivy C2",
                    "description": "C2 address",
                    "indicator_types": ["malicious-activity", "our-own-kind"],
                    "pattern_version": "2.1",
                    "valid_until": "2017-04-06T20:03:48Z",
                    "kill_chain_phases": [{
                        "kill_chain_name": "lockheed-martin-cyber-kill-chain",
                        "phase_name": "delivery",
                    }],
                    "labels": ["c2"],
                    "confidence": 85,
                    "lang": "en-US",
                    "revoked": false,
                    "external_references": [
                        {"source_name": "capec", "external_id": "CAPEC-163"},
                        {"source_name": "cve", "external_id": "CVE-2021-44228"},
                        {
                            "source_name": "veris",
                            "url": "https://example.com/x",
                            "hashes": {"SHA-256": SHA256},
                        },
                    ],
                    "object_marking_refs": [TLP_GREEN],
                    "granular_markings": [
                        {
                            "marking_ref": TLP_GREEN,
                            "selectors": ["description", "external_references.[2].url"],
                        },
                        {"lang": "en", "selectors": ["name"]},
                    ],
                    "extensions": {
                        EXTENSION: {"extension_type": "property-extension", "rank": 5},
                    },
                    "x_acme_priority": "high",
                }),
            ),
        ),
        ok(
            "malware family",
            sdo(
                "malware",
                json!({
                    "is_family": true,
                    "name": "Cryptolocker",
                    "malware_types": ["ransomware"],
                    "aliases": ["CL"],
                    "first_seen": "2015-01-01T00:00:00Z",
                    "last_seen": "2015-01-01T00:00:00Z",
                    "operating_system_refs": [id("software", 0)],
                    "sample_refs": [id("file", 0), id("artifact", 0)],
                    "implementation_languages": ["c"],
                    "capabilities": ["evades-av"],
                    "architecture_execution_envs": ["x86"],
                }),
            ),
        ),
        ok(
            "malware-analysis with references",
            sdo(
                "malware-analysis",
                json!({
                    "product": "avproduct",
                    "version": "1.0",
                    "host_vm_ref": id("software", 1),
                    "operating_system_ref": id("software", 2),
                    "installed_software_refs": [id("software", 3)],
                    "analysis_sco_refs": [id("file", 0), id("x-acme-beacon", 0)],
                    "sample_ref": id("network-traffic", 0),
                    "submitted": "2018-01-01T00:00:00Z",
                    "analysis_started": "2018-01-01T00:01:00Z",
                    "analysis_ended": "2018-01-01T00:05:00Z",
                    "modules": ["sandbox"],
                }),
            ),
        ),
        ok(
            "sighting with its references",
            merged(
                sighting(),
                json!({
                    "first_seen": "2015-12-21T19:00:00Z",
                    "last_seen": "2015-12-21T19:00:00Z",
                    "count": 0,
                    "summary": true,
                    "observed_data_refs": [id("observed-data", 0)],
                    "where_sighted_refs": [id("identity", 0), id("location", 0)],
                }),
            ),
        ),
        ok(
            "sighting of a custom object",
            with(sighting(), "sighting_of_ref", json!(id("x-mitre-asset", 0))),
        ),
        ok(
            "relationship with a time range and SCO target",
            merged(
                relationship(),
                json!({
                    "target_ref": id("ipv4-addr", 0),
                    "start_time": "2016-01-01T00:00:00Z",
                    "stop_time": "2016-02-01T00:00:00Z",
                    "description": "seen beaconing",
                }),
            ),
        ),
        ok(
            "location by coordinates",
            sdo(
                "location",
                json!({"latitude": 48.8566, "longitude": 2.3522, "precision": 1000.0}),
            ),
        ),
        ok(
            "observed-data with deprecated embedded objects",
            merged(
                without(observed_data(), "object_refs"),
                json!({"objects": {"0": {"type": "ipv4-addr", "value": "198.51.100.3"}}}),
            ),
        ),
        ok(
            "report with types",
            sdo(
                "report",
                json!({
                    "name": "Q3 report",
                    "published": "2016-01-20T17:00:00.000Z",
                    "report_types": ["campaign"],
                    "object_refs": [id("indicator", 0), id("relationship", 0), id("file", 0)],
                }),
            ),
        ),
        ok(
            "threat-actor with lists",
            sdo(
                "threat-actor",
                json!({
                    "name": "Evil Org",
                    "threat_actor_types": ["crime-syndicate"],
                    "roles": ["director"],
                    "goals": ["steal cards"],
                    "sophistication": "advanced",
                    "resource_level": "team",
                    "primary_motivation": "personal-gain",
                    "first_seen": "2014-01-01T00:00:00Z",
                    "last_seen": "2016-01-01T00:00:00Z",
                }),
            ),
        ),
        ok(
            "extension-definition for top-level properties",
            merged(
                extension_definition(),
                json!({
                    "extension_types": ["toplevel-property-extension"],
                    "extension_properties": ["toxicity"],
                }),
            ),
        ),
        ok(
            "custom object declared by an extension definition",
            sdo(
                "my-favorite-sdo",
                json!({
                    "name": "This is the name of my favorite",
                    "extensions": {NEW_SDO: {"extension_type": "new-sdo"}},
                }),
            ),
        ),
        ok(
            "artifact by url",
            sco(
                "artifact",
                json!({
                    "url": "https://example.com/a.zip",
                    "hashes": {"MD5": MD5, "x_custom": "anything"},
                    "encryption_algorithm": "mime-type-indicated",
                    "decryption_key": "My voice is my passport",
                }),
            ),
        ),
        ok(
            "email-message multipart",
            sco(
                "email-message",
                json!({
                    "is_multipart": true,
                    "date": "1997-11-21T15:55:06.000Z",
                    "from_ref": id("email-addr", 0),
                    "to_refs": [id("email-addr", 1)],
                    "raw_email_ref": id("artifact", 0),
                    "subject": "Thanks",
                    "additional_header_fields": {"X-Mailer": "Mutt"},
                    "body_multipart": [
                        {"content_type": "text/plain", "body": "Hello"},
                        {"content_type": "image/png", "body_raw_ref": id("artifact", 1)},
                    ],
                }),
            ),
        ),
        ok(
            "file with extensions",
            sco(
                "file",
                json!({
                    "hashes": {"SHA-256": SHA256},
                    "size": 25536,
                    "magic_number_hex": "FFD8",
                    "mtime": "2016-04-06T20:03:48Z",
                    "parent_directory_ref": id("directory", 0),
                    "content_ref": id("artifact", 0),
                    "extensions": {
                        "archive-ext": {"contains_refs": [id("file", 1), id("directory", 1)]},
                        "ntfs-ext": {
                            "alternate_data_streams": [{"name": "second.stream", "size": 25}],
                        },
                        "windows-pebinary-ext": {
                            "pe_type": "exe",
                            "machine_hex": "014c",
                            "number_of_sections": 4,
                            "sections": [{"name": ".text", "entropy": 6.2}],
                        },
                    },
                }),
            ),
        ),
        ok(
            "network-traffic with extensions",
            merged(
                network_traffic(),
                json!({
                    "dst_ref": id("domain-name", 0),
                    "src_port": 223,
                    "dst_port": 80,
                    "is_active": false,
                    "start": "2016-04-06T20:03:48Z",
                    "end": "2016-04-06T20:04:00Z",
                    "src_byte_count": 147600,
                    "ipfix": {"minimumIpTotalLength": 32, "maximumIpTotalLength": "2556"},
                    "encapsulates_refs": [id("network-traffic", 1)],
                    "extensions": {
                        "http-request-ext": {
                            "request_method": "get",
                            "request_value": "/download.html",
                            "request_header": {"Host": "example.com"},
                        },
                        "socket-ext": {
                            "address_family": "AF_INET",
                            "socket_type": "SOCK_STREAM",
                            "options": {"SO_TYPE": 1},
                        },
                        "tcp-ext": {"src_flags_hex": "00000002"},
                        "icmp-ext": {"icmp_type_hex": "08", "icmp_code_hex": "00"},
                    },
                }),
            ),
        ),
        ok(
            "process with Windows extensions",
            sco(
                "process",
                json!({
                    "command_line": "./gedit-bin --new-window",
                    "created_time": "2016-01-20T14:11:25.55Z",
                    "image_ref": id("file", 0),
                    "parent_ref": id("process", 1),
                    "child_refs": [id("process", 2)],
                    "creator_user_ref": id("user-account", 0),
                    "opened_connection_refs": [id("network-traffic", 0)],
                    "extensions": {
                        "windows-process-ext": {"aslr_enabled": true, "integrity_level": "high"},
                        "windows-service-ext": {
                            "service_name": "sirvizio",
                            "start_type": "SERVICE_AUTO_START",
                            "service_type": "SERVICE_WIN32_OWN_PROCESS",
                            "service_status": "SERVICE_RUNNING",
                            "service_dll_refs": [id("file", 1)],
                        },
                    },
                }),
            ),
        ),
        ok(
            "user-account with unix extension",
            sco(
                "user-account",
                json!({
                    "account_login": "jdoe",
                    "account_type": "unix",
                    "is_privileged": false,
                    "account_created": "2016-01-20T12:31:12Z",
                    "extensions": {
                        "unix-account-ext": {
                            "gid": 1001,
                            "groups": ["wheel"],
                            "home_dir": "/home/jdoe",
                            "shell": "/bin/bash",
                        },
                    },
                }),
            ),
        ),
        ok(
            "windows-registry-key with values",
            sco(
                "windows-registry-key",
                json!({
                    "key": "hkey_local_machine\\system\\bar\\foo",
                    "values": [{"name": "Foo", "data": "qwerty", "data_type": "REG_SZ"}],
                    "modified_time": "2016-01-20T12:31:12Z",
                    "creator_user_ref": id("user-account", 0),
                    "number_of_subkeys": 2,
                }),
            ),
        ),
        ok(
            "x509-certificate with v3 extensions",
            sco(
                "x509-certificate",
                json!({
                    "issuer": "C=ZA, ST=Western Cape, L=Cape Town, O=Thawte Consulting cc",
                    "validity_not_before": "2016-03-12T12:00:00Z",
                    "validity_not_after": "2016-08-21T12:00:00Z",
                    "subject_public_key_exponent": 65537,
                    "x509_v3_extensions": {
                        "basic_constraints": "critical,CA:TRUE",
                        "private_key_usage_period_not_before": "2016-03-12T12:00:00Z",
                    },
                }),
            ),
        ),
        ok(
            "domain-name resolving to addresses",
            sco(
                "domain-name",
                json!({
                    "value": "example.com",
                    "resolves_to_refs": [id("ipv4-addr", 0), id("domain-name", 1)],
                }),
            ),
        ),
        ok(
            "ipv4-addr with its references",
            sco(
                "ipv4-addr",
                json!({
                    "value": "198.51.100.3",
                    "resolves_to_refs": [id("mac-addr", 0)],
                    "belongs_to_refs": [id("autonomous-system", 0)],
                }),
            ),
        ),
        // Syntaxes borrowed from other standards, in their less common valid forms.
        ok(
            "url with every part of RFC 3986",
            sco(
                "url",
                json!({"value": "http://user:pw@[2001:db8::1]:8080/a/b;c?q=%20&r#top"}),
            ),
        ),
        ok(
            "url that is a URN",
            sco("url", json!({"value": "urn:isbn:0451450523"})),
        ),
        ok(
            "domain-name in capitals with a trailing dot",
            sco("domain-name", json!({"value": "WWW.Example.COM."})),
        ),
        ok(
            "internationalized domain-name (U-labels)",
            sco("domain-name", json!({"value": "bücher.例え.jp"})),
        ),
        ok(
            "internationalized domain-name (A-labels)",
            sco(
                "domain-name",
                json!({"value": "xn--bcher-kva.xn--r8jz45g.jp"}),
            ),
        ),
        ok(
            "right-to-left domain-name",
            sco("domain-name", json!({"value": "مثال.إختبار"})),
        ),
        ok(
            "artifact with a vendor media type",
            sco(
                "artifact",
                json!({
                    "mime_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    "payload_bin": "AAAA",
                }),
            ),
        ),
        ok(
            "artifact with a structured-syntax media type",
            sco(
                "artifact",
                json!({"mime_type": "image/svg+xml", "payload_bin": "AAAA"}),
            ),
        ),
        ok(
            "custom extension named in the <name>-ext style",
            with(
                indicator(),
                "extensions",
                json!({"x-acme-scoring-ext": {"score": 3}}),
            ),
        ),
        ok(
            "ids with version 5, version 1 and upper-case UUIDs",
            sco(
                "domain-name",
                json!({
                    "id": "domain-name--dd686e37-6889-53bd-8ae1-b1a503452613",
                    "value": "example.net",
                    "resolves_to_refs": [
                        "ipv4-addr--8e2e2d2b-17d4-11ef-938f-98ee46b3cd00",
                        "ipv6-addr--8E2E2D2B-17D4-4CBF-B38F-98EE46B3CD00",
                    ],
                }),
            ),
        ),
        ok(
            "TLP 1.0 TLP:WHITE exactly as published",
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
                "created": "2017-01-20T00:00:00.000Z",
                "definition_type": "tlp",
                "name": "TLP:WHITE",
                "definition": {"tlp": "white"},
            }),
        ),
        ok(
            "TLP 2.0 TLP:AMBER+STRICT with an external reference",
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
                "created": "2022-10-01T00:00:00.000Z",
                "name": "TLP:AMBER+STRICT",
                "external_references": [
                    {"source_name": "FIRST", "url": "https://www.first.org/tlp/"},
                ],
                "extensions": {
                    TLP_EXTENSION: {
                        "extension_type": "property-extension",
                        "tlp_2_0": "amber+strict",
                    },
                },
            }),
        ),
    ]
}

/// The published TLP 2.0 TLP:RED marking definition with `changes` merged in; a null in
/// `changes` removes the property.
fn tlp2_red(changes: Value) -> Value {
    published_with(
        json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
            "created": "2022-10-01T00:00:00.000Z",
            "name": "TLP:RED",
            "extensions": {
                TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "red"},
            },
        }),
        changes,
    )
}

/// The published TLP 1.0 TLP:RED marking definition with `changes` merged in, as for
/// [`tlp2_red`].
fn tlp1_red(changes: Value) -> Value {
    published_with(
        json!({
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            "created": "2017-01-20T00:00:00.000Z",
            "definition_type": "tlp",
            "name": "TLP:RED",
            "definition": {"tlp": "red"},
        }),
        changes,
    )
}

fn published_with(published: Value, changes: Value) -> Value {
    let mut object = merged(published, changes);
    if let Some(map) = object.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    object
}

/// A marking definition without `modified`, which marking definitions never have.
fn marking(props: Value) -> Value {
    without(sdo("marking-definition", props), "modified")
}

fn rejected() -> Vec<Case> {
    let gm = |marking: Value| with(indicator(), "granular_markings", json!([marking]));
    let refs = |to: &str| json!([id(to, 0)]);
    vec![
        // Required properties.
        bad(
            "indicator without pattern",
            without(indicator(), "pattern"),
            "pattern",
        ),
        bad(
            "indicator without valid_from",
            without(indicator(), "valid_from"),
            "valid_from",
        ),
        bad(
            "relationship without target",
            without(relationship(), "target_ref"),
            "target_ref",
        ),
        bad(
            "sighting without sighting_of_ref",
            without(sighting(), "sighting_of_ref"),
            "sighting_of_ref",
        ),
        bad(
            "malware without is_family",
            sdo("malware", json!({"name": "x"})),
            "is_family",
        ),
        bad(
            "malware family without name",
            sdo("malware", json!({"is_family": true})),
            "name",
        ),
        bad("identity without name", sdo("identity", json!({})), "name"),
        bad(
            "note without object_refs",
            sdo("note", json!({"content": "x"})),
            "object_refs",
        ),
        bad(
            "opinion without opinion",
            sdo("opinion", json!({"object_refs": refs("indicator")})),
            "opinion",
        ),
        bad(
            "report without published",
            sdo(
                "report",
                json!({"name": "r", "object_refs": refs("indicator")}),
            ),
            "published",
        ),
        bad(
            "grouping without context",
            sdo("grouping", json!({"object_refs": refs("indicator")})),
            "context",
        ),
        bad(
            "attack-pattern without name",
            sdo("attack-pattern", json!({})),
            "name",
        ),
        bad(
            "malware-analysis without product",
            sdo("malware-analysis", json!({"result": "benign"})),
            "product",
        ),
        bad(
            "malware-analysis without result",
            sdo("malware-analysis", json!({"product": "p"})),
            "result",
        ),
        bad(
            "observed-data without number_observed",
            without(observed_data(), "number_observed"),
            "number_observed",
        ),
        bad(
            "observed-data with neither form",
            without(observed_data(), "object_refs"),
            "object_refs",
        ),
        bad(
            "observed-data with both forms",
            with(
                observed_data(),
                "objects",
                json!({"0": {"type": "mutex", "name": "m"}}),
            ),
            "objects",
        ),
        bad(
            "location with nothing to place it",
            sdo("location", json!({"name": "somewhere"})),
            "region",
        ),
        bad(
            "location with latitude only",
            sdo("location", json!({"latitude": 10.0, "country": "id"})),
            "latitude",
        ),
        bad(
            "language-content without contents",
            sdo("language-content", json!({"object_ref": id("campaign", 0)})),
            "contents",
        ),
        bad(
            "extension-definition without creator",
            without(extension_definition(), "created_by_ref"),
            "created_by_ref",
        ),
        bad(
            "extension-definition without schema",
            without(extension_definition(), "schema"),
            "schema",
        ),
        bad(
            "SDO without spec_version",
            without(indicator(), "spec_version"),
            "spec_version",
        ),
        bad(
            "SDO without modified",
            without(indicator(), "modified"),
            "modified",
        ),
        bad(
            "SCO without id",
            json!({"type": "mutex", "name": "m"}),
            "id",
        ),
        bad(
            "ipv4-addr without value",
            sco("ipv4-addr", json!({})),
            "value",
        ),
        bad("mutex without name", sco("mutex", json!({})), "name"),
        bad("software without name", sco("software", json!({})), "name"),
        bad(
            "directory without path",
            sco("directory", json!({})),
            "path",
        ),
        bad(
            "autonomous-system without number",
            sco("autonomous-system", json!({"name": "x"})),
            "number",
        ),
        bad(
            "email-message without is_multipart",
            sco("email-message", json!({"subject": "hi"})),
            "is_multipart",
        ),
        bad(
            "network-traffic without protocols",
            without(network_traffic(), "protocols"),
            "protocols",
        ),
        bad(
            "network-traffic without endpoints",
            without(network_traffic(), "src_ref"),
            "src_ref",
        ),
        bad(
            "file without hashes or name",
            sco("file", json!({"size": 3})),
            "hashes",
        ),
        bad(
            "process with nothing of its own",
            sco("process", json!({"defanged": true})),
            "(object)",
        ),
        bad(
            "x509-certificate with nothing of its own",
            sco("x509-certificate", json!({})),
            "(object)",
        ),
        bad(
            "user-account with nothing of its own",
            sco("user-account", json!({"defanged": false})),
            "(object)",
        ),
        bad(
            "windows-registry-key with nothing of its own",
            sco("windows-registry-key", json!({})),
            "(object)",
        ),
        bad(
            "registry value with nothing of its own",
            sco("windows-registry-key", json!({"key": "k", "values": [{}]})),
            "values[0]",
        ),
        bad(
            "ntfs-ext with nothing of its own",
            sco("file", json!({"name": "a", "extensions": {"ntfs-ext": {}}})),
            "extensions.ntfs-ext",
        ),
        bad(
            "new-sdo custom object without created",
            without(
                sdo(
                    "my-favorite-sdo",
                    json!({"extensions": {NEW_SDO: {"extension_type": "new-sdo"}}}),
                ),
                "created",
            ),
            "created",
        ),
        // Timestamps and their order.
        bad(
            "valid_until equal to valid_from",
            with(indicator(), "valid_until", json!(CREATED)),
            "valid_until",
        ),
        bad(
            "modified before created",
            with(indicator(), "modified", json!("2015-04-06T20:03:48.000Z")),
            "modified",
        ),
        bad(
            "created without milliseconds",
            with(indicator(), "created", json!("2016-04-06T20:03:48Z")),
            "created",
        ),
        bad(
            "created that is no timestamp",
            with(indicator(), "created", json!("yesterday")),
            "created",
        ),
        bad(
            "campaign last_seen before first_seen",
            sdo(
                "campaign",
                json!({
                    "name": "c",
                    "first_seen": "2016-01-02T00:00:00Z",
                    "last_seen": "2016-01-01T00:00:00Z",
                }),
            ),
            "last_seen",
        ),
        bad(
            "observed-data last before first",
            with(
                observed_data(),
                "last_observed",
                json!("2015-12-21T18:00:00Z"),
            ),
            "last_observed",
        ),
        bad(
            "relationship stop_time equal to start_time",
            merged(
                relationship(),
                json!({"start_time": CREATED, "stop_time": CREATED}),
            ),
            "stop_time",
        ),
        bad(
            "network-traffic end before start",
            merged(
                network_traffic(),
                json!({"start": "2016-01-02T00:00:00Z", "end": "2016-01-01T00:00:00Z"}),
            ),
            "end",
        ),
        // Property types and ranges.
        bad(
            "number_observed of zero",
            with(observed_data(), "number_observed", json!(0)),
            "number_observed",
        ),
        bad(
            "number_observed too large",
            with(observed_data(), "number_observed", json!(1_000_000_000)),
            "number_observed",
        ),
        bad(
            "confidence above 100",
            with(indicator(), "confidence", json!(101)),
            "confidence",
        ),
        bad(
            "revoked as a string",
            with(indicator(), "revoked", json!("false")),
            "revoked",
        ),
        bad(
            "labels as a string",
            with(indicator(), "labels", json!("c2")),
            "labels",
        ),
        bad(
            "labels as an empty list",
            with(indicator(), "labels", json!([])),
            "labels",
        ),
        bad(
            "a null property",
            with(indicator(), "description", Value::Null),
            "description",
        ),
        bad(
            "lang that is no language tag",
            with(indicator(), "lang", json!("english language")),
            "lang",
        ),
        bad(
            "is_family as a string",
            sdo("malware", json!({"is_family": "yes"})),
            "is_family",
        ),
        bad(
            "sighting count below zero",
            with(sighting(), "count", json!(-1)),
            "count",
        ),
        bad(
            "latitude out of range",
            sdo("location", json!({"latitude": 91.0, "longitude": 0.0})),
            "latitude",
        ),
        bad(
            "relationship_type in capitals",
            with(relationship(), "relationship_type", json!("Indicates")),
            "relationship_type",
        ),
        bad(
            "port out of range",
            with(network_traffic(), "dst_port", json!(70_000)),
            "dst_port",
        ),
        bad(
            "is_active with an end",
            merged(
                network_traffic(),
                json!({"is_active": true, "end": CREATED}),
            ),
            "end",
        ),
        bad(
            "ipv4 value that is no address",
            sco("ipv4-addr", json!({"value": "198.51.100.300"})),
            "value",
        ),
        bad(
            "ipv6 value that is no address",
            sco("ipv6-addr", json!({"value": "2001:db8:::1"})),
            "value",
        ),
        bad(
            "mac-addr in capitals",
            sco("mac-addr", json!({"value": "D2:FB:49:24:37:18"})),
            "value",
        ),
        bad(
            "email-addr without an @",
            sco("email-addr", json!({"value": "john.example.com"})),
            "value",
        ),
        bad(
            "autonomous-system number as text",
            sco("autonomous-system", json!({"number": "15139"})),
            "number",
        ),
        bad(
            "file MD5 of the wrong length",
            sco("file", json!({"hashes": {"MD5": "abc123"}})),
            "hashes.MD5",
        ),
        bad(
            "payload_bin that is no base64",
            sco("artifact", json!({"payload_bin": "not base64!"})),
            "payload_bin",
        ),
        bad(
            "artifact with payload and url",
            sco(
                "artifact",
                json!({"payload_bin": "AAAA", "url": "https://x.test/a", "hashes": {"MD5": MD5}}),
            ),
            "url",
        ),
        bad(
            "artifact url without hashes",
            sco("artifact", json!({"url": "https://example.com/a"})),
            "hashes",
        ),
        bad(
            "decryption_key without algorithm",
            sco(
                "artifact",
                json!({"payload_bin": "AAAA", "decryption_key": "k"}),
            ),
            "decryption_key",
        ),
        bad(
            "multipart message with a plain body",
            sco(
                "email-message",
                json!({"is_multipart": true, "body": "hello"}),
            ),
            "body",
        ),
        bad(
            "MIME part with neither body nor body_raw_ref",
            sco(
                "email-message",
                json!({"is_multipart": true, "body_multipart": [{"content_type": "text/plain"}]}),
            ),
            "body_multipart[0].body",
        ),
        bad(
            "archive-ext without contains_refs",
            sco(
                "file",
                json!({"name": "a.zip", "extensions": {"archive-ext": {"comment": "empty"}}}),
            ),
            "extensions.archive-ext.contains_refs",
        ),
        bad(
            "windows-pebinary-ext without pe_type",
            sco(
                "file",
                json!({"name": "a.exe", "extensions": {"windows-pebinary-ext": {"imphash": "x"}}}),
            ),
            "extensions.windows-pebinary-ext.pe_type",
        ),
        bad(
            "http-request-ext without request_value",
            with(
                network_traffic(),
                "extensions",
                json!({"http-request-ext": {"request_method": "get"}}),
            ),
            "extensions.http-request-ext.request_value",
        ),
        bad(
            "socket option with a foreign prefix",
            with(
                network_traffic(),
                "extensions",
                json!({"socket-ext": {"address_family": "AF_INET", "options": {"FOO_BAR": 1}}}),
            ),
            "extensions.socket-ext.options.FOO_BAR",
        ),
        // Closed vocabularies.
        bad(
            "opinion outside opinion-enum",
            sdo(
                "opinion",
                json!({"opinion": "maybe", "object_refs": refs("indicator")}),
            ),
            "opinion",
        ),
        bad(
            "unknown encryption algorithm",
            sco(
                "artifact",
                json!({"payload_bin": "AAAA", "encryption_algorithm": "rot13"}),
            ),
            "encryption_algorithm",
        ),
        bad(
            "unknown socket address family",
            with(
                network_traffic(),
                "extensions",
                json!({"socket-ext": {"address_family": "AF_PIGEON"}}),
            ),
            "extensions.socket-ext.address_family",
        ),
        bad(
            "unknown integrity level",
            sco(
                "process",
                json!({"pid": 1, "extensions": {"windows-process-ext": {"integrity_level": "x"}}}),
            ),
            "extensions.windows-process-ext.integrity_level",
        ),
        bad(
            "unknown service status",
            sco(
                "process",
                json!({"pid": 1, "extensions": {"windows-service-ext": {"service_status": "x"}}}),
            ),
            "extensions.windows-service-ext.service_status",
        ),
        bad(
            "unknown registry data type",
            sco(
                "windows-registry-key",
                json!({"key": "k", "values": [{"name": "v", "data_type": "REG_WHATEVER"}]}),
            ),
            "values[0].data_type",
        ),
        bad(
            "unknown extension type",
            with(
                extension_definition(),
                "extension_types",
                json!(["new-thing"]),
            ),
            "extension_types[0]",
        ),
        bad(
            "extension_properties without top-level extensions",
            with(
                extension_definition(),
                "extension_properties",
                json!(["toxicity"]),
            ),
            "extension_properties",
        ),
        // References and their targets.
        bad(
            "created_by_ref to a malware",
            with(indicator(), "created_by_ref", json!(id("malware", 0))),
            "created_by_ref",
        ),
        bad(
            "created_by_ref that is no id",
            with(indicator(), "created_by_ref", json!("ACME")),
            "created_by_ref",
        ),
        bad(
            "marking ref to an identity",
            with(indicator(), "object_marking_refs", refs("identity")),
            "object_marking_refs[0]",
        ),
        bad(
            "relationship from a marking",
            with(relationship(), "source_ref", json!(TLP_GREEN)),
            "source_ref",
        ),
        bad(
            "relationship to a sighting",
            with(relationship(), "target_ref", json!(id("sighting", 0))),
            "target_ref",
        ),
        bad(
            "sighting of a relationship",
            with(sighting(), "sighting_of_ref", json!(id("relationship", 0))),
            "sighting_of_ref",
        ),
        bad(
            "sighting of an observable",
            with(sighting(), "sighting_of_ref", json!(id("ipv4-addr", 0))),
            "sighting_of_ref",
        ),
        bad(
            "sighted where a malware is",
            with(sighting(), "where_sighted_refs", refs("malware")),
            "where_sighted_refs[0]",
        ),
        bad(
            "observed_data_refs to an indicator",
            with(sighting(), "observed_data_refs", refs("indicator")),
            "observed_data_refs[0]",
        ),
        bad(
            "observed-data referring to an SDO",
            with(observed_data(), "object_refs", refs("indicator")),
            "object_refs[0]",
        ),
        bad(
            "report referring to a bundle",
            sdo(
                "report",
                json!({"name": "r", "published": CREATED, "object_refs": refs("bundle")}),
            ),
            "object_refs[0]",
        ),
        bad(
            "malware sample that is an address",
            sdo(
                "malware",
                json!({"is_family": false, "sample_refs": refs("ipv4-addr")}),
            ),
            "sample_refs[0]",
        ),
        bad(
            "analysis sample that is an indicator",
            sdo(
                "malware-analysis",
                json!({"product": "p", "result": "benign", "sample_ref": id("indicator", 0)}),
            ),
            "sample_ref",
        ),
        bad(
            "email from something that is no email-addr",
            sco(
                "email-message",
                json!({"is_multipart": false, "from_ref": id("ipv4-addr", 0)}),
            ),
            "from_ref",
        ),
        bad(
            "ipv4 resolving to a domain",
            sco(
                "ipv4-addr",
                json!({"value": "198.51.100.3", "resolves_to_refs": refs("domain-name")}),
            ),
            "resolves_to_refs[0]",
        ),
        bad(
            "traffic from a file",
            with(network_traffic(), "src_ref", json!(id("file", 0))),
            "src_ref",
        ),
        bad(
            "custom reference that is no id",
            sdo("x-acme-thing", json!({"x_acme_owner_ref": "someone"})),
            "x_acme_owner_ref",
        ),
        bad(
            "id of another type",
            with(indicator(), "id", json!(id("malware", 0))),
            "id",
        ),
        // Markings.
        bad(
            "granular marking without selectors",
            gm(json!({"marking_ref": TLP_GREEN})),
            "granular_markings[0].selectors",
        ),
        bad(
            "granular marking with marking_ref and lang",
            gm(json!({"marking_ref": TLP_GREEN, "lang": "en", "selectors": ["pattern"]})),
            "granular_markings[0].lang",
        ),
        bad(
            "granular marking with neither",
            gm(json!({"selectors": ["pattern"]})),
            "granular_markings[0].marking_ref",
        ),
        bad(
            "granular marking referring to an identity",
            gm(json!({"marking_ref": id("identity", 0), "selectors": ["pattern"]})),
            "granular_markings[0].marking_ref",
        ),
        bad(
            "selector that selects nothing",
            gm(json!({"marking_ref": TLP_GREEN, "selectors": ["description"]})),
            "granular_markings[0].selectors[0]",
        ),
        bad(
            "marking definition marking itself",
            marking(json!({
                "definition_type": "statement",
                "definition": {"statement": "s"},
                "object_marking_refs": [id("marking-definition", 0)],
            })),
            "object_marking_refs[0]",
        ),
        bad(
            "marking definition with nothing to define it",
            marking(json!({"name": "mystery"})),
            "definition",
        ),
        bad(
            "TLP 1.0 definition with an unknown colour",
            marking(json!({"definition_type": "tlp", "definition": {"tlp": "purple"}})),
            "definition.tlp",
        ),
        bad(
            "statement definition without statement",
            marking(json!({"definition_type": "statement", "definition": {"text": "s"}})),
            "definition.statement",
        ),
        // External references and kill chains.
        bad(
            "external reference without source_name",
            with(
                indicator(),
                "external_references",
                json!([{"url": "https://x.test"}]),
            ),
            "external_references[0].source_name",
        ),
        bad(
            "external reference with nothing but a source",
            with(
                indicator(),
                "external_references",
                json!([{"source_name": "veris"}]),
            ),
            "external_references[0].description",
        ),
        bad(
            "CVE reference without its id",
            sdo(
                "vulnerability",
                json!({"name": "v", "external_references": [{"source_name": "cve", "url": "u"}]}),
            ),
            "external_references[0].external_id",
        ),
        bad(
            "CAPEC reference with a malformed id",
            with(
                sdo("attack-pattern", json!({"name": "a"})),
                "external_references",
                json!([{"source_name": "capec", "external_id": "163"}]),
            ),
            "external_references[0].external_id",
        ),
        bad(
            "external reference hashed with an unknown algorithm",
            with(
                indicator(),
                "external_references",
                json!([{"source_name": "s", "url": "u", "hashes": {"CRC32": "abcd"}}]),
            ),
            "external_references[0].hashes.CRC32",
        ),
        bad(
            "kill chain phase without phase_name",
            with(
                indicator(),
                "kill_chain_phases",
                json!([{"kill_chain_name": "mitre"}]),
            ),
            "kill_chain_phases[0].phase_name",
        ),
        // Names of properties, types and extensions.
        bad(
            "property name with capitals",
            with(indicator(), "X_Acme", json!(1)),
            "X_Acme",
        ),
        bad(
            "property name too short",
            with(indicator(), "xy", json!(1)),
            "xy",
        ),
        bad(
            "property name starting with a digit",
            with(indicator(), "0day", json!(1)),
            "0day",
        ),
        bad(
            "type name with capitals",
            with(indicator(), "type", json!("Indicator")),
            "type",
        ),
        bad(
            "spec_version 2.0",
            with(indicator(), "spec_version", json!("2.0")),
            "spec_version",
        ),
        bad(
            "a bundle as an object",
            json!({"type": "bundle", "id": id("bundle", 0), "objects": []}),
            "type",
        ),
        bad(
            "extension-definition entry without extension_type",
            with(indicator(), "extensions", json!({EXTENSION: {"rank": 5}})),
            EXTENSION_TYPE_PATH,
        ),
        bad(
            "extension entry that is no object",
            with(indicator(), "extensions", json!({EXTENSION: "rank 5"})),
            EXTENSION_PATH,
        ),
        bad(
            "extension key that is a malformed id",
            with(
                indicator(),
                "extensions",
                json!({"extension-definition--1234": {"extension_type": "new-sdo"}}),
            ),
            "extensions.extension-definition--1234",
        ),
        bad(
            "empty extensions",
            with(indicator(), "extensions", json!({})),
            "extensions",
        ),
        // Extension names.
        bad(
            "extension key that is neither an id nor a <name>-ext",
            with(indicator(), "extensions", json!({"foo": {"rank": 1}})),
            "extensions.foo",
        ),
        bad(
            "extension key with an underscore",
            with(
                indicator(),
                "extensions",
                json!({"x_acme-ext": {"rank": 1}}),
            ),
            "extensions.x_acme-ext",
        ),
        bad(
            "extension key in capitals",
            sco(
                "file",
                json!({"name": "a", "extensions": {"Archive-ext": {"contains_refs": refs("file")}}}),
            ),
            "extensions.Archive-ext",
        ),
        // URLs (RFC 3986).
        bad(
            "url value that is no URL",
            sco("url", json!({"value": "not a url"})),
            "value",
        ),
        bad(
            "url value without a scheme",
            sco("url", json!({"value": "example.com/index.html"})),
            "value",
        ),
        bad(
            "url value with a space",
            sco("url", json!({"value": "http://example.com/a b"})),
            "value",
        ),
        bad(
            "url value with a stray percent sign",
            sco("url", json!({"value": "http://example.com/100%"})),
            "value",
        ),
        bad(
            "url value with raw non-ASCII characters",
            sco("url", json!({"value": "https://例え.jp/"})),
            "value",
        ),
        bad(
            "artifact url that is no URL",
            sco("artifact", json!({"url": "a.zip", "hashes": {"MD5": MD5}})),
            "url",
        ),
        bad(
            "external reference url that is no URL",
            with(
                indicator(),
                "external_references",
                json!([{"source_name": "veris", "url": "see the wiki"}]),
            ),
            "external_references[0].url",
        ),
        // Domain names.
        bad(
            "domain-name value that is no host name",
            sco("domain-name", json!({"value": "not a domain!"})),
            "value",
        ),
        bad(
            "domain-name with an empty label",
            sco("domain-name", json!({"value": "example..com"})),
            "value",
        ),
        bad(
            "domain-name with a label starting with a hyphen",
            sco("domain-name", json!({"value": "-example.com"})),
            "value",
        ),
        bad(
            "domain-name with an underscore",
            sco("domain-name", json!({"value": "_dmarc.example.com"})),
            "value",
        ),
        bad(
            "domain-name with a label over 63 characters",
            sco(
                "domain-name",
                json!({"value": format!("{}.com", "a".repeat(64))}),
            ),
            "value",
        ),
        bad(
            "domain-name with an A-label that is no Punycode of a valid label",
            sco("domain-name", json!({"value": "xn--abc.com"})),
            "value",
        ),
        bad(
            "domain-name U-label with a capital",
            sco("domain-name", json!({"value": "Bücher.example"})),
            "value",
        ),
        bad(
            "domain-name mixing right-to-left and Latin letters in a label",
            sco("domain-name", json!({"value": "aمثال.example"})),
            "value",
        ),
        // Media types (RFC 6838).
        bad(
            "artifact mime_type that is no media type",
            sco(
                "artifact",
                json!({"mime_type": "not/a/mime type", "payload_bin": "AAAA"}),
            ),
            "mime_type",
        ),
        bad(
            "artifact mime_type without a subtype",
            sco(
                "artifact",
                json!({"mime_type": "image", "payload_bin": "AAAA"}),
            ),
            "mime_type",
        ),
        bad(
            "artifact mime_type with an unregistered top-level type",
            sco(
                "artifact",
                json!({"mime_type": "x-foo/bar", "payload_bin": "AAAA"}),
            ),
            "mime_type",
        ),
        bad(
            "artifact mime_type with parameters",
            sco(
                "artifact",
                json!({"mime_type": "text/plain; charset=utf-8", "payload_bin": "AAAA"}),
            ),
            "mime_type",
        ),
        // RFC 4122 UUIDs.
        bad(
            "id with the nil UUID",
            with(
                indicator(),
                "id",
                json!("indicator--00000000-0000-0000-0000-000000000000"),
            ),
            "id",
        ),
        bad(
            "id with a UUID of version 0",
            with(
                indicator(),
                "id",
                json!("indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd00"),
            ),
            "id",
        ),
        bad(
            "id with a UUID of the NCS variant",
            with(
                indicator(),
                "id",
                json!("indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd00"),
            ),
            "id",
        ),
        bad(
            "reference to the nil UUID",
            with(
                indicator(),
                "created_by_ref",
                json!("identity--00000000-0000-0000-0000-000000000000"),
            ),
            "created_by_ref",
        ),
        bad(
            "extension-definition key with the nil UUID",
            with(
                indicator(),
                "extensions",
                json!({
                    "extension-definition--00000000-0000-0000-0000-000000000000":
                        {"extension_type": "property-extension"},
                }),
            ),
            "extensions.extension-definition--00000000-0000-0000-0000-000000000000",
        ),
        // Published TLP marking definitions must be sent as published.
        bad(
            "TLP 2.0 TLP:RED id with TLP 1.0 TLP:GREEN content",
            tlp2_red(json!({
                "definition_type": "tlp",
                "definition": {"tlp": "green"},
                "extensions": null,
            })),
            "definition",
        ),
        bad(
            "TLP 2.0 TLP:RED id without the TLP 2.0 extension",
            tlp2_red(json!({
                "definition_type": "statement",
                "definition": {"statement": "red"},
                "extensions": null,
            })),
            "extensions",
        ),
        bad(
            "TLP 2.0 TLP:RED id with the level green",
            tlp2_red(json!({
                "extensions": {
                    TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "green"},
                },
            })),
            "extensions",
        ),
        bad(
            "TLP 2.0 TLP:RED id with another name",
            tlp2_red(json!({"name": "TLP:GREEN"})),
            "name",
        ),
        bad(
            "TLP 2.0 TLP:RED id with a second extension",
            tlp2_red(json!({
                "extensions": {
                    TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": "red"},
                    EXTENSION: {"extension_type": "property-extension", "rank": 1},
                },
            })),
            "extensions",
        ),
        bad(
            "TLP 1.0 TLP:RED id with the level green",
            tlp1_red(json!({"definition": {"tlp": "green"}})),
            "definition",
        ),
        bad(
            "TLP 1.0 TLP:RED id as a statement",
            tlp1_red(json!({
                "definition_type": "statement",
                "definition": {"statement": "red"},
            })),
            "definition_type",
        ),
        bad(
            "TLP 1.0 TLP:RED id without its name",
            tlp1_red(json!({"name": null})),
            "name",
        ),
        bad(
            "TLP 1.0 TLP:RED id created at another time",
            tlp1_red(json!({"created": "2020-01-01T00:00:00.000Z"})),
            "created",
        ),
        bad(
            "TLP 1.0 TLP:RED id with a property the published one lacks",
            tlp1_red(json!({"created_by_ref": id("identity", 0)})),
            "created_by_ref",
        ),
        bad(
            "TLP definition under an unpublished id",
            marking(
                json!({"definition_type": "tlp", "name": "TLP:RED", "definition": {"tlp": "red"}}),
            ),
            "definition_type",
        ),
    ]
}

#[test]
fn rules_table() {
    let cases: Vec<Case> = accepted_minimal()
        .into_iter()
        .chain(accepted_rich())
        .chain(rejected())
        .collect();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let text = case.object.to_string();
        match (&case.expect, stix::parse_object(&text)) {
            (Accepted, Ok(object)) => assert_eq!(object.raw(), text),
            (Accepted, Err(rejection)) => failures.push(format!(
                "{}: expected acceptance, got: {rejection}",
                case.name
            )),
            (Rejected(property), Ok(_)) => failures.push(format!(
                "{}: expected a violation of `{property}`, was accepted",
                case.name
            )),
            (Rejected(property), Err(rejection)) => {
                if !rejection.violations.iter().any(|v| v.property == *property) {
                    failures.push(format!(
                        "{}: expected a violation of `{property}`, got: {rejection}",
                        case.name
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_defined_type_has_an_accepted_case() {
    let covered: Vec<String> = accepted_minimal()
        .iter()
        .filter_map(|c| c.object["type"].as_str().map(str::to_owned))
        .collect();
    for t in stix::types::DOMAIN_OBJECTS
        .iter()
        .chain(&stix::types::RELATIONSHIP_OBJECTS)
        .chain(&stix::types::OBSERVABLE_OBJECTS)
        .chain(&stix::types::META_OBJECTS)
    {
        assert!(covered.iter().any(|c| c == t), "no accepted case for {t}");
    }
}

#[test]
fn rejection_names_object_property_and_rule() {
    let object = with(indicator(), "valid_until", json!(CREATED));
    let rejection = stix::parse_object(&object.to_string()).unwrap_err();
    assert_eq!(rejection.id.as_deref(), Some(id("indicator", 0).as_str()));
    assert_eq!(
        rejection.to_string(),
        format!(
            "{}: property `valid_until`: must be later than `valid_from`",
            id("indicator", 0)
        )
    );
}

#[test]
fn every_violation_is_reported_not_just_the_first() {
    let object = json!({"type": "indicator", "id": id("indicator", 0), "confidence": 200});
    let rejection = stix::parse_object(&object.to_string()).unwrap_err();
    let properties: Vec<&str> = rejection
        .violations
        .iter()
        .map(|v| v.property.as_str())
        .collect();
    for expected in [
        "spec_version",
        "created",
        "modified",
        "pattern",
        "pattern_type",
        "valid_from",
        "confidence",
    ] {
        assert!(
            properties.contains(&expected),
            "{expected} missing from {properties:?}"
        );
    }
}
