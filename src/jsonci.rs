//! Go-compatible JSON decoding: struct keys match case-insensitively (`cn`, `Hosts`), map keys
//! keep their case. Pure; knows nothing of what the structures mean.
//!
//! Usage: decode with [`from_slice`], which lower-cases the keys of the top-level object; nested
//! struct fields opt in with `#[serde(deserialize_with = "jsonci::de")]` (or the `de_opt`,
//! `de_vec`, `de_map` variants). Rust field names are therefore the lower-case JSON names.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Lower-cases the keys of one object level. On a clash, the later key in the input wins, as in Go.
pub fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.to_ascii_lowercase(), v);
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Decodes a JSON document into `T`, matching the top-level struct keys case-insensitively.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let v: Value = serde_json::from_slice(bytes)?;
    from_value(v)
}

/// Like [`from_slice`] for an already parsed value.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
    // Go decodes structs only from objects; serde would also accept arrays as tuples.
    if v.is_array() {
        return Err(serde_json::Error::custom(
            "expected a JSON object, found an array",
        ));
    }
    serde_json::from_value(lower_keys(v))
}

/// `deserialize_with` helper for a nested struct field.
pub fn de<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let v = Value::deserialize(d)?;
    from_value(v).map_err(D::Error::custom)
}

/// `deserialize_with` helper for an optional nested struct field (`null` → `None`).
pub fn de_opt<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    from_value(v).map(Some).map_err(D::Error::custom)
}

/// `deserialize_with` helper for a list of nested structs (`null` → empty).
pub fn de_vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|i| from_value(i).map_err(D::Error::custom))
            .collect(),
        _ => Err(D::Error::custom("expected an array")),
    }
}

/// `deserialize_with` helper for a map of name → nested struct (names keep their case).
pub fn de_map<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<BTreeMap<String, T>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| from_value(v).map(|t| (k, t)).map_err(D::Error::custom))
            .collect(),
        _ => Err(D::Error::custom("expected an object")),
    }
}

/// Serialises like Go's `encoding/json`: compact, and `&`, `<`, `>`, U+2028, U+2029 escaped as
/// `\u0026` etc. Keys come out sorted because serde_json's map is ordered.
pub fn to_go_json(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    go_escape(&s)
}

/// Applies Go's HTML-safe escaping to already serialised JSON (those characters only occur in
/// strings), plus the U+2028/U+2029 escaping Go's encoder always does.
pub fn go_escape(s: &str) -> String {
    if !s.contains(['&', '<', '>', '\u{2028}', '\u{2029}']) {
        return s.to_string();
    }
    s.replace('&', "\\u0026")
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Inner {
        c: String,
    }
    #[derive(Deserialize, Debug)]
    struct Outer {
        cn: String,
        #[serde(default, deserialize_with = "de_vec")]
        names: Vec<Inner>,
        #[serde(default, deserialize_with = "de_map")]
        profiles: BTreeMap<String, Inner>,
    }

    #[test]
    fn keys_match_case_insensitively_but_map_keys_keep_case() {
        let o: Outer =
            from_slice(br#"{"CN":"x","Names":[{"C":"US"}],"PROFILES":{"WWW":{"c":"1"}}}"#).unwrap();
        assert_eq!(o.cn, "x");
        assert_eq!(o.names[0].c, "US");
        assert_eq!(o.profiles["WWW"].c, "1");
    }

    #[test]
    fn arrays_are_not_objects() {
        assert!(from_slice::<Inner>(br#"["x"]"#).is_err());
        assert!(from_slice::<Inner>(br#"[]"#).is_err());
    }

    #[test]
    fn go_escaping() {
        assert_eq!(
            to_go_json(&serde_json::json!({"a":"<&>"})),
            r#"{"a":"\u003c\u0026\u003e"}"#
        );
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct WithOpt {
        #[serde(default, deserialize_with = "de_opt")]
        key: Option<Inner2>,
        #[serde(default, deserialize_with = "de")]
        sub: Inner2,
    }
    #[derive(Deserialize, Debug, Default, PartialEq)]
    struct Inner2 {
        #[serde(default)]
        algo: String,
        #[serde(default)]
        size: u32,
    }

    #[test]
    fn null_lists_and_maps_decode_as_empty_like_go_nil() {
        // Go leaves a nil slice / nil map for `null`; cfssl accepts `"names": null`.
        let o: Outer = from_slice(br#"{"CN":"x","names":null,"profiles":null}"#).unwrap();
        assert!(o.names.is_empty());
        assert!(o.profiles.is_empty());
        // Wrong JSON types are refused, not silently emptied.
        let e = from_slice::<Outer>(br#"{"CN":"x","names":{"C":"US"}}"#).unwrap_err();
        assert!(e.to_string().contains("expected an array"), "{e}");
        let e = from_slice::<Outer>(br#"{"CN":"x","profiles":[{"C":"US"}]}"#).unwrap_err();
        assert!(e.to_string().contains("expected an object"), "{e}");
    }

    #[test]
    fn nested_optional_structs_match_keys_case_insensitively() {
        let o: WithOpt =
            from_slice(br#"{"KEY":{"ALGO":"rsa","Size":2048},"Sub":{"Algo":"ecdsa"}}"#).unwrap();
        assert_eq!(
            o,
            WithOpt {
                key: Some(Inner2 {
                    algo: "rsa".into(),
                    size: 2048
                }),
                sub: Inner2 {
                    algo: "ecdsa".into(),
                    size: 0
                },
            }
        );
        let o: WithOpt = from_slice(br#"{"key":null,"sub":{}}"#).unwrap();
        assert_eq!(o.key, None);
        // A nested array where Go wants an object is refused.
        assert!(from_slice::<WithOpt>(br#"{"key":[1]}"#).is_err());
    }

    #[test]
    fn go_escapes_line_and_paragraph_separators() {
        // encoding/json always writes U+2028 and U+2029 as escapes (JSONP safety).
        assert_eq!(
            to_go_json(&serde_json::json!({"a":"x\u{2028}y\u{2029}z"})),
            r#"{"a":"x\u2028y\u2029z"}"#
        );
        assert_eq!(go_escape("\u{2028}"), "\\u2028");
        // Nothing to escape: unchanged.
        assert_eq!(go_escape(r#"{"a":"b"}"#), r#"{"a":"b"}"#);
    }

    #[test]
    fn lower_keys_lowers_one_level_only_and_leaves_non_objects_alone() {
        assert_eq!(
            lower_keys(serde_json::json!({"CN":1,"Key":{"ALGO":"rsa"},"x":[{"Y":2}]})),
            serde_json::json!({"cn":1,"key":{"ALGO":"rsa"},"x":[{"Y":2}]})
        );
        assert_eq!(
            lower_keys(serde_json::json!(["A", {"B": 1}])),
            serde_json::json!(["A", {"B": 1}])
        );
        assert_eq!(
            lower_keys(serde_json::json!("ABC")),
            serde_json::json!("ABC")
        );
        assert_eq!(lower_keys(serde_json::json!(null)), serde_json::json!(null));
        // Upper-case key before lower-case key: the later one wins, as in Go.
        let o: Inner = from_slice(br#"{"C":"first","c":"second"}"#).unwrap();
        assert_eq!(o.c, "second");
    }

    #[test]
    fn from_value_refuses_arrays_with_exact_message_and_scalars() {
        let e = from_slice::<Inner>(br#"[{"c":"x"}]"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        let e = from_value::<Inner>(serde_json::json!([])).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        assert!(from_slice::<Inner>(br#""x""#).is_err());
        assert!(from_slice::<Inner>(b"not json").is_err());
        let o: Inner = from_value(serde_json::json!({"C": "DE"})).unwrap();
        assert_eq!(o.c, "DE");
    }

    #[test]
    fn nested_helpers_propagate_the_inner_error() {
        let e = from_slice::<WithOpt>(br#"{"sub":[1]}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        let e = from_slice::<WithOpt>(br#"{"key":[1]}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        let e = from_slice::<Outer>(br#"{"CN":"x","names":[[1]]}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        let e = from_slice::<Outer>(br#"{"CN":"x","profiles":{"a":[1]}}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected a JSON object, found an array");
        let e = from_slice::<Outer>(br#"{"CN":"x","names":"US"}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected an array");
        let e = from_slice::<Outer>(br#"{"CN":"x","profiles":"p"}"#).unwrap_err();
        assert_eq!(e.to_string(), "expected an object");
    }

    #[test]
    fn lists_and_maps_decode_every_element_in_order() {
        let o: Outer = from_slice(
            br#"{"cn":"x","names":[{"C":"US"},{"c":"DE"}],"profiles":{"b":{"C":"2"},"A":{"c":"1"}}}"#,
        )
        .unwrap();
        let names: Vec<&str> = o.names.iter().map(|n| n.c.as_str()).collect();
        assert_eq!(names, ["US", "DE"]);
        let profiles: Vec<(&str, &str)> = o
            .profiles
            .iter()
            .map(|(k, v)| (k.as_str(), v.c.as_str()))
            .collect();
        assert_eq!(profiles, [("A", "1"), ("b", "2")]);
        // Empty but present.
        let o: Outer = from_slice(br#"{"cn":"x","names":[],"profiles":{}}"#).unwrap();
        assert!(o.names.is_empty());
        assert!(o.profiles.is_empty());
    }

    #[test]
    fn optional_struct_present_is_some_even_when_empty() {
        let o: WithOpt = from_slice(br#"{"key":{}}"#).unwrap();
        assert_eq!(o.key, Some(Inner2::default()));
        let o: WithOpt = from_slice(br#"{}"#).unwrap();
        assert_eq!(o.key, None);
    }

    #[test]
    fn go_json_is_compact_sorted_and_escapes_each_character() {
        assert_eq!(
            to_go_json(&serde_json::json!({"b": [1, 2], "a": {"d": null, "c": true}})),
            r#"{"a":{"c":true,"d":null},"b":[1,2]}"#
        );
        assert_eq!(to_go_json(&"plain"), r#""plain""#);
        assert_eq!(go_escape("&"), "\\u0026");
        assert_eq!(go_escape("<"), "\\u003c");
        assert_eq!(go_escape(">"), "\\u003e");
        assert_eq!(go_escape("\u{2029}"), "\\u2029");
        assert_eq!(go_escape("a&b<c>d"), "a\\u0026b\\u003cc\\u003ed");
        assert_eq!(go_escape(""), "");
        assert_eq!(go_escape("é\u{2027}"), "é\u{2027}");
    }
}
