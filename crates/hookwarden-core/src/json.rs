//! Reads one member of a JSON body by pointer without building a document
//! tree, and without reading the body past that member.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Visitor};

use crate::DeliveryId;

/// The string or integer at `segments` in `body`, or `None` when the member
/// is absent, empty or of another type, or the body's structure up to it is
/// not JSON's.
///
/// The body is read only as far as the member: the values before it are
/// skipped by their quotes and brackets, not validated, and the bytes after
/// it are not read at all (providers put the event ID first, and parsing
/// the rest is the handler's job). The member's own value is read by
/// `serde_json`. On every well-formed document the answer is a full
/// parse's, the first of repeated keys winning; a body that is malformed
/// elsewhere may still yield its ID. That is sound because the ID is read
/// only from a body whose signature passed. Keys written with escapes are
/// decoded before they are compared.
pub(crate) fn read_id(body: &[u8], segments: &[String]) -> Option<DeliveryId> {
    let mut at = skip_space(body, 0);
    for segment in segments {
        at = match body.get(at)? {
            b'{' => member(body, at, segment)?,
            b'[' => element(body, at, array_index(segment)?)?,
            _ => return None,
        };
    }
    let end = skip_value(body, at)?;
    if let Some(text) = plain_string(&body[at..end]) {
        return (!text.is_empty()).then(|| DeliveryId::from_ascii(text));
    }
    let mut de = serde_json::Deserializer::from_slice(&body[at..end]);
    let found = IdValue.deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

/// The start of the value of the first member named `key` in the object
/// opening at `at`.
fn member(body: &[u8], at: usize, key: &str) -> Option<usize> {
    let mut at = skip_space(body, at + 1);
    if body.get(at) == Some(&b'}') {
        return None;
    }
    loop {
        let key_end = skip_string(body, at)?;
        let matched = key_is(&body[at..key_end], key);
        at = skip_space(body, key_end);
        if body.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(body, at + 1);
        if matched {
            return Some(at);
        }
        at = next_item(body, at)?;
    }
}

/// The start of element `index` of the array opening at `at`.
fn element(body: &[u8], at: usize, index: usize) -> Option<usize> {
    let mut at = skip_space(body, at + 1);
    if body.get(at) == Some(&b']') {
        return None;
    }
    for _ in 0..index {
        at = next_item(body, at)?;
    }
    Some(at)
}

/// Skips the value at `at` and the comma after it: the start of the next
/// member or element, or `None` at the closing bracket or on malformed input.
fn next_item(body: &[u8], at: usize) -> Option<usize> {
    let at = skip_space(body, skip_value(body, at)?);
    (*body.get(at)? == b',').then(|| skip_space(body, at + 1))
}

/// Whether the quoted key `quoted` (quotes included) is `key`.
fn key_is(quoted: &[u8], key: &str) -> bool {
    let raw = &quoted[1..quoted.len() - 1];
    if raw.contains(&b'\\') {
        // Rare: decode the escapes (this allocates).
        serde_json::from_slice::<String>(quoted).is_ok_and(|decoded| decoded == key)
    } else {
        raw == key.as_bytes()
    }
}

/// The end of the value starting at `at`: a string, an object or array
/// (matched by bracket depth, strings skipped whole), or a bare literal.
/// Iterative, so deep nesting cannot exhaust the stack.
fn skip_value(body: &[u8], at: usize) -> Option<usize> {
    match body.get(at)? {
        b'"' => skip_string(body, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = at;
            loop {
                match body.get(at)? {
                    b'"' => {
                        at = skip_string(body, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let len = body[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(body.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

/// The end (past the closing quote) of the string opening at `at`.
fn skip_string(body: &[u8], at: usize) -> Option<usize> {
    if body.get(at) != Some(&b'"') {
        return None;
    }
    let mut at = at + 1;
    loop {
        at += body
            .get(at..)?
            .iter()
            .position(|b| matches!(b, b'"' | b'\\'))?;
        if body[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// The text of a quoted string that is printable ASCII without escapes,
/// the usual event ID: what `serde_json` would read from it, without it.
/// Any other value is left to `serde_json`.
fn plain_string(value: &[u8]) -> Option<&[u8]> {
    let text = value.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    text.iter()
        .all(|&b| (b' '..=b'~').contains(&b) && b != b'\\')
        .then_some(text)
}

/// The first byte at or after `at` that is not JSON whitespace.
fn skip_space(body: &[u8], at: usize) -> usize {
    let rest = body.get(at..).unwrap_or_default();
    at + rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(rest.len())
}

/// Reads a delivery ID: a non-empty string or an integer. Any other value
/// is an error, and so no ID.
struct IdValue;

impl<'de> DeserializeSeed<'de> for IdValue {
    type Value = Option<DeliveryId>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl Visitor<'_> for IdValue {
    type Value = Option<DeliveryId>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok((!value.is_empty()).then(|| DeliveryId::new(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(DeliveryId::integer(i128::from(value))))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(DeliveryId::integer(i128::from(value))))
    }
}

/// RFC 6901 array indices: `0` or digits without a leading zero.
fn array_index(segment: &str) -> Option<usize> {
    let digits = !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit());
    let canonical = segment == "0" || !segment.starts_with('0');
    if digits && canonical {
        segment.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str, pointer: &[&str]) -> Option<String> {
        let segments: Vec<String> = pointer.iter().map(|s| s.to_string()).collect();
        read_id(body.as_bytes(), &segments).map(|id| id.to_string())
    }

    #[test]
    fn finds_strings_and_integers() {
        let body = r#"{"a":1,"data":{"x":[1,{"id":"deep"}],"id":"evt_1"},"id":7}"#;
        assert_eq!(read(body, &["id"]).as_deref(), Some("7"));
        assert_eq!(read(body, &["data", "id"]).as_deref(), Some("evt_1"));
        assert_eq!(
            read(body, &["data", "x", "1", "id"]).as_deref(),
            Some("deep")
        );
        assert_eq!(read(r#"{"id":-3}"#, &["id"]).as_deref(), Some("-3"));
        assert_eq!(
            read(r#"{"i\u0064":"esc\"aped"}"#, &["id"]).as_deref(),
            Some("esc\"aped")
        );
        assert_eq!(
            read(r#"{"a/b":"slash"}"#, &["a/b"]).as_deref(),
            Some("slash")
        );
        assert_eq!(
            read(r#"{"id":"first","id":"second"}"#, &["id"]).as_deref(),
            Some("first")
        );
    }

    #[test]
    fn absent_or_unusable_is_none() {
        for (body, pointer) in [
            (r#"{"id":""}"#, &["id"][..]),
            (r#"{"id":null}"#, &["id"]),
            (r#"{"id":1.5}"#, &["id"]),
            (r#"{"id":true}"#, &["id"]),
            (r#"{"id":{"a":1}}"#, &["id"]),
            (r#"{"other":"x"}"#, &["id"]),
            (r#"["x"]"#, &["id"]),
            (r#"{"x":["a"]}"#, &["x", "01"]),
            (r#"{"x":["a"]}"#, &["x", "1"]),
            (r#"{"a":1 "id":"x"}"#, &["id"]),
            (r#"{"a":"open, "id":"x"}"#, &["id"]),
            (r#"{"a":{"b":1,"id":"x"}"#, &["id"]),
            (r#"{"id" "x"}"#, &["id"]),
            (r#"{"id":}"#, &["id"]),
            (r#"{"id":"\u12"}"#, &["id"]),
            (r#"{"id":01}"#, &["id"]),
            (r#"["a"]"#, &["1"]),
            (r#"{}"#, &["id"]),
            ("[]", &["0"]),
            ("\"id\"", &["id"]),
            ("not json", &["id"]),
            ("", &["id"]),
        ] {
            assert_eq!(read(body, pointer), None, "{body}");
        }
        assert_eq!(read(r#"{"x":["a"]}"#, &["x", "0"]).as_deref(), Some("a"));
    }

    #[test]
    fn the_body_after_the_member_is_not_read() {
        for body in [
            r#"{"id":"x"} trailing"#,
            r#"{"id":"x""#,
            r#"{"id":"x","rest":[1,2"#,
            "{ \"id\" : \"x\" ,\n\"a\":\u{0}",
        ] {
            assert_eq!(read(body, &["id"]).as_deref(), Some("x"), "{body}");
        }
        // Brackets and escaped quotes inside skipped strings are text.
        let body = r#"{"a":"}\"]{","b":[{"c":"]"}],"id":9}"#;
        assert_eq!(read(body, &["id"]).as_deref(), Some("9"));
        // Values before the member are skipped, not validated.
        for body in [
            r#"{"a":tru,"id":"x"}"#,
            r#"{"a":1.2.3,"id":"x"}"#,
            r#"{"a":[1,,2],"id":"x"}"#,
        ] {
            assert_eq!(read(body, &["id"]).as_deref(), Some("x"), "{body}");
        }
    }

    #[test]
    fn plain_and_other_strings_read_alike() {
        // Printable ASCII without escapes is read directly; the rest goes
        // through serde_json, which refuses raw control bytes.
        assert_eq!(
            read(r#"{"id":"evt_1 ~!"}"#, &["id"]).as_deref(),
            Some("evt_1 ~!")
        );
        assert_eq!(read(r#"{"id":""}"#, &["id"]), None);
        assert_eq!(read("{\"id\":\"a\tb\"}", &["id"]), None);
        assert_eq!(
            read("{\"id\":\"a\u{7f}\"}", &["id"]).as_deref(),
            Some("a\u{7f}")
        );
        assert_eq!(
            read(r#"{"id":"caf\u00e9"}"#, &["id"]).as_deref(),
            Some("caf\u{e9}")
        );
        assert_eq!(
            read("{\"id\":\"caf\u{e9}\"}", &["id"]).as_deref(),
            Some("caf\u{e9}")
        );
        assert_eq!(read(r#"{"id":"a\\b"}"#, &["id"]).as_deref(), Some("a\\b"));
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        let deep = format!(
            r#"{{"a":{}{},"id":"x"}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(read(&deep, &["id"]).as_deref(), Some("x"));
    }

    /// What a full parse says is at `segments`: the reference `read_id`
    /// must agree with on every well-formed document.
    fn full_parse(doc: &serde_json::Value, segments: &[String]) -> Option<String> {
        let mut at = doc;
        for segment in segments {
            at = match at {
                serde_json::Value::Object(map) => map.get(segment)?,
                serde_json::Value::Array(items) => items.get(array_index(segment)?)?,
                _ => return None,
            };
        }
        match at {
            serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
            _ => None,
        }
    }

    fn documents() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[a-z\\\\\"{}\\[\\],: \\u{e9}\\u{1}]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("id".to_owned()),
                Just("data".to_owned()),
                Just("0".to_owned()),
                "[a-z\\\\\"{}]{0,4}",
            ];
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(key, inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_a_full_parse(
            doc in documents(),
            pretty in proptest::bool::ANY,
            pointer in proptest::sample::select(vec![
                vec!["id"], vec!["data", "id"], vec!["0"], vec!["data", "0"], vec!["0", "id"],
            ]),
        ) {
            let segments: Vec<String> = pointer.iter().map(|s| s.to_string()).collect();
            let text = if pretty {
                serde_json::to_vec_pretty(&doc).unwrap()
            } else {
                serde_json::to_vec(&doc).unwrap()
            };
            let found = read_id(&text, &segments).map(|id| id.to_string());
            proptest::prop_assert_eq!(found, full_parse(&doc, &segments));
        }
    }
}
