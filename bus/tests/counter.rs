//! A toy domain that shows the whole API: counters that count up, refuse to
//! go past a limit, reset themselves a second after their last change, and
//! answer queries.

use bus::testkit::{Expect, TestKit, any};
use bus::{BusBuilder, Ctx, HandlerError, Outcome, answer, answer_all, by_id, managed, stateless};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Increment {
    id: u32,
    by: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reset {
    id: u32,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Incremented {
    id: u32,
    total: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LimitReached {
    id: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ResetDue {
    id: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GetCounter {
    id: u32,
}
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GetGrandTotal {}
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Counter {
    total: u32,
}

bus::commands!(Increment, Reset);
bus::events!(Incremented, LimitReached, ResetDue);
bus::queries!(GetCounter => Option<u32>, GetGrandTotal => u32);
bus::states!(Counter);

const LIMIT: u32 = 10;

fn increment(
    counter: Option<Counter>,
    cmd: &Increment,
    _: &Ctx,
) -> Result<Outcome<Counter>, HandlerError> {
    if cmd.by == 0 {
        return Err("increment by zero".into()); // a bug in the caller: BusHandlerFailed
    }
    let total = counter.unwrap_or_default().total + cmd.by;
    if total > LIMIT {
        return Ok(Outcome::keep().emit(LimitReached { id: cmd.id }));
    }
    Ok(Outcome::set(Counter { total })
        .emit(Incremented { id: cmd.id, total })
        .cancel_schedules(format!("counter-{}", cmd.id))
        .schedule(
            ResetDue { id: cmd.id },
            1_000,
            format!("counter-{}", cmd.id),
        ))
}

fn reset(_: Option<Counter>, _: &Reset, _: &Ctx) -> Outcome<Counter> {
    Outcome::delete()
}

fn reset_when_due(_: &ResetDue, _: &Ctx) -> Outcome {
    Outcome::nothing()
}

fn register(bus: &mut BusBuilder) {
    bus.command(managed(by_id(|c: &Increment| c.id), increment))
        .command(managed(by_id(|c: &Reset| c.id), reset))
        .event(managed(
            by_id(|e: &ResetDue| e.id),
            |_: Option<Counter>, _: &ResetDue, _: &Ctx| Outcome::delete(),
        ))
        .event(stateless(reset_when_due))
        .query(answer(
            by_id(|q: &GetCounter| q.id),
            |c: Option<&Counter>, _: &GetCounter| c.map(|c| c.total),
        ))
        .query(answer_all(|all: &[Counter], _: &GetGrandTotal| {
            all.iter().map(|c| c.total).sum()
        }));
}

#[test]
fn increments_and_answers() {
    let mut kit = TestKit::new(register);
    kit.given(Increment { id: 1, by: 2 })
        .when(Increment { id: 1, by: 3 })
        .then_expect([
            Expect::from(Incremented { id: 1, total: 5 }),
            Expect::partial_named("CancelScheduledEvents", json!({ "key": "counter-1" })),
            Expect::partial_named(
                "ScheduleEvent",
                json!({ "afterMs": 1000, "event": { "type": "ResetDue", "payload": any() } }),
            ),
        ]);
    kit.given(Increment { id: 2, by: 1 });
    assert_eq!(kit.query(GetCounter { id: 1 }), Some(5));
    assert_eq!(kit.query(GetGrandTotal {}), 6);
}

#[test]
fn refuses_past_the_limit_and_changes_nothing() {
    TestKit::new(register)
        .given(Increment { id: 1, by: 9 })
        .when(Increment { id: 1, by: 2 })
        .then_expect([Expect::from(LimitReached { id: 1 })]);
}

#[test]
fn resets_a_second_after_the_last_change() {
    let mut kit = TestKit::new(register);
    kit.given(Increment { id: 1, by: 1 })
        .advance_ms(600)
        .given(Increment { id: 1, by: 1 });
    kit.advance_ms(999).then_expect_nothing();
    kit.advance_ms(1)
        .then_expect([Expect::from(ResetDue { id: 1 })]);
    assert_eq!(kit.query(GetCounter { id: 1 }), None);
}

#[test]
fn a_failing_handler_reports_and_the_bus_goes_on() {
    TestKit::new(register)
        .when(Increment { id: 1, by: 0 })
        .then_expect([Expect::partial::<bus::BusHandlerFailed>(
            json!({ "reason": "increment by zero" }),
        )])
        .when(Reset { id: 1 })
        .then_expect_nothing();
}
