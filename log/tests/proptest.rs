//! Property: any sequence of records, under any segment bound, batch bound and pattern of
//! explicit commits, reads back exactly as appended, and `verify` agrees on the head.

use std::time::Duration;

use baton_log::{verify, Reader, Writer, WriterOptions};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Value {
    Unit,
    Number { n: i64, ratio: f64 },
    Text(String),
    Bytes(Vec<u8>),
    Nested { name: Option<String>, items: Vec<u32>, flag: bool },
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Unit),
        (any::<i64>(), -1e9..1e9f64).prop_map(|(n, ratio)| Value::Number { n, ratio }),
        ".{0,80}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..600).prop_map(Value::Bytes),
        (proptest::option::of("[a-z]{0,12}"), proptest::collection::vec(any::<u32>(), 0..20), any::<bool>())
            .prop_map(|(name, items, flag)| Value::Nested { name, items, flag }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_records_round_trip(
        records in proptest::collection::vec((value(), any::<bool>()), 0..150),
        segment_bytes in 48u64..4096,
        max_batch_records in 1usize..40,
        reopen_at in 0usize..150,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = WriterOptions { segment_bytes, max_batch_records, max_batch_delay: Duration::from_secs(60) };
        let (mut writer, _) = Writer::open(dir.path(), options).unwrap();
        for (index, (value, commit)) in records.iter().enumerate() {
            if index == reopen_at {
                drop(writer);
                let (reopened, recovery) = Writer::open(dir.path(), options).unwrap();
                prop_assert_eq!(recovery.dropped_tail_bytes, 0);
                prop_assert_eq!(recovery.last_seq, index as u64);
                writer = reopened;
            }
            prop_assert_eq!(writer.append(value).unwrap(), index as u64 + 1);
            if *commit {
                prop_assert_eq!(writer.commit().unwrap(), index as u64 + 1);
            }
        }
        writer.commit().unwrap();
        let head = writer.head();
        drop(writer);

        let mut reader = Reader::open(dir.path()).unwrap();
        let read: Vec<Value> = reader.by_ref().map(|record| record.unwrap().decode().unwrap()).collect();
        let expected: Vec<Value> = records.iter().map(|(value, _)| value.clone()).collect();
        prop_assert_eq!(read, expected);
        prop_assert_eq!(reader.head(), head);
        prop_assert_eq!(reader.recovery().unwrap().dropped_tail_bytes, 0);
        prop_assert_eq!(verify(dir.path()).unwrap(), head);
    }
}
