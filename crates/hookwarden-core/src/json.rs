//! Reads one member of a JSON body by pointer, skipping everything else
//! without building a document tree.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::DeliveryId;

/// The string or integer at `segments` in `body`, or `None` when the body is
/// not JSON or the member is absent, empty or of another type.
pub(crate) fn read_id(body: &[u8], segments: &[String]) -> Option<DeliveryId> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = Walk { segments }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    found
}

/// Descends along `segments`; at the end, reads the ID.
struct Walk<'p> {
    segments: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Option<DeliveryId>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Option<DeliveryId>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok((self.segments.is_empty() && !value.is_empty()).then(|| DeliveryId::new(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(self
            .segments
            .is_empty()
            .then(|| DeliveryId::integer(i128::from(value))))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(self
            .segments
            .is_empty()
            .then(|| DeliveryId::integer(i128::from(value))))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let wanted = self.segments.first();
        while let Some(is_wanted) = map.next_key_seed(KeyIs(wanted))? {
            if is_wanted && found.is_none() {
                found = map.next_value_seed(Walk {
                    segments: &self.segments[1..],
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let wanted = self.segments.first().and_then(|s| array_index(s));
        let mut found = None;
        let mut index = 0;
        loop {
            if Some(index) == wanted {
                let rest = &self.segments[1..];
                match seq.next_element_seed(Walk { segments: rest })? {
                    Some(value) => found = value,
                    None => return Ok(found),
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(found);
            }
            index += 1;
        }
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

/// Deserializes a map key into whether it equals the wanted segment.
struct KeyIs<'p>(Option<&'p String>);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(self.0.is_some_and(|wanted| wanted == key))
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
            (r#"{"id":"x"} trailing"#, &["id"]),
            (r#"{"id":"x""#, &["id"]),
            ("not json", &["id"]),
            ("", &["id"]),
        ] {
            assert_eq!(read(body, pointer), None, "{body}");
        }
        assert_eq!(read(r#"{"x":["a"]}"#, &["x", "0"]).as_deref(), Some("a"));
    }
}
