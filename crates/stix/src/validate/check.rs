//! Typed property checks shared by every object type. A [`Scope`] is one JSON object (the STIX
//! object itself or something nested in it) plus the path that names its properties in
//! violations, so `granular_markings[0].marking_ref` says exactly where the problem is.

use serde_json::{Map, Value};

use crate::types::{category, Category};
use crate::vocab;
use crate::{parse_id, Timestamp, Violation};

/// What a reference property may point at. Where a rule names a family (SDO, SCO, ...), custom
/// types pass: nothing in the id says which family a custom type belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Exactly these types.
    Types(&'static [&'static str]),
    /// A STIX Domain Object.
    DomainObject,
    /// A STIX Cyber-observable Object.
    Observable,
    /// An SDO or an SCO: never a relationship, sighting, meta object or bundle.
    DomainOrObservable,
    /// An SCO or an SRO.
    ObservableOrRelationship,
    /// Any STIX object; a bundle is not one.
    AnyObject,
}

impl Target {
    fn accepts(self, type_name: &str) -> bool {
        let family = category(type_name);
        match self {
            Target::Types(types) => types.contains(&type_name),
            _ if type_name == "bundle" => false,
            Target::AnyObject => true,
            Target::DomainObject => matches!(family, None | Some(Category::DomainObject)),
            Target::Observable => matches!(family, None | Some(Category::Observable)),
            Target::DomainOrObservable => matches!(
                family,
                None | Some(Category::DomainObject | Category::Observable)
            ),
            Target::ObservableOrRelationship => matches!(
                family,
                None | Some(Category::Observable | Category::Relationship)
            ),
        }
    }

    fn describe(self) -> String {
        match self {
            Target::Types(types) => {
                let quoted: Vec<String> = types.iter().map(|t| format!("`{t}`")).collect();
                match quoted.split_last() {
                    Some((last, rest)) if !rest.is_empty() => {
                        format!("{} or {last}", rest.join(", "))
                    }
                    _ => quoted.concat(),
                }
            }
            Target::DomainObject => "a STIX Domain Object".to_owned(),
            Target::Observable => "a STIX Cyber-observable Object".to_owned(),
            Target::DomainOrObservable => {
                "a STIX Domain Object or Cyber-observable Object".to_owned()
            }
            Target::ObservableOrRelationship => {
                "a STIX Cyber-observable Object or Relationship Object".to_owned()
            }
            Target::AnyObject => "a STIX object".to_owned(),
        }
    }
}

/// Checks one identifier against a reference rule, naming `path` in any violation.
pub(crate) fn reference(out: &mut Vec<Violation>, path: String, value: &Value, target: Target) {
    let Value::String(id) = value else {
        out.push(Violation::new(path, "must be an identifier string"));
        return;
    };
    match parse_id(id) {
        Err(e) => out.push(Violation::new(path, e.to_string())),
        Ok((type_name, _)) if !target.accepts(type_name) => out.push(Violation::new(
            path,
            format!(
                "must reference {}, found an id of type `{type_name}`",
                target.describe()
            ),
        )),
        Ok(_) => {}
    }
}

/// An RFC 5646 language tag, checked for shape only: letters for the primary subtag (or the
/// `x`/`i` private-use and grandfathered prefixes), then alphanumeric subtags of 1 to 8.
pub(crate) fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let primary_ok = subtags.next().is_some_and(|p| {
        p.bytes().all(|b| b.is_ascii_alphabetic())
            && ((2..=8).contains(&p.len())
                || p.eq_ignore_ascii_case("x")
                || p.eq_ignore_ascii_case("i"))
    });
    primary_ok
        && subtags
            .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `^[a-z][a-z0-9_]{2,249}$`: every STIX 2.1 property name starts with a letter, and custom ones
/// must be 3 to 250 characters of a-z, 0-9 and underscore.
pub(crate) fn is_property_name(name: &str) -> bool {
    (3..=250).contains(&name.len())
        && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whole bytes written as pairs of hex digits.
fn is_hex(text: &str) -> bool {
    !text.is_empty()
        && text
            .as_bytes()
            .chunks(2)
            .all(|pair| pair.len() == 2 && pair.iter().all(u8::is_ascii_hexdigit))
}

/// RFC 4648 §4 base64: groups of four characters, at most two `=` of padding at the end.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    text.as_bytes().chunks(4).all(|group| group.len() == 4)
        && padding <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// The hashes type's key rule: 3 to 250 characters of a-z, A-Z, 0-9, hyphen and underscore.
fn is_hash_algorithm_name(key: &str) -> bool {
    (3..=250).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn integer_rule(min: i64, max: i64) -> String {
    match (min, max) {
        (i64::MIN, i64::MAX) => "must be an integer".to_owned(),
        (min, i64::MAX) => format!("must be an integer of at least {min}"),
        (min, max) => format!("must be an integer from {min} to {max}"),
    }
}

/// One JSON object under check and the path prefix of its properties.
#[derive(Clone)]
pub(crate) struct Scope<'m> {
    pub map: &'m Map<String, Value>,
    prefix: String,
}

impl<'m> Scope<'m> {
    pub fn top(map: &'m Map<String, Value>) -> Self {
        Scope {
            map,
            prefix: String::new(),
        }
    }

    fn nested(map: &'m Map<String, Value>, path: String) -> Self {
        Scope {
            map,
            prefix: path + ".",
        }
    }

    /// The full name of one of this scope's properties.
    pub fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'m Value> {
        self.map.get(key)
    }

    pub fn violation(&self, out: &mut Vec<Violation>, key: &str, rule: impl Into<String>) {
        out.push(Violation::new(self.path(key), rule));
    }

    pub fn required(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            if !self.has(key) {
                self.violation(out, key, "is required");
            }
        }
    }

    pub fn string(&self, out: &mut Vec<Violation>, key: &str) -> Option<&'m str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => {
                self.violation(out, key, "must be a string");
                None
            }
        }
    }

    pub fn strings(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            self.string(out, key);
        }
    }

    pub fn boolean(&self, out: &mut Vec<Violation>, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.violation(out, key, "must be a boolean (true or false)");
                None
            }
        }
    }

    pub fn booleans(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            self.boolean(out, key);
        }
    }

    /// An integer within `min..=max`; `i64::MIN`/`i64::MAX` mean unbounded.
    pub fn integer(&self, out: &mut Vec<Violation>, key: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.get(key)?;
        let fits = match (value.as_i64(), value.as_u64()) {
            (Some(n), _) => (min..=max).contains(&n),
            // Above i64::MAX it is still an integer; only an upper bound refuses it.
            (None, Some(_)) => max == i64::MAX,
            _ => false,
        };
        if !fits {
            self.violation(out, key, integer_rule(min, max));
        }
        value.as_i64().filter(|_| fits)
    }

    pub fn integers(&self, out: &mut Vec<Violation>, keys: &[&str], min: i64) {
        for key in keys {
            self.integer(out, key, min, i64::MAX);
        }
    }

    pub fn number(&self, out: &mut Vec<Violation>, key: &str, min: f64, max: f64) -> Option<f64> {
        let value = self.get(key)?;
        match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ if min == f64::MIN && max == f64::MAX => {
                self.violation(out, key, "must be a number");
                None
            }
            _ if max == f64::MAX => {
                self.violation(out, key, format!("must be a number of at least {min}"));
                None
            }
            _ => {
                self.violation(out, key, format!("must be a number from {min} to {max}"));
                None
            }
        }
    }

    pub fn timestamp(&self, out: &mut Vec<Violation>, key: &str) -> Option<Timestamp> {
        match self.get(key)? {
            Value::String(text) => match Timestamp::parse(text) {
                Ok(t) => Some(t),
                Err(e) => {
                    self.violation(out, key, e.to_string());
                    None
                }
            },
            _ => {
                self.violation(out, key, "must be a timestamp string");
                None
            }
        }
    }

    pub fn timestamps(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            self.timestamp(out, key);
        }
    }

    /// `later` must not come before `earlier` (or, when `strict`, must come after it).
    pub fn ordered(
        &self,
        out: &mut Vec<Violation>,
        (earlier_key, earlier): (&str, Option<Timestamp>),
        (later_key, later): (&str, Option<Timestamp>),
        strict: bool,
    ) {
        if let (Some(a), Some(b)) = (earlier, later) {
            if strict && b <= a {
                self.violation(
                    out,
                    later_key,
                    format!("must be later than `{earlier_key}`"),
                );
            } else if b < a {
                self.violation(
                    out,
                    later_key,
                    format!("must be later than or equal to `{earlier_key}`"),
                );
            }
        }
    }

    /// Checks the timestamps and their order in one go.
    pub fn time_range(
        &self,
        out: &mut Vec<Violation>,
        earlier_key: &str,
        later_key: &str,
        strict: bool,
    ) {
        let earlier = self.timestamp(out, earlier_key);
        let later = self.timestamp(out, later_key);
        self.ordered(out, (earlier_key, earlier), (later_key, later), strict);
    }

    /// A non-empty list: STIX prohibits empty lists in place of an omitted property.
    pub fn list(&self, out: &mut Vec<Violation>, key: &str) -> Option<&'m [Value]> {
        match self.get(key)? {
            Value::Array(items) if items.is_empty() => {
                self.violation(out, key, "must not be an empty list");
                None
            }
            Value::Array(items) => Some(items),
            _ => {
                self.violation(out, key, "must be a list");
                None
            }
        }
    }

    /// Non-empty lists of strings.
    pub fn string_lists(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            if let Some(items) = self.list(out, key) {
                if items.iter().any(|item| !item.is_string()) {
                    self.violation(out, key, "must be a list of strings");
                }
            }
        }
    }

    /// A string from a closed vocabulary.
    pub fn enumerated(
        &self,
        out: &mut Vec<Violation>,
        key: &str,
        allowed: &[&str],
    ) -> Option<&'m str> {
        let value = self.string(out, key)?;
        if allowed.contains(&value) {
            Some(value)
        } else {
            self.violation(
                out,
                key,
                format!("`{value}` is not one of {}", vocab::describe(allowed)),
            );
            None
        }
    }

    /// A non-empty list of strings from a closed vocabulary.
    pub fn enumerated_list(
        &self,
        out: &mut Vec<Violation>,
        key: &str,
        allowed: &[&str],
    ) -> Vec<&'m str> {
        let mut values = Vec::new();
        for (i, item) in self.list(out, key).unwrap_or_default().iter().enumerate() {
            let path = format!("{}[{i}]", self.path(key));
            match item.as_str() {
                Some(v) if allowed.contains(&v) => values.push(v),
                Some(v) => out.push(Violation::new(
                    path,
                    format!("`{v}` is not one of {}", vocab::describe(allowed)),
                )),
                None => out.push(Violation::new(path, "must be a string")),
            }
        }
        values
    }

    /// A nested JSON object, returned as a scope of its own.
    pub fn object(&self, out: &mut Vec<Violation>, key: &str) -> Option<Scope<'m>> {
        match self.get(key)? {
            Value::Object(map) => Some(Scope::nested(map, self.path(key))),
            _ => {
                self.violation(out, key, "must be a JSON object");
                None
            }
        }
    }

    /// A dictionary: a non-empty JSON object.
    pub fn dictionary(&self, out: &mut Vec<Violation>, key: &str) -> Option<Scope<'m>> {
        let scope = self.object(out, key)?;
        if scope.map.is_empty() {
            self.violation(out, key, "must not be an empty dictionary");
            return None;
        }
        Some(scope)
    }

    /// A non-empty list of JSON objects, each returned as a scope of its own.
    pub fn objects(&self, out: &mut Vec<Violation>, key: &str) -> Vec<Scope<'m>> {
        let mut scopes = Vec::new();
        for (i, item) in self.list(out, key).unwrap_or_default().iter().enumerate() {
            let path = format!("{}[{i}]", self.path(key));
            match item {
                Value::Object(map) => scopes.push(Scope::nested(map, path)),
                _ => out.push(Violation::new(path, "must be a JSON object")),
            }
        }
        scopes
    }

    pub fn reference(&self, out: &mut Vec<Violation>, key: &str, target: Target) {
        if let Some(value) = self.get(key) {
            reference(out, self.path(key), value, target);
        }
    }

    pub fn references(&self, out: &mut Vec<Violation>, key: &str, target: Target) {
        for (i, item) in self.list(out, key).unwrap_or_default().iter().enumerate() {
            reference(out, format!("{}[{i}]", self.path(key)), item, target);
        }
    }

    /// Checks a reference property whose name ends in `_ref` or `_refs`.
    pub fn reference_property(&self, out: &mut Vec<Violation>, key: &str, target: Target) {
        if key.ends_with("_refs") {
            self.references(out, key, target);
        } else {
            self.reference(out, key, target);
        }
    }

    /// At least one of `keys` must be present; the violation names the first.
    pub fn at_least_one(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        if !keys.iter().any(|k| self.has(k)) {
            let names: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            let rule = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("one of {} or {last} must be present", rest.join(", "))
                }
                _ => format!("{} must be present", names.concat()),
            };
            self.violation(out, keys.first().copied().unwrap_or("(object)"), rule);
        }
    }

    /// For objects and extensions whose properties are all optional yet which must carry at
    /// least one of them. The violation names the object itself: no single property is at
    /// fault.
    pub fn some_property_of(&self, out: &mut Vec<Violation>, own: &[&str], what: &str) {
        if !own.iter().any(|k| self.has(k)) {
            let whole = match self.prefix.strip_suffix('.') {
                Some(path) => path.to_owned(),
                None => "(object)".to_owned(),
            };
            out.push(Violation::new(
                whole,
                format!("{what} must have at least one of its own properties"),
            ));
        }
    }

    /// `second` must not be present together with `first`.
    pub fn exclusive(&self, out: &mut Vec<Violation>, first: &str, second: &str) {
        if self.has(first) && self.has(second) {
            self.violation(
                out,
                second,
                format!("must not be present together with `{first}`"),
            );
        }
    }

    /// `key` may only be present when `needed` is.
    pub fn depends_on(&self, out: &mut Vec<Violation>, key: &str, needed: &str) {
        if self.has(key) && !self.has(needed) {
            self.violation(
                out,
                key,
                format!("may only be present together with `{needed}`"),
            );
        }
    }

    /// An even number of hexadecimal digits (the STIX `hex` type).
    pub fn hex(&self, out: &mut Vec<Violation>, keys: &[&str]) {
        for key in keys {
            if let Some(text) = self.string(out, key) {
                if !is_hex(text) {
                    self.violation(
                        out,
                        key,
                        "must be hexadecimal: an even number of 0-9, a-f digits",
                    );
                }
            }
        }
    }

    /// A URL: an absolute URI as RFC 3986 defines it.
    pub fn uri(&self, out: &mut Vec<Violation>, key: &str) {
        if let Some(text) = self.string(out, key) {
            if !super::syntax::is_uri(text) {
                self.violation(
                    out,
                    key,
                    "must be a URL as RFC 3986 defines it: a scheme, `:`, then only URI \
                     characters (spaces and other characters percent-encoded)",
                );
            }
        }
    }

    pub fn binary(&self, out: &mut Vec<Violation>, key: &str) {
        if let Some(text) = self.string(out, key) {
            if !is_base64(text) {
                self.violation(out, key, "must be base64-encoded (RFC 4648 §4)");
            }
        }
    }

    /// The `hashes` type: keys 3-250 characters of a-z, A-Z, 0-9, hyphen and underscore;
    /// string values; digests of the fixed-length standard algorithms in hex of that length.
    /// `standard_only` applies where the keys must come from hash-algorithm-ov.
    pub fn hashes(&self, out: &mut Vec<Violation>, key: &str, standard_only: bool) {
        let Some(hashes) = self.dictionary(out, key) else {
            return;
        };
        for (algorithm, digest) in hashes.map {
            if standard_only && !vocab::HASH_ALGORITHM.contains(&algorithm.as_str()) {
                hashes.violation(
                    out,
                    algorithm,
                    format!(
                        "hash algorithm must be one of {}",
                        vocab::describe(vocab::HASH_ALGORITHM)
                    ),
                );
            } else if !is_hash_algorithm_name(algorithm) {
                hashes.violation(
                    out,
                    algorithm,
                    "hash algorithm names must be 3 to 250 characters of a-z, A-Z, 0-9, hyphen \
                     and underscore",
                );
            }
            match (digest.as_str(), vocab::hash_hex_len(algorithm)) {
                (None, _) => hashes.violation(out, algorithm, "must be a string"),
                (Some(d), Some(len)) if d.len() != len || !is_hex(d) => hashes.violation(
                    out,
                    algorithm,
                    format!("{algorithm} digests are {len} hexadecimal digits"),
                ),
                _ => {}
            }
        }
    }

    /// A predefined extension of this object, when present and shaped as an object.
    pub fn extension(&self, name: &str) -> Option<Scope<'m>> {
        let Some(Value::Object(extensions)) = self.get("extensions") else {
            return None;
        };
        match extensions.get(name)? {
            Value::Object(map) => Some(Scope::nested(
                map,
                format!("{}.{name}", self.path("extensions")),
            )),
            _ => None,
        }
    }
}
