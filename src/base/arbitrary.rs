//! Test only: proptest strategies for hostile wire input (any JSON value, any string),
//! shared by the parsers' property tests.

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings a hostile client might send: printable, unicode, control bytes, and the
/// characters our name rules care about.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_:.-]{0,70}",
        ".{0,80}",
        "[\\x00-\\x1f\"\\\\{}\\[\\]:]{0,10}",
    ]
}

/// Any JSON value, nested a few levels deep, with keys our payloads use mixed in.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let key = prop_oneof![
            Just("room".to_string()),
            Just("damage".to_string()),
            Just("mapId".to_string()),
            Just("tile".to_string()),
            Just("players".to_string()),
            text(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
