//! The OpenAPI 3.1 description of the REST API (TAXII has its own specification). A test
//! checks that every operation listed here is routed.

use serde_json::{json, Value};

fn op(summary: &str, body: Option<&str>, ok: &str) -> Value {
    let mut operation = json!({
        "summary": summary,
        "security": [{ "basic": [] }, { "bearer": [] }],
        "responses": {
            ok: { "description": "success" },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "403": { "$ref": "#/components/responses/Error" },
            "404": { "$ref": "#/components/responses/Error" }
        }
    });
    if let Some(schema) = body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
        });
    }
    operation
}

fn path_param(name: &str) -> Value {
    json!([{ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }])
}

pub fn document() -> Value {
    let mut export = op(
        "Export the collection's readable objects (newest versions) as a STIX 2.1 bundle",
        None,
        "200",
    );
    export["parameters"] = path_param("collection");
    let mut object = op(
        "The versions of one object the caller may read, oldest first, each with its SHA-256, governing TLP and transparency-log leaf index; 404 when none is readable",
        None,
        "200",
    );
    object["parameters"] = json!([
        { "name": "collection", "in": "path", "required": true, "schema": { "type": "string" } },
        { "name": "object", "in": "path", "required": true, "schema": { "type": "string" }, "description": "a STIX id" }
    ]);
    object["responses"]["200"] = json!({
        "description": "the readable versions",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ObjectView" } } }
    });
    let mut revoke = op("Revoke a token", None, "204");
    revoke["parameters"] = path_param("token");
    let mut delete_user = op(
        "Delete an account and its sessions; what it did stays in the audit trail",
        None,
        "204",
    );
    delete_user["parameters"] = path_param("username");
    let mut disable_user = op(
        "Disable an account: its sessions close and it signs in to nothing (not your own)",
        None,
        "200",
    );
    disable_user["parameters"] = path_param("username");
    let mut enable_user = op("Enable a disabled account again", None, "200");
    enable_user["parameters"] = path_param("username");
    let mut audit = op(
        "Search the audit trail (instance admins: all; organisation admins: their own)",
        None,
        "200",
    );
    audit["parameters"] = json!([
        { "name": "actor", "in": "query", "schema": { "type": "string" } },
        { "name": "action", "in": "query", "schema": { "type": "string" } },
        { "name": "target", "in": "query", "schema": { "type": "string" }, "description": "events whose target contains this text" },
        { "name": "outcome", "in": "query", "schema": { "type": "string" }, "description": "events whose outcome begins with this text (`refused` finds every refusal)" },
        { "name": "org", "in": "query", "schema": { "type": "integer" } },
        { "name": "since", "in": "query", "schema": { "type": "string", "format": "date-time" } },
        { "name": "until", "in": "query", "schema": { "type": "string", "format": "date-time" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } }
    ]);
    let mut feed = op(
        "A protection feed for the caller's organisation, from the indicators it may use (any role, sensor included)",
        None,
        "200",
    );
    feed["description"] = json!(
        "Generated from the newest readable version of every indicator in the collections the caller's organisation may read, under the relay rule: AMBER and AMBER+STRICT content only within its original audience, RED only for its producer and recipients. Revoked, expired and not yet valid indicators are left out, and so are pattern parts that are not one value to block (AND, FOLLOWEDBY, WITHIN, REPEATS, LIKE, …); X-Kawal-Feed-Skipped counts them by reason. Output is sorted; the feed is cached until the exchange changes, and its ETag answers If-None-Match with 304."
    );
    feed["parameters"] = json!([
        { "name": "format", "in": "path", "required": true, "schema": { "enum": ["ip", "domain", "url", "hash", "suricata", "rpz", "nftables"] },
          "description": "ip, domain, url, hash: one value per line; suricata: rules; rpz: a DNS response policy zone; nftables: sets for nft -f" },
        { "name": "comments", "in": "query", "schema": { "type": "boolean", "default": false }, "description": "name the indicators behind each line (not suricata)" },
        { "name": "algorithm", "in": "query", "schema": { "enum": ["md5", "sha1", "sha256", "sha512"] }, "description": "hash only: bare hashes of one algorithm, as Suricata's file lists read them" },
        { "name": "action", "in": "query", "schema": { "enum": ["alert", "drop"], "default": "alert" }, "description": "suricata only" },
        { "name": "policy", "in": "query", "schema": { "enum": ["nxdomain", "nodata"], "default": "nxdomain" }, "description": "rpz only" },
        { "name": "tlp", "in": "query", "schema": { "enum": ["clear", "green", "amber", "amber+strict", "red"] }, "description": "leave out indicators above this TLP" }
    ]);
    feed["responses"]["200"] = json!({
        "description": "the feed",
        "headers": {
            "ETag": { "schema": { "type": "string" } },
            "X-Kawal-Feed-Entries": { "schema": { "type": "integer" } },
            "X-Kawal-Feed-Indicators": { "schema": { "type": "integer" } },
            "X-Kawal-Feed-Skipped": { "schema": { "type": "string" }, "description": "reason=count, …" }
        },
        "content": {
            "text/plain; charset=utf-8": { "schema": { "type": "string" } },
            "text/dns; charset=utf-8": { "schema": { "type": "string" } }
        }
    });
    feed["responses"]["304"] = json!({ "description": "If-None-Match names the current ETag" });
    let mut events = op(
        "Submit sensor events as NDJSON (a sensor or analyst token; the token's organisation owns them)",
        None,
        "202",
    );
    events["description"] = json!(
        "Each non-empty line is one event, normalised to STIX cyber-observables and matched against every indicator the organisation may read. A line that cannot be normalised is refused and counted, never dropped silently; the answer quotes the first refusals with their line numbers. Alerts are stored before the answer is sent."
    );
    events["parameters"] = json!([
        { "name": "format", "in": "query", "schema": { "type": "string", "default": "auto" },
          "description": "auto (Suricata EVE when a line has event_type, Zeek JSON when it has _path), suricata, zeek (JSON lines with _path), zeek.<conn|dns|http|ssl|files|x509>, or mapping:<name> for a mapping in the config file's [[mappings]]" }
    ]);
    events["requestBody"] = json!({
        "required": true,
        "content": { "application/x-ndjson": { "schema": { "type": "string" } } }
    });
    events["responses"]["202"] = json!({
        "description": "counts of received, normalised and refused events, the first refusals, and the ids of the alerts raised"
    });
    let mut refused = op(
        "The caller's organisation's refused events, from every source (admin or analyst)",
        None,
        "200",
    );
    refused["description"] = json!(
        "Per reason (json, syslog, framing, missing_field, bad_value, …): how many of the organisation's events were refused since the server started, and the last 10, each with its time, source (http, syslog:udp://…, syslog:tcp://…, a tailed file's path), the reason in words and the event's first 512 bytes."
    );
    refused["responses"]["200"] = json!({
        "description": "{refused: [{reason, count, samples: [{at, source, message, event}]}]}"
    });
    let mut alerts = op(
        "The caller's organisation's alerts, oldest first (roles that read content)",
        None,
        "200",
    );
    alerts["description"] = json!(
        "Each alert names the indicator and collection, the event's cyber-observables (`objects`) and its other fields as the sensor sent them (`fields`: a Zeek `uid`, a Suricata alert's `signature`, …; empty for retro-hunt alerts). Alerts are also POSTed, as this JSON, to the organisation's configured webhooks ([[webhooks]] url, org, secret), with X-Kawal-Delivery: <alert id> and X-Kawal-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>, retried with exponential backoff on failure. The alerts of each indicator over sighting_window_s also become one STIX sighting shared into the indicator's collection (see PUT /api/collections/{collection}/sightings)."
    );
    alerts["parameters"] = json!([
        { "name": "after", "in": "query", "schema": { "type": "integer" }, "description": "the `next` of the previous page" },
        { "name": "indicator", "in": "query", "schema": { "type": "string" } },
        { "name": "since", "in": "query", "schema": { "type": "string", "format": "date-time" }, "description": "observed at or after" },
        { "name": "until", "in": "query", "schema": { "type": "string", "format": "date-time" }, "description": "observed before" },
        { "name": "retro", "in": "query", "schema": { "type": "boolean" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }
    ]);
    let mut alert_stream = op(
        "The caller's organisation's alerts as server-sent events (`event: alert`), as they are raised",
        None,
        "200",
    );
    alert_stream["responses"]["200"] = json!({
        "description": "an event stream; `event: lagged` says how many alerts a slow reader missed",
        "content": { "text/event-stream": { "schema": { "type": "string" } } }
    });
    let mut sightings = op(
        "Whether the caller's organisation shares its sightings into the collection (its admins and analysts)",
        Some("SightingSharing"),
        "200",
    );
    sightings["parameters"] = path_param("collection");
    sightings["description"] = json!(
        "When an indicator read from a collection matches the events of an organisation's sensors, the alerts of each window (config sighting_window_s) become one STIX sighting and observed-data, added to that collection under the organisation's identity, marked with the collection's default TLP (or the indicator's, if stricter), so that the indicator's producer reads over TAXII where it hit. On by default; `{\"share\": false}` stops it for this collection. GET /api/collections shows the caller's choice as `shares_sightings`."
    );
    let mut start_hunt = op(
        "Start a hunt: a STIX pattern over the caller's organisation's archived events (its admins and analysts); answers at once with the hunt's id",
        Some("NewHunt"),
        "202",
    );
    start_hunt["description"] = json!(
        "The hunt runs in the background over the event archive (<data>/archive), seeing only the organisation's events in [since, until). A pattern that does not parse gets 400 with the parser's diagnostic; 503 when four hunts are running already. Alerts found by the retro-hunts of new indicators are listed at /api/alerts?retro=true."
    );
    start_hunt["responses"]["202"] = json!({
        "description": "{id, status: \"running\", progress: 0.0}",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Hunt" } } }
    });
    let mut show_hunt = op(
        "A hunt of the caller's organisation: status, progress in percent, hits so far and, once it ended, a summary; another organisation's id is not found",
        None,
        "200",
    );
    show_hunt["parameters"] = path_param("id");
    show_hunt["responses"]["200"] = json!({
        "description": "the hunt",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Hunt" } } }
    });
    let mut cancel_hunt = op(
        "Cancel a running hunt (it stops at its next block, keeping the hits found so far), or forget a finished one; answers with how it stood",
        None,
        "200",
    );
    cancel_hunt["parameters"] = path_param("id");
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Kawal REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Administration, exports, object views with their transparency-log leaves, protection feeds and the audit trail. Shared content is exchanged over TAXII 2.1 at /taxii2/; the log and witness endpoints (/log/, /add-checkpoint, /witness/) follow the C2SP tlog specifications."
        },
        "paths": {
            "/api/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI document" } } } },
            "/api/whoami": { "get": op("The calling token's organisation and role", None, "200") },
            "/api/orgs": {
                "get": op("List organisations", None, "200"),
                "post": op("Add an organisation (instance admins)", Some("NewOrg"), "201")
            },
            "/api/groups": {
                "get": op("List sharing groups (instance admins)", None, "200"),
                "post": op("Add a sharing group (instance admins)", Some("NewGroup"), "201")
            },
            "/api/collections": {
                "get": op("Collections visible to the caller, with can_read, can_write and shares_sightings (whether the caller's organisation shares its sightings into it)", None, "200"),
                "post": op("Add a collection (instance admins)", Some("NewCollection"), "201")
            },
            "/api/collections/{collection}/export": { "get": export },
            "/api/collections/{collection}/sightings": { "put": sightings },
            "/api/collections/{collection}/objects/{object}": { "get": object },
            "/api/tokens": {
                "get": op("List tokens the caller administers", None, "200"),
                "post": op("Issue a token; the secret is shown once", Some("NewToken"), "201")
            },
            "/api/tokens/{token}": { "delete": revoke },
            "/api/users": {
                "get": op("List the web console's accounts the caller administers", None, "200"),
                "post": op("Add an account to an organisation (instance admins: any; organisation admins: their own)", Some("NewUser"), "201")
            },
            "/api/users/{username}": { "delete": delete_user },
            "/api/users/{username}/disabled": { "put": disable_user, "delete": enable_user },
            "/api/audit": { "get": audit },
            "/api/feeds/{format}": { "get": feed },
            "/api/events": { "post": events },
            "/api/events/refused": { "get": refused },
            "/api/alerts": { "get": alerts },
            "/api/alerts/stream": { "get": alert_stream },
            "/api/hunts": { "post": start_hunt },
            "/api/hunts/{id}": { "get": show_hunt, "delete": cancel_hunt },
            "/api/log/proof/inclusion": { "get": {
                "summary": "Inclusion proof of leaf `index` in the log tree of `size` leaves (RFC 9162 §2.1.3)",
                "parameters": [
                    { "name": "index", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 0 } },
                    { "name": "size", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 1 } }
                ],
                "responses": { "200": { "description": "{index, size, proof: [base64 SHA-256]}" }, "400": { "$ref": "#/components/responses/Error" } }
            } },
            "/api/log/proof/consistency": { "get": {
                "summary": "Consistency proof between the log trees of `old` and `new` leaves (RFC 9162 §2.1.4)",
                "parameters": [
                    { "name": "old", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 1 } },
                    { "name": "new", "in": "query", "required": true, "schema": { "type": "integer", "minimum": 1 } }
                ],
                "responses": { "200": { "description": "{old, new, proof: [base64 SHA-256]}" }, "400": { "$ref": "#/components/responses/Error" } }
            } }
        },
        "components": {
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic", "description": "token id as user name, secret as password" },
                "bearer": { "type": "http", "scheme": "bearer", "description": "TOKEN_ID:SECRET" }
            },
            "responses": {
                "Error": {
                    "description": "A TAXII-style error object",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["title", "description", "http_status"],
                    "properties": {
                        "title": { "type": "string" },
                        "description": { "type": "string" },
                        "http_status": { "type": "string" }
                    }
                },
                "ObjectView": {
                    "type": "object",
                    "required": ["collection", "id", "versions"],
                    "properties": {
                        "collection": { "type": "string" },
                        "id": { "type": "string" },
                        "versions": { "type": "array", "items": {
                            "type": "object",
                            "required": ["version", "date_added", "sha256", "tlp", "leaf", "object"],
                            "properties": {
                                "version": { "type": "string", "format": "date-time" },
                                "date_added": { "type": "string", "format": "date-time" },
                                "sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "SHA-256 of the object's exact bytes, as its log leaf records it" },
                                "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] },
                                "leaf": { "type": ["integer", "null"], "minimum": 0, "description": "index of the version's leaf in the transparency log, checked with /api/log/proof/inclusion against /log/checkpoint; null for a version stored while transparency_log was off" },
                                "object": { "type": "object", "description": "the STIX object, byte for byte as received" }
                            }
                        } }
                    }
                },
                "NewOrg": {
                    "type": "object", "additionalProperties": false, "required": ["name"],
                    "properties": { "name": { "type": "string" }, "country": { "type": "string", "pattern": "^[A-Z]{2}$" } }
                },
                "NewGroup": {
                    "type": "object", "additionalProperties": false, "required": ["name", "members"],
                    "properties": { "name": { "type": "string" }, "members": { "type": "array", "items": { "type": "string" } } }
                },
                "NewCollection": {
                    "type": "object", "additionalProperties": false, "required": ["title", "group"],
                    "properties": {
                        "title": { "type": "string" },
                        "description": { "type": "string" },
                        "group": { "type": "string" },
                        "writers": { "type": "array", "items": { "type": "string" } },
                        "default_tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] },
                        "public": { "type": "boolean" }
                    }
                },
                "NewHunt": {
                    "type": "object", "additionalProperties": false, "required": ["pattern"],
                    "properties": {
                        "pattern": { "type": "string", "description": "a STIX 2.1 pattern" },
                        "since": { "type": "string", "description": "an RFC 3339 timestamp or an age before now (7d, 12h, 30m); 7d when omitted" },
                        "until": { "type": "string", "description": "exclusive; an RFC 3339 timestamp or an age; now when omitted" }
                    }
                },
                "Hunt": {
                    "type": "object", "required": ["id", "status", "progress"],
                    "properties": {
                        "id": { "type": "string" },
                        "status": { "enum": ["running", "done", "failed", "cancelled"] },
                        "progress": { "type": "number", "minimum": 0, "maximum": 100, "description": "percent of the archive's bytes in the time range read" },
                        "pattern": { "type": "string" },
                        "since": { "type": "string", "format": "date-time" },
                        "until": { "type": "string", "format": "date-time" },
                        "hits": { "type": "array", "description": "the first 1000 hits", "items": {
                            "type": "object",
                            "properties": {
                                "at": { "type": "string", "format": "date-time", "description": "the event's time" },
                                "source": { "type": "string" },
                                "objects": { "type": "array", "items": { "type": "object" }, "description": "the event's cyber-observables" },
                                "events": { "type": "integer", "description": "events the match spans" }
                            }
                        } },
                        "hits_total": { "type": "integer" },
                        "hits_truncated": { "type": "boolean" },
                        "summary": { "type": ["object", "null"], "description": "segments, segments_skipped, blocks_read, blocks_skipped, events_in_scope, events_matched, hits, damaged" },
                        "error": { "type": ["string", "null"] }
                    }
                },
                "SightingSharing": {
                    "type": "object", "additionalProperties": false, "required": ["share"],
                    "properties": { "share": { "type": "boolean" } }
                },
                "NewToken": {
                    "type": "object", "additionalProperties": false, "required": ["org", "role"],
                    "properties": { "org": { "type": "string" }, "role": { "enum": ["admin", "analyst", "reader", "sensor"] } }
                },
                "NewUser": {
                    "type": "object", "additionalProperties": false,
                    "required": ["username", "org", "role", "password"],
                    "properties": {
                        "username": { "type": "string", "pattern": "^[A-Za-z0-9._@-]{1,64}$" },
                        "org": { "type": "string" },
                        "role": { "enum": ["admin", "analyst", "reader", "sensor"] },
                        "password": { "type": "string", "minLength": 12 }
                    }
                }
            }
        }
    });
    for (path, operations) in case_paths() {
        document["paths"][path] = operations;
    }
    for (name, schema) in case_schemas() {
        document["components"]["schemas"][name] = schema;
    }
    document
}

/// The case endpoints, kept apart so that no one `json!` grows past the macro's recursion
/// limit.
fn case_paths() -> serde_json::Map<String, Value> {
    let case_op = |summary: &str, body: Option<&str>, ok: &str, params: &[&str]| {
        let mut operation = op(summary, body, ok);
        operation["parameters"] = json!(params
            .iter()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect::<Vec<_>>());
        operation
    };
    let mut case_objects = case_op(
        "Add STIX objects to the case, as a TAXII POST to its collection would (sightings, evidence artifacts, observed-data); X-Kawal-Recipients names the readers of RED objects; answers with the TAXII status",
        None,
        "202",
        &["id"],
    );
    case_objects["requestBody"] = json!({
        "required": true,
        "content": { "application/json": { "schema": { "type": "object", "description": "a TAXII envelope or STIX bundle" } } }
    });
    let mut case_view = case_op(
        "The case as the caller may read it: its properties, TLP, owner, the organisations it is shared with, whether the caller may contribute, the merged timeline (every readable version of its objects in time order, nothing of what the caller may not read), tasks, links and evidence files; 404 when the caller may read none of it",
        None,
        "200",
        &["id"],
    );
    case_view["description"] = json!(
        "A case is a STIX 2.1 incident carrying the case extension (GET /api/extensions) and the objects of its collection. Only the owner writes there; organisations it is shared with contribute notes, tasks they own, links, sightings and evidence under their own identity, when the owner allows contributions, never marked below the case's TLP."
    );
    let mut upload = case_op(
        "Upload an evidence file to the case (its owner, or a partner allowed to contribute): the raw body, kept content-addressed by its SHA-256, described in the case by an artifact, a file naming it and a link from the incident",
        None,
        "201",
        &["id"],
    );
    upload["description"] = json!(
        "The body is the file's bytes; `Content-Type` its media type (the artifact's mime_type, served back with it). The bytes are synced to <data>/evidence/<first 2 hex>/<sha256> before the artifact is stored; bytes kept already are not written again. The artifact carries hashes.SHA-256 and the url of GET /api/evidence/{sha256}, never the bytes inline; TLP and the transparency log apply to it as to any contribution. 413 beyond evidence_max_bytes."
    );
    if let Some(parameters) = upload["parameters"].as_array_mut() {
        parameters.extend([
            json!({ "name": "filename", "in": "query", "schema": { "type": "string" }, "description": "the file's name (or the X-Kawal-Filename header); a name, not a path" }),
            json!({ "name": "tlp", "in": "query", "schema": { "enum": ["clear", "green", "amber", "amber+strict", "red"] }, "description": "the case's TLP when omitted; RED objects are read by the organisations in X-Kawal-Recipients" }),
        ]);
    }
    upload["requestBody"] = json!({
        "required": true,
        "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } }
    });
    upload["responses"]["201"] = json!({
        "description": "{sha256, size, new (whether the bytes were new to this server), artifact, file, link, url}"
    });
    upload["responses"]["413"] = json!({ "$ref": "#/components/responses/Error" });
    let mut evidence = case_op(
        "The bytes of an evidence file, to a caller that may read an artifact an upload of those bytes stored (an artifact merely naming the hash grants nothing); 404 otherwise",
        None,
        "200",
        &["sha256"],
    );
    evidence["responses"]["200"] = json!({
        "description": "the bytes, with the artifact's mime_type as Content-Type, X-Content-Type-Options: nosniff and Content-Disposition: attachment with the uploaded name",
        "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } }
    });
    let mut instantiate = case_op(
        "Instantiate a CACAO 2.0 playbook on the case (its owner): stored as a course-of-action carrying it, linked from the incident, its action steps made tasks in workflow order; an invalid playbook gets 400 naming the JSON path of the fault",
        None,
        "201",
        &["id"],
    );
    instantiate["requestBody"] = json!({
        "required": true,
        "content": { "application/json": { "schema": { "oneOf": [
            { "type": "object", "description": "a CACAO 2.0 playbook (type: playbook)" },
            { "$ref": "#/components/schemas/LibraryRef" }
        ] } } }
    });
    instantiate["description"] = json!(
        "A playbook of the library is copied into the case only if it is TLP:CLEAR or GREEN (403 otherwise), since a case's audience grows whenever it is shared; the copy and its tasks are marked no less restrictively than the template, and the copy names it in template_ref."
    );
    instantiate["responses"]["201"] =
        json!({ "description": "{course_of_action, tasks: [ids in workflow order]}" });
    let library = op(
        "The playbook library: the newest readable version of each valid CACAO playbook stored as a course-of-action in the collections the caller may read (cases' copies aside), with its steps in workflow order",
        None,
        "200",
    );
    let mut import = op(
        "Import a CACAO 2.0 playbook (the JSON body) into the library, in a collection the caller writes to; it is shared with that collection's audience like any object. Its id is course-of-action--<the playbook's UUID>, versioned by the playbook's modified; an invalid playbook gets 400 naming the JSON path of the fault",
        None,
        "201",
    );
    import["parameters"] = json!([
        { "name": "collection", "in": "query", "required": true, "schema": { "type": "string" } },
        { "name": "tlp", "in": "query", "schema": { "enum": ["clear", "green", "amber", "amber+strict", "red"] }, "description": "the collection's default TLP governs when omitted" }
    ]);
    import["requestBody"] = json!({
        "required": true,
        "content": { "application/json": { "schema": { "type": "object", "description": "a CACAO 2.0 playbook" } } }
    });
    let paths = json!({
            "/api/extensions": { "get": { "summary": "The STIX extension definitions of cases, tasks and playbooks, as a bundle", "responses": { "200": { "description": "a STIX bundle" } } } },
        "/api/cases": {
            "get": op("The cases the caller may read, most recently changed first", None, "200"),
            "post": op("Open a case (admins and analysts): a collection of its own, shared with nobody yet, and its incident", Some("NewCase"), "201")
        },
        "/api/cases/metrics": { "get": op("Means of the time to acknowledge, contain and resolve, per owning organisation and per category, and the number of cross-border cases, over the cases the caller may read", None, "200") },
        "/api/cases/escalate": { "post": op("Escalate alerts of the caller's organisation into a new case (`new`) or one it owns (`case`): their observables, observed-data, one sighting per indicator and a link to each indicator", Some("Escalate"), "201") },
        "/api/cases/{id}": {
            "get": case_view,
            "patch": case_op("Change the case (its owner): status along new → triage → in-progress → contained → resolved → closed (reopened to in-progress; 409 otherwise), severity, category, affected organisations and assets, assignees, due date; a new version of its incident", Some("CaseUpdate"), "200", &["id"])
        },
        "/api/cases/{id}/notes": { "post": case_op("Add a note (the owner, or a partner allowed to contribute); marked with the case's TLP unless `tlp` says otherwise; RED notes are read by `recipients` only", Some("NewNote"), "201", &["id"]) },
        "/api/cases/{id}/tasks": { "post": case_op("Add a task; partners add tasks they own", Some("NewTask"), "201", &["id"]) },
        "/api/cases/{id}/tasks/{object}": { "put": case_op("Move a task the caller's organisation made to a status (open, in-progress, done, cancelled)", Some("TaskStatus"), "200", &["id", "object"]) },
        "/api/cases/{id}/links": { "post": case_op("Link an indicator, observed-data, malware, vulnerability, identity, course of action or artifact to the case", Some("NewLink"), "201", &["id"]) },
        "/api/cases/{id}/objects": { "post": case_objects },
        "/api/cases/{id}/share": { "post": case_op("Share the case (its owner) with organisations and the members of sharing groups at a TLP, allowing their contributions or not", Some("Share"), "200", &["id"]) },
        "/api/cases/{id}/playbooks": { "post": instantiate },
        "/api/playbooks": { "get": library, "post": import },
        "/api/cases/{id}/evidence": { "post": upload },
        "/api/evidence/{sha256}": { "get": evidence },
        "/api/cases/{id}/export": { "get": case_op("The case as a STIX 2.1 bundle: the extension definitions, then every readable version of its objects in the order stored (TLP:RED left out); `kawal import` recreates the case on another instance", None, "200", &["id"]) }
    });
    match paths {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn case_schemas() -> serde_json::Map<String, Value> {
    let schemas = json!({
                "NewCase": {
                    "type": "object", "additionalProperties": false, "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "description": { "type": "string" },
                        "severity": { "enum": ["low", "medium", "high", "critical"] },
                        "category": { "type": "string" },
                        "affected_organisation_refs": { "type": "array", "items": { "type": "string" } },
                        "affected_assets": { "type": "array", "items": { "type": "string" } },
                        "assignee_refs": { "type": "array", "items": { "type": "string" } },
                        "assignee_users": { "type": "array", "items": { "type": "string" } },
                        "due": { "type": "string", "format": "date-time" },
                        "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] }
                    }
                },
                "CaseUpdate": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "status": { "enum": ["new", "triage", "in-progress", "contained", "resolved", "closed"] },
                        "severity": { "enum": ["low", "medium", "high", "critical"] },
                        "category": { "type": "string" },
                        "name": { "type": "string" },
                        "description": { "type": "string" },
                        "affected_organisation_refs": { "type": "array", "items": { "type": "string" } },
                        "affected_assets": { "type": "array", "items": { "type": "string" } },
                        "assignee_refs": { "type": "array", "items": { "type": "string" } },
                        "assignee_users": { "type": "array", "items": { "type": "string" } },
                        "due": { "type": "string", "format": "date-time" }
                    }
                },
                "NewNote": {
                    "type": "object", "additionalProperties": false, "required": ["content"],
                    "properties": {
                        "content": { "type": "string" },
                        "abstract": { "type": "string" },
                        "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] },
                        "recipients": { "type": "array", "items": { "type": "string" }, "description": "organisation names that read a RED note" }
                    }
                },
                "NewTask": {
                    "type": "object", "additionalProperties": false, "required": ["name"],
                    "properties": {
                        "name": { "type": "string" },
                        "description": { "type": "string" },
                        "owner": { "type": "string", "description": "an organisation the case is shared with; the caller's own by default" },
                        "due": { "type": "string", "format": "date-time" },
                        "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] },
                        "recipients": { "type": "array", "items": { "type": "string" } }
                    }
                },
                "TaskStatus": {
                    "type": "object", "additionalProperties": false, "required": ["status"],
                    "properties": { "status": { "enum": ["open", "in-progress", "done", "cancelled"] } }
                },
                "NewLink": {
                    "type": "object", "additionalProperties": false, "required": ["target_ref"],
                    "properties": {
                        "target_ref": { "type": "string" },
                        "relationship_type": { "type": "string", "default": "related-to" },
                        "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] }
                    }
                },
                "Share": {
                    "type": "object", "additionalProperties": false, "required": ["tlp"],
                    "properties": {
                        "organisations": { "type": "array", "items": { "type": "string" } },
                        "groups": { "type": "array", "items": { "type": "string" } },
                        "tlp": { "enum": ["clear", "green", "amber", "amber+strict", "red"] },
                        "contributions": { "type": "boolean", "default": false }
                    }
                },
                "LibraryRef": {
                    "type": "object", "additionalProperties": false, "required": ["playbook_ref"],
                    "properties": { "playbook_ref": { "type": "string", "description": "the id of a course-of-action in GET /api/playbooks" } }
                },
                "Escalate": {
                    "type": "object", "additionalProperties": false, "required": ["alerts"],
                    "properties": {
                        "alerts": { "type": "array", "items": { "type": "string" } },
                        "case": { "type": "string", "description": "an existing case the caller owns" },
                        "new": { "$ref": "#/components/schemas/NewCase" }
                    }
                }
    });
    match schemas {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
