//! Request decoding (`ferrogate_wire::json`, `::query`, `::protocol`): an awsJson1_1 body
//! into shapes like the services' inputs, the same bytes as an awsQuery form and URL query,
//! and as an `X-Amz-Target` value.
#![no_main]

use std::collections::HashMap;

use ferrogate_wire::{json, protocol, query};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// Members of the kinds ECS, KMS and CloudTrail inputs have.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Input {
    cluster: String,
    count: Option<i32>,
    size_in_gib: Option<u64>,
    enabled: Option<bool>,
    tags: Option<Vec<Tag>>,
    encryption_context: Option<HashMap<String, String>>,
    plaintext: Option<String>,
    kind: Option<Kind>,
    nested: Option<Box<Input>>,
    ratio: Option<f64>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Tag {
    key: String,
    value: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum Kind {
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    Symmetric,
    #[serde(rename = "RSA_2048")]
    Rsa2048,
}

fuzz_target!(|data: &[u8]| {
    let _ = json::decode::<Input>(data);
    let _ = json::decode::<serde_json::Value>(data);
    let _ = json::decode::<HashMap<String, Vec<u32>>>(data);

    let text = String::from_utf8_lossy(data);
    let params = query::QueryParams::from_request(data, &text);
    let _ = params.get("Action");
    let _ = params.members("Tags");
    let _ = params.member_structs("Tags", &["Key", "Value"]);
    let _ = query::escape(&text);

    if let Some((prefix, op)) = protocol::split_target(&text) {
        let _ = protocol::ServiceId::from_target_prefix(prefix);
        let _ = op.len();
    }
});
