//! Per-type rules of the STIX Cyber-observable Objects and their predefined extensions.
//! Top-level reference targets are in `validate::reference_properties`; references inside
//! extensions and MIME parts are checked here.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::check::{Scope, Target};
use super::syntax;
use crate::vocab;
use crate::Violation;

pub(super) fn check(type_name: &str, o: &Scope<'_>, out: &mut Vec<Violation>) {
    match type_name {
        "artifact" => artifact(o, out),
        "autonomous-system" => {
            o.required(out, &["number"]);
            o.integer(out, "number", i64::MIN, i64::MAX);
            o.strings(out, &["name", "rir"]);
        }
        "directory" => {
            o.required(out, &["path"]);
            o.strings(out, &["path", "path_enc"]);
            o.timestamps(out, &["ctime", "mtime", "atime"]);
        }
        "domain-name" => {
            o.required(out, &["value"]);
            if let Some(value) = o.string(out, "value") {
                if !syntax::is_domain_name(value) {
                    o.violation(
                        out,
                        "value",
                        "must be a domain name: dot-separated labels of letters, digits and \
                         hyphens (RFC 1034), or their internationalized form (RFC 5890)",
                    );
                }
            }
        }
        "url" => {
            o.required(out, &["value"]);
            o.uri(out, "value");
        }
        "email-addr" => {
            o.required(out, &["value"]);
            o.strings(out, &["display_name"]);
            if let Some(value) = o.string(out, "value") {
                let shaped = value
                    .rsplit_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
                if !shaped {
                    o.violation(out, "value", "must be an email address (local-part@domain)");
                }
            }
        }
        "email-message" => email_message(o, out),
        "file" => file(o, out),
        "ipv4-addr" => {
            o.required(out, &["value"]);
            if let Some(value) = o.string(out, "value") {
                if !is_cidr(value, 32, |a| a.parse::<Ipv4Addr>().is_ok()) {
                    o.violation(out, "value", "must be an IPv4 address or CIDR block");
                }
            }
        }
        "ipv6-addr" => {
            o.required(out, &["value"]);
            if let Some(value) = o.string(out, "value") {
                if !is_cidr(value, 128, |a| a.parse::<Ipv6Addr>().is_ok()) {
                    o.violation(out, "value", "must be an IPv6 address or CIDR block");
                }
            }
        }
        "mac-addr" => {
            o.required(out, &["value"]);
            if let Some(value) = o.string(out, "value") {
                if !is_mac48(value) {
                    o.violation(
                        out,
                        "value",
                        "must be a lowercase, colon-delimited MAC-48 address such as \
                         \"d2:fb:49:24:37:18\"",
                    );
                }
            }
        }
        "mutex" => {
            o.required(out, &["name"]);
            o.string(out, "name");
        }
        "network-traffic" => network_traffic(o, out),
        "process" => process(o, out),
        "software" => {
            o.required(out, &["name"]);
            o.strings(out, &["name", "cpe", "swid", "vendor", "version"]);
            o.string_lists(out, &["languages"]);
        }
        "user-account" => user_account(o, out),
        "windows-registry-key" => {
            o.some_property_of(
                out,
                &[
                    "key",
                    "values",
                    "modified_time",
                    "creator_user_ref",
                    "number_of_subkeys",
                ],
                "a registry key",
            );
            o.strings(out, &["key"]);
            o.timestamp(out, "modified_time");
            o.integer(out, "number_of_subkeys", i64::MIN, i64::MAX);
            for value in o.objects(out, "values") {
                value.some_property_of(out, &["name", "data", "data_type"], "a registry value");
                value.strings(out, &["name", "data"]);
                value.enumerated(out, "data_type", vocab::WINDOWS_REGISTRY_DATATYPE);
            }
        }
        "x509-certificate" => x509_certificate(o, out),
        _ => {}
    }
}

/// An address, optionally with a `/prefix` of at most `max_prefix` bits.
fn is_cidr(value: &str, max_prefix: u8, is_address: impl Fn(&str) -> bool) -> bool {
    match value.split_once('/') {
        None => is_address(value),
        Some((address, prefix)) => {
            is_address(address)
                && !prefix.is_empty()
                && prefix.bytes().all(|b| b.is_ascii_digit())
                && prefix.parse::<u8>().is_ok_and(|p| p <= max_prefix)
        }
    }
}

/// MAC-48 in the one form STIX allows: six two-digit lowercase hex octets joined by colons.
fn is_mac48(value: &str) -> bool {
    let octets: Vec<&str> = value.split(':').collect();
    octets.len() == 6
        && octets.iter().all(|o| {
            o.len() == 2
                && o.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

fn user_account(o: &Scope<'_>, out: &mut Vec<Violation>) {
    const STRINGS: &[&str] = &[
        "user_id",
        "credential",
        "account_login",
        "account_type",
        "display_name",
    ];
    const BOOLEANS: &[&str] = &[
        "is_service_account",
        "is_privileged",
        "can_escalate_privs",
        "is_disabled",
    ];
    const TIMESTAMPS: &[&str] = &[
        "account_created",
        "account_expires",
        "credential_last_changed",
        "account_first_login",
        "account_last_login",
    ];
    let own: Vec<&str> = [STRINGS, BOOLEANS, TIMESTAMPS, &["extensions"]].concat();
    o.some_property_of(out, &own, "a user account");
    o.strings(out, STRINGS);
    o.booleans(out, BOOLEANS);
    o.timestamps(out, TIMESTAMPS);
    if let Some(unix) = o.extension("unix-account-ext") {
        unix.some_property_of(
            out,
            &["gid", "groups", "home_dir", "shell"],
            "unix-account-ext",
        );
        unix.integer(out, "gid", i64::MIN, i64::MAX);
        unix.string_lists(out, &["groups"]);
        unix.strings(out, &["home_dir", "shell"]);
    }
}

fn artifact(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.strings(out, &["decryption_key"]);
    o.uri(out, "url");
    if let Some(mime_type) = o.string(out, "mime_type") {
        if !syntax::is_media_type(mime_type) {
            o.violation(
                out,
                "mime_type",
                "must be a media type `type/subtype` (RFC 6838), such as \"image/jpeg\", \
                 with a registered top-level type and no parameters",
            );
        }
    }
    o.binary(out, "payload_bin");
    o.hashes(out, "hashes", false);
    o.exclusive(out, "payload_bin", "url");
    if o.has("url") && !o.has("hashes") {
        o.violation(out, "hashes", "is required when `url` is present");
    }
    o.enumerated(out, "encryption_algorithm", vocab::ENCRYPTION_ALGORITHM);
    o.depends_on(out, "decryption_key", "encryption_algorithm");
}

fn email_message(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.required(out, &["is_multipart"]);
    let multipart = o.boolean(out, "is_multipart");
    o.timestamp(out, "date");
    o.strings(out, &["content_type", "message_id", "subject", "body"]);
    o.string_lists(out, &["received_lines"]);
    o.dictionary(out, "additional_header_fields");
    match multipart {
        Some(true) if o.has("body") => o.violation(
            out,
            "body",
            "must not be present when `is_multipart` is true",
        ),
        Some(false) if o.has("body_multipart") => o.violation(
            out,
            "body_multipart",
            "must not be present when `is_multipart` is false",
        ),
        _ => {}
    }
    for part in o.objects(out, "body_multipart") {
        part.strings(out, &["body", "content_type", "content_disposition"]);
        match (part.has("body"), part.has("body_raw_ref")) {
            (true, true) => part.violation(
                out,
                "body_raw_ref",
                "must not be present together with `body`",
            ),
            (false, false) => part.violation(
                out,
                "body",
                "one of `body` or `body_raw_ref` must be present",
            ),
            _ => {}
        }
        part.reference(out, "body_raw_ref", Target::Types(&["artifact", "file"]));
    }
}

fn file(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.at_least_one(out, &["hashes", "name"]);
    o.hashes(out, "hashes", false);
    o.integer(out, "size", 0, i64::MAX);
    o.strings(out, &["name", "name_enc", "mime_type"]);
    o.hex(out, &["magic_number_hex"]);
    o.timestamps(out, &["ctime", "mtime", "atime"]);
    if let Some(archive) = o.extension("archive-ext") {
        archive.required(out, &["contains_refs"]);
        archive.references(out, "contains_refs", Target::Types(&["file", "directory"]));
        archive.string(out, "comment");
    }
    if let Some(ntfs) = o.extension("ntfs-ext") {
        ntfs.some_property_of(out, &["sid", "alternate_data_streams"], "ntfs-ext");
        ntfs.string(out, "sid");
        for stream in ntfs.objects(out, "alternate_data_streams") {
            stream.required(out, &["name"]);
            stream.string(out, "name");
            stream.hashes(out, "hashes", false);
            stream.integer(out, "size", i64::MIN, i64::MAX);
        }
    }
    if let Some(pdf) = o.extension("pdf-ext") {
        pdf.some_property_of(
            out,
            &[
                "version",
                "is_optimized",
                "document_info_dict",
                "pdfid0",
                "pdfid1",
            ],
            "pdf-ext",
        );
        pdf.strings(out, &["version", "pdfid0", "pdfid1"]);
        pdf.boolean(out, "is_optimized");
        pdf.dictionary(out, "document_info_dict");
    }
    if let Some(image) = o.extension("raster-image-ext") {
        image.some_property_of(
            out,
            &["image_height", "image_width", "bits_per_pixel", "exif_tags"],
            "raster-image-ext",
        );
        image.integers(
            out,
            &["image_height", "image_width", "bits_per_pixel"],
            i64::MIN,
        );
        image.dictionary(out, "exif_tags");
    }
    if let Some(pe) = o.extension("windows-pebinary-ext") {
        pe.required(out, &["pe_type"]);
        pe.strings(out, &["pe_type", "imphash"]);
        pe.hex(
            out,
            &[
                "machine_hex",
                "pointer_to_symbol_table_hex",
                "characteristics_hex",
            ],
        );
        pe.integers(
            out,
            &[
                "number_of_sections",
                "number_of_symbols",
                "size_of_optional_header",
            ],
            0,
        );
        pe.timestamp(out, "time_date_stamp");
        pe.hashes(out, "file_header_hashes", false);
        pe.object(out, "optional_header");
        for section in pe.objects(out, "sections") {
            section.required(out, &["name"]);
            section.string(out, "name");
            section.integer(out, "size", 0, i64::MAX);
            section.number(out, "entropy", f64::MIN, f64::MAX);
            section.hashes(out, "hashes", false);
        }
    }
}

fn network_traffic(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.required(out, &["protocols"]);
    o.string_lists(out, &["protocols"]);
    o.at_least_one(out, &["src_ref", "dst_ref"]);
    o.time_range(out, "start", "end", false);
    if o.boolean(out, "is_active") == Some(true) && o.has("end") {
        o.violation(out, "end", "must not be present when `is_active` is true");
    }
    o.integer(out, "src_port", 0, 65_535);
    o.integer(out, "dst_port", 0, 65_535);
    o.integers(
        out,
        &[
            "src_byte_count",
            "dst_byte_count",
            "src_packets",
            "dst_packets",
        ],
        0,
    );
    if let Some(ipfix) = o.dictionary(out, "ipfix") {
        for (key, value) in ipfix.map {
            if !(value.is_string() || value.is_i64() || value.is_u64()) {
                ipfix.violation(out, key, "must be a string or an integer");
            }
        }
    }
    if let Some(http) = o.extension("http-request-ext") {
        http.required(out, &["request_method", "request_value"]);
        http.strings(out, &["request_method", "request_value", "request_version"]);
        http.dictionary(out, "request_header");
        http.integer(out, "message_body_length", i64::MIN, i64::MAX);
        http.reference(out, "message_body_data_ref", Target::Types(&["artifact"]));
    }
    if let Some(icmp) = o.extension("icmp-ext") {
        icmp.required(out, &["icmp_type_hex", "icmp_code_hex"]);
        icmp.hex(out, &["icmp_type_hex", "icmp_code_hex"]);
    }
    if let Some(socket) = o.extension("socket-ext") {
        socket.required(out, &["address_family"]);
        socket.enumerated(out, "address_family", vocab::SOCKET_ADDRESS_FAMILY);
        socket.enumerated(out, "socket_type", vocab::SOCKET_TYPE);
        socket.booleans(out, &["is_blocking", "is_listening"]);
        socket.integer(out, "socket_descriptor", 0, i64::MAX);
        socket.integer(out, "socket_handle", i64::MIN, i64::MAX);
        if let Some(options) = socket.dictionary(out, "options") {
            const PREFIXES: &[&str] = &[
                "SO_", "ICMP_", "ICMP6_", "IP_", "IPV6_", "MCAST_", "TCP_", "IRLMP_",
            ];
            for key in options.map.keys() {
                if !PREFIXES.iter().any(|p| key.starts_with(p)) {
                    options.violation(
                        out,
                        key,
                        "socket option names must start with SO_, ICMP_, ICMP6_, IP_, IPV6_, \
                         MCAST_, TCP_ or IRLMP_",
                    );
                }
                options.integer(out, key, i64::MIN, i64::MAX);
            }
        }
    }
    if let Some(tcp) = o.extension("tcp-ext") {
        tcp.at_least_one(out, &["src_flags_hex", "dst_flags_hex"]);
        tcp.hex(out, &["src_flags_hex", "dst_flags_hex"]);
    }
}

fn process(o: &Scope<'_>, out: &mut Vec<Violation>) {
    o.some_property_of(
        out,
        &[
            "extensions",
            "is_hidden",
            "pid",
            "created_time",
            "cwd",
            "command_line",
            "environment_variables",
            "opened_connection_refs",
            "creator_user_ref",
            "image_ref",
            "parent_ref",
            "child_refs",
        ],
        "a process",
    );
    o.boolean(out, "is_hidden");
    o.integer(out, "pid", i64::MIN, i64::MAX);
    o.timestamp(out, "created_time");
    o.strings(out, &["cwd", "command_line"]);
    o.dictionary(out, "environment_variables");
    if let Some(windows) = o.extension("windows-process-ext") {
        windows.some_property_of(
            out,
            &[
                "aslr_enabled",
                "dep_enabled",
                "priority",
                "owner_sid",
                "window_title",
                "startup_info",
                "integrity_level",
            ],
            "windows-process-ext",
        );
        windows.booleans(out, &["aslr_enabled", "dep_enabled"]);
        windows.strings(out, &["priority", "owner_sid", "window_title"]);
        windows.dictionary(out, "startup_info");
        windows.enumerated(out, "integrity_level", vocab::WINDOWS_INTEGRITY_LEVEL);
    }
    if let Some(service) = o.extension("windows-service-ext") {
        service.some_property_of(
            out,
            &[
                "service_name",
                "descriptions",
                "display_name",
                "group_name",
                "start_type",
                "service_dll_refs",
                "service_type",
                "service_status",
            ],
            "windows-service-ext",
        );
        service.strings(out, &["service_name", "display_name", "group_name"]);
        service.string_lists(out, &["descriptions"]);
        service.enumerated(out, "start_type", vocab::WINDOWS_SERVICE_START_TYPE);
        service.enumerated(out, "service_type", vocab::WINDOWS_SERVICE_TYPE);
        service.enumerated(out, "service_status", vocab::WINDOWS_SERVICE_STATUS);
        service.references(out, "service_dll_refs", Target::Types(&["file"]));
    }
}

const X509_V3_EXTENSIONS: &[&str] = &[
    "basic_constraints",
    "name_constraints",
    "policy_constraints",
    "key_usage",
    "extended_key_usage",
    "subject_key_identifier",
    "authority_key_identifier",
    "subject_alternative_name",
    "issuer_alternative_name",
    "subject_directory_attributes",
    "crl_distribution_points",
    "inhibit_any_policy",
    "private_key_usage_period_not_before",
    "private_key_usage_period_not_after",
    "certificate_policies",
    "policy_mappings",
];

fn x509_certificate(o: &Scope<'_>, out: &mut Vec<Violation>) {
    const OWN: &[&str] = &[
        "is_self_signed",
        "hashes",
        "version",
        "serial_number",
        "signature_algorithm",
        "issuer",
        "validity_not_before",
        "validity_not_after",
        "subject",
        "subject_public_key_algorithm",
        "subject_public_key_modulus",
        "subject_public_key_exponent",
        "x509_v3_extensions",
    ];
    o.some_property_of(out, OWN, "an X.509 certificate");
    o.boolean(out, "is_self_signed");
    o.hashes(out, "hashes", false);
    o.strings(
        out,
        &[
            "version",
            "serial_number",
            "signature_algorithm",
            "issuer",
            "subject",
            "subject_public_key_algorithm",
            "subject_public_key_modulus",
        ],
    );
    o.timestamps(out, &["validity_not_before", "validity_not_after"]);
    o.integer(out, "subject_public_key_exponent", i64::MIN, i64::MAX);
    if let Some(extensions) = o.object(out, "x509_v3_extensions") {
        extensions.some_property_of(out, X509_V3_EXTENSIONS, "x509_v3_extensions");
        extensions.timestamps(
            out,
            &[
                "private_key_usage_period_not_before",
                "private_key_usage_period_not_after",
            ],
        );
        for (key, value) in extensions.map {
            if !key.starts_with("private_key_usage_period_") && !value.is_string() {
                extensions.violation(out, key, "must be a string");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let v4 = |s: &str| is_cidr(s, 32, |a| a.parse::<Ipv4Addr>().is_ok());
        let v6 = |s: &str| is_cidr(s, 128, |a| a.parse::<Ipv6Addr>().is_ok());
        assert!(v4("198.51.100.3"));
        assert!(v4("198.51.100.0/24"));
        assert!(!v4("198.51.100.0/33"));
        assert!(!v4("198.51.100.0/"));
        assert!(!v4("198.51.100"));
        assert!(!v4("2001:db8::1"));
        assert!(v6("2001:db8::1"));
        assert!(v6("2001:db8::/32"));
        assert!(!v6("2001:db8::/129"));
        assert!(is_mac48("d2:fb:49:24:37:18"));
        assert!(!is_mac48("D2:FB:49:24:37:18"));
        assert!(!is_mac48("d2-fb-49-24-37-18"));
        assert!(!is_mac48("2:fb:49:24:37:18"));
    }
}
