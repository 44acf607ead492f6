//! A journal line: one group's ops as a JSON list.
//!
//! A state's body is JSON text. Written as a JSON string, each of its
//! quotes was escaped on the way in, on every move (the escaping was 1.4%
//! of the server's samples at 1,000 games, docs/performance.md, "Commits
//! written together"). So a body this process wrote from a typed state
//! goes in as it is, under `raw`; one that came from a store as text
//! (which this process did not check) stays a string under `body`, as
//! every op did before, and lines written that way still read. An outbox
//! entry's effects (JSON this process wrote from typed effects,
//! `rows::effects_text`) go in the same way, under `raw`, where they were a
//! string with every quote escaped.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::journal::{Op, StateRow};

/// Appends `ops` to `line` as a JSON list (no newline).
pub(super) fn write(ops: &[Op], line: &mut Vec<u8>) -> serde_json::Result<()> {
    line.push(b'[');
    for (index, op) in ops.iter().enumerate() {
        if index > 0 {
            line.push(b',');
        }
        match op {
            Op::Set {
                state_type,
                id,
                row,
            } if row.raw => {
                line.extend_from_slice(br#"{"op":"set","stateType":"#);
                serde_json::to_writer(&mut *line, &**state_type)?;
                line.extend_from_slice(br#","id":"#);
                serde_json::to_writer(&mut *line, &**id)?;
                // Writing to a vector cannot fail.
                let _ = write!(
                    line,
                    r#","version":{},"schemaVersion":{},"raw":"#,
                    row.version, row.schema_version
                );
                line.extend_from_slice(row.body.as_bytes());
                line.push(b'}');
            }
            Op::Outbox { id, effects } => {
                let _ = write!(line, r#"{{"op":"outbox","id":"{id:032x}","raw":"#);
                line.extend_from_slice(effects.as_bytes());
                line.push(b'}');
            }
            op => serde_json::to_writer(&mut *line, op)?,
        }
    }
    line.push(b']');
    Ok(())
}

/// The ops of a line as [`write`] (or an older release) wrote them.
pub(super) fn read(line: &[u8]) -> serde_json::Result<Vec<Op>> {
    let items: Vec<&RawValue> = serde_json::from_slice(line)?;
    items
        .into_iter()
        .map(|item| {
            let probe: Probe<'_> = serde_json::from_str(item.get())?;
            if probe.raw.is_none() {
                return serde_json::from_str(item.get());
            }
            if probe.op == "outbox" {
                let outbox: RawOutbox<'_> = serde_json::from_str(item.get())?;
                return Ok(Op::Outbox {
                    id: outbox.id,
                    effects: outbox.raw.get().to_owned(),
                });
            }
            if probe.op != "set" {
                return serde_json::from_str(item.get());
            }
            let set: RawSet<'_> = serde_json::from_str(item.get())?;
            Ok(Op::Set {
                state_type: set.state_type,
                id: set.id,
                row: StateRow {
                    version: set.version,
                    body: Arc::from(set.raw.get()),
                    schema_version: set.schema_version,
                    raw: true,
                },
            })
        })
        .collect()
}

/// What an op is, and whether its body is raw.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    raw: Option<&'a RawValue>,
}

/// A `set` whose body is raw.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSet<'a> {
    state_type: Arc<str>,
    id: Arc<str>,
    version: u64,
    schema_version: u32,
    #[serde(borrow)]
    raw: &'a RawValue,
}

/// An `outbox` entry whose effects are raw.
#[derive(Deserialize)]
struct RawOutbox<'a> {
    #[serde(deserialize_with = "super::journal::hex_id::deserialize")]
    id: u128,
    #[serde(borrow)]
    raw: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(body: &str, raw: bool) -> Op {
        Op::Set {
            state_type: "game".into(),
            id: "a \"quoted\" id".into(),
            row: StateRow {
                version: 7,
                body: body.into(),
                schema_version: 2,
                raw,
            },
        }
    }

    fn line(ops: &[Op]) -> String {
        let mut line = Vec::new();
        write(ops, &mut line).expect("writes");
        String::from_utf8(line).expect("text")
    }

    fn read_back(line: &str) -> Vec<String> {
        read(line.as_bytes())
            .expect("reads")
            .iter()
            .map(|op| format!("{op:?}"))
            .collect()
    }

    #[test]
    fn a_typed_states_body_goes_in_as_it_is_and_reads_back_the_same() {
        let body = r#"{"moves":[[0,1,5]],"note":"say \"hi\"","b":1,"a":2}"#;
        let ops = [set(body, true), Op::EntryDone { id: 10 }];
        let written = line(&ops);
        assert_eq!(
            written,
            format!(
                r#"[{{"op":"set","stateType":"game","id":"a \"quoted\" id","version":7,"schemaVersion":2,"raw":{body}}},{{"op":"entryDone","id":"0000000000000000000000000000000a"}}]"#
            )
        );
        let expected: Vec<String> = ops.iter().map(|op| format!("{op:?}")).collect();
        assert_eq!(read_back(&written), expected, "the body's text exactly");
    }

    #[test]
    fn a_body_read_from_a_store_stays_a_string() {
        let ops = [set(r#"{"b":1}"#, false)];
        let written = line(&ops);
        assert!(written.contains(r#""body":"{\"b\":1}""#), "{written}");
        assert!(!written.contains("raw"), "{written}");
        let expected: Vec<String> = ops.iter().map(|op| format!("{op:?}")).collect();
        assert_eq!(read_back(&written), expected);
    }

    #[test]
    fn a_line_as_older_releases_wrote_it_reads() {
        let older = r#"[{"op":"set","stateType":"game","id":"g1","version":3,"body":"{\"n\":1}","schemaVersion":1},{"op":"session","token":"t","user":"u"}]"#;
        let ops = read(older.as_bytes()).expect("reads");
        let Op::Set { row, .. } = &ops[0] else {
            panic!("a set: {ops:?}");
        };
        assert_eq!((&*row.body, row.version, row.raw), (r#"{"n":1}"#, 3, false));
        assert!(matches!(&ops[1], Op::Session { token, .. } if token == "t"));
    }

    #[test]
    fn an_outbox_entrys_effects_go_in_as_they_are_and_read_back_the_same() {
        let effects = r#"[{"type":"MarkPlaced","schemaVersion":1,"payload":{"gameId":"g1","note":"say \"hi\""}}]"#;
        let ops = [Op::Outbox {
            id: 0x2a,
            effects: effects.to_owned(),
        }];
        let written = line(&ops);
        assert_eq!(
            written,
            format!(
                r#"[{{"op":"outbox","id":"0000000000000000000000000000002a","raw":{effects}}}]"#
            )
        );
        let Op::Outbox { id, effects: read } = &read(written.as_bytes()).expect("reads")[0] else {
            panic!("an outbox entry");
        };
        assert_eq!((*id, read.as_str()), (0x2a, effects));
        // As older releases wrote it: the effects a string.
        let older = format!(
            r#"[{{"op":"outbox","id":"2a","effects":{}}}]"#,
            serde_json::to_string(effects).expect("a string")
        );
        let Op::Outbox { id, effects: read } = &super::read(older.as_bytes()).expect("reads")[0]
        else {
            panic!("an outbox entry");
        };
        assert_eq!((*id, read.as_str()), (0x2a, effects));
        assert!(super::read(br#"[{"op":"outbox","id":"zz","raw":[]}]"#).is_err());
    }

    #[test]
    fn a_raw_set_missing_a_field_or_a_broken_line_is_refused() {
        let missing = r#"[{"op":"set","stateType":"game","id":"g1","schemaVersion":1,"raw":{}}]"#;
        assert!(read(missing.as_bytes()).is_err());
        assert!(read(br#"[{"op":"set","raw":{"#).is_err());
    }
}
