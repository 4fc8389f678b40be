//! Watch events of one type turned into events of another, for reflector stores that keep a
//! smaller record of each object than the API serves.

use kube::runtime::watcher::Event;

/// `event` with its object (if any) mapped by `f`.
pub fn map<A, B>(event: Event<A>, f: impl Fn(A) -> B) -> Event<B> {
    match event {
        Event::Apply(o) => Event::Apply(f(o)),
        Event::Delete(o) => Event::Delete(f(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(f(o)),
        Event::InitDone => Event::InitDone,
    }
}
