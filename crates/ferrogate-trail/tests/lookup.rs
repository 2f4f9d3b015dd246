//! LookupEvents over a real store: partitioning, order, paging and filters.

use base64::Engine as _;
use ferrogate_api::audit::CallRecord;
use ferrogate_store::Store;
use ferrogate_trail::lookup::{lookup_events, LookupAttribute, LookupEventsInput};
use ferrogate_trail::record::{new_event_id, EventRecord};
use ferrogate_trail::{LookupResource, PreparedEvent, TrailError};
use ferrogate_types::{AccountId, Principal, Timestamp};

const T0: i64 = 1_795_000_000_000;

async fn append(store: &Store, account: &str, region: &str, name: &str, at_ms: i64, user: &str) {
    let p = Principal::root(
        AccountId::parse(account).unwrap(),
        Some(format!("AKIA{account}")),
    );
    let rec = EventRecord::api_call(
        CallRecord {
            principal: &p,
            time: Timestamp::from_millis(at_ms),
            event_source: "iam.amazonaws.com",
            event_name: name,
            region,
            source_ip: "127.0.0.1",
            user_agent: "test",
            request_id: "r",
            read_only: name.starts_with("Get"),
            request_parameters: serde_json::Value::Null,
            response_elements: serde_json::Value::Null,
            error: None,
            resources: &[],
            record_resources: false,
            invoked_by: None,
        },
        new_event_id(Timestamp::from_millis(at_ms)),
    );
    let res = vec![LookupResource {
        resource_type: "AWS::IAM::User".into(),
        resource_name: user.into(),
    }];
    let ev = PreparedEvent::new(&rec, account, region, Some("root"), res, at_ms).unwrap();
    store.write(move |tx| ev.append(tx)).await.unwrap();
}

fn input() -> LookupEventsInput {
    LookupEventsInput::default()
}

fn now() -> Timestamp {
    Timestamp::from_millis(T0 + 1_000_000)
}

#[tokio::test]
async fn partitions_order_pages_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    for i in 0..25 {
        let name = if i % 5 == 0 { "CreateUser" } else { "GetUser" };
        append(
            &store,
            "111111111111",
            "us-east-1",
            name,
            T0 + i * 1000,
            &format!("u{i}"),
        )
        .await;
    }
    append(
        &store,
        "222222222222",
        "us-east-1",
        "CreateUser",
        T0,
        "other",
    )
    .await;
    append(
        &store,
        "111111111111",
        "eu-west-1",
        "CreateUser",
        T0,
        "elsewhere",
    )
    .await;

    let run = |i: &LookupEventsInput| {
        store.read(|tx| lookup_events(tx, "111111111111", "us-east-1", i, now()))
    };
    let all = run(&input()).unwrap();
    assert_eq!(
        all.events.len(),
        25,
        "other accounts and regions are invisible"
    );
    let times: Vec<f64> = all.events.iter().map(|e| e.event_time).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Pages of 10, 10, 5, no overlap.
    let mut seen = Vec::new();
    let mut token = None;
    let mut sizes = Vec::new();
    loop {
        let out = run(&LookupEventsInput {
            max_results: Some(10),
            next_token: token.clone(),
            ..input()
        })
        .unwrap();
        sizes.push(out.events.len());
        seen.extend(out.events.into_iter().map(|e| e.event_id));
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 25);

    // A filter, with paging.
    let by_name = |v: &str| LookupEventsInput {
        lookup_attributes: Some(vec![LookupAttribute {
            attribute_key: "EventName".into(),
            attribute_value: v.into(),
        }]),
        ..input()
    };
    assert_eq!(run(&by_name("CreateUser")).unwrap().events.len(), 5);
    let p1 = run(&LookupEventsInput {
        max_results: Some(3),
        ..by_name("CreateUser")
    })
    .unwrap();
    let p2 = run(&LookupEventsInput {
        max_results: Some(3),
        next_token: p1.next_token.clone(),
        ..by_name("CreateUser")
    })
    .unwrap();
    assert_eq!(
        (p1.events.len(), p2.events.len(), p2.next_token.is_none()),
        (3, 2, true)
    );
    let rn = LookupEventsInput {
        lookup_attributes: Some(vec![LookupAttribute {
            attribute_key: "ResourceName".into(),
            attribute_value: "u7".into(),
        }]),
        ..input()
    };
    assert_eq!(run(&rn).unwrap().events[0].event_name, "GetUser");

    // Time bounds are inclusive, at one-second precision.
    #[allow(clippy::cast_precision_loss)]
    let secs = |ms: i64| (ms / 1000) as f64;
    let window = LookupEventsInput {
        start_time: Some(secs(T0 + 3000)),
        end_time: Some(secs(T0 + 5000) + 0.7),
        ..input()
    };
    assert_eq!(run(&window).unwrap().events.len(), 3);

    // A token belongs to its query.
    let err = run(&LookupEventsInput {
        max_results: Some(3),
        next_token: p1.next_token.clone(),
        ..input()
    })
    .unwrap_err();
    assert!(
        matches!(err, TrailError::InvalidNextTokenException(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_forged_token_cannot_leave_the_callers_partition() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    append(
        &store,
        "222222222222",
        "us-east-1",
        "CreateUser",
        T0,
        "secret-user",
    )
    .await;
    let out = store
        .read(|tx| {
            lookup_events(
                tx,
                "222222222222",
                "us-east-1",
                &LookupEventsInput {
                    max_results: Some(1),
                    ..input()
                },
                now(),
            )
        })
        .unwrap();
    assert!(out.next_token.is_none());
    // Build a token that points into account 2's partition, with a valid fingerprint for
    // account 1's query shape, by decoding and re-encoding a real token from account 1.
    append(&store, "111111111111", "us-east-1", "A", T0, "x").await;
    append(&store, "111111111111", "us-east-1", "B", T0 + 1, "y").await;
    let own = store
        .read(|tx| {
            lookup_events(
                tx,
                "111111111111",
                "us-east-1",
                &LookupEventsInput {
                    max_results: Some(1),
                    ..input()
                },
                now(),
            )
        })
        .unwrap();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut t: serde_json::Value =
        serde_json::from_slice(&engine.decode(own.next_token.unwrap()).unwrap()).unwrap();
    let other_prefix: String = ferrogate_store::Key::new()
        .str("222222222222")
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    t["k"] = serde_json::Value::from(format!("{other_prefix}ffff"));
    let forged = engine.encode(serde_json::to_vec(&t).unwrap());
    let err = store
        .read(|tx| {
            lookup_events(
                tx,
                "111111111111",
                "us-east-1",
                &LookupEventsInput {
                    max_results: Some(1),
                    next_token: Some(forged.clone()),
                    ..input()
                },
                now(),
            )
        })
        .unwrap_err();
    assert!(matches!(err, TrailError::InvalidNextTokenException(_)));
}

#[tokio::test]
async fn validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let run = |i: LookupEventsInput| {
        store.read(|tx| lookup_events(tx, "111111111111", "us-east-1", &i, now()))
    };
    let attr = |k: &str, v: &str| LookupAttribute {
        attribute_key: k.into(),
        attribute_value: v.into(),
    };
    assert!(matches!(
        run(LookupEventsInput {
            lookup_attributes: Some(vec![attr("EventName", "a"), attr("EventName", "b")]),
            ..input()
        }),
        Err(TrailError::InvalidLookupAttributesException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            lookup_attributes: Some(vec![attr("Bogus", "a")]),
            ..input()
        }),
        Err(TrailError::InvalidLookupAttributesException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            lookup_attributes: Some(vec![attr("EventName", "")]),
            ..input()
        }),
        Err(TrailError::InvalidLookupAttributesException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            max_results: Some(0),
            ..input()
        }),
        Err(TrailError::InvalidMaxResultsException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            max_results: Some(51),
            ..input()
        }),
        Err(TrailError::InvalidMaxResultsException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            start_time: Some(10.0),
            end_time: Some(5.0),
            ..input()
        }),
        Err(TrailError::InvalidTimeRangeException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            event_category: Some("x".into()),
            ..input()
        }),
        Err(TrailError::InvalidEventCategoryException(_))
    ));
    assert!(matches!(
        run(LookupEventsInput {
            next_token: Some("!!".into()),
            ..input()
        }),
        Err(TrailError::InvalidNextTokenException(_))
    ));
    assert!(run(LookupEventsInput {
        event_category: Some("insight".into()),
        ..input()
    })
    .unwrap()
    .events
    .is_empty());
}
