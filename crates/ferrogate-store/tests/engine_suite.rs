//! The engine test suite (garage `db/test.rs`): one function per property, run against every
//! engine. Today that is SQLite; a PostgreSQL engine must pass the same suite.

use std::sync::Arc;

use ferrogate_store::engine::{with_savepoint, Direction, WriteTx};
use ferrogate_store::{Key, Record, Store, StoreError, Table};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Thing {
    name: String,
    n: u32,
}
impl Record for Thing {}

const THINGS: Table<Thing> = Table::new("things");

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, store)
}

#[derive(Debug)]
enum E {
    Store(#[allow(dead_code)] StoreError),
    Refused,
}
impl From<StoreError> for E {
    fn from(e: StoreError) -> Self {
        E::Store(e)
    }
}

fn k(s: &str) -> Vec<u8> {
    Key::new().str("acct").str(s).into_bytes()
}

#[tokio::test]
async fn put_get_delete_and_typed_records() {
    let (_d, s) = open();
    s.write(|tx| {
        THINGS.put(
            tx,
            &k("a"),
            &Thing {
                name: "a".into(),
                n: 1,
            },
        )?;
        THINGS.put(
            tx,
            &k("b"),
            &Thing {
                name: "b".into(),
                n: 2,
            },
        )?;
        Ok::<_, E>(())
    })
    .await
    .unwrap();
    let got = s.read(|tx| THINGS.get(tx, &k("a"))).unwrap();
    assert_eq!(
        got,
        Some(Thing {
            name: "a".into(),
            n: 1
        })
    );
    let removed = s
        .write(|tx| Ok::<_, E>(THINGS.delete(tx, &k("a"))?))
        .await
        .unwrap();
    assert!(removed);
    assert_eq!(s.read(|tx| THINGS.get(tx, &k("a"))).unwrap(), None);
}

#[tokio::test]
async fn failed_job_changes_nothing_but_others_commit() {
    let (_d, s) = open();
    let s1 = s.clone();
    let failing = tokio::spawn(async move {
        s1.write(|tx| {
            THINGS.put(
                tx,
                &k("x"),
                &Thing {
                    name: "x".into(),
                    n: 0,
                },
            )?;
            Err::<(), E>(E::Refused)
        })
        .await
    });
    let s2 = s.clone();
    let ok = tokio::spawn(async move {
        s2.write(|tx| {
            Ok::<_, E>(THINGS.put(
                tx,
                &k("y"),
                &Thing {
                    name: "y".into(),
                    n: 0,
                },
            )?)
        })
        .await
    });
    assert!(matches!(failing.await.unwrap(), Err(E::Refused)));
    ok.await.unwrap().unwrap();
    assert_eq!(s.read(|tx| THINGS.get(tx, &k("x"))).unwrap(), None);
    assert!(s.read(|tx| THINGS.get(tx, &k("y"))).unwrap().is_some());
}

#[tokio::test]
async fn nested_savepoint_keeps_outer_writes() {
    let (_d, s) = open();
    s.write(|tx| {
        THINGS.put(
            tx,
            &k("outer"),
            &Thing {
                name: "o".into(),
                n: 0,
            },
        )?;
        let inner = with_savepoint(tx, |tx| {
            THINGS.put(
                tx,
                &k("inner"),
                &Thing {
                    name: "i".into(),
                    n: 0,
                },
            )?;
            Err::<(), E>(E::Refused)
        })?;
        assert!(inner.is_err());
        Ok::<_, E>(())
    })
    .await
    .unwrap();
    assert!(s.read(|tx| THINGS.get(tx, &k("outer"))).unwrap().is_some());
    assert!(s.read(|tx| THINGS.get(tx, &k("inner"))).unwrap().is_none());
}

#[tokio::test]
async fn panicking_job_is_contained() {
    let (_d, s) = open();
    let r = s
        .write(|tx: &mut dyn WriteTx| -> Result<(), E> {
            THINGS.put(
                tx,
                &k("p"),
                &Thing {
                    name: "p".into(),
                    n: 0,
                },
            )?;
            panic!("bug in a handler");
        })
        .await;
    assert!(matches!(r, Err(E::Store(StoreError::Unavailable(_)))));
    assert!(s.read(|tx| THINGS.get(tx, &k("p"))).unwrap().is_none());
    // The writer is still alive.
    s.write(|tx| {
        Ok::<_, E>(THINGS.put(
            tx,
            &k("q"),
            &Thing {
                name: "q".into(),
                n: 0,
            },
        )?)
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn scans_in_both_directions_with_cursor() {
    let (_d, s) = open();
    s.write(|tx| {
        for i in 0..10 {
            THINGS.put(
                tx,
                &k(&format!("{i:02}")),
                &Thing {
                    name: i.to_string(),
                    n: i,
                },
            )?;
        }
        THINGS.put(
            tx,
            &Key::new().str("other").str("00").into_bytes(),
            &Thing {
                name: "o".into(),
                n: 99,
            },
        )?;
        Ok::<_, E>(())
    })
    .await
    .unwrap();
    let prefix = Key::new().str("acct").into_bytes();
    let names = |v: Vec<(Vec<u8>, Thing)>| v.into_iter().map(|(_, t)| t.n).collect::<Vec<_>>();
    let fwd = s
        .read(|tx| THINGS.scan(tx, &prefix, None, Direction::Forward, 3))
        .unwrap();
    let cursor = fwd.last().unwrap().0.clone();
    assert_eq!(names(fwd), vec![0, 1, 2]);
    let next = s
        .read(|tx| THINGS.scan(tx, &prefix, Some(&cursor), Direction::Forward, 3))
        .unwrap();
    assert_eq!(names(next), vec![3, 4, 5]);
    let rev = s
        .read(|tx| THINGS.scan(tx, &prefix, None, Direction::Reverse, 4))
        .unwrap();
    let cursor = rev.last().unwrap().0.clone();
    assert_eq!(names(rev), vec![9, 8, 7, 6]);
    let rev2 = s
        .read(|tx| THINGS.scan(tx, &prefix, Some(&cursor), Direction::Reverse, 100))
        .unwrap();
    assert_eq!(names(rev2), vec![5, 4, 3, 2, 1, 0]);
    let all = s
        .read(|tx| tx.range("things", b"", None, Direction::Forward, 100))
        .unwrap();
    assert_eq!(all.len(), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_grouped_and_all_durable() {
    let (dir, s) = open();
    let s = Arc::new(s);
    let mut handles = Vec::new();
    for i in 0..400u32 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.write(move |tx| {
                Ok::<_, E>(THINGS.put(
                    tx,
                    &k(&format!("c{i:04}")),
                    &Thing {
                        name: "c".into(),
                        n: i,
                    },
                )?)
            })
            .await
        }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let stats = s.writer_stats();
    assert_eq!(stats.jobs, 400);
    assert!(
        stats.batches < 400,
        "group commit batched nothing: {stats:?}"
    );
    drop(s);
    // Reopen: everything acknowledged is there.
    let s = Store::open(&dir.path().join("db.sqlite")).unwrap();
    let prefix = Key::new().str("acct").into_bytes();
    let n = s
        .read(|tx| THINGS.scan(tx, &prefix, None, Direction::Forward, 1000))
        .unwrap()
        .len();
    assert_eq!(n, 400);
}

#[tokio::test]
async fn versioned_records_refuse_the_future_and_upgrade_the_past() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct V2 {
        full_name: String,
    }
    impl Record for V2 {
        const VERSION: u8 = 2;
        fn upgrade(version: u8, json: &[u8]) -> Result<Self, String> {
            match version {
                1 => {
                    let old: Thing = serde_json::from_slice(json).map_err(|e| e.to_string())?;
                    Ok(V2 {
                        full_name: old.name,
                    })
                }
                v => Err(format!("unknown version {v}")),
            }
        }
    }
    let (_d, s) = open();
    s.write(|tx| {
        Ok::<_, E>(THINGS.put(
            tx,
            &k("old"),
            &Thing {
                name: "n".into(),
                n: 1,
            },
        )?)
    })
    .await
    .unwrap();
    let v2: Table<V2> = Table::new("things");
    let up = s.read(|tx| v2.get(tx, &k("old"))).unwrap();
    assert_eq!(
        up,
        Some(V2 {
            full_name: "n".into()
        })
    );
    s.write(move |tx| {
        Ok::<_, E>(v2.put(
            tx,
            &k("new"),
            &V2 {
                full_name: "x".into(),
            },
        )?)
    })
    .await
    .unwrap();
    assert!(matches!(
        s.read(|tx| THINGS.get(tx, &k("new"))),
        Err(StoreError::Corrupt { .. })
    ));
}

#[test]
fn refuses_a_database_from_the_future() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let err = Store::open(&path).err().unwrap();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

/// Trees named `*.index` behave like any other tree (they live in a compact table).
#[tokio::test]
async fn index_trees_behave_like_other_trees() {
    let (_d, s) = open();
    s.write(|tx| {
        for k in ["b", "a", "c"] {
            tx.put("x.index", k.as_bytes(), b"")?;
        }
        tx.put("x", b"a", b"not the index")?;
        // A failed savepoint leaves nothing behind in either table.
        let _ = with_savepoint(tx, |tx| {
            tx.put("x.index", b"z", b"")?;
            tx.put("x", b"z", b"v")?;
            Err::<(), E>(E::Refused)
        });
        Ok::<_, E>(())
    })
    .await
    .unwrap();
    let (fwd, rev, got, other, z) = s
        .read(|tx| {
            Ok::<_, StoreError>((
                tx.range("x.index", b"", None, Direction::Forward, 10)?,
                tx.range("x.index", b"a", Some(b"c"), Direction::Reverse, 10)?,
                tx.get("x.index", b"b")?,
                tx.get("x", b"a")?,
                (tx.get("x.index", b"z")?, tx.get("x", b"z")?),
            ))
        })
        .unwrap();
    let keys: Vec<&[u8]> = fwd.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(keys, [b"a", b"b", b"c"]);
    let keys: Vec<&[u8]> = rev.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(keys, [b"b", b"a"]);
    assert_eq!(got, Some(Vec::new()));
    assert_eq!(other.as_deref(), Some(&b"not the index"[..]));
    assert_eq!(z, (None, None));
    assert!(s
        .write(|tx| Ok::<_, E>(tx.delete("x.index", b"a")?))
        .await
        .unwrap());
    assert_eq!(s.read(|tx| tx.get("x.index", b"a")).unwrap(), None);
}

/// A database written before index trees had their own table is migrated: its index
/// entries move over and stay readable.
#[tokio::test]
async fn index_entries_of_a_version_1_database_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE kv (id INTEGER PRIMARY KEY, tree TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL);
             CREATE UNIQUE INDEX kv_tree_k ON kv (tree, k);
             INSERT INTO kv (tree, k, v) VALUES ('trail.index', x'01', x''), ('trail.events', x'01', x'aa');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = Store::open(&path).unwrap();
    let (idx, ev) = s
        .read(|tx| {
            Ok::<_, StoreError>((
                tx.range("trail.index", b"", None, Direction::Forward, 10)?,
                tx.get("trail.events", &[1])?,
            ))
        })
        .unwrap();
    assert_eq!(idx, vec![(vec![1u8], Vec::new())]);
    assert_eq!(ev, Some(vec![0xaa]));
    drop(s);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM kv WHERE tree = 'trail.index'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}
