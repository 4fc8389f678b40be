//! One task per member cluster with a client, such as a watch on that member: started when the
//! member appears, restarted when its client is rebuilt (its epoch) or its offline state
//! changes, stopped when it leaves or loses its client.
//!
//! Restarting on the offline state means a cluster coming back online gets a fresh watch at once
//! instead of waiting out the watcher's backoff (up to 30 s).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use kube::Client;

use super::member_registry::Member;
use super::tasks::AbortOnDrop;

/// The running tasks, by member name.
#[derive(Default)]
pub struct MemberTasks {
    running: HashMap<String, (TaskKey, AbortOnDrop<()>)>,
}

/// What a task was started for: the member's client epoch and offline state.
type TaskKey = (u64, bool);

fn key(m: &Member) -> TaskKey {
    (m.epoch, m.offline)
}

impl MemberTasks {
    /// Brings the tasks in line with `members` (a registry snapshot): stops those whose member
    /// left, lost its client, or changed epoch or offline state, and spawns `start(member,
    /// client)` for each member with a client that has no task.
    pub fn update<F>(&mut self, members: &BTreeMap<String, Member>, mut start: impl FnMut(&Member, &Client) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.running.retain(|name, (k, _)| members.get(name).is_some_and(|m| key(m) == *k && m.client.is_ok()));
        for (name, m) in members {
            let Ok(client) = &m.client else { continue };
            if !self.running.contains_key(name) {
                self.running.insert(name.clone(), (key(m), AbortOnDrop::spawn(start(m, client))));
            }
        }
    }

    /// A task runs for member `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.running.contains_key(name)
    }
}
