//! Small records kept in reflector stores instead of whole objects, where a store needs only a
//! few fields of each object: the record, and watch events mapped to records.

use std::borrow::Cow;

use kube::core::ObjectMeta;
use kube::runtime::reflector::{Lookup, ObjectRef};
use kube::runtime::watcher::Event;

/// The store key of `name` in `namespace`, or of the cluster-scoped `name` when `namespace` is
/// `None`.
pub fn object_ref<K: Lookup>(namespace: Option<&str>, name: &str, dyntype: K::DynamicType) -> ObjectRef<K> {
    let r = ObjectRef::new_with(name, dyntype);
    match namespace {
        Some(ns) => r.within(ns),
        None => r,
    }
}

/// `event` with its object (if any) mapped by `f`.
pub fn map_event<A, B>(event: Event<A>, f: impl Fn(A) -> B) -> Event<B> {
    match event {
        Event::Apply(o) => Event::Apply(f(o)),
        Event::Delete(o) => Event::Delete(f(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(f(o)),
        Event::InitDone => Event::InitDone,
    }
}

/// What a store keeps of one object: its namespace and name, and `value`. Its store key is
/// namespace and name only (an object's own key also carries a copy of its API resource, its
/// resourceVersion and its uid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named<T> {
    /// The object's name.
    pub name: String,
    /// The object's namespace.
    pub namespace: Option<String>,
    /// What the store keeps of it.
    pub value: T,
}

impl<T> Named<T> {
    /// The record of the object with this metadata.
    pub fn new(meta: &ObjectMeta, value: T) -> Self {
        Named { name: meta.name.clone().unwrap_or_default(), namespace: meta.namespace.clone(), value }
    }
}

impl<T> Lookup for Named<T> {
    type DynamicType = ();

    fn kind(_: &()) -> Cow<'_, str> {
        "Record".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "records".into()
    }

    fn name(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.name))
    }

    fn namespace(&self) -> Option<Cow<'_, str>> {
        self.namespace.as_deref().map(Cow::Borrowed)
    }

    fn resource_version(&self) -> Option<Cow<'_, str>> {
        None
    }

    fn uid(&self) -> Option<Cow<'_, str>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_keyed_by_namespace_and_name() {
        let meta = ObjectMeta { name: Some("a".into()), namespace: Some("ns".into()), ..Default::default() };
        let r = Named::new(&meta, 7u8);
        assert_eq!(r.to_object_ref(()), ObjectRef::<Named<u8>>::new_with("a", ()).within("ns"));
        assert_eq!(object_ref::<Named<u8>>(Some("ns"), "a", ()), r.to_object_ref(()));
        assert_eq!(object_ref::<Named<u8>>(None, "a", ()).namespace, None);
        let mapped = map_event(Event::Apply(r.clone()), |r| r.value);
        assert!(matches!(mapped, Event::Apply(7)));
        assert!(matches!(map_event(Event::<Named<u8>>::InitDone, |r| r.value), Event::InitDone));
    }
}
