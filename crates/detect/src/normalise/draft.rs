//! What a normaliser learnt from one event, already checked, and how it becomes STIX 2.1
//! cyber-observables. Every normaliser fills a [`Draft`]; only this module writes objects,
//! so all sources produce the same shapes and the same deterministic ids.

use std::net::IpAddr;

use serde_json::{Map, Value};
use stix::Timestamp;
use uuid::Uuid;

#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub flow: Flow,
    /// Addresses seen outside a connection (a file's hosts, say).
    pub addresses: Vec<IpAddr>,
    pub domains: Vec<String>,
    pub resolutions: Vec<Resolution>,
    pub urls: Vec<String>,
    pub emails: Vec<String>,
    pub files: Vec<FileDraft>,
    pub certificates: Vec<CertificateDraft>,
}

/// The connection an event belongs to: STIX `network-traffic`.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    /// Transport and application protocols, lowercase, outermost first; the network layer
    /// is added from the addresses.
    pub protocols: Vec<String>,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub src_bytes: Option<u64>,
    pub dst_bytes: Option<u64>,
    pub src_packets: Option<u64>,
    pub dst_packets: Option<u64>,
    pub http: Option<HttpRequest>,
}

/// An HTTP request: STIX `http-request-ext` on the connection.
#[derive(Debug, Default)]
pub(crate) struct HttpRequest {
    pub method: Option<String>,
    pub target: Option<String>,
    pub version: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// A DNS name and what it resolved to.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub name: String,
    pub answers: Vec<Answer>,
}

#[derive(Debug)]
pub(crate) enum Answer {
    Address(IpAddr),
    Name(String),
}

#[derive(Debug, Default)]
pub(crate) struct FileDraft {
    pub name: Option<String>,
    pub size: Option<u64>,
    pub mime_type: Option<String>,
    /// STIX hash algorithm names (`MD5`, `SHA-1`, `SHA-256`, …) and lowercase hex values.
    pub hashes: Vec<(&'static str, String)>,
}

#[derive(Debug, Default)]
pub(crate) struct CertificateDraft {
    pub hashes: Vec<(&'static str, String)>,
    pub serial_number: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub version: Option<String>,
    pub signature_algorithm: Option<String>,
    pub subject_public_key_algorithm: Option<String>,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub subject_alternative_name: Option<String>,
}

impl Flow {
    fn is_empty(&self) -> bool {
        self.src.is_none() && self.dst.is_none()
    }
}

impl HttpRequest {
    pub fn header(&mut self, name: &str, value: String) {
        self.headers.push((name.to_owned(), value));
    }
}

/// Objects being assembled.
struct Objects {
    list: Vec<Value>,
    /// The type and UUID of each object in `list`, to find one again without reading it.
    ids: Vec<(&'static str, Uuid)>,
}

impl Objects {
    /// Adds an object unless one with the same id is there; returns the id.
    fn add(&mut self, type_name: &'static str, object: Map<String, Value>) -> String {
        // Objects without contributing properties get a random id, as §2.9 asks.
        let uuid =
            stix::sco_id::deterministic_uuid(type_name, &object).unwrap_or_else(Uuid::new_v4);
        self.add_with(type_name, uuid, object)
    }

    fn add_with(
        &mut self,
        type_name: &'static str,
        uuid: Uuid,
        mut object: Map<String, Value>,
    ) -> String {
        let id = stix::sco_id::id_text(type_name, uuid);
        if !self.ids.contains(&(type_name, uuid)) {
            self.ids.push((type_name, uuid));
            object.insert("type".to_owned(), Value::String(type_name.to_owned()));
            object.insert("id".to_owned(), Value::String(id.clone()));
            self.list.push(Value::Object(object));
        }
        id
    }

    fn address(&mut self, ip: IpAddr) -> String {
        let type_name = match ip {
            IpAddr::V4(_) => "ipv4-addr",
            IpAddr::V6(_) => "ipv6-addr",
        };
        self.valued(type_name, ip_text(ip))
    }

    /// An object whose one contributing property is `value`; its id comes from the value
    /// alone, without reading the object back.
    fn valued(&mut self, type_name: &'static str, value: String) -> String {
        let uuid = stix::sco_id::value_uuid(&value);
        let mut object = Map::new();
        object.insert("value".to_owned(), Value::String(value));
        self.add_with(type_name, uuid, object)
    }
}

/// An address as `Display` writes it; IPv4, which nearly every event carries, without the
/// formatting machinery, which showed in profiles.
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

fn put(object: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    object.insert(key.to_owned(), value.into());
}

fn put_some<T: Into<Value>>(object: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        put(object, key, v);
    }
}

fn hashes(list: Vec<(&'static str, String)>) -> Map<String, Value> {
    list.into_iter()
        .map(|(algorithm, value)| (algorithm.to_owned(), Value::String(value)))
        .collect()
}

/// The `network-traffic` object of a connection, its addresses added to `objects`, and its
/// UUID, computed from the typed fields as they are written rather than read back from the
/// object: a connection has more contributing properties than any other observable.
fn traffic(flow: Flow, objects: &mut Objects) -> (Uuid, Map<String, Value>) {
    let network = match flow.src.or(flow.dst) {
        Some(IpAddr::V6(_)) => "ipv6",
        _ => "ipv4",
    };
    let src_ref = flow.src.map(|ip| objects.address(ip));
    let dst_ref = flow.dst.map(|ip| objects.address(ip));
    let mut protocols = vec![Value::String(network.to_owned())];
    for p in flow.protocols {
        if !protocols.iter().any(|q| q.as_str() == Some(&p)) {
            protocols.push(Value::String(p));
        }
    }
    let protocols = Value::Array(protocols);
    let start = flow.start.map(|t| t.to_string());
    let end = flow
        .end
        .filter(|end| flow.start.is_none_or(|s| s <= *end))
        .map(|t| t.to_string());
    // STIX requires both the method and the request target.
    let extensions = flow.http.and_then(|http| {
        let (Some(method), Some(target)) = (http.method, http.target) else {
            return None;
        };
        let mut request = Map::new();
        put(&mut request, "request_method", method);
        put(&mut request, "request_value", target);
        put_some(&mut request, "request_version", http.version);
        if !http.headers.is_empty() {
            let headers: Map<String, Value> = http
                .headers
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            put(&mut request, "request_header", headers);
        }
        let mut extensions = Map::new();
        put(&mut extensions, "http-request-ext", request);
        Some(Value::Object(extensions))
    });

    let mut id = stix::sco_id::ContributingText::new();
    if let Some(port) = flow.dst_port {
        id.integer("dst_port", port.into());
    }
    if let Some(dst_ref) = &dst_ref {
        id.string("dst_ref", dst_ref);
    }
    if let Some(end) = &end {
        id.string("end", end);
    }
    if let Some(extensions) = &extensions {
        id.json("extensions", extensions);
    }
    id.json("protocols", &protocols);
    if let Some(port) = flow.src_port {
        id.integer("src_port", port.into());
    }
    if let Some(src_ref) = &src_ref {
        id.string("src_ref", src_ref);
    }
    if let Some(start) = &start {
        id.string("start", start);
    }
    let uuid = id.uuid().unwrap_or_else(Uuid::new_v4);

    let mut traffic = Map::new();
    put_some(&mut traffic, "src_ref", src_ref);
    put_some(&mut traffic, "dst_ref", dst_ref);
    put_some(&mut traffic, "src_port", flow.src_port);
    put_some(&mut traffic, "dst_port", flow.dst_port);
    put(&mut traffic, "protocols", protocols);
    put_some(&mut traffic, "start", start);
    if let Some(end) = end {
        put(&mut traffic, "end", end);
        put(&mut traffic, "is_active", false);
    }
    put_some(&mut traffic, "src_byte_count", flow.src_bytes);
    put_some(&mut traffic, "dst_byte_count", flow.dst_bytes);
    put_some(&mut traffic, "src_packets", flow.src_packets);
    put_some(&mut traffic, "dst_packets", flow.dst_packets);
    put_some(&mut traffic, "extensions", extensions);
    (uuid, traffic)
}

impl Draft {
    pub fn is_empty(&self) -> bool {
        self.flow.is_empty()
            && self.addresses.is_empty()
            && self.domains.is_empty()
            && self.resolutions.is_empty()
            && self.urls.is_empty()
            && self.emails.is_empty()
            && self
                .files
                .iter()
                .all(|f| f.name.is_none() && f.hashes.is_empty())
            && self.certificates.is_empty()
    }

    /// The cyber-observables, each once, with deterministic ids.
    pub fn into_objects(self) -> Vec<Value> {
        let mut objects = Objects {
            list: Vec::with_capacity(4),
            ids: Vec::with_capacity(4),
        };
        if !self.flow.is_empty() {
            let (uuid, traffic) = traffic(self.flow, &mut objects);
            objects.add_with("network-traffic", uuid, traffic);
        }
        for ip in self.addresses {
            objects.address(ip);
        }
        for resolution in self.resolutions {
            let refs: Vec<Value> = resolution
                .answers
                .into_iter()
                .map(|answer| match answer {
                    Answer::Address(ip) => objects.address(ip),
                    Answer::Name(name) => objects.valued("domain-name", name),
                })
                .fold(Vec::new(), |mut refs, id| {
                    let id = Value::String(id);
                    if !refs.contains(&id) {
                        refs.push(id);
                    }
                    refs
                });
            let mut name = Map::new();
            put(&mut name, "value", resolution.name);
            if !refs.is_empty() {
                put(&mut name, "resolves_to_refs", refs);
            }
            objects.add("domain-name", name);
        }
        for domain in self.domains {
            objects.valued("domain-name", domain);
        }
        for url in self.urls {
            objects.valued("url", url);
        }
        for email in self.emails {
            objects.valued("email-addr", email);
        }
        for file in self.files {
            // STIX asks a file for a name or hashes; a size or type alone identifies nothing.
            if file.name.is_none() && file.hashes.is_empty() {
                continue;
            }
            let mut object = Map::new();
            if !file.hashes.is_empty() {
                put(&mut object, "hashes", hashes(file.hashes));
            }
            put_some(&mut object, "name", file.name);
            put_some(&mut object, "size", file.size);
            put_some(&mut object, "mime_type", file.mime_type);
            objects.add("file", object);
        }
        for cert in self.certificates {
            let mut object = Map::new();
            if !cert.hashes.is_empty() {
                put(&mut object, "hashes", hashes(cert.hashes));
            }
            put_some(&mut object, "serial_number", cert.serial_number);
            put_some(&mut object, "subject", cert.subject);
            put_some(&mut object, "issuer", cert.issuer);
            put_some(&mut object, "version", cert.version);
            put_some(&mut object, "signature_algorithm", cert.signature_algorithm);
            put_some(
                &mut object,
                "subject_public_key_algorithm",
                cert.subject_public_key_algorithm,
            );
            put_some(
                &mut object,
                "validity_not_before",
                cert.not_before.map(|t| t.to_string()),
            );
            put_some(
                &mut object,
                "validity_not_after",
                cert.not_after.map(|t| t.to_string()),
            );
            if let Some(san) = cert.subject_alternative_name {
                let mut v3 = Map::new();
                put(&mut v3, "subject_alternative_name", san);
                put(&mut object, "x509_v3_extensions", v3);
            }
            objects.add("x509-certificate", object);
        }
        objects.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addresses() -> impl Strategy<Value = Option<IpAddr>> {
        proptest::option::of(prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ])
    }

    fn times() -> impl Strategy<Value = Option<Timestamp>> {
        proptest::option::of((0i64..4_000_000_000_000_000).prop_map(Timestamp::from_micros))
    }

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("GET".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,6}",
            "[\\x00-\\x1f\"\\\\]{1,3}"
        ]
    }

    fn requests() -> impl Strategy<Value = Option<HttpRequest>> {
        proptest::option::of(
            (
                proptest::option::of(texts()),
                proptest::option::of(texts()),
                proptest::option::of(texts()),
                proptest::collection::vec((texts(), texts()), 0..3),
            )
                .prop_map(|(method, target, version, headers)| HttpRequest {
                    method,
                    target,
                    version,
                    headers,
                }),
        )
    }

    prop_compose! {
        fn flows()(
            (src, dst) in (addresses(), addresses()),
            (src_port, dst_port) in (any::<Option<u16>>(), any::<Option<u16>>()),
            protocols in proptest::collection::vec(prop_oneof![Just("tcp".to_owned()), Just("ipv4".to_owned()), texts()], 0..3),
            (start, end) in (times(), times()),
            counts in any::<[Option<u64>; 4]>(),
            http in requests(),
        ) -> Flow {
            let [src_bytes, dst_bytes, src_packets, dst_packets] = counts;
            Flow { src, dst, src_port, dst_port, protocols, start, end, src_bytes, dst_bytes, src_packets, dst_packets, http }
        }
    }

    proptest! {
        /// Ids made from typed fields are the ids the general rule gives the objects written.
        #[test]
        fn ids_are_those_of_the_objects_written(flow in flows()) {
            let draft = Draft { flow, ..Draft::default() };
            for object in draft.into_objects() {
                let object = object.as_object().unwrap();
                let expected = stix::sco_id::deterministic_id(object);
                prop_assert_eq!(
                    expected.as_deref(),
                    object["id"].as_str(),
                    "{:?}", object
                );
            }
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "9.10.99.100",
            "255.255.255.255",
            "192.168.0.1",
            "::1",
            "2001:db8::ff00:42:8329",
            "::ffff:192.0.2.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }
}
