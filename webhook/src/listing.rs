//! Work noticed while a watch lists, held until its store holds what was listed.
//!
//! A reflector keeps the objects of a (re-)list in a buffer and swaps them into its store only at
//! `InitDone`. A reconcile queued on an `InitApply` can therefore run before the swap, find
//! nothing in the store (kube-runtime's applier reports `ObjectNotFound`) and be dropped. The
//! first list is safe (the applier waits for the store to be ready), but after a re-list, for
//! instance when an apiserver restarted and the old resourceVersion is gone, objects created
//! while the watch was down would wait for the next resync. [`HeldWhileListing`] keeps such
//! work back until the list is done.

use kube::runtime::watcher::Event;

/// Work items held from `Init` to `InitDone` of a watch.
#[derive(Debug)]
pub struct HeldWhileListing<T> {
    listing: bool,
    held: Vec<T>,
}

impl<T> Default for HeldWhileListing<T> {
    fn default() -> Self {
        HeldWhileListing { listing: false, held: Vec::new() }
    }
}

impl<T> HeldWhileListing<T> {
    /// Notes where the watch is, from each item of its stream: a list starts at `Init`; it is
    /// done at `InitDone`, and what was held is returned then, to be queued (the store has been
    /// swapped by now). Errors change nothing.
    pub fn observe<K, E>(&mut self, event: &Result<Event<K>, E>) -> Vec<T> {
        match event {
            Ok(Event::Init) => {
                self.listing = true;
                Vec::new()
            }
            Ok(Event::InitDone) => {
                self.listing = false;
                std::mem::take(&mut self.held)
            }
            Ok(Event::Apply(_) | Event::Delete(_) | Event::InitApply(_)) | Err(_) => Vec::new(),
        }
    }

    /// `item` back to queue now, or `None` when it is held until the list is done.
    pub fn now_or_held(&mut self, item: T) -> Option<T> {
        if self.listing {
            self.held.push(item);
            None
        } else {
            Some(item)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Watch events, each with `Some(item)` for the work noticed on it.
    type Events = Vec<(Event<()>, Option<u32>)>;

    /// Feeds `events` and returns what was queued after each event.
    fn run(events: Events) -> Vec<Vec<u32>> {
        let mut held = HeldWhileListing::default();
        events
            .into_iter()
            .map(|(ev, item)| {
                let mut queued = held.observe(&Ok::<_, ()>(ev));
                queued.extend(item.and_then(|i| held.now_or_held(i)));
                queued
            })
            .collect()
    }

    #[test]
    fn work_is_held_from_init_to_init_done() {
        let cases: Vec<(&str, Events, Vec<Vec<u32>>)> = vec![
            ("a watch event queues at once", vec![(Event::Apply(()), Some(1))], vec![vec![1]]),
            (
                "a list holds its objects until it is done",
                vec![
                    (Event::Init, None),
                    (Event::InitApply(()), Some(1)),
                    (Event::InitApply(()), Some(2)),
                    (Event::InitDone, None),
                    (Event::Apply(()), Some(3)),
                ],
                vec![vec![], vec![], vec![], vec![1, 2], vec![3]],
            ),
            (
                "a re-list after watching holds again, and nothing twice",
                vec![
                    (Event::Init, None),
                    (Event::InitDone, None),
                    (Event::Apply(()), Some(1)),
                    (Event::Init, None),
                    (Event::InitApply(()), Some(2)),
                    (Event::InitDone, None),
                    (Event::InitDone, None),
                ],
                vec![vec![], vec![], vec![1], vec![], vec![], vec![2], vec![]],
            ),
            (
                "a list restarted before it was done keeps what it held",
                vec![
                    (Event::Init, None),
                    (Event::InitApply(()), Some(1)),
                    (Event::Init, None),
                    (Event::InitApply(()), Some(2)),
                    (Event::InitDone, None),
                ],
                vec![vec![], vec![], vec![], vec![], vec![1, 2]],
            ),
        ];
        for (what, events, want) in cases {
            assert_eq!(run(events), want, "{what}");
        }
    }

    #[test]
    fn a_watch_error_in_a_list_keeps_holding() {
        let mut held = HeldWhileListing::default();
        assert!(held.observe(&Ok::<Event<()>, &str>(Event::Init)).is_empty());
        assert_eq!(held.now_or_held(1), None);
        assert!(held.observe(&Err::<Event<()>, _>("connection reset")).is_empty());
        assert_eq!(held.now_or_held(2), None, "still listing after the error");
        assert_eq!(held.observe(&Ok::<Event<()>, &str>(Event::InitDone)), vec![1, 2]);
    }
}
