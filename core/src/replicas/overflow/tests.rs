//! Estimates from pod states and node room, and a simulated cluster whose capacity flaps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::*;
use crate::replicas::{divide_within, handover};

const AFTER: Duration = Duration::from_secs(60);

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn room(assigned: i64, unschedulable_since: &[i64], free: Option<i64>) -> ClusterRoom {
    ClusterRoom { assigned, unschedulable: unschedulable_since.iter().map(|s| at(*s)).collect(), free }
}

fn rooms(entries: &[(&str, ClusterRoom)]) -> BTreeMap<String, ClusterRoom> {
    entries.iter().map(|(c, r)| (c.to_string(), r.clone())).collect()
}

fn capped(entries: &[(&str, i64, i64)]) -> Estimates {
    entries
        .iter()
        .map(|(c, cap, since)| (c.to_string(), Estimate { capacity: *cap, since: Time(at(*since)) }))
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn estimates_follow_kubefeds_rule_and_give_room_back() {
    // (what, previous, rooms, now, expected estimates, raised, lowered, recheck)
    type Case<'a> =
        (&'a str, Estimates, BTreeMap<String, ClusterRoom>, i64, Estimates, &'a [&'a str], &'a [&'a str], Option<u64>);
    let cases: Vec<Case> = vec![
        (
            "nothing unschedulable: no estimate",
            Estimates::new(),
            rooms(&[("a", room(4, &[], Some(0)))]),
            100,
            Estimates::new(),
            &[],
            &[],
            None,
        ),
        (
            "unschedulable, not yet for the threshold: look again when it is",
            Estimates::new(),
            rooms(&[("a", room(4, &[50, 70], Some(0)))]),
            100,
            Estimates::new(),
            &[],
            &[],
            Some(10),
        ),
        (
            "two pods past the threshold: capacity is what is scheduled",
            Estimates::new(),
            rooms(&[("a", room(4, &[0, 30], Some(0)))]),
            100,
            capped(&[("a", 2, 100)]),
            &[],
            &["a"],
            None,
        ),
        (
            "the same capacity again keeps its time",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(3, &[0], Some(0)))]),
            500,
            capped(&[("a", 2, 100)]),
            &[],
            &[],
            None,
        ),
        (
            "emptied of pending pods, no room: stays capped",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(2, &[], Some(0)))]),
            500,
            capped(&[("a", 2, 100)]),
            &[],
            &[],
            None,
        ),
        (
            "room for one more, after the threshold: raised by one",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(2, &[], Some(1)))]),
            500,
            capped(&[("a", 3, 500)]),
            &["a"],
            &[],
            None,
        ),
        (
            "room within the threshold: wait it out",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(2, &[], Some(5)))]),
            130,
            capped(&[("a", 2, 100)]),
            &[],
            &[],
            Some(30),
        ),
        (
            "room for the whole total: the estimate goes",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(2, &[], Some(8)))]),
            500,
            Estimates::new(),
            &["a"],
            &[],
            None,
        ),
        (
            "a cluster no longer a candidate loses its estimate",
            capped(&[("a", 2, 100)]),
            rooms(&[("b", room(2, &[], None))]),
            500,
            Estimates::new(),
            &[],
            &[],
            None,
        ),
        (
            "unknown room (Offline): unchanged",
            capped(&[("a", 2, 100)]),
            rooms(&[("a", room(2, &[], None))]),
            500,
            capped(&[("a", 2, 100)]),
            &[],
            &[],
            None,
        ),
        (
            // Two pods went Unschedulable a moment apart; the estimate came when only the
            // first had waited the threshold. The second counts once it has.
            "a pod short of the threshold when the estimate was made counts once past it",
            capped(&[("a", 3, 100)]),
            rooms(&[("a", room(3, &[0, 50], Some(0)))]),
            120,
            capped(&[("a", 2, 120)]),
            &[],
            &["a"],
            None,
        ),
        (
            "capped lower when more pods fail to schedule",
            capped(&[("a", 3, 100)]),
            rooms(&[("a", room(3, &[200, 210], Some(0)))]),
            400,
            capped(&[("a", 1, 400)]),
            &[],
            &["a"],
            None,
        ),
    ];
    for (what, previous, rooms, now, want, raised, lowered, recheck) in cases {
        let got = estimate(&previous, &rooms, 6, AFTER, at(now));
        assert_eq!(got.estimates, want, "{what}");
        assert_eq!(got.raised, names(raised), "{what}: raised");
        assert_eq!(got.lowered, names(lowered), "{what}: lowered");
        assert_eq!(got.recheck, recheck.map(Duration::from_secs), "{what}: recheck");
    }
}

#[test]
fn overflow_events_carry_the_numbers() {
    let counts = |pairs: &[(&str, i64)]| pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect::<BTreeMap<_, _>>();
    let lowered =
        Estimated { estimates: capped(&[("vulcan", 2, 0)]), lowered: names(&["vulcan"]), ..Default::default() };
    let (reason, note) =
        describe(&counts(&[("vulcan", 4), ("kronos", 0)]), &counts(&[("vulcan", 2), ("kronos", 2)]), &lowered, AFTER)
            .unwrap();
    assert_eq!(reason, "Overflow");
    assert_eq!(
        note,
        "overflow: vulcan can run 2 (pods Unschedulable for 60s or more); replicas kronos 0→2, vulcan 4→2"
    );
    let raised = Estimated { raised: names(&["vulcan"]), ..Default::default() };
    let (reason, note) =
        describe(&counts(&[("vulcan", 2), ("kronos", 2)]), &counts(&[("vulcan", 4), ("kronos", 2)]), &raised, AFTER)
            .unwrap();
    assert_eq!(reason, "RoomReturned");
    assert!(note.starts_with("room returned: vulcan has room for its share; replicas vulcan 2→4"), "{note}");
    assert_eq!(describe(&counts(&[("a", 1)]), &counts(&[("a", 1)]), &lowered, AFTER), None, "nothing moved");
    assert_eq!(
        describe(&counts(&[("a", 1)]), &counts(&[("a", 2)]), &Estimated::default(), AFTER),
        None,
        "not overflow"
    );
}

#[test]
fn estimates_round_trip_through_their_annotation() {
    let e = capped(&[("vulcan", 2, 0)]);
    let value = format_estimates(&e).unwrap();
    assert!(value.starts_with(r#"{"vulcan":{"capacity":2,"since":""#), "{value}");
    assert_eq!(parse_estimates(Some(&value)), e);
    assert_eq!(format_estimates(&Estimates::new()), None);
    assert_eq!(parse_estimates(Some("not json")), Estimates::new(), "unreadable: none, rewritten");
}

#[test]
fn overflow_after_parses_durations() {
    for (value, secs) in [("30s", 30), ("2m", 120), ("1m30s", 90), ("1h", 3600), (" 45s ", 45)] {
        assert_eq!(parse_after(value), Ok(Duration::from_secs(secs)), "{value}");
    }
    for value in ["", "30", "s", "-5s", "1.5m", "0s", "5d", "99999999999999999999s"] {
        let e = parse_after(value).unwrap_err();
        assert!(e.starts_with("kubefed.io/overflow-after: "), "{value}: {e}");
    }
}

/// One simulated cluster pair: vulcan (preferred, weight 10) whose room flaps, kronos with
/// room for everything. Each step the "scheduler" runs pods up to the node room, the
/// controller estimates, divides and hands over; moves are counted.
struct Sim {
    now: i64,
    estimates: Estimates,
    layout: BTreeMap<String, i64>,
    /// Since when each of vulcan's unschedulable pods has been so (oldest first).
    pending_since: Vec<i64>,
    moves: i64,
    move_times: Vec<i64>,
}

impl Sim {
    fn new() -> Self {
        Sim {
            now: 0,
            estimates: Estimates::new(),
            layout: BTreeMap::new(),
            pending_since: Vec::new(),
            moves: 0,
            move_times: Vec::new(),
        }
    }

    /// One step of 10 s with room for `fits` pods of the workload on vulcan.
    fn step(&mut self, fits: i64) {
        let total = 6;
        let assigned = self.layout.get("vulcan").copied().unwrap_or(0);
        let running = assigned.min(fits);
        let pending = (assigned - running).max(0) as usize;
        self.pending_since.truncate(pending);
        while self.pending_since.len() < pending {
            self.pending_since.push(self.now);
        }
        let rooms = rooms(&[
            ("vulcan", room(assigned, &self.pending_since, Some((fits - assigned).max(0)))),
            ("kronos", room(self.layout.get("kronos").copied().unwrap_or(0), &[], Some(100))),
        ]);
        let est = estimate(&self.estimates, &rooms, total, AFTER, at(self.now));
        let prefs = [
            ("vulcan".to_string(), crate::api::ClusterPreferences::weight(10)),
            ("kronos".to_string(), crate::api::ClusterPreferences::weight(1)),
        ]
        .into();
        let current: BTreeMap<String, i64> = self
            .layout
            .iter()
            .filter(|(c, n)| **n > 0 && !est.raised.contains(*c))
            .map(|(c, n)| (c.clone(), *n))
            .collect();
        let plan = divide_within(total, &prefs, ["vulcan", "kronos"], Some(&current), &capacities(&est.estimates));
        // Everything assigned runs at once on kronos, and on vulcan up to the room.
        let ready: BTreeMap<String, i64> =
            [("vulcan".to_string(), running), ("kronos".to_string(), self.layout.get("kronos").copied().unwrap_or(0))]
                .into();
        let next = handover(&plan.replicas, &self.layout, &ready);
        let moved: i64 = next.iter().map(|(c, n)| (n - self.layout.get(c).copied().unwrap_or(0)).max(0)).sum();
        if !self.layout.is_empty() && moved > 0 {
            self.moves += moved;
            self.move_times.push(self.now);
        }
        self.layout = next;
        self.estimates = est.estimates;
        self.now += 10;
    }
}

#[test]
fn a_flapping_capacity_moves_replicas_at_most_once_per_threshold() {
    let mut sim = Sim::new();
    // Room for 2 on vulcan; 6 wanted there. Overflow once the threshold passes.
    for _ in 0..12 {
        sim.step(2);
    }
    assert_eq!(sim.layout.get("vulcan"), Some(&2), "vulcan capped at what runs: {:?}", sim.layout);
    assert_eq!(sim.layout.get("kronos"), Some(&4));
    // Room flaps every step between 2 and 6 for 10 minutes.
    for i in 0..60 {
        sim.step(if i % 2 == 0 { 6 } else { 2 });
    }
    let gaps: Vec<i64> = sim.move_times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| *g >= 60), "no replica moves back within the threshold: moves at {:?}", sim.move_times);
    assert!(sim.move_times.len() <= 1 + 600 / 60, "at most one move per threshold: {:?}", sim.move_times);
}

#[test]
fn a_capacity_that_drops_and_recovers_restores_the_layout() {
    let mut sim = Sim::new();
    for _ in 0..3 {
        sim.step(6);
    }
    let preferred = sim.layout.clone();
    assert_eq!(preferred, [("kronos".to_string(), 1), ("vulcan".to_string(), 5)].into(), "weights 10:1 of 6");
    for _ in 0..12 {
        sim.step(2);
    }
    assert_eq!(sim.layout.get("vulcan"), Some(&2), "overflowed: {:?}", sim.layout);
    for _ in 0..20 {
        sim.step(6);
    }
    assert_eq!(sim.layout, preferred, "room back: the preferred layout returns");
    assert!(sim.estimates.is_empty(), "and no estimate is left: {:?}", sim.estimates);
}

#[test]
fn steady_capacities_move_nothing() {
    let mut sim = Sim::new();
    for _ in 0..12 {
        sim.step(2);
    }
    let (moves, layout) = (sim.moves, sim.layout.clone());
    for _ in 0..50 {
        sim.step(2);
    }
    assert_eq!((sim.moves, &sim.layout), (moves, &layout), "the same capacity: no replica moves");
}
