//! Strict JSON for request bodies: a document whose object repeats a key is
//! refused. serde_json keeps the last of two equal keys, but other parsers
//! (a proxy, a WAF, the client's own logger) may keep the first, so one
//! body could mean two things to two readers; an API that accepts changes
//! to identities must not be ambiguous. Typed bodies (`#[derive(Deserialize)]`
//! structs) already refuse a repeated field; this covers bodies read as a
//! [`Value`] (SCIM, OAuth parameters).
//!
//! Strings may not hold NUL either: PostgreSQL cannot store it in text, and
//! SQLite's text functions stop at it, so `"alice\u0000"` would match
//! `alice` on one backend and fail the request on the other.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON document, refusing repeated object keys.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        no_nul(v)?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        no_nul(&v)?;
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(StrictValue)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            no_nul(&key)?;
            if out.contains_key(&key) {
                let shown: String = key.chars().take(64).collect();
                return Err(de::Error::custom(format!("duplicate key `{shown}`")));
            }
            let v = map.next_value_seed(StrictValue)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

fn no_nul<E: de::Error>(s: &str) -> Result<(), E> {
    if s.contains('\0') {
        return Err(E::custom("a string holds a NUL character"));
    }
    Ok(())
}

/// Whether a raw query string decodes to text holding NUL (`%00`), which
/// no parameter of ours may contain, for the reason strings in bodies may not.
pub fn query_has_nul(raw: Option<&str>) -> bool {
    raw.is_some_and(|q| {
        q.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json() {
        let text = br#"{"a":[1,-2,3.5,true,null,"x",{"b":{}}],"c":"\u00e9"}"#;
        let strict = from_slice(text).unwrap();
        let plain: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(strict, plain);
    }

    #[test]
    fn refuses_repeated_keys_at_any_depth() {
        let e = from_slice(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key `a`"), "{e}");
        assert!(from_slice(br#"{"x":[{"b":1,"b":1}]}"#).is_err());
        // The same key in sibling objects is fine.
        assert!(from_slice(br#"[{"b":1},{"b":1}]"#).is_ok());
    }

    #[test]
    fn refuses_nul_in_strings_and_keys() {
        assert!(from_slice(br#"{"a":"x\u0000"}"#).is_err());
        assert!(from_slice(br#"{"a\u0000":1}"#).is_err());
        assert!(query_has_nul(Some("a=b%00c")));
        assert!(!query_has_nul(Some("a=b%2000")));
    }

    #[test]
    fn refuses_trailing_data_and_deep_nesting() {
        assert!(from_slice(b"{} {}").is_err());
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(from_slice(deep.as_bytes()).is_err());
    }
}
